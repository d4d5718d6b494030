//! The simulated world: the scenario's `[[objects]]` placed beside the
//! wall and moved along the ground in world coordinates, shared by the
//! simulated cameras ([`super::thermal`]) and the field sensors
//! ([`super::physics`]).
//!
//! Each object is resolved once ([`SceneObject::new`]): defaults drawn from
//! the seed, its start point placed `offset_m` from the wall. It then moves
//! in a straight great-circle line (`towards_wall`, `away_from_wall`, a
//! bearing) or along the wall at a fixed offset (`along_wall`).
//!
//! A person, crawler or vehicle on a straight path that reaches the wall
//! line stops there for `climb_s` seconds (default 6, 12 and 2: climbing,
//! cutting through, ramming) and then goes on the same way; the time spent
//! there comes out of its `duration`. The moment it reaches the line is
//! found once, on the path without the stop: sampled every 0.25 m of travel
//! (at most 20 000 samples) and refined by bisection where the side of the
//! wall changes, or the first sample within [`WALL_REACH_M`] of the line.
//!
//! [`SceneObject::wall_coords`] gives an object's place in wall terms:
//! chainage, and signed offset (positive on the right looking towards
//! increasing chainage).

use std::sync::Arc;

pub use super::place::wall_coords;
use super::place::{beside_wall, destination, wall_bearing};
use super::projection::in_view;
use super::rng::Rng;
use super::scenario::{Heading, ObjectEvent, ObjectKind, Scenario};
use crate::camera::geometry::CameraModel;
use crate::wall::{LatLon, Wall};

/// How close to the wall line counts as having reached it, metres.
pub const WALL_REACH_M: f64 = 0.5;

/// An object's extent in metres: `height` upright, `length` along its
/// heading, `breadth` across it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size {
    /// Height above its lowest point (for a bird: of its body, above
    /// `altitude_m`).
    pub height_m: f64,
    /// Along the direction it moves or faces.
    pub length_m: f64,
    /// Across that direction.
    pub breadth_m: f64,
}

impl ObjectKind {
    /// Whether it is a threat to score (a person, a crawler, a vehicle)
    /// rather than a nuisance.
    pub fn is_threat(self) -> bool {
        matches!(
            self,
            ObjectKind::Person | ObjectKind::Crawler | ObjectKind::Vehicle
        )
    }

    /// Its name in a scenario file (`"person"`, `"camel"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Person => "person",
            ObjectKind::Crawler => "crawler",
            ObjectKind::Vehicle => "vehicle",
            ObjectKind::Dog => "dog",
            ObjectKind::Fox => "fox",
            ObjectKind::Camel => "camel",
            ObjectKind::Bird => "bird",
            ObjectKind::Rock => "rock",
        }
    }

    /// Its size in metres.
    pub fn size(self) -> Size {
        let (height_m, length_m, breadth_m) = match self {
            ObjectKind::Person => (1.75, 0.3, 0.5),
            ObjectKind::Crawler => (0.4, 1.7, 0.5),
            ObjectKind::Vehicle => (1.8, 4.5, 1.8),
            ObjectKind::Dog => (0.6, 0.9, 0.3),
            ObjectKind::Fox => (0.4, 0.7, 0.2),
            ObjectKind::Camel => (2.0, 2.5, 0.7),
            ObjectKind::Bird => (0.3, 0.3, 0.8),
            ObjectKind::Rock => (1.0, 1.5, 1.2),
        };
        Size {
            height_m,
            length_m,
            breadth_m,
        }
    }

    /// Its speed in m/s when the scenario gives none.
    pub fn default_speed_m_s(self) -> f64 {
        match self {
            ObjectKind::Person => 1.4,
            ObjectKind::Crawler => 0.3,
            ObjectKind::Vehicle => 8.0,
            ObjectKind::Dog => 1.5,
            ObjectKind::Fox => 1.0,
            ObjectKind::Camel => 1.2,
            ObjectKind::Bird => 12.0,
            ObjectKind::Rock => 0.0,
        }
    }

    /// The range its contrast in kelvin is drawn from when the scenario
    /// gives none (for a rock: how much it warms).
    pub fn default_contrast_k(self, crossover: bool) -> (f64, f64) {
        let living = !matches!(self, ObjectKind::Vehicle | ObjectKind::Rock);
        if crossover && living {
            return (0.2, 1.0);
        }
        match self {
            ObjectKind::Person | ObjectKind::Crawler => (6.0, 10.0),
            ObjectKind::Vehicle => (15.0, 15.0),
            ObjectKind::Dog => (7.0, 9.0),
            ObjectKind::Fox => (6.0, 8.0),
            ObjectKind::Camel => (5.0, 7.0),
            ObjectKind::Bird => (4.0, 6.0),
            ObjectKind::Rock => (8.0, 8.0),
        }
    }
}

/// Where and how an object is at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectState {
    /// What it is.
    pub kind: ObjectKind,
    /// The ground point below its centre.
    pub position: LatLon,
    /// Height of its lowest point above the ground (0 except for birds).
    pub altitude_m: f64,
    /// The direction its length points, degrees clockwise from north.
    pub bearing_deg: f64,
    /// Its extent.
    pub size: Size,
    /// How much warmer than the ground under it, kelvin (negative: colder).
    pub contrast_k: f64,
}

/// How an object moves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    /// Along the wall at a fixed offset; chainage grows at the speed.
    AlongWall { chainage_m: f64, offset_m: f64 },
    /// A great-circle line from the start on a fixed bearing.
    Straight { bearing_deg: f64 },
}

/// One `[[objects]]` entry, resolved: defaults filled in from the seed,
/// start point placed on the wall.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneObject {
    /// Its index in the scenario's `objects`.
    pub index: usize,
    /// What it is.
    pub kind: ObjectKind,
    /// When it appears, seconds from the start of the scenario.
    pub start_s: f64,
    /// How long it stays (a rock: how long it warms, and it stays after).
    pub duration_s: f64,
    /// Ground speed, m/s (negative only along the wall).
    pub speed_m_s: f64,
    /// Contrast to the ground, kelvin (a rock: its warming when done).
    pub contrast_k: f64,
    /// Height above the ground (birds only; 0 for the rest).
    pub altitude_m: f64,
    /// Where it starts.
    pub start: LatLon,
    /// The chainage of the wall point it starts beside.
    pub chainage_m: f64,
    /// Its signed offset from the wall there (see
    /// [`ObjectEvent::offset_m`]).
    pub offset_m: f64,
    /// How long it stays at the wall line once it reaches it (people,
    /// crawlers and vehicles on straight paths; 0 for the rest).
    pub climb_s: f64,
    /// Seconds after `start_s` at which it first reaches the wall line, if
    /// it does (people, crawlers and vehicles only).
    pub reach_s: Option<f64>,
    path: Path,
}

impl SceneObject {
    /// Resolves scenario object `index`, drawing defaults from `seed`.
    pub fn new(index: usize, ev: &ObjectEvent, wall: &Wall, seed: u64, crossover: bool) -> Self {
        let mut rng = Rng::new(seed, &format!("object/{index}"));
        let (lo, hi) = ev.kind.default_contrast_k(crossover);
        let drawn = lo + (hi - lo) * rng.unit();
        let contrast_k = ev.contrast_k.unwrap_or(drawn);
        let speed_m_s = if ev.kind == ObjectKind::Rock {
            0.0
        } else {
            ev.speed_m_s.unwrap_or(ev.kind.default_speed_m_s())
        };
        let altitude_m = match ev.kind {
            ObjectKind::Bird => ev.altitude_m.unwrap_or(8.0),
            _ => 0.0,
        };
        let chainage_m = ev.chainage_m.clamp(0.0, wall.length_m());
        let start = beside_wall(wall, chainage_m, ev.offset_m);
        let across = wall_bearing(wall, chainage_m);
        // The bearing from the start over the wall, and away from it.
        let (to_wall, from_wall) = if ev.offset_m > 0.0 {
            (across - 90.0, across + 90.0)
        } else if ev.offset_m < 0.0 {
            (across + 90.0, across - 90.0)
        } else {
            (across - 90.0, across - 90.0)
        };
        let path = match ev.heading {
            Heading::AlongWall => Path::AlongWall {
                chainage_m,
                offset_m: ev.offset_m,
            },
            Heading::TowardsWall => Path::Straight {
                bearing_deg: to_wall,
            },
            Heading::AwayFromWall => Path::Straight {
                bearing_deg: from_wall,
            },
            Heading::Bearing(b) => Path::Straight { bearing_deg: b },
        };
        let mut object = Self {
            index,
            kind: ev.kind,
            start_s: ev.at.as_secs_f64(),
            duration_s: ev.duration.as_secs_f64(),
            speed_m_s,
            contrast_k,
            altitude_m,
            start,
            chainage_m,
            offset_m: ev.offset_m,
            climb_s: 0.0,
            reach_s: None,
            path,
        };
        if ev.kind.is_threat() {
            object.reach_s = object.find_reach(wall);
            if matches!(path, Path::Straight { .. }) && object.reach_s.is_some() {
                object.climb_s = ev.climb_s.unwrap_or(match ev.kind {
                    ObjectKind::Person => 6.0,
                    ObjectKind::Crawler => 12.0,
                    _ => 2.0,
                });
            }
        }
        object
    }

    /// When the path without a stop first reaches the wall line, seconds
    /// after the start (see the module docs).
    fn find_reach(&self, wall: &Wall) -> Option<f64> {
        let offset = |dt: f64| self.coords_after(wall, dt).1;
        let first = offset(0.0);
        if first.abs() <= WALL_REACH_M {
            return Some(0.0);
        }
        let speed = self.speed_m_s.abs();
        if speed <= 0.0 || self.duration_s <= 0.0 || matches!(self.path, Path::AlongWall { .. }) {
            return None;
        }
        let h = (0.25 / speed).max(self.duration_s / 20_000.0);
        // The crossing between two samples on either side, by bisection.
        let bisect = |mut lo: f64, mut hi: f64, side: f64| {
            for _ in 0..40 {
                let mid = (lo + hi) / 2.0;
                if offset(mid).signum() == side {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            hi
        };
        let (mut t0, mut o0) = (0.0, first);
        loop {
            let t1 = (t0 + h).min(self.duration_s);
            let o1 = offset(t1);
            if o1.signum() != o0.signum() {
                return Some(bisect(t0, t1, o0.signum()));
            }
            if o1.abs() <= WALL_REACH_M {
                // Close: the line itself if it is crossed within 2 m more.
                let (mut a, mut oa) = (t1, o1);
                for _ in 0..8 {
                    let b = (a + h).min(self.duration_s);
                    let ob = offset(b);
                    if ob.signum() != oa.signum() {
                        return Some(bisect(a, b, oa.signum()));
                    }
                    (a, oa) = (b, ob);
                }
                return Some(t1);
            }
            if t1 >= self.duration_s {
                return None;
            }
            (t0, o0) = (t1, o1);
        }
    }

    /// How far along its path it has gone after `dt` seconds in the scene,
    /// as seconds of travel: the stop at the wall line does not count.
    fn travel_s(&self, dt: f64) -> f64 {
        match self.reach_s {
            Some(r) if self.climb_s > 0.0 && dt > r => r.max(dt - self.climb_s),
            _ => dt,
        }
    }

    /// Whether it is stopped at the wall line at `t_s` (climbing, cutting
    /// or ramming).
    pub fn at_fence(&self, t_s: f64) -> bool {
        let dt = t_s - self.start_s;
        self.is_active(t_s)
            && self
                .reach_s
                .is_some_and(|r| self.climb_s > 0.0 && dt >= r && dt < r + self.climb_s)
    }

    /// When it first reaches the wall line, seconds into the scenario.
    pub fn crosses_wall_s(&self) -> Option<f64> {
        self.reach_s.map(|r| self.start_s + r)
    }

    /// Its ground position and facing after `travel` seconds of travel.
    fn place(&self, wall: &Wall, travel: f64) -> (LatLon, f64) {
        match self.path {
            Path::AlongWall {
                chainage_m,
                offset_m,
            } => {
                let c = (chainage_m + self.speed_m_s * travel).clamp(0.0, wall.length_m());
                let along = wall_bearing(wall, c);
                let facing = if self.speed_m_s < 0.0 {
                    along + 180.0
                } else {
                    along
                };
                (beside_wall(wall, c, offset_m), facing)
            }
            Path::Straight { bearing_deg } => (
                destination(self.start, bearing_deg, self.speed_m_s * travel),
                bearing_deg,
            ),
        }
    }

    /// Chainage and signed offset after `travel` seconds of travel.
    fn coords_after(&self, wall: &Wall, travel: f64) -> (f64, f64) {
        match self.path {
            Path::AlongWall {
                chainage_m,
                offset_m,
            } => (
                (chainage_m + self.speed_m_s * travel).clamp(0.0, wall.length_m()),
                offset_m,
            ),
            Path::Straight { .. } => wall_coords(wall, self.place(wall, travel).0),
        }
    }

    /// Where it is in wall terms at `t_s`: chainage and signed offset
    /// (positive on the right looking towards increasing chainage), or
    /// `None` when it is not in the scene.
    pub fn wall_coords(&self, wall: &Wall, t_s: f64) -> Option<(f64, f64)> {
        self.is_active(t_s)
            .then(|| self.coords_after(wall, self.travel_s(t_s - self.start_s)))
    }

    /// Whether it is moving at `t_s` (not stopped at the fence, not a rock,
    /// not given speed 0).
    pub fn is_moving(&self, t_s: f64) -> bool {
        self.speed_m_s != 0.0 && !self.at_fence(t_s)
    }

    /// Whether it is in the scene at `t_s` seconds into the scenario (a
    /// rock stays once it has appeared).
    pub fn is_active(&self, t_s: f64) -> bool {
        t_s >= self.start_s
            && (self.kind == ObjectKind::Rock || t_s < self.start_s + self.duration_s)
    }

    /// Where it is and how warm at `t_s`, or `None` when it is not in the
    /// scene.
    pub fn state_at(&self, wall: &Wall, t_s: f64) -> Option<ObjectState> {
        if !self.is_active(t_s) {
            return None;
        }
        let dt = t_s - self.start_s;
        let (position, bearing_deg) = self.place(wall, self.travel_s(dt));
        let contrast_k = if self.kind == ObjectKind::Rock {
            self.contrast_k * (dt / self.duration_s).clamp(0.0, 1.0)
        } else {
            self.contrast_k
        };
        Some(ObjectState {
            kind: self.kind,
            position,
            altitude_m: self.altitude_m,
            bearing_deg: bearing_deg.rem_euclid(360.0),
            size: self.kind.size(),
            contrast_k,
        })
    }

    /// The times, from its start to its end, at which to check what sees
    /// it: at most 400 of them, at least 0.25 s apart.
    fn sample_times(&self) -> impl Iterator<Item = f64> + '_ {
        let step = (self.duration_s / 400.0).max(0.25);
        let n = (self.duration_s / step).floor() as usize;
        (0..=n).map(move |i| self.start_s + (i as f64 * step).min(self.duration_s * 0.999))
    }
}

/// The scripted objects of a scenario, placed on the wall.
#[derive(Debug, Clone)]
pub struct World {
    wall: Arc<Wall>,
    objects: Vec<SceneObject>,
}

/// Which cameras see an object (by id, in the order given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Those it is in view of when it appears.
    pub at_start: Vec<String>,
    /// Those it is in view of at some moment while in the scene.
    pub during: Vec<String>,
}

impl World {
    /// The objects of `scenario` on `wall`.
    pub fn new(scenario: &Scenario, wall: Arc<Wall>) -> Self {
        let objects = scenario
            .objects
            .iter()
            .enumerate()
            .map(|(i, ev)| SceneObject::new(i, ev, &wall, scenario.seed, scenario.crossover))
            .collect();
        Self { wall, objects }
    }

    /// The wall the objects are placed on.
    pub fn wall(&self) -> &Wall {
        &self.wall
    }

    /// The resolved objects, in scenario order.
    pub fn objects(&self) -> &[SceneObject] {
        &self.objects
    }

    /// Where object `index` is in wall terms at `t_s` (see
    /// [`SceneObject::wall_coords`]).
    pub fn wall_coords(&self, index: usize, t_s: f64) -> Option<(f64, f64)> {
        self.objects.get(index)?.wall_coords(&self.wall, t_s)
    }

    /// The objects in the scene at `t_s`, written into `out` (cleared first).
    pub fn states_at(&self, t_s: f64, out: &mut Vec<ObjectState>) {
        out.clear();
        out.extend(
            self.objects
                .iter()
                .filter_map(|o| o.state_at(&self.wall, t_s)),
        );
    }

    /// Which of `cameras` see object `index` when it appears and at any
    /// moment in the scene (sampled at most 400 times).
    pub fn seen_by(&self, index: usize, cameras: &[(String, CameraModel)]) -> Seen {
        let mut seen = Seen::default();
        let Some(ob) = self.objects.get(index) else {
            return seen;
        };
        for (id, model) in cameras {
            let visible = |t: f64| {
                ob.state_at(&self.wall, t)
                    .is_some_and(|s| in_view(model, &s))
            };
            if visible(ob.start_s) {
                seen.at_start.push(id.clone());
            }
            if ob.sample_times().any(visible) {
                seen.during.push(id.clone());
            }
        }
        seen
    }
}

#[cfg(test)]
#[path = "world_tests.rs"]
mod tests;
