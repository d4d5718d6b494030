//! The hot-spot kernel: per camera, per frame, find the groups of pixels
//! whose temperature differs from a slowly adapting background by at least
//! ΔT, warmer *or* colder, and measure each group.
//!
//! Pure code on `ndarray` views: no tokio, no I/O, no allocation per frame
//! once warmed up. The stages, each usable alone (the benchmarks time them
//! one by one):
//!
//! 1. [`threshold`]: one pass over frame and background that writes a bit
//!    mask, 64 pixels a word (SSE2 on x86-64, a scalar loop elsewhere). Dead
//!    pixels (0) and pixels with no background yet are never hot.
//! 2. optional absolute gates, applied to the hot pixels only;
//! 3. [`label`]: 8-connected components of the mask, found on runs of set
//!    bits (so the cost follows the number of runs, not of pixels), with
//!    area, bounding box, centroid and min/max/mean temperature per blob;
//! 4. [`background`]: a running mean in fixed point, updated on one stripe of
//!    rows per frame. Pixels that are hot adapt 16 times slower, and pixels
//!    inside the boxes the caller asks to freeze (blobs it is tracking as
//!    evidence) do not adapt at all, so a person standing still is not
//!    learned into the background while detected.
//!
//! Persistence (a blob seen in k of the last n frames near the same place)
//! is [`track`]'s job, after the caller has filtered blobs by their size in
//! metres.

pub mod background;
pub mod label;
pub mod threshold;
pub mod track;

use ndarray::ArrayView2;

pub use label::{Blob, Labeller};

/// A rectangle of pixels, inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BBox {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

/// The kernel's parameters, in the frame's units (centikelvin counts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelParams {
    /// A pixel is hot when |pixel − background| ≥ this. Must be ≥ 1.
    pub delta_t: u16,
    /// Optional absolute gates: a hot pixel counts only if its temperature
    /// is within `[gate_min, gate_max]`.
    pub gate_min: Option<u16>,
    pub gate_max: Option<u16>,
    /// The running mean moves by 2^-shift of the difference per update.
    pub background_shift: u8,
    /// The frame's rows are split into this many stripes; one stripe is
    /// updated per frame. The background's time constant is about
    /// `stripes × 2^shift` frames.
    pub background_stripes: u32,
}

impl Default for KernelParams {
    fn default() -> Self {
        Self {
            delta_t: 300,
            gate_min: None,
            gate_max: None,
            background_shift: 3,
            background_stripes: 32,
        }
    }
}

/// One camera's kernel state: the background, the mask and the labeller's
/// buffers, all sized for one frame size.
#[derive(Debug, Clone)]
pub struct Kernel {
    params: KernelParams,
    width: usize,
    height: usize,
    words_per_row: usize,
    background: background::Background,
    mask: Vec<u64>,
    labeller: Labeller,
    frames: u64,
}

impl Kernel {
    /// A kernel for frames of `width` × `height` pixels.
    pub fn new(width: usize, height: usize, params: KernelParams) -> Self {
        let words_per_row = width.div_ceil(64);
        Self {
            params,
            width,
            height,
            words_per_row,
            background: background::Background::new(width, height, params.background_stripes),
            mask: vec![0; words_per_row * height],
            labeller: Labeller::default(),
            frames: 0,
        }
    }

    /// Frame width and height this kernel is sized for.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The parameters in use.
    pub fn params(&self) -> &KernelParams {
        &self.params
    }

    /// Changes the parameters (the background is kept).
    pub fn set_params(&mut self, params: KernelParams) {
        self.params = params;
        self.background.set_stripes(params.background_stripes);
    }

    /// Frames processed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Takes `frame` as the background (a scene learnt some other way, e.g.
    /// a median over time), replacing what was learnt.
    ///
    /// # Panics
    ///
    /// If the frame's shape is not the kernel's.
    pub fn seed_background(&mut self, frame: ArrayView2<'_, u16>) {
        assert_eq!(frame.dim(), (self.height, self.width), "frame size changed");
        let pixels: Vec<u16> = frame.iter().copied().collect();
        self.background.seed(&pixels);
    }

    /// Processes one frame (shape `(height, width)`, standard layout or
    /// not): threshold both ways, gates, labelling, then the background
    /// update of this frame's stripe, leaving the boxes in `frozen` alone.
    /// Returns the blobs in raster order of their first pixel. The first frame only seeds the
    /// background and finds nothing.
    ///
    /// # Panics
    ///
    /// If the frame's shape is not the kernel's (the caller builds one
    /// kernel per frame size).
    pub fn process(&mut self, frame: ArrayView2<'_, u16>, frozen: &[BBox]) -> &[Blob] {
        assert_eq!(frame.dim(), (self.height, self.width), "frame size changed");
        let owned;
        let pixels: &[u16] = match frame.as_slice() {
            Some(s) => s,
            None => {
                owned = frame.iter().copied().collect::<Vec<u16>>();
                &owned
            }
        };
        self.frames += 1;
        if !self.background.is_seeded() {
            self.background.seed(pixels);
            self.labeller.clear();
            return self.labeller.blobs();
        }
        threshold::threshold(
            pixels,
            self.background.values(),
            self.width,
            self.params.delta_t,
            &mut self.mask,
        );
        if self.params.gate_min.is_some() || self.params.gate_max.is_some() {
            threshold::apply_gates(
                pixels,
                self.width,
                self.params.gate_min.unwrap_or(0),
                self.params.gate_max.unwrap_or(u16::MAX),
                &mut self.mask,
            );
        }
        self.labeller.label(
            &self.mask,
            self.words_per_row,
            self.width,
            self.height,
            pixels,
            self.background.values(),
        );
        self.background.update_stripe(
            pixels,
            &self.mask,
            self.words_per_row,
            self.params.background_shift,
            frozen,
        );
        self.labeller.blobs()
    }

    /// The current background (centikelvin; 0 where not known yet).
    pub fn background(&self) -> ArrayView2<'_, u16> {
        ArrayView2::from_shape((self.height, self.width), self.background.values())
            .expect("background has the kernel's shape")
    }

    /// The last frame's hot mask, as bits: row `y`'s words start at
    /// `y × words_per_row`; bit `x % 64` of word `x / 64` is pixel `x`.
    pub fn mask(&self) -> (&[u64], usize) {
        (&self.mask, self.words_per_row)
    }
}

#[cfg(test)]
mod tests;
