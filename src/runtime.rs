//! What every task of the running daemon shares: the clock, the counters,
//! and the rate-limited log for rejected input.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::warn;

use crate::health::Health;
use crate::metrics::{Counters, LogLimiter};
use crate::time::Timestamp;

/// How often one kind of rejection from one source may be logged.
pub const REJECT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The daemon's clock: wall-clock time at start-up plus monotonic time since.
/// Timestamps never jump with the system clock, and with tokio's paused
/// clock in tests they follow virtual time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    boot_wall: Timestamp,
    boot: tokio::time::Instant,
}

impl Clock {
    /// Starts the clock now.
    pub fn start() -> Self {
        Self {
            boot_wall: Timestamp::now(),
            boot: tokio::time::Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.boot_wall.plus(self.boot.elapsed())
    }

    /// The wall-clock time at start-up.
    pub fn started(&self) -> Timestamp {
        self.boot_wall
    }
}

/// State shared by all tasks.
#[derive(Debug)]
pub struct Shared {
    pub clock: Clock,
    pub counters: Counters,
    /// Store, broker link and clock, as published on the health topic.
    pub health: Health,
    limiter: LogLimiter,
    /// The device keys the sources check MACs with (replaced by a reload).
    pub keys: crate::auth::KeyRing,
    /// When the engine task last ticked, ms after start-up: its pulse, which
    /// the watchdog ([`crate::sdnotify`]) checks.
    engine_pulse_ms: AtomicU64,
    /// Watches the daemon's tasks and threads.
    pub supervisor: crate::supervise::Supervisor,
}

impl Shared {
    pub fn new(clock: Clock) -> Self {
        Self::with_keys(clock, Default::default())
    }

    /// Shared state whose sources check MACs with `keys`.
    pub fn with_keys(clock: Clock, keys: std::sync::Arc<crate::auth::Keys>) -> Self {
        Self {
            clock,
            counters: Counters::default(),
            health: Health::new(clock.now()),
            limiter: LogLimiter::new(REJECT_LOG_INTERVAL),
            keys: crate::auth::KeyRing::new(keys),
            engine_pulse_ms: AtomicU64::new(0),
            supervisor: Default::default(),
        }
    }

    /// The engine task calls this on every tick: it is alive.
    pub fn engine_ticked(&self) {
        let ms = u64::try_from(self.clock.boot.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.engine_pulse_ms.store(ms, Ordering::Relaxed);
    }

    /// How long ago the engine task last ticked (since start-up before its
    /// first tick).
    pub fn since_engine_tick(&self) -> Duration {
        let pulse = Duration::from_millis(self.engine_pulse_ms.load(Ordering::Relaxed));
        self.clock.boot.elapsed().saturating_sub(pulse)
    }

    /// Counts something deliberately shed under `shed.<what>` and logs it,
    /// at most once per source and kind every [`REJECT_LOG_INTERVAL`].
    pub fn shed(&self, source: &str, what: &str, message: &str) {
        self.counters.incr(&format!("shed.{what}"));
        if let Some(suppressed) = self
            .limiter
            .allow(&format!("{source}/shed/{what}"), std::time::Instant::now())
        {
            warn!(source, what, suppressed, "shedding: {message}");
        }
    }

    /// Counts a wait on a full queue under `backpressure.<queue>` and logs
    /// it, at most once per source and queue every [`REJECT_LOG_INTERVAL`].
    /// Nothing is dropped: the source waits.
    pub fn backpressure(&self, source: &str, queue: &str) {
        self.counters.incr(&format!("backpressure.{queue}"));
        if let Some(suppressed) = self
            .limiter
            .allow(&format!("{source}/wait/{queue}"), std::time::Instant::now())
        {
            warn!(
                source,
                queue, suppressed, "queue full: this source waits (nothing is dropped)"
            );
        }
    }

    /// Counts a rejected line under `rejected.<reason>` and logs it, at most
    /// once per source and reason every [`REJECT_LOG_INTERVAL`].
    pub fn reject(&self, source: &str, reason: &str, message: &str, line: &[u8]) {
        self.counters.incr(&format!("rejected.{reason}"));
        let key = format!("{source}/{reason}");
        if let Some(suppressed) = self.limiter.allow(&key, std::time::Instant::now()) {
            let sample = String::from_utf8_lossy(&line[..line.len().min(80)])
                .escape_debug()
                .to_string();
            warn!(source, reason, suppressed, line = %sample, "rejected input: {message}");
        }
    }
}
