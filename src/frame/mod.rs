//! The thermal frame codec: the payloads that thermal cameras publish.
//!
//! A frame is a grid of radiometric temperatures in centikelvin (0.01 K per
//! count, so 30000 is 300.00 K = 26.85 °C). A count of 0 marks a dead pixel:
//! decoding keeps it as 0 in [`Frame::pixels`] (see [`DEAD_PIXEL`]) and it is
//! up to the consumer to skip it — the detection kernel ignores such pixels.
//!
//! Three payload formats carry the same pixels, told apart by their first
//! bytes:
//!
//! - **RTF1**, the cameras' raw format: a 32-byte little-endian header
//!   (magic `RTF1`, version 1, pixel format 1 = u16 centikelvin, width,
//!   height, frame sequence number, capture time in Unix milliseconds) and
//!   then `width × height` little-endian u16 pixels, row-major, top row
//!   first. The payload must be exactly `32 + 2 · width · height` bytes.
//! - **PNG** and **TIFF**, 16-bit greyscale, holding the same counts. They
//!   carry no sequence number or capture time; the receiver uses the time of
//!   receipt.
//!
//! Each side must be 1 to [`MAX_SIDE`] pixels and the frame at most
//! [`FrameLimits::max_pixels`] pixels. Both are checked against the header
//! *before* any buffer proportional to the claimed size is allocated, and the
//! PNG and TIFF decoders are also given allocation limits sized to the frame,
//! so a hostile header cannot make the daemon allocate more than one frame's
//! worth (plus a small, fixed allowance).
//!
//! This module does no I/O: [`probe`] peeks at a header, [`decode`] turns a
//! payload into a [`Frame`] or a [`FrameError`] that names a countable
//! reason, and [`encode_rtf1`] and [`encode_png`] are the inverses used by
//! the simulator and the tests.

mod image_file;
mod rtf1;

use ndarray::{Array2, ArrayView2};
use std::fmt;

/// The default for [`FrameLimits::max_pixels`]: 1280 × 1024.
pub const DEFAULT_MAX_PIXELS: u64 = 1_310_720;
/// The longest side, in pixels, of any frame.
pub const MAX_SIDE: u32 = 4096;
/// The count that marks a dead pixel. Decoding keeps it as is.
pub const DEAD_PIXEL: u16 = 0;
/// The length of the RTF1 header that precedes the pixels.
pub const RTF1_HEADER_LEN: usize = 32;

/// No payload of any format is shorter than this: it is the RTF1 header
/// length, and a PNG or TIFF holding even one pixel is longer.
const MIN_PAYLOAD_LEN: usize = RTF1_HEADER_LEN;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
const TIFF_LE_MAGIC: [u8; 4] = *b"II*\0";
const TIFF_BE_MAGIC: [u8; 4] = *b"MM\0*";

/// The payload format a frame arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFormat {
    /// The raw `RTF1` format, with sequence number and capture time.
    Rtf1,
    /// A 16-bit greyscale PNG.
    Png,
    /// A 16-bit greyscale TIFF.
    Tiff,
}

impl FrameFormat {
    /// The usual spelling: `RTF1`, `PNG` or `TIFF`.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameFormat::Rtf1 => "RTF1",
            FrameFormat::Png => "PNG",
            FrameFormat::Tiff => "TIFF",
        }
    }
}

impl fmt::Display for FrameFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Configurable limits on what [`decode`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// The most pixels (width × height) a frame may have.
    pub max_pixels: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The payload format it arrived in.
    pub format: FrameFormat,
    /// The camera's frame sequence number (RTF1 only).
    pub seq: Option<u32>,
    /// The capture time in Unix milliseconds (RTF1 only; for PNG and TIFF
    /// the receiver uses the time of receipt).
    pub capture_ms: Option<i64>,
    /// Temperatures in centikelvin, shape `(height, width)`, standard
    /// (row-major) layout, top row first. Dead pixels are [`DEAD_PIXEL`].
    pub pixels: Array2<u16>,
}

impl Frame {
    /// The number of columns.
    pub fn width(&self) -> usize {
        self.pixels.ncols()
    }

    /// The number of rows.
    pub fn height(&self) -> usize {
        self.pixels.nrows()
    }
}

/// Why a payload was rejected. Each variant maps to a stable counter name
/// through [`FrameError::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("payload is {len} bytes; no frame is shorter than {need}")]
    TooShort { len: usize, need: usize },
    #[error("payload starts with {magic:02x?}, which is neither RTF1, PNG nor TIFF")]
    UnknownFormat { magic: [u8; 4] },
    #[error("RTF1 version {0}; only version 1 is supported")]
    BadVersion(u8),
    #[error("RTF1 pixel format {0}; only 1 (u16 centikelvin) is supported")]
    BadPixelFormat(u8),
    #[error("RTF1 header field `{field}` holds {value}, which is not allowed")]
    BadHeader { field: &'static str, value: u64 },
    #[error("frame is {width}x{height}; each side must be 1 to {MAX_SIDE}")]
    BadDimensions { width: u32, height: u32 },
    #[error("frame is {width}x{height} = {pixels} pixels, over the limit of {max}")]
    TooManyPixels {
        width: u32,
        height: u32,
        pixels: u64,
        max: u64,
    },
    #[error(
        "{format} payload holds {pixel_bytes} bytes of pixels; \
         a {width}x{height} frame needs exactly {expected}"
    )]
    LengthMismatch {
        format: FrameFormat,
        width: u32,
        height: u32,
        pixel_bytes: usize,
        expected: usize,
    },
    #[error("PNG does not decode: {0}")]
    BadPng(String),
    #[error("TIFF does not decode: {0}")]
    BadTiff(String),
    #[error("{format} holds {found} pixels, not 16-bit greyscale")]
    NotGrey16 { format: FrameFormat, found: String },
    #[error("{format} decoder refused to allocate: {detail}")]
    DecoderLimit { format: FrameFormat, detail: String },
}

impl FrameError {
    /// A short, stable name for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            FrameError::TooShort { .. } => "too_short",
            FrameError::UnknownFormat { .. } => "unknown_format",
            FrameError::BadVersion(_) => "bad_version",
            FrameError::BadPixelFormat(_) => "bad_pixel_format",
            FrameError::BadHeader { .. } => "bad_header",
            FrameError::BadDimensions { .. } => "bad_dimensions",
            FrameError::TooManyPixels { .. } => "too_many_pixels",
            FrameError::LengthMismatch { .. } => "length_mismatch",
            FrameError::BadPng(_) => "bad_png",
            FrameError::BadTiff(_) => "bad_tiff",
            FrameError::NotGrey16 { .. } => "not_grey16",
            FrameError::DecoderLimit { .. } => "decoder_limit",
        }
    }
}

/// Peeks at the header only (cheap, no pixel allocation): the format, width
/// and height.
///
/// The header must be well formed (for RTF1: magic, version, pixel format and
/// reserved fields) and each side 1 to [`MAX_SIDE`]. The configurable pixel
/// limit and the payload length are left to [`decode`].
pub fn probe(payload: &[u8]) -> Result<(FrameFormat, u32, u32), FrameError> {
    let format = sniff(payload)?;
    let (width, height) = match format {
        FrameFormat::Rtf1 => {
            let header = rtf1::parse_header(payload)?;
            (header.width, header.height)
        }
        FrameFormat::Png => image_file::png_dimensions(payload)?,
        FrameFormat::Tiff => image_file::tiff_dimensions(payload)?,
    };
    check_sides(width, height)?;
    Ok((format, width, height))
}

/// Decodes a payload, sniffing the format from its first bytes (RTF1 magic,
/// PNG signature, TIFF `II*\0` / `MM\0*`).
///
/// Dimensions are checked against [`MAX_SIDE`] and `limits` before any pixel
/// buffer is allocated. Dead pixels stay [`DEAD_PIXEL`] in the result.
pub fn decode(payload: &[u8], limits: &FrameLimits) -> Result<Frame, FrameError> {
    match sniff(payload)? {
        FrameFormat::Rtf1 => rtf1::decode(payload, limits),
        FrameFormat::Png => image_file::decode_png(payload, limits),
        FrameFormat::Tiff => image_file::decode_tiff(payload, limits),
    }
}

/// Encodes a raw RTF1 frame; `pixels` is `(height, width)`, any layout.
///
/// Only what the wire cannot represent is refused, so the tests can build
/// frames that [`decode`] rejects.
///
/// # Panics
///
/// If a side exceeds `u16::MAX` or `capture_ms` is negative.
pub fn encode_rtf1(pixels: ArrayView2<u16>, seq: u32, capture_ms: i64) -> Vec<u8> {
    rtf1::encode(pixels, seq, capture_ms)
}

/// Encodes a 16-bit greyscale PNG with fast compression; `pixels` is
/// `(height, width)`, any layout.
///
/// # Panics
///
/// If a side is 0 or exceeds `u32::MAX`: PNG cannot hold such an image.
pub fn encode_png(pixels: ArrayView2<u16>) -> Vec<u8> {
    image_file::encode_png(pixels)
}

/// Tells the format from the first bytes; anything shorter than
/// [`MIN_PAYLOAD_LEN`] is `too_short` whatever it starts with.
fn sniff(payload: &[u8]) -> Result<FrameFormat, FrameError> {
    if payload.len() < MIN_PAYLOAD_LEN {
        return Err(FrameError::TooShort {
            len: payload.len(),
            need: MIN_PAYLOAD_LEN,
        });
    }
    let magic = [payload[0], payload[1], payload[2], payload[3]];
    if magic == rtf1::MAGIC {
        Ok(FrameFormat::Rtf1)
    } else if payload.starts_with(&PNG_SIGNATURE) {
        Ok(FrameFormat::Png)
    } else if magic == TIFF_LE_MAGIC || magic == TIFF_BE_MAGIC {
        Ok(FrameFormat::Tiff)
    } else {
        Err(FrameError::UnknownFormat { magic })
    }
}

/// Each side must be 1 to [`MAX_SIDE`].
fn check_sides(width: u32, height: u32) -> Result<(), FrameError> {
    let ok = |side: u32| (1..=MAX_SIDE).contains(&side);
    if ok(width) && ok(height) {
        Ok(())
    } else {
        Err(FrameError::BadDimensions { width, height })
    }
}

/// The side check and the configurable pixel limit; returns the pixel count.
fn check_size(width: u32, height: u32, limits: &FrameLimits) -> Result<usize, FrameError> {
    check_sides(width, height)?;
    let pixels = u64::from(width) * u64::from(height);
    let too_many = || FrameError::TooManyPixels {
        width,
        height,
        pixels,
        max: limits.max_pixels,
    };
    if pixels > limits.max_pixels {
        return Err(too_many());
    }
    // At most 4096² here, which fits any usize of 32 bits or more.
    usize::try_from(pixels).map_err(|_| too_many())
}

/// Wraps row-major pixels into an array of shape `(height, width)`. The
/// callers size `pixels` from the checked dimensions, so the error is a
/// safety net, not an expected outcome.
fn into_array(
    format: FrameFormat,
    width: u32,
    height: u32,
    pixels: Vec<u16>,
) -> Result<Array2<u16>, FrameError> {
    let found = pixels.len();
    let shape = (height as usize, width as usize);
    Array2::from_shape_vec(shape, pixels).map_err(|_| FrameError::LengthMismatch {
        format,
        width,
        height,
        pixel_bytes: 2 * found,
        expected: 2 * shape.0 * shape.1,
    })
}

#[cfg(test)]
mod tests;
