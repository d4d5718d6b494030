//! Thermal cameras at run time: a one-frame slot per camera, and a worker
//! thread per camera that decodes and runs the camera's pipeline off the
//! async executor.
//!
//! The MQTT source puts each frame's bytes in its camera's slot without
//! waiting; a frame still in the slot when the next one arrives is replaced
//! (counted as `frames.replaced`): a slow kernel sheds stale frames and
//! never stalls sentences or alerts. The worker owns the camera's state
//! (background, tracks), so nothing is shared between cameras.
//!
//! [`process_frame`] is the one way a frame payload becomes evidence: the
//! workers use it, and so does replay (inline, every frame, no shedding).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::Inbound;
use crate::camera::{CameraPipeline, CameraSettings, FrameStats};
use crate::config::Config;
use crate::evidence::Evidence;
use crate::frame::{self, FrameError, FrameLimits};
use crate::runtime::Shared;
use crate::time::Timestamp;
use crate::wall::Wall;

/// The newest undelivered frame of one camera.
#[derive(Debug, Default)]
pub struct CameraSlot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    frame: Option<(Bytes, Timestamp)>,
    /// New settings (a reload or a profile change) for the worker to take
    /// before its next frame.
    settings: Option<CameraSettings>,
    closed: bool,
}

impl CameraSlot {
    /// Puts a frame in the slot; returns true when it replaced one that
    /// was never processed.
    pub fn offer(&self, payload: Bytes, received: Timestamp) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let replaced = s.frame.replace((payload, received)).is_some();
        self.ready.notify_one();
        replaced
    }

    /// Hands the worker new settings, applied before its next frame (the
    /// newest wins if several arrive in between).
    pub fn reconfigure(&self, settings: CameraSettings) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.settings = Some(settings);
    }

    /// Waits for a frame, with any new settings to apply first; None once
    /// the slot is closed.
    fn take(&self) -> Option<(Bytes, Timestamp, Option<CameraSettings>)> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some((f, at)) = s.frame.take() {
                return Some((f, at, s.settings.take()));
            }
            if s.closed {
                return None;
            }
            s = self
                .ready
                .wait_timeout(s, Duration::from_secs(1))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stops the worker once the slot is empty.
    pub fn close(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        self.ready.notify_all();
    }
}

/// Starts the worker thread of one camera.
pub fn spawn_worker(
    mut pipeline: CameraPipeline,
    slot: Arc<CameraSlot>,
    limits: FrameLimits,
    tx: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
) -> std::io::Result<JoinHandle<()>> {
    let name = format!("camera-{}", pipeline.id());
    let lifeline = shared
        .supervisor
        .lifeline(format!("worker of camera {}", pipeline.id()));
    std::thread::Builder::new().name(name).spawn(move || {
        let _lifeline = lifeline;
        let source: Arc<str> = format!("camera:{}", pipeline.id()).into();
        let id = pipeline.id().to_owned();
        while let Some((payload, received, settings)) = slot.take() {
            crate::failpoint::check("camera", &id);
            if let Some(settings) = settings {
                pipeline.reconfigure(settings);
                info!(camera = %id, "camera settings changed");
            }
            let (evidence, stats) = match process_frame(&mut pipeline, &payload, &limits, received)
            {
                Ok(found) => found,
                Err(e) => {
                    shared.counters.incr(&format!("frames.rejected.{id}"));
                    shared.reject(&source, e.reason(), &e.to_string(), b"");
                    continue;
                }
            };
            shared.counters.incr(&format!("frames.processed.{id}"));
            for (name, n) in stat_counters(&stats) {
                shared.counters.add(name, u64::from(n));
            }
            for evidence in evidence {
                debug!(camera = %id, chainage_m = evidence.chainage_m, detail = %evidence.detail, "thermal evidence");
                let inbound = Inbound::Evidence {
                    evidence,
                    source: source.clone(),
                };
                if tx.blocking_send(inbound).is_err() {
                    return;
                }
            }
            let animals = pipeline.take_animal_sightings(received);
            if !animals.is_empty() {
                let inbound = Inbound::AnimalsSeen {
                    camera: id.clone(),
                    chainages_m: animals,
                    received,
                };
                if tx.blocking_send(inbound).is_err() {
                    return;
                }
            }
            if let Some(low) = stats.low_contrast {
                let spread_k = f64::from(stats.scene_spread_ck.unwrap_or(0)) / 100.0;
                if low {
                    warn!(camera = %id, spread_k, "scene washed out (rain, dust or thermal crossover): people may be invisible; its segments are degraded");
                } else {
                    info!(camera = %id, spread_k, "scene contrast restored");
                }
                let inbound = Inbound::CameraContrast {
                    camera: id.clone(),
                    low,
                    spread_k,
                    received,
                };
                if tx.blocking_send(inbound).is_err() {
                    return;
                }
            }
        }
    })
}

/// What the config allows a frame to be.
pub fn frame_limits(config: &Config) -> FrameLimits {
    FrameLimits {
        max_pixels: config.thermal.max_frame_pixels,
    }
}

/// A fresh pipeline for every camera, from the settings the engine
/// resolved (under its active profile), in config order.
pub fn pipelines(settings: Vec<CameraSettings>, wall: &Arc<Wall>) -> Vec<CameraPipeline> {
    settings
        .into_iter()
        .map(|s| CameraPipeline::new(s, wall.clone()))
        .collect()
}

/// Decodes one frame payload received at `received` (within `limits`) and
/// runs it through its camera's pipeline: the evidence it gives and what
/// the pipeline dropped, or why the payload is not a frame.
pub fn process_frame(
    pipeline: &mut CameraPipeline,
    payload: &[u8],
    limits: &FrameLimits,
    received: Timestamp,
) -> Result<(Vec<Evidence>, FrameStats), FrameError> {
    let frame = frame::decode(payload, limits)?;
    let captured = frame.capture_ms.map(Timestamp);
    Ok(pipeline.process(frame.pixels.view(), captured, received))
}

/// The daemon's counter names for a frame's statistics, with their values.
pub fn stat_counters(stats: &FrameStats) -> [(&'static str, u32); 7] {
    [
        ("frames.blobs", stats.blobs),
        ("frames.blobs_wrong_size", stats.wrong_size),
        ("frames.blobs_off_wall", stats.off_wall),
        ("frames.blobs_at_edge", stats.at_edge),
        ("frames.blobs_animal_shape", stats.animal_shape),
        ("frames.blobs_above_horizon", stats.above_horizon),
        ("frames.tracks_too_fast", stats.too_fast),
    ]
}

/// Counts a replaced frame; logs (rate-limited) that frames are being shed.
pub fn note_replaced(shared: &Shared, camera: &str) {
    shared.counters.incr(&format!("frames.replaced.{camera}"));
    shared.shed(
        &format!("camera:{camera}"),
        "frame_replaced",
        "frames arrive faster than they are processed; the older one was dropped",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_frame_replaces_a_waiting_one_and_close_ends_the_worker() {
        let slot = CameraSlot::default();
        assert!(!slot.offer(Bytes::from_static(b"one"), Timestamp(1)));
        assert!(
            slot.offer(Bytes::from_static(b"two"), Timestamp(2)),
            "replaced"
        );
        let (bytes, at, settings) = slot.take().unwrap();
        assert_eq!((&bytes[..], at), (&b"two"[..], Timestamp(2)));
        assert!(settings.is_none());
        assert!(!slot.offer(Bytes::from_static(b"three"), Timestamp(3)));
        let (config, _) = crate::testkit::fixture();
        let cam = crate::testkit::camera_south_of_wall(50.0);
        let mut settings = CameraSettings::resolve(&cam, &config.thermal);
        slot.reconfigure(settings.clone());
        settings.kernel.delta_t = 123;
        slot.reconfigure(settings);
        slot.close();
        let (_, at, settings) = slot.take().unwrap();
        assert_eq!(at, Timestamp(3), "what is waiting is still handed over");
        assert_eq!(
            settings.map(|s| s.kernel.delta_t),
            Some(123),
            "the newest settings come with the next frame"
        );
        assert!(slot.take().is_none());
    }
}
