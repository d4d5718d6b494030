//! What a config means for each sensor, and what a change to it would do:
//! the effective thresholds of every fence zone, geophone and camera under
//! every profile ([`effective`]), and the differences between two configs
//! ([`diff`]), grouped by segment. `rampart check-config --explain` and
//! `--against` print them ([`render_effective`], [`render_diff`]).
//!
//! Thresholds are read from the same [`Layout`] the engine uses, so what is
//! explained is what runs. A zone is placed in the segment of its middle, a
//! geophone in the segment of `at_m`, a camera in every segment it watches.
//!
//! Profiles are compared by name: a profile one config lacks counts there
//! as the defaults (no profile), which is what that config would apply in
//! its place.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{Config, DEFAULT_PROFILE};
use crate::layout::{DeviceKind, Layout};
use crate::time::Timestamp;
use crate::wall::{SegmentIndex, Wall};

/// One sensor's effective thresholds under each profile.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorThresholds {
    /// `fence-c01/zone2`, `trench-t01/geo1`, `trench-t01/beam0`, `cam-c01`.
    pub sensor: String,
    /// The controller or camera it belongs to.
    pub device: String,
    /// Whether it is a camera.
    pub camera: bool,
    /// Where it is: one segment for a zone or a channel, the segments a
    /// camera watches (possibly none).
    pub segments: Vec<SegmentIndex>,
    /// Under each profile of [`Effective::profiles`], in that order: each
    /// threshold key with its value (empty for a beam, which has none).
    pub values: Vec<Vec<(&'static str, f64)>>,
}

/// A controller or camera and the segments it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCover {
    pub id: String,
    pub segments: Vec<SegmentIndex>,
}

/// Every sensor's effective thresholds under every profile of a config.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// `"default"`, then each `[[profile]]` in file order.
    pub profiles: Vec<String>,
    /// Sorted by first segment, cameras last in their first segment, then
    /// by name.
    pub sensors: Vec<SensorThresholds>,
    /// Controllers and cameras, sorted by id.
    pub devices: Vec<DeviceCover>,
}

/// The effective thresholds of `config` (validated, on `wall`).
pub fn effective(config: &Config, wall: &Wall) -> Effective {
    let names: Vec<String> = profile_names(config);
    effective_under(config, wall, &names)
}

/// `"default"` and each profile name, in file order.
fn profile_names(config: &Config) -> Vec<String> {
    std::iter::once(DEFAULT_PROFILE.to_owned())
        .chain(config.profile.iter().map(|p| p.name.clone()))
        .collect()
}

/// `"default"` → `None`, a profile of `config` → `Some`, any other name →
/// `None` (what `config` would apply in its place).
fn as_profile<'a>(config: &Config, name: &'a str) -> Option<&'a str> {
    config.profile(name).map(|_| name)
}

/// The effective thresholds of `config` under each of `profiles` (names;
/// one `config` lacks resolves as its defaults).
fn effective_under(config: &Config, wall: &Wall, profiles: &[String]) -> Effective {
    let base = Layout::with_profile(config, wall, None);
    let layouts: Vec<Layout> = profiles
        .iter()
        .map(|name| base.reprofiled(config, as_profile(config, name)))
        .collect();
    let mut sensors = Vec::new();
    let mut devices = Vec::new();
    for dev in base.devices() {
        devices.push(DeviceCover {
            id: dev.id.clone(),
            segments: dev.segments.clone(),
        });
        match &dev.kind {
            DeviceKind::Fence { zones } => {
                for (number, zone) in zones {
                    let values = layouts
                        .iter()
                        .map(|l| match l.device(&dev.id).map(|d| &d.kind) {
                            Some(DeviceKind::Fence { zones }) => zones
                                .get(number)
                                .map(|z| {
                                    let t = z.thresholds;
                                    vec![
                                        ("rms_mg", t.rms_mg),
                                        ("peak_mg", t.peak_mg),
                                        ("k", f64::from(t.k)),
                                        ("n", f64::from(t.n)),
                                    ]
                                })
                                .unwrap_or_default(),
                            _ => Vec::new(),
                        })
                        .collect();
                    sensors.push(SensorThresholds {
                        sensor: format!("{}/zone{number}", dev.id),
                        device: dev.id.clone(),
                        camera: false,
                        segments: vec![wall.segment_at(zone.middle_m())],
                        values,
                    });
                }
            }
            DeviceKind::Trench { geophones, beams } => {
                for (channel, geo) in geophones {
                    let values = layouts
                        .iter()
                        .map(|l| match l.device(&dev.id).map(|d| &d.kind) {
                            Some(DeviceKind::Trench { geophones, .. }) => geophones
                                .get(channel)
                                .map(|g| vec![("ppv_um_s", g.ppv_um_s)])
                                .unwrap_or_default(),
                            _ => Vec::new(),
                        })
                        .collect();
                    sensors.push(SensorThresholds {
                        sensor: format!("{}/geo{channel}", dev.id),
                        device: dev.id.clone(),
                        camera: false,
                        segments: vec![wall.segment_at(geo.at_m)],
                        values,
                    });
                }
                for (channel, at_m) in beams {
                    sensors.push(SensorThresholds {
                        sensor: format!("{}/beam{channel}", dev.id),
                        device: dev.id.clone(),
                        camera: false,
                        segments: vec![wall.segment_at(*at_m)],
                        values: vec![Vec::new(); profiles.len()],
                    });
                }
            }
        }
    }
    for (i, cam) in config.camera.iter().enumerate() {
        let segments = base.camera_segments(&cam.id).to_vec();
        devices.push(DeviceCover {
            id: cam.id.clone(),
            segments: segments.clone(),
        });
        let values = profiles
            .iter()
            .map(|name| {
                let t = config.camera_thermal(i, as_profile(config, name));
                vec![
                    ("delta_t_k", t.delta_t_k),
                    ("min_extent_m", t.min_extent_m),
                    ("max_extent_m", t.max_extent_m),
                    ("k", f64::from(t.k)),
                    ("n", f64::from(t.n)),
                ]
            })
            .collect();
        sensors.push(SensorThresholds {
            sensor: cam.id.clone(),
            device: cam.id.clone(),
            camera: true,
            segments,
            values,
        });
    }
    sensors.sort_by_key(|s| place_key(&s.segments, &s.sensor, s.camera));
    devices.sort_by(|a, b| a.id.cmp(&b.id));
    Effective {
        profiles: profiles.to_vec(),
        sensors,
        devices,
    }
}

/// Sorts by first segment (none last), cameras after the sensors of their
/// first segment, then by name with numbers in numeric order (`zone2`
/// before `zone10`).
fn place_key(segments: &[SegmentIndex], name: &str, camera: bool) -> (u32, bool, Vec<NamePart>) {
    let first = segments.first().map_or(u32::MAX, |s| s.0);
    (first, camera, name_parts(name))
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum NamePart {
    Text(String),
    Number(u64),
}

fn name_parts(name: &str) -> Vec<NamePart> {
    let mut parts = Vec::new();
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        let digit = c.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (part, tail) = rest.split_at(end);
        parts.push(match part.parse() {
            Ok(n) if digit => NamePart::Number(n),
            _ => NamePart::Text(part.to_owned()),
        });
        rest = tail;
    }
    parts
}

/// Which profiles a threshold change applies under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profiles {
    /// Every profile compared (the defaults and every named profile).
    All,
    /// These, in the order compared (`"default"` for the defaults).
    Only(Vec<String>),
}

/// What changes for one sensor or device.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// An effective threshold changes.
    Threshold {
        key: &'static str,
        old: f64,
        new: f64,
        profiles: Profiles,
    },
    /// A zone or channel of a controller that stays.
    SensorAdded,
    SensorRemoved,
    /// The sensor is now placed in other segments.
    Moved {
        from: Vec<SegmentIndex>,
    },
    /// A controller or camera.
    DeviceAdded,
    DeviceRemoved,
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Where: the sensor's segments in the new config (the old one for a
    /// removal).
    pub segments: Vec<SegmentIndex>,
    /// The sensor, controller or camera.
    pub name: String,
    /// Whether `name` is a camera (its segments are shown after its name).
    pub camera: bool,
    pub what: What,
}

/// What changes from one config to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// The profiles compared: `"default"`, the new config's, then those only
    /// the old one has.
    pub profiles: Vec<String>,
    /// Changes to profiles and their schedule, one line each.
    pub notes: Vec<String>,
    /// Sorted like [`Effective::sensors`].
    pub changes: Vec<Change>,
}

impl Diff {
    /// Segments with at least one change.
    pub fn segments(&self) -> BTreeSet<SegmentIndex> {
        self.changes
            .iter()
            .flat_map(|c| c.segments.iter().copied())
            .collect()
    }

    /// Distinct (sensor, key) pairs whose effective threshold changes.
    pub fn thresholds(&self) -> usize {
        self.changes
            .iter()
            .filter_map(|c| match &c.what {
                What::Threshold { key, .. } => Some((c.name.as_str(), *key)),
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Profiles under which some threshold changes.
    pub fn profiles_changed(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        for c in &self.changes {
            match &c.what {
                What::Threshold {
                    profiles: Profiles::All,
                    ..
                } => out.extend(self.profiles.iter().map(String::as_str)),
                What::Threshold {
                    profiles: Profiles::Only(list),
                    ..
                } => out.extend(list.iter().map(String::as_str)),
                _ => {}
            }
        }
        out
    }

    fn count(&self, f: impl Fn(&What) -> bool) -> usize {
        self.changes.iter().filter(|c| f(&c.what)).count()
    }

    /// One line: `3 segments change; 2 thresholds in 1 profile; 1 device added`.
    pub fn summary(&self) -> String {
        let segments = self.segments().len();
        let thresholds = self.thresholds();
        let mut parts = Vec::new();
        if segments == 0 && self.notes.is_empty() {
            return "no effective threshold changes".into();
        }
        parts.push(match segments {
            1 => "1 segment changes".to_owned(),
            n => format!("{n} segments change"),
        });
        if thresholds > 0 {
            let profiles = self.profiles_changed().len();
            parts.push(format!(
                "{} in {}",
                plural(thresholds, "threshold"),
                plural(profiles, "profile")
            ));
        }
        for (what, label) in [
            (
                self.count(|w| matches!(w, What::DeviceAdded)),
                "device added",
            ),
            (
                self.count(|w| matches!(w, What::DeviceRemoved)),
                "device removed",
            ),
            (
                self.count(|w| matches!(w, What::SensorAdded)),
                "sensor added",
            ),
            (
                self.count(|w| matches!(w, What::SensorRemoved)),
                "sensor removed",
            ),
            (
                self.count(|w| matches!(w, What::Moved { .. })),
                "sensor moved",
            ),
        ] {
            if what > 0 {
                let (noun, verb) = label.split_once(' ').unwrap_or((label, ""));
                parts.push(format!("{} {verb}", plural(what, noun)));
            }
        }
        if !self.notes.is_empty() {
            parts.push(format!(
                "{} changed",
                plural(self.notes.len(), "profile setting")
            ));
        }
        parts.join("; ")
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A threshold's key with its old and new value.
type Shift = (&'static str, f64, f64);

/// What changes from `old` (on `old_wall`) to `new` (on `new_wall`), both
/// validated.
pub fn diff(old: &Config, old_wall: &Wall, new: &Config, new_wall: &Wall) -> Diff {
    let mut profiles = profile_names(new);
    for name in profile_names(old) {
        if !profiles.contains(&name) {
            profiles.push(name);
        }
    }
    let before = effective_under(old, old_wall, &profiles);
    let after = effective_under(new, new_wall, &profiles);
    let mut changes = Vec::new();

    let old_devices: BTreeMap<&str, &DeviceCover> =
        before.devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let new_devices: BTreeMap<&str, &DeviceCover> =
        after.devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let is_camera = |config: &Config, id: &str| config.camera.iter().any(|c| c.id == id);
    for (id, dev) in &new_devices {
        if !old_devices.contains_key(id) {
            changes.push(Change {
                segments: dev.segments.clone(),
                name: (*id).to_owned(),
                camera: is_camera(new, id),
                what: What::DeviceAdded,
            });
        }
    }
    for (id, dev) in &old_devices {
        if !new_devices.contains_key(id) {
            changes.push(Change {
                segments: dev.segments.clone(),
                name: (*id).to_owned(),
                camera: is_camera(old, id),
                what: What::DeviceRemoved,
            });
        }
    }

    let old_sensors: BTreeMap<&str, &SensorThresholds> = before
        .sensors
        .iter()
        .map(|s| (s.sensor.as_str(), s))
        .collect();
    for s in &after.sensors {
        let camera = s.camera;
        if !old_devices.contains_key(s.device.as_str()) {
            continue;
        }
        let Some(o) = old_sensors.get(s.sensor.as_str()) else {
            changes.push(Change {
                segments: s.segments.clone(),
                name: s.sensor.clone(),
                camera,
                what: What::SensorAdded,
            });
            continue;
        };
        if o.segments != s.segments {
            changes.push(Change {
                segments: s.segments.clone(),
                name: s.sensor.clone(),
                camera,
                what: What::Moved {
                    from: o.segments.clone(),
                },
            });
        }
        // (key, old, new) → profiles it holds under.
        let mut grouped: Vec<(Shift, Vec<String>)> = Vec::new();
        for (p, name) in profiles.iter().enumerate() {
            let (Some(ov), Some(nv)) = (o.values.get(p), s.values.get(p)) else {
                continue;
            };
            for (key, new_value) in nv {
                let Some((_, old_value)) = ov.iter().find(|(k, _)| k == key) else {
                    continue;
                };
                if old_value == new_value {
                    continue;
                }
                let id = (*key, *old_value, *new_value);
                match grouped.iter_mut().find(|(g, _)| *g == id) {
                    Some((_, names)) => names.push(name.clone()),
                    None => grouped.push((id, vec![name.clone()])),
                }
            }
        }
        for ((key, old_value, new_value), names) in grouped {
            let profiles = if names.len() == profiles.len() {
                Profiles::All
            } else {
                Profiles::Only(names)
            };
            changes.push(Change {
                segments: s.segments.clone(),
                name: s.sensor.clone(),
                camera,
                what: What::Threshold {
                    key,
                    old: old_value,
                    new: new_value,
                    profiles,
                },
            });
        }
    }
    let new_sensors: BTreeSet<&str> = after.sensors.iter().map(|s| s.sensor.as_str()).collect();
    for o in &before.sensors {
        if new_devices.contains_key(o.device.as_str()) && !new_sensors.contains(o.sensor.as_str()) {
            changes.push(Change {
                segments: o.segments.clone(),
                name: o.sensor.clone(),
                camera: o.camera,
                what: What::SensorRemoved,
            });
        }
    }
    // Stable: within one sensor the order above (additions, moves,
    // thresholds in key order) is kept.
    changes.sort_by_key(|c| place_key(&c.segments, &c.name, c.camera));
    Diff {
        profiles,
        notes: profile_notes(old, new),
        changes,
    }
}

/// Changes to `[[profile]]` names and to `[profiles]`.
fn profile_notes(old: &Config, new: &Config) -> Vec<String> {
    let mut notes = Vec::new();
    let names = |c: &Config| -> Vec<String> { c.profile.iter().map(|p| p.name.clone()).collect() };
    let (old_names, new_names) = (names(old), names(new));
    for n in &new_names {
        if !old_names.contains(n) {
            notes.push(format!("profile `{n}` added"));
        }
    }
    for n in &old_names {
        if !new_names.contains(n) {
            notes.push(format!("profile `{n}` removed"));
        }
    }
    let (o, n) = (&old.profiles, &new.profiles);
    if o.utc_offset != n.utc_offset {
        notes.push(format!("utc_offset {} → {}", o.utc_offset, n.utc_offset));
    }
    let schedule = |p: &super::ProfilesConfig| {
        let mut entries: Vec<_> = p.schedule.iter().collect();
        entries.sort_by_key(|e| e.from);
        if entries.is_empty() {
            return "none".to_owned();
        }
        entries
            .iter()
            .map(|e| format!("{} {}", e.from, e.profile))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (os, ns) = (schedule(o), schedule(n));
    if os != ns {
        notes.push(format!("schedule {os} → {ns}"));
    }
    if o.force != n.force {
        let f = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        notes.push(format!("force {} → {}", f(&o.force), f(&n.force)));
    }
    notes
}

/// A value as written in the explanation: counts as integers, kelvin and
/// metres with at least one decimal, milli-g and µm/s without a needless
/// one.
pub fn format_value(key: &str, v: f64) -> String {
    match key {
        "k" | "n" => format!("{v:.0}"),
        "delta_t_k" | "min_extent_m" | "max_extent_m" if v.fract() == 0.0 => format!("{v:.1}"),
        _ if v.fract() == 0.0 => format!("{v:.0}"),
        _ => format!("{v}"),
    }
}

/// `S012`, `S012–S014`, or `no segment`.
fn span(segments: &[SegmentIndex]) -> String {
    match (segments.first(), segments.last()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => "no segment".into(),
    }
}

/// Where a line is: `S012  fence-c01/zone2` or `cam-c01 (S012–S013)`.
fn place(segments: &[SegmentIndex], name: &str, camera: bool) -> String {
    if camera {
        format!("{name} ({})", span(segments))
    } else {
        format!("{}  {name}", span(segments))
    }
}

/// The diff as printed by `check-config --against`: notes, one line per
/// change, then the summary.
pub fn render_diff(diff: &Diff) -> String {
    let mut out = String::new();
    for note in &diff.notes {
        let _ = writeln!(out, "{note}");
    }
    for c in &diff.changes {
        let at = place(&c.segments, &c.name, c.camera);
        let _ = match &c.what {
            What::Threshold {
                key,
                old,
                new,
                profiles,
            } => {
                let which = match profiles {
                    Profiles::All => "all profiles".to_owned(),
                    Profiles::Only(names) => names.join(", "),
                };
                writeln!(
                    out,
                    "{at}  {key} {} → {}  [{which}]",
                    format_value(key, *old),
                    format_value(key, *new)
                )
            }
            What::SensorAdded => writeln!(out, "{at}  added"),
            What::SensorRemoved => writeln!(out, "{at}  removed"),
            What::DeviceAdded => writeln!(out, "{at}  added"),
            What::DeviceRemoved => writeln!(out, "{at}  removed"),
            What::Moved { from } => writeln!(out, "{at}  moved from {}", span(from)),
        };
    }
    let _ = writeln!(out, "{}", diff.summary());
    out
}

/// Which profile `config` makes active at `now`, and why:
/// `profile now: night (21:14 local time, UTC+03:00; by the schedule)`.
pub fn render_active(config: &Config, now: Timestamp) -> String {
    let p = &config.profiles;
    let why = if p.force.is_some() {
        "forced"
    } else if p.schedule.is_empty() {
        "no schedule"
    } else {
        "by the schedule"
    };
    format!(
        "profile now: {} ({} local time, UTC{}; {why})",
        config.active_profile(now).unwrap_or(DEFAULT_PROFILE),
        p.local_time(now),
        p.utc_offset
    )
}

/// The effective thresholds as printed by `check-config --explain`: one
/// line per sensor; a value that differs between profiles is shown as
/// `a | b | c`, in the order of the header.
pub fn render_effective(e: &Effective) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "effective thresholds, by segment; profiles: {} (one value: the same in all)",
        e.profiles.join(" | ")
    );
    for s in &e.sensors {
        let Some(first) = s.values.first() else {
            continue;
        };
        if first.is_empty() {
            continue;
        }
        let mut line = place(&s.segments, &s.sensor, s.camera);
        for (i, (key, _)) in first.iter().enumerate() {
            let shown: Vec<String> = s
                .values
                .iter()
                .map(|v| v.get(i).map_or("-".into(), |(_, x)| format_value(key, *x)))
                .collect();
            let all_same = shown.iter().all(|v| v == &shown[0]);
            let value = if all_same {
                shown[0].clone()
            } else {
                shown.join(" | ")
            };
            let _ = write!(line, "  {key} {value}");
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
