//! End to end: simulated thermal cameras publishing through a real
//! Mosquitto on loopback into the real `rampart` binary.
//!
//! `cargo bench --bench e2e_cameras` (needs `mosquitto`; prints SKIPPED
//! without it). Three phases on the same broker and the same frames
//! (640×512 RTF1, a person at the wall in view 2 s out of every 5 s):
//!
//! 1. **bare**: frames published as fast as the publisher can, read by a
//!    subscriber that only counts them: what the broker can deliver here;
//! 2. **flood, side by side**: the same flood read at once by the daemon
//!    (8 cameras, round robin) and by the counting subscriber: frames the
//!    daemon processed against frames the subscriber counted, and frames shed;
//! 3. **9 Hz**: 8 cameras at 9 Hz for 30 s: sustained frames per second,
//!    frames shed, and frame-to-alert latency (alert receipt minus the
//!    capture time of the newest frame in its evidence), p50 and p99, over
//!    the `raised` messages (updates wait for `min_update_interval` by
//!    design, so they would measure the rate limit, not the pipeline).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{find, free_port};

use geo::{Bearing, Destination, Haversine, Point};
use ndarray::Array2;
use rampart::camera::geometry::{CameraModel, Mount};
use rampart::frame::encode_rtf1;
use rampart::wall::{LatLon, Wall};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

const CAMERAS: usize = 8;
const W: usize = 640;
const H: usize = 512;
const GROUND: u16 = 29_500;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Camera {
    id: String,
    mount: Mount,
    /// RTF1 payloads: [without person, with person] × 4 noise variants.
    frames: Vec<Vec<u8>>,
}

/// A camera 150 m from the wall at `chainage`, looking at it, and its frames.
fn camera(wall: &Wall, i: usize) -> Camera {
    let chainage = 100_000.0 + 2_000.0 * i as f64;
    let on_wall = wall.position_at(chainage);
    let (a, b) = (
        wall.position_at(chainage - 50.0),
        wall.position_at(chainage + 50.0),
    );
    let along = Haversine.bearing(Point::new(a.lon, a.lat), Point::new(b.lon, b.lat));
    let mast = Haversine.destination(Point::new(on_wall.lon, on_wall.lat), along + 90.0, 150.0);
    let mount = Mount {
        position: LatLon::new(mast.y(), mast.x()),
        height_m: 12.0,
        heading_deg: (along + 270.0).rem_euclid(360.0),
        tilt_deg: (12.0f64 / 150.0).atan().to_degrees(),
        hfov_deg: 30.0,
        vfov_deg: 24.0,
    };
    let model = CameraModel::new(mount, W as u32, H as u32).unwrap();
    let (u, v_foot) = model.project(on_wall, 0.0).unwrap();
    let (_, v_head) = model.project(on_wall, 1.75).unwrap();
    let (fx, _) = model.focal_px();
    let half = 0.5 * fx / 150.0 / 2.0 + 0.5;
    let mut frames = Vec::new();
    for person in [false, true] {
        for variant in 0..4u64 {
            let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ (variant + 1) ^ ((i as u64) << 8);
            let mut f = Array2::from_shape_fn((H, W), |(y, _)| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                GROUND + (y / 16) as u16 + (s % 11) as u16
            });
            if person {
                for y in v_head as usize..v_foot.ceil() as usize {
                    for x in (u - half) as usize..(u + half).ceil() as usize {
                        f[(y, x)] += 800;
                    }
                }
            }
            frames.push(encode_rtf1(f.view(), 0, 0));
        }
    }
    Camera {
        id: format!("cam-{i}"),
        mount,
        frames,
    }
}

/// Sets an RTF1 payload's sequence number and capture time.
fn stamp(payload: &mut [u8], seq: u32, capture_ms: i64) {
    payload[12..16].copy_from_slice(&seq.to_le_bytes());
    payload[16..24].copy_from_slice(&(capture_ms as u64).to_le_bytes());
}

fn config(dir: &Path, port: u16, cameras: &[Camera]) -> String {
    let wall = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wall-iraq-syria-approx.geojson");
    let mut c = format!(
        "instance = \"bench\"\nwall = \"{}\"\ndata_dir = \"{}\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\n\
         [detection]\nquiet_period = \"2s\"\nmin_update_interval = \"1s\"\n[thermal]\nevidence_interval = \"500ms\"\n",
        wall.display(),
        dir.join("data").display()
    );
    for cam in cameras {
        let m = &cam.mount;
        c.push_str(&format!(
            "[[camera]]\nid = \"{}\"\nlat = {}\nlon = {}\nheight_m = {}\nheading_deg = {}\ntilt_deg = {}\nhfov_deg = {}\nvfov_deg = {}\n",
            cam.id, m.position.lat, m.position.lon, m.height_m, m.heading_deg, m.tilt_deg, m.hfov_deg, m.vfov_deg
        ));
    }
    c
}

fn client(port: u16, name: &str) -> (AsyncClient, rumqttc::EventLoop) {
    let mut o = MqttOptions::new(name, "127.0.0.1", port);
    o.set_max_packet_size(4 << 20, 4 << 20);
    o.set_keep_alive(Duration::from_secs(30));
    AsyncClient::new(o, 16)
}

/// Publishes frames round robin over `cameras` as fast as possible for `secs`.
async fn flood(port: u16, cameras: &[Camera], secs: u64) -> u64 {
    let (c, mut el) = client(port, "bench-flood");
    tokio::spawn(async move { while el.poll().await.is_ok() {} });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut sent = 0u64;
    while Instant::now() < end {
        let cam = &cameras[sent as usize % cameras.len()];
        let mut p = cam.frames[(sent % 4) as usize].clone();
        stamp(&mut p, sent as u32, now_ms());
        c.publish(
            format!("rampart/v1/camera/{}/frame", cam.id),
            QoS::AtMostOnce,
            false,
            p,
        )
        .await
        .unwrap();
        sent += 1;
    }
    let _ = c.disconnect().await;
    sent
}

/// A subscriber that only counts camera frames.
async fn bare(port: u16, secs: u64, cameras: &[Camera]) -> (u64, u64) {
    let (c, mut el) = client(port, "bench-bare");
    let count = Arc::new(AtomicU64::new(0));
    let n = count.clone();
    c.subscribe("rampart/v1/camera/+/frame", QoS::AtMostOnce)
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            if let Event::Incoming(Packet::Publish(_)) = ev {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = flood(port, cameras, secs).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    reader.abort();
    (sent, count.load(Ordering::Relaxed))
}

struct Daemon(Child, PathBuf);

impl Daemon {
    fn start(dir: &Path, config: &str) -> Self {
        let path = dir.join("bench.toml");
        std::fs::write(&path, config).unwrap();
        let log = dir.join("rampart.log");
        let child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info,rumqttc=warn")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self(child, log)
    }

    /// Stops it and returns its final counters.
    fn stop(mut self) -> serde_json::Map<String, serde_json::Value> {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
        let log = std::fs::read_to_string(&self.1).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("rampart stopped"))
            .expect("final counters in the log");
        let json = line
            .split("counters=")
            .nth(1)
            .unwrap()
            .split(" ")
            .next()
            .unwrap_or("{}");
        // tracing prints the BTreeMap with Debug: {"a": 1, "b": 2}
        serde_json::from_str(json.trim())
            .or_else(|_| serde_json::from_str(&line[line.find('{').unwrap()..]))
            .unwrap_or_default()
    }
}

fn sum(counters: &serde_json::Map<String, serde_json::Value>, prefix: &str) -> u64 {
    counters
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .filter_map(|(_, v)| v.as_u64())
        .sum()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // cargo test --benches / --list: nothing to list or test here
    }
    let Some(mosquitto) = find("mosquitto") else {
        println!("SKIPPED e2e_cameras: mosquitto is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nmax_packet_size 8000000\n")).unwrap();
    let mut broker = Command::new(mosquitto)
        .arg("-c")
        .arg(&conf)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let wall = Wall::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wall-iraq-syria-approx.geojson"),
        1000.0,
    )
    .unwrap();
    let cameras: Vec<Camera> = (0..CAMERAS).map(|i| camera(&wall, i)).collect();

    // 1. What the broker delivers to a subscriber that only counts.
    let secs = 5;
    let (sent, counted) = bare(port, secs, &cameras).await;
    println!(
        "bare subscriber alone: published {sent}, received {counted} in {secs} s: {:.0} frames/s",
        counted as f64 / secs as f64
    );

    // 2. The daemon and the bare subscriber side by side under the same flood.
    let daemon = Daemon::start(dir.path(), &config(dir.path(), port, &cameras));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (sent, counted) = bare(port, secs, &cameras).await;
    let counters = daemon.stop();
    let (processed, received, replaced) = (
        sum(&counters, "frames.processed."),
        sum(&counters, "frames.received"),
        sum(&counters, "frames.replaced."),
    );
    println!(
        "flood, side by side: published {sent}; bare subscriber counted {counted} ({:.0}/s); daemon received {received}, processed {processed} ({:.0}/s), shed {replaced}: the daemon kept up with {:.1}% of the bare subscriber",
        counted as f64 / secs as f64,
        processed as f64 / secs as f64,
        100.0 * processed as f64 / counted.max(1) as f64
    );

    // 3. 8 cameras at 9 Hz for 30 s, with latency.
    let daemon = Daemon::start(dir.path(), &config(dir.path(), port, &cameras));
    let (watch, mut wel) = client(port, "bench-watch");
    watch
        .subscribe("rampart/v1/alert/+", QoS::AtLeastOnce)
        .await
        .unwrap();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let lat = latencies.clone();
    let watcher = tokio::spawn(async move {
        while let Ok(ev) = wel.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let got = now_ms();
                let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
                if v["state"] != "raised" {
                    continue;
                }
                let captured = v["evidence"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["camera"]["captured"].as_str())
                    .filter_map(|s| humantime::parse_rfc3339(s).ok())
                    .map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
                    .max();
                if let Some(c) = captured {
                    lat.lock().unwrap().push((got - c) as f64);
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (pubc, mut pel) = client(port, "bench-9hz");
    tokio::spawn(async move { while pel.poll().await.is_ok() {} });
    let run = Duration::from_secs(30);
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / 9.0));
    let mut seq = 0u32;
    let mut published = 0u64;
    while start.elapsed() < run {
        tick.tick().await;
        seq += 1;
        // The person is in view 2 s out of every 5 s.
        let person = (start.elapsed().as_secs_f64() % 5.0) < 2.0;
        for cam in &cameras {
            let mut p = cam.frames[usize::from(person) * 4 + (seq % 4) as usize].clone();
            stamp(&mut p, seq, now_ms());
            if pubc
                .try_publish(
                    format!("rampart/v1/camera/{}/frame", cam.id),
                    QoS::AtMostOnce,
                    false,
                    p,
                )
                .is_ok()
            {
                published += 1;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counters = daemon.stop();
    watcher.abort();
    let (processed, replaced) = (
        sum(&counters, "frames.processed."),
        sum(&counters, "frames.replaced."),
    );
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    println!(
        "{CAMERAS} cameras at 9 Hz for {} s: published {published}, processed {processed} ({:.1} frames/s), shed {replaced}; frame-to-alert latency over {} raised alerts: p50 {:.0} ms, p99 {:.0} ms",
        run.as_secs(),
        processed as f64 / run.as_secs_f64(),
        l.len(),
        percentile(&l, 0.5),
        percentile(&l, 0.99)
    );
    let _ = broker.kill();
    let _ = broker.wait();
    let _ = std::io::stdout().flush();
}
