//! Unit-vector geometry on the sphere: the nearest point of a great-circle
//! leg to a given point.
//!
//! `geo` has haversine distances and interpolation along a great circle, but
//! no nearest point on a great-circle *arc*, so that is done here with 3-D
//! unit vectors ("n-vectors"), which have no trouble near the poles, the
//! antimeridian or the ends of a leg.
//!
//! For a leg from `a` to `b` (unit vectors, `a` ≠ ±`b`) and a point `p`:
//!
//! - `n = (a × b) / |a × b|` is the pole of the leg's great circle;
//! - `p · n = sin(xt)`, where `xt` is the cross-track angle from `p` to the
//!   circle;
//! - `q = p − (p · n) n` is `p` projected onto the circle's plane, and
//!   `c = q / |q|` is the nearest point of the whole circle (the foot). The
//!   angular distance from `p` to a point of the circle at angle `t` from the
//!   foot obeys `cos d = cos(xt) · cos t`, so it grows with `|t|` on the
//!   circle: if the foot lies on the arc it is the answer, otherwise the
//!   nearer end of the arc is;
//! - the foot lies on the arc `a → b` exactly when `(a × c) · n ≥ 0` and
//!   `(c × b) · n ≥ 0` (its angle from `a`, measured towards `b`, is in
//!   `[0, π]` and its angle before `b` is in `[0, π]`; for an arc shorter than
//!   `π` that is the arc);
//! - its along-track angle from `a` is `atan2((a × c) · n, a · c)`, which
//!   stays accurate for tiny and large angles alike (unlike `acos`).
//!
//! If `|q|` is (nearly) zero, `p` is a pole of the circle and every point of
//! the circle is 90° away: an end of the leg is then as near as any.
//! Candidates are compared by their squared chord `|p − c|²`, which is
//! monotonic in the angular distance and, unlike `p · c`, keeps its precision
//! for points centimetres apart.
//!
//! To skip most legs cheaply, each leg also has a bounding ball: its middle
//! `m` and the chord `r` from `m` to its ends, which no point of the leg
//! exceeds. Chords are straight-line distances, so by the triangle inequality
//! no point of the leg is nearer to `p` than `|p − m| − r`.

use super::LatLon;

/// Below this `|a × b|` (≈ 6 µm on the Earth) a short leg is treated as a
/// single point: its great circle is too ill-defined to project onto.
const POINT_LIKE_LEG: f64 = 1e-12;

/// Below this `|a × b|` (ends within ≈ 6.4 m of antipodal) a long leg's great
/// circle is undefined for practical purposes.
const NEARLY_ANTIPODAL: f64 = 1e-6;

/// Below this `|q|` the point is taken to be a pole of the leg's circle.
const AT_POLE: f64 = 1e-12;

/// Added to each leg's bounding radius to cover rounding (≈ 6 nm).
const RADIUS_SLACK: f64 = 1e-15;

/// A 3-D vector; the unit vectors among them are points on the sphere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Vec3 {
    x: f64,
    y: f64,
    z: f64,
}

impl Vec3 {
    /// The unit vector of a latitude and longitude in degrees.
    pub(super) fn from_lat_lon(p: LatLon) -> Vec3 {
        let (sin_lat, cos_lat) = p.lat.to_radians().sin_cos();
        let (sin_lon, cos_lon) = p.lon.to_radians().sin_cos();
        Vec3 {
            x: cos_lat * cos_lon,
            y: cos_lat * sin_lon,
            z: sin_lat,
        }
    }

    /// The latitude and longitude in degrees of a (non-zero) vector's direction.
    pub(super) fn to_lat_lon(self) -> LatLon {
        LatLon {
            lat: self.z.atan2(self.x.hypot(self.y)).to_degrees(),
            lon: self.y.atan2(self.x).to_degrees(),
        }
    }

    fn dot(self, o: Vec3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    fn cross(self, o: Vec3) -> Vec3 {
        Vec3 {
            x: self.y * o.z - self.z * o.y,
            y: self.z * o.x - self.x * o.z,
            z: self.x * o.y - self.y * o.x,
        }
    }

    fn add(self, o: Vec3) -> Vec3 {
        Vec3 {
            x: self.x + o.x,
            y: self.y + o.y,
            z: self.z + o.z,
        }
    }

    fn sub(self, o: Vec3) -> Vec3 {
        Vec3 {
            x: self.x - o.x,
            y: self.y - o.y,
            z: self.z - o.z,
        }
    }

    fn scale(self, k: f64) -> Vec3 {
        Vec3 {
            x: self.x * k,
            y: self.y * k,
            z: self.z * k,
        }
    }

    fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// The chord between two points of the unit sphere.
    fn chord(self, o: Vec3) -> f64 {
        self.chord2(o).sqrt()
    }

    /// Squared distance between two vectors: the squared chord between two
    /// points of the unit sphere.
    fn chord2(self, o: Vec3) -> f64 {
        let d = self.sub(o);
        d.dot(d)
    }
}

/// Where on a leg its nearest point to some point lies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Foot {
    /// At the leg's first vertex.
    Start,
    /// At the leg's second vertex.
    End,
    /// On the leg (an end only by rounding), at this unit vector.
    Inside(Vec3),
}

/// The nearest point of one leg, with its squared chord to the point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Nearest {
    /// Squared chord (unit sphere) between the point and the foot; use it
    /// only to compare legs.
    pub(super) chord2: f64,
    /// The nearest point.
    pub(super) foot: Foot,
}

/// One leg of the wall as unit vectors, ready for nearest-point queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Leg {
    a: Vec3,
    b: Vec3,
    /// Unit pole of the leg's great circle; `None` for a point-like leg.
    pole: Option<Vec3>,
    /// The leg's middle, centre of its bounding ball.
    mid: Vec3,
    /// Radius (a chord) of the bounding ball.
    radius: f64,
}

impl Leg {
    /// The leg from `a` to `b`, or `None` if they are (nearly) antipodal, when
    /// no single great circle joins them.
    pub(super) fn new(a: LatLon, b: LatLon) -> Option<Leg> {
        let a = Vec3::from_lat_lon(a);
        let b = Vec3::from_lat_lon(b);
        // a × b = ½ (b + a) × (b − a): the same vector, but the small
        // difference of nearby points is taken first, so the pole keeps its
        // relative precision on legs of a few metres.
        let n = b.add(a).cross(b.sub(a)).scale(0.5);
        let sin_len = n.norm();
        if a.dot(b) < 0.0 && sin_len < NEARLY_ANTIPODAL {
            return None;
        }
        let pole = (sin_len >= POINT_LIKE_LEG).then(|| n.scale(1.0 / sin_len));
        let sum = a.add(b);
        let mid = sum.scale(1.0 / sum.norm());
        let radius = mid.chord(a).max(mid.chord(b)) + RADIUS_SLACK;
        Some(Leg {
            a,
            b,
            pole,
            mid,
            radius,
        })
    }

    /// The squared chord from `p` to the leg's middle, a point of the leg:
    /// an upper bound on the squared chord from `p` to the leg.
    pub(super) fn chord2_to_mid(&self, p: Vec3) -> f64 {
        p.chord2(self.mid)
    }

    /// Whether every point of the leg is farther than the chord `bound` from `p`.
    pub(super) fn is_beyond(&self, p: Vec3, bound: f64) -> bool {
        let reach = bound + self.radius;
        p.chord2(self.mid) > reach * reach
    }

    /// The point of the leg nearest to `p` (a unit vector).
    pub(super) fn nearest(&self, p: Vec3) -> Nearest {
        let Some(n) = self.pole else {
            return self.nearer_end(p);
        };
        let q = p.sub(n.scale(p.dot(n)));
        let q_len = q.norm();
        if q_len < AT_POLE {
            return self.nearer_end(p);
        }
        let c = q.scale(1.0 / q_len);
        if self.a.cross(c).dot(n) >= 0.0 && c.cross(self.b).dot(n) >= 0.0 {
            Nearest {
                chord2: p.chord2(c),
                foot: Foot::Inside(c),
            }
        } else {
            self.nearer_end(p)
        }
    }

    /// The angle in radians from the leg's start to `c`, a point on its
    /// great circle, positive towards the leg's end. Zero for a point-like leg.
    pub(super) fn along_rad(&self, c: Vec3) -> f64 {
        self.pole
            .map_or(0.0, |n| self.a.cross(c).dot(n).atan2(self.a.dot(c)))
    }

    fn nearer_end(&self, p: Vec3) -> Nearest {
        let to_a = p.chord2(self.a);
        let to_b = p.chord2(self.b);
        if to_b < to_a {
            Nearest {
                chord2: to_b,
                foot: Foot::End,
            }
        } else {
            Nearest {
                chord2: to_a,
                foot: Foot::Start,
            }
        }
    }
}
