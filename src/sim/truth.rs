//! Structured ground truth of a scenario, for scoring detection
//! (probability of detection, nuisance alarm rate) and for replays.
//!
//! Computed up front from the scenario alone, in scenario seconds, never
//! from the wall clock: the live simulator writes each item as one JSON
//! line to its `--truth` file when the item begins, `firmware-sim truth`
//! prints them all, and [`super::offline::OfflineSim::truth`] returns them,
//! all the same items.
//!
//! - Every `[[objects]]` entry is an item `objects[i]`; people, crawlers
//!   and vehicles are [`TruthClass::Threat`], animals, birds and rocks
//!   [`TruthClass::Nuisance`]. Its `track` has a point every
//!   [`TRACK_STEP_S`] while it is in the scene (a rock: until the scenario
//!   ends), and a threat's `crosses_wall_s` says when it first reaches the
//!   wall line, if it does.
//! - Every `[[events]]` entry is an item `events[i]`: a sensor-only
//!   `intrusion` is a threat with a track on the wall line that crosses at
//!   its start; `wind`, `gust`, `rain` and `dust` are nuisances; `tamper`,
//!   `silence`, `fault`, `garbage` and `unplug` are
//!   [`TruthClass::Device`] items naming their device.
//! - Items end at the scenario's end at the latest; items that would begin
//!   after it are left out. They are in order of their start (objects
//!   before events at the same time).

use serde::{Deserialize, Serialize};

use super::scenario::{EventKind, Scenario};
use super::thermal::World;
use crate::camera::geometry::CameraModel;
use crate::config::Config;
use crate::wall::{SegmentIndex, Wall};

/// Time between the points of a track, seconds.
pub const TRACK_STEP_S: f64 = 0.5;

/// What an item of ground truth is, for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthClass {
    /// Someone (or a vehicle) the system must detect.
    Threat,
    /// Something that must not raise an intrusion: animals, birds, rocks,
    /// weather.
    Nuisance,
    /// Something wrong with a device: tamper, silence, fault, garbage,
    /// unplugged cable.
    Device,
}

/// One point of a track.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TruthPoint {
    /// Scenario seconds.
    pub t_s: f64,
    /// Chainage of the nearest wall point, metres.
    pub chainage_m: f64,
    /// Signed distance from the wall line, metres: positive on the right
    /// looking towards increasing chainage.
    pub offset_m: f64,
    /// Latitude of the ground point, degrees.
    pub lat: f64,
    /// Longitude of the ground point, degrees.
    pub lon: f64,
}

/// One thing that happens in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthItem {
    /// Where it comes from in the scenario: `objects[3]`, `events[0]`.
    pub id: String,
    /// Threat, nuisance or device.
    pub class: TruthClass,
    /// `person`, `crawler`, `vehicle`, `intrusion`, `dog`, `fox`, `camel`,
    /// `bird`, `rock`, `wind`, `gust`, `rain`, `dust`, `tamper`, `silence`,
    /// `fault`, `garbage` or `unplug`.
    pub kind: String,
    /// When it begins, scenario seconds.
    pub start_s: f64,
    /// When it ends, scenario seconds (a garbage burst: one report
    /// interval after it begins).
    pub end_s: f64,
    /// For device events, the device; for wind and gusts, the fence
    /// controllers they blow on; empty otherwise.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Objects and sensor-only intruders: where it is, every
    /// [`TRACK_STEP_S`] while present.
    #[serde(default)]
    pub track: Vec<TruthPoint>,
    /// Threats: when it first reaches the wall line, if it does.
    #[serde(default)]
    pub crosses_wall_s: Option<f64>,
    /// The wall segments it touches: those of its track, or those the
    /// devices it concerns cover (empty for rain and dust).
    #[serde(default)]
    pub segments: Vec<String>,
    /// Objects: the simulated cameras that see it at some moment.
    #[serde(default)]
    pub cameras: Vec<String>,
    /// Objects and sensor-only intruders: the ground speed, m/s.
    #[serde(default)]
    pub speed_m_s: Option<f64>,
    /// Objects: how much warmer than the ground, kelvin (a rock: its
    /// warming when done).
    #[serde(default)]
    pub contrast_k: Option<f64>,
}

impl TruthItem {
    /// The item as one line of JSON (no newline), as truth files hold it.
    pub fn to_json_line(&self) -> String {
        // Only numbers, strings and lists: serialising cannot fail (a
        // non-finite number would be written as `null`).
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The ground truth of `scenario` on `config`'s devices and `wall`, with
/// `world` its objects and `cameras` the models of the simulated cameras.
pub fn ground_truth(
    config: &Config,
    wall: &Wall,
    scenario: &Scenario,
    world: &World,
    cameras: &[(String, CameraModel)],
) -> Vec<TruthItem> {
    let end_of_run = scenario.duration.as_secs_f64();
    let mut items = Vec::new();
    for ob in world.objects() {
        if ob.start_s >= end_of_run {
            continue;
        }
        let end_s = if ob.kind == super::scenario::ObjectKind::Rock {
            end_of_run
        } else {
            (ob.start_s + ob.duration_s).min(end_of_run)
        };
        let track: Vec<TruthPoint> = times(ob.start_s, end_s)
            .filter_map(|t| {
                let (c, o) = ob.wall_coords(wall, t)?;
                let p = ob.state_at(wall, t)?.position;
                Some(point(t, c, o, p.lat, p.lon))
            })
            .collect();
        let threat = ob.kind.is_threat();
        items.push(TruthItem {
            id: format!("objects[{}]", ob.index),
            class: if threat {
                TruthClass::Threat
            } else {
                TruthClass::Nuisance
            },
            kind: ob.kind.name().into(),
            start_s: ob.start_s,
            end_s,
            devices: Vec::new(),
            segments: track_segments(wall, &track),
            track,
            crosses_wall_s: ob
                .crosses_wall_s()
                .filter(|t| threat && *t < end_s)
                .map(round3),
            cameras: world.seen_by(ob.index, cameras).during,
            speed_m_s: Some(ob.speed_m_s),
            contrast_k: Some(ob.contrast_k),
        });
    }
    for (i, ev) in scenario.events.iter().enumerate() {
        let start_s = ev.at.as_secs_f64();
        if start_s >= end_of_run {
            continue;
        }
        let end_s = if ev.kind == EventKind::Garbage {
            start_s + scenario.report_interval.as_secs_f64()
        } else {
            start_s + ev.duration.as_secs_f64()
        }
        .min(end_of_run);
        let class = match ev.kind {
            EventKind::Intrusion => TruthClass::Threat,
            EventKind::Wind | EventKind::Gust | EventKind::Rain | EventKind::Dust => {
                TruthClass::Nuisance
            }
            _ => TruthClass::Device,
        };
        let devices: Vec<String> = match ev.kind {
            EventKind::Intrusion | EventKind::Rain | EventKind::Dust => Vec::new(),
            EventKind::Wind | EventKind::Gust => config
                .fence
                .iter()
                .map(|f| f.id.clone())
                .filter(|f| ev.device.as_ref().is_none_or(|d| d == f))
                .collect(),
            _ => ev.device.iter().cloned().collect(),
        };
        let track: Vec<TruthPoint> = match (ev.kind, ev.chainage_m) {
            (EventKind::Intrusion, Some(c0)) => times(start_s, end_s)
                .map(|t| {
                    let c = (c0 + ev.speed_m_s * (t - start_s)).clamp(0.0, wall.length_m());
                    let p = wall.position_at(c);
                    point(t, c, 0.0, p.lat, p.lon)
                })
                .collect(),
            _ => Vec::new(),
        };
        let segments = if track.is_empty() {
            device_segments(config, wall, &devices)
        } else {
            track_segments(wall, &track)
        };
        let intrusion = ev.kind == EventKind::Intrusion;
        items.push(TruthItem {
            id: format!("events[{i}]"),
            class,
            kind: ev.kind.name().into(),
            start_s,
            end_s,
            devices,
            track,
            crosses_wall_s: intrusion.then_some(start_s),
            segments,
            cameras: Vec::new(),
            speed_m_s: intrusion.then_some(ev.speed_m_s),
            contrast_k: None,
        });
    }
    items.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    items
}

/// `start`, `start + step`, ... before `end` (at least `start`).
fn times(start: f64, end: f64) -> impl Iterator<Item = f64> {
    let n = ((end - start) / TRACK_STEP_S).ceil().max(1.0) as u64;
    (0..n).map(move |k| start + k as f64 * TRACK_STEP_S)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn point(t: f64, c: f64, o: f64, lat: f64, lon: f64) -> TruthPoint {
    TruthPoint {
        t_s: round3(t),
        chainage_m: (c * 100.0).round() / 100.0,
        offset_m: (o * 100.0).round() / 100.0,
        lat: (lat * 1e7).round() / 1e7,
        lon: (lon * 1e7).round() / 1e7,
    }
}

/// The segments of a track's points, in order, each once.
fn track_segments(wall: &Wall, track: &[TruthPoint]) -> Vec<String> {
    let mut ids: Vec<SegmentIndex> = track
        .iter()
        .map(|p| wall.segment_at(p.chainage_m))
        .collect();
    ids.sort();
    ids.dedup();
    ids.iter().map(ToString::to_string).collect()
}

/// The segments the named controllers cover, in order, each once.
fn device_segments(config: &Config, wall: &Wall, devices: &[String]) -> Vec<String> {
    let mut ids: Vec<u32> = Vec::new();
    for d in devices {
        let range = config
            .fence
            .iter()
            .find(|f| &f.id == d)
            .and_then(|f| f.coverage())
            .or_else(|| {
                config
                    .trench
                    .iter()
                    .find(|t| &t.id == d)
                    .and_then(|t| t.coverage())
            });
        if let Some((from, to)) = range {
            ids.extend(wall.segments_between(from, to));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .map(|i| SegmentIndex(i).to_string())
        .collect()
}

#[cfg(test)]
#[path = "truth_tests.rs"]
mod tests;
