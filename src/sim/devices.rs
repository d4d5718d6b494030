//! Simulated controllers: what each one says at each step of a scenario.
//! Background noise is seeded; the world ([`super::physics`]), the weather
//! ([`super::weather`]) and scripted events shape the readings.
//! [`Controllers`] steps them all; the live simulator and the offline one
//! ([`super::offline`]) both drive it, so they say the same things.
//!
//! Signal model (rough, but in the right units and ranges):
//! - fence zone at rest: RMS ≈ N(50, 15) mg, peak ≈ N(3, 0.4) × RMS (at
//!   least 1.2 ×); to it add, as `√(Σ x²)`: contacts from the world, the
//!   wind times the zone's factor `U(0.8, 1.2)` times `N(1, 0.12)`, and rain
//!   `I · N(120, 40)` mg.
//! - geophone at rest: PPV ≈ N(150, 50) µm/s, plus footsteps from the world.
//! - beam: broken when something crossed the trench near it since the last
//!   report.
//! - sensor-only intruder (`[[events]] kind = "intrusion"`, unchanged): on
//!   the wall line at `chainage_m + speed_m_s · t`; a zone within 20 m reads
//!   `N(1200, 150) · (1 − d/40)` mg RMS; footsteps add
//!   `2500·e^(−d/25 m)` µm/s at a geophone `d` metres along the wall; a beam
//!   within 15 m is broken during the second to fifth second of the event
//!   (the moment of crossing the trench).

use std::time::Duration;

use std::sync::Arc;

use super::physics::{distance_to_range, Field, Stimuli};
use super::rng::Rng;
use super::scenario::{Event, EventKind, Scenario};
use super::weather::{Weather, RAIN_FENCE_MG};
use super::world::World;
use crate::config::Config;
use crate::sentence::{checksum, Body, Health, Sentence, TamperKind};

/// A device's channels on the wall.
#[derive(Debug, Clone)]
enum Channels {
    Fence {
        zones: Vec<(u16, f64, f64)>,
    },
    Trench {
        geophones: Vec<(u16, f64)>,
        beams: Vec<(u16, f64)>,
    },
}

/// One simulated controller.
#[derive(Debug, Clone)]
pub struct SimDevice {
    pub id: String,
    channels: Channels,
    rng: Rng,
    seq: u32,
    beams_broken: Vec<bool>,
    /// How much each fence zone feels the wind, in zone order.
    wind_factors: Vec<f64>,
    tamper_active: bool,
    /// Offset of its heartbeat within the heartbeat interval, in steps.
    phase: u64,
    /// Its key: its sentences carry `m=` (from the config's `[auth]` key
    /// file, or the one `firmware-sim --keys` names).
    key: Option<crate::auth::Key>,
}

/// Builds the simulated devices for every controller in `config`; keyed
/// devices (`config.auth.keys`) sign their sentences.
pub fn devices(config: &Config, seed: u64) -> Vec<SimDevice> {
    let mut out = unsigned_devices(config, seed);
    for d in &mut out {
        d.key = config.auth.keys.get(&d.id).cloned();
    }
    out
}

fn unsigned_devices(config: &Config, seed: u64) -> Vec<SimDevice> {
    let mut out = Vec::new();
    for f in &config.fence {
        let zones = f
            .zones
            .iter()
            .map(|z| (z.zone, z.start_m, z.end_m))
            .collect();
        out.push(SimDevice::new(&f.id, Channels::Fence { zones }, seed));
    }
    for t in &config.trench {
        let geophones = t.geophones.iter().map(|g| (g.channel, g.at_m)).collect();
        let beams: Vec<(u16, f64)> = t.beams.iter().map(|b| (b.channel, b.at_m)).collect();
        out.push(SimDevice::new(
            &t.id,
            Channels::Trench { geophones, beams },
            seed,
        ));
    }
    out
}

/// What the scenario says is going on at one step.
pub struct StepContext<'a> {
    pub step: u64,
    pub elapsed: Duration,
    pub steps_per_heartbeat: u64,
    pub events: &'a [Event],
    /// What the world does to the sensors at this step.
    pub stimuli: &'a Stimuli,
    /// The weather.
    pub weather: &'a Weather,
}

impl StepContext<'_> {
    fn active<'s>(
        &'s self,
        kind: EventKind,
        device: Option<&'s str>,
    ) -> impl Iterator<Item = &'s Event> + 's {
        let elapsed = self.elapsed;
        self.events.iter().filter(move |e| {
            e.kind == kind
                && elapsed >= e.at
                && elapsed < e.at + e.duration
                && (device.is_none() || e.device.as_deref() == device)
        })
    }

    fn starts_now(&self, kind: EventKind, device: &str, step: Duration) -> Option<&Event> {
        self.events.iter().find(|e| {
            e.kind == kind
                && e.device.as_deref() == Some(device)
                && self.elapsed >= e.at
                && self.elapsed < e.at + step
        })
    }

    /// Active intruders: (position, seconds since the event began).
    fn intruders(&self) -> Vec<(f64, f64)> {
        self.active(EventKind::Intrusion, None)
            .filter_map(|e| {
                let t = (self.elapsed - e.at).as_secs_f64();
                e.chainage_m.map(|c| (c + e.speed_m_s * t, t))
            })
            .collect()
    }
}

impl SimDevice {
    fn new(id: &str, channels: Channels, seed: u64) -> Self {
        let mut rng = Rng::new(seed, id);
        let phase = rng.next_u64() % 8;
        let beams = match &channels {
            Channels::Trench { beams, .. } => beams.len(),
            Channels::Fence { .. } => 0,
        };
        let zones = match &channels {
            Channels::Fence { zones } => zones.len(),
            Channels::Trench { .. } => 0,
        };
        let mut wind_rng = Rng::new(seed, &format!("wind-zones/{id}"));
        let wind_factors = (0..zones).map(|_| wind_rng.range(0.8, 1.2)).collect();
        Self {
            id: id.to_owned(),
            channels,
            rng,
            seq: (seed % 1000) as u32,
            beams_broken: vec![false; beams],
            wind_factors,
            tamper_active: false,
            phase,
            key: None,
        }
    }

    fn sentence(&mut self, body: Body) -> String {
        self.seq = self.seq.wrapping_add(1);
        let mut s = Sentence {
            device: self.id.clone(),
            seq: self.seq,
            body,
            mac: None,
        };
        if let Some(key) = &self.key {
            crate::auth::sign(&mut s, key);
        }
        s.encode()
    }

    /// The lines this device sends at this step (possibly none).
    pub fn step(&mut self, ctx: &StepContext<'_>, step_len: Duration) -> Vec<String> {
        let id = self.id.clone();
        if ctx.active(EventKind::Silence, Some(&id)).next().is_some() {
            return Vec::new();
        }
        let mut lines = Vec::new();
        let intruders = ctx.intruders();
        let t_s = ctx.elapsed.as_secs_f64();
        let wind = ctx.weather.wind_mg(&id, t_s);
        let rain = ctx.weather.veil(t_s);
        match self.channels.clone() {
            Channels::Fence { zones } => {
                for (i, (zone, start, end)) in zones.into_iter().enumerate() {
                    let near = intruders
                        .iter()
                        .map(|(pos, _)| distance_to_range(*pos, start, end))
                        .fold(f64::INFINITY, f64::min);
                    let mut rms = if near < 20.0 {
                        self.rng.normal(1200.0, 150.0) * (1.0 - near / 40.0)
                    } else {
                        self.rng.normal(50.0, 15.0)
                    }
                    .max(1.0);
                    let contact = ctx.stimuli.fence_mg(start, end);
                    let mut extra = contact * contact;
                    if wind > 0.0 {
                        let factor = self.wind_factors.get(i).copied().unwrap_or(1.0);
                        let w = wind * factor * self.rng.normal(1.0, 0.12).max(0.5);
                        extra += w * w;
                    }
                    if rain > 0.0 {
                        let (mean, sd) = RAIN_FENCE_MG;
                        let r = rain * self.rng.normal(mean, sd).max(0.0);
                        extra += r * r;
                    }
                    if extra > 0.0 {
                        rms = (rms * rms + extra).sqrt();
                    }
                    let peak = rms * self.rng.normal(3.0, 0.4).max(1.2);
                    lines.push(self.sentence(Body::Fence {
                        zone,
                        rms_mg: rms.round(),
                        peak_mg: peak.round(),
                    }));
                }
            }
            Channels::Trench { geophones, beams } => {
                for (channel, at) in geophones {
                    let signal: f64 = intruders
                        .iter()
                        .map(|(pos, _)| 2500.0 * (-(pos - at).abs() / 25.0).exp())
                        .sum::<f64>()
                        + ctx.stimuli.ground_um_s(at);
                    let ppv = (self.rng.normal(150.0, 50.0) + signal).max(1.0);
                    lines.push(self.sentence(Body::Ground {
                        channel,
                        ppv_um_s: ppv.round(),
                    }));
                }
                let heartbeat = self.is_heartbeat_step(ctx);
                for (i, (channel, at)) in beams.into_iter().enumerate() {
                    let broken = intruders
                        .iter()
                        .any(|(pos, t)| (pos - at).abs() < 15.0 && (1.0..5.0).contains(t))
                        || ctx.stimuli.beam_broken(at);
                    if broken != self.beams_broken[i] || heartbeat {
                        self.beams_broken[i] = broken;
                        lines.push(self.sentence(Body::Beam { channel, broken }));
                    }
                }
            }
        }
        self.tamper_lines(ctx, &mut lines);
        if self.is_heartbeat_step(ctx) {
            let status = if ctx.active(EventKind::Fault, Some(&id)).next().is_some() {
                Health::Fault
            } else {
                Health::Ok
            };
            let uptime_s = ctx.elapsed.as_secs() + 3600;
            lines.push(self.sentence(Body::Heartbeat { uptime_s, status }));
        }
        if let Some(ev) = ctx.starts_now(EventKind::Garbage, &id, step_len) {
            let count = ev.lines.unwrap_or(50);
            let garbage = self.garbage(count);
            // Interleave: good lines stay whole around the bad ones.
            let mut mixed = Vec::with_capacity(lines.len() + garbage.len());
            let half = lines.len() / 2;
            mixed.extend_from_slice(&lines[..half]);
            mixed.extend(garbage);
            mixed.extend_from_slice(&lines[half..]);
            lines = mixed;
        }
        lines
    }

    fn is_heartbeat_step(&self, ctx: &StepContext<'_>) -> bool {
        ctx.step % ctx.steps_per_heartbeat.max(1) == self.phase % ctx.steps_per_heartbeat.max(1)
    }

    fn tamper_lines(&mut self, ctx: &StepContext<'_>, lines: &mut Vec<String>) {
        let id = self.id.clone();
        let active = ctx.active(EventKind::Tamper, Some(&id)).next().cloned();
        match (active, self.tamper_active) {
            (Some(ev), false) => {
                self.tamper_active = true;
                let kind = match ev.tamper.as_deref() {
                    Some("ENCLOSURE") => TamperKind::Enclosure,
                    Some("POWER") => TamperKind::Power,
                    _ => TamperKind::Cut,
                };
                lines.push(self.sentence(Body::Tamper { kind }));
            }
            (None, true) => {
                self.tamper_active = false;
                lines.push(self.sentence(Body::Tamper {
                    kind: TamperKind::Clear,
                }));
            }
            _ => {}
        }
    }

    /// `count` malformed lines of assorted kinds, deterministic per seed.
    fn garbage(&mut self, count: u32) -> Vec<String> {
        (0..count)
            .map(|i| match i % 7 {
                0 => {
                    // A well-formed line whose checksum is wrong.
                    let body = format!("RPGS,{},{},0,1", self.id, self.seq);
                    format!("${body}*{:02X}\r\n", checksum(body.as_bytes()) ^ 0x5a)
                }
                1 => {
                    let noise: String = (0..40)
                        .map(|_| char::from(0x80 | (self.rng.next_u64() as u8 & 0x7f)))
                        .collect();
                    format!("{noise}\r\n")
                }
                2 => format!("$RPFZ,{},{}\r\n", self.id, "9".repeat(250)),
                3 => with_checksum(&format!("RPZZ,{},1,2,3", self.id)),
                4 => with_checksum(&format!("RPFZ,{},1,1,abc,def", self.id)),
                5 => with_checksum("RPHB,someone-else,1,10,OK"),
                _ => "hello world\r\n".into(),
            })
            .collect()
    }
}

fn with_checksum(body: &str) -> String {
    format!("${body}*{:02X}\r\n", checksum(body.as_bytes()))
}

/// Every simulated controller of a config, stepped through a scenario:
/// the one place where sentences are made, for the live simulator and the
/// offline one alike.
#[derive(Debug, Clone)]
pub struct Controllers {
    devices: Vec<SimDevice>,
    field: Field,
    weather: Arc<Weather>,
    events: Vec<Event>,
    step_len: Duration,
    steps_per_heartbeat: u64,
    total_steps: u64,
}

impl Controllers {
    /// The controllers of `config` for `scenario`, feeling the objects of
    /// `world` (none: only the sensor-only events) and `weather`.
    pub fn new(
        config: &Config,
        scenario: &Scenario,
        world: Option<Arc<World>>,
        weather: Arc<Weather>,
    ) -> Self {
        let step_len = scenario.report_interval.max(Duration::from_millis(1));
        let steps_per_heartbeat =
            (scenario.heartbeat_interval.as_millis() / step_len.as_millis().max(1)) as u64;
        let total_steps = (scenario.duration.as_millis() / step_len.as_millis().max(1)) as u64;
        Self {
            devices: devices(config, scenario.seed),
            field: Field::new(world, scenario.seed),
            weather,
            events: scenario.events.clone(),
            step_len,
            steps_per_heartbeat,
            total_steps,
        }
    }

    /// The time between steps (the scenario's `report_interval`).
    pub fn step_len(&self) -> Duration {
        self.step_len
    }

    /// How many steps the scenario lasts.
    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }

    /// When step `n` happens, from the start of the scenario.
    pub fn elapsed(&self, n: u64) -> Duration {
        self.step_len * u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The ids of the controllers, in config order (fences, then trenches).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.devices.iter().map(|d| d.id.as_str())
    }

    /// Steps every controller to step `n` (steps must be taken in order,
    /// each once); returns each controller's lines, in config order, for
    /// those that say something.
    pub fn step(&mut self, n: u64) -> Vec<(String, Vec<String>)> {
        let elapsed = self.elapsed(n);
        let stimuli = self
            .field
            .stimuli(n, elapsed.as_secs_f64(), self.step_len.as_secs_f64());
        let ctx = StepContext {
            step: n,
            elapsed,
            steps_per_heartbeat: self.steps_per_heartbeat,
            events: &self.events,
            stimuli: &stimuli,
            weather: &self.weather,
        };
        let step_len = self.step_len;
        self.devices
            .iter_mut()
            .filter_map(|d| {
                let lines = d.step(&ctx, step_len);
                (!lines.is_empty()).then(|| (d.id.clone(), lines))
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
