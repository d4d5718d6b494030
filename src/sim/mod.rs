//! The firmware simulator: fence and trench controllers that speak the wire
//! formats over pseudo-terminals or MQTT, with seeded background noise and
//! scripted events, and thermal cameras that publish synthetic frames
//! ([`thermal`]), so everything can be driven without hardware. Used by the
//! `firmware-sim` binary, `rampart demo` and the integration tests.
//!
//! One world drives both: the scenario's `[[objects]]` ([`world`]) are what
//! the cameras see and what shakes the fence, walks past the geophones and
//! breaks the beams ([`physics`]); wind, gusts, rain and dust ([`weather`])
//! act on the fence and the cameras. [`devices::Controllers`] makes every
//! sentence and [`cameras::frame_payload`] every frame, for the live
//! [`Simulator`] (real time, PTYs and MQTT) and for [`offline::OfflineSim`]
//! (virtual time, an iterator of inputs for scoring and replays) alike, so
//! the same seed gives the same inputs in both. [`truth`] is the structured
//! ground truth of a scenario, the same for both.
//!
//! Controllers step in [`Simulator::run`]'s loop, every `report_interval`.
//! Each simulated camera renders on a thread of its own ([`live_cameras`]).

pub mod cameras;
mod connections;
pub mod devices;
pub mod live_cameras;
pub mod offline;
pub mod physics;
pub mod place;
pub mod projection;
pub mod pty;
pub mod rng;
pub mod scenario;
pub mod thermal;
pub mod truth;
pub mod weather;
pub mod world;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::QoS;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::mqtt::LinkConfig;
use crate::wall::Wall;
use cameras::invalid_input;
use connections::Connections;
use devices::Controllers;
pub use live_cameras::CameraStats;
use pty::Pty;
use scenario::{EventKind, Scenario};
use thermal::{CameraScene, World};
use truth::TruthItem;
use weather::Weather;

/// Where the simulator's devices speak.
pub struct SimOptions {
    /// Directory for the pseudo-terminal links, one per serial device,
    /// named after the device.
    pub pty_dir: PathBuf,
    /// Ground truth: each [`TruthItem`] as one JSON line when it begins.
    pub truth: Option<PathBuf>,
    /// A directory of client certificates, `<id>.pem` and `<id>.key` per
    /// MQTT device and camera: each then connects on its own with its own
    /// certificate, as under the broker's ACL. None: one shared connection
    /// with the config's `[mqtt]` account.
    pub identities: Option<PathBuf>,
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
    scenario: Arc<Scenario>,
    controllers: Controllers,
    links: HashMap<String, Link>,
    mqtt: LinkConfig,
    options: SimOptions,
    /// The simulated cameras, until [`Simulator::run`] hands them to their
    /// threads.
    cameras: Vec<CameraScene>,
    /// The scripted objects, when the wall is known.
    world: Option<Arc<World>>,
    weather: Arc<Weather>,
    /// The ground truth, in order of start (empty without the wall).
    truth: Vec<TruthItem>,
    camera_stats: Vec<CameraStats>,
}

impl Simulator {
    /// Prepares the devices and cameras of `config` as `scenario` says. When
    /// the scenario simulates cameras or scripts objects, or a truth file is
    /// asked for, the wall is loaded from `config.wall` (see
    /// [`Simulator::with_wall`] to pass it in).
    pub fn new(config: &Config, scenario: Scenario, options: SimOptions) -> std::io::Result<Self> {
        let wanted = cameras::wanted_cameras(config, &scenario)?;
        let wall = if wanted.is_empty() && scenario.objects.is_empty() && options.truth.is_none() {
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
            .map_err(|e| invalid_input(e.to_string()))?;
        let scenes = cameras::scenes(config, &scenario)?;
        for scene in &scenes {
            info!(
                camera = %scene.id(),
                topic = %mqtt.topics.camera_frame(scene.id()),
                "simulated camera ready"
            );
        }
        let world = wall
            .as_ref()
            .map(|w| Arc::new(World::new(&scenario, w.clone())));
        let fences: Vec<String> = config.fence.iter().map(|f| f.id.clone()).collect();
        let weather = Arc::new(Weather::new(&scenario, &fences));
        let truth = match (&wall, &world) {
            (Some(wall), Some(world)) => {
                let models: Vec<_> = scenes
                    .iter()
                    .map(|c| (c.id().to_owned(), *c.model()))
                    .collect();
                truth::ground_truth(config, wall, &scenario, world, &models)
            }
            _ => Vec::new(),
        };
        let controllers = Controllers::new(config, &scenario, world.clone(), weather.clone());
        let mut links = HashMap::new();
        for id in controllers.ids() {
            let link = if scenario.serial.iter().any(|s| s == id) {
                let path = pty_link(&options.pty_dir, id);
                let pty = Pty::open(&path)?;
                info!(device = %id, link = %path.display(), "simulated serial line ready");
                Link::Pty(Some(pty))
            } else {
                Link::Mqtt(mqtt.topics.sensor(id))
            };
            links.insert(id.to_owned(), link);
        }
        // Per-device certificates: checked now, so a missing or bad one
        // stops the simulator before it starts.
        if let Some(dir) = &options.identities {
            let mqtt_ids = links
                .iter()
                .filter(|(_, l)| matches!(l, Link::Mqtt(_)))
                .map(|(id, _)| id.as_str());
            for id in mqtt_ids.chain(scenes.iter().map(|s| s.id())) {
                connections::identity(&mqtt, dir, id)?;
            }
        }
        Ok(Self {
            scenario: Arc::new(scenario),
            controllers,
            links,
            mqtt,
            options,
            cameras: scenes,
            world,
            weather,
            truth,
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

    /// The ground truth of the scenario (empty when the wall was not
    /// loaded: see [`Simulator::new`]).
    pub fn truth(&self) -> &[TruthItem] {
        &self.truth
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
        let mut mqtt_ids: Vec<String> = self
            .links
            .iter()
            .filter(|(_, l)| matches!(l, Link::Mqtt(_)))
            .map(|(id, _)| id.clone())
            .collect();
        mqtt_ids.sort();
        let identities = self.options.identities.as_deref();
        let connections = match Connections::open(&self.mqtt, "sim", &mqtt_ids, identities, 256) {
            Ok(c) => c,
            Err(e) => {
                error!(error = %e, "the simulated devices cannot connect; nothing is sent over MQTT");
                Connections::open(&self.mqtt, "sim", &[], None, 1).expect("no connections")
            }
        };
        let step_len = self.controllers.step_len();
        let total_steps = self.controllers.total_steps();
        let mut truth = self
            .options
            .truth
            .as_ref()
            .and_then(|p| std::fs::File::create(p).ok());
        let mut written = 0;
        let mut ticker = tokio::time::interval(step_len);
        let cameras = live_cameras::start(
            &self.mqtt,
            identities,
            std::mem::take(&mut self.cameras),
            self.world.clone(),
            self.weather.clone(),
            self.scenario.clone(),
        );
        let mut finished = true;
        let mut stalled = std::collections::HashSet::new();
        for step in 0..total_steps {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => { finished = false; break }
            }
            let elapsed = self.controllers.elapsed(step);
            written =
                self.record_truth((elapsed + step_len).as_secs_f64(), written, truth.as_mut());
            self.handle_unplug(elapsed, step_len);
            for (id, lines) in self.controllers.step(step) {
                match self.links.get_mut(&id) {
                    Some(Link::Pty(Some(pty))) => pty.send(lines.concat().as_bytes()),
                    Some(Link::Pty(None)) | None => {}
                    Some(Link::Mqtt(topic)) => {
                        let payload = lines.concat().into_bytes();
                        let Some(client) = connections.client(&id) else {
                            continue;
                        };
                        // Never waits: a device whose connection is refused
                        // (or a broker that is down) must not stop the others.
                        if client
                            .try_publish(topic.clone(), QoS::AtLeastOnce, false, payload)
                            .is_err()
                            && stalled.insert(id.clone())
                        {
                            warn!(device = %id, "simulator mqtt queue full: dropping this device's messages while its connection is down");
                        }
                    }
                }
            }
        }
        if finished {
            self.record_truth(f64::INFINITY, written, truth.as_mut());
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
        connections.close(Duration::from_millis(200)).await;
        self
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

    /// Writes the truth items from `written` on that begin before `until_s`;
    /// returns how many are written in all.
    fn record_truth(&self, until_s: f64, written: usize, out: Option<&mut std::fs::File>) -> usize {
        let upto = written
            + self.truth[written..]
                .iter()
                .take_while(|item| item.start_s < until_s)
                .count();
        if let Some(out) = out {
            for item in &self.truth[written..upto] {
                let _ = writeln!(out, "{}", item.to_json_line());
            }
        }
        upto
    }
}
