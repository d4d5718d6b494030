//! The state of each wall segment, derived from the incidents placed in it
//! and the health of the devices covering it:
//! `alert` while an intrusion or tamper incident is open there, else
//! `degraded` while a covering device is offline, faulty or windy, or a
//! camera watching it has lost its contrast, else `quiet`.
//! Only changes are published.

use std::collections::{BTreeMap, BTreeSet};

use super::Output;
use crate::alert::{AlertKind, SegmentCondition, SegmentState};
use crate::time::Timestamp;
use crate::wall::SegmentIndex;

#[derive(Debug, Default, Clone, PartialEq)]
struct Facts {
    /// Open incidents that put the segment in `alert`.
    alerting: BTreeSet<String>,
    /// Other open incidents placed here (offline, fault).
    other: BTreeSet<String>,
    /// Device or camera → reasons (`offline`, `fault`, `wind`,
    /// `low_contrast`) it is degraded for.
    degraded: BTreeMap<String, BTreeSet<&'static str>>,
}

impl Facts {
    fn condition(&self) -> SegmentCondition {
        if !self.alerting.is_empty() {
            SegmentCondition::Alert
        } else if !self.degraded.is_empty() {
            SegmentCondition::Degraded
        } else {
            SegmentCondition::Quiet
        }
    }
}

/// Per-segment facts and what was last published.
#[derive(Debug, Default)]
pub struct SegmentBoard {
    facts: BTreeMap<SegmentIndex, Facts>,
    published: BTreeMap<SegmentIndex, SegmentState>,
    dirty: BTreeSet<SegmentIndex>,
}

impl SegmentBoard {
    /// Marks `segments` quiet as of `now` and returns their states.
    pub fn initial(&mut self, segments: &[SegmentIndex], now: Timestamp) -> Vec<Output> {
        self.dirty.extend(segments.iter().copied());
        self.take_changes(now)
    }

    /// Marks `segments` to be published with the next changes (their state
    /// as it stands: `quiet` for a segment nothing happened in).
    pub fn touch(&mut self, segments: &[SegmentIndex]) {
        self.dirty.extend(segments.iter().copied());
    }

    /// Records an incident placed in `segment`.
    pub fn open_incident(&mut self, segment: SegmentIndex, id: &str, kind: AlertKind) {
        let facts = self.facts.entry(segment).or_default();
        match kind {
            AlertKind::Intrusion | AlertKind::Tamper => facts.alerting.insert(id.to_owned()),
            AlertKind::SensorOffline | AlertKind::SensorFault => facts.other.insert(id.to_owned()),
        };
        self.dirty.insert(segment);
    }

    /// Forgets a closed incident.
    pub fn close_incident(&mut self, segment: SegmentIndex, id: &str) {
        if let Some(facts) = self.facts.get_mut(&segment) {
            facts.alerting.remove(id);
            facts.other.remove(id);
        }
        self.dirty.insert(segment);
    }

    /// Marks `segments` as degraded (or not) by `source` for `reason`.
    pub fn set_degraded(
        &mut self,
        segments: &[SegmentIndex],
        source: &str,
        reason: &'static str,
        on: bool,
    ) {
        for seg in segments {
            let facts = self.facts.entry(*seg).or_default();
            if on {
                facts
                    .degraded
                    .entry(source.to_owned())
                    .or_default()
                    .insert(reason);
            } else if let Some(reasons) = facts.degraded.get_mut(source) {
                reasons.remove(reason);
                if reasons.is_empty() {
                    facts.degraded.remove(source);
                }
            }
            self.dirty.insert(*seg);
        }
    }

    /// The states that changed since last asked, stamped `now` where the
    /// condition itself changed.
    pub fn take_changes(&mut self, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        for seg in std::mem::take(&mut self.dirty) {
            let facts = self.facts.get(&seg).cloned().unwrap_or_default();
            let condition = facts.condition();
            let incidents: Vec<String> =
                facts.alerting.iter().chain(&facts.other).cloned().collect();
            let degraded_by: Vec<String> = facts.degraded.keys().cloned().collect();
            let reasons: Vec<String> = facts
                .degraded
                .iter()
                .flat_map(|(src, why)| why.iter().map(move |r| format!("{src}: {r}")))
                .collect();
            let since = match self.published.get(&seg) {
                Some(prev) if prev.state == condition => prev.since,
                _ => now,
            };
            let state = SegmentState {
                state: condition,
                since,
                incidents,
                degraded_by,
                reasons,
            };
            if self.published.get(&seg) != Some(&state) {
                self.published.insert(seg, state.clone());
                out.push(Output::Segment(seg, state));
            }
        }
        out
    }
}
