//! The sensor sentence codec: the ASCII lines that fence and trench
//! controllers send over serial lines and inside MQTT messages.
//!
//! A sentence looks like `$RPFZ,fence-c07,42,3,850,2400*1E`: a `$`, the
//! two-letter type after `RP`, the device id, a 32-bit sequence number, the
//! type's fields, an optional `m=<mac>` field, and an XOR checksum after `*`.
//! See `docs/WIRE-FORMATS.md` for the full description.
//!
//! This module does no I/O: [`parse`] turns one line into a [`Sentence`] or a
//! [`SentenceError`] that names a countable reason, [`Sentence::encode`] is
//! its inverse (used by the simulator and the tests), and [`LineFramer`] cuts
//! a byte stream into lines, discarding over-long ones.

mod framer;

pub use framer::{FramerEvent, LineFramer};

use std::fmt;

/// The longest line a receiver accepts, including the `\r\n` terminator.
pub const MAX_LINE_LEN: usize = 200;
/// The longest device id.
pub const MAX_ID_LEN: usize = 32;

/// One decoded sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// The sending controller's id (already checked against the id rules).
    pub device: String,
    /// The device's sequence number; +1 per sentence, wrapping after `u32::MAX`.
    pub seq: u32,
    /// What the sentence says.
    pub body: Body,
    /// The truncated HMAC-SHA256 tag from an `m=` field, if present.
    pub mac: Option<[u8; 16]>,
}

/// The payload of a sentence, one variant per sentence type.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `HB`: heartbeat with the controller's uptime and health.
    Heartbeat { uptime_s: u64, status: Health },
    /// `FZ`: fence vibration on one zone, RMS and peak acceleration in milli-g.
    Fence {
        zone: u16,
        rms_mg: f64,
        peak_mg: f64,
    },
    /// `GS`: a trench geophone's peak particle velocity in µm/s.
    Ground { channel: u16, ppv_um_s: f64 },
    /// `BK`: a tripwire or break-beam; `broken` is true when the beam is interrupted.
    Beam { channel: u16, broken: bool },
    /// `TP`: a tamper or fault condition raised at the controller.
    Tamper { kind: TamperKind },
}

/// The health a heartbeat reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    Fault,
}

/// The kinds of tamper a controller reports; `Clear` ends the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TamperKind {
    Enclosure,
    Cut,
    Power,
    Clear,
}

impl TamperKind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TamperKind::Enclosure => "ENCLOSURE",
            TamperKind::Cut => "CUT",
            TamperKind::Power => "POWER",
            TamperKind::Clear => "CLEAR",
        }
    }
}

impl Body {
    /// The two-letter sentence type.
    pub fn type_code(&self) -> &'static str {
        match self {
            Body::Heartbeat { .. } => "HB",
            Body::Fence { .. } => "FZ",
            Body::Ground { .. } => "GS",
            Body::Beam { .. } => "BK",
            Body::Tamper { .. } => "TP",
        }
    }
}

/// Why a line was rejected. Each variant maps to a stable counter name
/// through [`SentenceError::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SentenceError {
    #[error("line is longer than {MAX_LINE_LEN} bytes")]
    TooLong,
    #[error("line holds bytes that are not printable ASCII")]
    NotAscii,
    #[error("line does not start with `$RP`")]
    BadStart,
    #[error("no `*` followed by two upper-case hex digits at the end")]
    BadChecksumField,
    #[error("checksum mismatch: line says {stated:02X}, bytes give {computed:02X}")]
    ChecksumMismatch { stated: u8, computed: u8 },
    #[error("unknown sentence type `{0}`")]
    UnknownType(String),
    #[error("device id is not 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 _ -")]
    BadDevice,
    #[error("sequence number is not an unsigned 32-bit decimal")]
    BadSeq,
    #[error("{kind} sentence needs {expected} fields after seq, found {found}")]
    FieldCount {
        kind: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("field `{field}` is invalid: `{value}`")]
    BadField { field: &'static str, value: String },
    #[error("`m=` field is not 32 lower-case hex digits")]
    BadMac,
}

impl SentenceError {
    /// A short, stable name for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            SentenceError::TooLong => "too_long",
            SentenceError::NotAscii => "not_ascii",
            SentenceError::BadStart => "bad_start",
            SentenceError::BadChecksumField => "bad_checksum_field",
            SentenceError::ChecksumMismatch { .. } => "checksum_mismatch",
            SentenceError::UnknownType(_) => "unknown_type",
            SentenceError::BadDevice => "bad_device",
            SentenceError::BadSeq => "bad_seq",
            SentenceError::FieldCount { .. } => "field_count",
            SentenceError::BadField { .. } => "bad_field",
            SentenceError::BadMac => "bad_mac",
        }
    }
}

/// True when `id` is a valid device, camera or instance id: 1 to 32
/// characters of `A-Z a-z 0-9 _ -`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The XOR of all bytes, as the sentence checksum is computed.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// Parses one line. A trailing `\n` or `\r\n` is allowed and ignored.
pub fn parse(line: &[u8]) -> Result<Sentence, SentenceError> {
    if line.len() > MAX_LINE_LEN {
        return Err(SentenceError::TooLong);
    }
    let line = strip_terminator(line);
    if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(SentenceError::NotAscii);
    }
    // Checked above: every byte is ASCII, so this cannot fail.
    let text = std::str::from_utf8(line).map_err(|_| SentenceError::NotAscii)?;
    let rest = text.strip_prefix("$RP").ok_or(SentenceError::BadStart)?;
    let star = text.rfind('*').ok_or(SentenceError::BadChecksumField)?;
    let stated = parse_checksum(&text[star + 1..])?;
    let covered = &text[1..star];
    let computed = checksum(covered.as_bytes());
    if stated != computed {
        return Err(SentenceError::ChecksumMismatch { stated, computed });
    }
    let body = &rest[..star - 3];
    parse_fields(body)
}

fn strip_terminator(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_checksum(digits: &str) -> Result<u8, SentenceError> {
    let ok = digits.len() == 2
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    if !ok {
        return Err(SentenceError::BadChecksumField);
    }
    u8::from_str_radix(digits, 16).map_err(|_| SentenceError::BadChecksumField)
}

/// Parses `T,device,seq,fields...[,m=mac]` (everything between `$RP` and `*`).
fn parse_fields(body: &str) -> Result<Sentence, SentenceError> {
    let mut fields: Vec<&str> = body.split(',').collect();
    let mac = match fields.last() {
        Some(last) if fields.len() > 1 && last.starts_with("m=") => {
            let tag = parse_mac(&last[2..])?;
            fields.pop();
            Some(tag)
        }
        _ => None,
    };
    let kind = fields[0];
    if fields.len() < 3 {
        // Too short to hold a device and a seq: report the type first if it
        // is unknown, as that is the likelier cause.
        return Err(match kind {
            "HB" | "FZ" | "GS" | "BK" | "TP" => SentenceError::FieldCount {
                kind: type_name(kind),
                expected: expected_fields(kind),
                found: 0,
            },
            other => SentenceError::UnknownType(truncate(other)),
        });
    }
    let device = fields[1];
    if !is_valid_id(device) {
        return Err(SentenceError::BadDevice);
    }
    let seq: u32 = parse_uint(fields[2]).ok_or(SentenceError::BadSeq)?;
    let args = &fields[3..];
    let body = match kind {
        "HB" => {
            expect_count("HB", args, 2)?;
            Body::Heartbeat {
                uptime_s: parse_uint(args[0]).ok_or_else(|| bad("uptime_s", args[0]))?,
                status: match args[1] {
                    "OK" => Health::Ok,
                    "FAULT" => Health::Fault,
                    other => return Err(bad("status", other)),
                },
            }
        }
        "FZ" => {
            expect_count("FZ", args, 3)?;
            Body::Fence {
                zone: parse_uint(args[0]).ok_or_else(|| bad("zone", args[0]))?,
                rms_mg: parse_measure(args[1]).ok_or_else(|| bad("rms_mg", args[1]))?,
                peak_mg: parse_measure(args[2]).ok_or_else(|| bad("peak_mg", args[2]))?,
            }
        }
        "GS" => {
            expect_count("GS", args, 2)?;
            Body::Ground {
                channel: parse_uint(args[0]).ok_or_else(|| bad("channel", args[0]))?,
                ppv_um_s: parse_measure(args[1]).ok_or_else(|| bad("ppv_um_s", args[1]))?,
            }
        }
        "BK" => {
            expect_count("BK", args, 2)?;
            Body::Beam {
                channel: parse_uint(args[0]).ok_or_else(|| bad("channel", args[0]))?,
                broken: match args[1] {
                    "0" => false,
                    "1" => true,
                    other => return Err(bad("state", other)),
                },
            }
        }
        "TP" => {
            expect_count("TP", args, 1)?;
            Body::Tamper {
                kind: match args[0] {
                    "ENCLOSURE" => TamperKind::Enclosure,
                    "CUT" => TamperKind::Cut,
                    "POWER" => TamperKind::Power,
                    "CLEAR" => TamperKind::Clear,
                    other => return Err(bad("kind", other)),
                },
            }
        }
        other => return Err(SentenceError::UnknownType(truncate(other))),
    };
    Ok(Sentence {
        device: device.to_owned(),
        seq,
        body,
        mac,
    })
}

fn type_name(kind: &str) -> &'static str {
    match kind {
        "HB" => "HB",
        "FZ" => "FZ",
        "GS" => "GS",
        "BK" => "BK",
        _ => "TP",
    }
}

fn expected_fields(kind: &str) -> usize {
    match kind {
        "FZ" => 3,
        "TP" => 1,
        _ => 2,
    }
}

fn expect_count(kind: &'static str, args: &[&str], expected: usize) -> Result<(), SentenceError> {
    if args.len() == expected {
        Ok(())
    } else {
        Err(SentenceError::FieldCount {
            kind,
            expected,
            found: args.len(),
        })
    }
}

fn bad(field: &'static str, value: &str) -> SentenceError {
    SentenceError::BadField {
        field,
        value: truncate(value),
    }
}

/// Keeps error values short: they end up in logs.
fn truncate(s: &str) -> String {
    s.chars().take(16).collect()
}

/// An unsigned decimal integer: digits only (no sign, no spaces), no overflow.
fn parse_uint<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A non-negative decimal measurement: `850` or `850.25`. No sign, no
/// exponent, no `inf`/`nan`.
fn parse_measure(s: &str) -> Option<f64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.len() <= 12 && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return None;
    }
    s.parse().ok()
}

fn parse_mac(hex: &str) -> Result<[u8; 16], SentenceError> {
    let bytes = hex.as_bytes();
    if bytes.len() != 32 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(SentenceError::BadMac);
    }
    let mut tag = [0u8; 16];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        tag[i] = (hex_val(pair[0]) << 4) | hex_val(pair[1]);
    }
    Ok(tag)
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        _ => b - b'a' + 10,
    }
}

impl Sentence {
    /// Writes the sentence in wire form, `$RP...*CS\r\n`. The `m=` field is
    /// written when `mac` is set (signing is the caller's business).
    pub fn encode(&self) -> String {
        let mut s = format!("$RP{},{},{}", self.body.type_code(), self.device, self.seq);
        self.body.write_fields(&mut s);
        if let Some(tag) = &self.mac {
            s.push_str(",m=");
            for b in tag {
                s.push_str(&format!("{b:02x}"));
            }
        }
        let cs = checksum(&s.as_bytes()[1..]);
        s.push_str(&format!("*{cs:02X}\r\n"));
        s
    }
}

impl Body {
    fn write_fields(&self, s: &mut String) {
        use std::fmt::Write;
        // Writing to a String cannot fail.
        let _ = match self {
            Body::Heartbeat { uptime_s, status } => {
                let st = match status {
                    Health::Ok => "OK",
                    Health::Fault => "FAULT",
                };
                write!(s, ",{uptime_s},{st}")
            }
            Body::Fence {
                zone,
                rms_mg,
                peak_mg,
            } => write!(s, ",{zone},{},{}", Measure(*rms_mg), Measure(*peak_mg)),
            Body::Ground { channel, ppv_um_s } => write!(s, ",{channel},{}", Measure(*ppv_um_s)),
            Body::Beam { channel, broken } => write!(s, ",{channel},{}", u8::from(*broken)),
            Body::Tamper { kind } => write!(s, ",{}", kind.as_str()),
        };
    }
}

/// Formats a measurement the way the parser reads it: an integer when it is
/// whole, otherwise up to two decimals.
struct Measure(f64);

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() {
            self.0.max(0.0)
        } else {
            0.0
        };
        if v.fract() == 0.0 {
            write!(f, "{v:.0}")
        } else {
            let s = format!("{v:.2}");
            f.write_str(s.trim_end_matches('0').trim_end_matches('.'))
        }
    }
}

#[cfg(test)]
mod tests;
