//! Places beside the wall: points at a chainage and offset, the wall's
//! direction, and the chainage and signed offset of a point (positive on
//! the right of the wall looking towards increasing chainage). Great-circle
//! geometry on the wall's sphere, through `geo::Haversine`.

use geo::{Bearing, Destination, Haversine, Point};

use crate::wall::{LatLon, Wall};

pub(crate) fn to_point(p: LatLon) -> Point<f64> {
    Point::new(p.lon, p.lat)
}

/// The point `distance_m` from `p` on `bearing_deg` (negative goes back).
pub(crate) fn destination(p: LatLon, bearing_deg: f64, distance_m: f64) -> LatLon {
    if distance_m == 0.0 {
        return p;
    }
    let q = Haversine.destination(to_point(p), bearing_deg, distance_m);
    LatLon::new(q.y(), wrap_lon(q.x()))
}

/// The wall's direction at chainage `c`, degrees clockwise from north,
/// from the points a metre either side (0 on a wall shorter than that).
pub(crate) fn wall_bearing(wall: &Wall, c: f64) -> f64 {
    let len = wall.length_m();
    let step = len.min(2.0);
    let a = (c - step / 2.0).clamp(0.0, len - step);
    let (p, q) = (wall.position_at(a), wall.position_at(a + step));
    if p.distance_m(q) < 1e-6 {
        return 0.0;
    }
    Haversine.bearing(to_point(p), to_point(q))
}

/// The point `offset_m` from the wall at chainage `c`: positive on the right
/// looking towards increasing chainage.
pub(crate) fn beside_wall(wall: &Wall, c: f64, offset_m: f64) -> LatLon {
    let on_wall = wall.position_at(c);
    destination(on_wall, wall_bearing(wall, c) + 90.0, offset_m)
}

/// Chainage and signed offset of `p`: positive on the right of the wall
/// looking towards increasing chainage.
pub fn wall_coords(wall: &Wall, p: LatLon) -> (f64, f64) {
    let located = wall.locate(p);
    if located.offset_m <= 1e-9 || !located.offset_m.is_finite() {
        return (located.chainage_m, located.offset_m);
    }
    let to_p = Haversine.bearing(to_point(located.position), to_point(p));
    let along = wall_bearing(wall, located.chainage_m);
    let side = (to_p - along).to_radians().sin();
    let sign = if side < 0.0 { -1.0 } else { 1.0 };
    (located.chainage_m, sign * located.offset_m)
}

pub(crate) fn wrap_lon(lon: f64) -> f64 {
    if (-180.0..=180.0).contains(&lon) {
        lon
    } else {
        (lon + 180.0).rem_euclid(360.0) - 180.0
    }
}
