//! Sources: the edges where sentences come in (serial lines, MQTT). Each
//! source frames and parses its bytes with the one sentence codec (through
//! [`LineDecoder`], which replay uses too), counts and logs (rate-limited)
//! what it rejects, and hands good sentences to the engine over a bounded
//! channel. A full channel makes the source wait (the serial driver
//! buffers; the MQTT connection's writer goes on sending keep-alives and
//! acknowledgements while its reader waits): sentences are never dropped
//! for lack of room. An MQTT message at QoS 1 is followed on the channel by
//! its [`AckToken`] ([`Inbound::Acknowledge`]), which the engine passes to
//! the sink: the message is acknowledged once its effect is committed.
//! With `--record`, each source also hands its raw input to a
//! [`Tap`](crate::record::recorder::Tap), which never waits.
//!
//! Given keys, the decoder checks the `m=` tag of a keyed device's sentence
//! on the raw line it received (`missing_mac`, `bad_mac`); the engine
//! checks its seq, and hears of every authentication rejection
//! ([`Inbound::AuthRejected`]) to notice a burst.

pub mod camera;
pub mod mqtt;
pub mod serial;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::auth::{self, Key, Keys};
use crate::engine::Delivery;
use crate::evidence::Evidence;
use crate::mqtt::subscriber::AckToken;
use crate::runtime::Shared;
use crate::sentence::{self, is_valid_id, FramerEvent, LineFramer, Sentence};
use crate::time::Timestamp;

/// What sources hand to the engine.
#[derive(Debug)]
pub enum Inbound {
    /// A parsed sentence, with when and where it was received
    /// (`serial:/dev/ttyUSB0`, `mqtt`).
    Sentence {
        sentence: Sentence,
        received: Timestamp,
        source: Arc<str>,
        /// The key its MAC was checked with; `None` if its device had no
        /// key when it was checked. The engine refuses a keyed device's
        /// sentence checked with another key (or none): keys replaced by a
        /// reload while it was on its way.
        checked_with: Option<crate::auth::KeyId>,
        /// The digest of its bytes, to recognise it if it comes again.
        digest: u64,
        /// Whether its transport may have sent it before.
        delivery: Delivery,
    },
    /// The MQTT message whose sentences (or acknowledgement) came just
    /// before: to be acknowledged to the broker once their effect is
    /// committed.
    Acknowledge(AckToken),
    /// Evidence a camera pipeline found in a frame.
    Evidence {
        evidence: Evidence,
        source: Arc<str>,
    },
    /// A keyed device's sentence failed its MAC check (`missing_mac`,
    /// `bad_mac`); counted and logged already.
    AuthRejected {
        device: String,
        reason: &'static str,
        received: Timestamp,
        /// The key it was checked with (as for `Sentence`): a rejection
        /// under keys a reload has since replaced says nothing of an
        /// impostor and is not counted towards substitution.
        checked_with: Option<crate::auth::KeyId>,
    },
    /// An operator acknowledged an incident.
    Ack { ack: Ack, received: Timestamp },
    /// Several of the above in order (the sentences of one message): one
    /// trip through the channel.
    Batch(Vec<Inbound>),
    /// A camera saw animals at these chainages.
    AnimalsSeen {
        camera: String,
        chainages_m: Vec<f64>,
        received: Timestamp,
    },
    /// A camera's scene lost its contrast (`low`) or got it back.
    CameraContrast {
        camera: String,
        low: bool,
        /// The scene's spread when it changed, kelvin.
        spread_k: f64,
        received: Timestamp,
    },
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

/// Which devices may speak on a source.
pub enum Binding<'a> {
    /// Any configured device may speak here.
    Any,
    /// Only this device (an MQTT topic names its device).
    Only(&'a str),
    /// Only these devices (a serial port's `devices` list).
    OneOf(&'a [String]),
}

/// What one framed line became.
#[derive(Debug, PartialEq)]
pub enum Decoded<'a> {
    /// A sentence the codec accepted from a device allowed on the source,
    /// with the digest of its bytes.
    Sentence { sentence: Sentence, digest: u64 },
    /// A line the codec or the source's binding refused.
    Rejected {
        /// The stable counter name (`checksum_mismatch`, `wrong_source`, ...).
        reason: &'static str,
        /// What was wrong, for the log.
        message: String,
        /// The line as received (empty for an over-long line, which is not kept).
        line: &'a [u8],
        /// The keyed device whose sentence failed its MAC check, if that
        /// was the reason.
        device: Option<String>,
    },
}

/// Frames, parses and checks one source's bytes: the one way bytes become
/// sentences, in the daemon and in replay. Pure: no I/O, no clock.
#[derive(Debug, Default)]
pub struct LineDecoder {
    framer: LineFramer,
    keys: Arc<Keys>,
}

impl LineDecoder {
    /// A decoder with nothing buffered and no keys (every device
    /// unauthenticated).
    pub fn new() -> Self {
        Self::with_keys(Arc::default())
    }

    /// A decoder that checks the MAC of every keyed device's sentence.
    pub fn with_keys(keys: Arc<Keys>) -> Self {
        Self {
            framer: LineFramer::new(),
            keys,
        }
    }

    /// The keys MACs are checked with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Checks MACs with `keys` from the next line on.
    pub fn set_keys(&mut self, keys: Arc<Keys>) {
        self.keys = keys;
    }

    /// Frames `bytes` and reports every complete line, in order. `last`
    /// says the bytes end a message (an MQTT payload), so an unterminated
    /// tail is taken too; otherwise it waits for the next call. Blank lines
    /// (keep-alives, stray CR/LF pairs) are not reported.
    pub fn push(
        &mut self,
        bytes: &[u8],
        binding: &Binding<'_>,
        last: bool,
        mut on: impl FnMut(Decoded<'_>),
    ) {
        let keys = &*self.keys;
        let mut event = |e: FramerEvent<'_>| {
            if let Some(d) = check(e, binding, keys) {
                on(d);
            }
        };
        self.framer.push(bytes, &mut event);
        if last {
            self.framer.finish(event);
        }
    }

    /// Drops a partial line (after a read error, or before a new message).
    pub fn reset(&mut self) {
        self.framer.reset();
    }
}

/// Checks one framed line against the codec and the source's binding.
fn check<'a>(event: FramerEvent<'a>, binding: &Binding<'_>, keys: &Keys) -> Option<Decoded<'a>> {
    let line = match event {
        FramerEvent::TooLong => {
            return Some(Decoded::Rejected {
                reason: "too_long",
                message: "line longer than 200 bytes discarded".into(),
                line: b"",
                device: None,
            })
        }
        FramerEvent::Line(line) => line,
    };
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let sentence = match sentence::parse(line) {
        Ok(s) => s,
        Err(e) => {
            // A malformed `m=` tag on a keyed device's sentence is an
            // authentication failure like a wrong one.
            let device = match e {
                sentence::SentenceError::BadMac => {
                    claimed_device(line).filter(|d| keys.get(d).is_some())
                }
                _ => None,
            };
            return Some(Decoded::Rejected {
                reason: e.reason(),
                message: e.to_string(),
                line,
                device,
            });
        }
    };
    let refusal = match binding {
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
    if let Some(message) = refusal {
        return Some(Decoded::Rejected {
            reason: "wrong_source",
            message,
            line,
            device: None,
        });
    }
    // Unkeyed devices: an `m=` tag is accepted and ignored.
    if let Some(key) = keys.get(&sentence.device) {
        if let Err(e) = auth::verify(key, line, sentence.mac.as_ref()) {
            return Some(Decoded::Rejected {
                reason: e.reason(),
                message: format!("device `{}`: {e}", sentence.device),
                line,
                device: Some(sentence.device),
            });
        }
    }
    Some(Decoded::Sentence {
        sentence,
        digest: crate::redelivery::digest(line),
    })
}

/// The device a line names (its second field), if that is a valid id.
fn claimed_device(line: &[u8]) -> Option<String> {
    let field = line.split(|&b| b == b',').nth(1)?;
    let id = std::str::from_utf8(field).ok()?;
    is_valid_id(id).then(|| id.to_owned())
}

/// Turns one source's bytes into sentences for the engine.
pub struct LineHandler {
    /// Names the source in logs and counters (`serial:/dev/ttyUSB0`, `mqtt`).
    label: Arc<str>,
    decoder: LineDecoder,
    /// The key ring generation the decoder's keys come from.
    keys_generation: u64,
    tx: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
}

impl LineHandler {
    /// A handler for the source named `label`.
    pub fn new(label: &str, tx: mpsc::Sender<Inbound>, shared: Arc<Shared>) -> Self {
        Self {
            label: label.into(),
            keys_generation: shared.keys.generation(),
            decoder: LineDecoder::with_keys(shared.keys.current()),
            tx,
            shared,
        }
    }

    /// Frames, parses and forwards `bytes`, received at `received` by way
    /// of `delivery`. `last` says the bytes end a message (an MQTT
    /// payload), so an unterminated tail is taken too. Returns false when
    /// the engine is gone (shutting down).
    pub async fn feed(
        &mut self,
        bytes: &[u8],
        binding: &Binding<'_>,
        last: bool,
        received: Timestamp,
        delivery: Delivery,
    ) -> bool {
        let generation = self.shared.keys.generation();
        if generation != self.keys_generation {
            self.decoder.set_keys(self.shared.keys.current());
            self.keys_generation = generation;
        }
        let mut accepted = Vec::new();
        let (label, shared) = (&self.label, &self.shared);
        self.decoder
            .push(bytes, binding, last, |decoded| match decoded {
                Decoded::Sentence { sentence, digest } => accepted.push(Ok((sentence, digest))),
                Decoded::Rejected {
                    reason,
                    message,
                    line,
                    device,
                } => {
                    shared.reject(label, reason, &message, line);
                    if let Some(device) = device {
                        accepted.push(Err((device, reason)));
                    }
                }
            });
        let decoded = accepted.iter().filter(|a| a.is_ok()).count();
        if decoded > 0 {
            // Whether the engine takes them (or drops them as redeliveries
            // or replays) is counted there.
            self.shared
                .counters
                .add("sentences.decoded", decoded as u64);
        }
        let mut batch = Vec::with_capacity(accepted.len());
        for item in accepted {
            let inbound = match item {
                Ok((sentence, digest)) => {
                    let checked_with = self.decoder.keys().get(&sentence.device).map(Key::id);
                    Inbound::Sentence {
                        sentence,
                        received,
                        source: self.label.clone(),
                        checked_with,
                        digest,
                        delivery,
                    }
                }
                Err((device, reason)) => Inbound::AuthRejected {
                    checked_with: self.decoder.keys().get(&device).map(Key::id),
                    device,
                    reason,
                    received,
                },
            };
            batch.push(inbound);
        }
        match batch.len() {
            0 => true,
            1 => self.send(batch.pop().expect("one")).await,
            _ => self.send(Inbound::Batch(batch)).await,
        }
    }

    /// Sends something else to the engine on this source's channel;
    /// false when the engine is gone. A full channel makes the source wait
    /// (nothing is dropped); each wait is counted (`backpressure.inbound`)
    /// and logged, rate-limited.
    pub async fn send(&self, inbound: Inbound) -> bool {
        match self.tx.try_send(inbound) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            Err(mpsc::error::TrySendError::Full(inbound)) => {
                self.shared.backpressure(&self.label, "inbound");
                self.tx.send(inbound).await.is_ok()
            }
        }
    }

    /// Drops a partial line (after a read error).
    pub fn reset(&mut self) {
        self.decoder.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::{Ack, Binding, Decoded, LineDecoder};

    fn decode(d: &mut LineDecoder, bytes: &[u8], binding: &Binding<'_>, last: bool) -> Vec<String> {
        let mut out = Vec::new();
        d.push(bytes, binding, last, |e| {
            out.push(match e {
                Decoded::Sentence { sentence: s, .. } => format!("{}#{}", s.device, s.seq),
                Decoded::Rejected { reason, .. } => reason.to_owned(),
            })
        });
        out
    }

    #[test]
    fn the_decoder_joins_lines_across_pushes_and_checks_the_binding() {
        let line = |dev: &str, seq: u32| {
            let body = format!("RPHB,{dev},{seq},10,OK");
            let cs = body.bytes().fold(0u8, |a, b| a ^ b);
            format!("${body}*{cs:02X}\r\n")
        };
        let mut d = LineDecoder::new();
        let devices = ["fence-1".to_owned()];
        let on_line = Binding::OneOf(&devices);
        let one = line("fence-1", 1);
        let (head, tail) = one.split_at(9);
        assert!(decode(&mut d, head.as_bytes(), &on_line, false).is_empty());
        let rest = format!("{tail}\r\n$RPHB,bad*00\r\n{}", line("fence-2", 2));
        assert_eq!(
            decode(&mut d, rest.as_bytes(), &on_line, false),
            ["fence-1#1", "checksum_mismatch", "wrong_source"]
        );
        // An unterminated tail waits, unless the bytes end a message.
        let partial = line("fence-1", 3);
        let partial = partial.trim_end();
        assert!(decode(&mut d, partial.as_bytes(), &on_line, false).is_empty());
        d.reset();
        assert!(
            decode(&mut d, b"", &on_line, true).is_empty(),
            "reset dropped it"
        );
        assert_eq!(
            decode(&mut d, partial.as_bytes(), &Binding::Only("fence-1"), true),
            ["fence-1#3"]
        );
        assert_eq!(
            decode(&mut d, partial.as_bytes(), &Binding::Only("fence-9"), true),
            ["wrong_source"]
        );
        assert_eq!(
            decode(&mut d, &[b'x'; 300], &Binding::Any, true),
            ["too_long"]
        );
    }

    /// A malformed `m=` tag (upper-case hex) on a keyed device's sentence
    /// names the device, so it counts towards substitution like a wrong
    /// tag; on an unkeyed device's it is a plain parse error.
    #[test]
    fn a_malformed_tag_of_a_keyed_device_names_the_device() {
        use crate::auth::{Key, Keys};
        let mut keys = Keys::none();
        keys.insert("fence-c07", Key::new([7; 32]));
        let mut d = LineDecoder::with_keys(std::sync::Arc::new(keys));
        let line = |dev: &str| {
            let body = format!("RPFZ,{dev},44,3,850,2400,m=6B5D4E55699D4479E9F69FC6628FDADE");
            let cs = body.bytes().fold(0u8, |a, b| a ^ b);
            format!("${body}*{cs:02X}\r\n")
        };
        let mut got = Vec::new();
        for dev in ["fence-c07", "fence-c08"] {
            d.push(line(dev).as_bytes(), &Binding::Any, true, |e| {
                if let Decoded::Rejected { reason, device, .. } = e {
                    got.push((reason, device));
                }
            });
        }
        assert_eq!(
            got,
            [("bad_mac", Some("fence-c07".to_owned())), ("bad_mac", None)]
        );
    }

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
