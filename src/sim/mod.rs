//! The firmware simulator: fence and trench controllers that speak the wire
//! formats over pseudo-terminals or MQTT, with seeded background noise and
//! scripted events, and thermal cameras that publish synthetic frames
//! ([`thermal`]), so everything can be driven without hardware. Used by the
//! `firmware-sim` binary, `rampart demo` and the integration tests.
//!
//! Controllers step in [`Simulator::run`]'s loop, every `report_interval`.
//! Each simulated camera renders on a thread of its own, on its own
//! schedule (`camera_rate_hz` from the start of the run; a frame more than
//! one period late is skipped), and publishes on
//! `<root>/v1/camera/<id>/frame` at QoS 0 through a separate MQTT
//! connection with a short request queue: when the queue is full the frame
//! is dropped and counted, so big frames never hold up the sentences.

pub mod devices;
pub mod pty;
pub mod rng;
pub mod scenario;
pub mod thermal;
pub mod world;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, QoS};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::camera::geometry::{CameraModel, Mount};
use crate::config::{CameraConfig, Config};
use crate::mqtt::LinkConfig;
use crate::wall::{LatLon, Wall};
use devices::{SimDevice, StepContext};
use pty::Pty;
use scenario::{CameraFormat, EventKind, Scenario};
use thermal::{CameraScene, SceneSettings, Seen, World};

/// Where the simulator's devices speak.
pub struct SimOptions {
    /// Directory for the pseudo-terminal links, one per serial device,
    /// named after the device.
    pub pty_dir: PathBuf,
    /// Ground truth: each event as one JSON line when it begins.
    pub truth: Option<PathBuf>,
}

/// Where a device's pseudo-terminal link is placed.
pub fn pty_link(dir: &Path, device: &str) -> PathBuf {
    dir.join(device)
}

enum Link {
    Pty(Option<Pty>),
    Mqtt(String),
}

/// Creates the pseudo-terminals of the serial devices up front, so a daemon
/// can be pointed at them before the scenario starts.
pub struct Simulator {
    scenario: Scenario,
    devices: Vec<SimDevice>,
    links: HashMap<String, Link>,
    mqtt: LinkConfig,
    options: SimOptions,
    /// The simulated cameras, until [`Simulator::run`] hands them to their
    /// threads.
    cameras: Vec<CameraScene>,
    /// The scripted objects, when there are objects or cameras.
    world: Option<Arc<World>>,
    /// Per scripted object, which cameras see it.
    seen: Vec<Seen>,
    camera_stats: Vec<CameraStats>,
}

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

fn invalid_input(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

impl Simulator {
    /// Prepares the devices and cameras of `config` as `scenario` says. When
    /// the scenario simulates cameras or scripts objects, the wall is loaded
    /// from `config.wall` (see [`Simulator::with_wall`] to pass it in).
    pub fn new(config: &Config, scenario: Scenario, options: SimOptions) -> std::io::Result<Self> {
        let wall = if wanted_cameras(config, &scenario)?.is_empty() && scenario.objects.is_empty() {
            None
        } else {
            let wall = Wall::load(&config.wall, config.segment_length_m)
                .map_err(|e| invalid_input(format!("cannot load the wall: {e}")))?;
            Some(Arc::new(wall))
        };
        Self::build(config, wall, scenario, options)
    }

    /// Like [`Simulator::new`], with the wall already loaded.
    pub fn with_wall(
        config: &Config,
        wall: Arc<Wall>,
        scenario: Scenario,
        options: SimOptions,
    ) -> std::io::Result<Self> {
        Self::build(config, Some(wall), scenario, options)
    }

    fn build(
        config: &Config,
        wall: Option<Arc<Wall>>,
        scenario: Scenario,
        options: SimOptions,
    ) -> std::io::Result<Self> {
        let mqtt = LinkConfig::new(&config.mqtt, "firmware-sim")
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let wanted = wanted_cameras(config, &scenario)?;
        if !wanted.is_empty() {
            check_frames(config, &scenario)?;
        }
        let settings = SceneSettings::from_scenario(&scenario);
        let mut cameras = Vec::with_capacity(wanted.len());
        for cam in wanted {
            let scene = CameraScene::new(&cam.id, mount(cam), settings.clone())
                .map_err(|e| invalid_input(format!("camera `{}`: {e}", cam.id)))?;
            info!(
                camera = %cam.id,
                topic = %mqtt.topics.camera_frame(&cam.id),
                "simulated camera ready"
            );
            cameras.push(scene);
        }
        let world = wall.map(|w| Arc::new(World::new(&scenario, w)));
        let models: Vec<(String, CameraModel)> = cameras
            .iter()
            .map(|c| (c.id().to_owned(), *c.model()))
            .collect();
        let seen = world.as_ref().map_or_else(Vec::new, |w| {
            (0..w.objects().len())
                .map(|i| w.seen_by(i, &models))
                .collect()
        });
        let devices = devices::devices(config, scenario.seed);
        let mut links = HashMap::new();
        for d in &devices {
            let link = if scenario.serial.contains(&d.id) {
                let path = pty_link(&options.pty_dir, &d.id);
                let pty = Pty::open(&path)?;
                info!(device = %d.id, link = %path.display(), "simulated serial line ready");
                Link::Pty(Some(pty))
            } else {
                Link::Mqtt(mqtt.topics.sensor(&d.id))
            };
            links.insert(d.id.clone(), link);
        }
        Ok(Self {
            scenario,
            devices,
            links,
            mqtt,
            options,
            cameras,
            world,
            seen,
            camera_stats: Vec::new(),
        })
    }

    /// The ids of the simulated cameras (until [`Simulator::run`] starts
    /// them).
    pub fn camera_ids(&self) -> Vec<String> {
        self.cameras.iter().map(|c| c.id().to_owned()).collect()
    }

    /// What each camera sent during the last run (empty before).
    pub fn camera_stats(&self) -> &[CameraStats] {
        &self.camera_stats
    }

    /// The pseudo-terminal links of the serial devices.
    pub fn serial_links(&self) -> Vec<PathBuf> {
        let mut links: Vec<PathBuf> = self
            .links
            .values()
            .filter_map(|l| match l {
                Link::Pty(Some(p)) => Some(p.link().to_owned()),
                _ => None,
            })
            .collect();
        links.sort();
        links
    }

    /// Runs the scenario to its end or until `stop` turns true. Returns the
    /// simulator so its serial lines stay open until the caller drops it.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Self {
        let mut options = self.mqtt.options("sim");
        options.set_clean_session(true);
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        let mqtt_task = tokio::spawn(async move {
            loop {
                if let Err(e) = eventloop.poll().await {
                    warn!(error = %e, "simulator mqtt connection error");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
        let step_len = self.scenario.report_interval;
        let steps_per_heartbeat =
            (self.scenario.heartbeat_interval.as_millis() / step_len.as_millis().max(1)) as u64;
        let total_steps = (self.scenario.duration.as_millis() / step_len.as_millis().max(1)) as u64;
        let mut truth = self
            .options
            .truth
            .as_ref()
            .and_then(|p| std::fs::File::create(p).ok());
        let mut ticker = tokio::time::interval(step_len);
        let cameras = self.start_cameras();
        for step in 0..total_steps {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => break,
            }
            let elapsed = step_len * step as u32;
            self.record_truth(elapsed, step_len, truth.as_mut());
            self.handle_unplug(elapsed, step_len);
            let ctx = StepContext {
                step,
                elapsed,
                steps_per_heartbeat,
                events: &self.scenario.events,
            };
            for dev in &mut self.devices {
                let lines = dev.step(&ctx, step_len);
                if lines.is_empty() {
                    continue;
                }
                match self.links.get_mut(&dev.id) {
                    Some(Link::Pty(Some(pty))) => pty.send(lines.concat().as_bytes()),
                    Some(Link::Pty(None)) | None => {}
                    Some(Link::Mqtt(topic)) => {
                        let payload = lines.concat().into_bytes();
                        if client
                            .publish(topic.clone(), QoS::AtLeastOnce, false, payload)
                            .await
                            .is_err()
                        {
                            warn!(device = %dev.id, "simulator could not queue an mqtt message");
                        }
                    }
                }
            }
        }
        if let Some(cameras) = cameras {
            self.camera_stats = cameras.finish().await;
            for s in &self.camera_stats {
                info!(
                    camera = %s.id,
                    sent = s.sent,
                    dropped = s.dropped,
                    late = s.late,
                    megabytes = s.bytes / 1_000_000,
                    "simulated camera finished"
                );
            }
        }
        // Give queued MQTT messages a moment to leave, then stop.
        let _ = client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        mqtt_task.abort();
        self
    }

    /// Starts a thread per simulated camera, publishing through a
    /// connection of their own; `None` when there are no cameras.
    fn start_cameras(&mut self) -> Option<CameraRun> {
        if self.cameras.is_empty() {
            return None;
        }
        let mut options = self.mqtt.options("sim-cameras");
        options.set_clean_session(true);
        // A short queue: a slow link drops frames rather than buffering them.
        let (client, mut eventloop) = AsyncClient::new(options, 2 * self.cameras.len() + 2);
        let stop = Arc::new(AtomicBool::new(false));
        let closing = stop.clone();
        let mqtt_task = tokio::spawn(async move {
            loop {
                if let Err(e) = eventloop.poll().await {
                    if closing.load(Ordering::Relaxed) {
                        break;
                    }
                    warn!(error = %e, "simulated cameras' mqtt connection error");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
        let start = Instant::now();
        let schedule = CameraSchedule {
            rate_hz: self.scenario.camera_rate_hz,
            duration_s: self.scenario.duration.as_secs_f64(),
            format: self.scenario.camera_format,
            start,
        };
        let mut threads = Vec::new();
        for scene in std::mem::take(&mut self.cameras) {
            let job = CameraJob {
                topic: self.mqtt.topics.camera_frame(scene.id()),
                scene,
                world: self.world.clone(),
                client: client.clone(),
                schedule,
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
            client,
            mqtt_task,
        })
    }

    fn handle_unplug(&mut self, elapsed: Duration, step: Duration) {
        for ev in self
            .scenario
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Unplug)
        {
            let Some(dev) = &ev.device else { continue };
            let Some(Link::Pty(slot)) = self.links.get_mut(dev) else {
                continue;
            };
            if elapsed >= ev.at && elapsed < ev.at + step {
                info!(device = %dev, "simulated cable unplugged");
                *slot = None;
            } else if elapsed >= ev.at + ev.duration && elapsed < ev.at + ev.duration + step {
                match Pty::open(&pty_link(&self.options.pty_dir, dev)) {
                    Ok(p) => {
                        info!(device = %dev, "simulated cable plugged back in");
                        *slot = Some(p);
                    }
                    Err(e) => {
                        warn!(device = %dev, error = %e, "cannot recreate the pseudo-terminal")
                    }
                }
            }
        }
    }

    fn record_truth(&self, elapsed: Duration, step: Duration, out: Option<&mut std::fs::File>) {
        let Some(out) = out else { return };
        for ev in &self.scenario.events {
            if elapsed >= ev.at && elapsed < ev.at + step {
                let line = serde_json::json!({
                    "at": crate::time::Timestamp::now(),
                    "scenario_time_s": ev.at.as_secs_f64(),
                    "event": ev,
                });
                let _ = writeln!(out, "{line}");
            }
        }
        let Some(world) = &self.world else { return };
        for (i, ob) in self.scenario.objects.iter().enumerate() {
            let starts_now =
                elapsed >= ob.at && ob.at.checked_add(step).is_none_or(|end| elapsed < end);
            let (Some(resolved), true) = (world.objects().get(i), starts_now) else {
                continue;
            };
            let seen = self.seen.get(i).cloned().unwrap_or_default();
            let line = serde_json::json!({
                "at": crate::time::Timestamp::now(),
                "scenario_time_s": ob.at.as_secs_f64(),
                "object": ob,
                "chainage_m": resolved.chainage_m,
                "segment_id": world.wall().segment_at(resolved.chainage_m).to_string(),
                "offset_m": resolved.offset_m,
                "lat": resolved.start.lat,
                "lon": resolved.start.lon,
                "speed_m_s": resolved.speed_m_s,
                "contrast_k": resolved.contrast_k,
                "cameras": seen.during,
                "cameras_at_start": seen.at_start,
            });
            let _ = writeln!(out, "{line}");
        }
    }
}

/// The configured cameras the scenario simulates, in config order; an
/// error names a listed camera that is not configured.
fn wanted_cameras<'c>(
    config: &'c Config,
    scenario: &Scenario,
) -> std::io::Result<Vec<&'c CameraConfig>> {
    match &scenario.cameras {
        None => Ok(config.camera.iter().collect()),
        Some(list) => {
            if let Some(unknown) = list
                .iter()
                .find(|id| !config.camera.iter().any(|c| &c.id == *id))
            {
                return Err(invalid_input(format!(
                    "scenario camera `{unknown}` is not a camera of the rampart config"
                )));
            }
            Ok(config
                .camera
                .iter()
                .filter(|c| list.contains(&c.id))
                .collect())
        }
    }
}

/// The frame settings a run can honour: the scenario's checks again (its
/// fields are public), and a frame that fits in an MQTT packet.
fn check_frames(config: &Config, scenario: &Scenario) -> std::io::Result<()> {
    let rate = scenario.camera_rate_hz;
    if !(rate.is_finite() && rate > 0.0 && rate <= scenario::MAX_CAMERA_RATE_HZ) {
        return Err(invalid_input(format!(
            "camera_rate_hz {rate} is not above 0 and at most {}",
            scenario::MAX_CAMERA_RATE_HZ
        )));
    }
    let (w, h) = (scenario.camera_width, scenario.camera_height);
    let side_ok = |v: u32| (1..=crate::frame::MAX_SIDE).contains(&v);
    let pixels = u64::from(w) * u64::from(h);
    if !(side_ok(w) && side_ok(h) && pixels <= scenario::MAX_CAMERA_PIXELS) {
        return Err(invalid_input(format!(
            "camera frames of {w}x{h} pixels: each side must be 1 to {} and the frame at most {} pixels",
            crate::frame::MAX_SIDE,
            scenario::MAX_CAMERA_PIXELS
        )));
    }
    // PNG frames are no larger than raw ones plus a little overhead.
    let bytes = crate::frame::RTF1_HEADER_LEN as u64 + 2 * pixels + 1024;
    if bytes > config.mqtt.max_packet_bytes as u64 {
        return Err(invalid_input(format!(
            "a {w}x{h} camera frame needs up to {bytes} bytes, over [mqtt] max_packet_bytes = {}",
            config.mqtt.max_packet_bytes
        )));
    }
    Ok(())
}

/// The camera's mount, as the daemon builds it.
fn mount(cam: &CameraConfig) -> Mount {
    Mount {
        position: LatLon::new(cam.lat, cam.lon),
        height_m: cam.height_m,
        heading_deg: cam.heading_deg,
        tilt_deg: cam.tilt_deg,
        hfov_deg: cam.hfov_deg,
        vfov_deg: cam.vfov_deg,
    }
}

/// When frames are due and how they are encoded.
#[derive(Debug, Clone, Copy)]
struct CameraSchedule {
    rate_hz: f64,
    duration_s: f64,
    format: CameraFormat,
    start: Instant,
}

/// One camera thread's work.
struct CameraJob {
    scene: CameraScene,
    world: Option<Arc<World>>,
    client: AsyncClient,
    topic: String,
    schedule: CameraSchedule,
    stop: Arc<AtomicBool>,
}

impl CameraJob {
    /// Renders and publishes frame after frame until the scenario's end or
    /// `stop`. Frame `n` shows the scene at `n / rate` seconds and is due
    /// then; one more than a period late is skipped.
    fn run(mut self) -> CameraStats {
        let s = self.schedule;
        let period = Duration::from_secs_f64(1.0 / s.rate_hz);
        let mut stats = CameraStats {
            id: self.scene.id().to_owned(),
            ..CameraStats::default()
        };
        let mut states = Vec::new();
        for seq in 0..u32::MAX {
            let t_s = f64::from(seq) / s.rate_hz;
            if t_s >= s.duration_s {
                break;
            }
            let due = s.start + Duration::from_secs_f64(t_s);
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
            match &self.world {
                Some(w) => w.states_at(t_s, &mut states),
                None => states.clear(),
            }
            let frame = self.scene.render(seq, t_s, &states);
            let payload = match s.format {
                CameraFormat::Rtf1 => crate::frame::encode_rtf1(
                    frame,
                    seq,
                    crate::time::Timestamp::now().millis().max(0),
                ),
                CameraFormat::Png => crate::frame::encode_png(frame),
            };
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
struct CameraRun {
    stop: StopOnDrop,
    threads: Vec<std::thread::JoinHandle<CameraStats>>,
    client: AsyncClient,
    mqtt_task: tokio::task::JoinHandle<()>,
}

impl CameraRun {
    /// Stops the threads, closes their connection, returns what each sent.
    async fn finish(self) -> Vec<CameraStats> {
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
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.mqtt_task.abort();
        stats
    }
}
