//! The hot-spot kernel, stage by stage and whole, on 640×512 frames with a
//! sweep of hot fractions, warm (one frame over and over) and cold (many
//! distinct frames, more than the last-level cache holds).
//!
//! `cargo bench --bench kernel`. The side-by-side comparison with OpenCV
//! on the same frames is `benches/compare/run.sh`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use rampart::kernel::{background::Background, threshold, Kernel, KernelParams, Labeller};

#[path = "common/scene.rs"]
mod scene;
use scene::{floor, scene, H, W};

/// The default kernel, except that the background adapts so slowly that
/// running the same frame thousands of times does not teach it the blobs:
/// every iteration then does the work of a real frame (same code path, the
/// shift is only a number). `check_unchanged` verifies it.
fn params() -> KernelParams {
    KernelParams {
        delta_t: 300,
        background_shift: 11,
        ..KernelParams::default()
    }
}

fn check_unchanged(name: &str, before: usize, k: &mut Kernel, f: &Array2<u16>) {
    let after = k.process(f.view(), &[]).len();
    assert_eq!(
        before, after,
        "{name}: the background learned the frame during the benchmark"
    );
}

fn stages(c: &mut Criterion) {
    let (bg, frame) = scene(0.01, false, 7, 0);
    let (px, bgv) = (frame.as_slice().unwrap(), bg.as_slice().unwrap());
    let wpr = W.div_ceil(64);
    let mut mask = vec![0u64; wpr * H];
    let mut g = c.benchmark_group("kernel stages 640x512 1%");
    g.throughput(Throughput::Elements((W * H) as u64));
    g.bench_function("floor: one read pass", |b| b.iter(|| floor(black_box(px))));
    g.bench_function("threshold both ways", |b| {
        b.iter(|| threshold::threshold(black_box(px), black_box(bgv), W, 300, &mut mask))
    });
    threshold::threshold(px, bgv, W, 300, &mut mask);
    let mut labeller = Labeller::default();
    g.bench_function("label + blob stats", |b| {
        b.iter(|| {
            labeller.label(black_box(&mask), wpr, W, H, px, bgv);
            black_box(labeller.blobs().len())
        })
    });
    let mut background = Background::new(W, H, 32);
    background.seed(bgv);
    g.bench_function("background stripe update", |b| {
        b.iter(|| background.update_stripe(black_box(px), &mask, wpr, 3, &[]))
    });
    g.finish();
}

fn whole(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel whole 640x512");
    g.throughput(Throughput::Elements((W * H) as u64));
    for (name, fraction, salt) in [
        ("0.1%", 0.001, false),
        ("1%", 0.01, false),
        ("5%", 0.05, false),
        ("25%", 0.25, false),
        ("salt 5%", 0.05, true),
    ] {
        let (bg, frame) = scene(fraction, salt, 11, 0);
        let mut k = Kernel::new(W, H, params());
        k.process(bg.view(), &[]);
        let before = k.process(frame.view(), &[]).len();
        g.bench_with_input(BenchmarkId::new("warm", name), &frame, |b, f| {
            b.iter(|| black_box(k.process(f.view(), &[]).len()))
        });
        check_unchanged(name, before, &mut k, &frame);
    }
    // Cold: 48 distinct frames (31 MiB with their backgrounds' traffic) in turn.
    let frames: Vec<Array2<u16>> = (0..48).map(|i| scene(0.01, false, 100 + i, 0).1).collect();
    let (bg, _) = scene(0.01, false, 1, 0);
    let mut ks: Vec<Kernel> = (0..8).map(|_| Kernel::new(W, H, params())).collect();
    for k in &mut ks {
        k.process(bg.view(), &[]);
    }
    let mut i = 0;
    g.bench_function(BenchmarkId::new("cold", "1%"), |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            black_box(ks[i % 8].process(frames[i].view(), &[]).len())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).sample_size(50).warm_up_time(Duration::from_secs(1));
    targets = stages, whole
}
criterion_main!(benches);
