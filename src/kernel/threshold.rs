//! Stage 1: the two-sided threshold. One pass over the frame and the
//! background writes one bit per pixel: set when both are non-zero (not a
//! dead pixel, background known) and `|pixel − background| ≥ ΔT`.
//!
//! On x86-64 the pass uses SSE2 (part of the x86-64 baseline, so no
//! run-time detection is needed): 8 pixels per instruction, saturating
//! subtractions for the absolute difference, `movemask` to pack the bits.
//! Elsewhere a scalar loop gives the same bits; the tests check they agree.

/// Writes the hot mask of `pixels` against `background` (both row-major,
/// `width` pixels a row) into `mask`, `width.div_ceil(64)` words a row. Bits
/// past the end of a row are 0.
pub fn threshold(pixels: &[u16], background: &[u16], width: usize, delta_t: u16, mask: &mut [u64]) {
    let words_per_row = width.div_ceil(64);
    let rows = pixels.len() / width.max(1);
    debug_assert_eq!(background.len(), pixels.len());
    debug_assert!(mask.len() >= rows * words_per_row);
    let dt = delta_t.max(1);
    for y in 0..rows {
        let px = &pixels[y * width..(y + 1) * width];
        let bg = &background[y * width..(y + 1) * width];
        let out = &mut mask[y * words_per_row..(y + 1) * words_per_row];
        threshold_row(px, bg, dt, out);
    }
}

/// One row. Full 64-pixel words take the fast path; the tail is scalar.
fn threshold_row(px: &[u16], bg: &[u16], dt: u16, out: &mut [u64]) {
    let full = px.len() / 64;
    for (w, word) in out.iter_mut().enumerate().take(full) {
        let p = &px[w * 64..w * 64 + 64];
        let b = &bg[w * 64..w * 64 + 64];
        *word = word64(p, b, dt);
    }
    if full < out.len() {
        out[full] = scalar_bits(&px[full * 64..], &bg[full * 64..], dt);
    }
}

/// The scalar rule for up to 64 pixels.
pub fn scalar_bits(px: &[u16], bg: &[u16], dt: u16) -> u64 {
    let mut bits = 0u64;
    for (i, (&p, &b)) in px.iter().zip(bg).enumerate().take(64) {
        let hot = p != 0 && b != 0 && p.abs_diff(b) >= dt;
        bits |= u64::from(hot) << i;
    }
    bits
}

#[cfg(target_arch = "x86_64")]
fn word64(px: &[u16], bg: &[u16], dt: u16) -> u64 {
    // SAFETY: SSE2 is always available on x86-64; both slices hold exactly
    // 64 elements (checked by the caller's slicing), read unaligned.
    unsafe { sse2::word64(px, bg, dt) }
}

#[cfg(not(target_arch = "x86_64"))]
fn word64(px: &[u16], bg: &[u16], dt: u16) -> u64 {
    scalar_bits(px, bg, dt)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    /// 64 pixels → 64 bits.
    ///
    /// # Safety
    ///
    /// `px` and `bg` must hold at least 64 elements.
    #[inline]
    pub unsafe fn word64(px: &[u16], bg: &[u16], dt: u16) -> u64 {
        debug_assert!(px.len() >= 64 && bg.len() >= 64);
        let zero = _mm_setzero_si128();
        // |p − b| ≥ dt  ⇔  sat(|p − b| − (dt − 1)) ≠ 0
        let dtm1 = _mm_set1_epi16((dt - 1) as i16);
        let mut bits = 0u64;
        for k in 0..4 {
            let mut not_hot = [zero; 2];
            for (h, slot) in not_hot.iter_mut().enumerate() {
                let off = k * 16 + h * 8;
                let p = _mm_loadu_si128(px.as_ptr().add(off) as *const __m128i);
                let b = _mm_loadu_si128(bg.as_ptr().add(off) as *const __m128i);
                let diff = _mm_or_si128(_mm_subs_epu16(p, b), _mm_subs_epu16(b, p));
                let small = _mm_cmpeq_epi16(_mm_subs_epu16(diff, dtm1), zero);
                let dead = _mm_or_si128(_mm_cmpeq_epi16(p, zero), _mm_cmpeq_epi16(b, zero));
                *slot = _mm_or_si128(small, dead);
            }
            // 0xFFFF lanes pack to 0xFF bytes: movemask gives "not hot" bits.
            let packed = _mm_packs_epi16(not_hot[0], not_hot[1]);
            let not_hot_bits = _mm_movemask_epi8(packed) as u32 as u64;
            bits |= (!not_hot_bits & 0xFFFF) << (k * 16);
        }
        bits
    }
}

/// Clears the bits of hot pixels whose temperature lies outside
/// `[min, max]`. Touches only the hot pixels.
pub fn apply_gates(pixels: &[u16], width: usize, min: u16, max: u16, mask: &mut [u64]) {
    let words_per_row = width.div_ceil(64);
    for (i, word) in mask.iter_mut().enumerate() {
        let mut bits = *word;
        if bits == 0 {
            continue;
        }
        let y = i / words_per_row;
        let x0 = (i % words_per_row) * 64;
        let mut keep = bits;
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let p = pixels[y * width + x0 + b];
            if p < min || p > max {
                keep &= !(1u64 << b);
            }
        }
        *word = keep;
    }
}
