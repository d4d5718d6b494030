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
    /// An operator acknowledged an incident.
    Ack { ack: Ack, received: Timestamp },
}

/// An acknowledgement as operators publish it: `{"id": "...", "by": "..."}`
/// (further fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Ack {
    pub id: String,
    pub by: String,
}

/// The largest acknowledgement message read.
pub const MAX_ACK_BYTES: usize = 4096;

impl Ack {
    /// Parses and checks an acknowledgement payload.
    pub fn parse(payload: &[u8]) -> Result<Ack, String> {
        if payload.len() > MAX_ACK_BYTES {
            return Err(format!(
                "{} bytes, more than {MAX_ACK_BYTES}",
                payload.len()
            ));
        }
        let ack: Ack = serde_json::from_slice(payload)
            .map_err(|e| format!("not {{\"id\", \"by\"}} JSON: {e}"))?;
        let printable = |s: &str, max: usize| {
            (1..=max).contains(&s.chars().count()) && !s.chars().any(char::is_control)
        };
        if !printable(&ack.id, 128) {
            return Err("`id` must be 1 to 128 printable characters".into());
        }
        if !printable(&ack.by, 64) {
            return Err("`by` must be 1 to 64 printable characters".into());
        }
        Ok(ack)
    }
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

    /// Sends something else to the engine on this source's channel;
    /// false when the engine is gone.
    pub async fn send(&self, inbound: Inbound) -> bool {
        self.tx.send(inbound).await.is_ok()
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

#[cfg(test)]
mod tests {
    use super::Ack;

    #[test]
    fn acknowledgements_are_parsed_and_checked() {
        let ack = Ack::parse(br#"{"id": "rampart-1a2-7c3e-1", "by": "op 7", "console": "north"}"#)
            .unwrap();
        assert_eq!(
            (ack.id.as_str(), ack.by.as_str()),
            ("rampart-1a2-7c3e-1", "op 7")
        );
        for bad in [
            &br#"{"id": "x"}"#[..],
            br#"{"id": "", "by": "op"}"#,
            br#"{"id": "x", "by": "op\u0007"}"#,
            br#"{"id": 7, "by": "op"}"#,
            b"ack x",
            b"",
        ] {
            assert!(Ack::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let long_by = format!(r#"{{"id": "x", "by": "{}"}}"#, "o".repeat(65));
        assert!(Ack::parse(long_by.as_bytes()).is_err());
        let huge = format!(
            r#"{{"id": "x", "by": "op", "pad": "{}"}}"#,
            " ".repeat(5000)
        );
        assert!(Ack::parse(huge.as_bytes())
            .unwrap_err()
            .contains("more than 4096"));
    }
}
