//! Persistence: a blob becomes evidence only after it has been seen in `k`
//! of the last `n` frames near the same place, so single-frame noise and a
//! bird crossing the view in a few frames raise nothing.
//!
//! Each frame, blobs (largest first) take the nearest unclaimed track whose
//! last centroid lies within the gate: `radius_px`, or half the blob's
//! bounding-box diagonal if that is larger. Unclaimed blobs start tracks;
//! tracks unseen for `n` frames end.

use super::Blob;

/// Persistence parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackParams {
    /// Frames a blob must be seen in...
    pub k: u32,
    /// ...among the last `n` (at most 64).
    pub n: u32,
    /// How far (pixels) a blob may move between frames and stay the same.
    pub radius_px: f64,
}

impl Default for TrackParams {
    fn default() -> Self {
        Self {
            k: 3,
            n: 5,
            radius_px: 16.0,
        }
    }
}

/// One tracked blob.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Unique within its tracker.
    pub id: u64,
    /// The blob as last seen.
    pub blob: Blob,
    /// Bit i set: seen i frames ago (bit 0 = this frame).
    history: u64,
    /// Seen in this frame.
    pub seen_now: bool,
    /// Frames since the track started.
    pub age: u32,
}

impl Track {
    /// Frames among the last `n` in which it was seen.
    pub fn hits(&self) -> u32 {
        self.history.count_ones()
    }
}

/// The tracks of one camera.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    params: TrackParams,
    tracks: Vec<Track>,
    next_id: u64,
    claimed: Vec<bool>,
}

impl Tracker {
    /// A tracker with these parameters.
    pub fn new(params: TrackParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    /// Changes the parameters, keeping the tracks.
    pub fn set_params(&mut self, params: TrackParams) {
        self.params = params;
    }

    /// Takes this frame's blobs; returns every live track.
    pub fn update(&mut self, blobs: &[Blob]) -> &[Track] {
        let n = self.params.n.clamp(1, 64);
        let window = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        for t in &mut self.tracks {
            t.history = (t.history << 1) & window;
            t.seen_now = false;
            t.age = t.age.saturating_add(1);
        }
        self.claimed.clear();
        self.claimed.resize(self.tracks.len(), false);
        for blob in blobs {
            let (w, h) = blob.size_px();
            let gate = self
                .params
                .radius_px
                .max(0.5 * f64::from(w).hypot(f64::from(h)));
            let nearest = self
                .tracks
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.claimed[*i])
                .map(|(i, t)| (i, (t.blob.cx - blob.cx).hypot(t.blob.cy - blob.cy)))
                .filter(|(_, d)| *d <= gate)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match nearest {
                Some((i, _)) => {
                    self.claimed[i] = true;
                    let t = &mut self.tracks[i];
                    t.blob = *blob;
                    t.history |= 1;
                    t.seen_now = true;
                }
                None => {
                    self.next_id += 1;
                    self.tracks.push(Track {
                        id: self.next_id,
                        blob: *blob,
                        history: 1,
                        seen_now: true,
                        age: 0,
                    });
                    self.claimed.push(true);
                }
            }
        }
        self.tracks.retain(|t| t.history != 0);
        &self.tracks
    }

    /// True when `track` has been seen in at least `k` of the last `n` frames.
    pub fn is_confirmed(&self, track: &Track) -> bool {
        track.hits() >= self.params.k
    }
}
