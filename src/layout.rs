//! The sensor layout: the config resolved into what the rules need per
//! device — where each zone and channel is on the wall, its effective
//! thresholds, its heartbeat deadline and the segments it covers.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::{Config, FenceThresholds};
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

/// Every configured controller, by id.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    devices: HashMap<String, DeviceSpec>,
}

impl Layout {
    /// Resolves a validated config against its wall.
    pub fn new(config: &Config, wall: &Wall) -> Self {
        let mut devices = HashMap::new();
        let det = &config.detection;
        for dev in &config.fence {
            let zones: HashMap<u16, ZoneSpec> = dev
                .zones
                .iter()
                .enumerate()
                .map(|(i, z)| {
                    let spec = ZoneSpec {
                        start_m: z.start_m,
                        end_m: z.end_m,
                        thresholds: dev.thresholds(i, &det.fence),
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
        for dev in &config.trench {
            let geophones = dev
                .geophones
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    let spec = GeophoneSpec {
                        at_m: g.at_m,
                        ppv_um_s: dev.ppv_threshold(i, &det.ground),
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
        Self { devices }
    }

    /// The device with this id.
    pub fn device(&self, id: &str) -> Option<&DeviceSpec> {
        self.devices.get(id)
    }

    /// Every device, in no particular order.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceSpec> {
        self.devices.values()
    }

    /// Every segment some device covers, sorted.
    pub fn covered_segments(&self) -> Vec<SegmentIndex> {
        let mut all: Vec<SegmentIndex> = self
            .devices
            .values()
            .flat_map(|d| d.segments.iter().copied())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}
