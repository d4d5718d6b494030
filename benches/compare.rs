//! The Rust half of the side-by-side comparison of the hot-spot kernel with
//! OpenCV on the same frames. `benches/compare/run.sh` drives it; see
//! `benches/compare/README.md`.
//!
//! - `cargo bench --bench compare -- gen DIR` writes `DIR/frames.bin`: the
//!   background and every frame of every case, generated once, the same way
//!   as `benches/kernel.rs` (plus a few dead pixels per frame).
//! - `cargo bench --bench compare -- run DIR` reads `DIR/frames.bin`, labels
//!   every frame with a fresh kernel (blobs to `DIR/rust_blobs.bin`, hot masks
//!   to `DIR/rust_masks.bin`, per-frame blob counts in `DIR/rust.json`), then
//!   times the whole kernel, its stages and a one-read-pass floor, warm and
//!   cold, and adds the medians to `DIR/rust.json`. Run it pinned to one core
//!   (`taskset -c 0`). It prints no speed-up: the Python half does, after
//!   checking both sides found the same blobs.
//!
//! Without arguments (as `cargo bench` runs every bench target) it prints
//! how to use it and exits.
//!
//! `frames.bin`: a 32-byte header (`RMPCMP01`, then little-endian u32s:
//! width, height, frame count, ΔT, background shift, background stripes),
//! then a 24-byte NUL-padded ASCII name per frame (`bg`, `warm/1%`,
//! `cold/1%/07`, …), then the frames, row-major u16 little-endian, the
//! background first.

use std::fs;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use ndarray::Array2;
use rampart::kernel::{background::Background, threshold, Blob, Kernel, KernelParams, Labeller};

#[path = "common/scene.rs"]
mod scene;
use scene::{floor, H, W};

/// The frames of `benches/kernel.rs`, plus dead pixels to check that rule too.
fn scene(fraction: f64, salt: bool, seed: u64) -> (Array2<u16>, Array2<u16>) {
    scene::scene(fraction, salt, seed, DEAD_PER_FRAME)
}
const DELTA_T: u16 = 300;
/// As in `benches/kernel.rs`: the background adapts so slowly that
/// repeating a frame thousands of times does not teach it the blobs (checked
/// after every loop); the shift is only a number, the work is the same.
const BACKGROUND_SHIFT: u8 = 11;
const BACKGROUND_STRIPES: u32 = 32;
/// Distinct frames per cold case: 64 × 640 KiB = 40 MiB, more than the
/// 32 MiB L3 (+ 2 × 1 MiB L2) of the machine it was written on.
const COLD_FRAMES: usize = 64;
/// Dead pixels (0) per frame, so the comparison checks that rule too.
const DEAD_PER_FRAME: usize = 64;
const MAGIC: &[u8; 8] = b"RMPCMP01";
const HEADER: usize = 32;
const NAME_LEN: usize = 24;

/// Name, hot fraction, salt noise (else rectangles).
const CASES: [(&str, f64, bool); 5] = [
    ("0.1%", 0.001, false),
    ("1%", 0.01, false),
    ("5%", 0.05, false),
    ("25%", 0.25, false),
    ("salt 5%", 0.05, true),
];

/// Time spent measuring each loop, and bounds on its samples.
const LOOP_TIME: Duration = Duration::from_millis(400);
const MIN_SAMPLES: usize = 200;
const MAX_SAMPLES: usize = 20_000;

fn gen(dir: &Path) -> std::io::Result<()> {
    let mut frames: Vec<(String, Array2<u16>)> = Vec::new();
    let (bg, _) = scene(0.0, false, 1);
    frames.push(("bg".into(), bg));
    for (ci, &(name, fraction, salt)) in CASES.iter().enumerate() {
        frames.push((format!("warm/{name}"), scene(fraction, salt, 11).1));
        for i in 0..COLD_FRAMES {
            let seed = 100 + 1000 * ci as u64 + i as u64;
            frames.push((format!("cold/{name}/{i:02}"), scene(fraction, salt, seed).1));
        }
    }
    fs::create_dir_all(dir)?;
    let mut out = BufWriter::new(fs::File::create(dir.join("frames.bin"))?);
    out.write_all(MAGIC)?;
    for v in [
        W as u32,
        H as u32,
        frames.len() as u32,
        u32::from(DELTA_T),
        u32::from(BACKGROUND_SHIFT),
        BACKGROUND_STRIPES,
    ] {
        out.write_all(&v.to_le_bytes())?;
    }
    for (name, _) in &frames {
        let mut field = [0u8; NAME_LEN];
        field[..name.len()].copy_from_slice(name.as_bytes());
        out.write_all(&field)?;
    }
    for (_, f) in &frames {
        for &v in f.iter() {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.flush()?;
    eprintln!(
        "compare gen: {} frames of {W}x{H} ({} MiB) in {}",
        frames.len(),
        (frames.len() * W * H * 2) >> 20,
        dir.join("frames.bin").display()
    );
    Ok(())
}

struct Frames {
    params: KernelParams,
    names: Vec<String>,
    frames: Vec<Array2<u16>>,
}

fn read_frames(dir: &Path) -> Frames {
    let bytes = fs::read(dir.join("frames.bin")).expect("read frames.bin (run `gen` first)");
    assert_eq!(&bytes[..8], MAGIC, "frames.bin: bad magic");
    let u = |i: usize| {
        let o = 8 + 4 * i;
        u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes")) as usize
    };
    let (w, h, count) = (u(0), u(1), u(2));
    assert_eq!((w, h), (W, H), "frames.bin: frame size");
    let params = KernelParams {
        delta_t: u(3) as u16,
        background_shift: u(4) as u8,
        background_stripes: u(5) as u32,
        ..KernelParams::default()
    };
    let names: Vec<String> = (0..count)
        .map(|i| {
            let field = &bytes[HEADER + i * NAME_LEN..HEADER + (i + 1) * NAME_LEN];
            let end = field.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
            String::from_utf8_lossy(&field[..end]).into_owned()
        })
        .collect();
    let data = &bytes[HEADER + count * NAME_LEN..];
    assert_eq!(data.len(), count * w * h * 2, "frames.bin: length");
    let frames = data
        .chunks_exact(w * h * 2)
        .map(|f| {
            let px: Vec<u16> = f
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect();
            Array2::from_shape_vec((h, w), px).expect("frame shape")
        })
        .collect();
    assert_eq!(names[0], "bg", "frames.bin: the background comes first");
    Frames {
        params,
        names,
        frames,
    }
}

/// Times `step` (which returns the durations of its `K` parts) over frames
/// `0..n` in turn: one untimed pass to warm up, then at least `MIN_SAMPLES`
/// calls and `LOOP_TIME`, whole passes, at most `MAX_SAMPLES`. Returns the
/// median of each part in µs, and the number of samples.
fn run_loop<const K: usize>(
    n: usize,
    mut step: impl FnMut(usize) -> [Duration; K],
) -> ([f64; K], usize) {
    for i in 0..n.max(16) {
        step(i % n);
    }
    let mut samples: [Vec<f64>; K] = std::array::from_fn(|_| Vec::new());
    let start = Instant::now();
    let mut i = 0;
    while i < MAX_SAMPLES && (i < MIN_SAMPLES || start.elapsed() < LOOP_TIME || i % n != 0) {
        for (s, d) in samples.iter_mut().zip(step(i % n)) {
            s.push(d.as_secs_f64() * 1e6);
        }
        i += 1;
    }
    let medians = samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        let m = s.len() / 2;
        if s.len() % 2 == 1 {
            s[m]
        } else {
            (s[m - 1] + s[m]) / 2.0
        }
    });
    (medians, i)
}

fn timed<R>(f: impl FnOnce() -> R) -> Duration {
    let t = Instant::now();
    black_box(f());
    t.elapsed()
}

/// Same blobs, except for `bg_mean`: the background drifts by a fraction of
/// a count over thousands of repeats, which moves that mean a little.
fn same_blobs(a: &[Blob], b: &[Blob]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.area, x.bbox, x.cx, x.cy, x.t_min, x.t_max, x.t_mean)
                == (y.area, y.bbox, y.cx, y.cy, y.t_min, y.t_max, y.t_mean)
        })
}

fn run(dir: &Path) -> std::io::Result<()> {
    let Frames {
        params,
        names,
        frames,
    } = read_frames(dir);
    let bg = &frames[0];
    let wpr = W.div_ceil(64);

    // 1. Every frame once, with a fresh kernel seeded with the background:
    //    blobs and masks for the Python half to check against OpenCV's.
    let mut blob_out = BufWriter::new(fs::File::create(dir.join("rust_blobs.bin"))?);
    let mut mask_out = BufWriter::new(fs::File::create(dir.join("rust_masks.bin"))?);
    let mut counts = Vec::with_capacity(frames.len());
    let mut reference: Vec<Vec<Blob>> = Vec::with_capacity(frames.len());
    for f in &frames[1..] {
        let mut k = Kernel::new(W, H, params);
        k.process(bg.view(), &[]);
        let blobs = k.process(f.view(), &[]).to_vec();
        for b in &blobs {
            for v in [
                b.area,
                b.bbox.x0,
                b.bbox.y0,
                b.bbox.x1,
                b.bbox.y1,
                u32::from(b.t_min),
                u32::from(b.t_max),
            ] {
                blob_out.write_all(&v.to_le_bytes())?;
            }
            for v in [b.cx, b.cy, b.t_mean, b.bg_mean] {
                blob_out.write_all(&v.to_le_bytes())?;
            }
        }
        let (mask, words) = k.mask();
        assert_eq!(words, wpr);
        for w in mask {
            mask_out.write_all(&w.to_le_bytes())?;
        }
        counts.push(blobs.len());
        reference.push(blobs);
    }
    blob_out.flush()?;
    mask_out.flush()?;
    let reference_of = |name: &str| {
        let i = names.iter().position(|n| n == name).expect("frame name");
        (i, &reference[i - 1])
    };

    // 2. Timings, per case, warm (its one frame over and over) and cold
    //    (its COLD_FRAMES distinct frames in turn).
    let mut timings = serde_json::Map::new();
    for &(case, _, _) in &CASES {
        let warm = vec![reference_of(&format!("warm/{case}")).0];
        let cold: Vec<usize> = (0..COLD_FRAMES)
            .map(|i| reference_of(&format!("cold/{case}/{i:02}")).0)
            .collect();
        for (mode, idx) in [("warm", &warm), ("cold", &cold)] {
            let key = format!("{mode}/{case}");
            eprintln!("compare run: {key}");
            let set: Vec<&Array2<u16>> = idx.iter().map(|&i| &frames[i]).collect();

            // The whole kernel, one kernel for the whole loop.
            let mut k = Kernel::new(W, H, params);
            k.process(bg.view(), &[]);
            let ([kernel_us], samples) = run_loop(set.len(), |i| {
                [timed(|| k.process(black_box(set[i].view()), &[]).len())]
            });
            // The background must not have learned the frames.
            for (j, &fi) in idx.iter().enumerate() {
                let blobs = k.process(set[j].view(), &[]);
                assert!(
                    same_blobs(blobs, &reference[fi - 1]),
                    "{key}: the background learned frame {} during the loop \
                     ({} blobs, {} before)",
                    names[fi],
                    blobs.len(),
                    reference[fi - 1].len()
                );
            }

            // The stages, in the kernel's order, each timed alone.
            let mut mask = vec![0u64; wpr * H];
            let mut labeller = Labeller::default();
            let mut background = Background::new(W, H, params.background_stripes);
            background.seed(bg.as_slice().expect("standard layout"));
            let ([threshold_us, label_us, background_us], _) = run_loop(set.len(), |i| {
                let px = set[i].as_slice().expect("standard layout");
                let t0 = timed(|| {
                    threshold::threshold(
                        black_box(px),
                        background.values(),
                        W,
                        params.delta_t,
                        &mut mask,
                    )
                });
                let t1 = timed(|| {
                    labeller.label(&mask, wpr, W, H, px, background.values());
                    labeller.blobs().len()
                });
                let t2 = timed(|| {
                    background.update_stripe(px, &mask, wpr, params.background_shift, &[])
                });
                [t0, t1, t2]
            });

            let ([floor_us], _) = run_loop(set.len(), |i| {
                let px = set[i].as_slice().expect("standard layout");
                [timed(|| floor(black_box(px)))]
            });

            timings.insert(
                key,
                serde_json::json!({
                    "kernel_us": kernel_us,
                    "threshold_us": threshold_us,
                    "label_us": label_us,
                    "background_us": background_us,
                    "floor_us": floor_us,
                    "samples": samples,
                    "frames": set.len(),
                }),
            );
        }
    }

    let json = serde_json::json!({
        "width": W,
        "height": H,
        "delta_t": params.delta_t,
        "background_shift": params.background_shift,
        "background_stripes": params.background_stripes,
        "blob_counts": counts,
        "timings": timings,
    });
    fs::write(
        dir.join("rust.json"),
        serde_json::to_string_pretty(&json).expect("json"),
    )?;
    eprintln!("compare run: wrote {}", dir.join("rust.json").display());
    Ok(())
}

fn main() -> std::io::Result<()> {
    // `cargo bench` adds `--bench`; ignore it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "gen" => gen(Path::new(dir)),
        [cmd, dir] if cmd == "run" => run(Path::new(dir)),
        _ => {
            eprintln!(
                "compare: the Rust half of benches/compare/run.sh \
                 (usage: compare gen DIR | compare run DIR); nothing to do"
            );
            Ok(())
        }
    }
}
