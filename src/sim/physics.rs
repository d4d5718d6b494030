//! What the field sensors feel from the simulated world: the scenario's
//! `[[objects]]` (the same ones the cameras see, [`super::world`]) shaking
//! the fence, walking past the geophones and crossing the trench. Computed
//! once per report step as [`Stimuli`], which each simulated controller
//! ([`super::devices`]) reads at its own zones and channels and adds its
//! own noise to. Weather is in [`super::weather`]; the sensor-only
//! `[[events]] kind = "intrusion"` keeps its own older model (in
//! [`super::devices`]).
//!
//! # Geometry
//!
//! Objects are placed by chainage `c` and signed offset `o` from the wall
//! line (positive on the right looking towards increasing chainage). The
//! **fence** stands on the wall line (`o = 0`). The **trench** is a line
//! [`TRENCH_OFFSET_M`] = 3 m on the right (positive) side, the side the
//! library's intruders come from; geophones and beams sit on it at their
//! configured chainage.
//!
//! # Model numbers
//!
//! - **Fence contact.** A person, crawler or vehicle within
//!   [`FENCE_CONTACT_M`] (0.5 m) of the wall line — in practice while it
//!   stops there to climb, cut or ram (`climb_s`, see [`super::world`]) —
//!   shakes the fence at its chainage with an RMS drawn each step from
//!   `N(1200, 150)` mg (person climbing), `N(1000, 150)` (crawler cutting)
//!   or `N(1400, 150)` (vehicle ramming). A camel within [`CAMEL_RUB_M`]
//!   (1.5 m) rubs the fence at a step with probability 0.35, with an RMS
//!   of `U(250, 600)` mg. Dogs, foxes, birds and rocks never touch it.
//!   A zone feels a contact at distance `d` from its chainage range (0
//!   inside it) as `rms · e^(−d / 10 m)`; contacts, wind, rain and the
//!   zone's own noise add as `√(Σ x²)`.
//! - **Footsteps.** A walking body of kind `k` at 2-D distance `d` from a
//!   geophone adds `A_k · s · g · e^(−d / λ_k)` µm/s to its PPV (rest noise
//!   `N(150, 50)`), where `A, λ` are: person 2500, 25 m; crawler 700,
//!   15 m; vehicle 6000, 60 m; camel 1800, 30 m; dog 450, 15 m; fox 250,
//!   10 m (birds and rocks: none). `s` scales with speed,
//!   `clamp(√(v / v_default), 0.5, 1.7)` (a runner at 4 m/s: 1.7), and is
//!   0.3 while stopped (climbing); `g ~ N(1, 0.2)` per step is the gait. A
//!   dog 1 m from a geophone gives about 600 µm/s, under the default
//!   1000; a camel there about 1900.
//! - **Beams.** A beam guards [`BEAM_REACH_M`] (15 m) of trench either side
//!   of its chainage. It is broken at a step when a person, crawler,
//!   vehicle, dog, fox or camel was within `0.5 m + length/2` of the trench
//!   line there at any moment since the previous step (checked every
//!   0.1 s, so a runner is not missed between reports).

use std::sync::Arc;

use super::rng::Rng;
use super::scenario::ObjectKind;
use super::world::World;

/// Offset of the trench line from the wall line, metres (right side).
pub const TRENCH_OFFSET_M: f64 = 3.0;
/// How close to the wall line a person, crawler or vehicle touches the fence.
pub const FENCE_CONTACT_M: f64 = 0.5;
/// How close to the wall line a camel rubs the fence.
pub const CAMEL_RUB_M: f64 = 1.5;
/// Decay length of fence vibration along the fence, metres.
pub const FENCE_FALLOFF_M: f64 = 10.0;
/// How far along the trench either side of its chainage a beam reaches.
pub const BEAM_REACH_M: f64 = 15.0;
/// Chance per step that a camel by the fence rubs it.
pub const CAMEL_RUB_CHANCE: f64 = 0.35;

/// Someone or something shaking the fence at one place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    /// Where on the fence.
    pub chainage_m: f64,
    /// The RMS it causes there, milli-g.
    pub rms_mg: f64,
}

/// A source of footsteps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footsteps {
    /// Where it is.
    pub chainage_m: f64,
    /// Its signed offset from the wall line.
    pub offset_m: f64,
    /// The PPV it causes at no distance, µm/s.
    pub ppv_um_s: f64,
    /// The decay length of the PPV with distance, metres.
    pub decay_m: f64,
}

/// What the world does to the field sensors at one report step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stimuli {
    /// Fence contacts.
    pub contacts: Vec<Contact>,
    /// Footstep sources.
    pub footsteps: Vec<Footsteps>,
    /// Chainages where something was in the trench since the last step.
    pub in_trench: Vec<f64>,
}

impl Stimuli {
    /// The RMS that contacts cause on a zone spanning `start_m..end_m`,
    /// added in quadrature, milli-g.
    pub fn fence_mg(&self, start_m: f64, end_m: f64) -> f64 {
        self.contacts
            .iter()
            .map(|c| {
                let d = distance_to_range(c.chainage_m, start_m, end_m);
                (c.rms_mg * (-d / FENCE_FALLOFF_M).exp()).powi(2)
            })
            .sum::<f64>()
            .sqrt()
    }

    /// The PPV footsteps cause at a geophone at chainage `at_m` on the
    /// trench line, µm/s.
    pub fn ground_um_s(&self, at_m: f64) -> f64 {
        self.footsteps
            .iter()
            .map(|f| {
                let d = (f.chainage_m - at_m).hypot(f.offset_m - TRENCH_OFFSET_M);
                f.ppv_um_s * (-d / f.decay_m).exp()
            })
            .sum()
    }

    /// Whether the beam at chainage `at_m` was broken since the last step.
    pub fn beam_broken(&self, at_m: f64) -> bool {
        self.in_trench
            .iter()
            .any(|c| (c - at_m).abs() <= BEAM_REACH_M)
    }
}

/// The footstep source strength (µm/s at no distance) and decay length (m)
/// of a kind; `None` for what makes no footsteps.
pub fn footstep_model(kind: ObjectKind) -> Option<(f64, f64)> {
    match kind {
        ObjectKind::Person => Some((2500.0, 25.0)),
        ObjectKind::Crawler => Some((700.0, 15.0)),
        ObjectKind::Vehicle => Some((6000.0, 60.0)),
        ObjectKind::Camel => Some((1800.0, 30.0)),
        ObjectKind::Dog => Some((450.0, 15.0)),
        ObjectKind::Fox => Some((250.0, 10.0)),
        ObjectKind::Bird | ObjectKind::Rock => None,
    }
}

/// The fence RMS a person, crawler or vehicle at the fence causes: mean and
/// spread, milli-g; `None` for the rest.
pub fn contact_model(kind: ObjectKind) -> Option<(f64, f64)> {
    match kind {
        ObjectKind::Person => Some((1200.0, 150.0)),
        ObjectKind::Crawler => Some((1000.0, 150.0)),
        ObjectKind::Vehicle => Some((1400.0, 150.0)),
        _ => None,
    }
}

/// The scripted objects as the field sensors feel them.
#[derive(Debug, Clone)]
pub struct Field {
    world: Option<Arc<World>>,
    seed: u64,
}

impl Field {
    /// The field of `world` (none: nothing but the sensor-only events).
    pub fn new(world: Option<Arc<World>>, seed: u64) -> Self {
        Self { world, seed }
    }

    /// What the objects do at report step `step`, `t_s` seconds into the
    /// scenario, the previous step having been `step_s` earlier.
    pub fn stimuli(&self, step: u64, t_s: f64, step_s: f64) -> Stimuli {
        let mut out = Stimuli::default();
        let Some(world) = &self.world else {
            return out;
        };
        for ob in world.objects() {
            let Some((c, o)) = ob.wall_coords(world.wall(), t_s) else {
                continue;
            };
            let stream = |what: &str| Rng::keyed(self.seed, &format!("{what}/{}", ob.index), step);
            if let Some((mean, sd)) = contact_model(ob.kind) {
                if o.abs() <= FENCE_CONTACT_M {
                    out.contacts.push(Contact {
                        chainage_m: c,
                        rms_mg: stream("fence").normal(mean, sd).max(0.0),
                    });
                }
            }
            if ob.kind == ObjectKind::Camel && o.abs() <= CAMEL_RUB_M {
                let mut rng = stream("rub");
                if rng.unit() < CAMEL_RUB_CHANCE {
                    out.contacts.push(Contact {
                        chainage_m: c,
                        rms_mg: rng.range(250.0, 600.0),
                    });
                }
            }
            if let Some((a, decay_m)) = footstep_model(ob.kind) {
                let pace = if ob.is_moving(t_s) {
                    let nominal = ob.kind.default_speed_m_s().max(0.1);
                    (ob.speed_m_s.abs() / nominal).sqrt().clamp(0.5, 1.7)
                } else {
                    0.3
                };
                let gait = stream("gait").normal(1.0, 0.2).clamp(0.4, 1.6);
                out.footsteps.push(Footsteps {
                    chainage_m: c,
                    offset_m: o,
                    ppv_um_s: a * pace * gait,
                    decay_m,
                });
                // In the trench at any moment since the last step?
                let band = 0.5 + ob.kind.size().length_m / 2.0;
                let samples = (step_s / 0.1).ceil().max(1.0) as u32;
                let crossing = (0..samples)
                    .map(|k| t_s - f64::from(k) * 0.1)
                    .filter_map(|t| ob.wall_coords(world.wall(), t))
                    .find(|(_, o)| (o - TRENCH_OFFSET_M).abs() <= band);
                if let Some((c, _)) = crossing {
                    out.in_trench.push(c);
                }
            }
        }
        out
    }
}

/// How far `pos` is from the range `start..end` (0 inside it).
pub fn distance_to_range(pos: f64, start: f64, end: f64) -> f64 {
    if pos < start {
        start - pos
    } else if pos > end {
        pos - end
    } else {
        0.0
    }
}

#[cfg(test)]
#[path = "physics_tests.rs"]
mod tests;
