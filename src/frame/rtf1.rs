//! The raw `RTF1` layout. All fields are little-endian:
//!
//! | Offset | Type | Field |
//! | --- | --- | --- |
//! | 0 | 4 bytes | magic `RTF1` |
//! | 4 | u8 | version, 1 |
//! | 5 | u8 | pixel format, 1 = u16 centikelvin |
//! | 6 | u16 | width |
//! | 8 | u16 | height |
//! | 10 | u16 | reserved, 0 |
//! | 12 | u32 | frame sequence number |
//! | 16 | u64 | capture time, Unix milliseconds (at most `i64::MAX`) |
//! | 24 | u64 | reserved, 0 |
//! | 32 | u16 × width × height | pixels, row-major, top row first |

use super::{check_size, into_array, Frame, FrameError, FrameFormat, FrameLimits, RTF1_HEADER_LEN};
use ndarray::ArrayView2;

/// The first four bytes of every RTF1 payload.
pub(super) const MAGIC: [u8; 4] = *b"RTF1";
const VERSION: u8 = 1;
const PIXEL_FORMAT_U16_CENTIKELVIN: u8 = 1;

type RawHeader = [u8; RTF1_HEADER_LEN];

/// The header fields that matter once the fixed ones have been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub width: u32,
    pub height: u32,
    pub seq: u32,
    pub capture_ms: i64,
}

/// Checks and reads the header: length, magic, version, pixel format,
/// reserved fields and capture time. The dimensions are returned unchecked.
pub(super) fn parse_header(payload: &[u8]) -> Result<Header, FrameError> {
    split(payload).and_then(|(raw, _)| read_header(raw))
}

/// Decodes a whole RTF1 payload: header, size checks, exact length, pixels.
pub(super) fn decode(payload: &[u8], limits: &FrameLimits) -> Result<Frame, FrameError> {
    let (raw, body) = split(payload)?;
    let header = read_header(raw)?;
    let (width, height) = (header.width, header.height);
    let count = check_size(width, height, limits)?;
    let expected = 2 * count;
    if body.len() != expected {
        return Err(FrameError::LengthMismatch {
            format: FrameFormat::Rtf1,
            width,
            height,
            pixel_bytes: body.len(),
            expected,
        });
    }
    let pixels: Vec<u16> = body
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    Ok(Frame {
        format: FrameFormat::Rtf1,
        seq: Some(header.seq),
        capture_ms: Some(header.capture_ms),
        pixels: into_array(FrameFormat::Rtf1, width, height, pixels)?,
    })
}

/// Encodes `pixels` (shape `(height, width)`, any memory layout).
///
/// Panics if a side exceeds `u16::MAX` or `capture_ms` is negative: the wire
/// cannot carry either.
pub(super) fn encode(pixels: ArrayView2<u16>, seq: u32, capture_ms: i64) -> Vec<u8> {
    let (height, width) = pixels.dim();
    let width = u16::try_from(width).expect("RTF1 width must fit in a u16");
    let height = u16::try_from(height).expect("RTF1 height must fit in a u16");
    let capture = u64::try_from(capture_ms).expect("RTF1 capture time must not be negative");

    let mut out = Vec::with_capacity(RTF1_HEADER_LEN + 2 * pixels.len());
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(PIXEL_FORMAT_U16_CENTIKELVIN);
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&capture.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    debug_assert_eq!(out.len(), RTF1_HEADER_LEN);
    out.extend(pixels.iter().flat_map(|p| p.to_le_bytes()));
    out
}

/// Splits the payload into the fixed-size header and the rest.
fn split(payload: &[u8]) -> Result<(&RawHeader, &[u8]), FrameError> {
    payload
        .split_first_chunk::<RTF1_HEADER_LEN>()
        .ok_or(FrameError::TooShort {
            len: payload.len(),
            need: RTF1_HEADER_LEN,
        })
}

fn read_header(raw: &RawHeader) -> Result<Header, FrameError> {
    let magic = [raw[0], raw[1], raw[2], raw[3]];
    if magic != MAGIC {
        return Err(FrameError::UnknownFormat { magic });
    }
    if raw[4] != VERSION {
        return Err(FrameError::BadVersion(raw[4]));
    }
    if raw[5] != PIXEL_FORMAT_U16_CENTIKELVIN {
        return Err(FrameError::BadPixelFormat(raw[5]));
    }
    let reserved_10 = u16_at(raw, 10);
    if reserved_10 != 0 {
        return Err(bad_header("reserved_10", reserved_10.into()));
    }
    let reserved_24 = u64_at(raw, 24);
    if reserved_24 != 0 {
        return Err(bad_header("reserved_24", reserved_24));
    }
    let capture = u64_at(raw, 16);
    let capture_ms = i64::try_from(capture).map_err(|_| bad_header("capture_ms", capture))?;
    Ok(Header {
        width: u16_at(raw, 6).into(),
        height: u16_at(raw, 8).into(),
        seq: u32_at(raw, 12),
        capture_ms,
    })
}

fn bad_header(field: &'static str, value: u64) -> FrameError {
    FrameError::BadHeader { field, value }
}

fn u16_at(raw: &RawHeader, at: usize) -> u16 {
    u16::from_le_bytes([raw[at], raw[at + 1]])
}

fn u32_at(raw: &RawHeader, at: usize) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&raw[at..at + 4]);
    u32::from_le_bytes(bytes)
}

fn u64_at(raw: &RawHeader, at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&raw[at..at + 8]);
    u64::from_le_bytes(bytes)
}
