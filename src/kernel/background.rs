//! Stage 4: the background, a running mean per pixel in fixed point (8
//! fractional bits), updated on one stripe of rows per frame.
//!
//! The comparison in [`super::threshold`] reads only the rounded `u16`
//! values, so the per-frame pass stays at two `u16` streams; the
//! higher-precision accumulator is touched for one stripe per frame. Each
//! pixel of the stripe moves by 2^-shift of its difference; hot pixels by
//! 2^-(shift + 4) (a stationary warm object is learned over many minutes, a
//! passing one is not); pixels in frozen boxes not at all; dead pixels keep
//! their value; a pixel without a background yet takes the frame's value.

use super::BBox;

/// How much slower hot pixels adapt, as a power of two.
pub const HOT_SLOWDOWN_SHIFT: u8 = 4;

/// Per-pixel background.
#[derive(Debug, Clone)]
pub struct Background {
    width: usize,
    height: usize,
    values: Vec<u16>,
    acc: Vec<u32>,
    stripes: u32,
    next: u32,
    seeded: bool,
}

impl Background {
    /// An empty background; the first frame seeds it.
    pub fn new(width: usize, height: usize, stripes: u32) -> Self {
        Self {
            width,
            height,
            values: vec![0; width * height],
            acc: vec![0; width * height],
            stripes: stripes.max(1),
            next: 0,
            seeded: false,
        }
    }

    /// Changes the number of stripes.
    pub fn set_stripes(&mut self, stripes: u32) {
        self.stripes = stripes.max(1);
        self.next %= self.stripes;
    }

    /// True once a frame has seeded it.
    pub fn is_seeded(&self) -> bool {
        self.seeded
    }

    /// The rounded values (centikelvin; 0 = unknown).
    pub fn values(&self) -> &[u16] {
        &self.values
    }

    /// Takes a frame as the background.
    pub fn seed(&mut self, pixels: &[u16]) {
        self.values.copy_from_slice(pixels);
        for (a, &p) in self.acc.iter_mut().zip(pixels) {
            *a = u32::from(p) << 8;
        }
        self.seeded = true;
    }

    /// Updates the next stripe of rows from `pixels`, with `mask` (the hot
    /// bits of this frame) and the `frozen` boxes.
    pub fn update_stripe(
        &mut self,
        pixels: &[u16],
        mask: &[u64],
        words_per_row: usize,
        shift: u8,
        frozen: &[BBox],
    ) {
        let rows_per_stripe = self.height.div_ceil(self.stripes as usize);
        let first = self.next as usize * rows_per_stripe;
        let last = (first + rows_per_stripe).min(self.height);
        self.next = (self.next + 1) % self.stripes;
        let shift = u32::from(shift.min(15));
        for y in first..last {
            let row = y * self.width;
            for (w, &word) in mask[y * words_per_row..(y + 1) * words_per_row]
                .iter()
                .enumerate()
            {
                let x0 = w * 64;
                let len = (self.width - x0).min(64);
                let mut keep = [false; 64];
                for b in frozen
                    .iter()
                    .filter(|b| b.y0 as usize <= y && y <= b.y1 as usize)
                {
                    let lo = (b.x0 as usize).max(x0);
                    let hi = (b.x1 as usize + 1).min(x0 + len);
                    for k in keep
                        .iter_mut()
                        .take(hi.saturating_sub(x0))
                        .skip(lo.saturating_sub(x0))
                    {
                        *k = true;
                    }
                }
                let range = row + x0..row + x0 + len;
                update_chunk(
                    &pixels[range.clone()],
                    &mut self.acc[range.clone()],
                    &mut self.values[range],
                    word,
                    &keep,
                    shift,
                );
            }
        }
    }
}

/// Up to 64 pixels of one row, branch-free so the compiler vectorises it:
/// the per-pixel choices (hot, unknown, dead, frozen) are masks.
fn update_chunk(
    px: &[u16],
    acc: &mut [u32],
    values: &mut [u16],
    hot: u64,
    keep: &[bool; 64],
    shift: u32,
) {
    let n = px.len().min(64);
    let mut hot_mask = [0i32; 64];
    let mut skip_mask = [0i32; 64];
    for i in 0..64 {
        hot_mask[i] = -(((hot >> i) & 1) as i32);
        skip_mask[i] = -i32::from(keep[i]);
    }
    let slow_shift = shift + u32::from(HOT_SLOWDOWN_SHIFT);
    for i in 0..n {
        let p = i32::from(px[i]);
        let a = acc[i] as i32;
        let diff = (p << 8) - a;
        let fast = diff >> shift;
        let slow = diff >> slow_shift;
        let m = hot_mask[i];
        let mut d = (slow & m) | (fast & !m);
        // No background yet: take the pixel as it is.
        let unknown = -i32::from(a == 0);
        d = (diff & unknown) | (d & !unknown);
        // Dead or frozen: leave it.
        let skip = -i32::from(p == 0) | skip_mask[i];
        d &= !skip;
        let next = a + d;
        acc[i] = next as u32;
        values[i] = ((next + 128) >> 8) as u16;
    }
}
