//! Whole-wall sensor load on one box (issue 12, item 7): the fence
//! controllers of the 583 km demo wall publishing through a real Mosquitto
//! on loopback into the real `rampart` binary, with the broker, the daemon
//! and this load generator sharing the machine.
//!
//! ```sh
//! cargo bench --bench sensor_load -- --seconds 600
//! ```
//!
//! `cargo bench` builds the `rampart` binary with the bench profile (the
//! release settings) into `target/release/rampart`, and that is the binary
//! run (`--rampart PATH` to run another). Needs `mosquitto` (prints
//! SKIPPED without it). Options, with their defaults:
//!
//! | option | default | what |
//! | --- | --- | --- |
//! | `--seconds N` | 60 | length of the steady run (the issue's figure is 600) |
//! | `--rate R` | 30000 | fence sentences per second offered in total (heartbeats come on top) |
//! | `--sentences-per-message K` | whole tick | at most K sentences per MQTT message (`1`: the worst case) |
//! | `--connections C` | 4 | publisher connections (one tokio task each) |
//! | `--backlog B` | 200000 | sentences in the drain comparison's backlog |
//! | `--controllers N` | 600 | fence controllers (5 zones each) along the wall |
//! | `--storm S` | 500 | controllers raising at once near the end |
//! | `--warmup W` | 30 (at most a third of the run) | seconds before the RSS baseline and the "after warm-up" latency |
//!
//! The run, in order:
//!
//! 1. **Broker.** Mosquitto on a free loopback port with the shipped limits
//!    of `config/mosquitto/mosquitto.conf` (`max_queued_messages`,
//!    `max_inflight_messages`, `max_packet_size`), plain listener,
//!    anonymous, no persistence; `sys_interval 1`, so that what it holds
//!    (`$SYS/broker/store/messages/count`) and what it drops for a full
//!    queue (`$SYS/broker/publish/messages/dropped`) are watched.
//! 2. **Daemon.** 600 fence controllers `fence-c001`…`fence-c600`, one per
//!    1/600 of the wall (about 972 m), 5 zones each (about 194 m); every
//!    detection setting at its default (fence: 3 hits of the last 5 readings
//!    over 400 mg RMS or 1500 mg peak; fusion raises held fence evidence
//!    alone at twice its threshold). A fresh data directory.
//! 3. **Steady load** for `--seconds`: every controller ticks at
//!    `rate / (controllers × 5)` Hz (10 Hz by default: the issue's 2 Hz
//!    times 5), each tick one `FZ` sentence per zone with a quiet reading
//!    (RMS 20–119 mg, peak 50–349 mg), and every 5 s a `HB`; by default the
//!    tick's sentences go in one MQTT message (QoS 1) on
//!    `rampart/v1/sensor/<id>`. Each connection's controllers are spread
//!    evenly over the tick period. Messages are encoded with the project's
//!    codec (`rampart::mqtt::wire::encode_publish`) over raw TCP; the
//!    broker's PUBACKs are counted, and a connection waits when more than
//!    20 000 of its messages are unacknowledged (counted as "held back").
//!    - **Intrusions**: one per second at a different controller (a stride
//!      through the wall, skipping controllers with an incident that may
//!      still be open), zone 3 reading 1200 mg RMS / 4800 mg peak (3× the
//!      thresholds) for 3 ticks in a row. The third reading completes the
//!      3-of-5 rule and, at 3× the threshold, fusion raises it at once.
//!      Latency: from encoding the message with that third reading to the
//!      `raised` alert naming `fence-cNNN/zone3` read by a subscriber on
//!      `rampart/v1/alert/#` in this process (the project's subscriber
//!      client).
//!    - **Alert storm**, 12 s before the end: `--storm` controllers with no
//!      recent incident raise at once (zone 3 as above), under the load.
//!      Time from the first completing reading to the last `raised` alert.
//!    - **RSS** of the daemon (`VmRSS`), **CPU** (utime + stime, from
//!      `/proc/<pid>/stat`) of daemon and broker, and the broker's `$SYS`
//!      figures every 2 s; the daemon's CPU, storage writes and context
//!      switches per thread over the run, and this process's CPU.
//! 4. **End of the steady run.** Once every message is acknowledged by the
//!    broker, a `TP CUT` from `fence-c001` is published; its tamper alert
//!    shows the daemon has read everything before it (one session, in
//!    order). Then SIGTERM, and the final counters (the `rampart stopped`
//!    log line) are compared with what was sent.
//! 5. **Drain comparison.** The broker keeps the stopped daemon's
//!    persistent session; a bare subscriber
//!    ([`rampart::mqtt::subscriber::Connection`], acknowledging each message
//!    at once) creates its own. The backlog (`--backlog` sentences as
//!    controller ticks, then a `TP CLEAR` from `fence-c001` as the marker)
//!    is published while both are away, so the broker queues it for both.
//!    The bare subscriber drains it (time from connecting to its last
//!    message) and its session is removed; then the daemon is started again
//!    on the same data directory (its redelivery window full, as after any
//!    restart) and drains it (time from its input connection's CONNACK,
//!    read from its log, to the marker's `cleared` alert). The ratio is
//!    bare time ÷ daemon time; the daemon's counters must match the backlog.
//!
//! The report is printed as markdown, ready for BENCHMARKS.md, with one
//! PASS/FAIL line per check.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{find, free_port};

use bytes::{Bytes, BytesMut};
use rampart::mqtt::subscriber::{Connection, SubscriberOptions};
use rampart::mqtt::wire::{self, Decoder, Incoming, Publish, QoS};
use rampart::wall::Wall;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const ZONES: usize = 5;
/// The zone that raises (the middle one: far from the neighbours' zones).
const STRONG_ZONE: usize = 3;
/// Three times the default thresholds (400 mg RMS, 1500 mg peak).
const STRONG_RMS: u32 = 1200;
const STRONG_PEAK: u32 = 4800;
/// Hits needed (the default k of the 3-of-5 rule).
const STRONG_TICKS: u8 = 3;
/// Heartbeat period of every controller.
const HB_PERIOD_S: f64 = 5.0;
/// A controller that raised is not used again for this long (the default
/// quiet_period of 60 s, plus a margin), so each injection raises anew.
const REUSE_AFTER: Duration = Duration::from_secs(75);
/// Unacknowledged messages a publisher connection may have.
const WINDOW: u64 = 20_000;
/// How often RSS and CPU are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// Latency target for injected intrusions (p99), and the storm's.
const P99_TARGET_MS: f64 = 250.0;
const STORM_TARGET: Duration = Duration::from_secs(5);
/// RSS may grow this much from after the warm-up to the storm.
const RSS_GROWTH_LIMIT_KIB: u64 = 30 * 1024;
/// What the broker may still hold once the daemon has read everything:
/// the retained segment states (584 on the demo wall) and presence, and the
/// daemon's in-flight window (`max_inflight_messages` 1000).
const HELD_AT_END_LIMIT: u64 = 2000;
/// The drain ratio aimed for.
const RATIO_TARGET: f64 = 0.9;
const MARKER: usize = 0;

// ---------------------------------------------------------------- options

#[derive(Debug, Clone)]
struct Args {
    seconds: u64,
    rate: f64,
    /// 0: the whole tick in one message.
    spm: usize,
    connections: usize,
    backlog: u64,
    controllers: usize,
    storm: usize,
    warmup: u64,
    rampart: PathBuf,
}

fn args() -> Result<Option<Args>, String> {
    let mut a = Args {
        seconds: 60,
        rate: 30_000.0,
        spm: 0,
        connections: 4,
        backlog: 200_000,
        controllers: 600,
        storm: 500,
        warmup: 30,
        rampart: PathBuf::from(env!("CARGO_BIN_EXE_rampart")),
    };
    let mut benching = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--bench" | "--run" => benching = true,
            "--seconds" => a.seconds = num(&value()?)?,
            "--rate" => a.rate = num(&value()?)?,
            "--sentences-per-message" => a.spm = num(&value()?)?,
            "--connections" => a.connections = num(&value()?)?,
            "--backlog" => a.backlog = num(&value()?)?,
            "--controllers" => a.controllers = num(&value()?)?,
            "--storm" => a.storm = num(&value()?)?,
            "--warmup" => a.warmup = num(&value()?)?,
            "--rampart" => a.rampart = PathBuf::from(value()?),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            _ => {} // a filter from cargo bench: nothing to filter
        }
    }
    if !benching {
        return Ok(None);
    }
    if a.controllers < 10 || a.connections == 0 || a.rate <= 0.0 || a.seconds < 20 {
        return Err(
            "need --controllers >= 10, --connections >= 1, --rate > 0, --seconds >= 20".into(),
        );
    }
    a.storm = a.storm.min(a.controllers - 1);
    a.warmup = a.warmup.min(a.seconds / 3);
    Ok(Some(a))
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("not a number: {s}"))
}

// ---------------------------------------------------------------- processes

fn wait_for_port(port: u16, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A child process killed on drop.
struct Proc(Option<Child>);

impl Proc {
    fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        let mut child = self.0.take()?;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > end {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The shipped broker limits, as `key value` lines.
fn shipped_limits() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mosquitto/mosquitto.conf");
    let text = std::fs::read_to_string(&path).expect("config/mosquitto/mosquitto.conf");
    let keys = [
        "max_queued_messages",
        "max_inflight_messages",
        "max_packet_size",
    ];
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| keys.iter().any(|k| l.split_whitespace().next() == Some(k)))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), keys.len(), "limits in {}", path.display());
    lines
}

fn start_broker(bin: &Path, dir: &Path, port: u16, limits: &[String]) -> Proc {
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nconnection_messages false\nsys_interval 1\n{}\n",
            limits.join("\n")
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("mosquitto.log")).unwrap())
        .spawn()
        .expect("start mosquitto");
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "mosquitto did not listen"
    );
    Proc(Some(child))
}

struct Daemon {
    proc: Proc,
    log: PathBuf,
    started: Instant,
}

impl Daemon {
    fn start(bin: &Path, dir: &Path, log_name: &str) -> Self {
        let log = dir.join(log_name);
        let started = Instant::now();
        let child = Command::new(bin)
            .args(["run", "--config"])
            .arg(dir.join("bench.toml"))
            .env("RUST_LOG", "info,rumqttc=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start rampart");
        Self {
            proc: Proc(Some(child)),
            log,
            started,
        }
    }

    fn pid(&self) -> u32 {
        self.proc.pid()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `text` is in the log `count` times; the instant it was
    /// seen (polled every 2 ms).
    async fn wait_log(&self, text: &str, count: usize, within: Duration) -> Instant {
        let end = Instant::now() + within;
        loop {
            if self.log_text().matches(text).count() >= count {
                return Instant::now();
            }
            assert!(
                Instant::now() < end,
                "no `{text}` in the daemon's log within {within:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// SIGTERM; the exit status and the final counters.
    fn stop(mut self) -> (Option<ExitStatus>, BTreeMap<String, u64>, String) {
        let status = self.proc.terminate(Duration::from_secs(60));
        let log = self.log_text();
        (status, final_counters(&log), log)
    }
}

/// The counters the daemon logs as it stops (`rampart stopped counters={...}`).
fn final_counters(log: &str) -> BTreeMap<String, u64> {
    let Some(line) = log.lines().rev().find(|l| l.contains("rampart stopped")) else {
        return BTreeMap::new();
    };
    let Some(start) = line.find("counters={").map(|s| s + "counters={".len()) else {
        return BTreeMap::new();
    };
    let end = start + line[start..].find('}').unwrap_or(line.len() - start);
    line[start..end]
        .split(", ")
        .filter_map(|kv| {
            let (k, v) = kv.split_once(": ")?;
            Some((k.trim_matches('"').to_owned(), v.parse().ok()?))
        })
        .collect()
}

// ---------------------------------------------------------------- /proc

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

/// utime + stime of a process or thread, in clock ticks, from its stat file.
fn stat_ticks(path: &str) -> Option<(String, u64)> {
    let s = std::fs::read_to_string(path).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_owned();
    let f: Vec<&str> = s[close + 2..].split_whitespace().collect();
    // After the comm: state is field 3, utime 14 and stime 15 (1-based).
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(&format!("/proc/{pid}/stat")).map_or(0, |(_, t)| t)
}

/// One thread's counters.
#[derive(Debug, Clone, Default)]
struct ThreadStat {
    name: String,
    ticks: u64,
    /// Bytes it caused to be written to storage (`write_bytes` of its io
    /// file): SQLite's threads write the store, the runtime's workers only
    /// log lines.
    written: u64,
    /// Voluntary and involuntary context switches.
    switches: (u64, u64),
}

/// Per thread, by thread id.
fn thread_stats(pid: u32) -> HashMap<u32, ThreadStat> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Some((name, ticks)) = stat_ticks(&format!("/proc/{pid}/task/{tid}/stat")) else {
            continue;
        };
        let field = |file: &str, key: &str| -> u64 {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/{file}"))
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(key))
                        .and_then(|v| v.trim().parse().ok())
                })
                .unwrap_or(0)
        };
        out.insert(
            tid,
            ThreadStat {
                name,
                ticks,
                written: field("io", "write_bytes:"),
                switches: (
                    field("status", "voluntary_ctxt_switches:"),
                    field("status", "nonvoluntary_ctxt_switches:"),
                ),
            },
        );
    }
    out
}

/// What the daemon's threads did between two looks, busiest first:
/// (label, CPU seconds, MB written, context switches), and the CPU seconds
/// of the threads that wrote the store and of the others.
struct ThreadReport {
    rows: Vec<(String, f64, f64, u64)>,
    storage_s: f64,
    storage_mb: f64,
    other_s: f64,
}

fn thread_report(
    pid: u32,
    before: &HashMap<u32, ThreadStat>,
    after: &HashMap<u32, ThreadStat>,
) -> ThreadReport {
    let tck = clk_tck();
    let mut r = ThreadReport {
        rows: Vec::new(),
        storage_s: 0.0,
        storage_mb: 0.0,
        other_s: 0.0,
    };
    for (tid, a) in after {
        let b = before.get(tid).cloned().unwrap_or_default();
        let cpu = a.ticks.saturating_sub(b.ticks) as f64 / tck;
        let mb = a.written.saturating_sub(b.written) as f64 / 1e6;
        let switches =
            a.switches.0.saturating_sub(b.switches.0) + a.switches.1.saturating_sub(b.switches.1);
        // More than a log's worth: a thread of the store.
        if mb > 1.0 {
            r.storage_s += cpu;
            r.storage_mb += mb;
        } else {
            r.other_s += cpu;
        }
        if cpu >= 0.05 {
            let main = if *tid == pid { " (main)" } else { "" };
            r.rows
                .push((format!("{}/{tid}{main}", a.name), cpu, mb, switches));
        }
    }
    r.rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    r
}

impl ThreadReport {
    fn summary(&self, secs: f64) -> String {
        format!(
            "threads writing the store (SQLite on the blocking pool) {:.1} s, {:.0} MB written ({:.0} MB/s); other threads (runtime workers) {:.1} s; by thread: {}",
            self.storage_s,
            self.storage_mb,
            self.storage_mb / secs,
            self.other_s,
            self.rows
                .iter()
                .take(8)
                .map(|(n, s, mb, sw)| {
                    if *mb > 1.0 {
                        format!("{n} {s:.1} s ({mb:.0} MB, {sw} switches)")
                    } else {
                        format!("{n} {s:.1} s ({sw} switches)")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// (busy, total) jiffies of the whole machine.
fn machine_ticks() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = s
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------- daemon config

/// The daemon's config: `controllers` fence controllers spread evenly along
/// the wall, 5 zones each; defaults everywhere else.
fn daemon_config(dir: &Path, port: u16, wall_path: &Path, controllers: usize) -> (String, f64) {
    let wall = Wall::load(wall_path, 1000.0).expect("the demo wall");
    let length = wall.length_m();
    let per_zone = length / (controllers * ZONES) as f64;
    // Chainages rounded down to 0.1 m, so the last zone ends on the wall.
    let at = |k: usize| ((k as f64 * per_zone) * 10.0).floor() / 10.0;
    let mut c = format!(
        "instance = \"bench\"\nwall = \"{}\"\ndata_dir = \"{}\"\n\n[mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\n",
        wall_path.display(),
        dir.join("data").display()
    );
    for i in 0..controllers {
        c.push_str(&format!("\n[[fence]]\nid = \"{}\"\n", device(i)));
        for z in 0..ZONES {
            let k = i * ZONES + z;
            c.push_str(&format!(
                "[[fence.zones]]\nzone = {}\nstart_m = {:.1}\nend_m = {:.1}\n",
                z + 1,
                at(k),
                at(k + 1)
            ));
        }
    }
    (c, length)
}

fn device(i: usize) -> String {
    format!("fence-c{:03}", i + 1)
}

// ---------------------------------------------------------------- sentences

fn sentence(body: &str) -> String {
    let cs = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{cs:02X}\r\n")
}

/// One simulated fence controller.
struct Controller {
    idx: usize,
    id: String,
    topic: String,
    seq: u32,
    ticks: u64,
    rng: u64,
}

impl Controller {
    fn new(idx: usize) -> Self {
        let id = device(idx);
        Self {
            idx,
            topic: format!("rampart/v1/sensor/{id}"),
            id,
            seq: 0,
            ticks: 0,
            rng: 0x9e37_79b9_7f4a_7c15 ^ ((idx as u64 + 1) << 17),
        }
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    /// One tick's sentences: a reading per zone (zone 3 strong when asked),
    /// and a heartbeat every `hb_every` ticks (staggered by controller).
    fn tick(&mut self, strong: bool, hb_every: u64, tick_hz: f64) -> Vec<String> {
        let mut out = Vec::with_capacity(ZONES + 1);
        for zone in 1..=ZONES {
            let (rms, peak) = if strong && zone == STRONG_ZONE {
                (STRONG_RMS, STRONG_PEAK)
            } else {
                (
                    20 + (self.next() % 100) as u32,
                    50 + (self.next() % 300) as u32,
                )
            };
            let seq = self.seq();
            out.push(sentence(&format!(
                "RPFZ,{},{seq},{zone},{rms},{peak}",
                self.id
            )));
        }
        if (self.ticks + self.idx as u64).is_multiple_of(hb_every) {
            let seq = self.seq();
            let uptime = (self.ticks as f64 / tick_hz) as u64;
            out.push(sentence(&format!("RPHB,{},{seq},{uptime},OK", self.id)));
        }
        self.ticks += 1;
        out
    }

    fn tamper(&mut self, kind: &str) -> String {
        let seq = self.seq();
        sentence(&format!("RPTP,{},{seq},{kind}", self.id))
    }
}

// ---------------------------------------------------------------- publishing

/// A raw MQTT connection publishing at QoS 1, counting the broker's PUBACKs.
struct Publisher {
    write: OwnedWriteHalf,
    pkid: u16,
    sent: u64,
    acked: Arc<AtomicU64>,
    /// Time spent waiting for the broker (the window full).
    held: Duration,
    reader: tokio::task::JoinHandle<()>,
}

impl Publisher {
    async fn connect(port: u16, client_id: &str) -> Self {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut out = Vec::new();
        wire::encode_connect(
            &wire::Connect {
                client_id,
                keep_alive_s: 0,
                clean_session: true,
                username: None,
                password: None,
            },
            &mut out,
        );
        tcp.write_all(&out).await.unwrap();
        let mut buf = BytesMut::with_capacity(4096);
        let mut decoder = Decoder::new();
        loop {
            match decoder.decode(&mut buf, &|_| 0).unwrap() {
                Some(Incoming::ConnAck { code: 0, .. }) => break,
                Some(other) => panic!("{client_id}: unexpected {other:?}"),
                None => assert!(tcp.read_buf(&mut buf).await.unwrap() > 0, "broker closed"),
            }
        }
        let (mut read, write) = tcp.into_split();
        let acked = Arc::new(AtomicU64::new(0));
        let count = acked.clone();
        let reader = tokio::spawn(async move {
            loop {
                while let Ok(Some(p)) = decoder.decode(&mut buf, &|_| 0) {
                    if let Incoming::Other { packet_type: 4 } = p {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
                buf.reserve(64 * 1024);
                match read.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        Self {
            write,
            pkid: 0,
            sent: 0,
            acked,
            held: Duration::ZERO,
            reader,
        }
    }

    fn encode(&mut self, topic: &str, payload: Bytes, out: &mut Vec<u8>) {
        self.pkid = self.pkid.checked_add(1).unwrap_or(1);
        wire::encode_publish(
            &Publish {
                topic: topic.to_owned(),
                qos: QoS::AtLeastOnce,
                dup: false,
                retain: false,
                pkid: self.pkid,
                payload,
            },
            out,
        );
    }

    /// Writes `bytes` holding `messages` PUBLISHes, first waiting while the
    /// window is full.
    async fn send(&mut self, bytes: &[u8], messages: u64) {
        let began = Instant::now();
        let mut waited = false;
        while self.sent + messages - self.acked.load(Ordering::Relaxed) > WINDOW {
            waited = true;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if waited {
            self.held += began.elapsed();
        }
        self.write.write_all(bytes).await.expect("write to broker");
        self.sent += messages;
    }

    /// Waits until the broker has acknowledged everything sent.
    async fn settle(&self, within: Duration) {
        let end = Instant::now() + within;
        while self.acked.load(Ordering::Relaxed) < self.sent {
            assert!(
                Instant::now() < end,
                "broker acknowledged {} of {}",
                self.acked.load(Ordering::Relaxed),
                self.sent
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn close(mut self) {
        let mut out = Vec::new();
        wire::encode_disconnect(&mut out);
        let _ = self.write.write_all(&out).await;
        let _ = self.write.shutdown().await;
        self.reader.abort();
    }
}

/// What the generator and the alert watcher share.
struct Shared {
    /// Strong ticks still to send, per controller (set by the injector).
    strong: Vec<AtomicU8>,
    /// When each controller's completing strong reading was encoded.
    completed: Mutex<HashMap<usize, Instant>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    messages: u64,
    fz: u64,
    hb: u64,
    other: u64,
    bytes: u64,
}

impl Tally {
    fn sentences(&self) -> u64 {
        self.fz + self.hb + self.other
    }

    fn add(&mut self, o: &Tally) {
        self.messages += o.messages;
        self.fz += o.fz;
        self.hb += o.hb;
        self.other += o.other;
        self.bytes += o.bytes;
    }
}

#[derive(Clone, Copy)]
enum Until {
    /// Ticks at the plan's rate until this instant.
    Time(Instant),
    /// This many ticks per controller, as fast as the broker takes them.
    Ticks(u64),
}

#[derive(Clone, Copy)]
struct Plan {
    tick_hz: f64,
    hb_every: u64,
    spm: usize,
    until: Until,
}

struct TaskResult {
    publisher: Publisher,
    controllers: Vec<Controller>,
    tally: Tally,
    /// How far behind its schedule the task fell at worst.
    max_lag: Duration,
    last_send: Instant,
}

/// One publisher connection driving its share of the controllers, spread
/// evenly over the tick period.
async fn load_task(
    mut publisher: Publisher,
    mut controllers: Vec<Controller>,
    plan: Plan,
    shared: Arc<Shared>,
) -> TaskResult {
    publisher.held = Duration::ZERO;
    let n = controllers.len() as u64;
    let slot = 1.0 / plan.tick_hz / n as f64;
    let t0 = Instant::now();
    let (total, paced) = match plan.until {
        Until::Time(_) => (u64::MAX, true),
        Until::Ticks(k) => (k * n, false),
    };
    let due = |s: u64| {
        if paced {
            t0 + Duration::from_secs_f64(s as f64 * slot)
        } else {
            t0
        }
    };
    let mut tally = Tally::default();
    let mut max_lag = Duration::ZERO;
    let mut s = 0u64;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut last_send = t0;
    loop {
        let now = Instant::now();
        if let Until::Time(end) = plan.until {
            if due(s) >= end {
                break;
            }
        }
        if s >= total {
            break;
        }
        let mut messages = 0u64;
        while s < total && due(s) <= now && messages < 512 {
            max_lag = max_lag.max(now - due(s));
            let c = &mut controllers[(s % n) as usize];
            let left = shared.strong[c.idx].load(Ordering::Relaxed);
            let strong = left > 0;
            let sentences = c.tick(strong, plan.hb_every, plan.tick_hz);
            for line in &sentences {
                if line.starts_with("$RPFZ") {
                    tally.fz += 1;
                } else {
                    tally.hb += 1;
                }
            }
            let per = if plan.spm == 0 {
                sentences.len()
            } else {
                plan.spm
            };
            for chunk in sentences.chunks(per) {
                let payload = Bytes::from(chunk.concat());
                tally.bytes += payload.len() as u64;
                publisher.encode(&c.topic, payload, &mut out);
                messages += 1;
            }
            if strong {
                shared.strong[c.idx].store(left - 1, Ordering::Relaxed);
                if left == 1 {
                    shared
                        .completed
                        .lock()
                        .unwrap()
                        .insert(c.idx, Instant::now());
                }
            }
            s += 1;
        }
        if messages > 0 {
            publisher.send(&out, messages).await;
            out.clear();
            tally.messages += messages;
            last_send = Instant::now();
        }
        if s < total && due(s) > Instant::now() {
            let next = due(s).max(Instant::now() + Duration::from_millis(1));
            tokio::time::sleep_until(next.into()).await;
        }
    }
    TaskResult {
        publisher,
        controllers,
        tally,
        max_lag,
        last_send,
    }
}

/// Runs `plan` over all controllers on the publishers; returns them with
/// the sum of what was sent, the worst lag, the time held back by the
/// broker and when the last message went.
async fn run_load(
    publishers: Vec<Publisher>,
    controllers: Vec<Controller>,
    plan: Plan,
    shared: &Arc<Shared>,
) -> (
    Vec<Publisher>,
    Vec<Controller>,
    Tally,
    Duration,
    Duration,
    Instant,
) {
    let c = publishers.len();
    let mut shares: Vec<Vec<Controller>> = (0..c).map(|_| Vec::new()).collect();
    for ctl in controllers {
        shares[ctl.idx % c].push(ctl);
    }
    let tasks: Vec<_> = publishers
        .into_iter()
        .zip(shares)
        .map(|(p, share)| tokio::spawn(load_task(p, share, plan, shared.clone())))
        .collect();
    let mut publishers = Vec::new();
    let mut controllers = Vec::new();
    let mut tally = Tally::default();
    let mut lag = Duration::ZERO;
    let mut held = Duration::ZERO;
    let mut last: Option<Instant> = None;
    for t in tasks {
        let r = t.await.expect("load task");
        tally.add(&r.tally);
        lag = lag.max(r.max_lag);
        held += r.publisher.held;
        last = Some(last.map_or(r.last_send, |l| l.max(r.last_send)));
        publishers.push(r.publisher);
        controllers.extend(r.controllers);
    }
    controllers.sort_by_key(|c| c.idx);
    for p in &publishers {
        p.settle(Duration::from_secs(120)).await;
    }
    let last = last.unwrap_or_else(Instant::now);
    (publishers, controllers, tally, lag, held, last)
}

/// Publishes one sentence from controller `c` as its own message.
async fn publish_one(p: &mut Publisher, c: &Controller, line: String, tally: &mut Tally) {
    let mut out = Vec::new();
    tally.messages += 1;
    tally.other += 1;
    tally.bytes += line.len() as u64;
    p.encode(&c.topic, Bytes::from(line), &mut out);
    p.send(&out, 1).await;
    p.settle(Duration::from_secs(30)).await;
}

// ---------------------------------------------------------------- subscribers

fn subscriber(port: u16, client_id: &str, filter: &str) -> SubscriberOptions {
    SubscriberOptions {
        client_id: client_id.to_owned(),
        host: "127.0.0.1".to_owned(),
        port,
        keep_alive: Duration::from_secs(30),
        credentials: None,
        tls: None,
        subscriptions: vec![(filter.to_owned(), QoS::AtLeastOnce)],
    }
}

/// What the broker says of itself on `$SYS` (published every second):
/// the messages it holds (queued for clients, in flight) and the messages
/// it dropped because a client's queue was full.
#[derive(Default)]
struct BrokerStats {
    stored: AtomicU64,
    dropped: AtomicU64,
}

async fn watch_broker(port: u16, stats: Arc<BrokerStats>) {
    const STORED: &str = "$SYS/broker/store/messages/count";
    const DROPPED: &str = "$SYS/broker/publish/messages/dropped";
    let mut options = subscriber(port, "bench-sys", STORED);
    options.subscriptions = vec![
        (STORED.to_owned(), QoS::AtMostOnce),
        (DROPPED.to_owned(), QoS::AtMostOnce),
    ];
    let Ok(mut conn) = Connection::connect(&options).await else {
        return;
    };
    while let Ok(packet) = conn.next(&|_| 1024).await {
        if let Incoming::Publish(p) = packet {
            let Some(v) = std::str::from_utf8(&p.payload)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            else {
                continue;
            };
            match p.topic.as_str() {
                STORED => stats.stored.store(v, Ordering::Relaxed),
                DROPPED => stats.dropped.store(v, Ordering::Relaxed),
                _ => {}
            }
        }
    }
}

/// Removes a persistent session from the broker (a clean-session connect).
async fn forget_session(port: u16, client_id: &str) {
    let p = Publisher::connect(port, client_id).await;
    p.close().await;
}

/// A subscriber that only counts sentence messages, acknowledging each at
/// once; creates its persistent session and leaves.
async fn bare_register(port: u16) {
    let mut conn = Connection::connect(&subscriber(port, "bench-bare", "rampart/v1/sensor/+"))
        .await
        .expect("bare subscriber");
    match conn.next(&|_| 1 << 20).await.expect("suback") {
        Incoming::SubAck { .. } => {}
        other => panic!("bare subscriber: unexpected {other:?}"),
    }
    conn.into_closer().close(Duration::from_secs(5)).await;
}

/// Drains `expected` queued messages; the time from connecting to the last.
async fn bare_drain(port: u16, expected: u64) -> Duration {
    let began = Instant::now();
    let mut conn = Connection::connect(&subscriber(port, "bench-bare", "rampart/v1/sensor/+"))
        .await
        .expect("bare subscriber");
    assert!(conn.session_present, "the broker kept the bare session");
    let mut got = 0u64;
    while got < expected {
        let p = tokio::time::timeout(Duration::from_secs(60), conn.next(&|_| 1 << 20))
            .await
            .expect("the backlog keeps coming")
            .expect("bare subscriber");
        if let Incoming::Publish(p) = p {
            got += 1;
            if p.qos == QoS::AtLeastOnce {
                conn.ack(p.pkid);
            }
        }
    }
    let took = began.elapsed();
    conn.into_closer().close(Duration::from_secs(5)).await;
    took
}

#[derive(Debug)]
enum Seen {
    TamperRaised(Instant),
    TamperCleared(Instant),
}

/// A raised intrusion matched to its completing reading.
#[derive(Debug, Clone, Copy)]
struct Raised {
    controller: usize,
    completed: Instant,
    received: Instant,
}

#[derive(Debug, Default)]
struct Watched {
    raised: Vec<Raised>,
    /// Raised intrusions with no injection to match.
    unmatched: u64,
    /// Alert messages by kind and state.
    by_kind: BTreeMap<String, u64>,
}

/// The alert subscriber: matches raised intrusions to injections, reports
/// the markers' tamper alerts.
async fn watch_alerts(
    port: u16,
    shared: Arc<Shared>,
    watched: Arc<Mutex<Watched>>,
    markers: mpsc::UnboundedSender<Seen>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut conn = Connection::connect(&subscriber(port, "bench-alerts", "rampart/v1/alert/#"))
        .await
        .expect("alert subscriber");
    let mut ready = Some(ready);
    let marker = device(MARKER);
    loop {
        let Ok(p) = conn.next(&|_| 1 << 20).await else {
            return;
        };
        let p = match p {
            Incoming::Publish(p) => p,
            Incoming::SubAck { .. } => {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
                continue;
            }
            _ => continue,
        };
        let received = Instant::now();
        if p.qos == QoS::AtLeastOnce {
            conn.ack(p.pkid);
        }
        let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
        let kind = v["kind"].as_str().unwrap_or("?");
        let state = v["state"].as_str().unwrap_or("?");
        let sensors: Vec<&str> = v["sensors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str())
            .collect();
        let mut w = watched.lock().unwrap();
        *w.by_kind.entry(format!("{kind} {state}")).or_default() += 1;
        match (kind, state) {
            ("tamper", s) if sensors.iter().any(|x| x.starts_with(&marker)) => {
                let _ = markers.send(match s {
                    "cleared" => Seen::TamperCleared(received),
                    _ => Seen::TamperRaised(received),
                });
            }
            ("intrusion", "raised") => {
                let zone = format!("/zone{STRONG_ZONE}");
                let mut matched = false;
                for s in sensors {
                    let Some(n) = s
                        .strip_suffix(&zone)
                        .and_then(|d| d.strip_prefix("fence-c"))
                        .and_then(|n| n.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    if let Some(completed) = shared.completed.lock().unwrap().remove(&(n - 1)) {
                        w.raised.push(Raised {
                            controller: n - 1,
                            completed,
                            received,
                        });
                        matched = true;
                    }
                }
                if !matched {
                    w.unmatched += 1;
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- sampling

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    /// CPU ticks of the daemon and the broker, busy and total of the machine.
    daemon: u64,
    broker: u64,
    machine: (u64, u64),
    /// Messages the broker holds, and has dropped ($SYS).
    stored: u64,
    dropped: u64,
}

async fn sample(
    pids: (u32, u32),
    broker_stats: Arc<BrokerStats>,
    t0: Instant,
    stop: Arc<AtomicBool>,
    out: Arc<Mutex<Vec<Sample>>>,
) {
    while !stop.load(Ordering::Relaxed) {
        if let Some(rss_kib) = rss_kib(pids.0) {
            out.lock().unwrap().push(Sample {
                at: t0.elapsed(),
                rss_kib,
                daemon: cpu_ticks(pids.0),
                broker: cpu_ticks(pids.1),
                machine: machine_ticks(),
                stored: broker_stats.stored.load(Ordering::Relaxed),
                dropped: broker_stats.dropped.load(Ordering::Relaxed),
            });
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Picks the next controller for an injection: a stride through the wall,
/// skipping the marker, the storm and controllers used within REUSE_AFTER.
struct Picker {
    next: usize,
    stride: usize,
    last_used: Vec<Option<Instant>>,
    stormed: Vec<bool>,
}

impl Picker {
    fn new(n: usize) -> Self {
        // A stride coprime with n visits every controller.
        let stride = (7..n).find(|s| gcd(*s, n) == 1).unwrap_or(1);
        Self {
            next: 1,
            stride,
            last_used: vec![None; n],
            stormed: vec![false; n],
        }
    }

    fn eligible(&self, c: usize, now: Instant) -> bool {
        c != MARKER
            && !self.stormed[c]
            && self.last_used[c].is_none_or(|t| now.duration_since(t) > REUSE_AFTER)
    }

    fn pick(&mut self, now: Instant) -> Option<usize> {
        let n = self.last_used.len();
        for _ in 0..n {
            let c = self.next;
            self.next = (self.next + self.stride) % n;
            if self.eligible(c, now) {
                self.last_used[c] = Some(now);
                return Some(c);
            }
        }
        None
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

// ---------------------------------------------------------------- the run

struct Check {
    what: String,
    target: String,
    result: String,
    pass: bool,
}

fn check(checks: &mut Vec<Check>, what: &str, target: &str, result: String, pass: bool) {
    checks.push(Check {
        what: what.to_owned(),
        target: target.to_owned(),
        result,
        pass,
    });
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = match args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("sensor_load: a system benchmark; run it with `cargo bench --bench sensor_load -- --seconds N`");
            return;
        }
        Err(e) => {
            eprintln!("sensor_load: {e}");
            std::process::exit(2);
        }
    };
    let Some(mosquitto) = find("mosquitto") else {
        println!("SKIPPED sensor_load: mosquitto is not installed");
        return;
    };
    assert!(
        args.rampart.is_file(),
        "no rampart binary at {} (cargo build --release)",
        args.rampart.display()
    );
    let mosquitto_version = Command::new(&mosquitto)
        .arg("-h")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let load_at_start = loadavg();
    let tick_hz = args.rate / (args.controllers * ZONES) as f64;
    let hb_every = ((HB_PERIOD_S * tick_hz).round() as u64).max(1);
    eprintln!(
        "sensor_load: {} controllers × {ZONES} zones at {tick_hz:.2} Hz ({} sentences/s) for {} s; rampart {}; {mosquitto_version}; load average {load_at_start}",
        args.controllers,
        args.rate,
        args.seconds,
        args.rampart.display()
    );

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let limits = shipped_limits();
    let mut broker = start_broker(&mosquitto, dir.path(), port, &limits);
    let broker_pid = broker.pid();
    let broker_stats = Arc::new(BrokerStats::default());
    let broker_watch = tokio::spawn(watch_broker(port, broker_stats.clone()));
    let wall_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wall-iraq-syria-approx.geojson");
    let (config, wall_m) = daemon_config(dir.path(), port, &wall_path, args.controllers);
    std::fs::write(dir.path().join("bench.toml"), &config).unwrap();

    let shared = Arc::new(Shared {
        strong: (0..args.controllers).map(|_| AtomicU8::new(0)).collect(),
        completed: Mutex::new(HashMap::new()),
    });
    let watched = Arc::new(Mutex::new(Watched::default()));
    let (marker_tx, mut markers) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(watch_alerts(
        port,
        shared.clone(),
        watched.clone(),
        marker_tx,
        ready_tx,
    ));
    ready_rx.await.expect("alert subscriber ready");

    // ---- the daemon, on a fresh store
    let daemon = Daemon::start(&args.rampart, dir.path(), "rampart-1.log");
    let daemon_pid = daemon.pid();
    daemon
        .wait_log("mqtt source subscribed", 2, Duration::from_secs(60))
        .await;
    let mut publishers = Vec::new();
    for i in 0..args.connections {
        publishers.push(Publisher::connect(port, &format!("bench-gen-{i}")).await);
    }
    let mut marker_pub = Publisher::connect(port, "bench-marker").await;
    let mut controllers: Vec<Controller> = (0..args.controllers).map(Controller::new).collect();

    // ---- 4. the steady load
    let rss_samples = Arc::new(Mutex::new(Vec::new()));
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let sampler = tokio::spawn(sample(
        (daemon_pid, broker_pid),
        broker_stats.clone(),
        t0,
        stop_sampling.clone(),
        rss_samples.clone(),
    ));
    let self_pid = std::process::id();
    let cpu0 = (
        cpu_ticks(daemon_pid),
        cpu_ticks(broker_pid),
        cpu_ticks(self_pid),
        machine_ticks(),
        thread_stats(daemon_pid),
    );
    let run = Duration::from_secs(args.seconds);
    let end = t0 + run;
    let storm_at = t0 + run - Duration::from_secs(12);
    let injector = {
        let shared = shared.clone();
        let (n, storm_size) = (args.controllers, args.storm);
        tokio::spawn(async move {
            let mut picker = Picker::new(n);
            let mut injected = Vec::new();
            let mut storm = Vec::new();
            let mut storm_started = None;
            let mut next = t0 + Duration::from_secs(1);
            // The last injection completes 3 ticks later, well before the end.
            while next + Duration::from_secs(3) < end {
                tokio::time::sleep_until(next.into()).await;
                let now = Instant::now();
                if storm_started.is_none() && now >= storm_at {
                    for c in 0..n {
                        if storm.len() < storm_size && picker.eligible(c, now) {
                            picker.stormed[c] = true;
                            storm.push(c);
                        }
                    }
                    storm_started = Some(Instant::now());
                    for &c in &storm {
                        shared.strong[c].store(STRONG_TICKS, Ordering::Relaxed);
                    }
                } else if let Some(c) = picker.pick(now) {
                    shared.strong[c].store(STRONG_TICKS, Ordering::Relaxed);
                    injected.push(c);
                }
                next += Duration::from_secs(1);
            }
            (injected, storm, storm_started)
        })
    };
    let (publishers, controllers_back, steady, lag, held, last_send) = run_load(
        publishers,
        controllers,
        Plan {
            tick_hz,
            hb_every,
            spm: args.spm,
            until: Until::Time(end),
        },
        &shared,
    )
    .await;
    controllers = controllers_back;
    let sent_for = last_send.duration_since(t0);
    let cpu1 = (
        cpu_ticks(daemon_pid),
        cpu_ticks(broker_pid),
        cpu_ticks(self_pid),
        machine_ticks(),
        thread_stats(daemon_pid),
    );
    let (injected, storm, storm_started) = injector.await.unwrap();
    // ---- 5. the end marker: everything before it has been read
    let mut tail = Tally::default();
    let line = controllers[MARKER].tamper("CUT");
    let marked = Instant::now();
    publish_one(&mut marker_pub, &controllers[MARKER], line, &mut tail).await;
    let caught_up = loop {
        match tokio::time::timeout(Duration::from_secs(600), markers.recv()).await {
            Ok(Some(Seen::TamperRaised(at))) => break at,
            Ok(Some(_)) => continue,
            _ => panic!("no tamper alert for the end marker"),
        }
    };
    // Alerts still in flight (the storm's) get a moment, not so long
    // that the quiet controllers' heartbeat deadline passes.
    let storm_deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < storm_deadline {
        let got = watched
            .lock()
            .unwrap()
            .raised
            .iter()
            .filter(|r| storm_started.is_some_and(|s| r.completed >= s))
            .count();
        if got >= storm.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_sampling.store(true, Ordering::Relaxed);
    sampler.abort();
    let rss_end = rss_kib(daemon_pid);
    tokio::time::sleep(Duration::from_millis(1100)).await; // the next $SYS
    let dropped_steady = broker_stats.dropped.load(Ordering::Relaxed);
    // The daemon has read everything (the end marker): what the broker
    // still holds should be its retained messages and at most the daemon's
    // in-flight window.
    let held_at_end = broker_stats.stored.load(Ordering::Relaxed);
    let (status, counters, log) = daemon.stop();
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| (l.contains(" WARN ") || l.contains(" ERROR ")) && !l.contains(" ALERT "))
        .collect();
    if !complaints.is_empty() {
        eprintln!("the daemon's warnings and errors ({}):", complaints.len());
        for l in complaints.iter().take(40) {
            eprintln!("  {l}");
        }
    }
    let broker_log = std::fs::read_to_string(dir.path().join("mosquitto.log")).unwrap_or_default();
    if !broker_log.trim().is_empty() {
        eprintln!("the broker's log (errors and warnings):");
        for l in broker_log.lines().take(40) {
            eprintln!("  {l}");
        }
    }

    // ---- the drain comparison, the daemon's session kept by the broker
    bare_register(port).await;
    let ticks = args.backlog.div_ceil((args.controllers * ZONES) as u64);
    let began = Instant::now();
    let (publishers, mut controllers, mut backlog, _, _, _) = run_load(
        publishers,
        controllers,
        Plan {
            tick_hz,
            hb_every,
            spm: args.spm,
            until: Until::Ticks(ticks),
        },
        &shared,
    )
    .await;
    let line = controllers[MARKER].tamper("CLEAR");
    publish_one(&mut marker_pub, &controllers[MARKER], line, &mut backlog).await;
    eprintln!(
        "backlog: {} sentences in {} messages queued in {:.1} s",
        backlog.sentences(),
        backlog.messages,
        began.elapsed().as_secs_f64()
    );
    let (broker_before, self_before) = (cpu_ticks(broker_pid), cpu_ticks(self_pid));
    let bare_time = bare_drain(port, backlog.messages).await;
    let bare_cpu = (
        cpu_ticks(self_pid) - self_before,
        cpu_ticks(broker_pid) - broker_before,
    );
    forget_session(port, "bench-bare").await;
    eprintln!(
        "bare subscriber drained it in {:.2} s",
        bare_time.as_secs_f64()
    );

    let second = Daemon::start(&args.rampart, dir.path(), "rampart-2.log");
    let second_pid = second.pid();
    let connected = second
        .wait_log("mqtt source connected", 1, Duration::from_secs(60))
        .await;
    let drain_cpu0 = (cpu_ticks(second_pid), cpu_ticks(broker_pid));
    let drain_threads0 = thread_stats(second_pid);
    let drained = loop {
        match tokio::time::timeout(Duration::from_secs(300), markers.recv()).await {
            Ok(Some(Seen::TamperCleared(at))) => break at,
            Ok(Some(_)) => continue,
            _ => panic!(
                "no cleared tamper alert for the backlog's marker:\n{}",
                second.log_text()
            ),
        }
    };
    let daemon_time = drained.saturating_duration_since(connected);
    let drain_threads = thread_report(second_pid, &drain_threads0, &thread_stats(second_pid));
    let daemon_cpu = (
        cpu_ticks(second_pid) - drain_cpu0.0,
        cpu_ticks(broker_pid) - drain_cpu0.1,
    );
    let daemon_from_spawn = drained - second.started;
    eprintln!(
        "daemon drained it in {:.2} s from its CONNACK ({:.2} s from its start)",
        daemon_time.as_secs_f64(),
        daemon_from_spawn.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let dropped_total = broker_stats.dropped.load(Ordering::Relaxed);
    let (drain_status, drain_counters, drain_log) = second.stop();
    watcher.abort();
    for p in publishers {
        p.close().await;
    }
    marker_pub.close().await;
    broker_watch.abort();
    let _ = broker.terminate(Duration::from_secs(5));

    // ---- the figures
    let tck = clk_tck();
    let secs = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / tck;
    let cpu_daemon = secs(cpu0.0, cpu1.0);
    let cpu_broker = secs(cpu0.1, cpu1.1);
    let cpu_self = secs(cpu0.2, cpu1.2);
    let ((busy0, all0), (busy1, all1)) = (cpu0.3, cpu1.3);
    let machine_busy = (busy1 - busy0) as f64 / (all1 - all0).max(1) as f64 * 100.0;
    // Per thread (tokio names its workers and blocking threads alike).
    let threads = thread_report(daemon_pid, &cpu0.4, &cpu1.4);

    let w = watched.lock().unwrap();
    let storm_set: HashSet<usize> = storm.iter().copied().collect();
    let in_storm = |r: &Raised| {
        storm_started.is_some_and(|s| r.completed >= s) && storm_set.contains(&r.controller)
    };
    let mut lat: Vec<f64> = w
        .raised
        .iter()
        .filter(|r| !in_storm(r))
        .map(|r| ms(r.received - r.completed))
        .collect();
    lat.sort_by(f64::total_cmp);
    let storm_raised: Vec<&Raised> = w.raised.iter().filter(|r| in_storm(r)).collect();
    let mut lat_warm: Vec<f64> = w
        .raised
        .iter()
        .filter(|r| !in_storm(r) && r.completed >= t0 + Duration::from_secs(args.warmup))
        .map(|r| ms(r.received - r.completed))
        .collect();
    lat_warm.sort_by(f64::total_cmp);
    // Injections away from the storm (before it, or 10 s after it started).
    let mut lat_calm: Vec<f64> = w
        .raised
        .iter()
        .filter(|r| !in_storm(r))
        .filter(|r| {
            storm_started
                .is_none_or(|s| r.completed < s || r.completed > s + Duration::from_secs(10))
        })
        .map(|r| ms(r.received - r.completed))
        .collect();
    lat_calm.sort_by(f64::total_cmp);
    eprintln!("injected intrusions (time into the steady run, controller, publish-to-alert):");
    for r in w.raised.iter().filter(|r| !in_storm(r)) {
        eprintln!(
            "  t={:6.1} s {} {:5.0} ms",
            r.completed.duration_since(t0).as_secs_f64(),
            device(r.controller),
            ms(r.received - r.completed)
        );
    }
    let storm_first = storm_raised.iter().map(|r| r.completed).min();
    let storm_last_in = storm_raised.iter().map(|r| r.completed).max();
    let storm_last = storm_raised.iter().map(|r| r.received).max();
    let storm_all = match (storm_first, storm_last) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let mut storm_lat: Vec<f64> = storm_raised
        .iter()
        .map(|r| ms(r.received - r.completed))
        .collect();
    storm_lat.sort_by(f64::total_cmp);

    let samples = rss_samples.lock().unwrap().clone();
    eprintln!("samples (time, daemon RSS, daemon / broker CPU % of a core, machine busy %, messages the broker holds, dropped):");
    for pair in samples.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let dt = (b.at - a.at).as_secs_f64();
        eprintln!(
            "  t={:6.1} s {:7} KiB daemon {:3.0} % broker {:3.0} % machine {:3.0} % held {:7} dropped {}",
            b.at.as_secs_f64(),
            b.rss_kib,
            100.0 * secs(a.daemon, b.daemon) / dt,
            100.0 * secs(a.broker, b.broker) / dt,
            100.0 * (b.machine.0 - a.machine.0) as f64 / (b.machine.1 - a.machine.1).max(1) as f64,
            b.stored,
            b.dropped
        );
    }
    let warm = Duration::from_secs(args.warmup);
    let after_warmup: Vec<&Sample> = samples.iter().filter(|s| s.at >= warm).collect();
    let before_storm: Vec<&&Sample> = after_warmup
        .iter()
        .filter(|s| t0 + s.at < storm_at)
        .collect();
    let rss_first = after_warmup.first().map(|s| s.rss_kib);
    let rss_pre_storm = before_storm.last().map(|s| s.rss_kib);
    let rss_max = after_warmup.iter().map(|s| s.rss_kib).max();
    let rss_max_pre_storm = before_storm.iter().map(|s| s.rss_kib).max();
    let held_max = samples.iter().map(|s| s.stored).max().unwrap_or(0);

    let total = {
        let mut t = steady;
        t.add(&tail);
        t
    };
    let get = |k: &str| counters.get(k).copied().unwrap_or(0);
    let rejected: BTreeMap<&String, &u64> = counters
        .iter()
        .filter(|(k, v)| k.starts_with("rejected.") && **v > 0)
        .collect();
    let offered = steady.sentences() as f64 / sent_for.as_secs_f64();
    let offered_fz = steady.fz as f64 / sent_for.as_secs_f64();
    let offered_msgs = steady.messages as f64 / sent_for.as_secs_f64();
    let ratio = bare_time.as_secs_f64() / daemon_time.as_secs_f64();
    let per_message = if args.spm == 0 {
        format!("one message per controller tick ({ZONES} FZ, plus the HB when due)")
    } else {
        format!("at most {} sentence(s) per message", args.spm)
    };

    let mut checks = Vec::new();
    check(
        &mut checks,
        "offered rate",
        &format!("≥ 99 % of {:.0} FZ/s", args.rate),
        format!("{offered_fz:.0} FZ/s ({offered:.0} sentences/s with heartbeats)"),
        offered_fz >= 0.99 * args.rate,
    );
    check(
        &mut checks,
        "daemon exit",
        "SIGTERM, exit 0",
        format!("{status:?}"),
        status.is_some_and(|s| s.success()) && !log.contains("panicked"),
    );
    for (key, want) in [
        ("sentences.accepted", total.sentences()),
        ("sentences.decoded", total.sentences()),
        ("engine.sentences", total.sentences()),
        ("mqtt.in.messages", total.messages),
        ("sentences.duplicate", 0),
        ("mqtt.in.redelivered", 0),
        ("sentences.lost_by_seq_gap", 0),
        ("sentences.out_of_order", 0),
    ] {
        check(
            &mut checks,
            key,
            &format!("= {want}"),
            get(key).to_string(),
            get(key) == want,
        );
    }
    let drain_get = |k: &str| drain_counters.get(k).copied().unwrap_or(0);
    for (key, want) in [
        ("sentences.accepted", backlog.sentences()),
        ("mqtt.in.messages", backlog.messages),
        ("sentences.duplicate", 0),
        ("mqtt.in.redelivered", 0),
    ] {
        check(
            &mut checks,
            &format!("drain: {key}"),
            &format!("= {want}"),
            drain_get(key).to_string(),
            drain_get(key) == want,
        );
    }
    let drain_rejected: BTreeMap<&String, &u64> = drain_counters
        .iter()
        .filter(|(k, v)| k.starts_with("rejected.") && **v > 0)
        .collect();
    check(
        &mut checks,
        "drain: daemon exit, rejected.*",
        "exit 0, none",
        format!("{drain_status:?}, {drain_rejected:?}"),
        drain_status.is_some_and(|s| s.success())
            && !drain_log.contains("panicked")
            && drain_rejected.is_empty(),
    );
    check(
        &mut checks,
        "rejected.*",
        "none",
        if rejected.is_empty() {
            "none".into()
        } else {
            format!("{rejected:?}")
        },
        rejected.is_empty(),
    );
    check(
        &mut checks,
        "injected intrusions raised",
        &format!("{} of {}", injected.len(), injected.len()),
        format!(
            "{} (and {} raised with no injection)",
            lat.len(),
            w.unmatched
        ),
        lat.len() == injected.len() && w.unmatched == 0,
    );
    check(
        &mut checks,
        "publish-to-alert p99",
        &format!("≤ {P99_TARGET_MS:.0} ms"),
        format!(
            "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN)
        ),
        percentile(&lat, 0.99) <= P99_TARGET_MS,
    );
    check(
        &mut checks,
        "alert storm",
        &format!(
            "all {} raised within {:.0} s",
            args.storm,
            STORM_TARGET.as_secs_f64()
        ),
        format!(
            "{} raised; all in {}",
            storm_raised.len(),
            storm_all.map_or("—".into(), |d| format!("{:.2} s", d.as_secs_f64()))
        ),
        storm.len() == args.storm
            && storm_raised.len() == storm.len()
            && storm_all.is_some_and(|d| d <= STORM_TARGET),
    );
    let growth = match (rss_first, rss_pre_storm) {
        (Some(a), Some(b)) => b as i64 - a as i64,
        _ => i64::MAX,
    };
    check(
        &mut checks,
        "RSS flat",
        &format!(
            "≤ +{} MiB from after the warm-up to before the storm",
            RSS_GROWTH_LIMIT_KIB / 1024
        ),
        format!(
            "{:+.1} MiB ({} → {} KiB; max {} KiB)",
            growth as f64 / 1024.0,
            rss_first.unwrap_or(0),
            rss_pre_storm.unwrap_or(0),
            rss_max_pre_storm.unwrap_or(0)
        ),
        growth <= RSS_GROWTH_LIMIT_KIB as i64,
    );
    check(
        &mut checks,
        "drain ratio (bare ÷ daemon time)",
        &format!("≥ {RATIO_TARGET}"),
        format!("{ratio:.2}"),
        ratio >= RATIO_TARGET,
    );
    check(
        &mut checks,
        "broker: messages dropped ($SYS)",
        "0",
        format!("{dropped_steady} in the steady run, {dropped_total} in all"),
        dropped_total == 0,
    );
    check(
        &mut checks,
        "broker: messages held once the daemon caught up",
        &format!("≤ {HELD_AT_END_LIMIT} (retained states and the in-flight window)"),
        held_at_end.to_string(),
        held_at_end <= HELD_AT_END_LIMIT,
    );
    let kinds: Vec<String> = w
        .by_kind
        .iter()
        .filter(|(k, _)| !k.starts_with("intrusion") && !k.starts_with("tamper"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    check(
        &mut checks,
        "no other alerts",
        "no offline, fault",
        if kinds.is_empty() {
            "none".into()
        } else {
            kinds.join(", ")
        },
        kinds.is_empty(),
    );

    // ---- the report
    let mut r = String::new();
    let mut line = |s: String| {
        r.push_str(&s);
        r.push('\n');
    };
    line(format!(
        "### Sensor load: {} s at {:.0} sentences/s, {}",
        args.seconds, args.rate, per_message
    ));
    line(String::new());
    line("| | |".into());
    line("|---|---|".into());
    line(format!(
        "| Command | `cargo bench --bench sensor_load -- --seconds {} --rate {} --connections {}{}` |",
        args.seconds,
        args.rate,
        args.connections,
        if args.spm > 0 {
            format!(" --sentences-per-message {}", args.spm)
        } else {
            String::new()
        }
    ));
    line(format!(
        "| Machine | {} cores, load average at start {load_at_start}; {mosquitto_version} |",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    line(format!(
        "| Wall | {:.1} km, {} fence controllers × {ZONES} zones ({:.0} m each, zones {:.0} m) |",
        wall_m / 1000.0,
        args.controllers,
        wall_m / args.controllers as f64,
        wall_m / (args.controllers * ZONES) as f64
    ));
    line(format!(
        "| Load | {tick_hz:.2} Hz per controller, HB every {HB_PERIOD_S:.0} s, {per_message}, QoS 1, {} publisher connections |",
        args.connections
    ));
    line(format!(
        "| Offered (acknowledged by the broker) | {} sentences ({} FZ, {} HB) in {} messages over {:.1} s: **{offered:.0} sentences/s** ({offered_fz:.0} FZ/s, {offered_msgs:.0} messages/s, {:.1} MB/s of payload) |",
        steady.sentences(),
        steady.fz,
        steady.hb,
        steady.messages,
        sent_for.as_secs_f64(),
        steady.bytes as f64 / sent_for.as_secs_f64() / 1e6
    ));
    line(format!(
        "| Generator | worst lag behind schedule {:.0} ms; held back by the broker's acknowledgements {:.2} s in total |",
        ms(lag),
        held.as_secs_f64()
    ));
    line(format!(
        "| Daemon's lag | end marker published → its alert: {:.0} ms; messages held by the broker (`$SYS/broker/store/messages/count`, sampled every {} s): at most {held_max}, {held_at_end} once the daemon had read everything |",
        ms(caught_up - marked),
        SAMPLE_EVERY.as_secs()
    ));
    line(format!(
        "| Injected intrusions | {} (1/s); publish-to-alert **p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms**; after the warm-up ({}): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; without the 10 s from the storm's start ({}): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms |",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
        lat_warm.len(),
        percentile(&lat_warm, 0.5),
        percentile(&lat_warm, 0.99),
        lat_warm.last().copied().unwrap_or(f64::NAN),
        lat_calm.len(),
        percentile(&lat_calm, 0.5),
        percentile(&lat_calm, 0.99),
        lat_calm.last().copied().unwrap_or(f64::NAN)
    ));
    line(format!(
        "| Alert storm | {} of {} raised; first completing reading → last alert **{}**; completing readings spread over {:.0} ms; per alert p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms |",
        storm_raised.len(),
        storm.len(),
        storm_all.map_or("—".into(), |d| format!("{:.2} s", d.as_secs_f64())),
        match (storm_first, storm_last_in) {
            (Some(a), Some(b)) => ms(b - a),
            _ => f64::NAN,
        },
        percentile(&storm_lat, 0.5),
        percentile(&storm_lat, 0.99),
        storm_lat.last().copied().unwrap_or(f64::NAN)
    ));
    line(format!(
        "| Daemon RSS | after warm-up ({} s) {} KiB; before the storm {} KiB (max {}); after the storm {} KiB (max {}) |",
        args.warmup,
        rss_first.unwrap_or(0),
        rss_pre_storm.unwrap_or(0),
        rss_max_pre_storm.unwrap_or(0),
        rss_end.unwrap_or(0),
        rss_max.unwrap_or(0)
    ));
    line(format!(
        "| CPU during the steady run ({:.0} s) | daemon **{cpu_daemon:.1} s** ({:.0} % of a core), broker {cpu_broker:.1} s ({:.0} %), generator and watcher {cpu_self:.1} s ({:.0} %); machine busy {machine_busy:.0} % of both cores |",
        sent_for.as_secs_f64(),
        100.0 * cpu_daemon / sent_for.as_secs_f64(),
        100.0 * cpu_broker / sent_for.as_secs_f64(),
        100.0 * cpu_self / sent_for.as_secs_f64(),
    ));
    line(format!(
        "| Daemon threads, steady run | {} |",
        threads.summary(sent_for.as_secs_f64())
    ));
    line(format!(
        "| Daemon threads, drain | {} |",
        drain_threads.summary(daemon_time.as_secs_f64())
    ));
    line(format!(
        "| Drain of the same backlog | {} sentences in {} messages: bare subscriber **{:.2} s** ({:.0} sentences/s; CPU: its process {:.1} s, broker {:.1} s), daemon **{:.2} s** ({:.0} sentences/s; CPU: daemon {:.1} s, broker {:.1} s) from its CONNACK ({:.2} s from its start): **ratio {ratio:.2}** |",
        backlog.sentences(),
        backlog.messages,
        bare_time.as_secs_f64(),
        backlog.sentences() as f64 / bare_time.as_secs_f64(),
        bare_cpu.0 as f64 / tck,
        bare_cpu.1 as f64 / tck,
        daemon_time.as_secs_f64(),
        backlog.sentences() as f64 / daemon_time.as_secs_f64(),
        daemon_cpu.0 as f64 / tck,
        daemon_cpu.1 as f64 / tck,
        daemon_from_spawn.as_secs_f64()
    ));
    line(format!(
        "| Daemon counters | accepted {}, mqtt.in.messages {}, duplicate {}, backpressure {:?} |",
        get("sentences.accepted"),
        get("mqtt.in.messages"),
        get("sentences.duplicate"),
        counters
            .iter()
            .filter(|(k, _)| k.starts_with("backpressure."))
            .collect::<BTreeMap<_, _>>()
    ));
    line(format!(
        "| Alerts received | {} |",
        w.by_kind
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    line(String::new());
    line("| Check | Target | Result | |".into());
    line("|---|---|---|---|".into());
    for c in &checks {
        line(format!(
            "| {} | {} | {} | {} |",
            c.what,
            c.target,
            c.result,
            if c.pass { "PASS" } else { "**FAIL**" }
        ));
    }
    println!("\n{r}");
    for c in &checks {
        println!(
            "{} {}: {} (target {})",
            if c.pass { "PASS" } else { "FAIL" },
            c.what,
            c.result,
            c.target
        );
    }
    let passed = checks.iter().all(|c| c.pass);
    println!(
        "RESULT {} offered_sentences_per_s={offered:.0} p99_ms={:.0} storm_s={:.2} drain_ratio={ratio:.2}",
        if passed { "PASS" } else { "FAIL" },
        percentile(&lat, 0.99),
        storm_all.map_or(f64::NAN, |d| d.as_secs_f64())
    );
    if std::env::var_os("SENSOR_LOAD_KEEP").is_some() {
        let kept = dir.keep();
        println!("kept {}", kept.display());
    }
    let _ = std::io::stdout().flush();
}
