//! The live simulator's cameras: a thread per camera renders on its own
//! schedule (`camera_rate_hz` from the start of the run; a frame more than
//! one period late is skipped) and publishes on
//! `<root>/v1/camera/<id>/frame` at QoS 0 through a separate MQTT
//! connection with a short request queue: when the queue is full the frame
//! is dropped and counted, so big frames never hold up the sentences.
//! Frames are made by [`super::cameras::frame_payload`], as offline; the
//! RTF1 capture time is the wall clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, QoS};
use tracing::warn;

use super::cameras::{frame_payload, frame_time_s};
use super::connections::Connections;
use super::scenario::Scenario;
use super::thermal::{CameraScene, World};
use super::weather::Weather;
use crate::mqtt::LinkConfig;

/// What one simulated camera sent during a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CameraStats {
    /// The camera's id.
    pub id: String,
    /// Frames handed to the MQTT connection.
    pub sent: u64,
    /// Frames dropped because the connection's request queue was full.
    pub dropped: u64,
    /// Frames skipped because rendering fell more than a period behind.
    pub late: u64,
    /// Payload bytes of the frames sent.
    pub bytes: u64,
}

/// One camera thread's work.
struct CameraJob {
    scene: CameraScene,
    world: Option<Arc<World>>,
    weather: Arc<Weather>,
    scenario: Arc<Scenario>,
    client: AsyncClient,
    topic: String,
    start: Instant,
    stop: Arc<AtomicBool>,
}

impl CameraJob {
    /// Renders and publishes frame after frame until the scenario's end or
    /// `stop`. Frame `n` shows the scene at `n / rate` seconds and is due
    /// then; one more than a period late is skipped.
    fn run(mut self) -> CameraStats {
        let period = Duration::from_secs_f64(1.0 / self.scenario.camera_rate_hz);
        let mut stats = CameraStats {
            id: self.scene.id().to_owned(),
            ..CameraStats::default()
        };
        let mut states = Vec::new();
        for seq in 0..u32::MAX {
            let Some(t_s) = frame_time_s(&self.scenario, seq) else {
                break;
            };
            let due = self.start + Duration::from_secs_f64(t_s);
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    return stats;
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(Duration::from_millis(100)));
            }
            if Instant::now() > due + period {
                stats.late += 1;
                continue;
            }
            let payload = frame_payload(
                &mut self.scene,
                self.world.as_deref(),
                &self.weather,
                &mut states,
                seq,
                t_s,
                self.scenario.camera_format,
                crate::time::Timestamp::now().millis(),
            );
            let len = payload.len() as u64;
            match self
                .client
                .try_publish(self.topic.clone(), QoS::AtMostOnce, false, payload)
            {
                Ok(()) => {
                    stats.sent += 1;
                    stats.bytes += len;
                }
                Err(_) => stats.dropped += 1,
            }
        }
        stats
    }
}

/// Sets the flag when dropped, so camera threads stop even when the run's
/// future is dropped half way.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The running cameras.
pub(crate) struct CameraRun {
    stop: StopOnDrop,
    threads: Vec<std::thread::JoinHandle<CameraStats>>,
    connections: Connections,
}

/// Starts a thread per simulated camera, publishing through a connection
/// of their own (one per camera with `identities`); `None` when there are
/// no cameras, or their connections cannot be set up (logged).
pub(crate) fn start(
    mqtt: &LinkConfig,
    identities: Option<&std::path::Path>,
    scenes: Vec<CameraScene>,
    world: Option<Arc<World>>,
    weather: Arc<Weather>,
    scenario: Arc<Scenario>,
) -> Option<CameraRun> {
    if scenes.is_empty() {
        return None;
    }
    let ids: Vec<String> = scenes.iter().map(|s| s.id().to_owned()).collect();
    // A short queue: a slow link drops frames rather than buffering them
    // (two frames per camera on a connection of its own).
    let queue = match identities {
        Some(_) => 4,
        None => 2 * scenes.len() + 2,
    };
    let connections = match Connections::open(mqtt, "sim-cameras", &ids, identities, queue) {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "the simulated cameras cannot connect; none is started");
            return None;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut threads = Vec::new();
    for scene in scenes {
        let Some(client) = connections.client(scene.id()).cloned() else {
            continue; // cannot happen: open() made one for every id
        };
        let job = CameraJob {
            topic: mqtt.topics.camera_frame(scene.id()),
            scene,
            world: world.clone(),
            weather: weather.clone(),
            scenario: scenario.clone(),
            client,
            start,
            stop: stop.clone(),
        };
        let name = format!("sim-cam-{}", job.scene.id());
        match std::thread::Builder::new()
            .name(name)
            .spawn(move || job.run())
        {
            Ok(t) => threads.push(t),
            Err(e) => warn!(error = %e, "cannot start a simulated camera thread"),
        }
    }
    Some(CameraRun {
        stop: StopOnDrop(stop),
        threads,
        connections,
    })
}

impl CameraRun {
    /// Stops the threads, closes their connection, returns what each sent.
    pub(crate) async fn finish(self) -> Vec<CameraStats> {
        self.stop.0.store(true, Ordering::Relaxed);
        let threads = self.threads;
        let stats = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .filter_map(|t| t.join().ok())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        self.connections.close(Duration::from_millis(100)).await;
        stats
    }
}
