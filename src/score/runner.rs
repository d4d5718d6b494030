//! Running scenarios for a score: each scenario file is simulated in
//! virtual time ([`OfflineSim`]: the same sentences and frames the live
//! simulator would send), fed through the daemon's own input path and
//! detection ([`crate::replay`]: the sentence codec, the camera pipelines,
//! the engine with its fusion and incident book), and what it published is
//! scored against the scenario's ground truth. As fast as the CPU allows,
//! and deterministic: the same files give the same score.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::alert::AlertKind;
use crate::config::Config;
use crate::layout::Layout;
use crate::record::{Record, Source};
use crate::replay::{self, Start};
use crate::sim::offline::{OfflineSim, SimInput, DEFAULT_EPOCH_MS};
use crate::sim::scenario::Scenario;
use crate::sim::truth::{TruthClass, TruthItem};
use crate::time::Timestamp;
use crate::wall::Wall;

use super::{score, DeviceEvent, Run, ScenarioScore, Threat, ThreatPoint};

/// Why a scenario could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Scenario(String),
    #[error("{path}: cannot simulate: {source}")]
    Simulate {
        path: String,
        source: std::io::Error,
    },
}

/// One scenario's score and what its run cost.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    pub score: ScenarioScore,
    /// Sentences and frames fed to the detection.
    pub sentences: u64,
    pub frames: u64,
    /// Wall-clock time the run took.
    pub elapsed: Duration,
}

/// The scenario files named by `paths`: files as given, folders' `*.toml`
/// files sorted by name.
pub fn scenario_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Runs one scenario file against `config` and scores it.
pub fn run_scenario(
    config: &Config,
    wall: &Arc<Wall>,
    path: &Path,
) -> Result<ScenarioRun, RunError> {
    let started = Instant::now();
    let devices: HashSet<String> = config
        .fence
        .iter()
        .map(|f| f.id.clone())
        .chain(config.trench.iter().map(|t| t.id.clone()))
        .collect();
    let cameras: HashSet<String> = config.camera.iter().map(|c| c.id.clone()).collect();
    let scenario = Scenario::load_with_cameras(path, &devices, &cameras).map_err(|problems| {
        RunError::Scenario(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let duration = scenario.duration;
    let sim =
        OfflineSim::new(config, wall.clone(), scenario).map_err(|source| RunError::Simulate {
            path: path.display().to_string(),
            source,
        })?;
    let truth = sim.truth().to_vec();
    let epoch = Timestamp(DEFAULT_EPOCH_MS);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut sentences, mut frames) = (0u64, 0u64);
    let records = sim
        .map(|input| {
            let at = epoch.plus(input.at);
            match input.input {
                SimInput::Line { device, line } => {
                    sentences += 1;
                    Record::sentences(at, Source::Mqtt(device), line.into_bytes())
                }
                SimInput::Frame { camera, payload } => {
                    frames += 1;
                    Record::frame(at, &camera, payload)
                }
            }
        })
        .chain(std::iter::once(Record::end(epoch.plus(duration))));
    let start = Start {
        started: epoch,
        id_prefix: name.clone(),
    };
    let result = replay::run(config, wall.clone(), start, records);
    let mut alerts: Vec<_> = result
        .incidents
        .iter()
        .flat_map(|i| i.messages.iter().cloned())
        .collect();
    alerts.sort_by_key(|a| a.published_at);
    let layout = Layout::new(config, wall);
    let run = Run {
        name,
        epoch,
        duration_s: duration.as_secs_f64(),
        covered_km: layout.covered_segments().len() as f64 * wall.segment_length_m() / 1000.0,
        threats: truth.iter().filter_map(threat).collect(),
        device_events: truth
            .iter()
            .filter_map(|t| device_event(t, &layout))
            .collect(),
        alerts,
    };
    Ok(ScenarioRun {
        score: score(&run),
        sentences,
        frames,
        elapsed: started.elapsed(),
    })
}

fn threat(t: &TruthItem) -> Option<Threat> {
    (t.class == TruthClass::Threat && !t.track.is_empty()).then(|| Threat {
        id: t.id.clone(),
        kind: t.kind.clone(),
        start_s: t.start_s,
        end_s: t.end_s,
        track: t
            .track
            .iter()
            .map(|p| ThreatPoint {
                t_s: p.t_s,
                chainage_m: p.chainage_m,
            })
            .collect(),
    })
}

/// What a device event should raise: tamper and fault always; silence (or
/// an unplugged line) only when it outlasts the device's heartbeat deadline.
fn device_event(t: &TruthItem, layout: &Layout) -> Option<DeviceEvent> {
    if t.class != TruthClass::Device {
        return None;
    }
    let lasts = Duration::from_secs_f64((t.end_s - t.start_s).max(0.0));
    let outlasts_deadline = || {
        t.devices.iter().all(|d| {
            layout
                .device(d)
                .is_some_and(|spec| lasts > spec.heartbeat_deadline)
        })
    };
    let expect = match t.kind.as_str() {
        "tamper" => Some(AlertKind::Tamper),
        "fault" => Some(AlertKind::SensorFault),
        "silence" | "unplug" if outlasts_deadline() => Some(AlertKind::SensorOffline),
        _ => None,
    };
    Some(DeviceEvent {
        id: t.id.clone(),
        kind: t.kind.clone(),
        devices: t.devices.clone(),
        start_s: t.start_s,
        end_s: t.end_s,
        expect,
    })
}
