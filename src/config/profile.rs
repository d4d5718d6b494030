//! Named profiles, the schedule that picks one by local time of day,
//! `[[stretch]]` chainage ranges, and the one place where every effective
//! threshold is resolved.
//!
//! Precedence, most specific first, each key on its own (see the module
//! documentation of [`super`] and `docs/CONFIG.md`):
//!
//! 1. the zone (`[[fence.zones]]`) or geophone (`[[trench.geophones]]`),
//! 2. the controller (`[[fence]]`, `[[trench]]`),
//! 3. the camera (`[[camera]]`, for cameras),
//! 4. `[[stretch]]` entries naming the active profile whose range holds the
//!    sensor (later entries first),
//! 5. `[[stretch]]` entries without a profile whose range holds the sensor
//!    (later entries first),
//! 6. the active `[[profile]]`,
//! 7. `[detection.fence]`, `[detection.ground]` or `[thermal]`.
//!
//! A fence zone is placed by its middle, a geophone by `at_m`. Stretches set
//! only fence and geophone thresholds; cameras, which are not at one point
//! of the wall, take their thresholds from 1–3, 6 and 7.

use std::fmt;

use serde::{Deserialize, Deserializer};

use super::{Config, FenceThresholds, ThermalConfig};
use crate::time::Timestamp;

/// The name a schedule entry or `force` uses for "no profile".
pub const DEFAULT_PROFILE: &str = "default";

/// Minutes in a day.
const DAY_MIN: i64 = 24 * 60;

/// A time of day, written `"HH:MM"` (24-hour clock, `"00:00"` to `"23:59"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// `hour`:`minute`, if it is a time of day.
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        (hour < 24 && minute < 60).then(|| Self(u16::from(hour) * 60 + u16::from(minute)))
    }

    /// Minutes since midnight, 0–1439.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Parses `"HH:MM"` (one-digit hours are accepted: `"6:00"`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("invalid time of day `{text}`; write it like \"06:30\" or \"18:00\"");
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        let number = |s: &str, lengths: std::ops::RangeInclusive<usize>| {
            (lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u8>().ok())
                .flatten()
        };
        match (number(h, 1..=2), number(m, 2..=2)) {
            (Some(h), Some(m)) => Self::new(h, m).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A fixed offset from UTC, written `"+03:00"` or `"-04:30"`, at most 14
/// hours either way. No daylight-saving rules: the wall's region keeps one
/// offset all year; change the file if it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtcOffset(i16);

impl UtcOffset {
    /// The offset in minutes east of UTC.
    pub fn minutes(self) -> i16 {
        self.0
    }

    /// An offset of `minutes` east of UTC, if within ±14:00.
    pub fn from_minutes(minutes: i16) -> Option<Self> {
        (minutes.abs() <= 14 * 60).then_some(Self(minutes))
    }

    /// Parses `"+HH:MM"` or `"-HH:MM"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid UTC offset `{text}`; write it like \"+03:00\" or \"-04:30\" (at most 14 hours)"
            )
        };
        let t = text.trim();
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        let two = |s: &str| {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i16>().ok())
                .flatten()
        };
        match (two(h), two(m)) {
            (Some(h), Some(m)) if m < 60 => Self::from_minutes(sign * (h * 60 + m)).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let m = self.0.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

impl<'de> Deserialize<'de> for UtcOffset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `[[profile]]`: a named set of default thresholds, used while the profile
/// is active (by the schedule or by `[profiles] force`). Every key but
/// `name` is optional; a key left out keeps `[detection.*]` / `[thermal]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile's name: 1 to 32 of `A-Z a-z 0-9 _ -`, unique, not
    /// `default`. Required.
    pub name: String,
    /// Replaces `[detection.fence].rms_mg` while active. Default: not set.
    #[serde(default)]
    pub rms_mg: Option<f64>,
    /// Replaces `[detection.fence].peak_mg` while active. Default: not set.
    #[serde(default)]
    pub peak_mg: Option<f64>,
    /// Replaces `[detection.fence].k` while active. Default: not set.
    #[serde(default)]
    pub k: Option<u32>,
    /// Replaces `[detection.fence].n` (at most 64) while active. Default: not set.
    #[serde(default)]
    pub n: Option<u32>,
    /// Replaces `[detection.ground].ppv_um_s` while active. Default: not set.
    #[serde(default)]
    pub ppv_um_s: Option<f64>,
    /// Replaces `[thermal].delta_t_k` while active. Default: not set.
    #[serde(default)]
    pub delta_t_k: Option<f64>,
    /// Replaces `[thermal].min_extent_m` while active. Default: not set.
    #[serde(default)]
    pub min_extent_m: Option<f64>,
    /// Replaces `[thermal].max_extent_m` while active. Default: not set.
    #[serde(default)]
    pub max_extent_m: Option<f64>,
}

/// `[profiles]`: which profile is active when.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilesConfig {
    /// The wall's local time, as an offset from UTC, used to read the
    /// schedule. Default `"+00:00"`.
    #[serde(default)]
    pub utc_offset: UtcOffset,
    /// `[{ from = "HH:MM", profile = "NAME" }, ...]`: the entry with the
    /// latest `from` not after the local time of day applies; before the
    /// earliest `from`, the day's last entry still applies (it wraps over
    /// midnight). `profile = "default"` means no profile. Default `[]`:
    /// no profile.
    #[serde(default)]
    pub schedule: Vec<ScheduleEntry>,
    /// A profile name that applies whatever the schedule says (`"default"`
    /// for none). Default: not set, the schedule decides.
    #[serde(default)]
    pub force: Option<String>,
}

/// One entry of `[profiles] schedule`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// Local time of day from which `profile` applies, `"HH:MM"`. Required.
    pub from: TimeOfDay,
    /// A `[[profile]]` name, or `"default"`. Required.
    pub profile: String,
}

/// `[[stretch]]`: thresholds for the sensors on a range of chainage,
/// always or only while one profile is active.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stretch {
    /// Where the range starts, metres of chainage (included). Required.
    pub from_m: f64,
    /// Where it ends, metres of chainage (excluded; greater than `from_m`).
    /// Required.
    pub to_m: f64,
    /// Applies only while this `[[profile]]` is active (`"default"`: only
    /// while none is). Default: not set, always.
    #[serde(default)]
    pub profile: Option<String>,
    /// RMS threshold (milli-g) of fence zones whose middle is in the range.
    /// Default: not set.
    #[serde(default)]
    pub rms_mg: Option<f64>,
    /// Peak threshold (milli-g) of those zones. Default: not set.
    #[serde(default)]
    pub peak_mg: Option<f64>,
    /// `k` of those zones. Default: not set.
    #[serde(default)]
    pub k: Option<u32>,
    /// `n` (at most 64) of those zones. Default: not set.
    #[serde(default)]
    pub n: Option<u32>,
    /// PPV threshold (µm/s) of geophones in the range. Default: not set.
    #[serde(default)]
    pub ppv_um_s: Option<f64>,
}

impl Stretch {
    /// Whether chainage `at_m` lies in `[from_m, to_m)`.
    pub fn contains(&self, at_m: f64) -> bool {
        self.from_m <= at_m && at_m < self.to_m
    }
}

impl ProfilesConfig {
    /// The local time of day at `now`.
    pub fn local_time(&self, now: Timestamp) -> TimeOfDay {
        let minutes = now.millis().div_euclid(60_000) + i64::from(self.utc_offset.minutes());
        // rem_euclid(1440) is 0..1440, which fits u16.
        TimeOfDay(minutes.rem_euclid(DAY_MIN) as u16)
    }

    /// The schedule's choice at local time `t`: the entry with the latest
    /// `from` not after `t`, else (before the earliest) the latest entry of
    /// the day. `None` for an empty schedule or a `"default"` entry.
    pub fn scheduled<'a>(&'a self, t: TimeOfDay) -> Option<&'a str> {
        // Of equal times the later entry wins (validation forbids them).
        let later = |best: Option<&'a ScheduleEntry>, e: &'a ScheduleEntry| match best {
            Some(b) if b.from > e.from => Some(b),
            _ => Some(e),
        };
        let entry = self
            .schedule
            .iter()
            .filter(|e| e.from <= t)
            .fold(None, later)
            .or_else(|| self.schedule.iter().fold(None, later))?;
        named(&entry.profile)
    }
}

/// `None` for `"default"`.
fn named(profile: &str) -> Option<&str> {
    (profile != DEFAULT_PROFILE).then_some(profile)
}

impl Config {
    /// The `[[profile]]` named `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profile.iter().find(|p| p.name == name)
    }

    /// The profile active at `now`: `[profiles] force` if set, else the
    /// schedule at the local time of day. `None` means the defaults (also
    /// for a name that is not a `[[profile]]`, which validation rejects).
    pub fn active_profile(&self, now: Timestamp) -> Option<&str> {
        let name = match &self.profiles.force {
            Some(forced) => named(forced),
            None => self.profiles.scheduled(self.profiles.local_time(now)),
        };
        name.and_then(|name| self.profile(name).map(|p| p.name.as_str()))
    }

    /// The stretches holding chainage `at_m` under `profile`, most
    /// specific first: those naming the profile (`"default"` when it is
    /// `None`), later entries first, then
    /// those without a profile, later entries first.
    fn stretches_at(&self, at_m: f64, profile: Option<&str>) -> Vec<&Stretch> {
        let holds = |s: &&Stretch| s.contains(at_m);
        let with = self
            .stretch
            .iter()
            .rev()
            .filter(|s| {
                s.profile
                    .as_deref()
                    .is_some_and(|name| named(name) == profile)
            })
            .filter(holds);
        let without = self
            .stretch
            .iter()
            .rev()
            .filter(|s| s.profile.is_none())
            .filter(holds);
        with.chain(without).collect()
    }

    /// `[detection.fence]` under `profile`.
    pub fn fence_defaults(&self, profile: Option<&str>) -> FenceThresholds {
        let d = &self.detection.fence;
        let p = profile.and_then(|n| self.profile(n));
        FenceThresholds {
            rms_mg: p.and_then(|p| p.rms_mg).unwrap_or(d.rms_mg),
            peak_mg: p.and_then(|p| p.peak_mg).unwrap_or(d.peak_mg),
            k: p.and_then(|p| p.k).unwrap_or(d.k),
            n: p.and_then(|p| p.n).unwrap_or(d.n),
        }
    }

    /// `[detection.ground].ppv_um_s` under `profile`.
    pub fn ppv_default(&self, profile: Option<&str>) -> f64 {
        profile
            .and_then(|n| self.profile(n))
            .and_then(|p| p.ppv_um_s)
            .unwrap_or(self.detection.ground.ppv_um_s)
    }

    /// The effective thresholds of zone `zone` (an index into `zones`) of
    /// fence controller `fence` (an index into `fence`) while `profile` is
    /// active. Indices out of range contribute nothing.
    pub fn zone_thresholds(
        &self,
        fence: usize,
        zone: usize,
        profile: Option<&str>,
    ) -> FenceThresholds {
        let dev = self.fence.get(fence);
        let z = dev.and_then(|d| d.zones.get(zone));
        let stretches = z
            .map(|z| self.stretches_at((z.start_m + z.end_m) / 2.0, profile))
            .unwrap_or_default();
        let d = self.fence_defaults(profile);
        FenceThresholds {
            rms_mg: z
                .and_then(|z| z.rms_mg)
                .or(dev.and_then(|d| d.rms_mg))
                .or(stretches.iter().find_map(|s| s.rms_mg))
                .unwrap_or(d.rms_mg),
            peak_mg: z
                .and_then(|z| z.peak_mg)
                .or(dev.and_then(|d| d.peak_mg))
                .or(stretches.iter().find_map(|s| s.peak_mg))
                .unwrap_or(d.peak_mg),
            k: z.and_then(|z| z.k)
                .or(dev.and_then(|d| d.k))
                .or(stretches.iter().find_map(|s| s.k))
                .unwrap_or(d.k),
            n: z.and_then(|z| z.n)
                .or(dev.and_then(|d| d.n))
                .or(stretches.iter().find_map(|s| s.n))
                .unwrap_or(d.n),
        }
    }

    /// The effective PPV threshold of geophone `geophone` (an index into
    /// `geophones`) of trench controller `trench` while `profile` is
    /// active. Indices out of range contribute nothing.
    pub fn geophone_ppv(&self, trench: usize, geophone: usize, profile: Option<&str>) -> f64 {
        let dev = self.trench.get(trench);
        let g = dev.and_then(|d| d.geophones.get(geophone));
        g.and_then(|g| g.ppv_um_s)
            .or(dev.and_then(|d| d.ppv_um_s))
            .or_else(|| {
                g.and_then(|g| {
                    self.stretches_at(g.at_m, profile)
                        .iter()
                        .find_map(|s| s.ppv_um_s)
                })
            })
            .unwrap_or_else(|| self.ppv_default(profile))
    }

    /// `[thermal]` as camera `camera` (an index into `camera`) uses it while
    /// `profile` is active: the camera's overrides, then the profile's, then
    /// `[thermal]`. Feed it to `CameraSettings::resolve` with the same
    /// camera (its overrides are already applied, so applying them again
    /// changes nothing). An index out of range gives the profile over
    /// `[thermal]`.
    pub fn camera_thermal(&self, camera: usize, profile: Option<&str>) -> ThermalConfig {
        let cam = self.camera.get(camera);
        let p = profile.and_then(|n| self.profile(n));
        let t = &self.thermal;
        ThermalConfig {
            delta_t_k: cam
                .and_then(|c| c.delta_t_k)
                .or(p.and_then(|p| p.delta_t_k))
                .unwrap_or(t.delta_t_k),
            gate_min_c: cam.and_then(|c| c.gate_min_c).or(t.gate_min_c),
            gate_max_c: cam.and_then(|c| c.gate_max_c).or(t.gate_max_c),
            min_extent_m: cam
                .and_then(|c| c.min_extent_m)
                .or(p.and_then(|p| p.min_extent_m))
                .unwrap_or(t.min_extent_m),
            max_extent_m: cam
                .and_then(|c| c.max_extent_m)
                .or(p.and_then(|p| p.max_extent_m))
                .unwrap_or(t.max_extent_m),
            k: cam.and_then(|c| c.k).unwrap_or(t.k),
            n: cam.and_then(|c| c.n).unwrap_or(t.n),
            ..t.clone()
        }
    }

    /// Every profile a sensor can be under: `None` (the defaults) and then
    /// each `[[profile]]` in file order.
    pub fn profile_choices(&self) -> Vec<Option<&str>> {
        std::iter::once(None)
            .chain(self.profile.iter().map(|p| Some(p.name.as_str())))
            .collect()
    }
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
