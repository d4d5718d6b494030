//! Sentences per second through the receive path.
//!
//! Every group reports `Throughput::Elements` = sentences (lines), so
//! criterion prints time per iteration and elements per second; divide the
//! time by the element count for the time per sentence (BENCHMARKS.md does).
//!
//! - `parse`: `sentence::parse` alone on a realistic mix of lines;
//! - `framer`: `LineFramer` + `parse` on the same lines as one byte stream,
//!   pushed whole and in 64-byte reads (a serial driver's typical read);
//! - `engine`: `parse` + rules + incidents (`Engine`), a fresh engine per
//!   iteration, `on_tick` once per simulated second; and the same with
//!   sentences parsed beforehand, to split the cost;
//! - `reject paths`: valid lines, the same lines with a wrong checksum, and
//!   binary garbage of the same lengths, side by side in one run.
//!
//! The workload is a 120 s simulated scenario on a 22 km test wall: three
//! fence controllers (4 zones each) and two trench controllers (2 geophones
//! and a beam each) reporting every 500 ms, heartbeats every 5 s. Readings
//! are mostly quiet, with rare single over-threshold gusts, two intrusions,
//! a cable cut and its clear, a controller silent for 20 s (offline, then
//! online) and a heartbeat fault. All data is generated deterministically.
//!
//! Run: `cargo bench --bench sentences`.

use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rampart::config::Config;
use rampart::engine::Engine;
use rampart::sentence::{self, Body, FramerEvent, Health, LineFramer, Sentence, TamperKind};
use rampart::time::Timestamp;
use rampart::wall::{LatLon, Wall};

/// A 0.2-degree equator wall (about 22.2 km, 23 segments of 1 km).
const CONFIG: &str = r#"
instance = "bench"
wall = "unused.geojson"
[detection]
heartbeat_deadline = "10s"
quiet_period = "15s"
min_update_interval = "5s"
[detection.fence]
rms_mg = 400.0
peak_mg = 1500.0
k = 3
n = 5
[detection.ground]
ppv_um_s = 1000.0

[[fence]]
id = "fence-c01"
[[fence.zones]]
zone = 1
start_m = 2000.0
end_m = 2200.0
[[fence.zones]]
zone = 2
start_m = 2200.0
end_m = 2400.0
[[fence.zones]]
zone = 3
start_m = 2400.0
end_m = 2600.0
rms_mg = 600.0
[[fence.zones]]
zone = 4
start_m = 2600.0
end_m = 2800.0

[[fence]]
id = "fence-c02"
peak_mg = 2000.0
[[fence.zones]]
zone = 1
start_m = 9000.0
end_m = 9200.0
[[fence.zones]]
zone = 2
start_m = 9200.0
end_m = 9400.0
[[fence.zones]]
zone = 3
start_m = 9400.0
end_m = 9600.0
[[fence.zones]]
zone = 4
start_m = 9600.0
end_m = 9800.0

[[fence]]
id = "fence-c03"
[[fence.zones]]
zone = 1
start_m = 15000.0
end_m = 15200.0
[[fence.zones]]
zone = 2
start_m = 15200.0
end_m = 15400.0
[[fence.zones]]
zone = 3
start_m = 15400.0
end_m = 15600.0
[[fence.zones]]
zone = 4
start_m = 15600.0
end_m = 15800.0

[[trench]]
id = "trench-t01"
[[trench.geophones]]
channel = 0
at_m = 2300.0
[[trench.geophones]]
channel = 1
at_m = 2600.0
[[trench.beams]]
channel = 0
at_m = 2320.0

[[trench]]
id = "trench-t02"
[[trench.geophones]]
channel = 0
at_m = 15300.0
[[trench.geophones]]
channel = 1
at_m = 15500.0
[[trench.beams]]
channel = 0
at_m = 15520.0
"#;

/// Simulated start, 2026-02-02.
const T0: i64 = 1_770_000_000_000;
/// Controllers report every this many milliseconds.
const STEP_MS: i64 = 500;
/// Length of the simulated scenario.
const SECONDS: i64 = 120;

enum DeviceKind {
    Fence {
        zones: &'static [u16],
    },
    Trench {
        geophones: &'static [u16],
        beams: &'static [u16],
    },
}

struct Device {
    id: &'static str,
    kind: DeviceKind,
    seq: u32,
}

/// What the receive loop sees, in order: a line received at a time, or the
/// once-a-second tick.
enum Step<T> {
    Line(T, Timestamp),
    Tick(Timestamp),
}

struct Scenario {
    /// Lines (with `\r\n`) and ticks, in time order.
    raw: Vec<Step<Vec<u8>>>,
    /// The same, parsed.
    parsed: Vec<Step<Sentence>>,
    /// Just the lines.
    lines: Vec<Vec<u8>>,
    /// The lines as one byte stream.
    stream: Vec<u8>,
    /// The lines with a wrong (but well-formed) checksum.
    bad_checksum: Vec<Vec<u8>>,
    /// Random bytes (no `\n`), one line per valid line, of the same length.
    garbage: Vec<Vec<u8>>,
}

/// xorshift64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[lo, hi)`, rounded to two decimals as a controller sends it.
    fn measure(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo + (hi - lo) * unit) * 100.0).round() / 100.0
    }

    fn chance(&mut self, p: f64) -> bool {
        self.measure(0.0, 1.0) < p
    }
}

fn scenario() -> &'static Scenario {
    static SCENARIO: OnceLock<Scenario> = OnceLock::new();
    SCENARIO.get_or_init(build_scenario)
}

fn build_scenario() -> Scenario {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut devices = [
        Device {
            id: "fence-c01",
            kind: DeviceKind::Fence {
                zones: &[1, 2, 3, 4],
            },
            seq: 1000,
        },
        Device {
            id: "fence-c02",
            kind: DeviceKind::Fence {
                zones: &[1, 2, 3, 4],
            },
            seq: 77,
        },
        Device {
            id: "fence-c03",
            kind: DeviceKind::Fence {
                zones: &[1, 2, 3, 4],
            },
            seq: u32::MAX - 300, // wraps during the run
        },
        Device {
            id: "trench-t01",
            kind: DeviceKind::Trench {
                geophones: &[0, 1],
                beams: &[0],
            },
            seq: 5,
        },
        Device {
            id: "trench-t02",
            kind: DeviceKind::Trench {
                geophones: &[0, 1],
                beams: &[0],
            },
            seq: 123_456,
        },
    ];

    let mut raw = Vec::new();
    for step in 0..SECONDS * 1000 / STEP_MS {
        let t = (step * STEP_MS) as f64 / 1000.0;
        for (d, dev) in devices.iter_mut().enumerate() {
            // trench-t02 falls silent for 20 s: offline, then online again.
            if dev.id == "trench-t02" && (60.0..80.0).contains(&t) {
                continue;
            }
            let now = Timestamp(T0 + step * STEP_MS + 7 * d as i64);
            let mut bodies = Vec::new();
            if step % 10 == d as i64 {
                let fault = dev.id == "fence-c03" && (90.0..95.0).contains(&t);
                bodies.push(Body::Heartbeat {
                    uptime_s: 86_400 + step as u64 / 2,
                    status: if fault { Health::Fault } else { Health::Ok },
                });
            }
            // fence-c02's cable is cut at 40 s; the controller clears it at 50 s.
            if dev.id == "fence-c02" && (step == 80 || step == 100) {
                let kind = if step == 80 {
                    TamperKind::Cut
                } else {
                    TamperKind::Clear
                };
                bodies.push(Body::Tamper { kind });
            }
            match dev.kind {
                DeviceKind::Fence { zones } => {
                    for &zone in zones {
                        let intrusion = (dev.id == "fence-c01"
                            && zone == 2
                            && (10.0..25.0).contains(&t))
                            || (dev.id == "fence-c03" && zone == 3 && (100.0..110.0).contains(&t));
                        let (rms_mg, peak_mg) = if intrusion {
                            (rng.measure(500.0, 1200.0), rng.measure(1600.0, 4000.0))
                        } else if rng.chance(0.01) {
                            // A gust: one hit, below k-of-n.
                            (rng.measure(450.0, 700.0), rng.measure(900.0, 1400.0))
                        } else {
                            (rng.measure(20.0, 150.0), rng.measure(100.0, 700.0))
                        };
                        bodies.push(Body::Fence {
                            zone,
                            rms_mg,
                            peak_mg,
                        });
                    }
                }
                DeviceKind::Trench { geophones, beams } => {
                    for &channel in geophones {
                        let intrusion =
                            (dev.id == "trench-t01" && channel == 0 && (10.0..25.0).contains(&t))
                                || (dev.id == "trench-t02"
                                    && channel == 1
                                    && (100.0..110.0).contains(&t));
                        let ppv_um_s = if intrusion {
                            rng.measure(1500.0, 3000.0)
                        } else if rng.chance(0.005) {
                            // A lorry on the road: a lone over-threshold reading.
                            rng.measure(1000.0, 1300.0)
                        } else {
                            rng.measure(30.0, 400.0)
                        };
                        bodies.push(Body::Ground { channel, ppv_um_s });
                    }
                    for &channel in beams {
                        let broken = (dev.id == "trench-t01" && (12.0..20.0).contains(&t))
                            || (dev.id == "trench-t02" && (102.0..106.0).contains(&t));
                        bodies.push(Body::Beam { channel, broken });
                    }
                }
            }
            for body in bodies {
                let s = Sentence {
                    device: dev.id.to_owned(),
                    seq: dev.seq,
                    body,
                    mac: None,
                };
                dev.seq = dev.seq.wrapping_add(1);
                raw.push(Step::Line(s.encode().into_bytes(), now));
            }
        }
        if (step + 1) * STEP_MS % 1000 == 0 {
            raw.push(Step::Tick(Timestamp(T0 + (step + 1) * STEP_MS)));
        }
    }

    let parsed: Vec<Step<Sentence>> = raw
        .iter()
        .map(|step| match step {
            Step::Line(line, at) => {
                Step::Line(sentence::parse(line).expect("generated line parses"), *at)
            }
            Step::Tick(at) => Step::Tick(*at),
        })
        .collect();
    let lines: Vec<Vec<u8>> = raw
        .iter()
        .filter_map(|step| match step {
            Step::Line(line, _) => Some(line.clone()),
            Step::Tick(_) => None,
        })
        .collect();
    let stream = lines.concat();
    let bad_checksum: Vec<Vec<u8>> = lines
        .iter()
        .map(|line| {
            // `...*CS\r\n`: replace CS by another well-formed checksum.
            let star = line.len() - 5;
            let stated =
                u8::from_str_radix(std::str::from_utf8(&line[star + 1..star + 3]).unwrap(), 16)
                    .unwrap();
            let mut bad = line[..=star].to_vec();
            bad.extend_from_slice(format!("{:02X}\r\n", stated ^ 0x5a).as_bytes());
            bad
        })
        .collect();
    let garbage: Vec<Vec<u8>> = lines
        .iter()
        .map(|line| {
            (0..line.len())
                .map(|_| match rng.next_u64() as u8 {
                    b'\n' => 0,
                    b => b,
                })
                .collect()
        })
        .collect();

    let scenario = Scenario {
        raw,
        parsed,
        lines,
        stream,
        bad_checksum,
        garbage,
    };
    check_and_describe(&scenario);
    scenario
}

/// Makes sure the workload does what it claims, and prints its shape once.
fn check_and_describe(s: &Scenario) {
    for line in &s.bad_checksum {
        let err = sentence::parse(line).expect_err("bad checksum is rejected");
        assert_eq!(err.reason(), "checksum_mismatch");
    }
    assert!(s.garbage.iter().all(|l| sentence::parse(l).is_err()));
    let mut framed = 0;
    LineFramer::new().push(&s.stream, |e| {
        assert!(matches!(e, FramerEvent::Line(l) if sentence::parse(l).is_ok()));
        framed += 1;
    });
    assert_eq!(framed, s.lines.len());

    let mut counts = [0usize; 5];
    for step in &s.parsed {
        if let Step::Line(sentence, _) = step {
            let i = ["FZ", "GS", "BK", "HB", "TP"]
                .iter()
                .position(|t| *t == sentence.body.type_code())
                .unwrap();
            counts[i] += 1;
        }
    }
    let (mut engine, _) = fresh_engine();
    let mut outputs = 0;
    let mut alerts = 0;
    for step in &s.parsed {
        let out = match step {
            Step::Line(sentence, at) => engine
                .on_sentence(sentence, *at)
                .expect("every generated sentence fits the layout"),
            Step::Tick(at) => engine.on_tick(*at),
        };
        outputs += out.len();
        alerts += out
            .iter()
            .filter(|o| matches!(o, rampart::incident::Output::Alert(_)))
            .count();
    }
    assert!(alerts >= 10, "the scenario raises and clears incidents");
    eprintln!(
        "scenario: {} lines ({} bytes, {:.1} bytes/line; FZ {} GS {} BK {} HB {} TP {}), \
         {} ticks, engine outputs {} ({} alert messages)",
        s.lines.len(),
        s.stream.len(),
        s.stream.len() as f64 / s.lines.len() as f64,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        s.raw.len() - s.lines.len(),
        outputs,
        alerts,
    );
}

/// A new engine at `T0`, with its start-up segment states.
fn fresh_engine() -> (Engine, usize) {
    let config: Config = toml::from_str(CONFIG).expect("bench config parses");
    let wall = Wall::from_vertices(vec![LatLon::new(0.0, 0.0), LatLon::new(0.0, 0.2)], 1000.0)
        .expect("bench wall");
    let mut engine = Engine::new(&config, Arc::new(wall), Timestamp(T0), "bench");
    let initial = engine.start(Timestamp(T0)).len();
    (engine, initial)
}

fn lines_throughput(s: &Scenario) -> Throughput {
    Throughput::Elements(s.lines.len() as u64)
}

fn parse_all(lines: &[Vec<u8>]) -> usize {
    lines
        .iter()
        .filter(|line| black_box(sentence::parse(black_box(line))).is_ok())
        .count()
}

fn bench_parse(c: &mut Criterion) {
    let s = scenario();
    let mut group = c.benchmark_group("parse");
    group.throughput(lines_throughput(s));
    group.bench_function("mix", |b| b.iter(|| parse_all(&s.lines)));
    group.finish();
}

fn frame_and_parse(stream: &[u8], read_size: usize) -> usize {
    let mut framer = LineFramer::new();
    let mut ok = 0;
    for chunk in stream.chunks(read_size) {
        framer.push(black_box(chunk), |event| {
            if let FramerEvent::Line(line) = event {
                if black_box(sentence::parse(line)).is_ok() {
                    ok += 1;
                }
            }
        });
    }
    framer.finish(|_| {});
    ok
}

fn bench_framer(c: &mut Criterion) {
    let s = scenario();
    let mut group = c.benchmark_group("framer");
    group.throughput(lines_throughput(s));
    group.bench_function("whole_buffer", |b| {
        b.iter(|| frame_and_parse(&s.stream, s.stream.len()))
    });
    group.bench_function("reads_64B", |b| b.iter(|| frame_and_parse(&s.stream, 64)));
    group.finish();
}

fn bench_engine(c: &mut Criterion) {
    let s = scenario();
    let mut group = c.benchmark_group("engine");
    group.throughput(lines_throughput(s));
    group.bench_function("parse_rules_incidents", |b| {
        b.iter_batched(
            || fresh_engine().0,
            |mut engine| {
                let mut outputs = 0;
                for step in &s.raw {
                    let out = match step {
                        Step::Line(line, at) => match sentence::parse(black_box(line)) {
                            Ok(sentence) => engine.on_sentence(&sentence, *at).unwrap_or_default(),
                            Err(_) => Vec::new(),
                        },
                        Step::Tick(at) => engine.on_tick(*at),
                    };
                    outputs += black_box(out).len();
                }
                (engine, outputs)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("rules_incidents_preparsed", |b| {
        b.iter_batched(
            || fresh_engine().0,
            |mut engine| {
                let mut outputs = 0;
                for step in &s.parsed {
                    let out = match step {
                        Step::Line(sentence, at) => engine
                            .on_sentence(black_box(sentence), *at)
                            .unwrap_or_default(),
                        Step::Tick(at) => engine.on_tick(*at),
                    };
                    outputs += black_box(out).len();
                }
                (engine, outputs)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench_reject_paths(c: &mut Criterion) {
    let s = scenario();
    let mut group = c.benchmark_group("reject paths");
    group.throughput(lines_throughput(s));
    group.bench_function("valid", |b| b.iter(|| parse_all(&s.lines)));
    group.bench_function("bad_checksum", |b| b.iter(|| parse_all(&s.bad_checksum)));
    group.bench_function("binary_garbage", |b| b.iter(|| parse_all(&s.garbage)));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_parse, bench_framer, bench_engine, bench_reject_paths
}
criterion_main!(benches);
