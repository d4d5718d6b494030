//! Thermal cameras: one [`CameraPipeline`] per camera turns its frames into
//! intrusion evidence placed on the wall.
//!
//! Per frame: the [`kernel`](crate::kernel) finds blobs that differ from the
//! background; each blob's foot point is projected to the ground
//! ([`geometry`]), giving range, bearing and position, and its size in
//! metres; blobs cut by the frame's border (their size cannot be judged),
//! outside the configured size range, shaped like a large four-legged
//! animal seen from the side, above the horizon or too far from the wall
//! are dropped; the tracker keeps the rest, and a blob
//! seen in k of the last n frames near one place becomes evidence at the
//! nearest chainage (at most once per `evidence_interval` per track), unless
//! it moves over the ground faster than its size allows (a bird in flight:
//! its "foot" projects far beyond it, so it seems to race). Boxes
//! of tracked blobs are frozen in the background, so a person who stops is
//! not learned away while detected.
//!
//! A camera first learns its scene: [`WARMUP_SAMPLES`] frames, one every
//! [`WARMUP_SAMPLE_EVERY`], whose pixel-wise median becomes the background,
//! so what moved through the view at start-up leaves no ghost. No evidence
//! meanwhile.
//!
//! Once a second it also measures the scene's spread (2nd to 98th
//! percentile temperature over a sparse grid of pixels). Rain, dust, fog and
//! thermal crossover wash a scene out; when the spread stays under
//! `min_scene_contrast_k` for `low_contrast_after` the camera reports low
//! contrast (its segments become `degraded`: people may be invisible), and
//! reports it restored once the spread stays above 1.25 times that for as
//! long. Pure: no tokio, no I/O.

pub mod geometry;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{CameraConfig, ThermalConfig};
use crate::evidence::{CameraObservation, Evidence, EvidenceKind};
use crate::kernel::track::{TrackParams, Tracker};
use crate::kernel::{BBox, Blob, Kernel, KernelParams};
use crate::time::Timestamp;
use crate::wall::{LatLon, Wall};
use geometry::{CameraModel, GroundHit, Mount};

/// Frames sampled to learn a camera's scene before it gives evidence, at
/// start and whenever the frame size changes: the background starts as
/// their pixel-wise median, so something moving through the view at
/// start-up (a camel walking by) is not learnt, and leaves no ghost when it
/// goes on.
pub const WARMUP_SAMPLES: usize = 9;
/// The time between two warm-up samples: the warm-up lasts about
/// `(WARMUP_SAMPLES - 1) ×` this. Anything that stays on one pixel for less
/// than half of it (a crawler at 0.3 m/s stays 6 s) is not learnt.
pub const WARMUP_SAMPLE_EVERY: Duration = Duration::from_millis(1500);

/// The shortest track history over which a ground speed is judged.
pub const MIN_SPEED_SPAN: Duration = Duration::from_millis(150);

/// Centikelvin per kelvin, and 0 °C in centikelvin.
const CK_PER_K: f64 = 100.0;
const ZERO_C_CK: f64 = 27_315.0;

/// One camera's settings, resolved from `[thermal]` and its `[[camera]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSettings {
    pub id: String,
    pub mount: Mount,
    pub kernel: KernelParams,
    pub track: TrackParams,
    pub min_extent_m: f64,
    pub max_extent_m: f64,
    pub max_wall_offset_m: f64,
    pub evidence_interval: Duration,
    pub max_speed_m_s: f64,
    pub max_vehicle_speed_m_s: f64,
    pub vehicle_extent_m: f64,
    pub large_animal_min_length_m: f64,
    pub large_animal_max_aspect: f64,
    /// Scene spread below which the camera reports low contrast, centikelvin
    /// (0: never).
    pub min_scene_spread_ck: u16,
    pub low_contrast_after: Duration,
}

impl CameraSettings {
    /// Camera `cam` with the defaults of `thermal`.
    pub fn resolve(cam: &CameraConfig, thermal: &ThermalConfig) -> Self {
        let to_ck = |c: f64| ((c * CK_PER_K) + ZERO_C_CK).round().clamp(1.0, 65_535.0) as u16;
        let frames = thermal.background_frames.max(1);
        let stripes = frames.min(32);
        let shift = (f64::from(frames) / f64::from(stripes))
            .log2()
            .round()
            .clamp(0.0, 11.0) as u8;
        Self {
            id: cam.id.clone(),
            mount: Mount::from_config(cam),
            kernel: KernelParams {
                delta_t: (cam.delta_t_k.unwrap_or(thermal.delta_t_k) * CK_PER_K)
                    .round()
                    .clamp(1.0, 65_535.0) as u16,
                gate_min: cam.gate_min_c.or(thermal.gate_min_c).map(to_ck),
                gate_max: cam.gate_max_c.or(thermal.gate_max_c).map(to_ck),
                background_shift: shift,
                background_stripes: stripes,
            },
            track: TrackParams {
                k: cam.k.unwrap_or(thermal.k),
                n: cam.n.unwrap_or(thermal.n),
                radius_px: thermal.track_radius_px,
            },
            min_extent_m: cam.min_extent_m.unwrap_or(thermal.min_extent_m),
            max_extent_m: cam.max_extent_m.unwrap_or(thermal.max_extent_m),
            max_wall_offset_m: thermal.max_wall_offset_m,
            evidence_interval: thermal.evidence_interval,
            max_speed_m_s: thermal.max_speed_m_s,
            max_vehicle_speed_m_s: thermal.max_vehicle_speed_m_s,
            vehicle_extent_m: thermal.vehicle_extent_m,
            large_animal_min_length_m: thermal.large_animal_min_length_m,
            large_animal_max_aspect: thermal.large_animal_max_aspect,
            min_scene_spread_ck: (thermal.min_scene_contrast_k * CK_PER_K)
                .round()
                .clamp(0.0, 65_535.0) as u16,
            low_contrast_after: thermal.low_contrast_after,
        }
    }
}

/// Why a blob was not used (counted by the caller).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Blobs the kernel found.
    pub blobs: u32,
    /// Dropped: foot point at or above the horizon.
    pub above_horizon: u32,
    /// Dropped: smaller or larger than the size range in metres.
    pub wrong_size: u32,
    /// Dropped: ground point too far from the wall.
    pub off_wall: u32,
    /// Dropped: cut by the frame's border, so its size cannot be judged.
    pub at_edge: u32,
    /// Dropped: the shape of a large four-legged animal.
    pub animal_shape: u32,
    /// Kept for tracking.
    pub kept: u32,
    /// Confirmed tracks held back: faster over the ground than their size allows.
    pub too_fast: u32,
    /// The scene's spread, centikelvin, when it was measured this frame.
    pub scene_spread_ck: Option<u16>,
    /// The camera was still learning its scene: no evidence yet.
    pub warming_up: bool,
    /// `Some(true)` when the camera just lost its contrast, `Some(false)`
    /// when it just got it back.
    pub low_contrast: Option<bool>,
}

/// How often a camera reports the animals it saw.
pub const ANIMAL_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// How often the scene's spread is measured.
pub const CONTRAST_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Watches a camera's scene spread, with hysteresis in level and time.
#[derive(Debug, Default)]
struct ContrastWatch {
    last_check: Option<Timestamp>,
    low: bool,
    /// Since when the spread has been on the other side of the limit.
    crossing_since: Option<Timestamp>,
}

impl ContrastWatch {
    /// Feeds one measurement; returns the new state when it changes.
    fn observe(
        &mut self,
        spread_ck: u16,
        min_ck: u16,
        after: Duration,
        now: Timestamp,
    ) -> Option<bool> {
        let other_side = if self.low {
            u32::from(spread_ck) * 4 >= u32::from(min_ck) * 5
        } else {
            spread_ck < min_ck
        };
        if !other_side {
            self.crossing_since = None;
            return None;
        }
        let since = *self.crossing_since.get_or_insert(now);
        if now.since(since) < after {
            return None;
        }
        self.low = !self.low;
        self.crossing_since = None;
        Some(self.low)
    }
}

/// The spread of a frame: 98th minus 2nd percentile over every 4th pixel of
/// every 4th row, centikelvin.
pub fn scene_spread_ck(pixels: ndarray::ArrayView2<'_, u16>) -> u16 {
    let mut sample: Vec<u16> = pixels
        .slice(ndarray::s![..;4, ..;4])
        .iter()
        .copied()
        .collect();
    if sample.is_empty() {
        return 0;
    }
    let n = sample.len();
    let (lo_i, hi_i) = (n * 2 / 100, (n * 98 / 100).min(n - 1));
    let hi = *sample.select_nth_unstable(hi_i).1;
    let lo = *sample[..=hi_i].select_nth_unstable(lo_i).1;
    hi.saturating_sub(lo)
}

/// A blob that passed the filters, with where it is.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    blob: Blob,
    hit: GroundHit,
    chainage_m: f64,
    wall_offset_m: f64,
    width_m: f64,
    height_m: f64,
}

/// One camera's state: kernel, geometry, tracks.
#[derive(Debug)]
pub struct CameraPipeline {
    settings: CameraSettings,
    wall: Arc<Wall>,
    kernel: Option<Kernel>,
    model: Option<CameraModel>,
    tracker: Tracker,
    /// Per track id: the sighting last frame and when it last gave evidence.
    sightings: HashMap<u64, Sighting>,
    last_evidence: HashMap<u64, Timestamp>,
    /// Per track id: where and when it was first seen on the ground.
    first_seen: HashMap<u64, (LatLon, Timestamp)>,
    frozen: Vec<BBox>,
    contrast: ContrastWatch,
    /// Frames sampled to learn the scene; `None` once it is learnt.
    warmup: Option<Warmup>,
    /// Chainages of animals seen since they were last taken.
    animals: Vec<f64>,
    animals_taken: Option<Timestamp>,
}

/// The frames sampled so far to learn a camera's scene.
#[derive(Debug, Default)]
struct Warmup {
    samples: Vec<ndarray::Array2<u16>>,
    last: Option<Timestamp>,
}

impl Warmup {
    /// Takes the frame if a sample is due; returns the learnt scene (the
    /// pixel-wise median) once there are enough.
    fn offer(
        &mut self,
        pixels: ndarray::ArrayView2<'_, u16>,
        now: Timestamp,
    ) -> Option<ndarray::Array2<u16>> {
        if self
            .last
            .is_some_and(|t| now.since(t) < WARMUP_SAMPLE_EVERY)
        {
            return None;
        }
        self.last = Some(now);
        self.samples.push(pixels.to_owned());
        if self.samples.len() < WARMUP_SAMPLES {
            return None;
        }
        let mut column = [0u16; WARMUP_SAMPLES];
        Some(ndarray::Array2::from_shape_fn(pixels.dim(), |at| {
            for (c, s) in column.iter_mut().zip(&self.samples) {
                *c = s[at];
            }
            column.sort_unstable();
            column[WARMUP_SAMPLES / 2]
        }))
    }
}

impl CameraPipeline {
    /// A pipeline for one camera; kernel and geometry are sized on the
    /// first frame.
    pub fn new(settings: CameraSettings, wall: Arc<Wall>) -> Self {
        let tracker = Tracker::new(settings.track);
        Self {
            settings,
            wall,
            kernel: None,
            model: None,
            tracker,
            sightings: HashMap::new(),
            last_evidence: HashMap::new(),
            first_seen: HashMap::new(),
            frozen: Vec::new(),
            contrast: ContrastWatch::default(),
            warmup: Some(Warmup::default()),
            animals: Vec::new(),
            animals_taken: None,
        }
    }

    /// Where on the wall animals (blobs too small for a person, or shaped
    /// like a large four-legged animal) were seen since the last call, at
    /// most once per [`ANIMAL_REPORT_INTERVAL`], rounded to 10 m and
    /// without repeats; empty in between. Fusion uses them to explain weak
    /// fence and ground evidence at the same place.
    pub fn take_animal_sightings(&mut self, now: Timestamp) -> Vec<f64> {
        if self.animals.is_empty()
            || self
                .animals_taken
                .is_some_and(|t| now.since(t) < ANIMAL_REPORT_INTERVAL)
        {
            return Vec::new();
        }
        self.animals_taken = Some(now);
        let mut out: Vec<f64> = self
            .animals
            .drain(..)
            .map(|c| (c / 10.0).round() * 10.0)
            .collect();
        out.sort_by(f64::total_cmp);
        out.dedup();
        out
    }

    /// The camera's id.
    pub fn id(&self) -> &str {
        &self.settings.id
    }

    /// The settings in use.
    pub fn settings(&self) -> &CameraSettings {
        &self.settings
    }

    /// Takes new settings (a config reload or a profile change) without
    /// losing what the camera has learned: the background and the tracks
    /// stay; only a changed mounting starts the geometry (and the tracks,
    /// whose ground points it placed) over.
    pub fn reconfigure(&mut self, settings: CameraSettings) {
        if let Some(kernel) = self.kernel.as_mut() {
            kernel.set_params(settings.kernel);
        }
        if settings.mount != self.settings.mount {
            self.model = self.kernel.as_ref().and_then(|k| {
                let (w, h) = k.size();
                CameraModel::new(settings.mount, w as u32, h as u32).ok()
            });
            self.tracker = Tracker::new(settings.track);
            self.sightings.clear();
            self.last_evidence.clear();
            self.first_seen.clear();
            self.frozen.clear();
        } else if settings.track != self.settings.track {
            self.tracker.set_params(settings.track);
        }
        self.settings = settings;
    }

    /// Processes one frame received at `now` (captured at `captured`, if
    /// the frame says); returns the evidence it gives and what was dropped.
    pub fn process(
        &mut self,
        pixels: ndarray::ArrayView2<'_, u16>,
        captured: Option<Timestamp>,
        now: Timestamp,
    ) -> (Vec<Evidence>, FrameStats) {
        let (h, w) = pixels.dim();
        if self.kernel.as_ref().map(Kernel::size) != Some((w, h)) {
            // New camera or new resolution: start over.
            self.kernel = Some(Kernel::new(w, h, self.settings.kernel));
            self.model = CameraModel::new(self.settings.mount, w as u32, h as u32).ok();
            self.tracker = Tracker::new(self.settings.track);
            self.sightings.clear();
            self.last_evidence.clear();
            self.first_seen.clear();
            self.frozen.clear();
            self.warmup = Some(Warmup::default());
        }
        let (Some(kernel), Some(model)) = (self.kernel.as_mut(), self.model.as_ref()) else {
            return (Vec::new(), FrameStats::default());
        };
        if let Some(warmup) = self.warmup.as_mut() {
            if let Some(scene) = warmup.offer(pixels, now) {
                kernel.seed_background(scene.view());
                self.warmup = None;
            }
            let stats = FrameStats {
                warming_up: true,
                ..FrameStats::default()
            };
            return (Vec::new(), stats);
        }
        let blobs = kernel.process(pixels, &self.frozen);
        let mut stats = FrameStats {
            blobs: blobs.len() as u32,
            ..FrameStats::default()
        };
        let min_spread = self.settings.min_scene_spread_ck;
        let check_due = self
            .contrast
            .last_check
            .is_none_or(|t| now.since(t) >= CONTRAST_CHECK_INTERVAL);
        if min_spread > 0 && check_due {
            let spread = scene_spread_ck(pixels);
            self.contrast.last_check = Some(now);
            stats.scene_spread_ck = Some(spread);
            stats.low_contrast =
                self.contrast
                    .observe(spread, min_spread, self.settings.low_contrast_after, now);
        }
        let mut kept: Vec<Sighting> = Vec::new();
        for blob in blobs {
            match sight(blob, model, &self.wall, &self.settings) {
                Ok(s) => kept.push(s),
                Err(Drop::Horizon) => stats.above_horizon += 1,
                Err(Drop::Size) => stats.wrong_size += 1,
                Err(Drop::OffWall) => stats.off_wall += 1,
                Err(Drop::Edge) => stats.at_edge += 1,
                Err(Drop::Animal(chainage_m, large)) => {
                    if large {
                        stats.animal_shape += 1;
                        self.animals.push(chainage_m);
                    } else {
                        stats.wrong_size += 1;
                    }
                }
            }
        }
        stats.kept = kept.len() as u32;
        // Largest first: the tracker gives them first pick of the tracks.
        kept.sort_by_key(|s| std::cmp::Reverse(s.blob.area));
        let kept_blobs: Vec<Blob> = kept.iter().map(|s| s.blob).collect();
        let tracks = self.tracker.update(&kept_blobs).to_vec();
        let mut evidence = Vec::new();
        self.frozen.clear();
        let live: std::collections::HashSet<u64> = tracks.iter().map(|t| t.id).collect();
        self.sightings.retain(|id, _| live.contains(id));
        self.last_evidence.retain(|id, _| live.contains(id));
        self.first_seen.retain(|id, _| live.contains(id));
        for t in &tracks {
            if t.seen_now {
                if let Some(s) = kept.iter().find(|s| s.blob == t.blob) {
                    self.sightings.insert(t.id, *s);
                    self.first_seen.entry(t.id).or_insert((s.hit.position, now));
                }
            }
            if !self.tracker.is_confirmed(t) {
                continue;
            }
            self.frozen.push(t.blob.bbox);
            let due = self
                .last_evidence
                .get(&t.id)
                .is_none_or(|last| now.since(*last) >= self.settings.evidence_interval);
            if let (true, true, Some(s)) = (t.seen_now, due, self.sightings.get(&t.id)) {
                match self.ground_speed(t.id, s, now) {
                    // Too early to tell how fast it moves: wait a frame.
                    None => continue,
                    Some(speed) if speed > self.speed_limit(s) => {
                        stats.too_fast += 1;
                        continue;
                    }
                    Some(_) => {}
                }
                self.last_evidence.insert(t.id, now);
                evidence.push(self.evidence(s, t.hits(), captured, now));
            }
        }
        (evidence, stats)
    }

    /// Mean ground speed of a track since it was first seen (m/s); None
    /// until at least [`MIN_SPEED_SPAN`] has passed.
    fn ground_speed(&self, track: u64, s: &Sighting, now: Timestamp) -> Option<f64> {
        let (first, since) = self.first_seen.get(&track)?;
        let span = now.since(*since);
        (span >= MIN_SPEED_SPAN).then(|| first.distance_m(s.hit.position) / span.as_secs_f64())
    }

    fn speed_limit(&self, s: &Sighting) -> f64 {
        if s.width_m.max(s.height_m) >= self.settings.vehicle_extent_m {
            self.settings.max_vehicle_speed_m_s
        } else {
            self.settings.max_speed_m_s
        }
    }

    fn evidence(
        &self,
        s: &Sighting,
        hits: u32,
        captured: Option<Timestamp>,
        now: Timestamp,
    ) -> Evidence {
        let contrast_k = s.blob.contrast() / CK_PER_K;
        let threshold_k = f64::from(self.settings.kernel.delta_t) / CK_PER_K;
        let kind = if contrast_k >= 0.0 { "warm" } else { "cold" };
        Evidence {
            sensor: self.settings.id.clone(),
            kind: EvidenceKind::Thermal,
            at: now,
            chainage_m: s.chainage_m,
            extent_m: 0.0,
            value: contrast_k.abs(),
            threshold: threshold_k,
            detail: format!(
                "{kind} blob {:.1} x {:.1} m, {:+.1} K, at {:.0} m bearing {:.0}, {}/{} frames",
                s.width_m,
                s.height_m,
                contrast_k,
                s.hit.range_m,
                s.hit.bearing_deg,
                hits,
                self.settings.track.n
            ),
            camera: Some(CameraObservation {
                range_m: round(s.hit.range_m, 1),
                bearing_deg: round(s.hit.bearing_deg, 2),
                lat: s.hit.position.lat,
                lon: s.hit.position.lon,
                wall_offset_m: round(s.wall_offset_m, 1),
                width_m: round(s.width_m, 2),
                height_m: round(s.height_m, 2),
                contrast_k: round(contrast_k, 2),
                captured,
                vehicle: s.width_m.max(s.height_m) >= self.settings.vehicle_extent_m,
            }),
        }
    }
}

enum Drop {
    Horizon,
    Size,
    OffWall,
    Edge,
    /// An animal at this chainage; `true` for a large one.
    Animal(f64, bool),
}

/// Blobs smaller than `min_extent_m` but at least this big (metres) are
/// small animals (counted as wrong size); smaller ones are noise.
pub const SMALL_ANIMAL_MIN_M: f64 = 0.4;
/// A large four-legged animal is at least half as tall as it is long; a
/// crawling person (1.7 m long, 0.4 m high) is not one.
pub const LARGE_ANIMAL_MIN_ASPECT: f64 = 0.5;

/// Places a blob on the ground and checks its size and distance from the wall.
fn sight(
    blob: &Blob,
    model: &CameraModel,
    wall: &Wall,
    settings: &CameraSettings,
) -> Result<Sighting, Drop> {
    let (w, h) = model.image_size();
    let b = blob.bbox;
    if b.x0 == 0 || b.y0 == 0 || b.x1 + 1 >= w || b.y1 + 1 >= h {
        return Err(Drop::Edge);
    }
    let (u, v) = blob.foot();
    let hit = model.ground_point(u, v).ok_or(Drop::Horizon)?;
    let (mx, my) = model.metres_per_pixel(hit.slant_m);
    let (wpx, hpx) = blob.size_px();
    let (width_m, height_m) = (f64::from(wpx) * mx, f64::from(hpx) * my);
    let extent = width_m.max(height_m);
    if extent > settings.max_extent_m {
        return Err(Drop::Size);
    }
    let located = wall.locate(hit.position);
    if located.offset_m > settings.max_wall_offset_m {
        return Err(Drop::OffWall);
    }
    if extent < settings.min_extent_m {
        // A small animal (a dog, a fox), or noise.
        return Err(if extent >= SMALL_ANIMAL_MIN_M {
            Drop::Animal(located.chainage_m, false)
        } else {
            Drop::Size
        });
    }
    let animal = settings.large_animal_min_length_m;
    if animal > 0.0
        && width_m >= animal
        && width_m < settings.vehicle_extent_m
        && height_m <= settings.large_animal_max_aspect * width_m
        && height_m >= LARGE_ANIMAL_MIN_ASPECT * width_m
    {
        return Err(Drop::Animal(located.chainage_m, true));
    }
    Ok(Sighting {
        blob: *blob,
        hit,
        chainage_m: located.chainage_m,
        wall_offset_m: located.offset_m,
        width_m,
        height_m,
    })
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

#[cfg(test)]
mod tests;
