//! Kernel tests on small hand-made frames, plus checks of the fast paths
//! against plain reference implementations.

use ndarray::Array2;
use proptest::prelude::*;

use super::track::{TrackParams, Tracker};
use super::*;

const BASE: u16 = 29_000;

fn params(delta_t: u16) -> KernelParams {
    KernelParams {
        delta_t,
        ..KernelParams::default()
    }
}

/// A kernel seeded with a flat frame, then fed `frame`.
fn blobs_of(frame: &Array2<u16>, delta_t: u16) -> Vec<Blob> {
    let (h, w) = frame.dim();
    let mut k = Kernel::new(w, h, params(delta_t));
    k.process(Array2::from_elem((h, w), BASE).view(), &[]);
    k.process(frame.view(), &[]).to_vec()
}

fn flat(h: usize, w: usize) -> Array2<u16> {
    Array2::from_elem((h, w), BASE)
}

fn paint(
    f: &mut Array2<u16>,
    rows: std::ops::RangeInclusive<usize>,
    cols: std::ops::RangeInclusive<usize>,
    v: u16,
) {
    for y in rows {
        for x in cols.clone() {
            f[(y, x)] = v;
        }
    }
}

#[test]
fn a_three_by_three_hot_square() {
    let mut f = flat(10, 12);
    paint(&mut f, 4..=6, 5..=7, BASE + 500);
    f[(5, 6)] = BASE + 800;
    let b = blobs_of(&f, 300);
    assert_eq!(b.len(), 1);
    let b = b[0];
    assert_eq!(b.area, 9);
    assert_eq!(
        b.bbox,
        BBox {
            x0: 5,
            y0: 4,
            x1: 7,
            y1: 6
        }
    );
    assert_eq!((b.cx, b.cy), (6.5, 5.5));
    assert_eq!((b.t_min, b.t_max), (BASE + 500, BASE + 800));
    assert!((b.t_mean - (f64::from(BASE) + (8.0 * 500.0 + 800.0) / 9.0)).abs() < 1e-9);
    assert_eq!(b.bg_mean, f64::from(BASE));
    assert_eq!(b.foot(), (6.5, 7.0));
    assert!(b.contrast() > 0.0);
}

#[test]
fn diagonal_neighbours_are_one_blob_and_a_gap_makes_two() {
    let mut f = flat(8, 8);
    f[(1, 1)] = BASE + 500;
    f[(2, 2)] = BASE + 500;
    f[(3, 1)] = BASE + 500; // touches (2,2) diagonally too
    let b = blobs_of(&f, 300);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].area, 3);
    let mut g = flat(8, 8);
    g[(1, 1)] = BASE + 500;
    g[(1, 3)] = BASE + 500;
    g[(3, 1)] = BASE + 500;
    assert_eq!(blobs_of(&g, 300).len(), 3);
}

#[test]
fn a_cold_blob_is_found_with_negative_contrast() {
    let mut f = flat(10, 10);
    paint(&mut f, 2..=4, 2..=3, BASE - 400);
    let b = blobs_of(&f, 300);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].area, 6);
    assert_eq!(b[0].t_max, BASE - 400);
    assert!(b[0].contrast() < -399.0);
}

#[test]
fn differences_below_delta_t_are_not_hot() {
    let mut f = flat(6, 6);
    f[(2, 2)] = BASE + 299;
    f[(3, 3)] = BASE - 299;
    assert!(blobs_of(&f, 300).is_empty());
    f[(2, 2)] = BASE + 300;
    assert_eq!(blobs_of(&f, 300).len(), 1, "exactly ΔT counts");
}

#[test]
fn dead_pixels_are_ignored() {
    let mut f = flat(8, 8);
    paint(&mut f, 2..=4, 2..=4, BASE + 600);
    f[(3, 3)] = 0; // dead pixel inside the warm block
    f[(6, 6)] = 0; // dead pixel alone: a huge difference, but not hot
    let b = blobs_of(&f, 300);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].area, 8);
    assert_eq!(
        b[0].t_min,
        BASE + 600,
        "the dead pixel's 0 is not a temperature"
    );
}

#[test]
fn blobs_on_the_border_and_across_word_boundaries() {
    // 130 columns: two full 64-bit words and a 2-pixel tail.
    let mut f = flat(5, 130);
    paint(&mut f, 0..=1, 120..=129, BASE + 500); // top-right corner, crosses into the tail word
    paint(&mut f, 4..=4, 0..=129, BASE + 500); // the whole bottom row
    paint(&mut f, 2..=2, 60..=70, BASE + 500); // across the first word boundary
    let b = blobs_of(&f, 300);
    assert_eq!(b.len(), 3, "{b:?}");
    let bottom = b.iter().find(|b| b.bbox.y0 == 4).unwrap();
    assert_eq!((bottom.area, bottom.bbox.x0, bottom.bbox.x1), (130, 0, 129));
    let corner = b.iter().find(|b| b.bbox.y0 == 0).unwrap();
    assert_eq!(
        (corner.area, corner.bbox),
        (
            20,
            BBox {
                x0: 120,
                y0: 0,
                x1: 129,
                y1: 1
            }
        )
    );
    let middle = b.iter().find(|b| b.bbox.y0 == 2).unwrap();
    assert_eq!((middle.area, middle.bbox.x0, middle.bbox.x1), (11, 60, 70));
}

#[test]
fn a_row_full_of_hot_pixels_at_a_multiple_of_64() {
    let mut f = flat(3, 128);
    paint(&mut f, 1..=1, 0..=127, BASE + 500);
    let b = blobs_of(&f, 300);
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].area, b[0].bbox.x1), (128, 127));
}

#[test]
fn gates_drop_hot_pixels_outside_the_absolute_range() {
    let mut f = flat(8, 8);
    f[(1, 1)] = BASE + 500;
    f[(5, 5)] = BASE + 3000;
    let mut k = Kernel::new(
        8,
        8,
        KernelParams {
            delta_t: 300,
            gate_min: Some(BASE + 1000),
            gate_max: Some(BASE + 5000),
            ..KernelParams::default()
        },
    );
    k.process(flat(8, 8).view(), &[]);
    let b = k.process(f.view(), &[]);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].bbox.x0, 5);
}

#[test]
fn the_background_learns_slow_drift_but_not_a_frozen_or_hot_object() {
    let (h, w) = (16, 64);
    let p = KernelParams {
        delta_t: 300,
        background_shift: 3,
        background_stripes: 2,
        ..KernelParams::default()
    };
    let mut k = Kernel::new(w, h, p);
    k.process(flat(h, w).view(), &[]);
    // The whole scene warms by 2 counts a frame: 200 frames later it is
    // 400 counts warmer, yet never hot, because the background follows.
    for i in 1..=200u16 {
        let b = k
            .process(Array2::from_elem((h, w), BASE + 2 * i).view(), &[])
            .len();
        assert_eq!(b, 0, "frame {i}");
    }
    // A warm object in a frozen box stays hot for good; one outside the
    // box is learned, slowly (hot pixels adapt 16 times slower).
    let frozen = BBox {
        x0: 0,
        y0: 0,
        x1: 9,
        y1: 15,
    };
    let mut f = Array2::from_elem((h, w), BASE + 400);
    paint(&mut f, 4..=8, 2..=5, BASE + 1400);
    paint(&mut f, 4..=8, 40..=43, BASE + 1400);
    let before = k.background()[(6, 3)];
    let mut last = Vec::new();
    for _ in 0..2000 {
        last = k.process(f.view(), &[frozen]).to_vec();
    }
    assert_eq!(
        last.len(),
        1,
        "only the frozen object is still hot: {last:?}"
    );
    assert_eq!(last[0].bbox.x0, 2);
    let bg = k.background();
    assert_eq!(bg[(6, 3)], before, "frozen pixels keep their background");
    assert!(
        bg[(6, 20)].abs_diff(BASE + 400) <= 1,
        "the rest follows the scene"
    );
    assert!(
        bg[(6, 41)] > BASE + 1100,
        "hot pixels outside are learned in the end"
    );
}

#[test]
fn the_spec_test_frame_shows_its_three_targets() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/frames/test-frame.rtf1"
    ))
    .unwrap();
    let (w, h) = (640, 512);
    let pixels: Vec<u16> = bytes[32..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let frame = Array2::from_shape_vec((h, w), pixels).unwrap();
    // A background without the targets: each target pixel replaced by the
    // pixel 20 columns to its left (the gradient is gentle).
    let mut bg = frame.clone();
    for (rows, cols) in [
        (300..=309, 200..=203),
        (100..=105, 500..=505),
        (50..=50, 50..=50),
    ] {
        for y in rows {
            for x in cols.clone() {
                bg[(y, x)] = frame[(y, x - 20)];
            }
        }
    }
    let mut k = Kernel::new(w, h, params(200));
    k.process(bg.view(), &[]);
    let mut blobs = k.process(frame.view(), &[]).to_vec();
    blobs.sort_by_key(|b| std::cmp::Reverse(b.area));
    assert_eq!(blobs.len(), 3, "{blobs:?}");
    assert_eq!(
        (blobs[0].area, blobs[0].bbox),
        (
            40,
            BBox {
                x0: 200,
                y0: 300,
                x1: 203,
                y1: 309
            }
        )
    );
    assert!(
        (blobs[0].contrast() - 800.0).abs() < 50.0,
        "8 K warmer: {}",
        blobs[0].contrast()
    );
    assert_eq!(
        (blobs[1].area, blobs[1].bbox),
        (
            36,
            BBox {
                x0: 500,
                y0: 100,
                x1: 505,
                y1: 105
            }
        )
    );
    assert!(
        (blobs[1].contrast() + 400.0).abs() < 50.0,
        "4 K colder: {}",
        blobs[1].contrast()
    );
    assert_eq!(
        (blobs[2].area, blobs[2].bbox),
        (
            1,
            BBox {
                x0: 50,
                y0: 50,
                x1: 50,
                y1: 50
            }
        )
    );
}

/// Reference labelling: flood fill on a grid of booleans.
fn reference_blobs(hot: &Array2<bool>) -> Vec<(u32, BBox, f64, f64)> {
    let (h, w) = hot.dim();
    let mut seen = Array2::from_elem((h, w), false);
    let mut out = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if !hot[(y, x)] || seen[(y, x)] {
                continue;
            }
            let mut stack = vec![(y, x)];
            seen[(y, x)] = true;
            let (mut n, mut sx, mut sy) = (0u32, 0.0, 0.0);
            let mut bb = BBox {
                x0: x as u32,
                y0: y as u32,
                x1: x as u32,
                y1: y as u32,
            };
            while let Some((cy, cx)) = stack.pop() {
                n += 1;
                sx += cx as f64 + 0.5;
                sy += cy as f64 + 0.5;
                bb.x0 = bb.x0.min(cx as u32);
                bb.x1 = bb.x1.max(cx as u32);
                bb.y0 = bb.y0.min(cy as u32);
                bb.y1 = bb.y1.max(cy as u32);
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let (ny, nx) = (cy as i64 + dy, cx as i64 + dx);
                        if ny < 0 || nx < 0 || ny >= h as i64 || nx >= w as i64 {
                            continue;
                        }
                        let (ny, nx) = (ny as usize, nx as usize);
                        if hot[(ny, nx)] && !seen[(ny, nx)] {
                            seen[(ny, nx)] = true;
                            stack.push((ny, nx));
                        }
                    }
                }
            }
            out.push((n, bb, sx / f64::from(n), sy / f64::from(n)));
        }
    }
    out
}

fn canonical(mut v: Vec<(u32, BBox, f64, f64)>) -> Vec<(u32, u32, u32, u32, u32, i64, i64)> {
    v.sort_by_key(|b| (b.1.y0, b.1.x0, b.0));
    v.into_iter()
        .map(|(n, b, cx, cy)| {
            (
                n,
                b.x0,
                b.y0,
                b.x1,
                b.y1,
                (cx * 1e6).round() as i64,
                (cy * 1e6).round() as i64,
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The SSE2 path and the scalar rule give the same bits, for any width.
    #[test]
    fn threshold_matches_the_scalar_rule(w in 1usize..200, h in 1usize..6, seed in any::<u64>(), dt in 1u16..2000) {
        let mut s = seed | 1;
        let mut next = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
        let px: Vec<u16> = (0..w * h).map(|_| match next() % 10 { 0 => 0, 1 => u16::MAX, _ => 28_000 + (next() % 4000) as u16 }).collect();
        let bg: Vec<u16> = (0..w * h).map(|_| if next() % 20 == 0 { 0 } else { 28_000 + (next() % 4000) as u16 }).collect();
        let wpr = w.div_ceil(64);
        let mut mask = vec![0u64; wpr * h];
        threshold::threshold(&px, &bg, w, dt, &mut mask);
        for y in 0..h {
            for x in 0..w.div_ceil(64) * 64 {
                let bit = (mask[y * wpr + x / 64] >> (x % 64)) & 1 == 1;
                let want = x < w && { let (p, b) = (px[y * w + x], bg[y * w + x]); p != 0 && b != 0 && p.abs_diff(b) >= dt };
                prop_assert_eq!(bit, want, "x {} y {}", x, y);
            }
        }
    }

    /// The run-based labeller finds the same blobs as a flood fill.
    #[test]
    fn labelling_matches_a_flood_fill(w in 1usize..150, h in 1usize..40, seed in any::<u64>(), density in 1u64..60) {
        let mut s = seed | 1;
        let mut next = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
        let hot = Array2::from_shape_fn((h, w), |_| next() % 100 < density);
        let frame = hot.mapv(|on| if on { BASE + 1000 } else { BASE });
        let got: Vec<(u32, BBox, f64, f64)> = blobs_of(&frame, 300).iter().map(|b| (b.area, b.bbox, b.cx, b.cy)).collect();
        prop_assert_eq!(canonical(got), canonical(reference_blobs(&hot)));
    }
}

fn blob_at(cx: f64, cy: f64) -> Blob {
    Blob {
        area: 9,
        bbox: BBox {
            x0: cx as u32 - 1,
            y0: cy as u32 - 1,
            x1: cx as u32 + 1,
            y1: cy as u32 + 1,
        },
        cx,
        cy,
        t_min: BASE,
        t_max: BASE,
        t_mean: f64::from(BASE),
        bg_mean: f64::from(BASE),
    }
}

#[test]
fn a_blob_seen_in_k_of_n_frames_near_one_place_is_confirmed() {
    let mut t = Tracker::new(TrackParams {
        k: 3,
        n: 5,
        radius_px: 10.0,
    });
    let seen = |t: &mut Tracker, blobs: &[Blob]| -> Vec<bool> {
        let tracks = t.update(blobs).to_vec();
        tracks.iter().map(|tr| t.is_confirmed(tr)).collect()
    };
    assert_eq!(seen(&mut t, &[blob_at(50.0, 50.0)]), [false]);
    assert_eq!(seen(&mut t, &[]), [false]);
    assert_eq!(seen(&mut t, &[blob_at(53.0, 51.0)]), [false]);
    assert_eq!(
        seen(&mut t, &[blob_at(56.0, 52.0)]),
        [true],
        "3 of the last 4 frames, moving slowly"
    );
    // Unseen for 5 frames: the track ends.
    for _ in 0..4 {
        seen(&mut t, &[]);
    }
    assert!(t.update(&[]).is_empty());
}

#[test]
fn single_frame_noise_and_a_fast_bird_are_never_confirmed() {
    let mut t = Tracker::new(TrackParams {
        k: 3,
        n: 5,
        radius_px: 10.0,
    });
    for i in 0..10 {
        // Noise: a blob somewhere new every other frame.
        let noise = if i % 2 == 0 {
            vec![blob_at(20.0 + 37.0 * f64::from(i), 80.0)]
        } else {
            vec![]
        };
        // A bird: 40 px a frame across the view.
        let bird = blob_at(10.0 + 40.0 * f64::from(i), 20.0);
        let tracks = t.update(&[noise, vec![bird]].concat()).to_vec();
        assert!(tracks.iter().all(|tr| !t.is_confirmed(tr)), "frame {i}");
    }
}
