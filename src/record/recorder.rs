//! The daemon's recorder: sources tap their raw input into a bounded queue
//! and a writer thread appends it to the recording.
//!
//! Recording must never block or slow detection, so a [`Tap`] never waits:
//! when the queue is full — [`QUEUE_RECORDS`] records, or [`QUEUE_BYTES`]
//! bytes in flight, whichever comes first — the record is dropped and
//! counted (`record.dropped`, with a warning at most every 10 s).
//!
//! The writer is a plain thread (file I/O stays off the async executor)
//! with a buffered file. It flushes at least every [`FLUSH_INTERVAL`] while
//! records arrive and as soon as the queue falls idle, so a crash loses a
//! moment of input and leaves a truncated tail that replay tolerates. When
//! every tap is gone (the sources stopped) it writes the end marker,
//! flushes and syncs. With `--record-max-bytes` it stops recording at the
//! cap and says so once; the end marker is still written.
//!
//! Counters: `record.records`, `record.bytes`, `record.dropped`,
//! `record.too_large`, `record.over_cap`, `record.write_errors`.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{error, info, warn};

use super::format::{self, WriteError, Writer};
use super::{Header, Payload, Record, Source};
use crate::metrics::LogLimiter;
use crate::runtime::{Shared, REJECT_LOG_INTERVAL};
use crate::time::Timestamp;

/// The most records waiting for the writer.
pub const QUEUE_RECORDS: usize = 4096;
/// The most bytes waiting for the writer (frames are large).
pub const QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// The longest time written records stay in the writer's buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// The writer's buffer.
const BUFFER_BYTES: usize = 256 * 1024;

/// What to record, from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOptions {
    /// The recording file; created, or replaced if it exists.
    pub path: PathBuf,
    /// Record thermal frames too (they are most of the bytes).
    pub frames: bool,
    /// Stop recording once the file would grow past this many bytes.
    pub max_bytes: Option<u64>,
}

/// Why recording could not start.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create the recording {path}: {error}")]
    Create { path: String, error: std::io::Error },
    #[error("cannot write the recording header to {path}: {error}")]
    Header { path: String, error: WriteError },
    #[error("cannot start the recorder thread: {0}")]
    Thread(std::io::Error),
}

/// Where a source hands its raw input for recording. Cheap to clone; does
/// nothing when recording is off. Never waits.
#[derive(Debug, Clone, Default)]
pub struct Tap {
    inner: Option<Arc<TapInner>>,
}

#[derive(Debug)]
struct TapInner {
    tx: SyncSender<Record>,
    frames: bool,
    queue: Arc<Queue>,
    shared: Arc<Shared>,
    limiter: LogLimiter,
}

/// What the taps and the writer share.
#[derive(Debug, Default)]
struct Queue {
    /// Bytes (encoded) sent and not yet taken by the writer.
    in_flight: AtomicUsize,
    /// The writer stopped: taps send nothing more. [`RUNNING`], [`AT_CAP`]
    /// or [`FAILED`].
    state: AtomicU8,
}

const RUNNING: u8 = 0;
/// `--record-max-bytes` reached: what is left out is counted as `record.over_cap`.
const AT_CAP: u8 = 1;
/// A write failed (already logged and counted).
const FAILED: u8 = 2;

impl Tap {
    /// A tap that records nothing.
    pub fn off() -> Self {
        Self::default()
    }

    /// True when input is being recorded.
    pub fn is_on(&self) -> bool {
        self.inner
            .as_deref()
            .is_some_and(|i| i.queue.state.load(Ordering::Relaxed) == RUNNING)
    }

    /// Sentence bytes as read from `source`.
    pub fn sentences(&self, at: Timestamp, source: impl FnOnce() -> Source, bytes: &[u8]) {
        if let Some(inner) = self.live() {
            let payload = Payload::Sentences(Bytes::copy_from_slice(bytes));
            inner.offer(Record {
                at,
                source: source(),
                payload,
            });
        }
    }

    /// A frame payload from `camera` (unless frames are not recorded).
    pub fn frame(&self, at: Timestamp, camera: &str, payload: &Bytes) {
        if !self.inner.as_ref().is_some_and(|i| i.frames) {
            return;
        }
        if let Some(inner) = self.live() {
            inner.offer(Record::frame(at, camera, payload.clone()));
        }
    }

    /// An acknowledgement payload.
    pub fn ack(&self, at: Timestamp, payload: &Bytes) {
        if let Some(inner) = self.live() {
            inner.offer(Record::ack(at, payload.clone()));
        }
    }

    /// `source` dropped its partial line.
    pub fn reset(&self, at: Timestamp, source: impl FnOnce() -> Source) {
        if let Some(inner) = self.live() {
            inner.offer(Record {
                at,
                source: source(),
                payload: Payload::Reset,
            });
        }
    }

    /// The queue, while the writer takes records.
    fn live(&self) -> Option<&TapInner> {
        let inner = self.inner.as_deref()?;
        match inner.queue.state.load(Ordering::Relaxed) {
            RUNNING => Some(inner),
            AT_CAP => {
                inner.shared.counters.incr("record.over_cap");
                None
            }
            _ => None,
        }
    }
}

impl TapInner {
    /// Queues a record, or drops and counts it if there is no room.
    fn offer(&self, record: Record) {
        let size = match format::encoded_len(&record) {
            Ok(size) => size,
            Err(e) => {
                self.shared.counters.incr("record.too_large");
                self.warn("too_large", &record.source, &e.to_string());
                return;
            }
        };
        let before = self.queue.in_flight.fetch_add(size, Ordering::Relaxed);
        if before + size > QUEUE_BYTES {
            self.queue.in_flight.fetch_sub(size, Ordering::Relaxed);
            self.dropped(&record.source);
            return;
        }
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(record)) => {
                self.queue.in_flight.fetch_sub(size, Ordering::Relaxed);
                self.dropped(&record.source);
            }
            // The writer has stopped; it already said why.
            Err(TrySendError::Disconnected(_)) => {
                self.queue.in_flight.fetch_sub(size, Ordering::Relaxed);
            }
        }
    }

    fn dropped(&self, source: &Source) {
        self.shared.counters.incr("record.dropped");
        self.warn(
            "dropped",
            source,
            "the recorder cannot keep up; input left out of the recording (detection is not affected)",
        );
    }

    fn warn(&self, what: &str, source: &Source, message: &str) {
        if let Some(suppressed) = self.limiter.allow(what, Instant::now()) {
            let total = self.shared.counters.get(&format!("record.{what}"));
            warn!(%source, total, suppressed, "recording: {message}");
        }
    }
}

/// The writer thread; [`Recorder::finish`] waits for it.
#[derive(Debug)]
pub struct Recorder {
    thread: JoinHandle<()>,
}

impl Recorder {
    /// Waits until the writer has written everything queued, the end
    /// marker, and synced the file. Returns once every [`Tap`] is dropped
    /// (blocking: call it off the async executor).
    pub fn finish(self) {
        if self.thread.join().is_err() {
            error!("the recorder thread panicked; the recording may lack its end");
        }
    }
}

/// Creates the recording, writes its header and starts the writer.
pub fn start(
    options: &RecordOptions,
    header: &Header,
    shared: Arc<Shared>,
) -> Result<(Tap, Recorder), RecordError> {
    let path = options.path.display().to_string();
    let file = File::create(&options.path).map_err(|error| RecordError::Create {
        path: path.clone(),
        error,
    })?;
    let buffered = BufWriter::with_capacity(BUFFER_BYTES, file);
    let writer = Writer::new(buffered, header).map_err(|error| RecordError::Header {
        path: path.clone(),
        error,
    })?;
    let (tap, rx, queue) = channel(QUEUE_RECORDS, options.frames, shared.clone());
    let for_thread = options.clone();
    let thread = std::thread::Builder::new()
        .name("recorder".into())
        .spawn(move || write_loop(writer, rx, queue, shared, for_thread))
        .map_err(RecordError::Thread)?;
    info!(
        path = %path,
        frames = header.recorded.frames,
        max_bytes = ?options.max_bytes,
        "recording raw input"
    );
    Ok((tap, Recorder { thread }))
}

/// A tap and the receiving end of its queue.
fn channel(
    records: usize,
    frames: bool,
    shared: Arc<Shared>,
) -> (Tap, Receiver<Record>, Arc<Queue>) {
    let (tx, rx) = mpsc::sync_channel(records);
    let queue = Arc::new(Queue::default());
    let inner = TapInner {
        tx,
        frames,
        queue: queue.clone(),
        shared,
        limiter: LogLimiter::new(REJECT_LOG_INTERVAL),
    };
    (
        Tap {
            inner: Some(Arc::new(inner)),
        },
        rx,
        queue,
    )
}

fn write_loop(
    mut writer: Writer<BufWriter<File>>,
    rx: Receiver<Record>,
    queue: Arc<Queue>,
    shared: Arc<Shared>,
    options: RecordOptions,
) {
    let path = options.path.display().to_string();
    let stop = |why: u8| {
        queue.state.store(why, Ordering::Relaxed);
        Some(why)
    };
    let mut stopped: Option<u8> = None;
    let mut dirty = false;
    let mut last_flush = Instant::now();
    loop {
        let record = match rx.recv_timeout(FLUSH_INTERVAL) {
            Ok(record) => Some(record),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let idle = record.is_none();
        if let Some(record) = record {
            let size = format::encoded_len(&record).unwrap_or(0);
            queue.in_flight.fetch_sub(size, Ordering::Relaxed);
            if let Some(why) = stopped {
                if why == AT_CAP {
                    shared.counters.incr("record.over_cap");
                }
                continue;
            }
            if let Some(max) = options.max_bytes {
                if writer.bytes_written() + size as u64 > max {
                    shared.counters.incr("record.over_cap");
                    warn!(path = %path, max_bytes = max, "recording reached --record-max-bytes; recording stopped (detection carries on)");
                    stopped = stop(AT_CAP);
                    continue;
                }
            }
            match writer.write(&record) {
                Ok(n) => {
                    shared.counters.incr("record.records");
                    shared.counters.add("record.bytes", n as u64);
                    dirty = true;
                }
                Err(e) => {
                    shared.counters.incr("record.write_errors");
                    error!(path = %path, error = %e, "cannot write the recording; recording stopped (detection carries on)");
                    stopped = stop(FAILED);
                    continue;
                }
            }
        }
        if dirty && (idle || last_flush.elapsed() >= FLUSH_INTERVAL) {
            if let Err(e) = writer.flush() {
                shared.counters.incr("record.write_errors");
                error!(path = %path, error = %e, "cannot write the recording; recording stopped (detection carries on)");
                stopped = stop(FAILED);
            }
            dirty = false;
            last_flush = Instant::now();
        }
    }
    if stopped == Some(FAILED) {
        return;
    }
    let end = writer
        .write(&Record::end(shared.clock.now()))
        .map_err(|e| e.to_string())
        .and_then(|_| writer.flush().map_err(|e| e.to_string()))
        .and_then(|_| {
            let file = writer.get_mut().get_ref();
            file.sync_all().map_err(|e| e.to_string())
        });
    match end {
        Ok(()) => info!(
            path = %path,
            records = shared.counters.get("record.records"),
            bytes = writer.bytes_written(),
            dropped = shared.counters.get("record.dropped"),
            "recording closed"
        ),
        Err(e) => {
            shared.counters.incr("record.write_errors");
            error!(path = %path, error = %e, "cannot finish the recording; replay will report a truncated tail");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::format::Reader;
    use crate::record::Recorded;
    use crate::runtime::Clock;

    fn shared() -> Arc<Shared> {
        Arc::new(Shared::new(Clock::start()))
    }

    fn header(frames: bool) -> Header {
        Header {
            instance: "t".into(),
            started_ms: 1_000,
            started: String::new(),
            id_prefix: "t-1".into(),
            rampart_version: "0".into(),
            config: String::new(),
            recorded: Recorded {
                sentences: true,
                frames,
                acks: true,
            },
            sources: vec![],
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_never_waits() {
        let shared = shared();
        let (tap, rx, queue) = channel(2, true, shared.clone());
        let serial = || Source::Serial("/dev/ttyS0".into());
        for i in 0..5 {
            tap.sentences(Timestamp(i), serial, b"$RPHB\r\n");
        }
        assert_eq!(shared.counters.get("record.dropped"), 3);
        let got: Vec<i64> = rx.try_iter().map(|r| r.at.millis()).collect();
        assert_eq!(got, [0, 1], "the oldest are kept, the newest dropped");
        // The byte budget: one frame just under it fits, the next does not.
        queue.in_flight.store(0, Ordering::Relaxed);
        let frame = Bytes::from(vec![0u8; 1024]);
        queue.in_flight.store(QUEUE_BYTES - 1024, Ordering::Relaxed);
        tap.frame(Timestamp(9), "cam", &frame);
        assert_eq!(shared.counters.get("record.dropped"), 4);
        assert!(rx.try_recv().is_err());
        assert_eq!(
            queue.in_flight.load(Ordering::Relaxed),
            QUEUE_BYTES - 1024,
            "a dropped record gives its bytes back"
        );
    }

    #[test]
    fn an_off_tap_and_a_frameless_tap_record_nothing_they_should_not() {
        let shared = shared();
        let off = Tap::off();
        assert!(!off.is_on());
        off.sentences(Timestamp(0), || unreachable!("not built"), b"x");
        let (tap, rx, _) = channel(8, false, shared.clone());
        assert!(tap.is_on());
        tap.frame(Timestamp(1), "cam", &Bytes::from_static(b"frame"));
        tap.ack(Timestamp(2), &Bytes::from_static(b"{}"));
        let got: Vec<Record> = rx.try_iter().collect();
        assert_eq!(got, [Record::ack(Timestamp(2), &b"{}"[..])]);
        let long = "c".repeat(format::MAX_SOURCE_LEN + 1);
        tap.reset(Timestamp(3), || Source::Camera(long));
        assert_eq!(shared.counters.get("record.too_large"), 1);
    }

    #[test]
    fn the_writer_writes_everything_then_an_end_marker() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.rrec");
        let shared = shared();
        let options = RecordOptions {
            path: path.clone(),
            frames: true,
            max_bytes: None,
        };
        let (tap, recorder) = start(&options, &header(true), shared.clone()).unwrap();
        let other = tap.clone();
        for i in 0..100 {
            tap.sentences(
                Timestamp(i),
                || Source::Mqtt("fence-1".into()),
                format!("line {i}\n").as_bytes(),
            );
        }
        other.frame(Timestamp(100), "cam", &Bytes::from(vec![7u8; 5000]));
        drop((tap, other));
        recorder.finish();
        let reader = Reader::open(&path).unwrap();
        assert_eq!(reader.header(), &header(true));
        let records: Vec<Record> = reader.map(Result::unwrap).collect();
        assert_eq!(records.len(), 102);
        assert_eq!(
            records[7].payload,
            Payload::Sentences(Bytes::from("line 7\n"))
        );
        assert_eq!(records[100].payload.bytes().len(), 5000);
        assert_eq!(records[101].payload, Payload::End);
        assert_eq!(shared.counters.get("record.records"), 101);
        assert_eq!(shared.counters.get("record.dropped"), 0);
    }

    #[test]
    fn the_cap_stops_recording_but_the_file_still_ends_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.rrec");
        let shared = shared();
        let options = RecordOptions {
            path: path.clone(),
            frames: true,
            max_bytes: Some(2_000),
        };
        let (tap, recorder) = start(&options, &header(true), shared.clone()).unwrap();
        for i in 0..50 {
            tap.sentences(Timestamp(i), || Source::Ack, &[b'x'; 100]);
        }
        drop(tap);
        recorder.finish();
        let size = std::fs::metadata(&path).unwrap().len();
        let records: Vec<Record> = Reader::open(&path).unwrap().map(Result::unwrap).collect();
        let (last, kept) = records.split_last().unwrap();
        assert_eq!(last.payload, Payload::End);
        assert!(!kept.is_empty() && kept.len() < 50, "{}", kept.len());
        assert!(size <= 2_000 + 64, "{size} bytes");
        assert_eq!(
            shared.counters.get("record.records") + shared.counters.get("record.over_cap"),
            50,
            "every record is either written or counted"
        );
    }
}
