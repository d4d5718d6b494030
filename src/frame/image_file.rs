//! PNG and TIFF payloads, read and written through the `image` crate.
//!
//! Decoding goes in three steps: read the header, check the dimensions
//! against [`MAX_SIDE`](super::MAX_SIDE) and the configured pixel limit, and
//! only then allocate the output buffer and decode the pixels. The decoder
//! is also given [`image::Limits`] sized to the frame, so the crate itself
//! refuses an image larger than the header we checked and caps what it
//! allocates on the side.

use super::{check_size, into_array, Frame, FrameError, FrameFormat, FrameLimits};
use image::codecs::png::{CompressionType, FilterType, PngDecoder, PngEncoder};
use image::codecs::tiff::TiffDecoder;
use image::error::UnsupportedErrorKind;
use image::{ColorType, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, Limits};
use ndarray::{Array2, ArrayView2};
use std::io::Cursor;

/// What a decoder may allocate beyond the output frame and one more frame's
/// worth of working space (TIFF decodes into its own buffer and reads a
/// compressed strip at a time): room for metadata chunks and tags.
const METADATA_ALLOWANCE: u64 = 1 << 20;

/// The PNG signature, then the IHDR chunk's length (always 13) and type.
const PNG_IHDR_START: [u8; 16] = [
    0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 13, b'I', b'H', b'D', b'R',
];

/// Reads width and height from a PNG's IHDR chunk, which must come first.
/// Cheap: looks at bytes 0–23 only.
pub(super) fn png_dimensions(payload: &[u8]) -> Result<(u32, u32), FrameError> {
    let Some(head) = payload.first_chunk::<24>() else {
        return Err(FrameError::TooShort {
            len: payload.len(),
            need: 24,
        });
    };
    if head[..16] != PNG_IHDR_START {
        return Err(FrameError::BadPng(
            "first chunk is not a 13-byte IHDR".to_string(),
        ));
    }
    let width = u32::from_be_bytes([head[16], head[17], head[18], head[19]]);
    let height = u32::from_be_bytes([head[20], head[21], head[22], head[23]]);
    Ok((width, height))
}

/// Reads width and height from a TIFF's first image directory. This parses
/// the directory but allocates nothing proportional to the image.
pub(super) fn tiff_dimensions(payload: &[u8]) -> Result<(u32, u32), FrameError> {
    let decoder = tiff_decoder(payload)?;
    Ok(decoder.dimensions())
}

/// The most values one tag of a TIFF's first directory may hold: enough for
/// the strip offsets of a [`MAX_SIDE`](super::MAX_SIDE)-row image cut into
/// one strip per row, or the tile offsets of one in 16 × 16 tiles.
pub(super) const MAX_TIFF_TAG_VALUES: u64 = 1 << 16;

/// A TIFF decoder for `payload`, once its first directory has passed
/// [`check_tiff_directory`].
fn tiff_decoder(payload: &[u8]) -> Result<TiffDecoder<Cursor<&[u8]>>, FrameError> {
    check_tiff_directory(payload)?;
    TiffDecoder::new(Cursor::new(payload)).map_err(|e| Codec::Tiff.error(e))
}

/// Checks the tag counts of a TIFF's first image directory before the
/// `tiff` crate reads it.
///
/// `TiffDecoder::new` reads that directory, and the tags that describe the
/// image, before [`decoder_limits`] can be set, so with the crate's default
/// limits: it would size a tag's value buffer from the count the file
/// claims, up to 256 MiB, before finding out that the payload holds no such
/// thing. Here every tag whose value does not fit in its entry must lie
/// inside the payload, and no tag may hold more than
/// [`MAX_TIFF_TAG_VALUES`] values. The walk reads entries exactly as the
/// crate does; whatever it cannot make sense of is left for the crate to
/// refuse, which it does before reading any tag value.
fn check_tiff_directory(payload: &[u8]) -> Result<(), FrameError> {
    let little = payload.starts_with(b"II");
    let int = |at: usize, len: usize| -> Option<u64> {
        let bytes = payload.get(at..at.checked_add(len)?)?;
        let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
        Some(if little {
            bytes.iter().rev().fold(0, fold)
        } else {
            bytes.iter().fold(0, fold)
        })
    };
    let (big, first_ifd) = match int(2, 2) {
        Some(42) => (false, int(4, 4)),
        Some(43) => (true, int(8, 8)),
        _ => return Ok(()),
    };
    let Some(mut at) = first_ifd.and_then(|o| usize::try_from(o).ok()) else {
        return Ok(());
    };
    let (count_len, field_len) = if big { (8, 8) } else { (4, 4) };
    let Some(entries) = int(at, if big { 8 } else { 2 }) else {
        return Ok(());
    };
    at += if big { 8 } else { 2 };
    // Every entry takes at least 12 bytes, so this loop is bounded by the
    // payload, whatever `entries` claims.
    for _ in 0..entries {
        let (Some(tag), Some(kind)) = (int(at, 2), int(at + 2, 2)) else {
            return Ok(());
        };
        let Some(size) = tiff_type_size(kind) else {
            // The crate skips an entry of unknown type, 8 bytes after its
            // tag and type, in both layouts.
            at += 4 + 8;
            continue;
        };
        let (Some(count), Some(field)) =
            (int(at + 4, count_len), int(at + 4 + count_len, field_len))
        else {
            return Ok(());
        };
        at += 4 + count_len + field_len;
        let refuse = |what: &str| {
            Err(FrameError::BadTiff(format!(
                "tag {tag} claims {count} values of {size} bytes, {what}"
            )))
        };
        if count > MAX_TIFF_TAG_VALUES {
            return refuse(&format!("over the limit of {MAX_TIFF_TAG_VALUES}"));
        }
        let bytes = count * size;
        if bytes > field_len as u64 && field.saturating_add(bytes) > payload.len() as u64 {
            return refuse("past the end of the payload");
        }
    }
    Ok(())
}

/// The bytes one value of a TIFF field type takes; `None` for a type the
/// `tiff` crate does not know (and skips).
fn tiff_type_size(kind: u64) -> Option<u64> {
    match kind {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 | 16..=18 => Some(8),
        _ => None,
    }
}

/// Decodes a 16-bit greyscale PNG.
pub(super) fn decode_png(payload: &[u8], limits: &FrameLimits) -> Result<Frame, FrameError> {
    let (width, height) = png_dimensions(payload)?;
    let count = check_size(width, height, limits)?;
    let decoder = PngDecoder::with_limits(Cursor::new(payload), decoder_limits(width, height))
        .map_err(|e| Codec::Png.error(e))?;
    let pixels = read_grey16(decoder, Codec::Png, (width, height), count)?;
    Ok(still_frame(FrameFormat::Png, pixels))
}

/// Decodes a 16-bit greyscale TIFF (the first image if there are several).
pub(super) fn decode_tiff(payload: &[u8], limits: &FrameLimits) -> Result<Frame, FrameError> {
    let mut decoder = tiff_decoder(payload)?;
    let (width, height) = decoder.dimensions();
    let count = check_size(width, height, limits)?;
    decoder
        .set_limits(decoder_limits(width, height))
        .map_err(|e| Codec::Tiff.error(e))?;
    let pixels = read_grey16(decoder, Codec::Tiff, (width, height), count)?;
    Ok(still_frame(FrameFormat::Tiff, pixels))
}

/// Encodes `pixels` as a 16-bit greyscale PNG with fast compression.
///
/// Panics if a side is 0 or does not fit in a `u32`.
pub(super) fn encode_png(pixels: ArrayView2<u16>) -> Vec<u8> {
    let (height, width) = pixels.dim();
    let width = u32::try_from(width).expect("PNG width must fit in a u32");
    let height = u32::try_from(height).expect("PNG height must fit in a u32");
    let samples: Vec<u8> = pixels.iter().flat_map(|p| p.to_ne_bytes()).collect();
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(&samples, width, height, ExtendedColorType::L16)
        .expect("a non-empty 16-bit greyscale image encodes to PNG in memory");
    out
}

/// The two formats this file handles, for error mapping.
#[derive(Debug, Clone, Copy)]
enum Codec {
    Png,
    Tiff,
}

impl Codec {
    fn format(self) -> FrameFormat {
        match self {
            Codec::Png => FrameFormat::Png,
            Codec::Tiff => FrameFormat::Tiff,
        }
    }

    /// A payload that does not decode, for a reason `image` describes.
    fn corrupt(self, detail: String) -> FrameError {
        match self {
            Codec::Png => FrameError::BadPng(detail),
            Codec::Tiff => FrameError::BadTiff(detail),
        }
    }

    /// Maps an `image` error to a countable reason: allocation limits to
    /// `decoder_limit`, unsupported colour types to `not_grey16`, anything
    /// else (truncation, checksums, bad compressed data…) to `bad_png` or
    /// `bad_tiff`.
    fn error(self, err: ImageError) -> FrameError {
        match err {
            ImageError::Limits(e) => FrameError::DecoderLimit {
                format: self.format(),
                detail: e.to_string(),
            },
            ImageError::Unsupported(e) => match e.kind() {
                UnsupportedErrorKind::Color(c) | UnsupportedErrorKind::ColorLayout(c) => {
                    FrameError::NotGrey16 {
                        format: self.format(),
                        found: format!("{c:?}"),
                    }
                }
                _ => self.corrupt(e.to_string()),
            },
            other => self.corrupt(other.to_string()),
        }
    }
}

/// Limits for a decoder of a `width × height` 16-bit frame: exactly those
/// dimensions, and allocations of the output, one more frame's worth of
/// working space, and [`METADATA_ALLOWANCE`].
pub(super) fn decoder_limits(width: u32, height: u32) -> Limits {
    let frame_bytes = 2 * u64::from(width) * u64::from(height);
    // `Limits` is non-exhaustive: start from a value and set every field.
    let mut limits = Limits::no_limits();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(2 * frame_bytes + METADATA_ALLOWANCE);
    limits
}

/// Checks the decoder agrees with the checked dimensions and holds 16-bit
/// greyscale, then allocates exactly `count` pixels and decodes into them.
fn read_grey16(
    decoder: impl ImageDecoder,
    codec: Codec,
    (width, height): (u32, u32),
    count: usize,
) -> Result<Array2<u16>, FrameError> {
    let format = codec.format();
    if decoder.dimensions() != (width, height) {
        let (w, h) = decoder.dimensions();
        return Err(codec.corrupt(format!(
            "decoder reports {w}x{h}, header says {width}x{height}"
        )));
    }
    let colour = decoder.color_type();
    if colour != ColorType::L16 {
        return Err(FrameError::NotGrey16 {
            format,
            found: format!("{colour:?}"),
        });
    }
    // `read_image` wants exactly `total_bytes()`; for L16 at the checked
    // dimensions that is 2 · count.
    let mut samples = vec![0u8; 2 * count];
    if decoder.total_bytes() != samples.len() as u64 {
        return Err(codec.corrupt(format!(
            "decoder wants {} bytes for {width}x{height} L16",
            decoder.total_bytes()
        )));
    }
    decoder
        .read_image(&mut samples)
        .map_err(|e| codec.error(e))?;
    // `image` hands out 16-bit samples in native byte order.
    let pixels: Vec<u16> = samples
        .chunks_exact(2)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .collect();
    into_array(format, width, height, pixels)
}

/// A frame from a still image: no sequence number or capture time.
fn still_frame(format: FrameFormat, pixels: Array2<u16>) -> Frame {
    Frame {
        format,
        seq: None,
        capture_ms: None,
        pixels,
    }
}
