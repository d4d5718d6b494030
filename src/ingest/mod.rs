//! Sources: the edges where sentences come in (serial lines, MQTT). Each
//! source frames and parses its bytes with the one sentence codec, counts
//! and logs (rate-limited) what it rejects, and hands good sentences to the
//! engine over a bounded channel. A full channel makes the source wait (the
//! serial driver buffers, MQTT holds back its acknowledgements): sentences
//! are never dropped for lack of room.

pub mod camera;
pub mod mqtt;
pub mod serial;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::evidence::Evidence;
use crate::runtime::Shared;
use crate::sentence::{self, FramerEvent, LineFramer, Sentence};
use crate::time::Timestamp;

/// What sources hand to the engine.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// A parsed sentence, with when and where it was received
    /// (`serial:/dev/ttyUSB0`, `mqtt`).
    Sentence {
        sentence: Sentence,
        received: Timestamp,
        source: Arc<str>,
    },
    /// Evidence a camera pipeline found in a frame.
    Evidence {
        evidence: Evidence,
        source: Arc<str>,
    },
}

/// Turns one source's bytes into sentences for the engine.
pub struct LineHandler {
    /// Names the source in logs and counters (`serial:/dev/ttyUSB0`, `mqtt`).
    label: Arc<str>,
    framer: LineFramer,
    tx: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
}

/// Which devices may speak on a source.
pub enum Binding<'a> {
    /// Any configured device may speak here.
    Any,
    /// Only this device (an MQTT topic names its device).
    Only(&'a str),
    /// Only these devices (a serial port's `devices` list).
    OneOf(&'a [String]),
}

impl LineHandler {
    /// A handler for the source named `label`.
    pub fn new(label: &str, tx: mpsc::Sender<Inbound>, shared: Arc<Shared>) -> Self {
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
        let Self {
            label,
            framer,
            shared,
            ..
        } = self;
        let checker = Checker {
            label: label.as_ref(),
            shared,
            binding,
        };
        let mut accepted = Vec::new();
        framer.push(bytes, |e| checker.event(e, &mut accepted));
        if last {
            framer.finish(|e| checker.event(e, &mut accepted));
        }
        let received = self.shared.clock.now();
        for sentence in accepted {
            self.shared.counters.incr("sentences.accepted");
            let source = self.label.clone();
            let inbound = Inbound::Sentence {
                sentence,
                received,
                source,
            };
            if self.tx.send(inbound).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Drops a partial line (after a read error).
    pub fn reset(&mut self) {
        self.framer.reset();
    }
}

/// Checks one framed line against the codec and the source's binding.
struct Checker<'a> {
    label: &'a str,
    shared: &'a Shared,
    binding: &'a Binding<'a>,
}

impl Checker<'_> {
    fn event(&self, event: FramerEvent<'_>, accepted: &mut Vec<Sentence>) {
        match event {
            FramerEvent::TooLong => {
                self.shared.reject(
                    self.label,
                    "too_long",
                    "line longer than 200 bytes discarded",
                    b"",
                );
            }
            FramerEvent::Line(line) => {
                if let Some(s) = self.check(line) {
                    accepted.push(s);
                }
            }
        }
    }

    fn check(&self, line: &[u8]) -> Option<Sentence> {
        // Blank lines (keep-alives, stray CR/LF pairs) are not sentences.
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return None;
        }
        let sentence = match sentence::parse(line) {
            Ok(s) => s,
            Err(e) => {
                self.shared
                    .reject(self.label, e.reason(), &e.to_string(), line);
                return None;
            }
        };
        let refusal = match self.binding {
            Binding::Only(dev) if sentence.device != *dev => Some(format!(
                "sentence from `{}` on the topic of `{dev}`",
                sentence.device
            )),
            Binding::OneOf(devs) if !devs.is_empty() && !devs.contains(&sentence.device) => {
                Some(format!(
                    "device `{}` is not configured on this line",
                    sentence.device
                ))
            }
            _ => None,
        };
        if let Some(why) = refusal {
            self.shared.reject(self.label, "wrong_source", &why, line);
            return None;
        }
        Some(sentence)
    }
}
