//! Evidence: one observation that something happened at a place on the wall,
//! whatever sensor saw it. Rules produce it; incidents collect it.
//!
//! Evidence parses back from an alert message's trail; the fields that are
//! not sent (`extent_m`, a camera observation's `vehicle`) come back as 0
//! and `false`.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Which kind of sensor produced the evidence (the spec's evidence kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceKind {
    Thermal,
    Fence,
    Ground,
    Beam,
    Tamper,
    Heartbeat,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The sensor: a device id, or `device/zone3`, `device/geo0`, `device/beam1`.
    pub sensor: String,
    /// The kind of sensor.
    pub kind: EvidenceKind,
    /// When it was received.
    pub at: Timestamp,
    /// Where on the wall, in metres of chainage.
    pub chainage_m: f64,
    /// The measured value (mg, µm/s, or 1 for on/off signals).
    pub value: f64,
    /// The threshold it was compared with (same unit).
    pub threshold: f64,
    /// A short human description (`rms 850 mg over 400; 3 of last 5 readings over`).
    pub detail: String,
    /// How far either side of `chainage_m` the stimulus may be, metres: half
    /// a fence zone's length, a geophone's hearing radius, 0 for a beam or a
    /// camera's ground point. Used to fuse evidence; not sent.
    #[serde(skip)]
    pub extent_m: f64,
    /// For thermal evidence: where the camera saw it (an extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<CameraObservation>,
}

/// What a camera saw: the blob's ground point and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraObservation {
    /// Distance from the camera along the ground, metres.
    pub range_m: f64,
    /// Azimuth from the camera, degrees clockwise from north.
    pub bearing_deg: f64,
    /// The ground point, WGS84 degrees.
    pub lat: f64,
    pub lon: f64,
    /// Distance of the ground point from the wall, metres.
    pub wall_offset_m: f64,
    /// Width and height of the blob, metres.
    pub width_m: f64,
    pub height_m: f64,
    /// Mean temperature minus background, kelvin (negative: colder).
    pub contrast_k: f64,
    /// The frame's capture time, when the camera sent one (RTF1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured: Option<Timestamp>,
    /// Vehicle-sized (at least `vehicle_extent_m`): a camera alone is not
    /// trusted with it — the wall's own patrols drive by — so fusion holds
    /// it like fence evidence. Not sent.
    #[serde(skip)]
    pub vehicle: bool,
}

impl Evidence {
    /// How far over threshold, at least 1 for evidence that passed.
    pub fn strength(&self) -> f64 {
        if self.threshold > 0.0 {
            (self.value / self.threshold).max(1.0)
        } else {
            1.0
        }
    }
}
