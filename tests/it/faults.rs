//! Fault tests for delivery: the daemon killed with SIGKILL at random
//! moments, the broker stopped and started under a stream of alerts, and
//! the data directory filling up or turning read-only. Each ends by
//! checking that every alert message the store holds reached a subscriber.
//!
//! The alert stream comes over a serial line (a pseudo-terminal), so it
//! goes on while the broker is away: four fence controllers cycle through
//! tamper CUT, ENCLOSURE and CLEAR, each a raised, updated or cleared alert.
//! CI runs few cycles; the long runs are
//! `RAMPART_KILL_CYCLES=50 RAMPART_BROKER_RESTARTS=20 cargo test --test it faults -- --nocapture`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart::sim::pty::Pty;
use serde_json::Value;

use crate::harness::{random_ms, seed, sentence, stored_alerts, Daemon, Mosquitto, Watcher};
use crate::wall_file;

const WAIT: Duration = Duration::from_secs(20);
const DEVICES: [&str; 4] = ["fence-k1", "fence-k2", "fence-k3", "fence-k4"];

fn count_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Four fence controllers on one serial line, 10 km apart.
fn config(dir: &Path, port: u16, serial: &Path) -> String {
    let mut fences = String::new();
    for (i, d) in DEVICES.iter().enumerate() {
        let start = 100_000.0 + 10_000.0 * i as f64;
        fences.push_str(&format!(
            "[[fence]]\nid = \"{d}\"\n[[fence.zones]]\nzone = 1\nstart_m = {start}\nend_m = {}\n",
            start + 200.0
        ));
    }
    format!(
        r#"
instance = "fault"
wall = "{wall}"
data_dir = "{data}"

[mqtt]
url = "mqtt://127.0.0.1:{port}"
reconnect_max = "500ms"

[detection]
heartbeat_deadline = "10m"

[[serial]]
path = "{serial}"
devices = {devices:?}
retry_max = "200ms"

{fences}"#,
        wall = wall_file().display(),
        data = dir.join("data").display(),
        serial = serial.display(),
        devices = DEVICES,
    )
}

/// Writes tamper sentences to the line every `every` until stopped: device
/// after device, CUT, ENCLOSURE, CLEAR.
struct Stream {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Stream {
    fn start(mut pty: Pty, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let kinds = ["CUT", "ENCLOSURE", "CLEAR"];
            let mut n: u64 = 0;
            while !flag.load(Ordering::Relaxed) {
                let device = DEVICES[(n / 3) as usize % DEVICES.len()];
                let kind = kinds[(n % 3) as usize];
                pty.send(sentence(&format!("RPTP,{device},{},{kind}", n + 1)).as_bytes());
                n += 1;
                std::thread::sleep(every);
            }
            n
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops writing; returns how many sentences were written.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap_or(0))
    }
}

/// `(id, rev)` of an alert message.
fn key(v: &Value) -> (String, u64) {
    (
        v["id"].as_str().unwrap_or_default().to_owned(),
        v["rev"].as_u64().unwrap_or_default(),
    )
}

/// Waits (bounded) until the store's outbox is empty.
async fn wait_outbox_empty(data: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let unsent = stored_alerts(data, &["--state", "unsent"]).len();
        if unsent == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{unsent} alert message(s) still unsent after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What reached the subscriber against what the store holds.
struct Tally {
    stored: usize,
    received: usize,
    lost: Vec<(String, u64)>,
    duplicates: usize,
}

fn tally(data: &Path, w: &Watcher) -> Tally {
    let stored: Vec<(String, u64)> = stored_alerts(data, &[])
        .iter()
        .map(|r| key(&r["message"]))
        .collect();
    let mut received: HashMap<(String, u64), usize> = HashMap::new();
    for r in w.seen.iter().filter(|r| r.topic.contains("/v1/alert/")) {
        *received.entry(key(&r.json())).or_default() += 1;
    }
    Tally {
        stored: stored.len(),
        received: received.values().sum(),
        lost: stored
            .into_iter()
            .filter(|k| !received.contains_key(k))
            .collect(),
        duplicates: received.values().map(|n| n - 1).sum(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_no_stored_alert() {
    let Some(broker) = Mosquitto::start("kill -9 loop") else {
        return;
    };
    let cycles = count_from_env("RAMPART_KILL_CYCLES", 8);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let link = dir.path().join("tty/ctl");
    let pty = Pty::open(&link).expect("pseudo-terminal");
    let config = config(dir.path(), broker.port, &link);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/#"]).await;
    let stream = Stream::start(pty, Duration::from_millis(40));
    let mut rng = seed();
    let mut unsent_at_kill = 0;
    let started = Instant::now();
    for _ in 0..cycles {
        let daemon = Daemon::start(dir.path(), &config);
        daemon.wait_log("serial port opened", 1, WAIT).await;
        tokio::time::sleep(Duration::from_millis(random_ms(&mut rng, 300, 1500))).await;
        daemon.kill();
        unsent_at_kill += stored_alerts(&data, &["--state", "unsent"]).len();
        w.drain(Duration::from_millis(20)).await;
    }
    let written = stream.stop();
    // A last run sends what the last kill left in the outbox.
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("mqtt publisher connected", 1, WAIT).await;
    wait_outbox_empty(&data, WAIT).await;
    let log = daemon.log.clone();
    let status = daemon.stop();
    assert!(
        status.success(),
        "{status:?}\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    w.drain(Duration::from_secs(1)).await;
    let t = tally(&data, &w);
    eprintln!(
        "kill -9 loop: {cycles} cycles in {:.0} s, {written} sentences written, {} alert messages stored, {} received, {} lost, {} duplicates, {unsent_at_kill} unsent at the kills",
        started.elapsed().as_secs_f64(),
        t.stored,
        t.received,
        t.lost.len(),
        t.duplicates
    );
    assert!(
        t.stored >= cycles,
        "the stream raised too few alerts ({}) to test anything",
        t.stored
    );
    assert!(t.lost.is_empty(), "stored but never received: {:?}", t.lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restarts_under_a_stream_of_alerts_lose_none() {
    let Some(mut broker) = Mosquitto::start_persistent("broker restarts") else {
        return;
    };
    let restarts = count_from_env("RAMPART_BROKER_RESTARTS", 6);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let link = dir.path().join("tty/ctl");
    let pty = Pty::open(&link).expect("pseudo-terminal");
    let config = config(dir.path(), broker.port, &link);
    let mut w =
        Watcher::start_persistent(broker.port, &["rampart/v1/alert/#"], "fault-watcher").await;
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("mqtt publisher connected", 1, WAIT).await;
    let stream = Stream::start(pty, Duration::from_millis(40));
    let mut rng = seed();
    let started = Instant::now();
    for i in 0..restarts {
        tokio::time::sleep(Duration::from_millis(random_ms(&mut rng, 300, 1000))).await;
        let signal = if i % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGKILL
        };
        eprintln!(
            "{}: broker stopped with {}",
            rampart::time::Timestamp::now(),
            if signal == libc::SIGTERM {
                "SIGTERM"
            } else {
                "SIGKILL"
            }
        );
        broker.stop(signal);
        // Alerts pile up in the outbox meanwhile.
        tokio::time::sleep(Duration::from_millis(random_ms(&mut rng, 200, 1500))).await;
        broker.start_again();
        eprintln!("{}: broker started", rampart::time::Timestamp::now());
        w.drain(Duration::from_millis(20)).await;
    }
    let written = stream.stop();
    wait_outbox_empty(&data, Duration::from_secs(30)).await;
    let when: HashMap<(String, u64), (Value, Value)> = stored_alerts(&data, &[])
        .iter()
        .map(|r| {
            (
                key(&r["message"]),
                (
                    r["message"]["published_at"].clone(),
                    r["delivered_at"].clone(),
                ),
            )
        })
        .collect();
    let log = daemon.log_text();
    assert!(daemon.stop().success());
    w.drain(Duration::from_secs(2)).await;
    let t = tally(&data, &w);
    let lost_broker = log.matches("mqtt publisher lost the broker").count();
    eprintln!(
        "broker restarts: {restarts} ({} SIGTERM, {} SIGKILL) in {:.0} s, {written} sentences written, {} alert messages stored, {} received, {} lost, {} duplicates, {lost_broker} losses of the broker logged",
        restarts.div_ceil(2),
        restarts / 2,
        started.elapsed().as_secs_f64(),
        t.stored,
        t.received,
        t.lost.len(),
        t.duplicates
    );
    assert!(lost_broker >= 1, "the daemon never noticed the broker go");
    assert!(
        t.stored >= restarts,
        "too few alerts ({}) to test anything",
        t.stored
    );
    assert!(
        t.lost.is_empty(),
        "stored but never received (published, delivered): {:?}",
        t.lost.iter().map(|k| (k, &when[k])).collect::<Vec<_>>()
    );
}

/// A small tmpfs mounted for the test, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `8m`), or says why it cannot.
    fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system up with one file; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        // Whatever is left, byte by byte-ish.
        while f.write_all(&chunk[..512]).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Waits for a health report saying the store is `ok` (or not) after
/// `failures` failures.
async fn wait_store_health(w: &mut Watcher, ok: bool, failures: u64) -> Value {
    let what = format!("health with store.ok = {ok} after {failures} failure(s)");
    w.wait_for(WAIT, &what, |r| {
        let v = r.json();
        r.topic == "rampart/v1/daemon/fault/health"
            && v["store"]["ok"] == ok
            && v["store"]["failures"] == failures
    })
    .await
    .json()
}

/// Writes `n` tamper sentences (CUT, CLEAR, ...) for one device directly.
fn burst(pty: &mut Pty, device: &str, seq: &mut u32, n: u32) {
    for _ in 0..n {
        *seq += 1;
        let kind = if *seq % 2 == 1 { "CUT" } else { "CLEAR" };
        pty.send(sentence(&format!("RPTP,{device},{seq},{kind}")).as_bytes());
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Alert messages received so far.
fn alerts_seen(w: &Watcher) -> usize {
    w.seen
        .iter()
        .filter(|r| r.topic.contains("/v1/alert/"))
        .count()
}

/// Waits until `n` alert messages have been received in all.
async fn wait_alerts(w: &mut Watcher, n: usize, what: &str) {
    let deadline = Instant::now() + WAIT;
    while alerts_seen(w) < n {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {n} alert messages received",
            alerts_seen(w)
        );
        w.drain(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_and_alerts_still_go_out() {
    let Some(broker) = Mosquitto::start("disk full") else {
        return;
    };
    let fs = match Tmpfs::mount("4m") {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("SKIPPED disk full: cannot mount a tmpfs here ({why}); run as root");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/ctl");
    let mut pty = Pty::open(&link).expect("pseudo-terminal");
    // The data directory is the tmpfs itself.
    let config = config(dir.path(), broker.port, &link).replace(
        &format!("data_dir = \"{}\"", dir.path().join("data").display()),
        &format!("data_dir = \"{}\"", fs.path().display()),
    );
    let mut w = Watcher::start(broker.port, &["rampart/v1/#"]).await;
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("serial port opened", 1, WAIT).await;
    wait_store_health(&mut w, true, 0).await;
    let mut seq = 0;
    burst(&mut pty, "fence-k1", &mut seq, 4);
    wait_alerts(&mut w, 4, "before the disk fills").await;
    let stored_before = stored_alerts(fs.path(), &[]).len();
    assert_eq!(stored_before, 4);

    // Full: alerts still go out over MQTT; the store's failure is loud.
    let filler = fs.fill();
    burst(&mut pty, "fence-k2", &mut seq, 6);
    wait_alerts(&mut w, 10, "with the disk full").await;
    let health = wait_store_health(&mut w, false, 1).await;
    assert!(
        health["store"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("full")),
        "{health}"
    );
    daemon.wait_log("alert store cannot commit", 1, WAIT).await;

    // Space returns: the store commits again (probed within 5 s).
    std::fs::remove_file(&filler).unwrap();
    wait_store_health(&mut w, true, 1).await;
    daemon
        .wait_log("alert store: committing again", 1, WAIT)
        .await;
    burst(&mut pty, "fence-k3", &mut seq, 4);
    wait_alerts(&mut w, 14, "after the space returned").await;

    // Full a second time, and back: counted as a second failure.
    let filler = fs.fill();
    burst(&mut pty, "fence-k4", &mut seq, 4);
    wait_alerts(&mut w, 18, "with the disk full again").await;
    let health = wait_store_health(&mut w, false, 2).await;
    assert!(health["store"]["last_error"].is_string(), "{health}");
    std::fs::remove_file(&filler).unwrap();
    wait_store_health(&mut w, true, 2).await;
    burst(&mut pty, "fence-k1", &mut seq, 2);
    wait_alerts(&mut w, 20, "after the space returned again").await;

    let log = daemon.log.clone();
    let status = daemon.stop();
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    // What the store could take is there; what it could not went out anyway.
    let stored = stored_alerts(fs.path(), &[]).len();
    eprintln!(
        "disk full: 20 alert messages, all published; {stored} kept in the store (the rest were sent while it could not commit)"
    );
    assert!(
        (4 + 4 + 2..20).contains(&stored),
        "stored {stored}: before + after recovery, but not those sent while failing"
    );
}

/// The daemon on a broker that is then killed, with `n` tamper alerts
/// raised while it is away (so they wait in the outbox).
async fn alerts_waiting_for_a_dead_broker(
    dir: &Path,
    broker: &mut Mosquitto,
    n: u32,
) -> (Daemon, Pty) {
    let link = dir.join("tty/ctl");
    let mut pty = Pty::open(&link).expect("pseudo-terminal");
    let daemon = Daemon::start(dir, &config(dir, broker.port, &link));
    daemon.wait_log("mqtt publisher connected", 1, WAIT).await;
    daemon.wait_log("serial port opened", 1, WAIT).await;
    broker.stop(libc::SIGKILL);
    daemon
        .wait_log("mqtt publisher lost the broker", 1, WAIT)
        .await;
    let mut seq = 0;
    burst(&mut pty, "fence-k1", &mut seq, n);
    daemon.wait_log("tamper", n as usize, WAIT).await;
    (daemon, pty)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_with_the_broker_away_keeps_the_alerts_for_the_next_run() {
    let Some(mut broker) = Mosquitto::start("graceful stop, broker away") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (daemon, _pty) = alerts_waiting_for_a_dead_broker(dir.path(), &mut broker, 3).await;
    let log = daemon.log.clone();
    let asked = Instant::now();
    let status = daemon.stop();
    let took = asked.elapsed();
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(
        took < Duration::from_secs(10),
        "the shutdown deadline was not kept: {took:?}"
    );
    assert!(
        log.contains("stay in the outbox for the next start"),
        "{log}"
    );
    assert_eq!(stored_alerts(&data, &["--state", "unsent"]).len(), 3);

    // The next run, with the broker back, sends them first.
    broker.start_again();
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/#"]).await;
    let link = dir.path().join("tty/ctl");
    let daemon = Daemon::start(dir.path(), &config(dir.path(), broker.port, &link));
    wait_alerts(&mut w, 3, "the outbox of the previous run").await;
    wait_outbox_empty(&data, WAIT).await;
    assert!(daemon.stop().success());
    let t = tally(&data, &w);
    assert!(t.lost.is_empty(), "{:?}", t.lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let Some(mut broker) = Mosquitto::start("second signal") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _pty) = alerts_waiting_for_a_dead_broker(dir.path(), &mut broker, 2).await;
    // The first signal starts a shutdown that waits up to 5 s for the
    // broker's acknowledgements; the second cuts it short.
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(daemon.pid() as i32, libc::SIGTERM) };
    daemon
        .wait_log("send another to exit at once", 1, WAIT)
        .await;
    let asked = Instant::now();
    let status = daemon.stop();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
}
