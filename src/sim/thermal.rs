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
//! - **Rain and dust** ([`super::weather`]): every difference to the ground
//!   temperature is scaled down by `1 − 0.85 · intensity` and the noise up
//!   by `1 + intensity` ([`CameraScene::render_in`]).
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

use ndarray::{Array2, ArrayView2};

pub use super::projection::{in_view, project_box, PixelBox};
use super::rng::Rng;
use super::scenario::{ObjectKind, Scenario};
use super::weather::Visibility;
pub use super::world::{ObjectState, SceneObject, Seen, Size, World};
use crate::camera::geometry::{CameraModel, GeometryError, Mount};

/// Centikelvin per kelvin, and 0 °C in centikelvin.
const CK_PER_K: f64 = 100.0;
const ZERO_C_CK: f64 = 27_315.0;
/// Entries in each camera's table of noise samples (indexed by 16 bits).
const NOISE_TABLE: usize = 1 << 16;

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
        self.render_in(seq, t_s, objects, Visibility::CLEAR)
    }

    /// Like [`CameraScene::render`], seen through rain or dust: every
    /// temperature difference to the ground is scaled by
    /// `visibility.contrast` and the noise by `visibility.noise` (see
    /// [`super::weather`]). Clear air renders exactly as `render`.
    pub fn render_in(
        &mut self,
        seq: u32,
        t_s: f64,
        objects: &[ObjectState],
        visibility: Visibility,
    ) -> ArrayView2<'_, u16> {
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
        if visibility == Visibility::CLEAR {
            for (o4, s4) in out.chunks_mut(4).zip(self.scratch.chunks(4)) {
                let mut bits = rng.next_u64();
                for (o, &s) in o4.iter_mut().zip(s4) {
                    let n = self.noise[(bits & 0xffff) as usize];
                    bits >>= 16;
                    // `as` saturates; 0 is kept for dead pixels.
                    *o = (s + drift + f32::from(n) + 0.5).clamp(1.0, 65_535.0) as u16;
                }
            }
        } else {
            // Painting blends linearly, so scaling the differences to the
            // ground afterwards scales every painted contrast alike.
            let ground = (self.settings.ground_c * CK_PER_K + ZERO_C_CK) as f32;
            let contrast = visibility.contrast.clamp(0.0, 1.0) as f32;
            let noise = visibility.noise.clamp(0.0, 10.0) as f32;
            for (o4, s4) in out.chunks_mut(4).zip(self.scratch.chunks(4)) {
                let mut bits = rng.next_u64();
                for (o, &s) in o4.iter_mut().zip(s4) {
                    let n = self.noise[(bits & 0xffff) as usize];
                    bits >>= 16;
                    let v = ground + (s - ground) * contrast + drift + f32::from(n) * noise;
                    *o = (v + 0.5).clamp(1.0, 65_535.0) as u16;
                }
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

#[cfg(test)]
#[path = "thermal_tests.rs"]
mod tests;
