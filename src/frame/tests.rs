//! The spec's test frames, round trips, and every rejection reason.

use super::image_file::decoder_limits;
use super::*;
use image::codecs::png::PngDecoder;
use image::codecs::tiff::{TiffDecoder, TiffEncoder};
use image::{ExtendedColorType, ImageDecoder, ImageEncoder, ImageError};
use ndarray::{s, Array2};
use proptest::prelude::*;
use std::io::Cursor;
use std::path::{Path, PathBuf};

// ---- helpers ----

fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/frames")
        .join(name)
}

fn read_data(name: &str) -> Vec<u8> {
    let path = data_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&read_data("test-frame.json")).expect("test-frame.json is JSON")
}

fn decode_default(payload: &[u8]) -> Result<Frame, FrameError> {
    decode(payload, &FrameLimits::default())
}

fn reason_of(payload: &[u8]) -> &'static str {
    match decode_default(payload) {
        Ok(f) => panic!(
            "expected a rejection, got a {}x{} frame",
            f.width(),
            f.height()
        ),
        Err(e) => e.reason(),
    }
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next_u16(&mut self) -> u16 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 48) as u16
    }
}

/// `height × width` pseudo-random counts, with 0 and 65535 in the corners.
fn random_pixels(height: usize, width: usize, seed: u64) -> Array2<u16> {
    let mut rng = Rng(seed | 1);
    let mut a = Array2::from_shape_simple_fn((height, width), || rng.next_u16());
    a[[0, 0]] = 0;
    a[[height - 1, width - 1]] = u16::MAX;
    a
}

/// An RTF1 header (no pixels) with the given dimensions.
fn rtf1_header(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = encode_rtf1(Array2::<u16>::zeros((1, 1)).view(), 1, 2);
    bytes.truncate(RTF1_HEADER_LEN);
    bytes[6..8].copy_from_slice(&width.to_le_bytes());
    bytes[8..10].copy_from_slice(&height.to_le_bytes());
    bytes
}

fn small_rtf1() -> Vec<u8> {
    encode_rtf1(random_pixels(3, 4, 9).view(), 5, 1_000)
}

/// CRC-32 as PNG computes it (ISO 3309), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The offset of the first chunk of type `kind` (its length field).
fn find_chunk(png: &[u8], kind: &[u8; 4]) -> usize {
    png.windows(4)
        .position(|w| w == kind)
        .expect("chunk present")
        - 4
}

/// Recomputes the CRC of the chunk starting at `at`.
fn fix_crc(png: &mut [u8], at: usize) {
    let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
    let crc = crc32(&png[at + 4..at + 8 + len]);
    png[at + 8 + len..at + 12 + len].copy_from_slice(&crc.to_be_bytes());
}

/// A valid PNG whose IHDR (with a correct CRC) claims `width × height`.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = encode_png(random_pixels(2, 2, 3).view());
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    fix_crc(&mut png, 8);
    png
}

fn encode_png_as(bytes: &[u8], width: u32, height: u32, colour: ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(bytes, width, height, colour)
        .expect("test image encodes");
    out
}

fn block_mean(a: &Array2<u16>, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) -> f64 {
    let live: Vec<f64> = a
        .slice(s![rows, cols])
        .iter()
        .filter(|&&p| p != DEAD_PIXEL)
        .map(|&p| f64::from(p))
        .collect();
    live.iter().sum::<f64>() / live.len() as f64
}

/// Mean of the live pixels in a `margin`-wide ring around a block.
fn ring_mean(
    a: &Array2<u16>,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    margin: usize,
) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for r in rows.start - margin..rows.end + margin {
        for c in cols.start - margin..cols.end + margin {
            let inside = rows.contains(&r) && cols.contains(&c);
            if !inside && a[[r, c]] != DEAD_PIXEL {
                sum += f64::from(a[[r, c]]);
                n += 1;
            }
        }
    }
    sum / n as f64
}

fn assert_near(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: got {got:.1}, want {want} ± {tolerance}"
    );
}

// ---- the spec's test frames ----

fn test_frames() -> [Frame; 3] {
    ["test-frame.rtf1", "test-frame.png", "test-frame.tiff"]
        .map(|name| decode_default(&read_data(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
}

#[test]
fn test_frames_decode_to_identical_arrays_with_the_json_header_and_stats() {
    let want = expected();
    let [rtf1, png, tiff] = test_frames();

    assert_eq!(rtf1.format, FrameFormat::Rtf1);
    assert_eq!(png.format, FrameFormat::Png);
    assert_eq!(tiff.format, FrameFormat::Tiff);
    assert_eq!(rtf1.seq, Some(want["seq"].as_u64().unwrap() as u32));
    assert_eq!(rtf1.capture_ms, want["capture_time_ms"].as_i64());
    for still in [&png, &tiff] {
        assert_eq!((still.seq, still.capture_ms), (None, None));
    }
    assert_eq!(png.pixels, rtf1.pixels, "PNG and RTF1 pixels differ");
    assert_eq!(tiff.pixels, rtf1.pixels, "TIFF and RTF1 pixels differ");

    for frame in [&rtf1, &png, &tiff] {
        assert_eq!(frame.width() as u64, want["width"].as_u64().unwrap());
        assert_eq!(frame.height() as u64, want["height"].as_u64().unwrap());
        assert_eq!(frame.pixels.dim(), (frame.height(), frame.width()));
        assert!(frame.pixels.is_standard_layout());
    }

    let p = &rtf1.pixels;
    let sum: u64 = p.iter().map(|&v| u64::from(v)).sum();
    assert_eq!(sum, want["pixel_sum"].as_u64().unwrap());
    let min_nonzero = p.iter().copied().filter(|&v| v != DEAD_PIXEL).min();
    assert_eq!(min_nonzero.map(u64::from), want["min_nonzero"].as_u64());
    assert_eq!(p.iter().copied().max().map(u64::from), want["max"].as_u64());

    let dead = want["dead_pixels_row_col"].as_array().unwrap();
    for rc in dead {
        let (r, c) = (
            rc[0].as_u64().unwrap() as usize,
            rc[1].as_u64().unwrap() as usize,
        );
        assert_eq!(p[[r, c]], DEAD_PIXEL, "pixel ({r},{c}) should be dead");
    }
    let zeros = p.iter().filter(|&&v| v == DEAD_PIXEL).count();
    assert_eq!(zeros, dead.len(), "only the listed pixels are dead");
}

#[test]
fn test_frame_pixels_match_the_json_sha256() {
    let want = expected();
    let want = want["pixels_sha256_u16le_row_major"].as_str().unwrap();
    let [rtf1, ..] = test_frames();
    let bytes: Vec<u8> = rtf1.pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &bytes).expect("write temp file");
    let output = match std::process::Command::new("sha256sum")
        .arg(file.path())
        .output()
    {
        Ok(output) if output.status.success() => output,
        other => {
            eprintln!("SKIPPED test_frame_pixels_match_the_json_sha256: sha256sum unavailable ({other:?})");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let got = stdout.split_whitespace().next().unwrap_or_default();
    assert_eq!(got, want);
}

#[test]
fn test_frame_features_stand_out_from_their_surroundings() {
    let [frame, ..] = test_frames();
    let p = &frame.pixels;

    // 4 wide × 10 tall warm block: ~8 K (800 counts) warmer.
    let warm = block_mean(p, 300..310, 200..204) - ring_mean(p, 300..310, 200..204, 3);
    assert_near("warm block excess", warm, 800.0, 50.0);
    let block_min = p
        .slice(s![300..310, 200..204])
        .iter()
        .copied()
        .min()
        .unwrap();
    assert!(block_min > p[[299, 200]] && block_min > p[[310, 203]] && block_min > p[[305, 199]]);

    // 6 × 6 cold block: ~4 K colder.
    let cold = block_mean(p, 100..106, 500..506) - ring_mean(p, 100..106, 500..506, 3);
    assert_near("cold block excess", cold, -400.0, 50.0);

    // One hot pixel at (50, 50): ~10 K warmer.
    let hot = f64::from(p[[50, 50]]) - ring_mean(p, 50..51, 50..51, 3);
    assert_near("hot pixel excess", hot, 1000.0, 60.0);
}

#[test]
fn probe_reads_the_test_frame_headers() {
    for (name, format) in [
        ("test-frame.rtf1", FrameFormat::Rtf1),
        ("test-frame.png", FrameFormat::Png),
        ("test-frame.tiff", FrameFormat::Tiff),
    ] {
        assert_eq!(probe(&read_data(name)), Ok((format, 640, 512)), "{name}");
    }
}

#[test]
fn probe_checks_sides_but_leaves_the_pixel_limit_and_length_to_decode() {
    // 2000 × 2000 is over the default limit but within MAX_SIDE; the header
    // alone is enough to probe.
    assert_eq!(
        probe(&rtf1_header(2000, 2000)),
        Ok((FrameFormat::Rtf1, 2000, 2000))
    );
    assert_eq!(
        probe(&rtf1_header(4097, 1)).unwrap_err().reason(),
        "bad_dimensions"
    );
    assert_eq!(
        probe(&png_claiming(5000, 5000)).unwrap_err().reason(),
        "bad_dimensions"
    );
    assert_eq!(probe(b"RTF1").unwrap_err().reason(), "too_short");
}

#[test]
fn limits_apply_to_every_format() {
    let exact = FrameLimits {
        max_pixels: 640 * 512,
    };
    let under = FrameLimits {
        max_pixels: 640 * 512 - 1,
    };
    for name in ["test-frame.rtf1", "test-frame.png", "test-frame.tiff"] {
        let payload = read_data(name);
        assert!(decode(&payload, &exact).is_ok(), "{name}");
        let err = decode(&payload, &under).unwrap_err();
        assert_eq!(err.reason(), "too_many_pixels", "{name}: {err}");
    }
}

// ---- round trips ----

#[test]
fn rtf1_round_trip() {
    for (h, w, seed) in [
        (1, 1, 1),
        (3, 7, 2),
        (64, 48, 3),
        (1, 4096, 4),
        (4096, 1, 5),
    ] {
        let pixels = random_pixels(h, w, seed);
        let payload = encode_rtf1(pixels.view(), 0xdead_beef, i64::MAX);
        assert_eq!(payload.len(), RTF1_HEADER_LEN + 2 * h * w);
        let frame = decode_default(&payload).unwrap();
        assert_eq!(frame.format, FrameFormat::Rtf1);
        assert_eq!(frame.seq, Some(0xdead_beef));
        assert_eq!(frame.capture_ms, Some(i64::MAX));
        assert_eq!(frame.pixels, pixels);
    }
}

#[test]
fn png_round_trip() {
    for (h, w, seed) in [(1, 1, 11), (3, 7, 12), (64, 48, 13), (1, 4096, 14)] {
        let pixels = random_pixels(h, w, seed);
        let frame = decode_default(&encode_png(pixels.view())).unwrap();
        assert_eq!(frame.format, FrameFormat::Png);
        assert_eq!((frame.seq, frame.capture_ms), (None, None));
        assert_eq!(frame.pixels, pixels);
    }
}

#[test]
fn encoders_accept_views_in_any_layout() {
    let pixels = random_pixels(5, 9, 21);
    let transposed = pixels.t();
    let owned = transposed.to_owned();
    let rtf1 = decode_default(&encode_rtf1(transposed, 1, 0)).unwrap();
    assert_eq!(rtf1.pixels, owned);
    let png = decode_default(&encode_png(transposed)).unwrap();
    assert_eq!(png.pixels, owned);
    let strided = pixels.slice(s![..;2, 1..;3]);
    assert_eq!(
        decode_default(&encode_png(strided)).unwrap().pixels,
        strided
    );
}

#[test]
fn test_frame_survives_a_png_round_trip() {
    let [frame, ..] = test_frames();
    let again = decode_default(&encode_png(frame.pixels.view())).unwrap();
    assert_eq!(again.pixels, frame.pixels);
}

// ---- rejections ----

#[test]
fn short_buffers_are_too_short() {
    let frame = small_rtf1();
    for len in [0, 1, 4, 8, 31] {
        let err = decode_default(&frame[..len]).unwrap_err();
        assert_eq!(err.reason(), "too_short", "{len} bytes");
        assert_eq!(err, FrameError::TooShort { len, need: 32 });
    }
}

#[test]
fn unknown_magic_is_unknown_format() {
    let mut frame = small_rtf1();
    frame[..4].copy_from_slice(b"RTF2");
    let err = decode_default(&frame).unwrap_err();
    assert_eq!(err.reason(), "unknown_format");
    assert_eq!(
        err.to_string(),
        "payload starts with [52, 54, 46, 32], which is neither RTF1, PNG nor TIFF"
    );
    // BigTIFF is not one of the contract's formats.
    frame[..4].copy_from_slice(b"II+\0");
    assert_eq!(reason_of(&frame), "unknown_format");
}

#[test]
fn rtf1_version_2_is_bad_version() {
    let mut frame = small_rtf1();
    frame[4] = 2;
    assert_eq!(decode_default(&frame), Err(FrameError::BadVersion(2)));
    assert_eq!(reason_of(&frame), "bad_version");
}

#[test]
fn rtf1_pixel_format_2_is_bad_pixel_format() {
    let mut frame = small_rtf1();
    frame[5] = 2;
    assert_eq!(decode_default(&frame), Err(FrameError::BadPixelFormat(2)));
    assert_eq!(reason_of(&frame), "bad_pixel_format");
}

#[test]
fn rtf1_nonzero_reserved_fields_and_huge_capture_times_are_bad_header() {
    let mut frame = small_rtf1();
    frame[10] = 1;
    assert_eq!(reason_of(&frame), "bad_header");

    let mut frame = small_rtf1();
    frame[31] = 0x80;
    assert_eq!(reason_of(&frame), "bad_header");

    let mut frame = small_rtf1();
    frame[16..24].copy_from_slice(&(i64::MAX as u64 + 1).to_le_bytes());
    let err = decode_default(&frame).unwrap_err();
    assert_eq!(err.reason(), "bad_header");
    assert!(err.to_string().contains("9223372036854775808"), "{err}");
}

#[test]
fn zero_and_oversize_sides_are_bad_dimensions() {
    for (w, h) in [
        (0, 10),
        (10, 0),
        (0, 0),
        (4097, 1),
        (1, 4097),
        (65535, 65535),
    ] {
        let mut payload = rtf1_header(w, h);
        // Pad small claims to the length the header claims, so only the
        // size is wrong; the 65535 × 65535 one stays a bare header.
        let claimed = 2 * usize::from(w) * usize::from(h);
        if claimed <= 1 << 20 {
            payload.resize(RTF1_HEADER_LEN + claimed, 0);
        }
        let err = decode_default(&payload).unwrap_err();
        assert_eq!(
            err,
            FrameError::BadDimensions {
                width: w.into(),
                height: h.into()
            }
        );
        assert_eq!(err.reason(), "bad_dimensions");
    }
}

#[test]
fn over_the_limit_is_rejected_before_the_length_is_even_looked_at() {
    // 2000 × 2000 claims 8 MB of pixels; the payload has 100 bytes. The
    // reason is too_many_pixels, not length_mismatch: the limit comes first,
    // so nothing the size of the claim was allocated.
    let mut payload = rtf1_header(2000, 2000);
    payload.resize(RTF1_HEADER_LEN + 100, 0);
    let err = decode_default(&payload).unwrap_err();
    assert_eq!(err.reason(), "too_many_pixels");
    assert_eq!(
        err.to_string(),
        "frame is 2000x2000 = 4000000 pixels, over the limit of 1310720"
    );
}

#[test]
fn rtf1_length_off_by_one_either_way_is_length_mismatch() {
    let frame = small_rtf1();
    let longer = [frame.as_slice(), &[0]].concat();
    let shorter = &frame[..frame.len() - 1];
    for (payload, pixel_bytes) in [(&longer[..], 25), (shorter, 23)] {
        let err = decode_default(payload).unwrap_err();
        assert_eq!(
            err,
            FrameError::LengthMismatch {
                format: FrameFormat::Rtf1,
                width: 4,
                height: 3,
                pixel_bytes,
                expected: 24,
            }
        );
        assert_eq!(err.reason(), "length_mismatch");
    }
    assert!(decode_default(&frame).is_ok());
}

#[test]
fn truncated_png_is_bad_png() {
    let png = read_data("test-frame.png");
    let err = decode_default(&png[..png.len() / 2]).unwrap_err();
    assert_eq!(err.reason(), "bad_png", "{err}");
    // Cut just after the IHDR: the header is fine, the pixels are missing.
    assert_eq!(reason_of(&png[..33]), "bad_png");
}

#[test]
fn png_with_corrupted_idat_is_bad_png() {
    let png = read_data("test-frame.png");
    let idat = find_chunk(&png, b"IDAT");
    let len = u32::from_be_bytes([png[idat], png[idat + 1], png[idat + 2], png[idat + 3]]);
    let crc_at = idat + 8 + len as usize;

    // Intact data, wrong CRC: caught by the chunk CRC check.
    let mut bad_crc = png.clone();
    bad_crc[crc_at] ^= 1;
    let err = decode_default(&bad_crc).unwrap_err();
    assert_eq!(err.reason(), "bad_png");
    assert!(err.to_string().contains("CRC"), "{err}");

    // Scrambled compressed data…
    let mut corrupt = png.clone();
    for b in &mut corrupt[idat + 8 + 100..idat + 8 + 200] {
        *b ^= 0x5a;
    }
    let err = decode_default(&corrupt).unwrap_err();
    assert_eq!(err.reason(), "bad_png", "{err}");
    // …is caught by the deflate decoder even with the CRC patched up.
    fix_crc(&mut corrupt, idat);
    let err = decode_default(&corrupt).unwrap_err();
    assert_eq!(err.reason(), "bad_png", "{err}");
    assert!(err.to_string().contains("deflate"), "{err}");
}

#[test]
fn png_that_is_not_16_bit_grey_is_not_grey16() {
    let grey8 = encode_png_as(&[0, 64, 128, 255], 2, 2, ExtendedColorType::L8);
    let err = decode_default(&grey8).unwrap_err();
    assert_eq!(
        err,
        FrameError::NotGrey16 {
            format: FrameFormat::Png,
            found: "L8".to_string()
        }
    );
    assert_eq!(err.to_string(), "PNG holds L8 pixels, not 16-bit greyscale");

    let rgb16 = encode_png_as(&[7; 2 * 2 * 3 * 2], 2, 2, ExtendedColorType::Rgb16);
    assert_eq!(reason_of(&rgb16), "not_grey16");
    let rgb8 = encode_png_as(&[7; 2 * 2 * 3], 2, 2, ExtendedColorType::Rgb8);
    assert_eq!(reason_of(&rgb8), "not_grey16");
}

#[test]
fn png_claiming_5000_by_5000_is_bad_dimensions() {
    let err = decode_default(&png_claiming(5000, 5000)).unwrap_err();
    assert_eq!(
        err,
        FrameError::BadDimensions {
            width: 5000,
            height: 5000
        }
    );
    // Within the sides but over the default limit.
    assert_eq!(reason_of(&png_claiming(4096, 4096)), "too_many_pixels");
}

#[test]
fn png_without_ihdr_first_is_bad_png() {
    let mut png = encode_png(random_pixels(2, 2, 3).view());
    png[12..16].copy_from_slice(b"tEXt");
    assert_eq!(reason_of(&png), "bad_png");
}

#[test]
fn decoder_limits_make_the_crates_refuse_oversize_images_too() {
    // Our own checks run first, so this is a second line of defence: given
    // limits sized to a 4096 × 4096 frame, the PNG decoder refuses a header
    // claiming 5000 × 5000 on its own…
    let png = png_claiming(5000, 5000);
    let err = PngDecoder::with_limits(Cursor::new(&png[..]), decoder_limits(4096, 4096))
        .err()
        .expect("the PNG decoder refuses");
    assert!(matches!(err, ImageError::Limits(_)), "{err}");

    // …and the TIFF decoder refuses limits smaller than its image.
    let tiff = read_data("test-frame.tiff");
    let mut decoder = TiffDecoder::new(Cursor::new(&tiff[..])).unwrap();
    let err = decoder.set_limits(decoder_limits(320, 256)).unwrap_err();
    assert!(matches!(err, ImageError::Limits(_)), "{err}");
}

#[test]
fn truncated_tiff_is_bad_tiff() {
    let tiff = read_data("test-frame.tiff");
    let err = decode_default(&tiff[..tiff.len() / 2]).unwrap_err();
    assert_eq!(err.reason(), "bad_tiff", "{err}");
    assert_eq!(reason_of(&tiff[..40]), "bad_tiff");
}

#[test]
fn tiff_that_is_not_16_bit_grey_is_not_grey16() {
    let mut out = Cursor::new(Vec::new());
    TiffEncoder::new(&mut out)
        .write_image(&[1, 2, 3, 4], 2, 2, ExtendedColorType::L8)
        .unwrap();
    let err = decode_default(out.get_ref()).unwrap_err();
    assert_eq!(
        err,
        FrameError::NotGrey16 {
            format: FrameFormat::Tiff,
            found: "L8".to_string()
        }
    );
}

/// Found by the `frame` fuzz target (`-malloc_limit_mb=64`): a 146-byte
/// TIFF whose ImageLength tag claims 3 276 801 SLONG8 values made the `tiff`
/// crate reserve 100 MiB while `TiffDecoder::new` read the directory, before
/// our decoder limits could be set.
const TIFF_TAG_CLAIMING_3M_VALUES: [u8; 146] = [
    0x49, 0x49, 0x2a, 0x00, 0x20, 0x00, 0x00, 0x00, 0x48, 0x71, 0x7a, 0x71, 0xac, 0x71, 0x00, 0x15,
    0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x16, 0x01, 0x73, 0x6e, 0x73,
    0x09, 0x00, 0x00, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x01,
    0x11, 0x00, 0x01, 0x00, 0x32, 0x00, 0xfd, 0xff, 0xff, 0xff, 0xfc, 0x01, 0x03, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x03, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00,
    0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x11, 0x01,
    0x04, 0x00, 0x01, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x16, 0x01, 0x73, 0x6e, 0x73, 0x09,
    0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x16, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00,
    0x00, 0x00, 0x17, 0x01, 0x04, 0x00, 0x00, 0xff, 0xf7, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00,
];

#[test]
fn tiff_tag_claiming_millions_of_values_is_refused_before_the_tiff_crate_allocates() {
    let payload = &TIFF_TAG_CLAIMING_3M_VALUES[..];
    let expected = FrameError::BadTiff(
        "tag 257 claims 3276801 values of 8 bytes, over the limit of 65536".into(),
    );
    assert_eq!(probe(payload).unwrap_err(), expected);
    assert_eq!(decode_default(payload).unwrap_err(), expected);
}

/// A little-endian classic TIFF header, a one-entry first directory right
/// after it (`tag`, `kind`, `count`, `field`) and 16 bytes of padding: 42
/// bytes, over the 32 that any frame needs.
fn tiff_with_one_tag(tag: u16, kind: u16, count: u32, field: u32) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&tag.to_le_bytes());
    t.extend_from_slice(&kind.to_le_bytes());
    t.extend_from_slice(&count.to_le_bytes());
    t.extend_from_slice(&field.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&[0; 16]);
    t
}

#[test]
fn tiff_tags_claiming_huge_or_out_of_payload_values_are_clean_errors() {
    // An ASCII ImageDescription of 200 MB: the crate would zero that much.
    let ascii = tiff_with_one_tag(270, 2, 200_000_000, 8);
    let err = decode_default(&ascii).unwrap_err();
    assert!(
        matches!(&err, FrameError::BadTiff(m) if m.contains("over the limit of 65536")),
        "{err}"
    );
    // Within the count limit but not within the 42-byte payload.
    let outside = tiff_with_one_tag(273, 4, 1000, 8);
    let err = probe(&outside).unwrap_err();
    assert!(
        matches!(&err, FrameError::BadTiff(m) if m.contains("past the end of the payload")),
        "{err}"
    );
    // An offset near u32::MAX does not wrap around.
    let wrapping = tiff_with_one_tag(273, 4, 2, u32::MAX - 3);
    assert!(matches!(probe(&wrapping), Err(FrameError::BadTiff(m)) if m.contains("past the end")));
    // A value that fits in its entry needs no room in the payload: the
    // directory passes and the crate reports what is really missing.
    let inline = tiff_with_one_tag(256, 3, 2, 0x0001_0001);
    let err = decode_default(&inline).unwrap_err();
    assert!(!err.to_string().contains("claims"), "{err}");
}

#[test]
fn multi_strip_tiffs_still_pass_the_directory_check() {
    // 64 × 300 16-bit pixels are 38 400 bytes, which the `image` encoder
    // cuts into several strips (so StripOffsets holds several values stored
    // outside its entry). The test frame is checked by the probe test.
    let pixels = random_pixels(300, 64, 11);
    let mut out = Cursor::new(Vec::new());
    let samples: Vec<u8> = pixels.iter().flat_map(|p| p.to_ne_bytes()).collect();
    TiffEncoder::new(&mut out)
        .write_image(&samples, 64, 300, ExtendedColorType::L16)
        .unwrap();
    assert_eq!(decode_default(out.get_ref()).unwrap().pixels, pixels);
}

#[test]
fn every_reason_is_distinct_snake_case() {
    let errors = [
        FrameError::TooShort { len: 0, need: 32 },
        FrameError::UnknownFormat { magic: [0; 4] },
        FrameError::BadVersion(2),
        FrameError::BadPixelFormat(2),
        FrameError::BadHeader {
            field: "x",
            value: 1,
        },
        FrameError::BadDimensions {
            width: 0,
            height: 0,
        },
        FrameError::TooManyPixels {
            width: 1,
            height: 1,
            pixels: 1,
            max: 0,
        },
        FrameError::LengthMismatch {
            format: FrameFormat::Rtf1,
            width: 1,
            height: 1,
            pixel_bytes: 0,
            expected: 2,
        },
        FrameError::BadPng(String::new()),
        FrameError::BadTiff(String::new()),
        FrameError::NotGrey16 {
            format: FrameFormat::Png,
            found: String::new(),
        },
        FrameError::DecoderLimit {
            format: FrameFormat::Png,
            detail: String::new(),
        },
    ];
    let mut reasons: Vec<_> = errors.iter().map(FrameError::reason).collect();
    assert!(reasons.iter().all(|r| r
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), errors.len());
}

// ---- robustness ----

proptest! {
    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_default(&bytes);
        let _ = probe(&bytes);
    }

    #[test]
    fn decode_never_panics_on_rtf1_prefixed_bytes(rest in proptest::collection::vec(any::<u8>(), 0..600)) {
        let bytes = [b"RTF1\x01\x01".as_slice(), &rest].concat();
        let _ = decode_default(&bytes);
        let _ = probe(&bytes);
    }

    #[test]
    fn decode_never_panics_on_png_prefixed_bytes(rest in proptest::collection::vec(any::<u8>(), 0..600)) {
        let bytes = [PNG_SIGNATURE.as_slice(), &rest].concat();
        let _ = decode_default(&bytes);
        let _ = probe(&bytes);
    }

    #[test]
    fn decode_never_panics_on_tiff_prefixed_bytes(rest in proptest::collection::vec(any::<u8>(), 0..600)) {
        let bytes = [TIFF_LE_MAGIC.as_slice(), &rest].concat();
        let _ = decode_default(&bytes);
        let _ = probe(&bytes);
    }

    #[test]
    fn rtf1_with_small_dimensions_decodes_or_mismatches(
        w in 1u16..8, h in 1u16..8, body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let bytes = [rtf1_header(w, h), body.clone()].concat();
        let result = decode_default(&bytes);
        if body.len() == 2 * usize::from(w) * usize::from(h) {
            let frame = result.unwrap();
            prop_assert_eq!(frame.width(), usize::from(w));
            prop_assert_eq!(frame.pixels.as_slice().unwrap()[0], u16::from_le_bytes([body[0], body[1]]));
        } else {
            prop_assert_eq!(result.unwrap_err().reason(), "length_mismatch");
        }
    }

    #[test]
    fn decode_never_panics_on_mutated_png_and_tiff(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let pixels = random_pixels(6, 5, 77);
        let png = encode_png(pixels.view());
        let mut tiff = Cursor::new(Vec::new());
        TiffEncoder::new(&mut tiff)
            .write_image(
                &pixels.iter().flat_map(|p| p.to_ne_bytes()).collect::<Vec<u8>>(),
                5,
                6,
                ExtendedColorType::L16,
            )
            .unwrap();
        for mut bytes in [png, tiff.into_inner()] {
            for (at, value) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= value | 1;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
            let _ = decode_default(&bytes);
            let _ = probe(&bytes);
        }
    }
}
