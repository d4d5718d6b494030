//! The sensor layout: the config resolved into what the rules need per
//! device — where each zone and channel is on the wall, its effective
//! thresholds, its heartbeat deadline and the segments it covers — and the
//! segments each camera watches.
//!
//! A layout is resolved for one profile (see [`crate::config::profile`] for
//! the precedence); only thresholds depend on it. [`Layout::reprofiled`]
//! re-resolves them for another profile and keeps the rest.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::camera::geometry::{CameraModel, Mount};
use crate::config::{Config, FenceThresholds, WindConfig};
use crate::wall::{SegmentIndex, Wall};

/// A fence zone placed on the wall.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneSpec {
    pub start_m: f64,
    pub end_m: f64,
    pub thresholds: FenceThresholds,
}

impl ZoneSpec {
    /// The zone's middle, where its evidence is placed.
    pub fn middle_m(&self) -> f64 {
        (self.start_m + self.end_m) / 2.0
    }
}

/// A geophone placed on the wall.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeophoneSpec {
    pub at_m: f64,
    pub ppv_um_s: f64,
}

/// What kind of controller a device is, with its channels.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceKind {
    Fence {
        zones: HashMap<u16, ZoneSpec>,
    },
    Trench {
        geophones: HashMap<u16, GeophoneSpec>,
        beams: HashMap<u16, f64>,
    },
}

/// One configured controller.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    pub id: String,
    pub kind: DeviceKind,
    /// Where device-level alerts (tamper, offline, fault) are placed.
    pub location_m: f64,
    /// The segments its zones or channels touch.
    pub segments: Vec<SegmentIndex>,
    pub heartbeat_deadline: Duration,
}

/// Every configured controller, by id, and what the cameras watch.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// By id, so that every walk over them (deadlines) is in one order.
    devices: BTreeMap<String, DeviceSpec>,
    /// Camera id → the segments its view of the wall touches.
    cameras: HashMap<String, Vec<SegmentIndex>>,
    /// Wind rejection on fence controllers.
    pub wind: WindConfig,
    /// The profile the thresholds were resolved for (`None`: the defaults).
    profile: Option<String>,
}

impl Layout {
    /// Resolves a validated config against its wall, with no profile active.
    pub fn new(config: &Config, wall: &Wall) -> Self {
        Self::with_profile(config, wall, None)
    }

    /// Resolves a validated config against its wall with the thresholds of
    /// `profile` (`None`: the defaults). An unknown profile name resolves
    /// like `None` but is remembered as given.
    pub fn with_profile(config: &Config, wall: &Wall, profile: Option<&str>) -> Self {
        let mut devices = BTreeMap::new();
        let det = &config.detection;
        for (i, dev) in config.fence.iter().enumerate() {
            let zones: HashMap<u16, ZoneSpec> = dev
                .zones
                .iter()
                .enumerate()
                .map(|(j, z)| {
                    let spec = ZoneSpec {
                        start_m: z.start_m,
                        end_m: z.end_m,
                        thresholds: config.zone_thresholds(i, j, profile),
                    };
                    (z.zone, spec)
                })
                .collect();
            let (lo, hi) = dev.coverage().unwrap_or((0.0, 0.0));
            let mut segments: Vec<SegmentIndex> = dev
                .zones
                .iter()
                .flat_map(|z| wall.segments_between(z.start_m, z.end_m).map(SegmentIndex))
                .collect();
            segments.sort();
            segments.dedup();
            devices.insert(
                dev.id.clone(),
                DeviceSpec {
                    id: dev.id.clone(),
                    kind: DeviceKind::Fence { zones },
                    location_m: dev.location_m.unwrap_or((lo + hi) / 2.0),
                    segments,
                    heartbeat_deadline: dev.heartbeat_deadline.unwrap_or(det.heartbeat_deadline),
                },
            );
        }
        for (i, dev) in config.trench.iter().enumerate() {
            let geophones = dev
                .geophones
                .iter()
                .enumerate()
                .map(|(j, g)| {
                    let spec = GeophoneSpec {
                        at_m: g.at_m,
                        ppv_um_s: config.geophone_ppv(i, j, profile),
                    };
                    (g.channel, spec)
                })
                .collect();
            let beams = dev.beams.iter().map(|b| (b.channel, b.at_m)).collect();
            let (lo, hi) = dev.coverage().unwrap_or((0.0, 0.0));
            let mut segments: Vec<SegmentIndex> = dev
                .geophones
                .iter()
                .map(|g| g.at_m)
                .chain(dev.beams.iter().map(|b| b.at_m))
                .map(|m| wall.segment_at(m))
                .collect();
            segments.sort();
            segments.dedup();
            devices.insert(
                dev.id.clone(),
                DeviceSpec {
                    id: dev.id.clone(),
                    kind: DeviceKind::Trench { geophones, beams },
                    location_m: dev.location_m.unwrap_or((lo + hi) / 2.0),
                    segments,
                    heartbeat_deadline: dev.heartbeat_deadline.unwrap_or(det.heartbeat_deadline),
                },
            );
        }
        let cameras = config
            .camera
            .iter()
            .map(|c| {
                let mount = Mount::from_config(c);
                let segments = camera_segments(mount, wall, config.thermal.max_wall_offset_m);
                (c.id.clone(), segments)
            })
            .collect();
        Self {
            devices,
            cameras,
            wind: config.detection.wind.clone(),
            profile: profile.map(str::to_owned),
        }
    }

    /// This layout with the thresholds of `profile`, keeping everything
    /// else (positions, segments, cameras) as it is: cheaper than
    /// [`Layout::with_profile`], which also projects every camera's view.
    /// `config` must be the config this layout was resolved from.
    pub fn reprofiled(&self, config: &Config, profile: Option<&str>) -> Self {
        let mut out = self.clone();
        out.profile = profile.map(str::to_owned);
        for (i, dev) in config.fence.iter().enumerate() {
            let Some(DeviceKind::Fence { zones }) =
                out.devices.get_mut(&dev.id).map(|d| &mut d.kind)
            else {
                continue;
            };
            for (j, z) in dev.zones.iter().enumerate() {
                if let Some(spec) = zones.get_mut(&z.zone) {
                    spec.thresholds = config.zone_thresholds(i, j, profile);
                }
            }
        }
        for (i, dev) in config.trench.iter().enumerate() {
            let Some(DeviceKind::Trench { geophones, .. }) =
                out.devices.get_mut(&dev.id).map(|d| &mut d.kind)
            else {
                continue;
            };
            for (j, g) in dev.geophones.iter().enumerate() {
                if let Some(spec) = geophones.get_mut(&g.channel) {
                    spec.ppv_um_s = config.geophone_ppv(i, j, profile);
                }
            }
        }
        out
    }

    /// The profile the thresholds were resolved for (`None`: the defaults).
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// Every camera id with the segments it watches, in no particular order.
    pub fn cameras(&self) -> impl Iterator<Item = (&str, &[SegmentIndex])> {
        self.cameras
            .iter()
            .map(|(id, s)| (id.as_str(), s.as_slice()))
    }

    /// The segments camera `id` watches (empty for an unknown camera).
    pub fn camera_segments(&self, id: &str) -> &[SegmentIndex] {
        self.cameras.get(id).map(Vec::as_slice).unwrap_or_default()
    }

    /// The device with this id.
    pub fn device(&self, id: &str) -> Option<&DeviceSpec> {
        self.devices.get(id)
    }

    /// Every device, in order of id.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceSpec> {
        self.devices.values()
    }

    /// Every segment some device or camera covers, sorted.
    pub fn covered_segments(&self) -> Vec<SegmentIndex> {
        let mut all: Vec<SegmentIndex> = self
            .devices
            .values()
            .flat_map(|d| d.segments.iter().copied())
            .chain(self.cameras.values().flatten().copied())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// The segments whose wall a camera sees: the ground points of a grid of
/// pixels over its image (resolution does not matter for this), kept where
/// they lie within `max_offset_m` of the wall.
fn camera_segments(mount: Mount, wall: &Wall, max_offset_m: f64) -> Vec<SegmentIndex> {
    const GRID: u32 = 24;
    let Ok(model) = CameraModel::new(mount, 640, 512) else {
        return Vec::new();
    };
    let mut segments: Vec<SegmentIndex> = Vec::new();
    for i in 0..=GRID {
        for j in 0..=GRID {
            let u = 639.0 * f64::from(i) / f64::from(GRID);
            let v = 511.0 * f64::from(j) / f64::from(GRID);
            let Some(hit) = model.ground_point(u, v) else {
                continue;
            };
            let located = wall.locate(hit.position);
            if located.offset_m <= max_offset_m {
                segments.push(wall.segment_at(located.chainage_m));
            }
        }
    }
    segments.sort();
    segments.dedup();
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn a_reprofiled_layout_is_the_layout_of_that_profile() {
        let (mut config, wall) = testkit::fixture();
        let extra: Config = toml::from_str(
            r#"wall = "unused.geojson"
[[profile]]
name = "night"
rms_mg = 300.0
ppv_um_s = 700.0
[[stretch]]
from_m = 5000.0
to_m = 7500.0
profile = "night"
k = 2
"#,
        )
        .unwrap();
        config.profile = extra.profile;
        config.stretch = extra.stretch;
        config.camera.push(testkit::camera_south_of_wall(200.0));
        let day = Layout::new(&config, &wall);
        let night = Layout::with_profile(&config, &wall, Some("night"));
        let reprofiled = day.reprofiled(&config, Some("night"));
        assert_eq!((day.profile(), night.profile()), (None, Some("night")));
        assert_eq!(reprofiled.profile(), Some("night"));
        for dev in night.devices() {
            assert_eq!(reprofiled.device(&dev.id), Some(dev));
        }
        assert_eq!(
            reprofiled.camera_segments("cam-1"),
            night.camera_segments("cam-1")
        );
        let zone = |l: &Layout, z: u16| match &l.device("fence-a").unwrap().kind {
            DeviceKind::Fence { zones } => zones[&z].thresholds,
            DeviceKind::Trench { .. } => unreachable!(),
        };
        // Zone 1 (middle 4900): the profile; zone 3 (middle 7100): the
        // night stretch too; zone 2 keeps its own 600 mg.
        assert_eq!((zone(&day, 1).rms_mg, zone(&day, 1).k), (400.0, 3));
        assert_eq!((zone(&night, 1).rms_mg, zone(&night, 1).k), (300.0, 3));
        assert_eq!((zone(&night, 3).rms_mg, zone(&night, 3).k), (300.0, 2));
        assert_eq!((zone(&night, 2).rms_mg, zone(&night, 2).k), (600.0, 2));
        // And back.
        let back = night.reprofiled(&config, None);
        for dev in day.devices() {
            assert_eq!(back.device(&dev.id), Some(dev));
        }
    }
}
