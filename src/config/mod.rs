//! The daemon's configuration: TOML structs, their defaults and validation.
//!
//! Every table rejects unknown keys. Defaults are stated on each field and in
//! `default.toml` (what `rampart print-default-config` prints). Loading goes
//! through [`load`], which reports every problem in a file at once, each with
//! file, line, column and key path (see [`diagnostics`]).
//!
//! Threshold precedence, most specific first, each key on its own:
//!
//! 1. zone (`[[fence.zones]]`) or channel (`[[trench.geophones]]`),
//! 2. controller (`[[fence]]`, `[[trench]]`),
//! 3. camera (`[[camera]]`, for cameras),
//! 4. `[[stretch]]` entries with the active profile whose range holds the
//!    sensor (later entries win over earlier ones),
//! 5. `[[stretch]]` entries without a profile (later entries win),
//! 6. the active `[[profile]]`,
//! 7. `[detection.fence]`, `[detection.ground]`, `[thermal]`.
//!
//! It is implemented once, in [`profile`] ([`Config::zone_thresholds`],
//! [`Config::geophone_ppv`], [`Config::camera_thermal`]); which profile is
//! active comes from [`Config::active_profile`]. [`explain`] compares the
//! effective thresholds of two configs.

pub mod diagnostics;
pub mod duration;
pub mod explain;
pub mod profile;
pub mod security;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use diagnostics::Diagnostic;
pub use profile::{
    Profile, ProfilesConfig, ScheduleEntry, Stretch, TimeOfDay, UtcOffset, DEFAULT_PROFILE,
};

use crate::wall::Wall;

/// The commented default configuration, as printed by `print-default-config`.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The largest config file [`load`] reads: a real one is a few KiB, and a
/// wrong path (a log, a disk image) must not be read to its end.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This daemon's instance id: 1 to 32 of `A-Z a-z 0-9 _ -`. Names the
    /// presence topic and prefixes MQTT client ids and incident ids.
    /// Default `"rampart"`.
    #[serde(default = "default_instance")]
    pub instance: String,
    /// The wall: a GeoJSON LineString file. Relative paths are resolved
    /// against the config file's directory. Required.
    pub wall: PathBuf,
    /// Length of a wall segment in metres. Default 1000.
    #[serde(default = "default_segment_length")]
    pub segment_length_m: f64,
    /// Where the daemon keeps its files (the alert store, `rampart.db`).
    /// Relative to the config file's directory. Default `"data"`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The MQTT broker.
    #[serde(default)]
    pub mqtt: MqttConfig,
    /// The alert store: how long history is kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// Authenticated sentences: the key file and when rejections make
    /// substitution suspected. Default: no key file, no device keyed.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Detection rules and their default thresholds.
    #[serde(default)]
    pub detection: DetectionConfig,
    /// Serial lines to read sentences from.
    #[serde(default)]
    pub serial: Vec<SerialPortConfig>,
    /// Fence controllers: vibration-sensing cable split into zones.
    #[serde(default)]
    pub fence: Vec<FenceController>,
    /// Trench controllers: geophones and break-beams.
    #[serde(default)]
    pub trench: Vec<TrenchController>,
    /// Defaults for every thermal camera.
    #[serde(default)]
    pub thermal: ThermalConfig,
    /// Thermal cameras.
    #[serde(default)]
    pub camera: Vec<CameraConfig>,
    /// Named threshold profiles (night, day, crossover, ...). Default: none.
    #[serde(default)]
    pub profile: Vec<Profile>,
    /// Which profile is active when: schedule by local time of day, or
    /// forced. Default: no schedule, no profile.
    #[serde(default)]
    pub profiles: ProfilesConfig,
    /// Thresholds for the sensors on chainage ranges, optionally only under
    /// one profile. Default: none.
    #[serde(default)]
    pub stretch: Vec<Stretch>,
}

/// `[mqtt]`: the broker and the topic root.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker URL: `mqtt://HOST[:PORT]` (or `tcp://`; port 1883 if
    /// omitted), or `mqtts://HOST[:PORT]` for TLS (port 8883 if omitted;
    /// needs `[mqtt.tls]`). Default `"mqtt://127.0.0.1:1883"`.
    #[serde(default = "default_mqtt_url")]
    pub url: String,
    /// Start an embedded broker (rumqttd) listening on the URL's address, so
    /// nothing else is needed. Needs the `embedded-broker` cargo feature.
    /// Default false.
    #[serde(default)]
    pub embedded_broker: bool,
    /// The first topic level: topics are `<root>/v1/...`. Default `"rampart"`.
    #[serde(default = "default_root")]
    pub root: String,
    /// MQTT keep-alive interval. Default `"15s"`.
    #[serde(default = "default_keep_alive", with = "duration")]
    pub keep_alive: Duration,
    /// Largest MQTT packet accepted or sent, in bytes. Default 4194304
    /// (4 MiB, room for a 1280×1024 16-bit thermal frame).
    #[serde(default = "default_max_packet")]
    pub max_packet_bytes: usize,
    /// Largest sensor message (one or more sentences) accepted, in bytes.
    /// A larger one is acknowledged, dropped unread and counted
    /// (`rejected.oversized`). Default 65536 (some 300 sentences).
    #[serde(default = "default_max_sensor_message")]
    pub max_sensor_message_bytes: usize,
    /// Longest wait between reconnection attempts (the wait doubles from
    /// 250 ms up to this). Default `"10s"`.
    #[serde(default = "default_mqtt_backoff", with = "duration")]
    pub reconnect_max: Duration,
    /// The QoS thermal frames are subscribed at, 0 or 1. At 0 the broker
    /// never queues frames for an absent daemon (a frame is stale within a
    /// second, and hundreds of them would fill the broker's memory); at 1
    /// each frame is acknowledged once it is in a camera's slot. Sentences
    /// and acknowledgements are always subscribed at 1. Default 0.
    #[serde(default)]
    pub frame_qos: u8,
    /// The broker account both connections log in as. Default: none
    /// (anonymous). The password is never in this file: see
    /// `password_file` and `password_env`.
    #[serde(default)]
    pub username: Option<String>,
    /// A file whose first line is the account's password, mode 0600 (no
    /// access for group or others). Relative to the config file's
    /// directory. Default: none.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The name of an environment variable holding the password, instead
    /// of `password_file`. Default: none.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The password, read from `password_file` or `password_env` when the
    /// config was loaded.
    #[serde(skip)]
    pub password: Option<crate::secret::Secret>,
    /// TLS settings, required by an `mqtts://` URL and refused with any
    /// other. Default: none.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// `[mqtt.tls]`: TLS to the broker. Files are PEM, relative to the config
/// file's directory, and read when the config is loaded (a changed file
/// takes effect at the next restart).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The CA certificate(s) the broker's certificate must chain to. Only
    /// these are trusted, not the system's store. Required.
    pub ca_file: PathBuf,
    /// This daemon's certificate (chain), for brokers that ask for one
    /// (mutual TLS, Mosquitto's `require_certificate true`). Needs
    /// `key_file`. Default: none.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file` (PKCS#8, PKCS#1 or SEC1), mode 0600
    /// (no access for group or others). Default: none.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The client configuration built from these files when the config was
    /// loaded.
    #[serde(skip)]
    pub client: Option<crate::tls::TlsClient>,
}

/// `[store]`: the alert store in `data_dir` (SQLite). Retention deletes
/// delivered messages only: an alert the broker has not acknowledged is
/// never deleted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Alert messages older than this are deleted. Default `"90days"`.
    #[serde(default = "default_retention", with = "duration")]
    pub retention: Duration,
    /// At most this many messages are kept (the oldest go first). Default
    /// 1000000.
    #[serde(default = "default_max_messages")]
    pub max_messages: u64,
}

impl Config {
    /// The ids of every fence and trench controller, fences first.
    pub fn controller_ids(&self) -> impl Iterator<Item = &str> {
        self.fence
            .iter()
            .map(|f| f.id.as_str())
            .chain(self.trench.iter().map(|t| t.id.as_str()))
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            retention: default_retention(),
            max_messages: default_max_messages(),
        }
    }
}

fn default_retention() -> Duration {
    Duration::from_secs(90 * 86_400)
}
fn default_max_messages() -> u64 {
    1_000_000
}

/// `[auth]`: authenticated sentences (see `SECURITY.md`). The keys
/// themselves are never in this file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The key file: one `device = "<64 hex digits>"` per line, mode 0600
    /// (no access for group or others). Relative to the config file's
    /// directory. Every device it names must be configured. Default: none
    /// (no device is keyed).
    #[serde(default)]
    pub keys_file: Option<PathBuf>,
    /// This many rejected sentences (`missing_mac`, `bad_mac`,
    /// `replayed_seq`) of one keyed device within `burst_window` raise a
    /// `tamper` incident (substitution suspected). Default 5.
    #[serde(default = "default_burst_count")]
    pub burst_count: u32,
    /// See `burst_count`. Default `"10s"`.
    #[serde(default = "default_burst_window", with = "duration")]
    pub burst_window: Duration,
    /// A substitution tamper clears after this long without a rejection
    /// (or at the device's authenticated `CLEAR`). Default `"5m"`.
    #[serde(default = "default_auth_clear_after", with = "duration")]
    pub clear_after: Duration,
    /// The keys read from `keys_file` when the config was loaded.
    #[serde(skip)]
    pub keys: std::sync::Arc<crate::auth::Keys>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            keys_file: None,
            burst_count: default_burst_count(),
            burst_window: default_burst_window(),
            clear_after: default_auth_clear_after(),
            keys: Default::default(),
        }
    }
}

fn default_burst_count() -> u32 {
    5
}
fn default_burst_window() -> Duration {
    Duration::from_secs(10)
}
fn default_auth_clear_after() -> Duration {
    Duration::from_secs(300)
}

/// `[detection]`: timing of incidents and the global default thresholds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionConfig {
    /// A controller silent for this long raises `sensor_offline`; it can be
    /// overridden per controller. Default `"30s"`.
    #[serde(default = "default_heartbeat_deadline", with = "duration")]
    pub heartbeat_deadline: Duration,
    /// An intrusion incident clears after this long without new evidence.
    /// Default `"60s"`.
    #[serde(default = "default_quiet_period", with = "duration")]
    pub quiet_period: Duration,
    /// Evidence that adds nothing new (no new sensor, no higher priority) is
    /// published as an update at most this often per incident. Default `"5s"`.
    #[serde(default = "default_min_update", with = "duration")]
    pub min_update_interval: Duration,
    /// Default fence-zone thresholds.
    #[serde(default)]
    pub fence: FenceThresholds,
    /// Default geophone threshold.
    #[serde(default)]
    pub ground: GroundThresholds,
    /// How evidence from several sensors becomes one incident.
    #[serde(default)]
    pub fusion: FusionConfig,
    /// How wind on the fence is told from someone at it.
    #[serde(default)]
    pub wind: WindConfig,
}

/// The kinds of intrusion evidence, as named in `[detection.fusion]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceClass {
    Thermal,
    Fence,
    Ground,
    Beam,
}

/// `[detection.fusion]`: intrusion evidence from every sensor near one place
/// is fused into one incident that follows it along the wall.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusionConfig {
    /// Evidence joins an open intrusion incident when it lies within this
    /// many metres of the incident's position (a fence zone counts from its
    /// nearer end). Default 150.
    #[serde(default = "default_fusion_radius")]
    pub radius_m: f64,
    /// Evidence joins an incident only if the incident had evidence this
    /// recently; the incident's position is estimated from the evidence of
    /// this last stretch of time. Default `"20s"`.
    #[serde(default = "default_fusion_window", with = "duration")]
    pub window: Duration,
    /// Kinds of evidence that are held back until they are strong enough
    /// (see `raise_strength`). Default `["fence", "ground", "beam"]`: a
    /// camel rubbing the fence while its steps shake a geophone, a
    /// patrol's footsteps or a fox through a beam do not alert; a camera's
    /// person-shaped blob alerts at once.
    #[serde(default = "default_fusion_corroborate")]
    pub corroborate: Vec<EvidenceClass>,
    /// Held evidence is raised once its sensors together are this strong:
    /// 1 plus, over every sensor, how far its strongest evidence went over
    /// its threshold (a reading at 1.5 times its threshold adds 0.5; a
    /// beam, on or off, adds nothing). At the default 2.0 one fence zone or
    /// geophone at twice its threshold (a climb, a cut, heavy steps)
    /// raises an incident alone; two at 1.5 times theirs raise it
    /// together; a beam needs a vibration sensor at twice its threshold.
    #[serde(default = "default_raise_strength")]
    pub raise_strength: f64,
    /// Where a camera saw an animal (a blob too small for a person, or
    /// shaped like a camel or a cow) within `radius_m` in the last
    /// `window`, held evidence needs this much more strength: the animal
    /// may explain a rubbed fence and heavy steps, but not a climb with
    /// footsteps. Default 2.0.
    #[serde(default = "default_animal_margin")]
    pub animal_margin: f64,
    /// How long after its first evidence a held incident may become strong
    /// enough; then it is dropped (counted as `fusion.held_expired`), and
    /// evidence after that starts afresh. Default `"15s"`.
    #[serde(default = "default_fusion_hold", with = "duration")]
    pub hold: Duration,
}

/// `[detection.wind]`: when many zones of one fence controller shake
/// together, without one standing out, it is wind: that controller's zone
/// thresholds are raised to `factor` times the zones' median level and its
/// segments are reported `degraded` (reduced sensitivity) until it calms.
/// A zone shaking well above its neighbours still alerts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindConfig {
    /// Turn wind rejection on or off. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// A zone is stirred when its smoothed RMS reaches this fraction of its
    /// RMS threshold. Default 0.5.
    #[serde(default = "default_stir_fraction")]
    pub stir_fraction: f64,
    /// Wind needs at least this many stirred zones on one controller...
    /// Default 3.
    #[serde(default = "default_wind_min_zones")]
    pub min_zones: u32,
    /// ... and at least this fraction of its zones. Default 0.5.
    #[serde(default = "default_wind_min_fraction")]
    pub min_fraction: f64,
    /// While it is windy, a zone's thresholds are at least this many times
    /// the median smoothed RMS and peak of the controller's zones.
    /// Default 1.8.
    #[serde(default = "default_wind_factor")]
    pub factor: f64,
    /// Wind is over once the zones have stayed calm this long. Default `"30s"`.
    #[serde(default = "default_wind_hold", with = "duration")]
    pub hold: Duration,
}

/// Fence-zone detection: a reading counts as a hit when its RMS or its peak
/// is at or above threshold; `k` hits among the last `n` readings make
/// intrusion evidence.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenceThresholds {
    /// RMS acceleration threshold in milli-g. Default 400.
    #[serde(default = "default_rms")]
    pub rms_mg: f64,
    /// Peak acceleration threshold in milli-g. Default 1500.
    #[serde(default = "default_peak")]
    pub peak_mg: f64,
    /// Hits needed. Default 3.
    #[serde(default = "default_k")]
    pub k: u32,
    /// Window of readings, at most 64. Default 5.
    #[serde(default = "default_n")]
    pub n: u32,
}

/// Geophone detection: a PPV at or above threshold is intrusion evidence.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundThresholds {
    /// Peak particle velocity threshold in µm/s. Default 1000.
    #[serde(default = "default_ppv")]
    pub ppv_um_s: f64,
}

/// `[[serial]]`: one serial line carrying sentences from one or more
/// controllers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialPortConfig {
    /// Device path, e.g. `/dev/ttyUSB0` or a stable `/dev/serial/by-id/...`
    /// link. Required.
    pub path: PathBuf,
    /// Baud rate; 8 data bits, no parity, 1 stop bit. Default 115200.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// The controllers expected on this line. When given, a sentence naming
    /// another device is rejected (`rejected.wrong_source`). Default: any configured
    /// controller.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Longest wait between attempts to open a missing or failed port (the
    /// wait doubles from 100 ms up to this). Default `"1s"`.
    #[serde(default = "default_serial_retry", with = "duration")]
    pub retry_max: Duration,
}

/// `[[fence]]`: a fence controller and its zones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenceController {
    /// Device id as it appears in sentences. Required.
    pub id: String,
    /// Chainage of the controller cabinet, where tamper, offline and fault
    /// alerts are placed. Default: the middle of its zones.
    #[serde(default)]
    pub location_m: Option<f64>,
    /// Override of `[detection].heartbeat_deadline`.
    #[serde(default, with = "duration::option")]
    pub heartbeat_deadline: Option<Duration>,
    /// Controller-wide override of `[detection.fence].rms_mg`.
    #[serde(default)]
    pub rms_mg: Option<f64>,
    /// Controller-wide override of `[detection.fence].peak_mg`.
    #[serde(default)]
    pub peak_mg: Option<f64>,
    /// Controller-wide override of `[detection.fence].k`.
    #[serde(default)]
    pub k: Option<u32>,
    /// Controller-wide override of `[detection.fence].n`.
    #[serde(default)]
    pub n: Option<u32>,
    /// The zones of the sensor cable. At least one.
    #[serde(default)]
    pub zones: Vec<FenceZone>,
}

/// `[[fence.zones]]`: one zone of a fence controller's cable, as a chainage
/// range on the wall, with optional per-zone thresholds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenceZone {
    /// Zone number as it appears in `FZ` sentences. Required.
    pub zone: u16,
    /// Chainage where the zone starts, in metres. Required.
    pub start_m: f64,
    /// Chainage where the zone ends, in metres (greater than `start_m`). Required.
    pub end_m: f64,
    /// Per-zone override of the RMS threshold.
    #[serde(default)]
    pub rms_mg: Option<f64>,
    /// Per-zone override of the peak threshold.
    #[serde(default)]
    pub peak_mg: Option<f64>,
    /// Per-zone override of `k`.
    #[serde(default)]
    pub k: Option<u32>,
    /// Per-zone override of `n`.
    #[serde(default)]
    pub n: Option<u32>,
}

/// `[[trench]]`: a trench controller with geophones and break-beams.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrenchController {
    /// Device id as it appears in sentences. Required.
    pub id: String,
    /// Chainage of the controller cabinet. Default: the middle of its channels.
    #[serde(default)]
    pub location_m: Option<f64>,
    /// Override of `[detection].heartbeat_deadline`.
    #[serde(default, with = "duration::option")]
    pub heartbeat_deadline: Option<Duration>,
    /// Controller-wide override of `[detection.ground].ppv_um_s`.
    #[serde(default)]
    pub ppv_um_s: Option<f64>,
    /// Geophone channels.
    #[serde(default)]
    pub geophones: Vec<Geophone>,
    /// Tripwire and break-beam channels.
    #[serde(default)]
    pub beams: Vec<BeamChannel>,
}

/// `[[trench.geophones]]`: one geophone at a chainage point.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geophone {
    /// Channel number in `GS` sentences. Required.
    pub channel: u16,
    /// Chainage of the geophone, in metres. Required.
    pub at_m: f64,
    /// Per-channel override of the PPV threshold.
    #[serde(default)]
    pub ppv_um_s: Option<f64>,
}

/// `[[trench.beams]]`: one tripwire or break-beam at a chainage point.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeamChannel {
    /// Channel number in `BK` sentences. Required.
    pub channel: u16,
    /// Chainage of the beam, in metres. Required.
    pub at_m: f64,
}

/// `[thermal]`: how every camera's frames are searched for people and
/// vehicles, unless a camera overrides it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThermalConfig {
    /// A pixel is hot when it differs from the background by at least this
    /// many kelvin, warmer or colder. Default 3.0.
    #[serde(default = "default_delta_t")]
    pub delta_t_k: f64,
    /// Optional absolute gate: hot pixels colder than this (°C) are ignored.
    #[serde(default)]
    pub gate_min_c: Option<f64>,
    /// Optional absolute gate: hot pixels warmer than this (°C) are ignored.
    #[serde(default)]
    pub gate_max_c: Option<f64>,
    /// The background's time constant, in frames (about 28 s at 9 Hz).
    /// Default 256.
    #[serde(default = "default_background_frames")]
    pub background_frames: u32,
    /// Blobs whose larger side is shorter than this (metres, from the
    /// camera geometry) are ignored. Default 1.2: a crawling (1.7 m) or
    /// walking (1.75 m) person, not a fox (0.7 m) or a dog (0.9 m).
    #[serde(default = "default_min_extent")]
    pub min_extent_m: f64,
    /// Blobs whose larger side is longer than this (metres) are ignored.
    /// Default 12.0: a lorry, not a hillside.
    #[serde(default = "default_max_extent")]
    pub max_extent_m: f64,
    /// A blob is evidence once seen in `k` of the last `n` frames near one
    /// place. Default 3.
    #[serde(default = "default_k")]
    pub k: u32,
    /// See `k`; at most 64. Default 5.
    #[serde(default = "default_n")]
    pub n: u32,
    /// How far a blob may move between frames (pixels) and stay the same
    /// object. Default 16.
    #[serde(default = "default_track_radius")]
    pub track_radius_px: f64,
    /// A tracked blob gives evidence at most this often. Default `"1s"`.
    #[serde(default = "default_evidence_interval", with = "duration")]
    pub evidence_interval: Duration,
    /// A tracked blob smaller than `vehicle_extent_m` that moves faster than
    /// this over the ground (m/s) is not evidence: a bird in flight projects
    /// its "foot" far beyond where it is and seems to race. Default 8.0.
    #[serde(default = "default_max_speed")]
    pub max_speed_m_s: f64,
    /// The same limit for blobs at least `vehicle_extent_m` long. Default 40.0.
    #[serde(default = "default_max_vehicle_speed")]
    pub max_vehicle_speed_m_s: f64,
    /// Blobs whose larger side is at least this (metres) count as vehicles
    /// for the speed limit (and are not large animals). Default 3.5: a car
    /// or a pickup, not a camel seen through a little blur.
    #[serde(default = "default_vehicle_extent")]
    pub vehicle_extent_m: f64,
    /// Blobs whose ground point is farther than this from the wall
    /// (metres) are ignored. Default 300.
    #[serde(default = "default_max_wall_offset")]
    pub max_wall_offset_m: f64,
    /// Frames with more pixels than this are rejected before decoding.
    /// Default 1310720 (1280 × 1024).
    #[serde(default = "default_max_frame_pixels")]
    pub max_frame_pixels: u64,
    /// Blobs at least this long (metres) but shorter than
    /// `vehicle_extent_m`, and not much taller than long (see
    /// `large_animal_max_aspect`), have the shape of a large four-legged
    /// animal seen from the side (a camel, a cow, a horse) and are not
    /// evidence. People are upright (tall and narrow) or prone (long and
    /// low). 0 turns the check off. Default 1.8.
    #[serde(default = "default_large_animal_length")]
    pub large_animal_min_length_m: f64,
    /// See `large_animal_min_length_m`: height at most this times the
    /// length. Default 1.2.
    #[serde(default = "default_large_animal_aspect")]
    pub large_animal_max_aspect: f64,
    /// A camera whose scene spans less than this many kelvin (between its
    /// 2nd and 98th percentile pixels) for `low_contrast_after` is reported
    /// `degraded` (rain, dust, fog or thermal crossover: people may be
    /// invisible). 0 turns the check off. Default 1.5.
    #[serde(default = "default_min_scene_contrast")]
    pub min_scene_contrast_k: f64,
    /// See `min_scene_contrast_k`. Default `"5s"`.
    #[serde(default = "default_low_contrast_after", with = "duration")]
    pub low_contrast_after: Duration,
}

/// `[[camera]]`: one thermal camera, its mounting and optional overrides of
/// `[thermal]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Camera id, as in its topic `<root>/v1/camera/<id>/frame`. Required.
    pub id: String,
    /// Mast position, WGS84 degrees. Required.
    pub lat: f64,
    pub lon: f64,
    /// Height of the lens above the ground, metres. Required.
    pub height_m: f64,
    /// Azimuth of the optical axis, degrees clockwise from true north. Required.
    pub heading_deg: f64,
    /// Angle of the optical axis below the horizontal, degrees. Required.
    pub tilt_deg: f64,
    /// Full horizontal and vertical angles of view, degrees. Required.
    pub hfov_deg: f64,
    pub vfov_deg: f64,
    /// Overrides of `[thermal]`.
    #[serde(default)]
    pub delta_t_k: Option<f64>,
    #[serde(default)]
    pub gate_min_c: Option<f64>,
    #[serde(default)]
    pub gate_max_c: Option<f64>,
    #[serde(default)]
    pub min_extent_m: Option<f64>,
    #[serde(default)]
    pub max_extent_m: Option<f64>,
    #[serde(default)]
    pub k: Option<u32>,
    #[serde(default)]
    pub n: Option<u32>,
}

impl Default for ThermalConfig {
    fn default() -> Self {
        Self {
            delta_t_k: default_delta_t(),
            gate_min_c: None,
            gate_max_c: None,
            background_frames: default_background_frames(),
            min_extent_m: default_min_extent(),
            max_extent_m: default_max_extent(),
            k: default_k(),
            n: default_n(),
            track_radius_px: default_track_radius(),
            evidence_interval: default_evidence_interval(),
            max_speed_m_s: default_max_speed(),
            max_vehicle_speed_m_s: default_max_vehicle_speed(),
            vehicle_extent_m: default_vehicle_extent(),
            max_wall_offset_m: default_max_wall_offset(),
            max_frame_pixels: default_max_frame_pixels(),
            large_animal_min_length_m: default_large_animal_length(),
            large_animal_max_aspect: default_large_animal_aspect(),
            min_scene_contrast_k: default_min_scene_contrast(),
            low_contrast_after: default_low_contrast_after(),
        }
    }
}

fn default_delta_t() -> f64 {
    3.0
}
fn default_background_frames() -> u32 {
    256
}
fn default_min_extent() -> f64 {
    1.2
}
fn default_large_animal_length() -> f64 {
    1.8
}
fn default_large_animal_aspect() -> f64 {
    1.2
}
fn default_max_extent() -> f64 {
    12.0
}
fn default_track_radius() -> f64 {
    16.0
}
fn default_evidence_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_max_speed() -> f64 {
    8.0
}
fn default_max_vehicle_speed() -> f64 {
    40.0
}
fn default_vehicle_extent() -> f64 {
    3.5
}
fn default_max_wall_offset() -> f64 {
    300.0
}
fn default_max_frame_pixels() -> u64 {
    1_310_720
}
fn default_min_scene_contrast() -> f64 {
    1.5
}
fn default_low_contrast_after() -> Duration {
    Duration::from_secs(5)
}
fn default_true() -> bool {
    true
}
fn default_fusion_radius() -> f64 {
    150.0
}
fn default_fusion_window() -> Duration {
    Duration::from_secs(20)
}
fn default_fusion_corroborate() -> Vec<EvidenceClass> {
    vec![
        EvidenceClass::Fence,
        EvidenceClass::Ground,
        EvidenceClass::Beam,
    ]
}
fn default_raise_strength() -> f64 {
    2.0
}
fn default_animal_margin() -> f64 {
    2.0
}
fn default_fusion_hold() -> Duration {
    Duration::from_secs(15)
}
fn default_stir_fraction() -> f64 {
    0.5
}
fn default_wind_min_zones() -> u32 {
    3
}
fn default_wind_min_fraction() -> f64 {
    0.5
}
fn default_wind_factor() -> f64 {
    1.8
}
fn default_wind_hold() -> Duration {
    Duration::from_secs(30)
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            radius_m: default_fusion_radius(),
            window: default_fusion_window(),
            corroborate: default_fusion_corroborate(),
            raise_strength: default_raise_strength(),
            animal_margin: default_animal_margin(),
            hold: default_fusion_hold(),
        }
    }
}

impl Default for WindConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            stir_fraction: default_stir_fraction(),
            min_zones: default_wind_min_zones(),
            min_fraction: default_wind_min_fraction(),
            factor: default_wind_factor(),
            hold: default_wind_hold(),
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            url: default_mqtt_url(),
            embedded_broker: false,
            root: default_root(),
            keep_alive: default_keep_alive(),
            max_packet_bytes: default_max_packet(),
            max_sensor_message_bytes: default_max_sensor_message(),
            reconnect_max: default_mqtt_backoff(),
            frame_qos: 0,
            username: None,
            password_file: None,
            password_env: None,
            password: None,
            tls: None,
        }
    }
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            heartbeat_deadline: default_heartbeat_deadline(),
            quiet_period: default_quiet_period(),
            min_update_interval: default_min_update(),
            fence: FenceThresholds::default(),
            ground: GroundThresholds::default(),
            fusion: FusionConfig::default(),
            wind: WindConfig::default(),
        }
    }
}

impl Default for FenceThresholds {
    fn default() -> Self {
        Self {
            rms_mg: default_rms(),
            peak_mg: default_peak(),
            k: default_k(),
            n: default_n(),
        }
    }
}

impl Default for GroundThresholds {
    fn default() -> Self {
        Self {
            ppv_um_s: default_ppv(),
        }
    }
}

fn default_instance() -> String {
    "rampart".into()
}
fn default_segment_length() -> f64 {
    1000.0
}
fn default_data_dir() -> PathBuf {
    "data".into()
}
fn default_mqtt_url() -> String {
    "mqtt://127.0.0.1:1883".into()
}
fn default_root() -> String {
    "rampart".into()
}
fn default_max_sensor_message() -> usize {
    64 * 1024
}

fn default_keep_alive() -> Duration {
    Duration::from_secs(15)
}
fn default_max_packet() -> usize {
    4 * 1024 * 1024
}
fn default_mqtt_backoff() -> Duration {
    Duration::from_secs(10)
}
fn default_heartbeat_deadline() -> Duration {
    Duration::from_secs(30)
}
fn default_quiet_period() -> Duration {
    Duration::from_secs(60)
}
fn default_min_update() -> Duration {
    Duration::from_secs(5)
}
fn default_rms() -> f64 {
    400.0
}
fn default_peak() -> f64 {
    1500.0
}
fn default_k() -> u32 {
    3
}
fn default_n() -> u32 {
    5
}
fn default_ppv() -> f64 {
    1000.0
}
fn default_baud() -> u32 {
    115_200
}
fn default_serial_retry() -> Duration {
    Duration::from_secs(1)
}

impl FenceController {
    /// The chainage range the controller's zones cover.
    pub fn coverage(&self) -> Option<(f64, f64)> {
        span(self.zones.iter().flat_map(|z| [z.start_m, z.end_m]))
    }
}

impl TrenchController {
    /// The chainage range the controller's channels cover.
    pub fn coverage(&self) -> Option<(f64, f64)> {
        span(
            self.geophones
                .iter()
                .map(|g| g.at_m)
                .chain(self.beams.iter().map(|b| b.at_m)),
        )
    }
}

fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A configuration that parsed and validated, with the paths resolved and
/// the wall loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file it came from.
    pub path: PathBuf,
    /// The configuration, with relative paths made absolute.
    pub config: Config,
    /// The wall it names.
    pub wall: Wall,
}

/// Reads, parses and validates a config file, loading the wall it names.
/// A TOML file of ours (a config, a scenario) as its display name and text,
/// refused before it is read past [`MAX_CONFIG_BYTES`].
pub fn read_capped(path: &Path) -> Result<(String, String), Vec<Diagnostic>> {
    let file = path.display().to_string();
    match crate::capped::read_to_string(path, MAX_CONFIG_BYTES) {
        Ok(text) => Ok((file, text)),
        Err(e) => Err(vec![Diagnostic {
            file,
            line: 0,
            column: 0,
            key_path: String::new(),
            message: format!("cannot read: {e}"),
        }]),
    }
}

/// Returns every problem found, each located in the file. A file over
/// [`MAX_CONFIG_BYTES`] is refused before it is parsed.
pub fn load(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let (file, text) = read_capped(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    load_str(&file, &text, base).map(|(config, wall)| Loaded {
        path: path.to_owned(),
        config,
        wall,
    })
}

/// Parses and validates config text; relative paths resolve against `base`.
///
/// Structural problems (unknown keys, wrong types) and semantic ones (ranges,
/// ids, the wall) are reported together: the semantic checks also run on the
/// document with its structural problems repaired, ignoring whatever the
/// repair touched.
pub fn load_str(file: &str, text: &str, base: &Path) -> Result<(Config, Wall), Vec<Diagnostic>> {
    let source = diagnostics::SourceMap::parse(file, text)?;
    let partial = match diagnostics::deserialize_partial::<Config>(file, text) {
        Ok(config) => return validate::validate(resolve_paths(config, base), &source),
        Err(partial) => partial,
    };
    let mut problems = partial.diagnostics;
    if let Some(config) = partial.repaired {
        let touched: Vec<String> = partial
            .touched
            .iter()
            .map(|p| diagnostics::render_path(p))
            .collect();
        let under = |path: &str, t: &str| {
            path == t || path.starts_with(&format!("{t}.")) || path.starts_with(&format!("{t}["))
        };
        if let Err(more) = validate::validate(resolve_paths(config, base), &source) {
            problems.extend(
                more.into_iter()
                    .filter(|d| !touched.iter().any(|t| under(&d.key_path, t))),
            );
        }
    }
    problems.sort_by_key(|d| (d.line, d.column));
    Err(problems)
}

/// Makes the config's relative paths relative to `base`.
fn resolve_paths(mut config: Config, base: &Path) -> Config {
    config.wall = base.join(&config.wall);
    config.data_dir = base.join(&config.data_dir);
    if let Some(keys) = &mut config.auth.keys_file {
        *keys = base.join(&*keys);
    }
    if let Some(tls) = &mut config.mqtt.tls {
        for path in [
            Some(&mut tls.ca_file),
            tls.cert_file.as_mut(),
            tls.key_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            *path = base.join(&*path);
        }
    }
    if let Some(pw) = &mut config.mqtt.password_file {
        *pw = base.join(&*pw);
    }
    for port in &mut config.serial {
        port.path = base.join(&port.path);
    }
    config
}

#[cfg(test)]
pub(crate) mod tests;
