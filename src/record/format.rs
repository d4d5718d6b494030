//! The recording file format, version 1.
//!
//! ```text
//! file       = magic version header_len header record*
//!   magic        8 bytes   "RAMPREC" 0x00
//!   version      u16       1
//!   header_len   u32       at most MAX_HEADER_LEN
//!   header       JSON      header_len bytes (see record::Header)
//! record     = len crc body
//!   len          u32       bytes in body, MIN_BODY_LEN to MAX_RECORD_LEN
//!   crc          u32       CRC-32 (IEEE 802.3) of body
//! body       = at kind source_len source payload
//!   at           i64       receipt time, ms since the Unix epoch (the daemon's clock)
//!   kind         u8        1 sentences, 2 frame, 3 ack, 4 reset, 5 end
//!   source_len   u16       at most MAX_SOURCE_LEN
//!   source       UTF-8     label: serial:<path>, mqtt:sensor/<device>, mqtt:ack, camera:<id>, daemon
//!   payload      bytes     the rest of body, as received
//! ```
//!
//! All integers are little-endian. Records follow each other with nothing
//! in between and are appended in the order the recorder received them.
//!
//! Reading streams one record at a time ([`Reader`]). Every length is
//! checked against its cap before a buffer of that size is allocated. A
//! file that ends between two records ends cleanly (`Ok(None)`); one that
//! ends inside a record has a truncated tail — what a crash while recording
//! leaves — reported as [`ReadError::Truncated`], which callers may
//! tolerate. Any error ends the reading.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use bytes::Bytes;

use super::{Header, Payload, Record, Source};
use crate::time::Timestamp;

/// The first 8 bytes of every recording.
pub const MAGIC: [u8; 8] = *b"RAMPREC\0";
/// The format version this code writes and reads.
pub const VERSION: u16 = 1;
/// The largest JSON header.
pub const MAX_HEADER_LEN: u32 = 64 * 1024;
/// The largest record body (a frame payload plus a few bytes).
pub const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;
/// The longest source label.
pub const MAX_SOURCE_LEN: usize = 1024;
/// The smallest record body: time, kind and an empty label.
pub const MIN_BODY_LEN: u32 = FIXED_BODY_LEN as u32;

/// Magic, version and header length.
const FILE_PREFIX_LEN: usize = 8 + 2 + 4;
/// Length and checksum before each body.
const RECORD_PREFIX_LEN: usize = 4 + 4;
/// Time, kind and label length at the start of each body.
const FIXED_BODY_LEN: usize = 8 + 1 + 2;

const KIND_SENTENCES: u8 = 1;
const KIND_FRAME: u8 = 2;
const KIND_ACK: u8 = 3;
const KIND_RESET: u8 = 4;
const KIND_END: u8 = 5;

/// Why a record or header could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("record of {len} bytes is over the limit of {MAX_RECORD_LEN}")]
    TooLarge { len: usize },
    #[error("source label of {len} bytes is over the limit of {MAX_SOURCE_LEN}")]
    SourceTooLong { len: usize },
    #[error("header of {len} bytes is over the limit of {MAX_HEADER_LEN}")]
    HeaderTooLarge { len: usize },
}

/// Why a recording could not be read (further).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("not a Rampart recording (it does not start with `RAMPREC`)")]
    BadMagic,
    #[error("recording format version {0}; this rampart reads version {VERSION}")]
    Version(u16),
    #[error("header of {0} bytes is over the limit of {MAX_HEADER_LEN}")]
    HeaderTooLarge(u32),
    #[error("header is not the expected JSON: {0}")]
    Header(String),
    #[error(
        "the file ends inside the record at byte {offset} ({have} of {need} bytes): \
         the recording was not closed cleanly"
    )]
    Truncated { offset: u64, have: u64, need: u64 },
    #[error(
        "record at byte {offset} claims {len} bytes; a record holds {MIN_BODY_LEN} to {MAX_RECORD_LEN}"
    )]
    BadLength { offset: u64, len: u32 },
    #[error("record at byte {offset} does not match its checksum")]
    Checksum { offset: u64 },
    #[error("record at byte {offset}: {what}")]
    BadRecord { offset: u64, what: String },
}

impl ReadError {
    /// True for a file cut short inside a record — what a crash while
    /// recording leaves; everything before it is good.
    pub fn is_truncated_tail(&self) -> bool {
        matches!(self, ReadError::Truncated { offset, .. } if *offset > 0)
    }
}

/// The bytes `record` takes in a file, or why it cannot be written.
pub fn encoded_len(record: &Record) -> Result<usize, WriteError> {
    let label = record.source.label_len();
    if label > MAX_SOURCE_LEN {
        return Err(WriteError::SourceTooLong { len: label });
    }
    let body = FIXED_BODY_LEN + label + record.payload.bytes().len();
    if body > MAX_RECORD_LEN as usize {
        return Err(WriteError::TooLarge { len: body });
    }
    Ok(RECORD_PREFIX_LEN + body)
}

/// Appends records to a recording.
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    written: u64,
    label: String,
}

impl<W: Write> Writer<W> {
    /// Writes the magic, the version and `header`.
    pub fn new(mut inner: W, header: &Header) -> Result<Self, WriteError> {
        let json = serde_json::to_vec(header).map_err(io::Error::other)?;
        if json.len() > MAX_HEADER_LEN as usize {
            return Err(WriteError::HeaderTooLarge { len: json.len() });
        }
        let mut prefix = [0u8; FILE_PREFIX_LEN];
        prefix[..8].copy_from_slice(&MAGIC);
        prefix[8..10].copy_from_slice(&VERSION.to_le_bytes());
        prefix[10..].copy_from_slice(&(json.len() as u32).to_le_bytes());
        inner.write_all(&prefix)?;
        inner.write_all(&json)?;
        Ok(Self {
            inner,
            written: (FILE_PREFIX_LEN + json.len()) as u64,
            label: String::new(),
        })
    }

    /// Appends one record; returns the bytes it took.
    pub fn write(&mut self, record: &Record) -> Result<usize, WriteError> {
        let total = encoded_len(record)?;
        self.label.clear();
        let _ = write!(self.label, "{}", record.source);
        let payload = record.payload.bytes();
        let body_len = total - RECORD_PREFIX_LEN;
        let mut fixed = [0u8; RECORD_PREFIX_LEN + FIXED_BODY_LEN];
        fixed[0..4].copy_from_slice(&(body_len as u32).to_le_bytes());
        fixed[8..16].copy_from_slice(&record.at.millis().to_le_bytes());
        fixed[16] = kind_of(&record.payload);
        fixed[17..19].copy_from_slice(&(self.label.len() as u16).to_le_bytes());
        let mut crc = Crc32::new();
        crc.update(&fixed[RECORD_PREFIX_LEN..]);
        crc.update(self.label.as_bytes());
        crc.update(payload);
        fixed[4..8].copy_from_slice(&crc.finish().to_le_bytes());
        self.inner.write_all(&fixed)?;
        self.inner.write_all(self.label.as_bytes())?;
        self.inner.write_all(payload)?;
        self.written += total as u64;
        Ok(total)
    }

    /// Bytes written so far, header included.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Gives back the underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

fn kind_of(payload: &Payload) -> u8 {
    match payload {
        Payload::Sentences(_) => KIND_SENTENCES,
        Payload::Frame(_) => KIND_FRAME,
        Payload::Ack(_) => KIND_ACK,
        Payload::Reset => KIND_RESET,
        Payload::End => KIND_END,
    }
}

/// Reads a recording one record at a time; never holds more than one
/// record in memory.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    header: Header,
    offset: u64,
    done: bool,
}

impl Reader<BufReader<File>> {
    /// Opens a recording and reads its header. The recording may be a
    /// regular file or a pipe (it is read once, front to back: `rampart
    /// replay -c c.toml <(zstd -dc rec.zst)`); a directory, a device or a
    /// socket is refused at once.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let file = crate::capped::open(path, crate::capped::Accept::RegularFileOrPipe)?.into_file();
        Reader::new(BufReader::with_capacity(1 << 20, file))
    }
}

impl<R: Read> Reader<R> {
    /// Checks the magic and the version and reads the header.
    pub fn new(mut inner: R) -> Result<Self, ReadError> {
        let mut prefix = [0u8; FILE_PREFIX_LEN];
        let n = read_full(&mut inner, &mut prefix)?;
        if n < MAGIC.len() || prefix[..8] != MAGIC {
            return Err(ReadError::BadMagic);
        }
        if n < FILE_PREFIX_LEN {
            return Err(ReadError::Truncated {
                offset: 0,
                have: n as u64,
                need: FILE_PREFIX_LEN as u64,
            });
        }
        let version = u16::from_le_bytes([prefix[8], prefix[9]]);
        if version != VERSION {
            return Err(ReadError::Version(version));
        }
        let len = u32::from_le_bytes([prefix[10], prefix[11], prefix[12], prefix[13]]);
        if len > MAX_HEADER_LEN {
            return Err(ReadError::HeaderTooLarge(len));
        }
        let mut json = vec![0u8; len as usize];
        let got = read_full(&mut inner, &mut json)?;
        if got < json.len() {
            return Err(ReadError::Truncated {
                offset: 0,
                have: (FILE_PREFIX_LEN + got) as u64,
                need: (FILE_PREFIX_LEN + json.len()) as u64,
            });
        }
        let header = serde_json::from_slice(&json).map_err(|e| ReadError::Header(e.to_string()))?;
        Ok(Self {
            inner,
            header,
            offset: (FILE_PREFIX_LEN + json.len()) as u64,
            done: false,
        })
    }

    /// The recording's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Where the next record starts, in bytes from the start of the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record; `Ok(None)` at a clean end of the file. After an
    /// error (or the end) it returns `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        if self.done {
            return Ok(None);
        }
        let next = self.read_record();
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next
    }

    fn read_record(&mut self) -> Result<Option<Record>, ReadError> {
        let offset = self.offset;
        let mut prefix = [0u8; RECORD_PREFIX_LEN];
        let n = read_full(&mut self.inner, &mut prefix)?;
        if n == 0 {
            return Ok(None);
        }
        if n < prefix.len() {
            return Err(ReadError::Truncated {
                offset,
                have: n as u64,
                need: prefix.len() as u64,
            });
        }
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        if !(MIN_BODY_LEN..=MAX_RECORD_LEN).contains(&len) {
            return Err(ReadError::BadLength { offset, len });
        }
        let mut body = vec![0u8; len as usize];
        let got = read_full(&mut self.inner, &mut body)?;
        if got < body.len() {
            return Err(ReadError::Truncated {
                offset,
                have: (RECORD_PREFIX_LEN + got) as u64,
                need: (RECORD_PREFIX_LEN + body.len()) as u64,
            });
        }
        if crc32(&body) != crc {
            return Err(ReadError::Checksum { offset });
        }
        self.offset += (RECORD_PREFIX_LEN + body.len()) as u64;
        decode_body(Bytes::from(body))
            .map(Some)
            .map_err(|what| ReadError::BadRecord { offset, what })
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// A body whose length and checksum are good.
fn decode_body(body: Bytes) -> Result<Record, String> {
    let at = i64::from_le_bytes(body[0..8].try_into().expect("checked length"));
    let kind = body[8];
    let label_len = usize::from(u16::from_le_bytes([body[9], body[10]]));
    if label_len > MAX_SOURCE_LEN {
        return Err(format!(
            "source label of {label_len} bytes, over the limit of {MAX_SOURCE_LEN}"
        ));
    }
    let payload_at = FIXED_BODY_LEN + label_len;
    if payload_at > body.len() {
        return Err("source label runs past the end of the record".into());
    }
    let label = std::str::from_utf8(&body[FIXED_BODY_LEN..payload_at])
        .map_err(|_| "source label is not UTF-8".to_owned())?;
    let source = Source::parse(label);
    let bytes = body.slice(payload_at..);
    let payload = match kind {
        KIND_SENTENCES => Payload::Sentences(bytes),
        KIND_FRAME => Payload::Frame(bytes),
        KIND_ACK => Payload::Ack(bytes),
        KIND_RESET => Payload::Reset,
        KIND_END => Payload::End,
        other => return Err(format!("unknown record kind {other}")),
    };
    Ok(Record {
        at: Timestamp(at),
        source,
        payload,
    })
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// CRC-32 (IEEE 802.3, reflected, as in zlib and PNG), byte at a time.
struct Crc32(u32);

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

impl Crc32 {
    fn new() -> Self {
        Self(!0)
    }

    fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    fn finish(self) -> u32 {
        !self.0
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Recorded;

    fn header() -> Header {
        Header {
            instance: "it".into(),
            started_ms: 1_770_000_000_000,
            started: "2026-02-02T02:40:00.000Z".into(),
            id_prefix: "it-19c1c6a3c00-beef".into(),
            rampart_version: "0.1.0".into(),
            config: "/etc/rampart.toml".into(),
            recorded: Recorded {
                sentences: true,
                frames: true,
                acks: true,
            },
            sources: vec!["serial:/dev/ttyUSB0".into(), "mqtt:sensor/+".into()],
        }
    }

    fn records() -> Vec<Record> {
        let t = |ms: i64| Timestamp(1_770_000_000_000 + ms);
        vec![
            Record::sentences(
                t(5),
                Source::Serial("/dev/ttyUSB0".into()),
                &b"$RPHB,fence-1,1,10,OK*3"[..],
            ),
            Record::sentences(t(6), Source::Serial("/dev/ttyUSB0".into()), &b"1\r\n"[..]),
            Record {
                at: t(7),
                source: Source::Serial("/dev/ttyUSB0".into()),
                payload: Payload::Reset,
            },
            Record::sentences(t(9), Source::Mqtt("trench-1".into()), vec![0xff, 0, 7]),
            Record::frame(t(10), "cam-7", vec![1u8; 70_000]),
            Record::ack(t(11), &br#"{"id": "x-1", "by": "op"}"#[..]),
            Record::sentences(t(12), Source::Other("lora:gw".into()), &b""[..]),
            Record::end(t(20)),
        ]
    }

    fn file(records: &[Record]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), &header()).unwrap();
        for r in records {
            w.write(r).unwrap();
        }
        assert_eq!(w.bytes_written(), w.get_mut().len() as u64);
        w.into_inner()
    }

    /// Where each record starts in `file(records)`, and where the last ends.
    fn offsets(records: &[Record]) -> Vec<usize> {
        let mut at = file(&[]).len();
        let mut out = vec![at];
        for r in records {
            at += encoded_len(r).unwrap();
            out.push(at);
        }
        out
    }

    fn read_all(bytes: &[u8]) -> (Vec<Record>, Option<ReadError>) {
        let mut reader = Reader::new(bytes).unwrap();
        let mut got = Vec::new();
        loop {
            match reader.next_record() {
                Ok(Some(r)) => got.push(r),
                Ok(None) => return (got, None),
                Err(e) => {
                    assert!(reader.next_record().unwrap().is_none(), "fused after {e}");
                    return (got, Some(e));
                }
            }
        }
    }

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn label_lengths_are_computed_without_formatting() {
        for r in records() {
            assert_eq!(r.source.label_len(), r.source.to_string().len());
        }
    }

    #[test]
    fn records_round_trip_in_order_and_the_end_is_clean() {
        let records = records();
        let bytes = file(&records);
        let reader = Reader::new(&bytes[..]).unwrap();
        assert_eq!(reader.header(), &header());
        let got: Vec<Record> = reader.map(Result::unwrap).collect();
        assert_eq!(got, records);
        let (_, err) = read_all(&bytes);
        assert!(err.is_none());
        // An empty recording is just the header.
        assert_eq!(read_all(&file(&[])).0, vec![]);
    }

    #[test]
    fn a_recording_may_come_through_a_pipe_but_not_from_a_directory() {
        let records = records();
        let bytes = file(&records);
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rec.rrec");
        crate::testkit::mkfifo(&fifo);
        // Whichever of the writer and the reader opens first waits for the other.
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, bytes))
        };
        let got = crate::testkit::finishes_within("replaying from a FIFO", move || {
            Reader::open(&fifo).map(|r| r.map(Result::unwrap).collect::<Vec<_>>())
        })
        .unwrap();
        assert_eq!(got, records);
        writer.join().unwrap().unwrap();

        let err = Reader::open(dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read: it is a directory, not a regular file or a pipe"
        );
    }

    #[test]
    fn a_truncated_tail_keeps_every_whole_record_before_it() {
        let records = records();
        let bytes = file(&records);
        let at = offsets(&records);
        // Cut anywhere inside the last two records.
        for cut in at[records.len() - 2] + 1..at[records.len()] {
            let (got, err) = read_all(&bytes[..cut]);
            let whole = at[1..].iter().filter(|&&end| end <= cut).count();
            assert_eq!(got, records[..whole], "cut at {cut}");
            if cut == at[whole] {
                assert!(err.is_none(), "a cut between records is a clean end");
                continue;
            }
            let err = err.unwrap_or_else(|| panic!("cut at {cut}: no error"));
            assert!(err.is_truncated_tail(), "cut at {cut}: {err}");
            let ReadError::Truncated { offset, have, need } = err else {
                unreachable!()
            };
            assert_eq!(offset, at[whole] as u64, "cut at {cut}");
            assert_eq!(have, (cut - at[whole]) as u64, "cut at {cut}");
            assert!(need > have, "cut at {cut}");
        }
        // Cut inside the header: no recording at all.
        let head = file(&[]);
        for cut in [8, 12, head.len() - 1] {
            let err = Reader::new(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, ReadError::Truncated { offset: 0, .. }) && !err.is_truncated_tail(),
                "{err}"
            );
        }
    }

    #[test]
    fn corrupt_lengths_and_bytes_are_errors_not_allocations() {
        let records = records();
        let at = offsets(&records);
        let second = at[1];
        for (len, what) in [
            (u32::MAX, "huge"),
            (MAX_RECORD_LEN + 1, "just over the cap"),
            (MIN_BODY_LEN - 1, "shorter than a body"),
            (0, "zero (a zero-filled tail)"),
        ] {
            let mut bytes = file(&records);
            bytes[second..second + 4].copy_from_slice(&len.to_le_bytes());
            let (got, err) = read_all(&bytes);
            assert_eq!(got, records[..1], "{what}");
            assert!(
                matches!(err, Some(ReadError::BadLength { offset, len: l }) if offset == second as u64 && l == len),
                "{what}: {err:?}"
            );
        }
        // A flipped bit in a payload.
        let mut bytes = file(&records);
        bytes[at[4] + 30] ^= 0x10;
        let (got, err) = read_all(&bytes);
        assert_eq!(got, records[..4]);
        assert!(
            matches!(err, Some(ReadError::Checksum { offset }) if offset == at[4] as u64),
            "{err:?}"
        );
        // A well-checksummed body of an unknown kind (a newer writer that
        // forgot to bump the version).
        let mut bytes = file(&records[..1]);
        let start = at[0];
        bytes[start + 16] = 99;
        let crc = crc32(&bytes[start + 8..]);
        bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        let (got, err) = read_all(&bytes);
        assert!(got.is_empty());
        assert!(
            matches!(&err, Some(ReadError::BadRecord { what, .. }) if what.contains("kind 99")),
            "{err:?}"
        );
    }

    #[test]
    fn wrong_magic_version_or_header_is_refused() {
        let good = file(&records()[..1]);
        assert!(matches!(Reader::new(&b""[..]), Err(ReadError::BadMagic)));
        assert!(matches!(
            Reader::new(&b"RAMP"[..]),
            Err(ReadError::BadMagic)
        ));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(matches!(Reader::new(&bad[..]), Err(ReadError::BadMagic)));
        let mut v2 = good.clone();
        v2[8] = 2;
        assert!(matches!(Reader::new(&v2[..]), Err(ReadError::Version(2))));
        let mut huge = good.clone();
        huge[10..14].copy_from_slice(&(MAX_HEADER_LEN + 1).to_le_bytes());
        assert!(matches!(
            Reader::new(&huge[..]),
            Err(ReadError::HeaderTooLarge(_))
        ));
        let mut garbage = good.clone();
        garbage[FILE_PREFIX_LEN] = b'[';
        assert!(matches!(
            Reader::new(&garbage[..]),
            Err(ReadError::Header(_))
        ));
    }

    #[test]
    fn the_writer_refuses_what_a_reader_would_refuse() {
        let mut w = Writer::new(Vec::new(), &header()).unwrap();
        let before = w.bytes_written();
        let big = Record::frame(Timestamp(0), "c", vec![0u8; MAX_RECORD_LEN as usize]);
        assert!(matches!(w.write(&big), Err(WriteError::TooLarge { .. })));
        let long = Record::frame(Timestamp(0), &"c".repeat(MAX_SOURCE_LEN), vec![]);
        assert!(matches!(
            w.write(&long),
            Err(WriteError::SourceTooLong { .. })
        ));
        assert_eq!(w.bytes_written(), before, "nothing written");
        let fits = MAX_RECORD_LEN as usize - FIXED_BODY_LEN - "camera:c".len();
        let largest = Record::frame(Timestamp(0), "c", vec![0u8; fits]);
        w.write(&largest).unwrap();
        let bytes = w.into_inner();
        assert_eq!(read_all(&bytes).0, vec![largest]);
    }
}
