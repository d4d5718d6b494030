//! Evidence: one observation that something happened at a place on the wall,
//! whatever sensor saw it. Rules produce it; incidents collect it.

use serde::Serialize;

use crate::time::Timestamp;

/// Which kind of sensor produced the evidence (the spec's evidence kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
