//! Simulated thermal cameras: synthetic radiometric scenes (u16 centikelvin,
//! 0 = dead pixel) rendered through the daemon's own [`CameraModel`], so a
//! simulated object lands on the pixels where the daemon's geometry expects
//! it.
//!
//! # The scene
//!
//! Everything is deterministic for a seed (streams of [`Rng`] keyed by the
//! camera id) and in plausible units:
//!
//! - **Terrain**, computed once per camera: every pixel's ray is intersected
//!   with the ground ([`CameraModel::ground_point`]). Ground near the mast is
//!   up to 2 K warmer than `ground_c` (steep view of sun-warmed soil), the
//!   far ground fades 3 K colder into the haze, and a smooth two-octave
//!   texture of about ±1 K lies over the near ground. Pixels whose ray
//!   misses the ground are **sky**: 8 K colder than the ground at the
//!   horizon row and down to 25 K colder higher up. Under `crossover` the
//!   terrain's gradients and texture shrink to 30 %.
//! - **Sun-heated rocks**: three stationary boxes per camera (0.5–1.2 m tall,
//!   0.8–2 m long) on the ground in view, warming by 2–5 K over 5–15
//!   minutes from the start: slow enough for the daemon's background to
//!   follow.
//! - **Diurnal drift**: the whole scene moves by `diurnal_k_per_hour`.
//! - **Sensor noise**: Gaussian, σ 0.05 K (5 counts), new every frame, from a
//!   table of 65 536 samples indexed by a per-frame random stream (cheap).
//! - **Dead pixels**: one per 50 000 pixels (at least 3) at fixed places,
//!   always 0.
//! - **Scripted objects** (`[[objects]]` of the scenario, see
//!   [`ObjectKind`]): boxes of the kind's height, length (along their
//!   heading) and breadth, moving along the ground in world coordinates.
//!   Each frame the eight corners are projected with
//!   [`CameraModel::project`] and the object is painted as the upright
//!   rectangle around them, with pixel-coverage (anti-aliased) edges,
//!   farthest first, at the ground temperature under its foot plus its
//!   contrast. Objects with a corner behind the camera, or farther than the
//!   horizon, are not drawn.
//!
//! # Contract with the daemon
//!
//! The unit tests feed rendered frames to the daemon's
//! [`CameraPipeline`](crate::camera::CameraPipeline): a walking person
//! becomes evidence at its chainage (±10 m at 150 m), while a bird crossing
//! the view and a rock warming over minutes give nothing.
//!
//! # Cost
//!
//! The terrain and the noise table are built once per camera (tens of
//! milliseconds at 640 × 512). A frame is then a copy of the terrain, the
//! objects painted over it and one pass adding drift and noise while
//! converting to u16, into buffers allocated once: about a millisecond at
//! 640 × 512 in a release build.

use std::sync::Arc;

use geo::{Bearing, Destination, Haversine, Point};
use ndarray::{Array2, ArrayView2};

use super::rng::Rng;
use super::scenario::{Heading, ObjectEvent, ObjectKind, Scenario};
use crate::camera::geometry::{CameraModel, GeometryError, Mount};
use crate::wall::{LatLon, Wall, EARTH_RADIUS_M};

/// Centikelvin per kelvin, and 0 °C in centikelvin.
const CK_PER_K: f64 = 100.0;
const ZERO_C_CK: f64 = 27_315.0;
/// Entries in each camera's table of noise samples (indexed by 16 bits).
const NOISE_TABLE: usize = 1 << 16;

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
        Self {
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
            path,
        }
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
        let (position, bearing_deg) = match self.path {
            Path::AlongWall {
                chainage_m,
                offset_m,
            } => {
                let c = (chainage_m + self.speed_m_s * dt).clamp(0.0, wall.length_m());
                let along = wall_bearing(wall, c);
                let facing = if self.speed_m_s < 0.0 {
                    along + 180.0
                } else {
                    along
                };
                (beside_wall(wall, c, offset_m), facing)
            }
            Path::Straight { bearing_deg } => (
                destination(self.start, bearing_deg, self.speed_m_s * dt),
                bearing_deg,
            ),
        };
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

/// The scene parameters of every simulated camera.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneSettings {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Seed of the terrain, rocks, dead pixels and noise.
    pub seed: u64,
    /// Ground temperature at the start, °C.
    pub ground_c: f64,
    /// Drift of the whole scene, kelvin per hour.
    pub diurnal_k_per_hour: f64,
    /// Flatter terrain (and, in [`World`], low default contrasts).
    pub crossover: bool,
    /// Standard deviation of the sensor noise, kelvin. 0.05 from a scenario.
    pub noise_k: f64,
    /// Fixed dead pixels. One per 50 000 pixels, at least 3, from a scenario.
    pub dead_pixels: usize,
    /// Sun-heated rocks in view. 3 from a scenario.
    pub sun_rocks: usize,
}

impl SceneSettings {
    /// The settings a scenario asks for.
    pub fn from_scenario(s: &Scenario) -> Self {
        let pixels = s.camera_width as usize * s.camera_height as usize;
        Self {
            width: s.camera_width,
            height: s.camera_height,
            seed: s.seed,
            ground_c: s.ground_c,
            diurnal_k_per_hour: s.diurnal_k_per_hour,
            crossover: s.crossover,
            noise_k: 0.05,
            dead_pixels: (pixels / 50_000).max(3).min(pixels),
            sun_rocks: 3,
        }
    }
}

/// A stationary rock of the background, warming in the sun.
#[derive(Debug, Clone, Copy)]
struct SunRock {
    bbox: PixelBox,
    base_ck: f32,
    warm_ck: f32,
    ramp_s: f64,
}

/// One thing to paint this frame.
#[derive(Debug, Clone, Copy)]
struct Drawable {
    bbox: PixelBox,
    temp_ck: f32,
}

/// One simulated camera: its model, the static terrain and the buffers a
/// frame is rendered into.
#[derive(Debug, Clone)]
pub struct CameraScene {
    id: String,
    model: CameraModel,
    settings: SceneSettings,
    /// The terrain in centikelvin at the start, row-major.
    terrain: Vec<f32>,
    /// Whether each pixel shows sky.
    sky: Vec<bool>,
    /// Noise samples in counts.
    noise: Vec<i16>,
    noise_stream: String,
    dead: Vec<usize>,
    rocks: Vec<SunRock>,
    /// Per-frame buffers, allocated once.
    scratch: Vec<f32>,
    drawables: Vec<Drawable>,
    frame: Array2<u16>,
}

impl CameraScene {
    /// A camera `id` with `mount`, rendering frames as `settings` says.
    pub fn new(id: &str, mount: Mount, settings: SceneSettings) -> Result<Self, GeometryError> {
        let model = CameraModel::new(mount, settings.width, settings.height)?;
        let (w, h) = (settings.width as usize, settings.height as usize);
        let mut rng = Rng::new(settings.seed, &format!("scene/{id}"));
        let flat = if settings.crossover { 0.3 } else { 1.0 };
        let ground_ck = settings.ground_c * CK_PER_K + ZERO_C_CK;
        let coarse = ValueNoise::new(&mut rng, w, h, (w / 10).max(8));
        let fine = ValueNoise::new(&mut rng, w, h, (w / 40).max(3));
        let (fx, fy) = model.focal_px();
        let (cx, cy) = model.principal_point();
        let (sin_t, cos_t) = mount.tilt_deg.to_radians().sin_cos();
        let mut terrain = Vec::with_capacity(w * h);
        let mut sky = Vec::with_capacity(w * h);
        for row in 0..h {
            let v = row as f64 + 0.5;
            for col in 0..w {
                let u = col as f64 + 0.5;
                let hit = model.ground_point(u, v);
                sky.push(hit.is_none());
                let kelvin = match hit {
                    Some(hit) => {
                        let near = (-hit.range_m / 300.0).exp();
                        let haze = 1.0 - (-hit.range_m / 3000.0).exp();
                        let texture = 0.7 * coarse.at(col, row) + 0.25 * fine.at(col, row);
                        flat * (2.0 * near + texture * (1.0 - haze)) - 3.0 * haze
                    }
                    None => {
                        // The ray's elevation above the horizontal.
                        let (x, y) = ((u - cx) / fx, (v - cy) / fy);
                        let up = -y * cos_t - sin_t;
                        let elev_deg = (up / (x * x + y * y + 1.0).sqrt()).asin().to_degrees();
                        -8.0 - 17.0 * (1.0 - (-elev_deg.max(0.0) / 5.0).exp())
                    }
                };
                terrain.push((ground_ck + kelvin * CK_PER_K) as f32);
            }
        }
        let mut noise_rng = Rng::new(settings.seed, &format!("noise-table/{id}"));
        let sd = settings.noise_k * CK_PER_K;
        let noise = (0..NOISE_TABLE)
            .map(|_| noise_rng.normal(0.0, sd).round().clamp(-30_000.0, 30_000.0) as i16)
            .collect();
        let dead = (0..settings.dead_pixels)
            .map(|_| (rng.next_u64() % (w * h) as u64) as usize)
            .collect();
        let mut scene = Self {
            id: id.to_owned(),
            model,
            noise,
            noise_stream: format!("noise/{id}"),
            dead,
            rocks: Vec::new(),
            scratch: vec![0.0; w * h],
            drawables: Vec::new(),
            frame: Array2::zeros((h, w)),
            terrain,
            sky,
            settings,
        };
        scene.rocks = scene.place_rocks(&mut rng);
        Ok(scene)
    }

    /// The camera's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The camera model frames are rendered through.
    pub fn model(&self) -> &CameraModel {
        &self.model
    }

    /// The settings it renders with.
    pub fn settings(&self) -> &SceneSettings {
        &self.settings
    }

    /// The background rocks: a few ground points in view, 20 to 1000 m
    /// away, found by trying random pixels.
    fn place_rocks(&self, rng: &mut Rng) -> Vec<SunRock> {
        let (w, h) = (self.settings.width as usize, self.settings.height as usize);
        let mut rocks = Vec::new();
        let mut attempts = 0;
        while rocks.len() < self.settings.sun_rocks && attempts < 50 * self.settings.sun_rocks {
            attempts += 1;
            let u = rng.unit() * w as f64;
            let v = rng.unit() * h as f64;
            let Some(hit) = self.model.ground_point(u, v) else {
                continue;
            };
            if !(20.0..=1000.0).contains(&hit.range_m) {
                continue;
            }
            let state = ObjectState {
                kind: ObjectKind::Rock,
                position: hit.position,
                altitude_m: 0.0,
                bearing_deg: rng.unit() * 360.0,
                size: Size {
                    height_m: 0.5 + 0.7 * rng.unit(),
                    length_m: 0.8 + 1.2 * rng.unit(),
                    breadth_m: 0.8 + 0.7 * rng.unit(),
                },
                contrast_k: 0.0,
            };
            let Some(bbox) = project_box(&self.model, &state) else {
                continue;
            };
            let flat = if self.settings.crossover { 0.5 } else { 1.0 };
            rocks.push(SunRock {
                bbox,
                base_ck: self.ground_under(&bbox),
                warm_ck: ((2.0 + 3.0 * rng.unit()) * flat * CK_PER_K) as f32,
                ramp_s: 300.0 + 600.0 * rng.unit(),
            });
        }
        rocks
    }

    /// The terrain temperature under a box's foot: the pixel there when it
    /// shows ground, else the terrain model at the box's range.
    fn ground_under(&self, b: &PixelBox) -> f32 {
        let (w, h) = (self.settings.width as f64, self.settings.height as f64);
        let (u, v) = ((b.u0 + b.u1) / 2.0, b.v1 - 0.5);
        if (0.0..w).contains(&u) && (0.0..h).contains(&v) {
            let i = v as usize * self.settings.width as usize + u as usize;
            if !self.sky[i] {
                return self.terrain[i];
            }
        }
        let flat = if self.settings.crossover { 0.3 } else { 1.0 };
        let near = (-b.range_m / 300.0).exp();
        let haze = 1.0 - (-b.range_m / 3000.0).exp();
        let kelvin = self.settings.ground_c + flat * 2.0 * near - 3.0 * haze;
        (kelvin * CK_PER_K + ZERO_C_CK) as f32
    }

    /// Renders frame `seq` at `t_s` seconds into the scenario with
    /// `objects` in the scene. The same seed, `seq`, `t_s` and objects give
    /// the same pixels.
    pub fn render(&mut self, seq: u32, t_s: f64, objects: &[ObjectState]) -> ArrayView2<'_, u16> {
        let (w, h) = (self.settings.width, self.settings.height);
        self.scratch.copy_from_slice(&self.terrain);
        self.drawables.clear();
        for r in &self.rocks {
            let warmth = (t_s / r.ramp_s).clamp(0.0, 1.0) as f32;
            self.drawables.push(Drawable {
                bbox: r.bbox,
                temp_ck: r.base_ck + r.warm_ck * warmth,
            });
        }
        for s in objects {
            let Some(bbox) = project_box(&self.model, s) else {
                continue;
            };
            if bbox.area_in(w, h) <= 0.0 {
                continue;
            }
            let temp_ck = self.ground_under(&bbox) + (s.contrast_k * CK_PER_K) as f32;
            self.drawables.push(Drawable { bbox, temp_ck });
        }
        // Farthest first, so nearer things cover them.
        self.drawables
            .sort_by(|a, b| b.bbox.range_m.total_cmp(&a.bbox.range_m));
        for d in &self.drawables {
            paint(
                &mut self.scratch,
                w as usize,
                h as usize,
                &d.bbox,
                d.temp_ck,
            );
        }
        let drift = (self.settings.diurnal_k_per_hour * t_s / 3600.0 * CK_PER_K) as f32;
        let mut rng = Rng::new(
            self.settings.seed ^ u64::from(seq).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            &self.noise_stream,
        );
        let out = self
            .frame
            .as_slice_mut()
            .expect("a frame made by Array2::zeros is contiguous");
        for (o4, s4) in out.chunks_mut(4).zip(self.scratch.chunks(4)) {
            let mut bits = rng.next_u64();
            for (o, &s) in o4.iter_mut().zip(s4) {
                let n = self.noise[(bits & 0xffff) as usize];
                bits >>= 16;
                // `as` saturates; 0 is kept for dead pixels.
                *o = (s + drift + f32::from(n) + 0.5).clamp(1.0, 65_535.0) as u16;
            }
        }
        for &i in &self.dead {
            out[i] = 0;
        }
        self.frame.view()
    }
}

/// Blends a box of temperature `temp` into `buf` (row-major, `width` ×
/// `height`), each pixel by the fraction of it the box covers.
fn paint(buf: &mut [f32], width: usize, height: usize, b: &PixelBox, temp: f32) {
    let x0 = b.u0.floor().max(0.0) as usize;
    let x1 = (b.u1.ceil().min(width as f64)).max(0.0) as usize;
    let y0 = b.v0.floor().max(0.0) as usize;
    let y1 = (b.v1.ceil().min(height as f64)).max(0.0) as usize;
    let cover = |i: usize, lo: f64, hi: f64| ((i + 1) as f64).min(hi) - (i as f64).max(lo);
    for y in y0..y1 {
        let cy = cover(y, b.v0, b.v1);
        if cy <= 0.0 {
            continue;
        }
        let row = &mut buf[y * width..(y + 1) * width];
        for (x, px) in row.iter_mut().enumerate().take(x1).skip(x0) {
            let c = (cy * cover(x, b.u0, b.u1)) as f32;
            if c > 0.0 {
                *px += c * (temp - *px);
            }
        }
    }
}

/// Smooth random values in [−1, 1] over an image: a grid of random values
/// every `cell` pixels, interpolated with a smoothstep.
struct ValueNoise {
    grid: Vec<f64>,
    cols: usize,
    cell: f64,
}

impl ValueNoise {
    fn new(rng: &mut Rng, width: usize, height: usize, cell: usize) -> Self {
        let cols = width / cell + 2;
        let rows = height / cell + 2;
        let grid = (0..cols * rows).map(|_| rng.unit() * 2.0 - 1.0).collect();
        Self {
            grid,
            cols,
            cell: cell as f64,
        }
    }

    fn at(&self, x: usize, y: usize) -> f64 {
        let (gx, gy) = (x as f64 / self.cell, y as f64 / self.cell);
        let (ix, iy) = (gx as usize, gy as usize);
        let smooth = |t: f64| t * t * (3.0 - 2.0 * t);
        let (tx, ty) = (smooth(gx.fract()), smooth(gy.fract()));
        let g = |i: usize, j: usize| self.grid[j * self.cols + i];
        let top = g(ix, iy) + (g(ix + 1, iy) - g(ix, iy)) * tx;
        let bottom = g(ix, iy + 1) + (g(ix + 1, iy + 1) - g(ix, iy + 1)) * tx;
        top + (bottom - top) * ty
    }
}

fn to_point(p: LatLon) -> Point<f64> {
    Point::new(p.lon, p.lat)
}

/// The point `distance_m` from `p` on `bearing_deg` (negative goes back).
fn destination(p: LatLon, bearing_deg: f64, distance_m: f64) -> LatLon {
    if distance_m == 0.0 {
        return p;
    }
    let q = Haversine.destination(to_point(p), bearing_deg, distance_m);
    LatLon::new(q.y(), wrap_lon(q.x()))
}

/// The wall's direction at chainage `c`, degrees clockwise from north,
/// from the points a metre either side (0 on a wall shorter than that).
fn wall_bearing(wall: &Wall, c: f64) -> f64 {
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
fn beside_wall(wall: &Wall, c: f64, offset_m: f64) -> LatLon {
    let on_wall = wall.position_at(c);
    destination(on_wall, wall_bearing(wall, c) + 90.0, offset_m)
}

fn wrap_lon(lon: f64) -> f64 {
    if (-180.0..=180.0).contains(&lon) {
        lon
    } else {
        (lon + 180.0).rem_euclid(360.0) - 180.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::camera::{CameraPipeline, CameraSettings};
    use crate::config::{CameraConfig, ThermalConfig};
    use crate::evidence::Evidence;
    use crate::time::Timestamp;

    /// Metres per degree along the equator.
    const M_PER_DEG: f64 = 111_195.08;
    const RATE_HZ: f64 = 9.0;

    /// The equator test wall (1° long, 1000 m segments).
    fn wall() -> Arc<Wall> {
        Arc::new(
            Wall::from_vertices(vec![LatLon::new(0.0, 0.0), LatLon::new(0.0, 1.0)], 1000.0)
                .unwrap(),
        )
    }

    /// A camera 150 m south of the wall at lon 0.05°, looking north at it.
    fn camera() -> CameraConfig {
        CameraConfig {
            id: "cam-1".into(),
            lat: -150.0 / M_PER_DEG,
            lon: 0.05,
            height_m: 10.0,
            heading_deg: 0.0,
            tilt_deg: 5.0,
            hfov_deg: 30.0,
            vfov_deg: 22.5,
            delta_t_k: None,
            gate_min_c: None,
            gate_max_c: None,
            min_extent_m: None,
            max_extent_m: None,
            k: None,
            n: None,
        }
    }

    fn mount() -> Mount {
        CameraSettings::resolve(&camera(), &ThermalConfig::default()).mount
    }

    /// A scenario with these `[[objects]]` (TOML) and seed 5.
    fn scenario(objects: &str) -> Scenario {
        let text = format!("seed = 5\n{objects}");
        Scenario::parse("t.toml", &text, &HashSet::new()).expect("valid scenario")
    }

    fn settings(width: u32, height: u32) -> SceneSettings {
        SceneSettings {
            width,
            height,
            ..SceneSettings::from_scenario(&scenario(""))
        }
    }

    /// Settings without noise, dead pixels or background rocks.
    fn quiet(width: u32, height: u32) -> SceneSettings {
        SceneSettings {
            noise_k: 0.0,
            dead_pixels: 0,
            sun_rocks: 0,
            ..settings(width, height)
        }
    }

    fn person_at(position: LatLon, contrast_k: f64) -> ObjectState {
        ObjectState {
            kind: ObjectKind::Person,
            position,
            altitude_m: 0.0,
            bearing_deg: 90.0,
            size: ObjectKind::Person.size(),
            contrast_k,
        }
    }

    fn t(frame: u32) -> Timestamp {
        Timestamp(1_770_000_000_000 + (f64::from(frame) * 1000.0 / RATE_HZ) as i64)
    }

    /// Runs `frames` frames of `scenario` through the daemon's pipeline;
    /// returns the evidence with the frame each came from, and how many
    /// blobs the kernel found in all.
    fn through_the_daemon(scenario: &Scenario, frames: u32) -> (Vec<(u32, Evidence)>, u32) {
        let world = World::new(scenario, wall());
        let mut scene = CameraScene::new("cam-1", mount(), settings(640, 512)).unwrap();
        let settings = CameraSettings::resolve(&camera(), &ThermalConfig::default());
        let mut pipeline = CameraPipeline::new(settings, wall());
        let mut states = Vec::new();
        let mut out = Vec::new();
        let mut blobs = 0;
        for i in 0..frames {
            let t_s = f64::from(i) / RATE_HZ;
            world.states_at(t_s, &mut states);
            let frame = scene.render(i, t_s, &states);
            let (evidence, stats) = pipeline.process(frame, Some(t(i)), t(i));
            out.extend(evidence.into_iter().map(|e| (i, e)));
            blobs += stats.blobs;
        }
        (out, blobs)
    }

    #[test]
    fn the_same_seed_renders_the_same_frames() {
        let person = [person_at(LatLon::new(0.0, 0.05), 8.0)];
        let frame = |seed: u64| {
            let s = SceneSettings {
                seed,
                ..settings(320, 240)
            };
            let mut scene = CameraScene::new("cam-1", mount(), s).unwrap();
            scene.render(7, 1.5, &person).to_owned()
        };
        assert_eq!(frame(5), frame(5));
        assert_ne!(frame(5), frame(6));
        // Another frame of the same scene has other noise.
        let mut scene = CameraScene::new("cam-1", mount(), settings(320, 240)).unwrap();
        let a = scene.render(1, 0.0, &[]).to_owned();
        let b = scene.render(2, 0.0, &[]).to_owned();
        assert_ne!(a, b);
    }

    #[test]
    fn a_person_appears_where_the_camera_model_projects_it() {
        let mut scene = CameraScene::new("cam-1", mount(), quiet(640, 512)).unwrap();
        let empty = scene.render(0, 0.0, &[]).to_owned();
        let foot = LatLon::new(0.0, 0.0501);
        let frame = scene.render(0, 0.0, &[person_at(foot, 8.0)]).to_owned();
        let (u, v) = scene.model().project(foot, 0.0).unwrap();
        let diff: Vec<(usize, usize, i32)> = frame
            .indexed_iter()
            .map(|((y, x), &p)| (y, x, i32::from(p) - i32::from(empty[(y, x)])))
            .filter(|&(_, _, d)| d.abs() > 50)
            .collect();
        assert!(!diff.is_empty());
        let bottom = diff.iter().map(|d| d.0).max().unwrap() as f64;
        let left = diff.iter().map(|d| d.1).min().unwrap() as f64;
        let right = diff.iter().map(|d| d.1).max().unwrap() as f64;
        // The lowest painted row holds the foot; the columns straddle it.
        assert!(
            (bottom + 0.5 - v).abs() <= 1.5,
            "bottom row {bottom}, foot v {v}"
        );
        assert!(
            ((left + right + 1.0) / 2.0 - u).abs() <= 1.0,
            "{left}..{right}, u {u}"
        );
        // 1.75 m at 150 m is about 15 rows with fy = 1287 px.
        let rows = bottom - diff.iter().map(|d| d.0).min().unwrap() as f64 + 1.0;
        assert!((13.0..=17.0).contains(&rows), "{rows} rows");
        // Fully covered pixels carry the contrast (± the terrain's texture).
        let peak = diff.iter().map(|d| d.2).max().unwrap();
        assert!((peak - 800).abs() <= 30, "peak contrast {peak} counts");
        // A colder-than-ground person is painted colder.
        let cold = scene.render(0, 0.0, &[person_at(foot, -5.0)]).to_owned();
        let lowest = cold
            .iter()
            .zip(empty.iter())
            .map(|(&a, &b)| i32::from(a) - i32::from(b))
            .min()
            .unwrap();
        assert!((lowest + 500).abs() <= 30, "{lowest}");
    }

    #[test]
    fn objects_behind_the_camera_or_beyond_the_horizon_are_not_drawn() {
        let mut scene = CameraScene::new("cam-1", mount(), quiet(320, 240)).unwrap();
        let empty = scene.render(0, 0.0, &[]).to_owned();
        let behind = person_at(LatLon::new(-0.01, 0.05), 8.0);
        let far = person_at(LatLon::new(0.5, 0.05), 8.0);
        assert!(project_box(scene.model(), &behind).is_none());
        assert!(project_box(scene.model(), &far).is_none());
        assert_eq!(scene.render(0, 0.0, &[behind, far]).to_owned(), empty);
    }

    #[test]
    fn sensor_noise_is_about_five_counts() {
        let mut noisy = CameraScene::new("cam-1", mount(), settings(640, 512)).unwrap();
        let mut clean = CameraScene::new(
            "cam-1",
            mount(),
            SceneSettings {
                noise_k: 0.0,
                ..settings(640, 512)
            },
        )
        .unwrap();
        let a = noisy.render(3, 0.0, &[]).to_owned();
        let b = clean.render(3, 0.0, &[]).to_owned();
        let diffs: Vec<f64> = a
            .iter()
            .zip(b.iter())
            .filter(|(&x, _)| x != 0)
            .map(|(&x, &y)| f64::from(x) - f64::from(y))
            .collect();
        let n = diffs.len() as f64;
        let mean = diffs.iter().sum::<f64>() / n;
        let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((sd - 5.0).abs() < 0.25, "sd {sd}");
        // The dead pixels are 0 in every frame, and only they are.
        let dead = a.iter().filter(|&&p| p == 0).count();
        assert!((3..=noisy.settings().dead_pixels).contains(&dead), "{dead}");
        assert_eq!(
            noisy
                .render(4, 0.0, &[])
                .iter()
                .filter(|&&p| p == 0)
                .count(),
            dead
        );
    }

    #[test]
    fn the_terrain_is_warmer_near_the_camera_and_the_sky_colder() {
        let mut scene = CameraScene::new("cam-1", mount(), quiet(640, 512)).unwrap();
        let frame = scene.render(0, 0.0, &[]).to_owned();
        let row_mean = |r: usize| frame.row(r).iter().map(|&p| f64::from(p)).sum::<f64>() / 640.0;
        let (top, bottom) = (row_mean(5), row_mean(505));
        let horizon_row = (0..512)
            .find(|&r| scene.model().ground_point(320.5, r as f64 + 0.5).is_some())
            .unwrap();
        let ground = row_mean(horizon_row + 20);
        assert!(top < ground - 1000.0, "sky {top} vs ground {ground}");
        assert!(bottom > ground, "near {bottom} vs far {ground}");
        // The ground near 20 °C, in centikelvin.
        assert!((29_015.0..29_515.0).contains(&bottom), "{bottom}");
        // Diurnal drift: 0.5 K an hour.
        let later = scene.render(0, 3600.0, &[]).to_owned();
        assert_eq!(
            i32::from(later[(400, 300)]) - i32::from(frame[(400, 300)]),
            50
        );
    }

    #[test]
    fn a_rock_warms_over_its_duration_and_stays_warm() {
        let s = scenario(
            "[[objects]]\nat = \"0s\"\nkind = \"rock\"\nchainage_m = 5559.75\n\
             offset_m = 20.0\nduration = \"10m\"\ncontrast_k = 6.0\n",
        );
        let world = World::new(&s, wall());
        let rock = &world.objects()[0];
        let contrast = |t: f64| rock.state_at(world.wall(), t).unwrap().contrast_k;
        assert_eq!(contrast(0.0), 0.0);
        assert!((contrast(300.0) - 3.0).abs() < 1e-9);
        assert_eq!(contrast(600.0), 6.0);
        assert_eq!(contrast(5000.0), 6.0);
        let mut scene = CameraScene::new("cam-1", mount(), quiet(640, 512)).unwrap();
        let mut states = Vec::new();
        let mut at = |t: f64| {
            world.states_at(t, &mut states);
            let b = project_box(scene.model(), &states[0]).unwrap();
            let (u, v) = ((b.u0 + b.u1) / 2.0, (b.v0 + b.v1) / 2.0);
            let frame = scene.render(0, t, &states);
            f64::from(frame[(v as usize, u as usize)])
        };
        let (start, half, done) = (at(0.0), at(300.0), at(600.0));
        let drift = 0.5 * 100.0 / 3600.0;
        assert!(
            (half - start - 300.0 - 300.0 * drift).abs() < 2.0,
            "{start} {half}"
        );
        assert!(
            (done - start - 600.0 - 600.0 * drift).abs() < 2.0,
            "{start} {done}"
        );
    }

    #[test]
    fn a_bird_moves_many_pixels_per_frame() {
        let s = scenario(
            "[[objects]]\nat = \"0s\"\nkind = \"bird\"\nchainage_m = 5540.0\n\
             offset_m = 100.0\nheading = \"along_wall\"\nduration = \"4s\"\n",
        );
        let world = World::new(&s, wall());
        let model = CameraModel::new(mount(), 640, 512).unwrap();
        let mut us = Vec::new();
        for i in 0..36 {
            let state = world.objects()[0].state_at(world.wall(), f64::from(i) / RATE_HZ);
            let state = state.unwrap();
            assert_eq!(state.altitude_m, 8.0);
            if let Some(b) = project_box(&model, &state).filter(|b| b.area_in(640, 512) > 0.0) {
                us.push((b.u0 + b.u1) / 2.0);
            }
        }
        assert!(
            (3..=30).contains(&us.len()),
            "in view in {} frames",
            us.len()
        );
        for pair in us.windows(2) {
            assert!(pair[1] - pair[0] > 25.0, "{us:?}");
        }
    }

    #[test]
    fn a_rendered_frame_round_trips_through_the_codecs() {
        let mut scene = CameraScene::new("cam-1", mount(), settings(320, 240)).unwrap();
        let frame = scene
            .render(42, 2.0, &[person_at(LatLon::new(0.0, 0.05), 8.0)])
            .to_owned();
        let limits = crate::frame::FrameLimits::default();
        let rtf1 = crate::frame::encode_rtf1(frame.view(), 42, 1_770_000_000_123);
        let back = crate::frame::decode(&rtf1, &limits).unwrap();
        assert_eq!(back.pixels, frame);
        assert_eq!(
            (back.seq, back.capture_ms),
            (Some(42), Some(1_770_000_000_123))
        );
        let png = crate::frame::encode_png(frame.view());
        assert_eq!(crate::frame::decode(&png, &limits).unwrap().pixels, frame);
    }

    #[test]
    fn defaults_come_from_the_kind_and_crossover() {
        let text = "[[objects]]\nat = \"1s\"\nkind = \"person\"\nchainage_m = 10.0\n\
                    [[objects]]\nat = \"1s\"\nobject = \"vehicle\"\nchainage_m = 10.0\n";
        let normal = World::new(&scenario(text), wall());
        let crossover = World::new(&scenario(&format!("crossover = true\n{text}")), wall());
        let (p, v) = (&normal.objects()[0], &normal.objects()[1]);
        assert!((6.0..=10.0).contains(&p.contrast_k) && p.speed_m_s == 1.4);
        assert!(v.contrast_k == 15.0 && v.speed_m_s == 8.0);
        assert!((0.2..=1.0).contains(&crossover.objects()[0].contrast_k));
        assert_eq!(crossover.objects()[1].contrast_k, 15.0);
        // Gone after its duration (30 s by default).
        assert!(p.state_at(normal.wall(), 30.9).is_some());
        assert!(p.state_at(normal.wall(), 31.0).is_none());
        assert!(p.state_at(normal.wall(), 0.9).is_none());
    }

    #[test]
    fn headings_move_objects_over_the_wall_along_it_or_on_a_bearing() {
        let w = wall();
        let at = |heading: &str, offset: f64, speed: f64, t: f64| {
            let s = scenario(&format!(
                "[[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 5000.0\n\
                 offset_m = {offset}\nheading = {heading}\nspeed_m_s = {speed}\n"
            ));
            let world = World::new(&s, w.clone());
            let p = world.objects()[0].state_at(&w, t).unwrap().position;
            let located = w.locate(p);
            // Positive: south of the equator wall, its right side.
            (located.chainage_m, p.lat * M_PER_DEG)
        };
        let (c, north) = at("\"towards_wall\"", 30.0, 1.5, 10.0);
        assert!((c - 5000.0).abs() < 0.01 && (north + 15.0).abs() < 0.01);
        let (_, north) = at("\"towards_wall\"", 30.0, 1.5, 29.0);
        assert!((north - 13.5).abs() < 0.01, "crossed over: {north}");
        let (_, north) = at("\"away_from_wall\"", -10.0, 1.0, 10.0);
        assert!((north - 20.0).abs() < 0.01);
        let (c, north) = at("\"along_wall\"", 10.0, -2.0, 10.0);
        assert!((c - 4980.0).abs() < 0.01 && (north + 10.0).abs() < 0.01);
        let (c, north) = at("90", 0.0, 1.0, 10.0);
        assert!((c - 5010.0).abs() < 0.01 && north.abs() < 0.01);
    }

    #[test]
    fn cameras_that_see_an_object_are_named() {
        let s = scenario(
            "[[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 5559.75\n\
             offset_m = -5.0\nheading = \"along_wall\"\n\
             [[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 20000.0\n\
             [[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 5500.0\n\
             heading = \"along_wall\"\n",
        );
        let world = World::new(&s, wall());
        let cams = vec![(
            "cam-1".to_owned(),
            CameraModel::new(mount(), 640, 512).unwrap(),
        )];
        let seen = world.seen_by(0, &cams);
        assert_eq!((seen.at_start.len(), seen.during.len()), (1, 1));
        assert_eq!(world.seen_by(1, &cams), Seen::default());
        // Starts out of view (60 m left at 150 m, where the view is 40 m
        // either side), walks 42 m into it.
        let seen = world.seen_by(2, &cams);
        assert!(
            seen.at_start.is_empty() && seen.during == ["cam-1"],
            "{seen:?}"
        );
    }

    // The contract with the daemon: rendered frames through the real
    // camera pipeline.

    #[test]
    fn the_daemon_places_a_walking_person_at_its_chainage() {
        let s = scenario(
            "[[objects]]\nat = \"1s\"\nkind = \"person\"\nchainage_m = 5550.0\n\
             heading = \"along_wall\"\nspeed_m_s = 1.4\n",
        );
        let (evidence, _) = through_the_daemon(&s, 90);
        assert!(evidence.len() >= 5, "{} pieces of evidence", evidence.len());
        for (i, ev) in &evidence {
            let truth = 5550.0 + 1.4 * (f64::from(*i) / RATE_HZ - 1.0);
            assert!(
                (ev.chainage_m - truth).abs() <= 10.0,
                "{} vs {truth}",
                ev.chainage_m
            );
            let cam = ev.camera.as_ref().unwrap();
            assert!((cam.range_m - 150.0).abs() < 10.0, "{cam:?}");
            assert!((6.0..=10.5).contains(&cam.contrast_k), "{cam:?}");
        }
    }

    #[test]
    fn the_daemon_ignores_a_crossing_bird() {
        let s = scenario(
            "[[objects]]\nat = \"1s\"\nkind = \"bird\"\nchainage_m = 5540.0\n\
             offset_m = 100.0\nheading = \"along_wall\"\nduration = \"4s\"\n",
        );
        let (evidence, blobs) = through_the_daemon(&s, 60);
        assert!(evidence.is_empty(), "{evidence:?}");
        assert!(
            blobs >= 3,
            "the bird was seen in a few frames ({blobs} blobs)"
        );
    }

    #[test]
    fn the_daemon_ignores_a_rock_warming_over_minutes() {
        // 8 K over 3 minutes, watched for 3.5 minutes at 9 Hz.
        let s = scenario(
            "[[objects]]\nat = \"1s\"\nkind = \"rock\"\nchainage_m = 5560.0\n\
             duration = \"3m\"\ncontrast_k = 8.0\n",
        );
        let (evidence, _) = through_the_daemon(&s, 1890);
        assert!(evidence.is_empty(), "{evidence:?}");
    }

    /// Rough cost of a 640 × 512 frame; run with
    /// `cargo test --release --lib render_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn render_speed() {
        let s = scenario(
            "[[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 5550.0\n\
             [[objects]]\nat = \"0s\"\nkind = \"vehicle\"\nchainage_m = 5570.0\n",
        );
        let world = World::new(&s, wall());
        let started = std::time::Instant::now();
        let mut scene = CameraScene::new("cam-1", mount(), settings(640, 512)).unwrap();
        let setup = started.elapsed();
        let mut states = Vec::new();
        let frames = 500;
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for i in 0..frames {
            let t_s = f64::from(i) / RATE_HZ;
            world.states_at(t_s, &mut states);
            bytes += scene.render(i, t_s, &states)[(300, 300)] as usize;
        }
        let render = started.elapsed() / frames;
        let frame = scene.render(0, 0.0, &states).to_owned();
        let started = std::time::Instant::now();
        for i in 0..50 {
            bytes += crate::frame::encode_rtf1(frame.view(), i, 0).len();
        }
        let rtf1 = started.elapsed() / 50;
        let started = std::time::Instant::now();
        for _ in 0..20 {
            bytes += crate::frame::encode_png(frame.view()).len();
        }
        let png = started.elapsed() / 20;
        println!(
            "640x512: scene setup {setup:?}, render {render:?}/frame, \
             encode RTF1 {rtf1:?}, PNG {png:?} ({bytes})"
        );
    }
}
