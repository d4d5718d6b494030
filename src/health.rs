//! The daemon's health: whether the alert store can commit, whether the
//! broker is reachable, and whether the system clock jumped. Every task
//! that notices a problem records it here (besides logging and counting
//! it); the publisher publishes the whole picture, retained, on
//! `<root>/v1/daemon/<instance>/health` whenever it changes and the broker
//! is reachable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::time::Timestamp;

/// One part of the daemon that can fail.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Part {
    /// Working now.
    pub ok: bool,
    /// Since when it is in its current state.
    pub since: Timestamp,
    /// How many times it has failed since start-up.
    pub failures: u64,
    /// The latest error, kept after recovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Part {
    fn new(now: Timestamp) -> Self {
        Self {
            ok: true,
            since: now,
            failures: 0,
            last_error: None,
        }
    }

    /// Records the state; returns true if it changed.
    fn set(&mut self, ok: bool, error: Option<String>, now: Timestamp) -> bool {
        let changed = ok != self.ok;
        if changed {
            self.ok = ok;
            self.since = now;
            if !ok {
                self.failures += 1;
            }
        }
        if let Some(e) = error {
            self.last_error = Some(e);
        }
        changed
    }
}

/// Jumps of the system clock against the monotonic clock the daemon's
/// timestamps follow.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ClockHealth {
    pub jumps: u64,
    /// When the latest jump was noticed, and by how many seconds (positive:
    /// the system clock moved forward).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_jump_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_jump_s: Option<f64>,
}

/// The TLS certificate that expires first (CA or the daemon's own).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CertificateHealth {
    /// Which certificate: `client certificate /etc/rampart/tls/rampart.pem`.
    pub certificate: String,
    pub expires_at: Timestamp,
    /// Whole days left; negative once expired.
    pub days_left: i64,
}

/// What is published.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HealthReport {
    pub at: Timestamp,
    pub store: Part,
    pub broker: Part,
    pub clock: ClockHealth,
    /// Alert messages not yet acknowledged by the broker.
    pub outbox: u64,
    /// With TLS: the first certificate to expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<CertificateHealth>,
    /// The input connection (sentences, frames, acknowledgements).
    pub input: Part,
    /// Messages refused for their size, once there has been one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oversized: Option<OversizedHealth>,
}

/// Messages refused for being larger than their topic allows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OversizedHealth {
    /// How many since start-up.
    pub count: u64,
    /// The latest: when, on which topic, its size and the topic's limit.
    pub last_at: Timestamp,
    pub last_topic: String,
    pub last_bytes: u64,
    pub limit: u64,
}

/// Shared health, with a version that moves on every change.
#[derive(Debug)]
pub struct Health {
    state: Mutex<HealthReport>,
    version: AtomicU64,
}

impl Health {
    pub fn new(now: Timestamp) -> Self {
        Self {
            state: Mutex::new(HealthReport {
                at: now,
                store: Part::new(now),
                broker: Part {
                    ok: false,
                    ..Part::new(now)
                },
                clock: ClockHealth::default(),
                outbox: 0,
                tls: None,
                input: Part {
                    ok: false,
                    ..Part::new(now)
                },
                oversized: None,
            }),
            version: AtomicU64::new(1),
        }
    }

    fn update(&self, now: Timestamp, f: impl FnOnce(&mut HealthReport) -> bool) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let changed = f(&mut s);
        if changed {
            s.at = now;
            self.version.fetch_add(1, Ordering::Relaxed);
        }
        changed
    }

    /// The store committed (`None`) or failed; true if that is news.
    pub fn store(&self, error: Option<String>, now: Timestamp) -> bool {
        self.update(now, |s| s.store.set(error.is_none(), error, now))
    }

    /// The broker link is up (`None`) or lost; true if that is news.
    pub fn broker(&self, error: Option<String>, now: Timestamp) -> bool {
        self.update(now, |s| s.broker.set(error.is_none(), error, now))
    }

    /// The input connection is up (`None`) or lost; true if that is news.
    pub fn input(&self, error: Option<String>, now: Timestamp) -> bool {
        self.update(now, |s| s.input.set(error.is_none(), error, now))
    }

    /// A message of `bytes` on `topic` was refused: its topic allows
    /// `limit`.
    pub fn oversized(&self, topic: &str, bytes: u64, limit: u64, now: Timestamp) {
        self.update(now, |s| {
            let count = s.oversized.as_ref().map_or(0, |o| o.count) + 1;
            s.oversized = Some(OversizedHealth {
                count,
                last_at: now,
                last_topic: topic.to_owned(),
                last_bytes: bytes,
                limit,
            });
            true
        });
    }

    /// The system clock jumped by `by_s` seconds.
    pub fn clock_jump(&self, by_s: f64, now: Timestamp) {
        self.update(now, |s| {
            s.clock.jumps += 1;
            s.clock.last_jump_at = Some(now);
            s.clock.last_jump_s = Some(by_s);
            true
        });
    }

    /// The first TLS certificate to expire, as of the latest check.
    pub fn certificate(&self, first: CertificateHealth, now: Timestamp) {
        self.update(now, |s| s.tls.replace(first.clone()) != Some(first));
    }

    /// How many alert messages await the broker's acknowledgement.
    pub fn outbox(&self, n: u64, now: Timestamp) {
        self.update(now, |s| std::mem::replace(&mut s.outbox, n) != n);
    }

    /// Whether the store is working.
    pub fn store_ok(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .store
            .ok
    }

    /// The current version (moves on every change).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// The report and its version.
    pub fn snapshot(&self) -> (u64, HealthReport) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (self.version(), s.clone())
    }
}

/// How far the system clock must move against the monotonic clock between
/// two looks to count as a jump.
pub const CLOCK_JUMP_MS: i64 = 2000;

/// Given the system clock's offset from the daemon's clock at the last look
/// and now (ms), the jump, if there was one.
pub fn clock_jump(previous_offset_ms: i64, offset_ms: i64) -> Option<i64> {
    let moved = offset_ms - previous_offset_ms;
    (moved.abs() >= CLOCK_JUMP_MS).then_some(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_move_the_version_and_failures_are_counted() {
        let h = Health::new(Timestamp(0));
        let v0 = h.version();
        assert!(h.broker(None, Timestamp(10)), "first connection is news");
        assert!(!h.broker(None, Timestamp(20)), "still up is not");
        assert!(h.store(Some("disk full".into()), Timestamp(30)));
        assert!(!h.store_ok());
        assert!(!h.store(Some("disk full".into()), Timestamp(40)));
        assert!(h.store(None, Timestamp(50)));
        let (v, report) = h.snapshot();
        assert!(v > v0);
        assert!(report.store.ok);
        assert_eq!(report.store.failures, 1);
        assert_eq!(report.store.since, Timestamp(50));
        assert_eq!(report.store.last_error.as_deref(), Some("disk full"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["broker"]["ok"], true);
        assert_eq!(json["store"]["failures"], 1);
    }

    #[test]
    fn a_clock_jump_is_a_change_of_offset_of_two_seconds_or_more() {
        assert_eq!(clock_jump(0, 500), None);
        assert_eq!(clock_jump(100, -1900), Some(-2000));
        assert_eq!(clock_jump(0, 3_600_000), Some(3_600_000));
        let h = Health::new(Timestamp(0));
        h.clock_jump(3600.0, Timestamp(5));
        assert_eq!(h.snapshot().1.clock.jumps, 1);
    }
}
