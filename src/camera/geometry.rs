//! Camera geometry: from a pixel to a place on the ground, and back.
//!
//! A thermal camera is a pinhole without distortion or roll, mounted
//! `height_m` above the ground at a known position ([`Mount`]). As the
//! interface spec fixes it:
//!
//! - `heading_deg` is the azimuth of the optical axis, clockwise from true
//!   north; `tilt_deg` is the angle of the optical axis below the horizontal
//!   (positive looks down);
//! - `hfov_deg` and `vfov_deg` are the full angles of view, so the focal
//!   lengths in pixels are `fx = (W/2) / tan(hfov/2)` and
//!   `fy = (H/2) / tan(vfov/2)`, and the principal point is the image centre
//!   `(cx, cy) = (W/2, H/2)`;
//! - pixel coordinates have `u` to the right and `v` down, with the origin at
//!   the top-left corner of the top-left pixel: pixel (column `i`, row `j`)
//!   has its centre at `(i + 0.5, j + 0.5)`;
//! - an object stands on the ground at its foot point, the bottom centre of
//!   its blob.
//!
//! # Frames
//!
//! - **Camera frame**: `x` right (+u), `y` down (+v), `z` forward along the
//!   optical axis. Pixel `(u, v)` looks along `((u − cx)/fx, (v − cy)/fy, 1)`.
//! - **Local ENU** at the camera foot (the ground point below the camera):
//!   east, north, up. The camera is at `(0, 0, h)`. With heading `ψ` and tilt
//!   `τ` the camera axes are, in ENU,
//!   - right   `r = (cos ψ, −sin ψ, 0)`,
//!   - down    `d = (−sin τ sin ψ, −sin τ cos ψ, −cos τ)`,
//!   - forward `f = (cos τ sin ψ, cos τ cos ψ, −sin τ)`,
//!
//!   a right-handed rotation (`r × d = f`): first the pitch down by `τ` about
//!   the camera's `x` axis, then the heading. A camera-frame ray `(x, y, z)`
//!   is `x·r + y·d + z·f` in ENU, and an ENU vector `p` is
//!   `(p·r, p·d, p·f)` in the camera frame.
//!
//! # Ground model
//!
//! The ground is the sphere of radius [`EARTH_RADIUS_M`] that the wall uses
//! for all distances, not a flat plane: its centre is at `(0, 0, −R)` in the
//! ENU frame. A flat plane would misplace objects by about `D²/2R` metres of
//! height at range `D`, which from a 10 m mast is 8 m of range at 1 km and
//! 200 m at 3 km (`docs/CAMERA-GEOMETRY.md` has the numbers and the
//! remaining error sources: pixel size, tilt calibration, terrain and
//! refraction, which this model does not know about).
//!
//! [`CameraModel::ground_point`] intersects the pixel's ray `C + t·w` with
//! the sphere. With `c = (0, 0, R + h)` the camera relative to the centre,
//! `|c + t·w|² = R²` is `a t² + 2 b t + k = 0` where `a = w·w`,
//! `b = (R + h) w_up` and `k = h (2R + h)`. The ray meets the ground only if
//! it points down (`b < 0`) and below the horizon (`b² − a k ≥ 0`); the
//! nearer root is taken in the form `t = k / (−b + √(b² − a k))`, which has
//! no cancellation. The hit point `q = c + t·w` then gives
//!
//! - the ground range `R · atan2(|q_horizontal|, q_up)` (the great-circle
//!   distance from the camera foot),
//! - the bearing `atan2(east, north)` of its horizontal direction (the ray's),
//! - the position, by `geo::Haversine`'s destination from the camera at that
//!   bearing and range (the same sphere, so `geo`'s distance and bearing
//!   from the camera give the range and bearing back).
//!
//! [`CameraModel::project`] runs the other way: `geo::Haversine` gives the
//! great-circle distance (central angle `θ`) and bearing `β` from the camera
//! to the point, which is placed at radius `R + above_ground` in that
//! direction, so relative to the camera it is
//! `((R + a) sin θ sin β, (R + a) sin θ cos β, (R + a) cos θ − (R + h))`;
//! rotated into the camera frame and divided by its depth it gives `(u, v)`.
//!
//! # Bad numbers
//!
//! [`CameraModel::new`] rejects an invalid mount with a [`GeometryError`].
//! The query methods never panic: a NaN or infinite input gives `None` (or
//! `false` from [`CameraModel::in_image`]).

use geo::{Bearing, Destination, Distance, Haversine, Point};

use crate::wall::{LatLon, EARTH_RADIUS_M};

/// Where a camera is and where it looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mount {
    /// The camera foot: the ground point directly below the camera.
    pub position: LatLon,
    /// Height of the camera above the ground at its foot, in metres (> 0).
    pub height_m: f64,
    /// Azimuth of the optical axis in degrees, clockwise from true north.
    pub heading_deg: f64,
    /// Angle of the optical axis below the horizontal in degrees, in
    /// `[-90, 90]`; positive looks down.
    pub tilt_deg: f64,
    /// Full horizontal angle of view in degrees, in `(0, 180)`.
    pub hfov_deg: f64,
    /// Full vertical angle of view in degrees, in `(0, 180)`.
    pub vfov_deg: f64,
}

impl Mount {
    /// The mounting a `[[camera]]` entry describes.
    pub fn from_config(cam: &crate::config::CameraConfig) -> Self {
        Self {
            position: LatLon::new(cam.lat, cam.lon),
            height_m: cam.height_m,
            heading_deg: cam.heading_deg,
            tilt_deg: cam.tilt_deg,
            hfov_deg: cam.hfov_deg,
            vfov_deg: cam.vfov_deg,
        }
    }
}

/// A direction or offset in the local east-north-up frame at the camera foot.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Enu {
    east: f64,
    north: f64,
    up: f64,
}

impl Enu {
    fn dot(self, other: Enu) -> f64 {
        self.east * other.east + self.north * other.north + self.up * other.up
    }

    /// `x·self + y·b + z·c`: a camera-frame vector `(x, y, z)` in ENU when
    /// `self`, `b`, `c` are the camera's right, down and forward axes.
    fn combine(self, x: f64, b: Enu, y: f64, c: Enu, z: f64) -> Enu {
        Enu {
            east: x * self.east + y * b.east + z * c.east,
            north: x * self.north + y * b.north + z * c.north,
            up: x * self.up + y * b.up + z * c.up,
        }
    }
}

/// A camera's mount and image, ready to turn pixels into ground positions
/// and back. Built by [`CameraModel::new`], which checks the mount.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraModel {
    mount: Mount,
    width: u32,
    height: u32,
    fx: f64,
    fy: f64,
    cx: f64,
    cy: f64,
    /// The camera's `x` axis (+u) in ENU.
    right: Enu,
    /// The camera's `y` axis (+v) in ENU.
    down: Enu,
    /// The camera's `z` axis (the optical axis) in ENU.
    forward: Enu,
}

/// The ground point seen at a pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundHit {
    /// Where the ray meets the ground.
    pub position: LatLon,
    /// Great-circle distance in metres from the camera foot to the point,
    /// along the ground.
    pub range_m: f64,
    /// Straight-line distance in metres from the camera to the point.
    pub slant_m: f64,
    /// Bearing in degrees from the camera foot to the point, clockwise from
    /// true north, in `[0, 360)` (0 for the point right below the camera).
    pub bearing_deg: f64,
}

/// Why a [`CameraModel`] could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    /// The position has a NaN or infinite coordinate, or one out of range.
    #[error("camera position ({lat}, {lon}) is not a latitude in [-90, 90] and a longitude in [-180, 180]")]
    BadPosition {
        /// The latitude given.
        lat: f64,
        /// The longitude given.
        lon: f64,
    },
    /// The height is NaN, infinite, zero or negative.
    #[error("camera height must be a finite number of metres above 0, got {0}")]
    BadHeight(f64),
    /// The heading is NaN or infinite.
    #[error("camera heading must be a finite number of degrees, got {0}")]
    BadHeading(f64),
    /// The tilt is NaN or outside `[-90, 90]`.
    #[error("camera tilt must be in [-90, 90] degrees, got {0}")]
    BadTilt(f64),
    /// The horizontal angle of view is NaN or outside `(0, 180)`.
    #[error("horizontal field of view must be in (0, 180) degrees, got {0}")]
    BadHfov(f64),
    /// The vertical angle of view is NaN or outside `(0, 180)`.
    #[error("vertical field of view must be in (0, 180) degrees, got {0}")]
    BadVfov(f64),
    /// The image has no pixels.
    #[error("image size {width}x{height} has no pixels")]
    EmptyImage {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

impl CameraModel {
    /// A camera with `mount` and an image of `width` × `height` pixels.
    pub fn new(mount: Mount, width: u32, height: u32) -> Result<Self, GeometryError> {
        check_mount(&mount)?;
        if width == 0 || height == 0 {
            return Err(GeometryError::EmptyImage { width, height });
        }
        let (cx, cy) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
        let fx = cx / (mount.hfov_deg.to_radians() / 2.0).tan();
        let fy = cy / (mount.vfov_deg.to_radians() / 2.0).tan();
        let (sin_h, cos_h) = mount.heading_deg.to_radians().sin_cos();
        let (sin_t, cos_t) = mount.tilt_deg.to_radians().sin_cos();
        Ok(CameraModel {
            mount,
            width,
            height,
            fx,
            fy,
            cx,
            cy,
            right: Enu {
                east: cos_h,
                north: -sin_h,
                up: 0.0,
            },
            down: Enu {
                east: -sin_t * sin_h,
                north: -sin_t * cos_h,
                up: -cos_t,
            },
            forward: Enu {
                east: cos_t * sin_h,
                north: cos_t * cos_h,
                up: -sin_t,
            },
        })
    }

    /// The mount this model was built from.
    pub fn mount(&self) -> &Mount {
        &self.mount
    }

    /// The image size in pixels, `(width, height)`.
    pub fn image_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The focal lengths in pixels, `(fx, fy)`.
    pub fn focal_px(&self) -> (f64, f64) {
        (self.fx, self.fy)
    }

    /// The principal point `(cx, cy)`, the image centre.
    pub fn principal_point(&self) -> (f64, f64) {
        (self.cx, self.cy)
    }

    /// Great-circle distance in metres from the camera foot to the
    /// geometric horizon, `R · acos(R / (R + h))`: no ground point farther
    /// than this is seen (11.3 km from a 10 m mast, 19.6 km from 30 m).
    pub fn horizon_range_m(&self) -> f64 {
        let h = self.mount.height_m;
        // acos(R / (R + h)) = atan(√(h (2R + h)) / R), which keeps its
        // precision for small h.
        EARTH_RADIUS_M * ((h * (2.0 * EARTH_RADIUS_M + h)).sqrt()).atan2(EARTH_RADIUS_M)
    }

    /// The ground point seen at pixel coordinates `(u, v)` (continuous; pixel
    /// centres are at `+0.5`, and points outside the image are allowed).
    /// `None` when the ray does not meet the ground: it is level, points up,
    /// or points down but passes above the horizon (which from a height `h`
    /// lies `acos(R / (R + h))` below the horizontal, 0.10° for 10 m), or a
    /// coordinate is NaN or infinite.
    pub fn ground_point(&self, u: f64, v: f64) -> Option<GroundHit> {
        if !(u.is_finite() && v.is_finite()) {
            return None;
        }
        let w = self.ray(u, v);
        let r = EARTH_RADIUS_M;
        let h = self.mount.height_m;
        let a = w.dot(w);
        let b = (r + h) * w.up;
        let k = h * (2.0 * r + h);
        if b >= 0.0 {
            return None;
        }
        let discriminant = b * b - a * k;
        if discriminant < 0.0 {
            return None;
        }
        let t = k / (discriminant.sqrt() - b);
        // The hit relative to the sphere's centre.
        let east = t * w.east;
        let north = t * w.north;
        let up = r + h + t * w.up;
        let range_m = r * east.hypot(north).atan2(up);
        let bearing_deg = azimuth_deg(east, north);
        let position =
            from_point(Haversine.destination(to_point(self.mount.position), bearing_deg, range_m));
        Some(GroundHit {
            position,
            range_m,
            slant_m: t * a.sqrt(),
            bearing_deg,
        })
    }

    /// Metres per pixel `(horizontal, vertical)` at a slant range:
    /// `(slant/fx, slant/fy)`, for turning a blob's size in pixels into
    /// metres.
    ///
    /// This is exact for a small surface facing the camera (perpendicular to
    /// the line of sight) at the principal point. It is an approximation
    /// elsewhere:
    ///
    /// - off the optical axis by an angle `α` the image is stretched: a
    ///   surface facing the camera spans `1/cos² α` times more pixels per
    ///   metre along the off-axis direction and `1/cos α` across it (7 % and
    ///   4 % at the left and right edges of a 30° × 20° image, 10 % and 5 % in
    ///   its corners), so sizes come out that much too large;
    /// - an upright object seen from above, along a line of sight `δ` below
    ///   the horizontal, is foreshortened vertically by `cos δ`, so its height
    ///   comes out `cos δ` too small (under 0.1 % below 2.5°, 13 % at 30°,
    ///   half at 60°).
    ///
    /// A NaN or negative slant gives NaN or negative values.
    pub fn metres_per_pixel(&self, slant_m: f64) -> (f64, f64) {
        (slant_m / self.fx, slant_m / self.fy)
    }

    /// Forward projection, for the simulator: the pixel coordinates `(u, v)`
    /// where a point `above_ground_m` metres above the ground at `p` appears.
    ///
    /// The coordinates are returned whenever the point is in front of the
    /// camera (positive depth along the optical axis), even outside the
    /// image: [`CameraModel::in_image`] tells whether they fall on it.
    /// `None` when the point is at or behind the camera's image plane, or
    /// `p` or `above_ground_m` is invalid (NaN, infinite, out of range).
    /// Occlusion is not checked: neither by terrain nor by the Earth's bulge
    /// (a point beyond the horizon still projects).
    pub fn project(&self, p: LatLon, above_ground_m: f64) -> Option<(f64, f64)> {
        if !p.is_valid() || !above_ground_m.is_finite() {
            return None;
        }
        let foot = to_point(self.mount.position);
        let target = to_point(p);
        let angle = Haversine.distance(foot, target) / EARTH_RADIUS_M;
        let (sin_b, cos_b) = Haversine.bearing(foot, target).to_radians().sin_cos();
        let radius = EARTH_RADIUS_M + above_ground_m;
        let horizontal = radius * angle.sin();
        // (R + a) cos θ − (R + h) = (a − h) − (R + a) · 2 sin²(θ/2), without
        // the cancellation of the first form.
        let drop = 2.0 * (angle / 2.0).sin().powi(2);
        let offset = Enu {
            east: horizontal * sin_b,
            north: horizontal * cos_b,
            up: (above_ground_m - self.mount.height_m) - radius * drop,
        };
        let z = offset.dot(self.forward);
        if z.is_nan() || z <= 0.0 {
            return None;
        }
        let u = self.cx + self.fx * offset.dot(self.right) / z;
        let v = self.cy + self.fy * offset.dot(self.down) / z;
        (u.is_finite() && v.is_finite()).then_some((u, v))
    }

    /// Whether pixel coordinates fall on the image: `0 ≤ u < width` and
    /// `0 ≤ v < height` (false for NaN).
    pub fn in_image(&self, u: f64, v: f64) -> bool {
        (0.0..f64::from(self.width)).contains(&u) && (0.0..f64::from(self.height)).contains(&v)
    }

    /// The ray through pixel coordinates `(u, v)` in ENU (not normalised).
    fn ray(&self, u: f64, v: f64) -> Enu {
        let x = (u - self.cx) / self.fx;
        let y = (v - self.cy) / self.fy;
        self.right.combine(x, self.down, y, self.forward, 1.0)
    }
}

fn check_mount(m: &Mount) -> Result<(), GeometryError> {
    if !m.position.is_valid() {
        return Err(GeometryError::BadPosition {
            lat: m.position.lat,
            lon: m.position.lon,
        });
    }
    if !(m.height_m.is_finite() && m.height_m > 0.0) {
        return Err(GeometryError::BadHeight(m.height_m));
    }
    if !m.heading_deg.is_finite() {
        return Err(GeometryError::BadHeading(m.heading_deg));
    }
    if !(-90.0..=90.0).contains(&m.tilt_deg) {
        return Err(GeometryError::BadTilt(m.tilt_deg));
    }
    if !is_open_fov(m.hfov_deg) {
        return Err(GeometryError::BadHfov(m.hfov_deg));
    }
    if !is_open_fov(m.vfov_deg) {
        return Err(GeometryError::BadVfov(m.vfov_deg));
    }
    Ok(())
}

/// Whether an angle of view is in the open interval `(0, 180)` degrees.
fn is_open_fov(deg: f64) -> bool {
    deg > 0.0 && deg < 180.0
}

/// The azimuth in degrees, clockwise from north in `[0, 360)`, of a
/// horizontal direction; 0 for the zero vector.
fn azimuth_deg(east: f64, north: f64) -> f64 {
    let deg = east.atan2(north).to_degrees();
    // `+ 0.0` turns −0 into 0; a tiny negative angle would round to 360.
    let deg = if deg < 0.0 { deg + 360.0 } else { deg + 0.0 };
    if deg >= 360.0 {
        0.0
    } else {
        deg
    }
}

fn to_point(p: LatLon) -> Point<f64> {
    Point::new(p.lon, p.lat)
}

fn from_point(p: Point<f64>) -> LatLon {
    LatLon::new(p.y(), p.x())
}

#[cfg(test)]
#[path = "geometry_tests.rs"]
mod tests;
