//! Scoring detection against ground truth: which real crossings raised an
//! alert (Pd), which alerts had no crossing behind them (nuisance alarms),
//! how fast and how well placed the alerts were. Pure: it compares what a
//! run published with what a scenario says happened.
//!
//! Rules (also in the README's tuning section):
//! - An intrusion incident **matches** a threat when one of its messages
//!   was published while the threat was present (from its start to
//!   [`MATCH_GRACE_S`] after its end) and placed within [`MATCH_RADIUS_M`]
//!   of the threat's chainage at that moment.
//! - A threat is **detected** when a matched message (`raised`, or an
//!   `updated` of an incident already open there — the operator already has
//!   an alert on that spot) was published while it was present.
//! - Every intrusion incident that matches no threat is a **nuisance
//!   alarm**. Tamper, offline and fault alerts are not intrusions and are
//!   scored separately against the scenario's device events.
//! - **Time to alert**, from the first matched message: from the first
//!   evidence, its `published_at` minus the incident's `first_seen` for a
//!   `raised` message (what was held back waiting for corroboration
//!   counts) or minus the oldest evidence of that message since the threat
//!   began for an `updated` one; from the deciding evidence, minus the
//!   newest evidence in the message.
//! - **Location error**: along the wall, |chainage published − the threat's
//!   chainage then|, over every matched message carrying camera evidence.
//! - **NAR**: nuisance alarms per 100 km of covered wall per day of
//!   scenario time, with the exact 95 % Poisson upper bound.

pub mod report;
#[cfg(feature = "sim")]
pub mod runner;
pub mod stats;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::alert::{AlertKind, AlertMessage, AlertState};
use crate::evidence::EvidenceKind;
use crate::time::Timestamp;

/// An alert within this many metres of a threat can be its alert.
pub const MATCH_RADIUS_M: f64 = 200.0;
/// How long after a threat leaves a message may still be about it, seconds.
pub const MATCH_GRACE_S: f64 = 30.0;

/// Where a threat was at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThreatPoint {
    /// Seconds from the start of the scenario.
    pub t_s: f64,
    pub chainage_m: f64,
}

/// Someone (or a vehicle) who should raise an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Threat {
    pub id: String,
    pub kind: String,
    pub start_s: f64,
    pub end_s: f64,
    /// In time order; at least one point.
    pub track: Vec<ThreatPoint>,
}

impl Threat {
    /// The chainage at `t_s`, interpolated along the track (held at its ends).
    pub fn chainage_at(&self, t_s: f64) -> Option<f64> {
        let first = self.track.first()?;
        let last = self.track.last()?;
        if t_s <= first.t_s {
            return Some(first.chainage_m);
        }
        if t_s >= last.t_s {
            return Some(last.chainage_m);
        }
        let i = self.track.partition_point(|p| p.t_s <= t_s);
        let (a, b) = (self.track[i - 1], self.track[i]);
        let f = if b.t_s > a.t_s {
            (t_s - a.t_s) / (b.t_s - a.t_s)
        } else {
            0.0
        };
        Some(a.chainage_m + f * (b.chainage_m - a.chainage_m))
    }
}

/// Something the daemon should report about a device (tamper, silence,
/// fault), and which alert kind says so.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvent {
    pub id: String,
    pub kind: String,
    pub devices: Vec<String>,
    pub start_s: f64,
    pub end_s: f64,
    /// The alert kind expected, `None` when none is (garbage, unplug).
    pub expect: Option<AlertKind>,
}

/// One scenario's run: what happened and what was published.
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    /// When scenario time 0 was, on the run's clock.
    pub epoch: Timestamp,
    pub duration_s: f64,
    /// Wall covered by the deployment's sensors, km.
    pub covered_km: f64,
    pub threats: Vec<Threat>,
    pub device_events: Vec<DeviceEvent>,
    /// Every alert message published, in order.
    pub alerts: Vec<AlertMessage>,
}

/// A threat and the alert that caught it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Detection {
    pub threat: String,
    pub kind: String,
    pub incident: String,
    pub segment_id: String,
    pub priority: Option<crate::alert::Priority>,
}

/// The score of one scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioScore {
    pub name: String,
    pub threats: u64,
    pub detected: u64,
    /// Ids of threats that raised nothing.
    pub missed: Vec<String>,
    /// Each detected threat, with the segment and priority of its first
    /// matched message.
    pub detections: Vec<Detection>,
    /// Every intrusion incident, with the segments it was published in, in
    /// order (more than one: it moved along the wall).
    pub incident_segments: BTreeMap<String, Vec<String>>,
    /// Incident ids of nuisance alarms, with where and what.
    pub nuisance_alarms: Vec<String>,
    /// Seconds from the first evidence to the raised message, per detected threat.
    pub tta_first_evidence_s: Vec<f64>,
    /// Seconds from the deciding evidence to the raised message.
    pub tta_decisive_s: Vec<f64>,
    /// Along-wall errors of matched messages with camera evidence, metres.
    pub camera_location_error_m: Vec<f64>,
    /// Along-wall errors of all matched messages, metres.
    pub location_error_m: Vec<f64>,
    pub device_events: u64,
    pub device_events_reported: u64,
    /// Device events expected but not reported.
    pub device_missed: Vec<String>,
    /// Scenario length, days, times the covered km: the NAR exposure.
    pub exposure_km_days: f64,
}

/// Scores one run.
pub fn score(run: &Run) -> ScenarioScore {
    let secs = |t: Timestamp| (t.millis() - run.epoch.millis()) as f64 / 1000.0;
    let mut incidents: BTreeMap<&str, Vec<&AlertMessage>> = BTreeMap::new();
    for a in run.alerts.iter().filter(|a| a.kind == AlertKind::Intrusion) {
        incidents.entry(a.id.as_str()).or_default().push(a);
    }
    let mut s = ScenarioScore {
        name: run.name.clone(),
        threats: run.threats.len() as u64,
        exposure_km_days: run.covered_km * run.duration_s / 86_400.0,
        ..Default::default()
    };
    for (id, msgs) in &incidents {
        let mut segments: Vec<String> = Vec::new();
        for m in msgs {
            if segments.last() != Some(&m.segment_id) {
                segments.push(m.segment_id.clone());
            }
        }
        s.incident_segments.insert((*id).to_owned(), segments);
    }
    let mut matched_incidents: std::collections::BTreeSet<&str> = Default::default();
    for threat in &run.threats {
        let mut first_match: Option<&AlertMessage> = None;
        for (id, msgs) in &incidents {
            let matching: Vec<&AlertMessage> = msgs
                .iter()
                .copied()
                .filter(|m| m.state != AlertState::Cleared)
                .filter(|m| {
                    let t = secs(m.published_at);
                    t >= threat.start_s - 1.0
                        && t <= threat.end_s + MATCH_GRACE_S
                        && threat
                            .chainage_at(t)
                            .is_some_and(|c| (c - m.chainage_m).abs() <= MATCH_RADIUS_M)
                })
                .collect();
            if matching.is_empty() {
                continue;
            }
            matched_incidents.insert(id);
            for m in &matching {
                let truth = threat
                    .chainage_at(secs(m.published_at))
                    .unwrap_or(m.chainage_m);
                let err = (m.chainage_m - truth).abs();
                s.location_error_m.push(err);
                if m.evidence.iter().any(|e| e.kind == EvidenceKind::Thermal) {
                    s.camera_location_error_m.push(err);
                }
            }
            if first_match.is_none_or(|f| matching[0].published_at < f.published_at) {
                first_match = Some(matching[0]);
            }
        }
        let Some(m) = first_match else {
            s.missed.push(format!("{} ({})", threat.id, threat.kind));
            continue;
        };
        s.detected += 1;
        s.detections.push(Detection {
            threat: threat.id.clone(),
            kind: threat.kind.clone(),
            incident: m.id.clone(),
            segment_id: m.segment_id.clone(),
            priority: Some(m.priority),
        });
        let since =
            |from: Timestamp| (m.published_at.millis() - from.millis()).max(0) as f64 / 1000.0;
        let first_evidence = if m.state == AlertState::Raised {
            m.first_seen
        } else {
            let began = run.epoch.plus(std::time::Duration::from_secs_f64(
                (threat.start_s - 1.0).max(0.0),
            ));
            m.evidence
                .iter()
                .map(|e| e.at)
                .filter(|at| *at >= began)
                .min()
                .unwrap_or(m.published_at)
        };
        s.tta_first_evidence_s.push(since(first_evidence));
        let decisive = m
            .evidence
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or(m.first_seen);
        s.tta_decisive_s.push(since(decisive));
    }
    for (id, msgs) in &incidents {
        if matched_incidents.contains(id) {
            continue;
        }
        let first = msgs[0];
        let why = first
            .evidence
            .last()
            .map(|e| e.detail.as_str())
            .unwrap_or_default();
        s.nuisance_alarms.push(format!(
            "{} at {:.0} m ({}), {:.1} s, sensors {}: {why}",
            id,
            first.chainage_m,
            first.segment_id,
            secs(first.published_at),
            first.sensors.join(" ")
        ));
    }
    for ev in &run.device_events {
        let Some(kind) = ev.expect else { continue };
        s.device_events += 1;
        let reported = run.alerts.iter().any(|a| {
            a.kind == kind
                && a.state == AlertState::Raised
                && secs(a.published_at) >= ev.start_s - 1.0
                && secs(a.published_at) <= ev.end_s + MATCH_GRACE_S
                && a.sensors.iter().any(|d| ev.devices.contains(d))
        });
        if reported {
            s.device_events_reported += 1;
        } else {
            s.device_missed.push(format!("{} ({})", ev.id, ev.kind));
        }
    }
    s
}

/// Figures over a library of scenarios.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub scenarios: usize,
    pub threats: u64,
    pub detected: u64,
    pub pd: f64,
    pub pd_ci95: (f64, f64),
    pub nuisance_alarms: u64,
    pub exposure_km_days: f64,
    /// Nuisance alarms per 100 km per day.
    pub nar_per_100km_day: f64,
    /// Its exact one-sided 95 % upper bound.
    pub nar_upper95_per_100km_day: f64,
    pub tta_first_evidence_p50_s: Option<f64>,
    pub tta_first_evidence_p99_s: Option<f64>,
    pub tta_decisive_p50_s: Option<f64>,
    pub tta_decisive_p99_s: Option<f64>,
    pub camera_location_error_median_m: Option<f64>,
    pub location_error_median_m: Option<f64>,
    pub device_events: u64,
    pub device_events_reported: u64,
}

/// Sums scenario scores.
pub fn summarize(scores: &[ScenarioScore]) -> Summary {
    let threats: u64 = scores.iter().map(|s| s.threats).sum();
    let detected: u64 = scores.iter().map(|s| s.detected).sum();
    let nuisance: u64 = scores.iter().map(|s| s.nuisance_alarms.len() as u64).sum();
    let exposure: f64 = scores.iter().map(|s| s.exposure_km_days).sum();
    let all = |f: fn(&ScenarioScore) -> &Vec<f64>| -> Vec<f64> {
        scores.iter().flat_map(|s| f(s).iter().copied()).collect()
    };
    let tta_first = all(|s| &s.tta_first_evidence_s);
    let tta_decisive = all(|s| &s.tta_decisive_s);
    let per_100km_day = |n: f64| {
        if exposure > 0.0 {
            n / exposure * 100.0
        } else {
            0.0
        }
    };
    Summary {
        scenarios: scores.len(),
        threats,
        detected,
        pd: if threats > 0 {
            detected as f64 / threats as f64
        } else {
            0.0
        },
        pd_ci95: stats::clopper_pearson_95(detected, threats),
        nuisance_alarms: nuisance,
        exposure_km_days: exposure,
        nar_per_100km_day: per_100km_day(nuisance as f64),
        nar_upper95_per_100km_day: per_100km_day(stats::poisson_upper_95(nuisance)),
        tta_first_evidence_p50_s: stats::percentile(&tta_first, 0.5),
        tta_first_evidence_p99_s: stats::percentile(&tta_first, 0.99),
        tta_decisive_p50_s: stats::percentile(&tta_decisive, 0.5),
        tta_decisive_p99_s: stats::percentile(&tta_decisive, 0.99),
        camera_location_error_median_m: stats::percentile(
            &all(|s| &s.camera_location_error_m),
            0.5,
        ),
        location_error_median_m: stats::percentile(&all(|s| &s.location_error_m), 0.5),
        device_events: scores.iter().map(|s| s.device_events).sum(),
        device_events_reported: scores.iter().map(|s| s.device_events_reported).sum(),
    }
}

#[cfg(test)]
mod tests;
