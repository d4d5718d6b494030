//! Scenario files for the firmware simulator: which devices speak over which
//! transport, how often, and the scripted events (TOML).

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::diagnostics::{self, Diagnostic};

/// A scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed of all randomness: the same seed gives the same sentences. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How long the scenario runs. Default `"60s"`.
    #[serde(default = "default_duration", with = "crate::config::duration")]
    pub duration: Duration,
    /// How often fence zones and geophones report. Default `"500ms"`.
    #[serde(default = "default_report", with = "crate::config::duration")]
    pub report_interval: Duration,
    /// How often every device sends `HB`. Default `"5s"`.
    #[serde(default = "default_heartbeat", with = "crate::config::duration")]
    pub heartbeat_interval: Duration,
    /// Devices that speak over a pseudo-terminal (one each); all other
    /// configured devices publish over MQTT. Default: none.
    #[serde(default)]
    pub serial: Vec<String>,
    /// The scripted events, in any order.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// What an event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Someone at the wall at `chainage_m` for `duration`, moving at
    /// `speed_m_s` along it: fence zones shake, geophones pick up footsteps,
    /// beams nearby break while the person crosses.
    Intrusion,
    /// `device` reports tamper `tamper` (default `CUT`), cleared after `duration`.
    Tamper,
    /// `device` sends nothing for `duration`.
    Silence,
    /// `device`'s heartbeats say `FAULT` for `duration`.
    Fault,
    /// `device` sends `lines` malformed lines (default 50) among its good ones.
    Garbage,
    /// `device`'s pseudo-terminal disappears for `duration` (serial devices only).
    Unplug,
}

/// One scripted event.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When, from the start of the scenario.
    #[serde(with = "crate::config::duration")]
    pub at: Duration,
    pub kind: EventKind,
    /// For `intrusion`: where.
    #[serde(default)]
    pub chainage_m: Option<f64>,
    /// For `intrusion`: speed along the wall, metres per second (negative
    /// towards chainage 0). Default 0.
    #[serde(default)]
    pub speed_m_s: f64,
    /// For device events: which device.
    #[serde(default)]
    pub device: Option<String>,
    /// How long it lasts. Default `"10s"`.
    #[serde(default = "default_event_duration", with = "crate::config::duration")]
    pub duration: Duration,
    /// For `tamper`: `ENCLOSURE`, `CUT` or `POWER`. Default `CUT`.
    #[serde(default)]
    pub tamper: Option<String>,
    /// For `garbage`: how many bad lines. Default 50.
    #[serde(default)]
    pub lines: Option<u32>,
}

fn default_seed() -> u64 {
    1
}
fn default_duration() -> Duration {
    Duration::from_secs(60)
}
fn default_report() -> Duration {
    Duration::from_millis(500)
}
fn default_heartbeat() -> Duration {
    Duration::from_secs(5)
}
fn default_event_duration() -> Duration {
    Duration::from_secs(10)
}

impl Scenario {
    /// Parses scenario text, checking events against the configured devices.
    pub fn parse(
        file: &str,
        text: &str,
        devices: &HashSet<String>,
    ) -> Result<Self, Vec<Diagnostic>> {
        let source = diagnostics::SourceMap::parse(file, text)?;
        let s: Scenario = diagnostics::deserialize_all(file, text)?;
        let mut problems = Vec::new();
        let key = |k: &str| diagnostics::PathSeg::Key(k.to_owned());
        for (i, dev) in s.serial.iter().enumerate() {
            if !devices.contains(dev) {
                problems.push(source.diagnostic(
                    &[key("serial"), diagnostics::PathSeg::Index(i)],
                    format!("`{dev}` is not a device of the rampart config"),
                ));
            }
        }
        for (i, ev) in s.events.iter().enumerate() {
            let path = [key("events"), diagnostics::PathSeg::Index(i)];
            let needs_device = ev.kind != EventKind::Intrusion;
            match (&ev.device, needs_device) {
                (Some(d), true) if !devices.contains(d) => problems.push(source.diagnostic(
                    &path,
                    format!("`{d}` is not a device of the rampart config"),
                )),
                (None, true) => {
                    problems.push(source.diagnostic(&path, "this event needs `device`"))
                }
                _ => {}
            }
            if ev.kind == EventKind::Intrusion && ev.chainage_m.is_none() {
                problems.push(source.diagnostic(&path, "an intrusion needs `chainage_m`"));
            }
            if ev.kind == EventKind::Unplug
                && !ev.device.as_ref().is_some_and(|d| s.serial.contains(d))
            {
                problems.push(
                    source.diagnostic(&path, "only a device listed in `serial` can be unplugged"),
                );
            }
            if let Some(t) = &ev.tamper {
                if !["ENCLOSURE", "CUT", "POWER"].contains(&t.as_str()) {
                    problems
                        .push(source.diagnostic(&path, "tamper must be ENCLOSURE, CUT or POWER"));
                }
            }
        }
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(problems)
        }
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path, devices: &HashSet<String>) -> Result<Self, Vec<Diagnostic>> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic {
                file: file.clone(),
                line: 0,
                column: 0,
                key_path: String::new(),
                message: format!("cannot read: {e}"),
            }]
        })?;
        Self::parse(&file, &text, devices)
    }
}
