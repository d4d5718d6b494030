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
//! The window: the last [`WINDOW`] sentences accepted, from all devices
//! together — what the store keeps too. Not a window per device and not
//! the broker's in-flight window: a broker may send a whole backlog again
//! after the daemon dies (Mosquitto 2.0 lets a reconnecting session's
//! queued messages past its `max_inflight_messages` as soon as the first
//! acknowledgements arrive), so what comes again is bounded only by what
//! the daemon took before it died. A sentence the broker flags as sent
//! before (DUP) matches however long ago its first copy came: after a
//! restart that may be as long as the daemon was down. Any other sentence
//! matches only a copy accepted within [`FRESH`]: a controller's own resend
//! is a matter of seconds, while an unauthenticated controller that
//! restarts its count at 0 may well repeat an old line much later, and
//! that is news.
//!
//! Pure: times are passed in. What was accepted since the last
//! [`Redeliveries::take_new`] is handed out for the store, and a restarted
//! daemon reads it back, oldest first, with [`Redeliveries::restore`].

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use crate::time::Timestamp;

/// Sentences remembered, from all devices together: some 40 s of a whole
/// wall at 6 000 sentences a second, or a backlog of that size sent again.
/// About 12 MiB.
pub const WINDOW: usize = 262_144;
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

/// One remembered sentence; `device` indexes [`Redeliveries::names`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    device: u32,
    seen: Seen,
}

/// The index's key for a device's seq.
fn key(device: u32, seq: u32) -> u64 {
    u64::from(device) << 32 | u64::from(seq)
}

/// A fast hash with a key drawn at random per process, for the window's
/// maps: SplitMix64's finaliser over the input mixed with the key. A
/// controller choosing its seqs cannot make them collide in the table, as
/// it could with an unkeyed fast hash; SipHash, std's default, cost a
/// tenth of the daemon's time at a whole wall's load.
#[derive(Debug, Clone)]
struct Keyed(u64);

impl Keyed {
    fn new() -> Self {
        Self(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64))
    }
}

impl BuildHasher for Keyed {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher(self.0)
    }
}

#[derive(Debug)]
struct KeyedHasher(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Hasher for KeyedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0 ^ n).wrapping_add(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        mix(self.0)
    }
}

/// The last [`WINDOW`] sentences accepted.
#[derive(Debug)]
pub struct Redeliveries {
    capacity: usize,
    /// Device ids, interned.
    ids: HashMap<Arc<str>, u32, Keyed>,
    names: Vec<Arc<str>>,
    /// Oldest first; `recent[i]` is the sentence taken `first + i`-th.
    recent: VecDeque<Entry>,
    first: u64,
    /// [`key`] of (device, seq) → where its latest copy is in `recent`.
    index: HashMap<u64, u64, Keyed>,
    new: Vec<(Arc<str>, Seen)>,
}

impl Default for Redeliveries {
    fn default() -> Self {
        Self::with_capacity(WINDOW)
    }
}

impl Redeliveries {
    /// A window of `capacity` sentences.
    pub fn with_capacity(capacity: usize) -> Self {
        let hasher = Keyed::new();
        let capacity = capacity.max(1);
        // All the room at once: the daemon's memory does not step up
        // later, under load, as the window fills.
        Self {
            capacity,
            ids: HashMap::with_hasher(hasher.clone()),
            names: Vec::new(),
            recent: VecDeque::with_capacity(capacity),
            first: 0,
            index: HashMap::with_capacity_and_hasher(capacity, hasher),
            new: Vec::new(),
        }
    }

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
        let Some(&id) = self.ids.get(device) else {
            return false;
        };
        let Some(&at) = self.index.get(&key(id, seq)) else {
            return false;
        };
        let seen = self.recent[(at - self.first) as usize].seen;
        seen.digest == digest && (flagged || now.since(seen.at) < FRESH)
    }

    /// Remembers an accepted sentence.
    pub fn accept(&mut self, device: &str, seq: u32, digest: u64, now: Timestamp) {
        let seen = Seen {
            seq,
            digest,
            at: now,
        };
        let id = self.remember(device, seen);
        self.new.push((self.names[id as usize].clone(), seen));
    }

    fn remember(&mut self, device: &str, seen: Seen) -> u32 {
        let id = match self.ids.get(device) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                let name: Arc<str> = device.into();
                self.names.push(name.clone());
                self.ids.insert(name, id);
                id
            }
        };
        if self.recent.len() == self.capacity {
            if let Some(old) = self.recent.pop_front() {
                let old_key = key(old.device, old.seen.seq);
                // Unless a later copy of the same seq took its place.
                if self.index.get(&old_key) == Some(&self.first) {
                    self.index.remove(&old_key);
                }
                self.first += 1;
            }
        }
        let at = self.first + self.recent.len() as u64;
        self.recent.push_back(Entry { device: id, seen });
        self.index.insert(key(id, seen.seq), at);
        id
    }

    /// Whether something was accepted since the last
    /// [`Redeliveries::take_new`].
    pub fn has_new(&self) -> bool {
        !self.new.is_empty()
    }

    /// What was accepted since the last call, in order: what to save.
    pub fn take_new(&mut self) -> Vec<(Arc<str>, Seen)> {
        std::mem::take(&mut self.new)
    }

    /// Takes back what a previous run saved, oldest first (not handed out
    /// again).
    pub fn restore<D: AsRef<str>>(&mut self, saved: impl IntoIterator<Item = (D, Seen)>) {
        for (device, seen) in saved {
            self.remember(device.as_ref(), seen);
        }
    }

    /// How many sentences are remembered.
    pub fn len(&self) -> usize {
        self.recent.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
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
            "another seq"
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
    fn the_window_holds_the_last_sentences_of_all_devices_together() {
        let mut r = Redeliveries::with_capacity(100);
        // One device far past any per-device window, then others.
        for seq in 0..90 {
            r.accept("fence-a", seq, u64::from(seq), T0);
        }
        for seq in 0..20 {
            r.accept("fence-b", seq, 1000 + u64::from(seq), T0);
        }
        assert_eq!(r.len(), 100);
        assert!(!r.is_redelivery("fence-a", 9, 9, true, T0), "pushed out");
        assert!(r.is_redelivery("fence-a", 10, 10, true, T0));
        assert!(r.is_redelivery("fence-a", 89, 89, true, T0));
        assert!(r.is_redelivery("fence-b", 0, 1000, true, T0));
        // Across the wrap of the 32-bit seq.
        r.accept("fence-c", u32::MAX, 1, T0);
        r.accept("fence-c", 0, 2, T0);
        assert!(r.is_redelivery("fence-c", u32::MAX, 1, true, T0));
        assert!(r.is_redelivery("fence-c", 0, 2, true, T0));
    }

    /// A seq taken again (a controller that restarted its count) replaces
    /// the old copy, and the old copy leaving the window does not take the
    /// new one with it; seqs never collide with others.
    #[test]
    fn a_seq_taken_again_replaces_the_old_copy_and_survives_its_eviction() {
        let mut r = Redeliveries::with_capacity(4);
        r.accept("fence-a", 5, 50, T0);
        r.accept("fence-a", 5, 51, T0);
        assert!(!r.is_redelivery("fence-a", 5, 50, true, T0));
        assert!(r.is_redelivery("fence-a", 5, 51, true, T0));
        for seq in [6, 7, 1029] {
            r.accept("fence-a", seq, 60, T0);
        }
        // The first copy of seq 5 has left the window; the second is in it.
        assert!(r.is_redelivery("fence-a", 5, 51, true, T0));
        assert!(r.is_redelivery("fence-a", 1029, 60, true, T0));
        r.accept("fence-a", 8, 60, T0);
        assert!(!r.is_redelivery("fence-a", 5, 51, true, T0), "now gone too");
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
