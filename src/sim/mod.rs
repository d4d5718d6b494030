//! The firmware simulator: fence and trench controllers that speak the wire
//! formats over pseudo-terminals or MQTT, with seeded background noise and
//! scripted events, so everything can be driven without hardware. Used by
//! the `firmware-sim` binary, `rampart demo` and the integration tests.

pub mod devices;
pub mod pty;
pub mod rng;
pub mod scenario;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rumqttc::{AsyncClient, QoS};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::Config;
use crate::mqtt::LinkConfig;
use devices::{SimDevice, StepContext};
use pty::Pty;
use scenario::{EventKind, Scenario};

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
}

impl Simulator {
    /// Prepares the devices of `config` as `scenario` says.
    pub fn new(config: &Config, scenario: Scenario, options: SimOptions) -> std::io::Result<Self> {
        let mqtt = LinkConfig::new(&config.mqtt, "firmware-sim")
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
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
        })
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
        // Give queued MQTT messages a moment to leave, then stop.
        let _ = client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        mqtt_task.abort();
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
    }
}
