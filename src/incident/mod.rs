//! Incidents: findings in, alert messages and segment states out. A pure
//! state machine with the time passed in.
//!
//! - Intrusion evidence is fused by position, not by segment (see
//!   [`fusion`]): it joins the nearest open intrusion incident within
//!   `radius_m`, and the incident follows its evidence along the wall. When
//!   its position passes [`fusion::MOVE_MARGIN_M`] beyond a segment
//!   boundary, the incident moves: its next message, published at once,
//!   carries the new segment (on the new segment's topic), the same id,
//!   rev + 1 and `moved_from` naming the segment it left; the old segment's
//!   state drops the incident and the new one's takes it.
//! - Weak evidence from one sensor alone may be held back until another
//!   sensor corroborates it; held incidents are not published and expire
//!   after `hold` (counted in [`FusionStats`]).
//! - Updates: a new sensor, a higher priority or a move is published at
//!   once; further evidence at most every `min_update_interval`. An intrusion
//!   clears after `quiet_period` without evidence.
//! - Tamper is per device, `critical`, never suppressed or rate-limited when
//!   its kind changes, and clears only on the controller's `CLEAR` (or, for
//!   a suspected substitution, when the engine says the rejections are
//!   over). A suspected substitution joins the device's tamper incident.
//! - An operator's acknowledgement is carried in the incident's next message
//!   (`acked_by`, `acked_at`, published at once); an acknowledged incident is
//!   not updated again until new evidence raises its priority, which drops
//!   the acknowledgement and asks for attention again. Moves and clears are
//!   always published.
//! - `sensor_offline` and `sensor_fault` are per device and clear when the
//!   device speaks again or reports `OK`; the segments the device covers are
//!   `degraded` meanwhile. So are a windy fence controller's segments and
//!   the segments of a camera whose scene has lost its contrast.
//! - After a restart, the incidents the previous run left open are adopted
//!   with their ids and revisions ([`IncidentBook::resume`], in [`resume`]).

pub mod fusion;
mod resume;
mod segments;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::alert::{AlertKind, AlertMessage, AlertState, Priority};
use crate::evidence::{Evidence, EvidenceKind};
use crate::layout::Layout;
use crate::rules::Finding;
use crate::time::Timestamp;
use crate::wall::{SegmentIndex, Wall};

use fusion::Fusion;
pub use resume::{closing_message, ResumeReport, Resumed, SkipReason, Skipped};
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

/// Counts of what fusion did (plain numbers; the daemon turns them into
/// counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FusionStats {
    /// Intrusion incidents started held back, waiting for corroboration.
    pub held: u64,
    /// Held incidents that were corroborated and raised.
    pub held_raised: u64,
    /// Held incidents dropped: nothing corroborated them within `hold`.
    pub held_expired: u64,
    /// Evidence that joined an existing intrusion incident.
    pub joined: u64,
    /// Moves of an intrusion incident to another segment.
    pub moved: u64,
    /// Animals cameras reported near the wall.
    pub animal_sightings: u64,
}

/// Ordered (intrusions by number first), so that every walk over the open
/// incidents — which one evidence joins on a tie, what a tick clears — is
/// the same on every run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Intrusion(u64),
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
    /// Held back, not published yet: waiting for corroboration.
    held: bool,
    /// The segment it just left, for its next message.
    moved_from: Option<SegmentIndex>,
    /// When it was adopted from a previous run, if it was: it counts as
    /// heard from then (see [`Incident::heard_at`]).
    resumed_at: Option<Timestamp>,
    /// The priority and confidence a previous run last published, for a
    /// resumed intrusion: [`assess`] never goes below them, since the
    /// strengths of its sensors are only approximated from its trail.
    floor: (Priority, f64),
}

impl Incident {
    /// When it was last heard of, for the quiet period and for joining: its
    /// last evidence, or its resumption if that is later (evidence may have
    /// been missed while the daemon was down).
    fn heard_at(&self) -> Timestamp {
        self.resumed_at
            .map_or(self.last_seen, |t| t.max(self.last_seen))
    }
}

/// Every open incident, and the state of every segment.
#[derive(Debug)]
pub struct IncidentBook {
    wall: Arc<Wall>,
    layout: Arc<Layout>,
    timing: Timing,
    fusion: Fusion,
    instance: String,
    id_prefix: String,
    next_id: u64,
    /// The number of the next [`Key::Intrusion`] (resumed intrusions have
    /// keys but no number in this run's ids).
    next_intrusion: u64,
    open: BTreeMap<Key, Incident>,
    board: SegmentBoard,
    stats: FusionStats,
    /// Animals cameras saw lately: when, and where.
    animals: Vec<(Timestamp, f64)>,
}

impl IncidentBook {
    /// A book whose incident ids are `<id_prefix>-<n>`; the prefix must make
    /// them unique across restarts (the daemon uses its instance id, its
    /// start time and random bits).
    pub fn new(
        wall: Arc<Wall>,
        layout: Arc<Layout>,
        timing: Timing,
        fusion: Fusion,
        instance: &str,
        id_prefix: &str,
    ) -> Self {
        Self {
            wall,
            layout,
            timing,
            fusion,
            instance: instance.to_owned(),
            id_prefix: id_prefix.to_owned(),
            next_id: 1,
            next_intrusion: 1,
            open: BTreeMap::new(),
            board: SegmentBoard::default(),
            stats: FusionStats::default(),
            animals: Vec::new(),
        }
    }

    /// The initial state of every segment some sensor covers, to publish at
    /// start-up (replacing whatever a previous run left retained).
    pub fn initial_states(&mut self, now: Timestamp) -> Vec<Output> {
        let covered = self.layout.covered_segments();
        self.board.initial(&covered, now)
    }

    /// Takes a reloaded config's layout (where devices and cameras are),
    /// incident timing and fusion settings. Open incidents and the segment
    /// board stay; segments the new layout covers for the first time get
    /// their initial state with the next outputs.
    pub fn reconfigure(&mut self, layout: Arc<Layout>, timing: Timing, fusion: Fusion) {
        let before = self.layout.covered_segments();
        let added: Vec<SegmentIndex> = layout
            .covered_segments()
            .into_iter()
            .filter(|s| before.binary_search(s).is_err())
            .collect();
        self.board.touch(&added);
        self.layout = layout;
        self.timing = timing;
        self.fusion = fusion;
    }

    /// Segment states changed since the last outputs (after a reconfigure).
    pub fn segment_changes(&mut self, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        self.publish_segments(now, &mut out);
        out
    }

    /// Number of open (published) incidents.
    pub fn open_count(&self) -> usize {
        self.open.values().filter(|i| !i.held).count()
    }

    /// What fusion has done so far.
    pub fn fusion_stats(&self) -> FusionStats {
        self.stats
    }

    /// Applies a finding at `now`.
    pub fn on_finding(&mut self, finding: Finding, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        match finding {
            Finding::Intrusion(ev) => self.add_intrusion(ev, now, &mut out),
            Finding::Tamper {
                device, evidence, ..
            }
            | Finding::Substitution { device, evidence } => {
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
                self.set_device_degraded(&device, "fault", true);
                self.add_evidence(
                    Key::Fault(device),
                    AlertKind::SensorFault,
                    evidence,
                    now,
                    &mut out,
                );
            }
            Finding::FaultCleared { device, .. } => {
                self.set_device_degraded(&device, "fault", false);
                self.clear(&Key::Fault(device), now, &mut out);
            }
            Finding::Offline { device, evidence } => {
                self.set_device_degraded(&device, "offline", true);
                self.add_evidence(
                    Key::Offline(device),
                    AlertKind::SensorOffline,
                    evidence,
                    now,
                    &mut out,
                );
            }
            Finding::Online { device, .. } => {
                self.set_device_degraded(&device, "offline", false);
                self.clear(&Key::Offline(device), now, &mut out);
            }
            Finding::Wind { device, on, .. } => self.set_device_degraded(&device, "wind", on),
        }
        self.publish_segments(now, &mut out);
        out
    }

    /// A camera saw animals at these chainages at `now`. For the fusion
    /// `window` after, held evidence within `radius_m` of one needs
    /// `animal_margin` more strength to be raised: the animal may explain it.
    pub fn on_animals(&mut self, chainages_m: &[f64], now: Timestamp) {
        let window = self.fusion.window;
        self.animals.retain(|(t, _)| now.since(*t) <= window);
        self.animals.extend(chainages_m.iter().map(|c| (now, *c)));
        self.stats.animal_sightings += chainages_m.len() as u64;
    }

    /// Whether a camera saw an animal near `chainage_m` lately.
    fn animal_near(&self, chainage_m: f64, now: Timestamp) -> bool {
        self.animals.iter().any(|(t, c)| {
            now.since(*t) <= self.fusion.window && (c - chainage_m).abs() <= self.fusion.radius_m
        })
    }

    /// Whether an intrusion's evidence is strong enough to raise it, given
    /// the animals seen nearby.
    fn may_raise(&self, inc: &Incident, now: Timestamp) -> bool {
        let margin = if self.animal_near(inc.chainage_m, now) {
            self.fusion.animal_margin
        } else {
            0.0
        };
        self.fusion.corroborated(&inc.sensors, &inc.trail, margin)
    }

    /// A camera's scene lost its contrast (`low`) or got it back: the
    /// segments it watches are `degraded` meanwhile.
    pub fn on_camera_contrast(&mut self, camera: &str, low: bool, now: Timestamp) -> Vec<Output> {
        let segments = self.layout.camera_segments(camera).to_vec();
        self.board
            .set_degraded(&segments, camera, "low_contrast", low);
        let mut out = Vec::new();
        self.publish_segments(now, &mut out);
        out
    }

    /// An operator's acknowledgement of incident `id`. The incident's next
    /// message, published at once, carries `acked_by` and `acked_at`; until
    /// its priority rises it is not updated again (a clear is still
    /// published). Returns `None` when no open incident has this id.
    pub fn on_ack(&mut self, id: &str, by: &str, now: Timestamp) -> Option<Vec<Output>> {
        let inc = self
            .open
            .values_mut()
            .find(|inc| inc.id == id && !inc.held)?;
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

    /// Publishes due updates, clears quiet intrusions and drops held
    /// incidents nothing corroborated.
    pub fn on_tick(&mut self, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        let expired: Vec<Key> = self
            .open
            .iter()
            .filter(|(_, inc)| inc.held && now.since(inc.first_seen) >= self.fusion.hold)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            self.open.remove(&key);
            self.stats.held_expired += 1;
        }
        let quiet: Vec<Key> = self
            .open
            .iter()
            .filter(|(k, inc)| {
                matches!(k, Key::Intrusion(_))
                    && now.since(inc.heard_at()) >= self.timing.quiet_period
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

    fn set_device_degraded(&mut self, device: &str, reason: &'static str, on: bool) {
        if let Some(spec) = self.layout.device(device) {
            let segments = spec.segments.clone();
            self.board.set_degraded(&segments, device, reason, on);
        }
    }

    /// Intrusion evidence: joins the nearest open intrusion incident it is
    /// close enough to, or starts one (held back if it needs corroboration).
    fn add_intrusion(&mut self, ev: Evidence, now: Timestamp, out: &mut Vec<Output>) {
        let nearest = self
            .open
            .iter()
            .filter(|(k, inc)| {
                matches!(k, Key::Intrusion(_))
                    && fusion::still_open_to(inc.heard_at(), ev.at, self.fusion.window)
            })
            .filter_map(|(k, inc)| {
                self.fusion
                    .join_distance(inc.chainage_m, &ev)
                    .map(|d| (d, k.clone()))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k);
        let Some(key) = nearest else {
            let key = Key::Intrusion(self.next_intrusion);
            self.next_intrusion += 1;
            self.start(key, AlertKind::Intrusion, ev, now, out);
            return;
        };
        self.stats.joined += 1;
        let Some(inc) = self.open.get_mut(&key) else {
            return;
        };
        let new_sensor = !inc.sensors.contains_key(&ev.sensor);
        push_trail(inc, ev);
        let before = inc.priority;
        assess(inc);
        let held = inc.held;
        let raise = held
            && self
                .open
                .get(&key)
                .is_some_and(|inc| self.may_raise(inc, now));
        let Some(inc) = self.open.get_mut(&key) else {
            return;
        };
        if held {
            if raise {
                inc.held = false;
                inc.segment = self.wall.segment_at(inc.chainage_m);
                self.stats.held_raised += 1;
                out.push(Output::Alert(publish(
                    inc,
                    AlertState::Raised,
                    now,
                    &self.wall,
                    &self.instance,
                )));
                self.board.open_incident(inc.segment, &inc.id, inc.kind);
            }
            return;
        }
        let moved = self
            .wall
            .segment(inc.segment)
            .is_some_and(|seg| fusion::should_move(inc.chainage_m, (seg.start_m, seg.end_m)));
        if moved {
            let from = inc.segment;
            inc.segment = self.wall.segment_at(inc.chainage_m);
            inc.moved_from = Some(from);
            self.stats.moved += 1;
            self.board.close_incident(from, &inc.id);
            self.board.open_incident(inc.segment, &inc.id, inc.kind);
        }
        let raised_priority = inc.priority > before;
        if inc.acked.is_some() && raised_priority {
            // A higher priority asks for attention again (and a new
            // acknowledgement).
            inc.acked = None;
        }
        let quiet = inc.acked.is_some();
        if moved || (!quiet && (new_sensor || raised_priority)) {
            out.push(Output::Alert(publish(
                inc,
                AlertState::Updated,
                now,
                &self.wall,
                &self.instance,
            )));
        } else if !quiet {
            inc.pending = true;
        }
    }

    /// Device-level evidence (tamper, offline, fault): one incident per
    /// device and kind.
    fn add_evidence(
        &mut self,
        key: Key,
        kind: AlertKind,
        ev: Evidence,
        now: Timestamp,
        out: &mut Vec<Output>,
    ) {
        let Some(inc) = self.open.get_mut(&key) else {
            self.start(key, kind, ev, now, out);
            return;
        };
        let new_detail = inc.trail.back().is_none_or(|last| last.detail != ev.detail);
        push_trail(inc, ev);
        assess(inc);
        // Tamper of a new kind is news, even after an acknowledgement (which
        // it drops); a repeated heartbeat fault is not.
        let news = kind == AlertKind::Tamper && new_detail;
        if news {
            inc.acked = None;
        }
        if inc.acked.is_some() {
            return;
        }
        if news {
            out.push(Output::Alert(publish(
                inc,
                AlertState::Updated,
                now,
                &self.wall,
                &self.instance,
            )));
        } else if kind == AlertKind::Tamper {
            inc.pending = true;
        }
    }

    /// Opens a new incident from its first evidence; an intrusion that needs
    /// corroboration is held back instead of raised.
    fn start(
        &mut self,
        key: Key,
        kind: AlertKind,
        ev: Evidence,
        now: Timestamp,
        out: &mut Vec<Output>,
    ) {
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
            held: false,
            moved_from: None,
            resumed_at: None,
            floor: (Priority::Low, 0.0),
        };
        push_trail(&mut inc, ev);
        assess(&mut inc);
        if kind == AlertKind::Intrusion && !self.may_raise(&inc, now) {
            inc.held = true;
            self.stats.held += 1;
        } else {
            out.push(Output::Alert(publish(
                &mut inc,
                AlertState::Raised,
                now,
                &self.wall,
                &self.instance,
            )));
            self.board.open_incident(segment, &inc.id, kind);
        }
        self.open.insert(key, inc);
    }

    fn clear(&mut self, key: &Key, now: Timestamp, out: &mut Vec<Output>) {
        let Some(mut inc) = self.open.remove(key) else {
            return;
        };
        if inc.held {
            self.stats.held_expired += 1;
            return;
        }
        out.push(Output::Alert(publish(
            &mut inc,
            AlertState::Cleared,
            now,
            &self.wall,
            &self.instance,
        )));
        self.board.close_incident(inc.segment, &inc.id);
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
            inc.priority = fusion::priority(&inc.sensors).max(inc.floor.0);
            inc.confidence = fusion::confidence(&inc.sensors).max(inc.floor.1);
            if let Some(p) = fusion::position(&inc.trail) {
                inc.chainage_m = p;
            }
            let kinds: std::collections::BTreeSet<String> = inc
                .sensors
                .values()
                .map(|(k, _)| format!("{k:?}").to_lowercase())
                .collect();
            inc.summary = format!(
                "intrusion evidence from {} sensor(s) ({})",
                inc.sensors.len(),
                kinds.into_iter().collect::<Vec<_>>().join(" + ")
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
        moved_from: inc.moved_from.take().map(|s| s.to_string()),
    }
}

#[cfg(test)]
mod tests;
