//! Counters of what the daemon has seen and rejected, shared by every task,
//! and a rate limiter so that a flood of bad input cannot flood the log.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Named counters (`rejected.checksum_mismatch`, `sentences.accepted`, ...).
/// A mutex around a small map: counts are bumped per sentence, which is
/// cheap next to parsing; read rarely.
#[derive(Debug, Default)]
pub struct Counters {
    map: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    /// Adds `n` to counter `name`.
    pub fn add(&self, name: &str, n: u64) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(name) {
            Some(v) => *v += n,
            None => {
                map.insert(name.to_owned(), n);
            }
        }
    }

    /// Adds one to counter `name`.
    pub fn incr(&self, name: &str) {
        self.add(name, 1);
    }

    /// Sets counter `name` (for gauges and totals kept elsewhere).
    pub fn set(&self, name: &str, v: u64) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(name.to_owned(), v);
    }

    /// The value of one counter.
    pub fn get(&self, name: &str) -> u64 {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(name).copied().unwrap_or(0)
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Lets one log line per key through per interval and counts the rest.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    last: Mutex<BTreeMap<String, (Instant, u64)>>,
}

impl LogLimiter {
    /// At most one line per key per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(BTreeMap::new()),
        }
    }

    /// `Some(suppressed)` when a line for `key` may be logged now, with how
    /// many were held back since the last one; `None` to stay quiet.
    pub fn allow(&self, key: &str, now: Instant) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match last.get_mut(key) {
            Some((at, suppressed)) if now.duration_since(*at) < self.interval => {
                *suppressed += 1;
                None
            }
            Some(entry) => {
                let held = entry.1;
                *entry = (now, 0);
                Some(held)
            }
            None => {
                // Bound the map: a flood of distinct keys must not grow it forever.
                if last.len() >= 4096 {
                    last.clear();
                }
                last.insert(key.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_and_snapshot() {
        let c = Counters::default();
        c.incr("a");
        c.add("a", 2);
        c.set("b", 7);
        assert_eq!(c.get("a"), 3);
        assert_eq!(c.snapshot().get("b"), Some(&7));
        assert_eq!(c.get("missing"), 0);
    }

    #[test]
    fn limiter_lets_one_through_per_interval_and_counts_the_rest() {
        let l = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(l.allow("k", t0), Some(0));
        assert_eq!(l.allow("k", t0 + Duration::from_secs(1)), None);
        assert_eq!(l.allow("k", t0 + Duration::from_secs(2)), None);
        assert_eq!(l.allow("other", t0), Some(0));
        assert_eq!(l.allow("k", t0 + Duration::from_secs(11)), Some(2));
    }
}
