//! Hot reload of the config file, on SIGHUP and when the file changes.
//!
//! The watcher reads the file every [`POLL_INTERVAL`] (and at once on
//! SIGHUP); when its bytes changed, it waits [`SETTLE`] and reads again, so
//! a file caught half-written by an editor is not judged. Then:
//! - the new file is loaded and validated as at start-up; if it has
//!   problems they are logged (ERROR: the engineer must act) and published
//!   on `<root>/v1/daemon/<instance>/config`, and the running config stays;
//! - if it changes something only a restart can apply (the broker, serial
//!   ports, the wall, the instance, the data directory, the set of cameras),
//!   it is refused as a whole, saying what, and the running config stays;
//! - otherwise it goes to the engine task, which swaps it in between two
//!   inputs: no reading, frame or open incident is lost, and the k-of-n
//!   windows and camera backgrounds carry on.
//!
//! Every outcome is published (retained) as JSON:
//! `{"at", "file", "status": "applied" | "rejected" | "restart_needed",
//! "errors": [...], "changes": [...]}`.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::config::{Config, Loaded};
use crate::time::Timestamp;

/// How often the config file is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long a changed file must stay the same before it is loaded.
pub const SETTLE: Duration = Duration::from_millis(300);

/// What became of one reload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadReport {
    pub at: Timestamp,
    pub file: String,
    pub status: ReloadStatus,
    /// The problems found (rejected) or the settings that need a restart.
    pub errors: Vec<String>,
    /// Applied, but these secrets changed behind the same file names and
    /// take effect at the next restart (the broker connections keep the
    /// ones they logged in with).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub at_restart: Vec<String>,
}

/// The outcome of a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadStatus {
    Applied,
    Rejected,
    RestartNeeded,
}

impl ReloadStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadStatus::Applied => "applied",
            ReloadStatus::Rejected => "rejected",
            ReloadStatus::RestartNeeded => "restart_needed",
        }
    }
}

/// The settings that differ between `old` and `new` and that a running
/// daemon cannot take over: empty if the new config can be swapped in.
pub fn restart_needed(old: &Config, new: &Config) -> Vec<String> {
    let mut what = Vec::new();
    let mut differs = |name: &str, a: String, b: String| {
        if a != b {
            what.push(format!("{name} changed: restart rampart to apply it"));
        }
    };
    differs("instance", old.instance.clone(), new.instance.clone());
    differs("wall", format!("{:?}", old.wall), format!("{:?}", new.wall));
    differs(
        "segment_length_m",
        old.segment_length_m.to_string(),
        new.segment_length_m.to_string(),
    );
    differs(
        "data_dir",
        format!("{:?}", old.data_dir),
        format!("{:?}", new.data_dir),
    );
    differs(
        "[mqtt]",
        format!("{:?}", old.mqtt),
        format!("{:?}", new.mqtt),
    );
    differs(
        "[store]",
        format!("{:?}", old.store),
        format!("{:?}", new.store),
    );
    differs(
        "[[serial]]",
        format!("{:?}", old.serial),
        format!("{:?}", new.serial),
    );
    let ids = |c: &Config| c.camera.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    differs(
        "the set of [[camera]] ids",
        ids(old).join(","),
        ids(new).join(","),
    );
    differs(
        "[thermal] max_frame_pixels",
        old.thermal.max_frame_pixels.to_string(),
        new.thermal.max_frame_pixels.to_string(),
    );
    what
}

/// Secrets that changed behind the same file names (a renewed certificate,
/// a new password). They do not stop a reload — that would also block an
/// urgent key rotation — but only a restart applies them.
pub fn applies_at_restart(old: &Config, new: &Config) -> Vec<String> {
    let mut what = Vec::new();
    if old.mqtt.password != new.mqtt.password {
        what.push("the broker password changed: it takes effect at the next restart".into());
    }
    let tls = |c: &Config| c.mqtt.tls.as_ref().and_then(|t| t.client.clone());
    if tls(old) != tls(new) {
        what.push("a [mqtt.tls] file changed: it takes effect at the next restart".into());
    }
    what
}

/// Watches one config file and hands valid new configs to the engine.
#[derive(Clone)]
pub struct ConfigWatcher {
    path: PathBuf,
    current: Config,
    /// The config the broker connections started with: secrets changed
    /// since are reported at every reload until a restart.
    started: Config,
    fingerprint: Option<u64>,
}

impl ConfigWatcher {
    /// A watcher for the file `loaded` came from, which is running now.
    pub fn new(loaded: &Loaded) -> Self {
        let fingerprint = read_fingerprint(&loaded.path);
        Self {
            path: loaded.path.clone(),
            current: loaded.config.clone(),
            started: loaded.config.clone(),
            fingerprint,
        }
    }

    /// Runs until `stop` turns true. `hangup` yields on every SIGHUP; each
    /// report goes to `report` (the daemon logs and publishes it).
    pub async fn run(
        mut self,
        mut hangup: impl futures_like::Signal,
        to_engine: mpsc::Sender<Box<Loaded>>,
        mut report: impl FnMut(&ReloadReport),
        now: impl Fn() -> Timestamp,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut poll = tokio::time::interval(POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let forced = tokio::select! {
                _ = poll.tick() => false,
                Some(()) = hangup.recv() => true,
                _ = stop.changed() => return,
            };
            if forced {
                info!(file = %self.path.display(), "SIGHUP: reloading the config");
            } else if read_fingerprint(&self.path) == self.fingerprint {
                continue;
            } else {
                // Changed: let the writer finish before judging it.
                tokio::time::sleep(SETTLE).await;
            }
            let fingerprint = read_fingerprint(&self.path);
            if !forced && fingerprint == self.fingerprint {
                continue;
            }
            self.fingerprint = fingerprint;
            let Some(r) = self.reload(&to_engine, now()).await else {
                return;
            };
            report(&r);
        }
    }

    /// Loads the file and, if it can be swapped in, sends it to the engine.
    /// `None` when the engine has stopped.
    async fn reload(
        &mut self,
        to_engine: &mpsc::Sender<Box<Loaded>>,
        at: Timestamp,
    ) -> Option<ReloadReport> {
        let file = self.path.display().to_string();
        let path = self.path.clone();
        let loaded = tokio::task::spawn_blocking(move || crate::config::load(&path))
            .await
            .unwrap_or_else(|e| {
                Err(vec![crate::config::Diagnostic {
                    file: file.clone(),
                    line: 0,
                    column: 0,
                    key_path: String::new(),
                    message: format!("loading stopped: {e}"),
                }])
            });
        let report = |status, errors| ReloadReport {
            at,
            file: file.clone(),
            status,
            errors,
            at_restart: Vec::new(),
        };
        let loaded = match loaded {
            Ok(l) => l,
            Err(problems) => {
                let errors: Vec<String> = problems.iter().map(ToString::to_string).collect();
                for e in &errors {
                    error!(problem = %e, "config reload rejected; the running config stays");
                }
                return Some(report(ReloadStatus::Rejected, errors));
            }
        };
        let restart = restart_needed(&self.current, &loaded.config);
        if !restart.is_empty() {
            for r in &restart {
                warn!(setting = %r, "config reload refused; the running config stays");
            }
            return Some(report(ReloadStatus::RestartNeeded, restart));
        }
        let at_restart = applies_at_restart(&self.started, &loaded.config);
        for r in &at_restart {
            warn!(setting = %r, "config reloaded, but this needs a restart");
        }
        self.current = loaded.config.clone();
        to_engine.send(Box::new(loaded)).await.ok()?;
        info!(file = %file, "config reloaded");
        Some(ReloadReport {
            at_restart,
            ..report(ReloadStatus::Applied, Vec::new())
        })
    }
}

/// A hash of the file's bytes; `None` if it cannot be read (or is over
/// [`MAX_CONFIG_BYTES`](crate::config::MAX_CONFIG_BYTES), which loading refuses too).
fn read_fingerprint(path: &std::path::Path) -> Option<u64> {
    let bytes = crate::capped::read(path, crate::config::MAX_CONFIG_BYTES).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// The one thing the watcher needs of a signal stream, so tests can use a
/// channel instead of SIGHUP.
pub mod futures_like {
    use std::future::Future;

    /// Something that yields each time a signal arrives.
    pub trait Signal {
        fn recv(&mut self) -> impl Future<Output = Option<()>> + Send;
    }

    impl Signal for tokio::signal::unix::Signal {
        fn recv(&mut self) -> impl Future<Output = Option<()>> + Send {
            tokio::signal::unix::Signal::recv(self)
        }
    }

    impl Signal for tokio::sync::mpsc::Receiver<()> {
        fn recv(&mut self) -> impl Future<Output = Option<()>> + Send {
            tokio::sync::mpsc::Receiver::recv(self)
        }
    }
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod tests;
