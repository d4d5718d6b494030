//! Which incidents appear, disappear or change between two replays of the
//! same input with different configs.
//!
//! Two incidents match when they are of the same kind, their times overlap
//! (from the raise to the clear, or to the replay's last tick for one still
//! open) and they are in the same place: for an intrusion, chainages within
//! [`MATCH_DISTANCE_M`] of each other (over every position either had); for
//! a device-level incident (tamper, offline, fault), a device in common.
//! Pairs are chosen greedily — the longest overlap first, then the nearest —
//! so each incident matches at most one other. A matched pair has changed
//! when its highest priority or its segments (when raised, at the end)
//! differ.

use std::fmt;

use super::{IncidentReport, ReplayResult};
use crate::alert::{AlertKind, Priority};
use crate::time::Timestamp;

/// How far apart two intrusions may be and still be the same one.
pub const MATCH_DISTANCE_M: f64 = 200.0;

/// How two results differ; indices point into their `incidents`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// Incidents only the new config raised.
    pub appeared: Vec<usize>,
    /// Incidents only the old config raised.
    pub disappeared: Vec<usize>,
    /// Matched incidents that differ, by new index.
    pub changed: Vec<Matched>,
    /// Matched incidents that do not, by new index.
    pub unchanged: Vec<Matched>,
}

/// An incident of the old run and its match in the new one.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub old: usize,
    pub new: usize,
    pub changes: Vec<Change>,
}

/// One way a matched incident differs.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Priority { old: Priority, new: Priority },
    SegmentRaised { old: String, new: String },
    SegmentLast { old: String, new: String },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |p: &Priority| format!("{p:?}").to_lowercase();
        match self {
            Change::Priority { old, new } => write!(f, "priority {} -> {}", name(old), name(new)),
            Change::SegmentRaised { old, new } => write!(f, "raised in {old} -> {new}"),
            Change::SegmentLast { old, new } => write!(f, "ended in {old} -> {new}"),
        }
    }
}

/// Compares the incidents of `old` and `new`.
pub fn compare(old: &ReplayResult, new: &ReplayResult) -> Comparison {
    let mut pairs = Vec::new();
    for (oi, o) in old.incidents.iter().enumerate() {
        for (ni, n) in new.incidents.iter().enumerate() {
            if let Some((overlap, distance)) = fit(o, old.last_tick, n, new.last_tick) {
                pairs.push((overlap, distance, oi, ni));
            }
        }
    }
    pairs.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    let mut old_taken = vec![false; old.incidents.len()];
    let mut new_taken = vec![false; new.incidents.len()];
    let mut matched = Vec::new();
    for (_, _, oi, ni) in pairs {
        if !old_taken[oi] && !new_taken[ni] {
            old_taken[oi] = true;
            new_taken[ni] = true;
            matched.push(Matched {
                old: oi,
                new: ni,
                changes: changes(&old.incidents[oi], &new.incidents[ni]),
            });
        }
    }
    matched.sort_by_key(|m| m.new);
    let (changed, unchanged) = matched.into_iter().partition(|m| !m.changes.is_empty());
    Comparison {
        appeared: (0..new.incidents.len())
            .filter(|&i| !new_taken[i])
            .collect(),
        disappeared: (0..old.incidents.len())
            .filter(|&i| !old_taken[i])
            .collect(),
        changed,
        unchanged,
    }
}

/// How well two incidents fit: the overlap of their times (ms) and the
/// distance between them (m); `None` when they cannot be the same.
fn fit(
    o: &IncidentReport,
    o_end: Timestamp,
    n: &IncidentReport,
    n_end: Timestamp,
) -> Option<(i64, f64)> {
    if o.kind != n.kind {
        return None;
    }
    let window =
        |i: &IncidentReport, end: Timestamp| (i.raised, i.cleared.unwrap_or(end.max(i.raised)));
    let (os, oe) = window(o, o_end);
    let (ns, ne) = window(n, n_end);
    if os > ne || ns > oe {
        return None;
    }
    let overlap = oe.min(ne).millis() - os.max(ns).millis();
    let distance = if o.kind == AlertKind::Intrusion {
        let (olo, ohi) = o.chainage_range_m();
        let (nlo, nhi) = n.chainage_range_m();
        (nlo - ohi).max(olo - nhi).max(0.0)
    } else if o.sensors.iter().any(|s| n.sensors.contains(s)) {
        0.0
    } else {
        return None;
    };
    (distance <= MATCH_DISTANCE_M).then_some((overlap, distance))
}

fn changes(o: &IncidentReport, n: &IncidentReport) -> Vec<Change> {
    let mut out = Vec::new();
    if o.max_priority != n.max_priority {
        out.push(Change::Priority {
            old: o.max_priority,
            new: n.max_priority,
        });
    }
    if o.segment_raised != n.segment_raised {
        out.push(Change::SegmentRaised {
            old: o.segment_raised.clone(),
            new: n.segment_raised.clone(),
        });
    }
    if o.segment_last != n.segment_last {
        out.push(Change::SegmentLast {
            old: o.segment_last.clone(),
            new: n.segment_last.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertMessage, AlertState};
    use crate::replay::{Counts, Start};

    fn incident(
        kind: AlertKind,
        raised_s: i64,
        cleared_s: Option<i64>,
        chainage_m: f64,
        priority: Priority,
        sensors: &[&str],
    ) -> IncidentReport {
        let segment_id = format!("S{:03}", (chainage_m / 1000.0) as u32);
        let msg = AlertMessage {
            id: "x".into(),
            rev: 1,
            state: AlertState::Raised,
            kind,
            priority,
            confidence: 0.5,
            segment: 0,
            segment_id: segment_id.clone(),
            chainage_m,
            lat: 0.0,
            lon: 0.0,
            sensors: sensors.iter().map(|s| s.to_string()).collect(),
            evidence: vec![],
            first_seen: Timestamp(raised_s * 1000),
            last_seen: Timestamp(raised_s * 1000),
            published_at: Timestamp(raised_s * 1000),
            evidence_total: 1,
            summary: String::new(),
            instance: "t".into(),
            acked_by: None,
            acked_at: None,
            moved_from: None,
        };
        let mut report = IncidentReport::raised(msg);
        report.cleared = cleared_s.map(|s| Timestamp(s * 1000));
        report
    }

    fn result(incidents: Vec<IncidentReport>) -> ReplayResult {
        ReplayResult {
            start: Start {
                started: Timestamp(0),
                id_prefix: "t".into(),
            },
            end: Timestamp(500_000),
            last_tick: Timestamp(600_000),
            incidents,
            counts: Counts::default(),
            unmatched_serial: vec![],
        }
    }

    use AlertKind::{Intrusion, SensorOffline, Tamper};
    use Priority::{High, Medium};

    #[test]
    fn incidents_match_by_kind_time_and_place() {
        let old = result(vec![
            incident(Intrusion, 10, Some(70), 12_300.0, Medium, &["f/zone2"]),
            incident(Intrusion, 100, Some(160), 50_000.0, Medium, &["f/zone9"]),
            incident(SensorOffline, 5, None, 400_100.0, High, &["fence-quiet"]),
            incident(
                Tamper,
                30,
                None,
                250_510.0,
                Priority::Critical,
                &["trench-1"],
            ),
        ]);
        let new = result(vec![
            // Same place, a little later: the same intrusion, now high.
            incident(
                Intrusion,
                14,
                Some(74),
                12_450.0,
                High,
                &["f/zone2", "t/geo0"],
            ),
            // 50 km: a new one. And zone 9's is gone.
            incident(Intrusion, 100, Some(160), 100_000.0, Medium, &["f/zone1"]),
            incident(SensorOffline, 5, None, 400_100.0, High, &["fence-quiet"]),
            // Tamper of another device: not the same.
            incident(
                Tamper,
                30,
                None,
                250_510.0,
                Priority::Critical,
                &["trench-2"],
            ),
        ]);
        let c = compare(&old, &new);
        assert_eq!(c.appeared, [1, 3]);
        assert_eq!(c.disappeared, [1, 3]);
        assert_eq!(c.changed.len(), 1);
        assert_eq!((c.changed[0].old, c.changed[0].new), (0, 0));
        assert_eq!(
            c.changed[0].changes,
            [Change::Priority {
                old: Medium,
                new: High
            }]
        );
        assert_eq!(
            c.changed[0].changes[0].to_string(),
            "priority medium -> high"
        );
        assert_eq!(c.unchanged.len(), 1);
        assert_eq!((c.unchanged[0].old, c.unchanged[0].new), (2, 2));
    }

    #[test]
    fn too_far_or_not_overlapping_does_not_match_and_each_matches_once() {
        let old = result(vec![
            incident(Intrusion, 10, Some(70), 12_000.0, Medium, &[]),
            incident(Intrusion, 10, Some(70), 12_150.0, Medium, &[]),
        ]);
        let new = result(vec![
            incident(Intrusion, 71, Some(130), 12_000.0, Medium, &[]),
            incident(Intrusion, 20, Some(80), 12_201.0 + 200.0, Medium, &[]),
            incident(Intrusion, 20, None, 12_100.0, Medium, &[]),
        ]);
        let c = compare(&old, &new);
        // new[0] starts after both old ones ended; new[1] is 251 m from
        // the nearer; new[2] fits both equally long and takes the nearer.
        assert_eq!(c.appeared, [0, 1]);
        assert_eq!(c.unchanged.len(), 1);
        assert_eq!((c.unchanged[0].old, c.unchanged[0].new), (1, 2));
        assert_eq!(c.disappeared, [0]);
        // Swapping sides swaps appear and disappear.
        let back = compare(&new, &old);
        assert_eq!(back.disappeared, [0, 1]);
        assert_eq!(back.appeared, [0]);
    }
}
