//! Resuming the incidents a previous run of the daemon left open. The alert
//! store hands over the latest message of each; the book adopts it with its
//! id, rev and state, so that its next message continues it (same id, rev +
//! 1) instead of a new incident being raised for the same thing.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use super::{Incident, IncidentBook, Key, TRAIL_LEN};
use crate::alert::{AlertKind, AlertMessage, AlertState};
use crate::evidence::{Evidence, EvidenceKind};
use crate::layout::DeviceKind;
use crate::rules::GEOPHONE_EXTENT_M;
use crate::time::Timestamp;
use crate::wall::SegmentIndex;

/// How far outside the wall a stored chainage may be (it is rounded to a
/// decimetre when published).
const CHAINAGE_SLACK_M: f64 = 1.0;

/// What [`IncidentBook::resume`] did with the messages it was handed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumeReport {
    /// The incidents adopted, in the book's order (intrusions by first
    /// evidence, then tamper, offline and fault incidents, each by device).
    pub resumed: Vec<Resumed>,
    /// The messages not adopted, and why, in the order they were found.
    pub skipped: Vec<Skipped>,
}

/// An incident adopted from a previous run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    pub id: String,
    /// Its stored rev; its next message carries the one after.
    pub rev: u32,
    pub kind: AlertKind,
    pub segment: SegmentIndex,
    /// The device of a tamper, offline or fault incident.
    pub device: Option<String>,
}

/// A stored message that was not adopted.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub id: String,
    pub rev: u32,
    pub reason: SkipReason,
}

/// Why a stored message was not adopted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SkipReason {
    #[error("it is {}, not open", .0.as_str())]
    NotOpen(AlertState),
    #[error("rev {0} of the same incident was resumed instead")]
    Superseded(u32),
    #[error("incident `{0}` is open for the same device")]
    SameDevice(String),
    #[error("an incident with this id is already open")]
    AlreadyOpen,
    #[error("a {} incident must name exactly one device", .0.as_str())]
    NoDevice(AlertKind),
    #[error("device `{0}` is not in the configuration")]
    UnknownDevice(String),
    #[error("segment {segment} is off the wall, which has {count} segments")]
    SegmentOffTheWall { segment: u32, count: u32 },
    #[error("chainage {0} m is off the wall")]
    ChainageOffTheWall(f64),
    #[error("its rev cannot go any higher")]
    RevExhausted,
}

impl SkipReason {
    /// Whether the incident must be closed with a `cleared` message: it was
    /// open, and nothing will ever clear it now (its device is gone, it is
    /// off the wall, another incident took its device). Superseded and
    /// not-open messages need nothing, and a rev that cannot grow cannot be
    /// closed.
    pub fn needs_closing(&self) -> bool {
        matches!(
            self,
            SkipReason::SameDevice(_)
                | SkipReason::NoDevice(_)
                | SkipReason::UnknownDevice(_)
                | SkipReason::SegmentOffTheWall { .. }
                | SkipReason::ChainageOffTheWall(_)
        )
    }
}

/// The message that closes an open incident this run cannot carry on:
/// `cleared`, the next rev, published `now`, saying why in its summary.
pub fn closing_message(open: &AlertMessage, reason: &SkipReason, now: Timestamp) -> AlertMessage {
    AlertMessage {
        rev: open.rev.saturating_add(1),
        state: AlertState::Cleared,
        published_at: now,
        summary: format!("closed at restart: {reason}"),
        moved_from: None,
        ..open.clone()
    }
}

impl ResumeReport {
    /// How many incidents were adopted.
    pub fn resumed_count(&self) -> usize {
        self.resumed.len()
    }

    fn skip(&mut self, msg: &AlertMessage, reason: SkipReason) {
        self.skipped.push(Skipped {
            id: msg.id.clone(),
            rev: msg.rev,
            reason,
        });
    }
}

/// `resumed 2 open incident(s); skipped 1: r-9 rev 2 (device ... )`.
impl fmt::Display for ResumeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "resumed {} open incident(s)", self.resumed.len())?;
        if !self.skipped.is_empty() {
            write!(f, "; skipped {}:", self.skipped.len())?;
            for (i, s) in self.skipped.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                write!(f, "{sep}{} rev {} ({})", s.id, s.rev, s.reason)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod closing_tests {
    use super::*;
    use crate::alert::AlertKind;

    #[test]
    fn an_incident_that_cannot_be_resumed_is_closed_with_the_next_rev() {
        let open = crate::testkit::alert("r-1", 4, AlertState::Updated, AlertKind::Tamper, 7, 1000);
        let reason = SkipReason::UnknownDevice("fence-gone".into());
        assert!(reason.needs_closing());
        let m = closing_message(&open, &reason, Timestamp(5000));
        assert_eq!(
            (m.id.as_str(), m.rev, m.state),
            ("r-1", 5, AlertState::Cleared)
        );
        assert_eq!(m.published_at, Timestamp(5000));
        assert!(m.summary.contains("fence-gone"), "{}", m.summary);
        assert!(!SkipReason::Superseded(3).needs_closing());
        assert!(!SkipReason::NotOpen(AlertState::Cleared).needs_closing());
    }
}

/// An incident ready to be put in the book.
struct Adopted {
    incident: Incident,
    device: Option<String>,
    published_at: Timestamp,
}

impl IncidentBook {
    /// Adopts the incidents a previous run left open, from the latest
    /// message of each, at `now` (after [`IncidentBook::new`], before
    /// [`IncidentBook::initial_states`], so that those show them). Each
    /// keeps its id, rev, kind, segment, chainage, sensors, evidence trail
    /// and total, first and last seen, priority, confidence, summary and
    /// acknowledgement; its next message carries rev + 1. The segment
    /// board places it (an intrusion or tamper puts its segment in
    /// `alert`), and an offline or faulty device's segments are `degraded`.
    ///
    /// A resumed intrusion counts as heard from at `now` if its last
    /// evidence is older: it joins evidence nearby within the fusion
    /// `window` of then, and clears `quiet_period` after then at the
    /// earliest. Each sensor's strength is approximated by its strongest
    /// evidence still in the trail (threshold strength for a sensor whose
    /// evidence has left it); the published priority and confidence are
    /// kept as a floor, so they never drop while the incident is open. What
    /// the wire does not carry comes back as 0 or `false`: the evidence's
    /// extent is restored from the layout for fence zones and geophones,
    /// and a camera blob's vehicle flag is lost (it only matters to held
    /// incidents, and a resumed incident has been published).
    ///
    /// Not adopted, and reported with a reason: messages not `raised` or
    /// `updated`; a tamper, offline or fault incident whose device is not
    /// configured; a segment or chainage off the wall; a rev that cannot
    /// be incremented; an id already open. Of several messages with one
    /// id, the highest rev is adopted; of two open incidents of one kind
    /// for one device, the one published last.
    pub fn resume(&mut self, open: Vec<AlertMessage>, now: Timestamp) -> ResumeReport {
        let mut report = ResumeReport::default();
        let latest = latest_of_each(open, &mut report);
        let mut intrusions: Vec<Adopted> = Vec::new();
        let mut per_device: BTreeMap<Key, Adopted> = BTreeMap::new();
        for msg in latest {
            let adopted = match self.adopt(&msg, now) {
                Ok(a) => a,
                Err(reason) => {
                    report.skip(&msg, reason);
                    continue;
                }
            };
            let key = match (msg.kind, adopted.device.clone()) {
                (AlertKind::Tamper, Some(device)) => Key::Tamper(device),
                (AlertKind::SensorOffline, Some(device)) => Key::Offline(device),
                (AlertKind::SensorFault, Some(device)) => Key::Fault(device),
                _ => {
                    intrusions.push(adopted);
                    continue;
                }
            };
            if let Some(other) = self.open.get(&key) {
                report.skip(&msg, SkipReason::SameDevice(other.id.clone()));
                continue;
            }
            // Of two for one device, the one published last.
            let (kept, dropped) = match per_device.remove(&key) {
                Some(other) if other.published_at >= adopted.published_at => (other, adopted),
                Some(other) => (adopted, other),
                None => {
                    per_device.insert(key, adopted);
                    continue;
                }
            };
            report.skipped.push(Skipped {
                id: dropped.incident.id,
                rev: dropped.incident.rev,
                reason: SkipReason::SameDevice(kept.incident.id.clone()),
            });
            per_device.insert(key, kept);
        }
        intrusions.sort_by(|a, b| {
            (a.incident.first_seen, &a.incident.id).cmp(&(b.incident.first_seen, &b.incident.id))
        });
        let keyed: Vec<(Key, Adopted)> = intrusions
            .into_iter()
            .map(|a| {
                let key = Key::Intrusion(self.next_intrusion);
                self.next_intrusion += 1;
                (key, a)
            })
            .chain(per_device)
            .collect();
        for (key, adopted) in keyed {
            let inc = adopted.incident;
            let degraded = match inc.kind {
                AlertKind::SensorOffline => Some("offline"),
                AlertKind::SensorFault => Some("fault"),
                AlertKind::Intrusion | AlertKind::Tamper => None,
            };
            if let (Some(reason), Some(device)) = (degraded, &adopted.device) {
                self.set_device_degraded(device, reason, true);
            }
            self.board.open_incident(inc.segment, &inc.id, inc.kind);
            report.resumed.push(Resumed {
                id: inc.id.clone(),
                rev: inc.rev,
                kind: inc.kind,
                segment: inc.segment,
                device: adopted.device,
            });
            self.open.insert(key, inc);
        }
        report
    }

    /// The incident a stored message describes, or why it cannot be one.
    fn adopt(&self, msg: &AlertMessage, now: Timestamp) -> Result<Adopted, SkipReason> {
        if !matches!(msg.state, AlertState::Raised | AlertState::Updated) {
            return Err(SkipReason::NotOpen(msg.state));
        }
        if msg.rev == u32::MAX {
            return Err(SkipReason::RevExhausted);
        }
        if self.open.values().any(|inc| inc.id == msg.id) {
            return Err(SkipReason::AlreadyOpen);
        }
        let count = self.wall.segment_count();
        if msg.segment >= count {
            return Err(SkipReason::SegmentOffTheWall {
                segment: msg.segment,
                count,
            });
        }
        let length = self.wall.length_m();
        if !(-CHAINAGE_SLACK_M..=length + CHAINAGE_SLACK_M).contains(&msg.chainage_m) {
            return Err(SkipReason::ChainageOffTheWall(msg.chainage_m));
        }
        let device = match msg.kind {
            AlertKind::Intrusion => None,
            kind => {
                let [device] = msg.sensors.as_slice() else {
                    return Err(SkipReason::NoDevice(kind));
                };
                if self.layout.device(device).is_none() {
                    return Err(SkipReason::UnknownDevice(device.clone()));
                }
                Some(device.clone())
            }
        };
        let skip = msg.evidence.len().saturating_sub(TRAIL_LEN);
        let trail: VecDeque<Evidence> = msg.evidence[skip..]
            .iter()
            .map(|e| Evidence {
                extent_m: self.extent_of(&e.sensor),
                ..e.clone()
            })
            .collect();
        let mut sensors: BTreeMap<String, (EvidenceKind, f64)> = msg
            .sensors
            .iter()
            .map(|s| (s.clone(), (kind_of(s, msg.kind), 1.0)))
            .collect();
        for e in &trail {
            let entry = sensors
                .entry(e.sensor.clone())
                .or_insert((e.kind, e.strength()));
            *entry = (e.kind, entry.1.max(e.strength()));
        }
        let last_seen = trail
            .iter()
            .map(|e| e.at)
            .fold(msg.last_seen, Timestamp::max);
        let acked = match (&msg.acked_by, msg.acked_at) {
            (Some(by), at) => Some((by.clone(), at.unwrap_or(msg.published_at))),
            (None, _) => None,
        };
        let incident = Incident {
            id: msg.id.clone(),
            rev: msg.rev,
            kind: msg.kind,
            segment: SegmentIndex(msg.segment),
            chainage_m: msg.chainage_m,
            sensors,
            evidence_total: msg.evidence_total.max(trail.len() as u64),
            trail,
            first_seen: msg.first_seen,
            last_seen,
            last_published: msg.published_at.min(now),
            priority: msg.priority,
            confidence: msg.confidence,
            pending: false,
            summary: msg.summary.clone(),
            acked,
            held: false,
            moved_from: None,
            resumed_at: Some(now),
            floor: (msg.priority, msg.confidence),
        };
        Ok(Adopted {
            incident,
            device,
            published_at: msg.published_at,
        })
    }

    /// How far either side of its chainage a sensor's evidence may be (not
    /// sent on the wire): half a fence zone, a geophone's hearing radius, 0
    /// for beams, cameras and sensors no longer configured.
    fn extent_of(&self, sensor: &str) -> f64 {
        let Some((device, channel)) = sensor.rsplit_once('/') else {
            return 0.0;
        };
        match self.layout.device(device).map(|d| &d.kind) {
            Some(DeviceKind::Fence { zones }) => channel
                .strip_prefix("zone")
                .and_then(|n| n.parse::<u16>().ok())
                .and_then(|n| zones.get(&n))
                .map_or(0.0, |z| (z.end_m - z.start_m) / 2.0),
            Some(DeviceKind::Trench { .. }) if channel.starts_with("geo") => GEOPHONE_EXTENT_M,
            _ => 0.0,
        }
    }
}

/// The message of the highest rev (then the latest) of each id, by id; the
/// others are reported as superseded.
fn latest_of_each(open: Vec<AlertMessage>, report: &mut ResumeReport) -> Vec<AlertMessage> {
    let mut latest: BTreeMap<String, AlertMessage> = BTreeMap::new();
    for msg in open {
        match latest.get(&msg.id) {
            Some(kept) if (kept.rev, kept.published_at) >= (msg.rev, msg.published_at) => {
                let rev = kept.rev;
                report.skip(&msg, SkipReason::Superseded(rev));
            }
            _ => {
                let rev = msg.rev;
                if let Some(old) = latest.insert(msg.id.clone(), msg) {
                    report.skip(&old, SkipReason::Superseded(rev));
                }
            }
        }
    }
    latest.into_values().collect()
}

/// The kind of evidence a sensor of an incident of `kind` gives, from its
/// name (`dev/zone1`, `dev/geo0`, `dev/beam0`, else a camera), for a sensor
/// whose evidence has left the trail.
fn kind_of(sensor: &str, kind: AlertKind) -> EvidenceKind {
    match kind {
        AlertKind::Tamper => EvidenceKind::Tamper,
        AlertKind::SensorOffline | AlertKind::SensorFault => EvidenceKind::Heartbeat,
        AlertKind::Intrusion => match sensor.rsplit_once('/').map(|(_, c)| c) {
            Some(c) if c.starts_with("zone") => EvidenceKind::Fence,
            Some(c) if c.starts_with("geo") => EvidenceKind::Ground,
            Some(c) if c.starts_with("beam") => EvidenceKind::Beam,
            _ => EvidenceKind::Thermal,
        },
    }
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
