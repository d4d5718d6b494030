//! The synthetic scenes shared by the kernel benchmarks (`kernel.rs`) and
//! the OpenCV comparison (`compare.rs`), so both time the same frames.

use ndarray::Array2;

pub const W: usize = 640;
pub const H: usize = 512;
pub const BASE: u16 = 29_300;

/// xorshift64: deterministic frames on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A gradient background, and a frame with 5 counts of noise and `fraction`
/// of its pixels in warm (+800) or cold (−500) rectangles, or salt noise
/// (+800); then `dead` dead pixels (0).
pub fn scene(fraction: f64, salt: bool, seed: u64, dead: usize) -> (Array2<u16>, Array2<u16>) {
    let mut rng = Rng(seed | 1);
    let bg = Array2::from_shape_fn((H, W), |(y, x)| BASE + (y / 8) as u16 + (x / 16) as u16);
    let mut frame = bg.mapv(|v| v + (rng.next() % 11) as u16 - 5);
    let target = (fraction * (W * H) as f64) as usize;
    let mut painted = 0;
    if salt {
        while painted < target {
            let i = (rng.next() as usize) % (W * H);
            frame.as_slice_mut().expect("standard layout")[i] += 800;
            painted += 1;
        }
    } else {
        while painted < target {
            let (bw, bh) = (
                4 + (rng.next() % 12) as usize,
                6 + (rng.next() % 20) as usize,
            );
            let (x0, y0) = (
                (rng.next() as usize) % (W - bw),
                (rng.next() as usize) % (H - bh),
            );
            let delta: i32 = if rng.next().is_multiple_of(3) {
                -500
            } else {
                800
            };
            for y in y0..y0 + bh {
                for x in x0..x0 + bw {
                    frame[(y, x)] = (i32::from(bg[(y, x)]) + delta) as u16;
                }
            }
            painted += bw * bh;
        }
    }
    for _ in 0..dead {
        let i = (rng.next() as usize) % (W * H);
        frame.as_slice_mut().expect("standard layout")[i] = 0;
    }
    (bg, frame)
}

/// One read pass over the frame: a sum in 16 lanes, which the compiler
/// vectorises, so the pass is bound by memory, not arithmetic.
pub fn floor(px: &[u16]) -> u32 {
    let mut lanes = [0u32; 16];
    for chunk in px.chunks_exact(16) {
        for (l, &v) in lanes.iter_mut().zip(chunk) {
            *l = l.wrapping_add(u32::from(v));
        }
    }
    lanes.iter().fold(0, |a, &l| a.wrapping_add(l))
}
