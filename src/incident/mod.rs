//! Incidents: findings in, alert messages and segment states out. A pure
//! state machine with the time passed in.
//!
//! - An intrusion incident is keyed by segment: evidence placed in a segment
//!   that already has an open intrusion updates it (rev + 1) instead of
//!   raising another. New sensors or a higher priority are published at
//!   once; further evidence at most every `min_update_interval`. It clears
//!   after `quiet_period` without evidence.
//! - Tamper is per device, `critical`, never suppressed or rate-limited when
//!   its kind changes, and clears only on the controller's `CLEAR`.
//! - An operator's acknowledgement is carried in the incident's next message
//!   (`acked_by`, `acked_at`, published at once); an acknowledged incident is
//!   not updated again until new evidence raises its priority, which drops
//!   the acknowledgement and asks for attention again. Clears are always
//!   published.
//! - `sensor_offline` and `sensor_fault` are per device and clear when the
//!   device speaks again or reports `OK`; the segments the device covers are
//!   `degraded` meanwhile.

mod segments;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::alert::{AlertKind, AlertMessage, AlertState, Priority};
use crate::evidence::{Evidence, EvidenceKind};
use crate::layout::Layout;
use crate::rules::Finding;
use crate::time::Timestamp;
use crate::wall::{SegmentIndex, Wall};

pub use segments::SegmentBoard;

/// How many pieces of evidence an incident keeps (and sends) in its trail.
pub const TRAIL_LEN: usize = 32;

/// Timing of incidents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub quiet_period: Duration,
    pub min_update_interval: Duration,
}

/// What the incident book wants published.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Alert(AlertMessage),
    Segment(SegmentIndex, crate::alert::SegmentState),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Intrusion(SegmentIndex),
    Tamper(String),
    Offline(String),
    Fault(String),
}

#[derive(Debug)]
struct Incident {
    id: String,
    rev: u32,
    kind: AlertKind,
    segment: SegmentIndex,
    chainage_m: f64,
    /// Every sensor that contributed, with its kind and strongest evidence.
    sensors: BTreeMap<String, (EvidenceKind, f64)>,
    trail: VecDeque<Evidence>,
    evidence_total: u64,
    first_seen: Timestamp,
    last_seen: Timestamp,
    last_published: Timestamp,
    priority: Priority,
    confidence: f64,
    /// Evidence arrived that has not been published yet.
    pending: bool,
    summary: String,
    /// Who acknowledged it and when; cleared again if its priority rises.
    acked: Option<(String, Timestamp)>,
}

/// Every open incident, and the state of every segment.
#[derive(Debug)]
pub struct IncidentBook {
    wall: Arc<Wall>,
    layout: Arc<Layout>,
    timing: Timing,
    instance: String,
    id_prefix: String,
    next_id: u64,
    open: HashMap<Key, Incident>,
    board: SegmentBoard,
}

impl IncidentBook {
    /// A book whose incident ids are `<id_prefix>-<n>`; the prefix must make
    /// them unique across restarts (the daemon uses its instance id, its
    /// start time and random bits).
    pub fn new(
        wall: Arc<Wall>,
        layout: Arc<Layout>,
        timing: Timing,
        instance: &str,
        id_prefix: &str,
    ) -> Self {
        Self {
            wall,
            layout,
            timing,
            instance: instance.to_owned(),
            id_prefix: id_prefix.to_owned(),
            next_id: 1,
            open: HashMap::new(),
            board: SegmentBoard::default(),
        }
    }

    /// The initial state of every segment some sensor covers, to publish at
    /// start-up (replacing whatever a previous run left retained).
    pub fn initial_states(&mut self, now: Timestamp) -> Vec<Output> {
        let covered = self.layout.covered_segments();
        self.board.initial(&covered, now)
    }

    /// Number of open incidents.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Applies a finding at `now`.
    pub fn on_finding(&mut self, finding: Finding, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        match finding {
            Finding::Intrusion(ev) => {
                let segment = self.wall.segment_at(ev.chainage_m);
                self.add_evidence(
                    Key::Intrusion(segment),
                    AlertKind::Intrusion,
                    ev,
                    now,
                    &mut out,
                );
            }
            Finding::Tamper {
                device, evidence, ..
            } => {
                self.add_evidence(
                    Key::Tamper(device),
                    AlertKind::Tamper,
                    evidence,
                    now,
                    &mut out,
                );
            }
            Finding::TamperCleared { device, .. } => {
                self.clear(&Key::Tamper(device), now, &mut out)
            }
            Finding::Fault { device, evidence } => {
                self.board
                    .set_degraded(&self.layout, &device, "fault", true);
                self.add_evidence(
                    Key::Fault(device),
                    AlertKind::SensorFault,
                    evidence,
                    now,
                    &mut out,
                );
            }
            Finding::FaultCleared { device, .. } => {
                self.board
                    .set_degraded(&self.layout, &device, "fault", false);
                self.clear(&Key::Fault(device), now, &mut out);
            }
            Finding::Offline { device, evidence } => {
                self.board
                    .set_degraded(&self.layout, &device, "offline", true);
                self.add_evidence(
                    Key::Offline(device),
                    AlertKind::SensorOffline,
                    evidence,
                    now,
                    &mut out,
                );
            }
            Finding::Online { device, .. } => {
                self.board
                    .set_degraded(&self.layout, &device, "offline", false);
                self.clear(&Key::Offline(device), now, &mut out);
            }
        }
        self.publish_segments(now, &mut out);
        out
    }

    /// An operator's acknowledgement of incident `id`. The incident's next
    /// message, published at once, carries `acked_by` and `acked_at`; until
    /// its priority rises it is not updated again (a clear is still
    /// published). Returns `None` when no open incident has this id.
    pub fn on_ack(&mut self, id: &str, by: &str, now: Timestamp) -> Option<Vec<Output>> {
        let inc = self.open.values_mut().find(|inc| inc.id == id)?;
        if inc.acked.is_none() {
            inc.acked = Some((by.to_owned(), now));
        }
        Some(vec![Output::Alert(publish(
            inc,
            AlertState::Updated,
            now,
            &self.wall,
            &self.instance,
        ))])
    }

    /// Publishes due updates and clears quiet intrusions.
    pub fn on_tick(&mut self, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        let quiet: Vec<Key> = self
            .open
            .iter()
            .filter(|(k, inc)| {
                matches!(k, Key::Intrusion(_))
                    && now.since(inc.last_seen) >= self.timing.quiet_period
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in quiet {
            self.clear(&key, now, &mut out);
        }
        let due: Vec<Key> = self
            .open
            .iter()
            .filter(|(_, inc)| {
                inc.pending && now.since(inc.last_published) >= self.timing.min_update_interval
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(inc) = self.open.get_mut(&key) {
                out.push(Output::Alert(publish(
                    inc,
                    AlertState::Updated,
                    now,
                    &self.wall,
                    &self.instance,
                )));
            }
        }
        self.publish_segments(now, &mut out);
        out
    }

    fn add_evidence(
        &mut self,
        key: Key,
        kind: AlertKind,
        ev: Evidence,
        now: Timestamp,
        out: &mut Vec<Output>,
    ) {
        if let Some(inc) = self.open.get_mut(&key) {
            let new_sensor = !inc.sensors.contains_key(&ev.sensor);
            let new_detail = inc.trail.back().is_none_or(|last| last.detail != ev.detail);
            push_trail(inc, ev);
            let before = inc.priority;
            assess(inc);
            // Tamper of a new kind is news; a repeated heartbeat fault is not.
            let raised_priority = inc.priority > before;
            let news = new_sensor || raised_priority || (kind == AlertKind::Tamper && new_detail);
            if inc.acked.is_some() {
                // Acknowledged: quiet until the priority rises, which asks
                // for attention again (and a new acknowledgement).
                if !raised_priority {
                    return;
                }
                inc.acked = None;
            }
            if news {
                out.push(Output::Alert(publish(
                    inc,
                    AlertState::Updated,
                    now,
                    &self.wall,
                    &self.instance,
                )));
            } else if kind == AlertKind::Intrusion || kind == AlertKind::Tamper {
                inc.pending = true;
            }
            return;
        }
        let segment = self.wall.segment_at(ev.chainage_m);
        let id = format!("{}-{}", self.id_prefix, self.next_id);
        self.next_id += 1;
        let mut inc = Incident {
            id,
            rev: 0,
            kind,
            segment,
            chainage_m: ev.chainage_m,
            sensors: BTreeMap::new(),
            trail: VecDeque::new(),
            evidence_total: 0,
            first_seen: ev.at,
            last_seen: ev.at,
            last_published: now,
            priority: Priority::Low,
            confidence: 0.0,
            pending: false,
            summary: String::new(),
            acked: None,
        };
        push_trail(&mut inc, ev);
        assess(&mut inc);
        out.push(Output::Alert(publish(
            &mut inc,
            AlertState::Raised,
            now,
            &self.wall,
            &self.instance,
        )));
        self.board.open_incident(segment, &inc.id, kind);
        self.open.insert(key, inc);
    }

    fn clear(&mut self, key: &Key, now: Timestamp, out: &mut Vec<Output>) {
        if let Some(mut inc) = self.open.remove(key) {
            out.push(Output::Alert(publish(
                &mut inc,
                AlertState::Cleared,
                now,
                &self.wall,
                &self.instance,
            )));
            self.board.close_incident(inc.segment, &inc.id);
        }
    }

    fn publish_segments(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        out.extend(self.board.take_changes(now));
    }
}

fn push_trail(inc: &mut Incident, ev: Evidence) {
    inc.last_seen = inc.last_seen.max(ev.at);
    let strength = ev.strength();
    let entry = inc
        .sensors
        .entry(ev.sensor.clone())
        .or_insert((ev.kind, strength));
    entry.1 = entry.1.max(strength);
    inc.evidence_total += 1;
    if inc.trail.len() == TRAIL_LEN {
        inc.trail.pop_front();
    }
    inc.trail.push_back(ev);
}

/// Priority, confidence, position and summary from the evidence held.
fn assess(inc: &mut Incident) {
    match inc.kind {
        AlertKind::Intrusion => {
            // Every sensor the incident has heard from, so priority never
            // drops while the incident is open.
            let kinds: BTreeSet<EvidenceKind> = inc.sensors.values().map(|(k, _)| *k).collect();
            let miss: f64 = inc
                .sensors
                .values()
                .map(|(k, s)| 1.0 - sensor_probability(*k, *s))
                .product();
            inc.confidence = ((1.0 - miss) * 100.0).round() / 100.0;
            inc.priority = match kinds.len() {
                0 | 1 => Priority::Medium,
                2 => Priority::High,
                _ => Priority::Critical,
            };
            // Strength-weighted position of the recent evidence.
            let (sum, weight) = inc.trail.iter().fold((0.0, 0.0), |(s, w), ev| {
                (s + ev.chainage_m * ev.strength(), w + ev.strength())
            });
            if weight > 0.0 {
                inc.chainage_m = sum / weight;
            }
            let names: Vec<String> = kinds
                .iter()
                .map(|k| format!("{k:?}").to_lowercase())
                .collect();
            inc.summary = format!(
                "intrusion evidence from {} sensor(s) ({})",
                inc.sensors.len(),
                names.join(" + ")
            );
        }
        AlertKind::Tamper => {
            inc.priority = Priority::Critical;
            inc.confidence = 1.0;
            let what = inc.trail.back().map(|e| e.detail.as_str()).unwrap_or("");
            inc.summary = format!("tamper {what} at controller {}", device_of(inc));
        }
        AlertKind::SensorOffline => {
            inc.priority = Priority::High;
            inc.confidence = 1.0;
            inc.summary = format!("controller {} offline", device_of(inc));
        }
        AlertKind::SensorFault => {
            inc.priority = Priority::Medium;
            inc.confidence = 1.0;
            inc.summary = format!("controller {} reports a fault", device_of(inc));
        }
    }
}

fn device_of(inc: &Incident) -> &str {
    inc.sensors.keys().next().map(String::as_str).unwrap_or("?")
}

/// How likely one sensor's evidence alone marks a real intrusion: a base per
/// kind, rising with how far over threshold it went.
fn sensor_probability(kind: EvidenceKind, strength: f64) -> f64 {
    let base = match kind {
        EvidenceKind::Beam => 0.6,
        EvidenceKind::Thermal => 0.55,
        EvidenceKind::Fence | EvidenceKind::Ground => 0.5,
        EvidenceKind::Tamper | EvidenceKind::Heartbeat => 0.9,
    };
    let over = (strength.clamp(1.0, 3.0) - 1.0) / 2.0;
    (base * (0.8 + 0.4 * over)).min(0.95)
}

fn publish(
    inc: &mut Incident,
    state: AlertState,
    now: Timestamp,
    wall: &Wall,
    instance: &str,
) -> AlertMessage {
    inc.rev += 1;
    inc.pending = false;
    inc.last_published = now;
    // Device-level incidents stay in the segment they were raised in; an
    // intrusion's position is its best estimate, clamped into its segment.
    let chainage_m = match wall.segment(inc.segment) {
        Some(seg) if inc.kind == AlertKind::Intrusion => {
            inc.chainage_m.clamp(seg.start_m, seg.end_m)
        }
        _ => inc.chainage_m,
    };
    let pos = wall.position_at(chainage_m);
    AlertMessage {
        id: inc.id.clone(),
        rev: inc.rev,
        state,
        kind: inc.kind,
        priority: inc.priority,
        confidence: inc.confidence,
        segment: inc.segment.0,
        segment_id: inc.segment.to_string(),
        chainage_m: (chainage_m * 10.0).round() / 10.0,
        lat: pos.lat,
        lon: pos.lon,
        sensors: inc.sensors.keys().cloned().collect(),
        evidence: inc.trail.iter().cloned().collect(),
        first_seen: inc.first_seen,
        last_seen: inc.last_seen,
        published_at: now,
        evidence_total: inc.evidence_total,
        summary: inc.summary.clone(),
        instance: instance.to_owned(),
        acked_by: inc.acked.as_ref().map(|(by, _)| by.clone()),
        acked_at: inc.acked.as_ref().map(|(_, at)| *at),
    }
}

#[cfg(test)]
mod tests;
