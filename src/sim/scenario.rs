//! Scenario files for the firmware simulator: which devices speak over which
//! transport, how often, and the scripted events (TOML).
//!
//! Besides the controllers' `[[events]]`, a scenario drives the simulated
//! thermal cameras (see [`super::thermal`]): top-level `camera_*` keys set
//! the frame rate, size and payload format, `cameras` picks which of the
//! configured `[[camera]]`s to simulate, `ground_c`, `diurnal_k_per_hour`
//! and `crossover` shape the scene, and `[[objects]]` script what the
//! cameras see. The same objects drive the field sensors too (see
//! [`super::physics`]): people, crawlers and vehicles that reach the wall
//! shake the fence, footsteps reach the geophones, crossing the trench
//! breaks beams. Nuisance events (`wind`, `gust`, `rain`, `dust`) act on
//! the fence and the cameras (see [`super::weather`]). Every new key has a
//! default, so older scenarios parse as before.
//!
//! ```toml
//! camera_rate_hz = 9.0          # 0 < rate <= 30
//! camera_width = 640            # 640x512 default; 320x240, 1280x1024 too
//! camera_height = 512
//! camera_format = "rtf1"        # or "png"
//! cameras = ["cam-1"]           # default: every configured camera
//! ground_c = 20.0               # ground temperature at the start
//! diurnal_k_per_hour = 0.5      # the whole scene warms (or cools) slowly
//! crossover = false             # true: people barely warmer than the ground
//!
//! # Someone 40 m from the wall (on its right, looking along increasing
//! # chainage) walks straight to it and over it at 1.4 m/s.
//! [[objects]]
//! at = "5s"
//! kind = "person"
//! chainage_m = 12310.0
//! offset_m = 40.0
//! heading = "towards_wall"      # away_from_wall | along_wall | a bearing
//! speed_m_s = 1.4
//! duration = "40s"
//! contrast_k = 8.0              # may be negative: colder than the ground
//!
//! # A storm on every fence controller from 10 s to 50 s, and light rain.
//! [[events]]
//! at = "10s"
//! kind = "wind"
//! strength_mg = 700.0
//! duration = "40s"
//!
//! [[events]]
//! at = "0s"
//! kind = "rain"
//! intensity = 0.3
//! duration = "60s"
//!
//! # A rock in the sun warming by 6 K over ten minutes (then staying warm).
//! [[objects]]
//! at = "0s"
//! kind = "rock"
//! chainage_m = 12330.0
//! offset_m = 15.0
//! duration = "10m"
//! contrast_k = 6.0
//! ```

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::diagnostics::{self, Diagnostic};

/// A scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed of all randomness: the same seed gives the same sentences. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How long the scenario runs. Default `"60s"`.
    #[serde(default = "default_duration", with = "crate::config::duration")]
    pub duration: Duration,
    /// How often fence zones and geophones report. Default `"500ms"`.
    #[serde(default = "default_report", with = "crate::config::duration")]
    pub report_interval: Duration,
    /// How often every device sends `HB`. Default `"5s"`.
    #[serde(default = "default_heartbeat", with = "crate::config::duration")]
    pub heartbeat_interval: Duration,
    /// Devices that speak over a pseudo-terminal (one each); all other
    /// configured devices publish over MQTT. Default: none.
    #[serde(default)]
    pub serial: Vec<String>,
    /// The scripted events, in any order.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Frames per second of each simulated camera, above 0 and at most 30.
    /// Default 9.0.
    #[serde(default = "default_camera_rate")]
    pub camera_rate_hz: f64,
    /// Frame width in pixels. Default 640 (320 and 1280 are usual too).
    #[serde(default = "default_camera_width")]
    pub camera_width: u32,
    /// Frame height in pixels. Default 512 (240 and 1024 are usual too).
    /// Each side must be 1 to 4096 and the frame at most 1280 × 1024 pixels.
    #[serde(default = "default_camera_height")]
    pub camera_height: u32,
    /// The payload format of the frames. Default `"rtf1"`.
    #[serde(default)]
    pub camera_format: CameraFormat,
    /// Which configured `[[camera]]`s to simulate. Default: all of them;
    /// `[]` simulates none.
    #[serde(default)]
    pub cameras: Option<Vec<String>>,
    /// Temperature of the ground at the start of the scenario, °C (−60 to
    /// 80). Default 20.0.
    #[serde(default = "default_ground_c")]
    pub ground_c: f64,
    /// Slow drift of the whole thermal scene, kelvin per hour (positive
    /// warms, as in the morning; −20 to 20). Default 0.5.
    #[serde(default = "default_diurnal")]
    pub diurnal_k_per_hour: f64,
    /// Thermal crossover: objects without a `contrast_k` of their own (people,
    /// crawlers, animals) are only 0.2 to 1 K warmer than the ground, and the
    /// terrain is flatter. Default false.
    #[serde(default)]
    pub crossover: bool,
    /// What the simulated thermal cameras see, in any order.
    #[serde(default)]
    pub objects: Vec<ObjectEvent>,
}

/// The payload format of simulated camera frames (see `docs/WIRE-FORMATS.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraFormat {
    /// Raw RTF1, with sequence number and capture time.
    #[default]
    Rtf1,
    /// 16-bit greyscale PNG (no sequence number or capture time).
    Png,
}

/// What a scripted object is; sets its size, default speed and default
/// contrast (see [`super::thermal`] for the numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// Someone walking upright: 1.75 m tall, 0.5 m wide, 1.4 m/s, +6 to +10 K.
    Person,
    /// Someone crawling: 0.4 m tall, 1.7 m long, 0.3 m/s, +6 to +10 K.
    Crawler,
    /// A car or pickup: 1.8 m tall, 4.5 m long, 8 m/s, +15 K.
    Vehicle,
    /// 0.6 m tall, 0.9 m long, 1.5 m/s, +8 K.
    Dog,
    /// 0.4 m tall, 0.7 m long, 1.0 m/s, +7 K.
    Fox,
    /// 2.0 m tall, 2.5 m long, 1.2 m/s, +6 K.
    Camel,
    /// 0.3 m tall, 0.8 m of wingspan, flying `altitude_m` (default 8 m)
    /// above the ground at 12 m/s, +5 K.
    Bird,
    /// A stationary rock, 1.0 m tall and 1.5 m long, that the sun warms by
    /// `contrast_k` (default 8 K) over `duration`, and that then stays warm
    /// until the scenario ends.
    Rock,
}

/// Which way a scripted object moves, as `heading` in a scenario: one of
/// the strings `"towards_wall"`, `"away_from_wall"`, `"along_wall"`, or a
/// bearing in degrees clockwise from true north (a number).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Heading {
    /// In a straight line from the start point to the wall, at right angles
    /// to it, and on over it to the other side. From `offset_m = 0` it
    /// crosses from the right to the left side.
    #[default]
    TowardsWall,
    /// In a straight line away from the wall, at right angles to it. From
    /// `offset_m = 0` it leaves to the left side.
    AwayFromWall,
    /// Along the wall, keeping `offset_m`, towards increasing chainage
    /// (a negative `speed_m_s` goes towards chainage 0).
    AlongWall,
    /// In a straight line on this bearing (degrees clockwise from north).
    Bearing(f64),
}

/// One scripted object the simulated cameras see (`[[objects]]`). It
/// appears at `at`, moves along the ground in world coordinates (metres,
/// projected through each camera's model every frame) and disappears after
/// `duration` — except a rock, which stays until the scenario ends.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectEvent {
    /// When it appears, from the start of the scenario (`"0s"` allowed).
    #[serde(with = "at_time")]
    pub at: Duration,
    /// What it is. Also accepted as `object`.
    #[serde(alias = "object")]
    pub kind: ObjectKind,
    /// Where it starts: the chainage of the wall point it starts beside.
    pub chainage_m: f64,
    /// How far from the wall it starts, metres: positive on the right of the
    /// wall looking towards increasing chainage, negative on the left.
    /// Default 0 (on the wall line).
    #[serde(default)]
    pub offset_m: f64,
    /// Which way it moves. Default `"towards_wall"`.
    #[serde(default)]
    pub heading: Heading,
    /// Ground speed in m/s, at least 0 (only `along_wall` takes a negative
    /// speed, towards chainage 0). Default by kind: person 1.4, crawler 0.3,
    /// vehicle 8, dog 1.5, fox 1.0, camel 1.2, bird 12, rock 0 (a rock
    /// cannot move).
    #[serde(default)]
    pub speed_m_s: Option<f64>,
    /// How long it is in the scene (for a rock: how long it takes to warm
    /// up). Default `"30s"`.
    #[serde(default = "default_object_duration", with = "crate::config::duration")]
    pub duration: Duration,
    /// How much warmer than the ground it is, kelvin; negative for an object
    /// colder than the ground. For a rock: how much it warms over
    /// `duration`. Default by kind (see [`ObjectKind`]); people, crawlers and
    /// animals get 0.2 to 1 K under `crossover`.
    #[serde(default)]
    pub contrast_k: Option<f64>,
    /// For a bird: how high it flies, metres above the ground (0 to 1000).
    /// Default 8.
    #[serde(default)]
    pub altitude_m: Option<f64>,
    /// For a person, crawler or vehicle whose path reaches the wall line:
    /// how long it stays there, climbing (person), cutting through
    /// (crawler) or ramming (vehicle) the fence, before it goes on, in
    /// seconds (0 to 600; 0 goes straight through). It shakes the fence all
    /// that time. Default person 6, crawler 12, vehicle 2.
    #[serde(default)]
    pub climb_s: Option<f64>,
}

/// What an event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Someone at the wall at `chainage_m` for `duration`, moving at
    /// `speed_m_s` along it: fence zones shake, geophones pick up footsteps,
    /// beams nearby break while the person crosses.
    Intrusion,
    /// `device` reports tamper `tamper` (default `CUT`), cleared after `duration`.
    Tamper,
    /// `device` sends nothing for `duration`.
    Silence,
    /// `device`'s heartbeats say `FAULT` for `duration`.
    Fault,
    /// `device` sends `lines` malformed lines (default 50) among its good ones.
    Garbage,
    /// `device`'s pseudo-terminal disappears for `duration` (serial devices
    /// only; the offline simulator drops the device's lines instead).
    Unplug,
    /// Wind on the fence for `duration`: a sustained mean RMS of
    /// `strength_mg` (default 500; 300 is a breeze, 700 a storm) with random
    /// gusts that rise on every zone of a controller together. On `device`
    /// only (a fence controller), or by default on every fence controller.
    /// See [`super::weather`] for the model.
    Wind,
    /// Short sharp gusts without a sustained wind, for `duration`: each
    /// 1.5 to 4 s long, peaking near `strength_mg` (default 1200), 3 to 8 s
    /// apart. `device` as for `wind`.
    Gust,
    /// Rain of `intensity` (0 to 1, default 0.5) over the whole site for
    /// `duration`: the cameras see less contrast and more noise, the fence
    /// a little more noise.
    Rain,
    /// Dust in the air: the same effect as rain of the same `intensity`.
    Dust,
}

impl EventKind {
    /// The event's name in a scenario file (`"intrusion"`, `"wind"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Intrusion => "intrusion",
            EventKind::Tamper => "tamper",
            EventKind::Silence => "silence",
            EventKind::Fault => "fault",
            EventKind::Garbage => "garbage",
            EventKind::Unplug => "unplug",
            EventKind::Wind => "wind",
            EventKind::Gust => "gust",
            EventKind::Rain => "rain",
            EventKind::Dust => "dust",
        }
    }
}

/// One scripted event.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When, from the start of the scenario (`"0s"` allowed).
    #[serde(with = "at_time")]
    pub at: Duration,
    pub kind: EventKind,
    /// For `intrusion`: where.
    #[serde(default)]
    pub chainage_m: Option<f64>,
    /// For `intrusion`: speed along the wall, metres per second (negative
    /// towards chainage 0). Default 0.
    #[serde(default)]
    pub speed_m_s: f64,
    /// For device events: which device.
    #[serde(default)]
    pub device: Option<String>,
    /// How long it lasts. Default `"10s"`.
    #[serde(default = "default_event_duration", with = "crate::config::duration")]
    pub duration: Duration,
    /// For `tamper`: `ENCLOSURE`, `CUT` or `POWER`. Default `CUT`.
    #[serde(default)]
    pub tamper: Option<String>,
    /// For `garbage`: how many bad lines. Default 50.
    #[serde(default)]
    pub lines: Option<u32>,
    /// For `wind`: the mean RMS it induces on a fence zone, milli-g
    /// (default 500); for `gust`: the typical peak RMS of a gust (default
    /// 1200). 0 to 5000.
    #[serde(default)]
    pub strength_mg: Option<f64>,
    /// For `rain` and `dust`: how heavy, 0 to 1. Default 0.5.
    #[serde(default)]
    pub intensity: Option<f64>,
}

fn default_seed() -> u64 {
    1
}
fn default_duration() -> Duration {
    Duration::from_secs(60)
}
fn default_report() -> Duration {
    Duration::from_millis(500)
}
fn default_heartbeat() -> Duration {
    Duration::from_secs(5)
}
fn default_event_duration() -> Duration {
    Duration::from_secs(10)
}
fn default_object_duration() -> Duration {
    Duration::from_secs(30)
}
fn default_camera_rate() -> f64 {
    9.0
}
fn default_camera_width() -> u32 {
    640
}
fn default_camera_height() -> u32 {
    512
}
fn default_ground_c() -> f64 {
    20.0
}
fn default_diurnal() -> f64 {
    0.5
}

/// The most pixels a simulated frame may have: 1280 × 1024, the daemon's
/// default `[thermal] max_frame_pixels`.
pub const MAX_CAMERA_PIXELS: u64 = crate::frame::DEFAULT_MAX_PIXELS;
/// The fastest simulated frame rate, frames per second.
pub const MAX_CAMERA_RATE_HZ: f64 = 30.0;

impl Scenario {
    /// Parses scenario text, checking events against the configured devices.
    /// The `cameras` list is not checked against the configured cameras
    /// here (see [`Scenario::parse_with_cameras`]); the simulator refuses an
    /// unknown one when it starts.
    pub fn parse(
        file: &str,
        text: &str,
        devices: &HashSet<String>,
    ) -> Result<Self, Vec<Diagnostic>> {
        Self::parse_checked(file, text, devices, None)
    }

    /// Like [`Scenario::parse`], and also checks the `cameras` list against
    /// the ids of the configured `[[camera]]`s.
    pub fn parse_with_cameras(
        file: &str,
        text: &str,
        devices: &HashSet<String>,
        cameras: &HashSet<String>,
    ) -> Result<Self, Vec<Diagnostic>> {
        Self::parse_checked(file, text, devices, Some(cameras))
    }

    fn parse_checked(
        file: &str,
        text: &str,
        devices: &HashSet<String>,
        cameras: Option<&HashSet<String>>,
    ) -> Result<Self, Vec<Diagnostic>> {
        let source = diagnostics::SourceMap::parse(file, text)?;
        let s: Scenario = diagnostics::deserialize_all(file, text)?;
        let problems = check::check(&s, &source, devices, cameras);
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(problems)
        }
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path, devices: &HashSet<String>) -> Result<Self, Vec<Diagnostic>> {
        Self::load_checked(path, devices, None)
    }

    /// Reads and parses a scenario file, also checking its `cameras` list
    /// against the configured cameras (see [`Scenario::parse_with_cameras`]).
    pub fn load_with_cameras(
        path: &Path,
        devices: &HashSet<String>,
        cameras: &HashSet<String>,
    ) -> Result<Self, Vec<Diagnostic>> {
        Self::load_checked(path, devices, Some(cameras))
    }

    fn load_checked(
        path: &Path,
        devices: &HashSet<String>,
        cameras: Option<&HashSet<String>>,
    ) -> Result<Self, Vec<Diagnostic>> {
        // Scenario files are TOML like the config, and capped alike.
        let (file, text) = crate::config::read_capped(path)?;
        Self::parse_checked(&file, &text, devices, cameras)
    }
}

#[path = "scenario_check.rs"]
mod check;
#[path = "scenario_serde.rs"]
mod serde_impls;
use serde_impls::at_time;

#[cfg(test)]
#[path = "scenario_tests.rs"]
mod tests;
