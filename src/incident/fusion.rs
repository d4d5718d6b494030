//! Fusion rules for intrusion incidents: which incident a piece of evidence
//! joins, whether an incident is corroborated enough to raise, where it is,
//! and how urgent. Pure functions of the evidence an incident holds.
//!
//! - **Joining:** evidence joins the nearest open intrusion incident whose
//!   position lies within `radius_m` of it (a fence zone or geophone counts
//!   from the near edge of what it hears) and that had evidence within
//!   `window`. Otherwise it starts a new incident.
//! - **Position:** the mean of the incident's evidence from the last
//!   [`POSITION_SPAN`], each weighted by how far over threshold it went and
//!   how precisely it places the stimulus (a beam or a camera's ground point
//!   exactly, a geophone within tens of metres, a fence zone only to within
//!   its length). So the incident follows someone walking along the wall.
//! - **Holding:** an incident whose evidence is all of kinds listed in
//!   `corroborate` is held back (not published) until its sensors together
//!   reach `raise_strength`: 1 + Σ over sensors of (strongest evidence /
//!   threshold − 1). One fence zone or geophone at twice its threshold (a
//!   climb, a cut, heavy steps) is enough alone; two at 1.5 times theirs
//!   together; a beam adds nothing (a fox breaks it too), nor does a
//!   camera. A camera's person-shaped blob raises an incident at once; a
//!   vehicle-sized one is held like fence evidence (patrols drive by; two
//!   camels side by side look like a car). Held incidents
//!   that are not strong enough `hold` after their first evidence are
//!   dropped (so a camel grazing all afternoon never adds up). Where a camera saw an
//!   animal (too small for a person, or shaped like a camel) within
//!   `radius_m` in the last `window`, the bar is `animal_margin` higher:
//!   the animal may explain a rubbed fence and heavy steps.
//! - **Priority**, from the mix of evidence kinds (thermal, fence, ground,
//!   beam) the incident has ever had: three or more kinds `critical`; two
//!   kinds `high` (a human-sized camera blob with fence or ground activity
//!   in the same place is at least `high`); one kind from several sensors
//!   `medium`; a single sensor `low`.
//! - **Confidence:** 1 − Π(1 − pᵢ) over its sensors, where pᵢ grows with how
//!   far over threshold sensor i went.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::alert::Priority;
use crate::config::{EvidenceClass, FusionConfig};
use crate::evidence::{Evidence, EvidenceKind};
use crate::time::Timestamp;

/// How much recent evidence places an incident.
pub const POSITION_SPAN: Duration = Duration::from_secs(5);

/// The fusion settings, resolved from `[detection.fusion]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fusion {
    pub radius_m: f64,
    pub window: Duration,
    pub corroborate: BTreeSet<EvidenceKind>,
    pub raise_strength: f64,
    pub animal_margin: f64,
    pub hold: Duration,
}

impl Fusion {
    pub fn new(cfg: &FusionConfig) -> Self {
        let corroborate = cfg
            .corroborate
            .iter()
            .map(|c| match c {
                EvidenceClass::Thermal => EvidenceKind::Thermal,
                EvidenceClass::Fence => EvidenceKind::Fence,
                EvidenceClass::Ground => EvidenceKind::Ground,
                EvidenceClass::Beam => EvidenceKind::Beam,
            })
            .collect();
        Self {
            radius_m: cfg.radius_m,
            window: cfg.window,
            corroborate,
            raise_strength: cfg.raise_strength,
            animal_margin: cfg.animal_margin,
            hold: cfg.hold,
        }
    }

    /// How far `ev` is from an incident at `position_m`, from the near edge
    /// of what the sensor covers; `None` if too far to join it.
    pub fn join_distance(&self, position_m: f64, ev: &Evidence) -> Option<f64> {
        let d = ((ev.chainage_m - position_m).abs() - ev.extent_m).max(0.0);
        (d <= self.radius_m).then_some(d)
    }

    /// Whether an incident may be published: evidence of a kind that
    /// alerts at once (not a vehicle-sized camera blob: patrols drive by),
    /// or enough fence and ground strength over threshold in all; `margin`
    /// is added to `raise_strength` (an animal seen nearby).
    pub fn corroborated(
        &self,
        sensors: &BTreeMap<String, (EvidenceKind, f64)>,
        trail: &VecDeque<Evidence>,
        margin: f64,
    ) -> bool {
        let immediate = trail.iter().any(|e| {
            !self.corroborate.contains(&e.kind) && !e.camera.as_ref().is_some_and(|c| c.vehicle)
        });
        let strength: f64 = 1.0
            + sensors
                .values()
                .filter(|(kind, _)| matches!(kind, EvidenceKind::Fence | EvidenceKind::Ground))
                .map(|(_, s)| (s - 1.0).max(0.0))
                .sum::<f64>();
        immediate || strength >= self.raise_strength + margin - 1e-9
    }
}

/// Priority from the kinds and number of sensors an intrusion has had.
pub fn priority(sensors: &BTreeMap<String, (EvidenceKind, f64)>) -> Priority {
    let kinds: BTreeSet<EvidenceKind> = sensors.values().map(|(k, _)| *k).collect();
    match (kinds.len(), sensors.len()) {
        (k, _) if k >= 3 => Priority::Critical,
        (2, _) => Priority::High,
        (_, n) if n >= 2 => Priority::Medium,
        _ => Priority::Low,
    }
}

/// Noisy-OR confidence over the sensors, to two decimals.
pub fn confidence(sensors: &BTreeMap<String, (EvidenceKind, f64)>) -> f64 {
    let miss: f64 = sensors
        .values()
        .map(|(k, s)| 1.0 - sensor_probability(*k, *s))
        .product();
    ((1.0 - miss) * 100.0).round() / 100.0
}

/// Where the recent evidence places the stimulus; `None` without evidence.
pub fn position(trail: &VecDeque<Evidence>) -> Option<f64> {
    let newest = trail.iter().map(|e| e.at).max()?;
    let (sum, weight) = trail
        .iter()
        .filter(|e| newest.since(e.at) <= POSITION_SPAN)
        .fold((0.0, 0.0), |(s, w), e| {
            let weight = e.strength().min(4.0) / (1.0 + e.extent_m / 25.0);
            (s + e.chainage_m * weight, w + weight)
        });
    (weight > 0.0).then(|| sum / weight)
}

/// Whether an incident at `position_m`, now in `current` (start, end),
/// should move to the segment under its position: only once it is
/// [`MOVE_MARGIN_M`] past the boundary, so evidence scattered around a
/// boundary does not make it flap.
pub fn should_move(position_m: f64, current: (f64, f64)) -> bool {
    position_m < current.0 - MOVE_MARGIN_M || position_m >= current.1 + MOVE_MARGIN_M
}

/// How far past a segment boundary an incident must be to move.
pub const MOVE_MARGIN_M: f64 = 25.0;

/// How likely one sensor's evidence alone marks a real intrusion: a base per
/// kind, rising with how far over threshold it went.
fn sensor_probability(kind: EvidenceKind, strength: f64) -> f64 {
    let base = match kind {
        EvidenceKind::Beam => 0.6,
        EvidenceKind::Thermal => 0.55,
        EvidenceKind::Fence | EvidenceKind::Ground => 0.5,
        EvidenceKind::Tamper | EvidenceKind::Heartbeat => 0.9,
    };
    let over = (strength.clamp(1.0, 3.0) - 1.0) / 2.0;
    (base * (0.8 + 0.4 * over)).min(0.95)
}

/// Evidence older than `window` at `now` no longer joins an incident last
/// seen at `last_seen`.
pub fn still_open_to(last_seen: Timestamp, now: Timestamp, window: Duration) -> bool {
    now.since(last_seen) <= window
}
