//! Replay: detection on recorded or simulated input, as fast as the CPU
//! allows.
//!
//! [`Replay`] is a pure, synchronous driver — no tokio, no MQTT, no clock.
//! It takes [`Record`]s in order (read from a recording with
//! [`Reader`](crate::record::format::Reader), or made up by a simulator) and
//! runs them through the same code as the daemon:
//!
//! - virtual time is each record's receipt time; the engine ticks every
//!   [`TICK`] of it (the daemon's period) from the start time on, between
//!   records;
//! - sentence bytes go through the same [`LineDecoder`] as live ingest: one
//!   per serial line, whose partial line carries over from one chunk to the
//!   next (and is dropped at a [`Payload::Reset`]), and a fresh one for each
//!   MQTT message, with the same device bindings as the live sources; bad
//!   lines count as rejections, as they do live;
//! - frames are decoded with the config's limits and processed inline by
//!   their camera's pipeline through [`process_frame`], like the camera
//!   workers do — but every frame, in order, none shed; the evidence goes
//!   to the engine at the frame's receipt time;
//! - acknowledgements go to the engine by incident id (with the recording's
//!   id prefix, the same config gives the same ids);
//! - after the last record (or the end marker) ticking goes on until the
//!   open intrusions have cleared, so the result is complete. Incidents
//!   *raised* after the end of the input are left out (and counted): they
//!   are deadlines running out because the recording stopped, not events.
//!
//! The result lists every incident with its alert messages, and counters;
//! [`compare`] tells two results apart and [`report`] prints them.

pub mod compare;
pub mod report;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::alert::{AlertKind, AlertMessage, AlertState, Priority};
use crate::camera::CameraPipeline;
use crate::config::Config;
use crate::engine::{Arrival, Delivery, Engine, Verdict};
use crate::frame::FrameLimits;
use crate::incident::Output;
use crate::ingest::camera::{self, process_frame};
use crate::ingest::{Ack, Binding, Decoded, LineDecoder};
use crate::record::{Header, Payload, Record, Source};
use crate::sentence::is_valid_id;
use crate::time::Timestamp;
use crate::wall::Wall;

/// The engine's tick period, the daemon's.
pub const TICK: Duration = crate::app::TICK;

/// In a gap between records longer than this, ticking stops after this
/// long and resumes just before the next record: every deadline and quiet
/// period has run out by then, and a bogus time cannot make replay tick
/// for ever.
pub const MAX_TICKED_GAP: Duration = Duration::from_secs(3600);

/// Where virtual time starts, and the incident ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The daemon's start: deadlines of devices never heard count from
    /// here, and the first tick is here.
    pub started: Timestamp,
    /// Incident ids are `<id_prefix>-<n>`.
    pub id_prefix: String,
}

impl Start {
    /// The start a recording's header describes.
    pub fn from_header(header: &Header) -> Self {
        Self {
            started: header.started(),
            id_prefix: header.id_prefix.clone(),
        }
    }
}

/// One incident, as the alert messages about it tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentReport {
    pub id: String,
    pub kind: AlertKind,
    /// When it was raised (virtual time).
    pub raised: Timestamp,
    /// When it was cleared, if it was.
    pub cleared: Option<Timestamp>,
    /// The segment when raised and in its last message.
    pub segment_raised: String,
    pub segment_last: String,
    /// The chainage when raised and in its last message.
    pub chainage_raised_m: f64,
    pub chainage_last_m: f64,
    /// The highest priority it reached.
    pub max_priority: Priority,
    /// Every sensor named in any of its messages, sorted.
    pub sensors: Vec<String>,
    /// How many `updated` messages it had.
    pub updates: u32,
    /// Every alert message about it, in order.
    pub messages: Vec<AlertMessage>,
}

impl IncidentReport {
    fn raised(msg: AlertMessage) -> Self {
        Self {
            id: msg.id.clone(),
            kind: msg.kind,
            raised: msg.published_at,
            cleared: None,
            segment_raised: msg.segment_id.clone(),
            segment_last: msg.segment_id.clone(),
            chainage_raised_m: msg.chainage_m,
            chainage_last_m: msg.chainage_m,
            max_priority: msg.priority,
            sensors: msg.sensors.clone(),
            updates: 0,
            messages: vec![msg],
        }
    }

    fn add(&mut self, msg: AlertMessage) {
        self.max_priority = self.max_priority.max(msg.priority);
        self.segment_last.clone_from(&msg.segment_id);
        self.chainage_last_m = msg.chainage_m;
        let mut sensors: BTreeSet<String> = std::mem::take(&mut self.sensors).into_iter().collect();
        sensors.extend(msg.sensors.iter().cloned());
        self.sensors = sensors.into_iter().collect();
        match msg.state {
            AlertState::Updated => self.updates += 1,
            AlertState::Cleared => self.cleared = Some(msg.published_at),
            AlertState::Raised => {}
        }
        self.messages.push(msg);
    }

    /// The lowest and highest chainage in its messages.
    pub fn chainage_range_m(&self) -> (f64, f64) {
        self.messages
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), m| {
                (lo.min(m.chainage_m), hi.max(m.chainage_m))
            })
    }
}

/// What replay saw, by the daemon's counter names where it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records taken, of every kind.
    pub records: u64,
    /// Sentences the codec accepted (`sentences.decoded`); those the
    /// engine then refused are in `rejected` too, and the redeliveries it
    /// dropped in `duplicates`.
    pub sentences: u64,
    /// Sentences dropped as redeliveries of one already taken.
    pub duplicates: u64,
    /// Lines, sentences, frames and acknowledgements refused, by reason
    /// (`checksum_mismatch`, `unknown_device`, `bad_png`, ...).
    pub rejected: BTreeMap<String, u64>,
    /// Frames decoded and processed.
    pub frames: u64,
    /// Thermal evidence the camera pipelines gave.
    pub evidence: u64,
    /// Acknowledgements that found their incident.
    pub acks: u64,
    /// Alert messages about the incidents reported.
    pub alerts: u64,
    /// Records whose source and kind do not go together (from a newer
    /// recorder, or made up wrongly).
    pub skipped: u64,
    /// Incidents raised only after the end of the input, left out.
    pub raised_after_end: u64,
    /// Gaps longer than [`MAX_TICKED_GAP`] whose end was not ticked.
    pub long_gaps: u64,
}

impl Counts {
    /// Every rejection, whatever the reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    fn reject(&mut self, reason: &str) {
        *self.rejected.entry(reason.to_owned()).or_default() += 1;
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayResult {
    pub start: Start,
    /// The end of the input: the last record's time (the end marker's,
    /// for a recording closed cleanly).
    pub end: Timestamp,
    /// The last tick: where virtual time stopped.
    pub last_tick: Timestamp,
    /// Every incident raised before the end of the input, by raise time.
    pub incidents: Vec<IncidentReport>,
    pub counts: Counts,
    /// Serial lines in the input that the config does not list: any
    /// configured device was accepted on them.
    pub unmatched_serial: Vec<String>,
}

/// Replays input through one config.
#[derive(Debug)]
pub struct Replay {
    engine: Engine,
    start: Start,
    quiet_period: Duration,
    min_update_interval: Duration,
    /// Devices allowed per serial line, by path.
    serial_devices: HashMap<String, Vec<String>>,
    serial: HashMap<String, LineDecoder>,
    mqtt: LineDecoder,
    cameras: HashMap<String, CameraPipeline>,
    limits: FrameLimits,
    next_tick: Timestamp,
    last_tick: Timestamp,
    end: Timestamp,
    /// After the end of the input: new incidents are left out.
    draining: bool,
    incidents: Vec<IncidentReport>,
    index: HashMap<String, usize>,
    counts: Counts,
    unmatched_serial: BTreeSet<String>,
}

impl Replay {
    /// A replay of `config` (validated) on `wall`, starting at `start`.
    pub fn new(config: &Config, wall: Arc<Wall>, start: Start) -> Self {
        let mut engine = Engine::new(config, wall.clone(), start.started, &start.id_prefix);
        // Segment states only: nothing to report.
        let _ = engine.start(start.started);
        let cameras = camera::pipelines(engine.camera_settings(), &wall)
            .into_iter()
            .map(|p| (p.id().to_owned(), p))
            .collect();
        Self {
            engine,
            quiet_period: config.detection.quiet_period,
            min_update_interval: config.detection.min_update_interval,
            serial_devices: config
                .serial
                .iter()
                .map(|p| (p.path.display().to_string(), p.devices.clone()))
                .collect(),
            serial: HashMap::new(),
            mqtt: LineDecoder::with_keys(config.auth.keys.clone()),
            cameras,
            limits: camera::frame_limits(config),
            next_tick: start.started,
            last_tick: start.started,
            end: start.started,
            draining: false,
            incidents: Vec::new(),
            index: HashMap::new(),
            counts: Counts::default(),
            unmatched_serial: BTreeSet::new(),
            start,
        }
    }

    /// Takes the next record: ticks up to its time, then applies it.
    pub fn push(&mut self, record: &Record) {
        self.counts.records += 1;
        let at = record.at;
        self.advance(at);
        self.end = self.end.max(at);
        match &record.payload {
            Payload::Sentences(bytes) => self.sentences(at, &record.source, bytes),
            Payload::Frame(bytes) => self.frame(at, &record.source, bytes),
            Payload::Ack(bytes) if record.source == Source::Ack => self.ack(at, bytes),
            Payload::Reset => match &record.source {
                Source::Serial(path) => {
                    if let Some(decoder) = self.serial.get_mut(path) {
                        decoder.reset();
                    }
                }
                _ => self.counts.skipped += 1,
            },
            Payload::End => {}
            Payload::Ack(_) => self.counts.skipped += 1,
        }
    }

    /// Ticks on until the open intrusions have cleared (at most their
    /// quiet period after the end of the input) and returns the result.
    pub fn finish(mut self) -> ReplayResult {
        self.draining = true;
        let end = self.end;
        // Pending updates go out within one update interval; intrusions
        // clear within their quiet period.
        let flushed = end.plus(self.min_update_interval).plus(TICK);
        let limit = end
            .plus(self.quiet_period)
            .plus(self.min_update_interval)
            .plus(TICK * 2);
        while self.next_tick <= limit && (self.next_tick <= flushed || self.open_intrusions() > 0) {
            self.tick();
        }
        ReplayResult {
            start: self.start,
            end,
            last_tick: self.last_tick,
            incidents: self.incidents,
            counts: self.counts,
            unmatched_serial: self.unmatched_serial.into_iter().collect(),
        }
    }

    /// Open intrusions so far.
    pub fn open_intrusions(&self) -> usize {
        self.incidents
            .iter()
            .filter(|i| i.kind == AlertKind::Intrusion && i.cleared.is_none())
            .count()
    }

    /// The counters so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Ticks every [`TICK`] up to `to`, skipping the end of a long gap.
    fn advance(&mut self, to: Timestamp) {
        let gap_start = self.next_tick;
        let mut skipped = false;
        while self.next_tick <= to {
            if !skipped && self.next_tick.since(gap_start) >= MAX_TICKED_GAP {
                let tick_ms = TICK.as_millis() as i64;
                let behind = to.millis() - self.next_tick.millis();
                self.next_tick = Timestamp(self.next_tick.millis() + behind / tick_ms * tick_ms);
                self.counts.long_gaps += 1;
                skipped = true;
            }
            self.tick();
        }
    }

    fn tick(&mut self) {
        let now = self.next_tick;
        let outs = self.engine.on_tick(now);
        self.take(outs);
        if self.engine.take_profile_change().is_some() {
            for settings in self.engine.camera_settings() {
                if let Some(p) = self.cameras.get_mut(&settings.id) {
                    p.reconfigure(settings);
                }
            }
        }
        self.last_tick = now;
        self.next_tick = now.plus(TICK);
    }

    fn sentences(&mut self, at: Timestamp, source: &Source, bytes: &[u8]) {
        let mut accepted = Vec::new();
        {
            let Self {
                serial,
                serial_devices,
                mqtt,
                counts,
                unmatched_serial,
                engine,
                ..
            } = self;
            let mut on = |decoded: Decoded<'_>| match decoded {
                Decoded::Sentence { sentence, digest } => accepted.push((sentence, digest)),
                Decoded::Rejected { reason, .. } => counts.reject(reason),
            };
            match source {
                Source::Serial(path) => {
                    let binding = match serial_devices.get(path) {
                        Some(devices) => Binding::OneOf(devices),
                        None => {
                            if !unmatched_serial.contains(path) {
                                unmatched_serial.insert(path.clone());
                            }
                            Binding::Any
                        }
                    };
                    if !serial.contains_key(path) {
                        let keys = engine.config().auth.keys.clone();
                        serial.insert(path.clone(), LineDecoder::with_keys(keys));
                    }
                    if let Some(decoder) = serial.get_mut(path) {
                        decoder.push(bytes, &binding, false, &mut on);
                    }
                }
                // As the MQTT source does: a fresh decoder per message, the
                // device named by the topic.
                Source::Mqtt(device) if is_valid_id(device) => {
                    mqtt.reset();
                    mqtt.push(bytes, &Binding::Only(device), true, &mut on);
                }
                Source::Mqtt(_) => counts.reject("bad_topic"),
                _ => counts.skipped += 1,
            }
        }
        // A recording keeps no DUP flags: only fresh copies are known.
        let delivery = match source {
            Source::Mqtt(_) => Delivery::AtLeastOnce { flagged: false },
            _ => Delivery::Once,
        };
        for (sentence, digest) in accepted {
            self.counts.sentences += 1;
            let arrival = Arrival {
                at,
                digest,
                delivery,
            };
            match self.engine.on_arrival(&sentence, arrival) {
                Ok(Verdict::Accepted(outs)) => self.take(outs),
                Ok(Verdict::Duplicate) => self.counts.duplicates += 1,
                Err(reject) => self.counts.reject(reject.reason()),
            }
        }
    }

    fn frame(&mut self, at: Timestamp, source: &Source, bytes: &[u8]) {
        let Source::Camera(id) = source else {
            self.counts.skipped += 1;
            return;
        };
        let Some(pipeline) = self.cameras.get_mut(id) else {
            self.counts.reject("unknown_camera");
            return;
        };
        let found = process_frame(pipeline, bytes, &self.limits, at);
        let animals = pipeline.take_animal_sightings(at);
        match found {
            Err(e) => self.counts.reject(e.reason()),
            Ok((evidence, stats)) => {
                self.counts.frames += 1;
                if !animals.is_empty() {
                    self.engine.on_animals(&animals, at);
                }
                for ev in evidence {
                    self.counts.evidence += 1;
                    let outs = self.engine.on_evidence(ev, at);
                    self.take(outs);
                }
                if let Some(low) = stats.low_contrast {
                    let outs = self.engine.on_camera_contrast(id, low, at);
                    self.take(outs);
                }
            }
        }
    }

    fn ack(&mut self, at: Timestamp, bytes: &[u8]) {
        let Ok(ack) = Ack::parse(bytes) else {
            self.counts.reject("bad_ack");
            return;
        };
        match self.engine.on_ack(&ack.id, &ack.by, at) {
            Some(outs) => {
                self.counts.acks += 1;
                self.take(outs);
            }
            None => self.counts.reject("ack_unknown_incident"),
        }
    }

    fn take(&mut self, outs: Vec<Output>) {
        for out in outs {
            let Output::Alert(msg) = out else { continue };
            if let Some(&i) = self.index.get(&msg.id) {
                self.counts.alerts += 1;
                self.incidents[i].add(msg);
            } else if msg.state == AlertState::Raised {
                if self.draining {
                    self.counts.raised_after_end += 1;
                } else {
                    self.counts.alerts += 1;
                    self.index.insert(msg.id.clone(), self.incidents.len());
                    self.incidents.push(IncidentReport::raised(msg));
                }
            }
            // Otherwise: about an incident raised after the end, left out.
        }
    }
}

/// Replays `records`, in order, through `config` and returns the result.
pub fn run(
    config: &Config,
    wall: Arc<Wall>,
    start: Start,
    records: impl IntoIterator<Item = Record>,
) -> ReplayResult {
    let mut replay = Replay::new(config, wall, start);
    for record in records {
        replay.push(&record);
    }
    replay.finish()
}

#[cfg(test)]
mod tests;
