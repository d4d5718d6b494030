//! Where an object lands in a camera's image: the upright rectangle around
//! its eight corners as the daemon's [`CameraModel`] projects them.

use super::place::wrap_lon;
use super::world::ObjectState;
use crate::camera::geometry::CameraModel;
use crate::wall::{LatLon, EARTH_RADIUS_M};

/// A rectangle in continuous pixel coordinates (`u` right, `v` down), and
/// the distance of what it shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelBox {
    /// Left edge.
    pub u0: f64,
    /// Right edge.
    pub u1: f64,
    /// Top edge.
    pub v0: f64,
    /// Bottom edge: the foot.
    pub v1: f64,
    /// Ground range from the camera foot, metres.
    pub range_m: f64,
}

impl PixelBox {
    /// How many pixels of a `width` × `height` image it covers.
    pub fn area_in(&self, width: u32, height: u32) -> f64 {
        let w = (self.u1.min(f64::from(width)) - self.u0.max(0.0)).max(0.0);
        let h = (self.v1.min(f64::from(height)) - self.v0.max(0.0)).max(0.0);
        w * h
    }
}

/// The upright rectangle around an object's eight corners as `model`
/// projects them; `None` when a corner is behind the camera or the object
/// is beyond the horizon.
pub fn project_box(model: &CameraModel, s: &ObjectState) -> Option<PixelBox> {
    let range_m = model.mount().position.distance_m(s.position);
    if range_m.is_nan() || range_m > model.horizon_range_m() {
        return None;
    }
    let metres_per_deg = EARTH_RADIUS_M.to_radians();
    let cos_lat = s.position.lat.to_radians().cos();
    if cos_lat < 1e-6 {
        return None;
    }
    let (sin_b, cos_b) = s.bearing_deg.to_radians().sin_cos();
    let (half_l, half_b) = (s.size.length_m / 2.0, s.size.breadth_m / 2.0);
    let mut b = PixelBox {
        u0: f64::INFINITY,
        u1: f64::NEG_INFINITY,
        v0: f64::INFINITY,
        v1: f64::NEG_INFINITY,
        range_m,
    };
    for (along, across) in [
        (-half_l, -half_b),
        (-half_l, half_b),
        (half_l, -half_b),
        (half_l, half_b),
    ] {
        let east = along * sin_b + across * cos_b;
        let north = along * cos_b - across * sin_b;
        let corner = LatLon::new(
            s.position.lat + north / metres_per_deg,
            wrap_lon(s.position.lon + east / (metres_per_deg * cos_lat)),
        );
        for up in [s.altitude_m, s.altitude_m + s.size.height_m] {
            let (u, v) = model.project(corner, up)?;
            b.u0 = b.u0.min(u);
            b.u1 = b.u1.max(u);
            b.v0 = b.v0.min(v);
            b.v1 = b.v1.max(v);
        }
    }
    Some(b)
}

/// Whether an object covers at least one pixel's worth of `model`'s image.
pub fn in_view(model: &CameraModel, s: &ObjectState) -> bool {
    let (w, h) = model.image_size();
    project_box(model, s).is_some_and(|b| b.area_in(w, h) >= 1.0)
}
