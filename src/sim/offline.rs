//! The simulator without real time, transports or threads: a scenario as an
//! iterator of [`TimedInput`]s in virtual time, for scoring detection and
//! for replays.
//!
//! [`OfflineSim`] makes its sentences with the same [`Controllers`] and its
//! frames with the same [`frame_payload`] as the live simulator, so the
//! same seed gives the same lines and the same pixels. It yields, in time
//! order:
//!
//! - every sentence of every controller as its own [`SimInput::Line`] (one
//!   encoded sentence with its CRLF), at its report step `n ·
//!   report_interval`; garbage bursts give their malformed lines as lines
//!   too; a `silence`d or `unplug`ged device gives nothing while the event
//!   lasts;
//! - every frame of every simulated camera as a [`SimInput::Frame`] (RTF1
//!   or PNG as `camera_format` says) at `seq / camera_rate_hz`, rendered
//!   only when the iterator reaches it, so no more than one frame is held.
//!
//! Inputs at the same moment come sensors first (controllers in config
//! order), then cameras in config order. An RTF1 frame's capture time is
//! the epoch plus `at`: [`DEFAULT_EPOCH_MS`] (2026-01-01T00:00:00Z) unless
//! [`OfflineSim::with_epoch_ms`] says otherwise, so runs are reproducible
//! to the byte.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::cameras::{self, frame_payload, frame_time_s};
use super::devices::Controllers;
use super::scenario::{EventKind, Scenario};
use super::thermal::{CameraScene, ObjectState, World};
use super::truth::{ground_truth, TruthItem};
use super::weather::Weather;
use crate::config::Config;
use crate::wall::Wall;

/// The capture time of an offline run's first frame, milliseconds since
/// the Unix epoch: 2026-01-01T00:00:00Z.
pub const DEFAULT_EPOCH_MS: i64 = 1_767_225_600_000;

/// One input to the daemon, at a moment of the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedInput {
    /// From the start of the scenario.
    pub at: Duration,
    /// What arrives.
    pub input: SimInput,
}

/// What arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimInput {
    /// One line from a controller, as it would arrive on its serial line or
    /// in its MQTT message: one encoded sentence with its CRLF, or a
    /// malformed line of a garbage burst.
    Line {
        /// The controller it comes from (the one the scenario scripts, even
        /// when the line names another).
        device: String,
        /// The line.
        line: String,
    },
    /// One frame from a simulated camera, as published on its frame topic.
    Frame {
        /// The camera's id.
        camera: String,
        /// RTF1 or PNG, as the scenario's `camera_format` says.
        payload: Vec<u8>,
    },
}

/// One camera of the run and its next frame.
struct Camera {
    scene: CameraScene,
    next_seq: u32,
    next_t_s: Option<f64>,
}

/// A scenario run in virtual time: an iterator of the inputs it makes.
pub struct OfflineSim {
    scenario: Scenario,
    controllers: Controllers,
    world: Arc<World>,
    weather: Arc<Weather>,
    cameras: Vec<Camera>,
    states: Vec<ObjectState>,
    pending: VecDeque<TimedInput>,
    next_step: u64,
    truth: Vec<TruthItem>,
    epoch_ms: i64,
}

impl OfflineSim {
    /// Prepares `scenario` on `config`'s controllers and cameras and
    /// `wall`. Fails when the scenario names a camera the config lacks, or
    /// asks for frames the daemon could not take (see the scenario's
    /// `camera_*` keys), or a camera's mount is invalid.
    pub fn new(config: &Config, wall: Arc<Wall>, scenario: Scenario) -> io::Result<Self> {
        let scenes = cameras::scenes(config, &scenario)?;
        let world = Arc::new(World::new(&scenario, wall.clone()));
        let fences: Vec<String> = config.fence.iter().map(|f| f.id.clone()).collect();
        let weather = Arc::new(Weather::new(&scenario, &fences));
        let models: Vec<_> = scenes
            .iter()
            .map(|c| (c.id().to_owned(), *c.model()))
            .collect();
        let truth = ground_truth(config, &wall, &scenario, &world, &models);
        let controllers = Controllers::new(config, &scenario, Some(world.clone()), weather.clone());
        let cameras = scenes
            .into_iter()
            .map(|scene| Camera {
                scene,
                next_seq: 0,
                next_t_s: frame_time_s(&scenario, 0),
            })
            .collect();
        Ok(Self {
            scenario,
            controllers,
            world,
            weather,
            cameras,
            states: Vec::new(),
            pending: VecDeque::new(),
            next_step: 0,
            truth,
            epoch_ms: DEFAULT_EPOCH_MS,
        })
    }

    /// Sets the capture time of the scenario's start (milliseconds since
    /// the Unix epoch) for RTF1 frames. Default [`DEFAULT_EPOCH_MS`].
    pub fn with_epoch_ms(mut self, epoch_ms: i64) -> Self {
        self.epoch_ms = epoch_ms;
        self
    }

    /// The ground truth of the scenario, in order of start.
    pub fn truth(&self) -> &[TruthItem] {
        &self.truth
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The ids of the simulated cameras, in config order.
    pub fn camera_ids(&self) -> Vec<String> {
        self.cameras
            .iter()
            .map(|c| c.scene.id().to_owned())
            .collect()
    }

    /// Whether `device`'s cable is unplugged at `elapsed`.
    fn unplugged(&self, device: &str, elapsed: Duration) -> bool {
        self.scenario.events.iter().any(|e| {
            e.kind == EventKind::Unplug
                && e.device.as_deref() == Some(device)
                && elapsed >= e.at
                && elapsed < e.at + e.duration
        })
    }

    /// Runs the next report step into `pending`.
    fn step(&mut self) {
        let n = self.next_step;
        self.next_step += 1;
        let at = self.controllers.elapsed(n);
        for (device, lines) in self.controllers.step(n) {
            if self.unplugged(&device, at) {
                continue;
            }
            for line in lines {
                self.pending.push_back(TimedInput {
                    at,
                    input: SimInput::Line {
                        device: device.clone(),
                        line,
                    },
                });
            }
        }
    }

    /// Renders camera `i`'s next frame and moves it on.
    fn frame(&mut self, i: usize) -> Option<TimedInput> {
        let cam = self.cameras.get_mut(i)?;
        let t_s = cam.next_t_s?;
        let at = Duration::from_secs_f64(t_s);
        let capture_ms = self
            .epoch_ms
            .saturating_add(i64::try_from(at.as_millis()).unwrap_or(i64::MAX));
        let payload = frame_payload(
            &mut cam.scene,
            Some(&self.world),
            &self.weather,
            &mut self.states,
            cam.next_seq,
            t_s,
            self.scenario.camera_format,
            capture_ms,
        );
        cam.next_seq += 1;
        cam.next_t_s = frame_time_s(&self.scenario, cam.next_seq);
        Some(TimedInput {
            at,
            input: SimInput::Frame {
                camera: cam.scene.id().to_owned(),
                payload,
            },
        })
    }
}

impl Iterator for OfflineSim {
    type Item = TimedInput;

    fn next(&mut self) -> Option<TimedInput> {
        loop {
            if let Some(input) = self.pending.pop_front() {
                return Some(input);
            }
            let step_at = (self.next_step < self.controllers.total_steps())
                .then(|| self.controllers.elapsed(self.next_step));
            // The earliest camera; the first in config order on a tie.
            let camera = self
                .cameras
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.next_t_s.map(|t| (i, Duration::from_secs_f64(t))))
                .min_by_key(|(i, at)| (*at, *i));
            match (step_at, camera) {
                (Some(s), Some((_, c))) if s <= c => self.step(),
                (Some(_), None) => self.step(),
                (_, Some((i, _))) => return self.frame(i),
                (None, None) => return None,
            }
        }
    }
}

#[cfg(test)]
#[path = "offline_tests.rs"]
mod tests;
