//! Sources: the edges where sentences come in (serial lines, MQTT). Each
//! source frames and parses its bytes with the one sentence codec, counts
//! and logs (rate-limited) what it rejects, and hands good sentences to the
//! engine over a bounded channel. A full channel makes the source wait (the
//! serial driver buffers, MQTT holds back its acknowledgements): sentences
//! are never dropped for lack of room.

pub mod mqtt;
pub mod serial;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::runtime::Shared;
use crate::sentence::{self, FramerEvent, LineFramer, Sentence};
use crate::time::Timestamp;

/// A sentence on its way to the engine.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub sentence: Sentence,
    pub received: Timestamp,
}

/// Turns one source's bytes into sentences for the engine.
pub struct LineHandler {
    /// Names the source in logs and counters (`serial:/dev/ttyUSB0`, `mqtt`).
    label: String,
    framer: LineFramer,
    tx: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
}

/// Why a parsed sentence is refused by its source.
pub enum Binding<'a> {
    /// Any configured device may speak here.
    Any,
    /// Only this device (an MQTT topic names its device).
    Only(&'a str),
    /// Only these devices (a serial port's `devices` list).
    OneOf(&'a [String]),
}

impl LineHandler {
    pub fn new(label: impl Into<String>, tx: mpsc::Sender<Inbound>, shared: Arc<Shared>) -> Self {
        Self {
            label: label.into(),
            framer: LineFramer::new(),
            tx,
            shared,
        }
    }

    /// Frames, parses and forwards `bytes`. `last` says the bytes end a
    /// message (an MQTT payload), so an unterminated tail is taken too.
    /// Returns false when the engine is gone (shutting down).
    pub async fn feed(&mut self, bytes: &[u8], binding: &Binding<'_>, last: bool) -> bool {
        let mut lines: Vec<Result<Vec<u8>, ()>> = Vec::new();
        self.framer.push(bytes, |e| match e {
            FramerEvent::Line(l) => lines.push(Ok(l.to_vec())),
            FramerEvent::TooLong => lines.push(Err(())),
        });
        if last {
            self.framer.finish(|e| {
                if let FramerEvent::Line(l) = e {
                    lines.push(Ok(l.to_vec()));
                }
            });
        }
        let received = self.shared.clock.now();
        for line in lines {
            let Some(sentence) = self.check(line, binding) else {
                continue;
            };
            self.shared.counters.incr("sentences.accepted");
            if self.tx.send(Inbound { sentence, received }).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Drops a partial line (after a read error).
    pub fn reset(&mut self) {
        self.framer.reset();
    }

    fn check(&self, line: Result<Vec<u8>, ()>, binding: &Binding<'_>) -> Option<Sentence> {
        let line = match line {
            Ok(l) => l,
            Err(()) => {
                self.reject("too_long", "line longer than 200 bytes discarded", b"");
                return None;
            }
        };
        // Blank lines (keep-alives, stray CR/LF pairs) are not sentences.
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return None;
        }
        let sentence = match sentence::parse(&line) {
            Ok(s) => s,
            Err(e) => {
                self.reject(e.reason(), &e.to_string(), &line);
                return None;
            }
        };
        let allowed = match binding {
            Binding::Any => true,
            Binding::Only(dev) => sentence.device == *dev,
            Binding::OneOf(devs) => devs.is_empty() || devs.contains(&sentence.device),
        };
        if !allowed {
            let why = format!(
                "device `{}` may not send on this {}",
                sentence.device, self.label
            );
            self.reject("wrong_source", &why, &line);
            return None;
        }
        Some(sentence)
    }

    fn reject(&self, reason: &str, message: &str, line: &[u8]) {
        self.shared.reject(&self.label, reason, message, line);
    }
}
