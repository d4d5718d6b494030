//! Redeliveries: recognising a sentence the daemon has already acted on.
//!
//! MQTT delivers at least once. A broker sends a QoS 1 message again when
//! its acknowledgement did not arrive (the connection broke, or the daemon
//! was killed before acknowledging); a controller publishing at QoS 1 may
//! send one again in the same way. A **redelivery** is a sentence of the
//! same device, with the same seq and the same bytes, as one accepted
//! within the window below. The engine drops it (`sentences.duplicate`)
//! before any other check, so a redelivery is never a replay, never a
//! substitution and never new evidence: each sentence acts once.
//!
//! The window, per device: the last [`WINDOW`] seqs accepted, one slot per
//! seq modulo [`WINDOW`]. A sentence the broker flags as sent before (DUP)
//! matches however long ago its first copy came: after a restart that may
//! be as long as the daemon was down. Any other sentence matches only a
//! copy accepted within [`FRESH`]: a controller's own resend is a matter of
//! seconds, while an unauthenticated controller that restarts its count
//! at 0 may well repeat an old line much later, and that is news.
//!
//! Pure: times are passed in. What was accepted since the last
//! [`Redeliveries::take_new`] is handed out for the store, which keeps the
//! newest sentences (more than a broker can have in flight when the daemon
//! dies), and a restarted daemon reads them back, oldest first, with
//! [`Redeliveries::restore`].

use std::collections::HashMap;
use std::time::Duration;

use crate::time::Timestamp;

/// Seqs remembered per device. At least the broker's in-flight window
/// (Mosquitto's `max_inflight_messages`), the most one device can have
/// unacknowledged.
pub const WINDOW: usize = 1024;
/// How long a sentence not flagged as redelivered can match.
pub const FRESH: Duration = Duration::from_secs(600);

/// An accepted sentence, as remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub seq: u32,
    pub digest: u64,
    pub at: Timestamp,
}

/// The digest of a sentence's bytes: FNV-1a (64 bits) over the line
/// without its line ending. Stable across versions: the store keeps it.
pub fn digest(line: &[u8]) -> u64 {
    let end = line
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    line[..end].iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One device's window.
#[derive(Debug)]
struct Ring(Box<[Option<Seen>]>);

impl Ring {
    fn new() -> Self {
        Self(vec![None; WINDOW].into_boxed_slice())
    }

    fn slot(seq: u32) -> usize {
        seq as usize % WINDOW
    }
}

/// The windows of every device that has spoken.
#[derive(Debug, Default)]
pub struct Redeliveries {
    devices: HashMap<String, Ring>,
    new: Vec<(String, Seen)>,
}

impl Redeliveries {
    /// True when `device`'s sentence `seq` with these bytes (`digest`) was
    /// accepted before, within the window; `flagged` says the broker marked
    /// it as sent before.
    pub fn is_redelivery(
        &self,
        device: &str,
        seq: u32,
        digest: u64,
        flagged: bool,
        now: Timestamp,
    ) -> bool {
        let Some(ring) = self.devices.get(device) else {
            return false;
        };
        match ring.0[Ring::slot(seq)] {
            Some(seen) if seen.seq == seq && seen.digest == digest => {
                flagged || now.since(seen.at) < FRESH
            }
            _ => false,
        }
    }

    /// Remembers an accepted sentence.
    pub fn accept(&mut self, device: &str, seq: u32, digest: u64, now: Timestamp) {
        let seen = Seen {
            seq,
            digest,
            at: now,
        };
        self.remember(device, seen);
        self.new.push((device.to_owned(), seen));
    }

    fn remember(&mut self, device: &str, seen: Seen) {
        let ring = match self.devices.get_mut(device) {
            Some(r) => r,
            None => self
                .devices
                .entry(device.to_owned())
                .or_insert_with(Ring::new),
        };
        ring.0[Ring::slot(seen.seq)] = Some(seen);
    }

    /// What was accepted since the last call, in order: what to save.
    pub fn take_new(&mut self) -> Vec<(String, Seen)> {
        std::mem::take(&mut self.new)
    }

    /// Takes back what a previous run saved (not handed out again).
    pub fn restore(&mut self, saved: impl IntoIterator<Item = (String, Seen)>) {
        for (device, seen) in saved {
            self.remember(&device, seen);
        }
    }

    /// Forgets devices no longer configured.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.devices.retain(|d, _| keep(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_700_000_000_000);

    fn at(s: u64) -> Timestamp {
        T0.plus(Duration::from_secs(s))
    }

    #[test]
    fn the_same_device_seq_and_bytes_is_a_redelivery_and_nothing_else_is() {
        let mut r = Redeliveries::default();
        let d = digest(b"$RPTP,fence-a,7,CUT*00\r\n");
        r.accept("fence-a", 7, d, T0);
        assert!(r.is_redelivery("fence-a", 7, d, false, at(1)));
        assert!(r.is_redelivery("fence-a", 7, d, true, at(1)));
        assert!(
            !r.is_redelivery("fence-a", 7, d ^ 1, true, at(1)),
            "other bytes"
        );
        assert!(!r.is_redelivery("fence-a", 8, d, true, at(1)), "other seq");
        assert!(
            !r.is_redelivery("fence-b", 7, d, true, at(1)),
            "other device"
        );
        assert!(
            !r.is_redelivery("fence-a", 7 + WINDOW as u32, d, true, at(1)),
            "same slot, other seq"
        );
    }

    #[test]
    fn an_unflagged_copy_matches_only_while_fresh_a_flagged_one_always() {
        let mut r = Redeliveries::default();
        r.accept("fence-a", 1, 42, T0);
        let late = T0.plus(FRESH);
        assert!(!r.is_redelivery("fence-a", 1, 42, false, late));
        assert!(r.is_redelivery("fence-a", 1, 42, true, late.plus(FRESH * 100)));
    }

    #[test]
    fn the_window_holds_the_last_seqs_of_each_device() {
        let mut r = Redeliveries::default();
        for seq in 0..(WINDOW as u32 + 10) {
            r.accept("fence-a", seq, u64::from(seq), T0);
        }
        assert!(!r.is_redelivery("fence-a", 9, 9, true, T0), "pushed out");
        assert!(r.is_redelivery("fence-a", 10, 10, true, T0));
        assert!(r.is_redelivery("fence-a", WINDOW as u32 + 9, WINDOW as u64 + 9, true, T0));
        // Across the wrap of the 32-bit seq.
        r.accept("fence-b", u32::MAX, 1, T0);
        r.accept("fence-b", 0, 2, T0);
        assert!(r.is_redelivery("fence-b", u32::MAX, 1, true, T0));
        assert!(r.is_redelivery("fence-b", 0, 2, true, T0));
    }

    #[test]
    fn what_is_taken_for_saving_comes_back_after_a_restart() {
        let mut r = Redeliveries::default();
        r.accept("fence-a", 5, 55, T0);
        r.accept("trench-b", 6, 66, T0);
        let saved = r.take_new();
        assert_eq!(saved.len(), 2);
        assert!(r.take_new().is_empty(), "handed out once");
        let mut after = Redeliveries::default();
        after.restore(saved);
        assert!(after.is_redelivery("fence-a", 5, 55, true, at(3600)));
        assert!(after.is_redelivery("trench-b", 6, 66, false, at(1)));
        assert!(
            after.take_new().is_empty(),
            "restored entries are not saved again"
        );
    }

    #[test]
    fn the_digest_ignores_the_line_ending_only() {
        let a = digest(b"$RPHB,fence-a,1,10,OK*00\r\n");
        assert_eq!(a, digest(b"$RPHB,fence-a,1,10,OK*00\n"));
        assert_eq!(a, digest(b"$RPHB,fence-a,1,10,OK*00"));
        assert_ne!(a, digest(b"$RPHB,fence-a,1,11,OK*00"));
        // FNV-1a's published value for the empty input: the digest is
        // stable across builds, as the store needs.
        assert_eq!(digest(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(digest(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
