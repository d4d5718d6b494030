//! The messages the daemon publishes, exactly as the wire spec lays them out
//! (§3), plus a few documented additive fields.
//!
//! Alert messages also parse back (the alert store keeps them as JSON and
//! hands the open ones to the engine after a restart): what was serialised
//! parses into the same message. Unknown fields are ignored, so messages
//! written by an older or newer version still read; the extension fields
//! may be missing.

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;
use crate::time::Timestamp;

/// `state` of an alert message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Raised,
    Updated,
    Cleared,
}

impl AlertState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Raised => "raised",
            AlertState::Updated => "updated",
            AlertState::Cleared => "cleared",
        }
    }
}

/// `kind` of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Intrusion,
    Tamper,
    SensorOffline,
    SensorFault,
}

impl AlertKind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Intrusion => "intrusion",
            AlertKind::Tamper => "tamper",
            AlertKind::SensorOffline => "sensor_offline",
            AlertKind::SensorFault => "sensor_fault",
        }
    }
}

/// `priority` of an incident, lowest first so that `Ord` ranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

/// One alert message (topic `<root>/v1/alert/<segment_id>`, QoS 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMessage {
    pub id: String,
    pub rev: u32,
    pub state: AlertState,
    pub kind: AlertKind,
    pub priority: Priority,
    pub confidence: f64,
    pub segment: u32,
    pub segment_id: String,
    pub chainage_m: f64,
    pub lat: f64,
    pub lon: f64,
    pub sensors: Vec<String>,
    pub evidence: Vec<Evidence>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub published_at: Timestamp,
    /// Extension: how many pieces of evidence the incident has gathered in
    /// all (`evidence` holds the latest ones only).
    #[serde(default)]
    pub evidence_total: u64,
    /// Extension: a one-line summary for people.
    #[serde(default)]
    pub summary: String,
    /// Extension: the daemon instance that raised it.
    #[serde(default)]
    pub instance: String,
    /// The operator who acknowledged the incident, once one has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_by: Option<String>,
    /// When the acknowledgement arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<Timestamp>,
    /// Extension: on the message that moves an intrusion incident to another
    /// segment (someone walking along the wall), the segment it left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
}

impl AlertMessage {
    /// A one-line human summary of this message, for logs and consoles.
    pub fn headline(&self) -> String {
        format!(
            "{} {} {} {} rev {} at {:.0} m ({:.5}, {:.5}) conf {:.2} [{}]: {}",
            self.segment_id,
            self.kind.as_str(),
            serde_plain(&self.state),
            serde_plain(&self.priority),
            self.rev,
            self.chainage_m,
            self.lat,
            self.lon,
            self.confidence,
            self.id,
            self.summary
        )
    }
}

fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `state` of a wall segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentCondition {
    Quiet,
    Alert,
    Degraded,
}

/// The retained segment state (`<root>/v1/segment/<segment_id>/state`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentState {
    pub state: SegmentCondition,
    pub since: Timestamp,
    /// Extension: ids of the open incidents placed in this segment.
    pub incidents: Vec<String>,
    /// Extension: devices and cameras covering this segment whose
    /// sensitivity is reduced (offline, faulty, wind, low contrast).
    pub degraded_by: Vec<String>,
    /// Extension: why, one `source: reason` per cause (`fence-c01: wind`,
    /// `cam-c01: low_contrast`, `trench-t02: offline`, `...: fault`).
    pub reasons: Vec<String>,
}

#[cfg(test)]
#[path = "alert_tests.rs"]
mod tests;
