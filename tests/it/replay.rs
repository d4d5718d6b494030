//! Record and replay with the real binary: the daemon records what it
//! receives, `rampart replay` reproduces the alerts it raised and tells two
//! fence thresholds apart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rampart::sim::pty::Pty;
use serde_json::Value;

use crate::harness::{free_port, sentence, stored_alerts, Watcher};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(15);

/// The test config with a camera and the fence RMS threshold at `rms_mg`
/// (fence-s1's zone 2 takes it: 2 of 3 readings at or over it). Every kind
/// of evidence alerts alone here, so one fence zone just over its threshold
/// tells the two configs apart.
fn config(dir: &Path, port: u16, serial: &Path, rms_mg: f64) -> String {
    format!(
        "{}{}\n[detection.fence]\nrms_mg = {rms_mg:.1}\n[detection.fusion]\ncorroborate = []\n",
        test_config(dir, port, true, serial),
        crate::camera::camera_config(),
    )
}

/// `rampart run --record`: the harness's `Daemon` with the recording flag.
struct Recording {
    child: Option<Child>,
    log: PathBuf,
}

impl Recording {
    fn start(config: &Path, recording: &Path, log: PathBuf) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(["run", "--config"])
            .arg(config)
            .arg("--record")
            .arg(recording)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start rampart");
        Self {
            child: Some(child),
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `count` lines of the log contain `text`.
    async fn wait_log(&self, text: &str, count: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.log_text().lines().filter(|l| l.contains(text)).count() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no `{text}` in the log within {within:?}:\n{}",
            self.log_text()
        );
    }

    /// SIGTERM, then the exit status (bounded).
    fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("rampart did not stop within 15 s:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!("--- rampart log ---\n{}", self.log_text());
            }
        }
    }
}

fn replay(args: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
    cmd.arg("replay");
    for a in args {
        cmd.arg(a);
    }
    cmd.output().expect("run rampart replay")
}

/// `rampart replay --json ...`, which must succeed.
fn replay_json(args: &[&Path]) -> Value {
    let mut all = args.to_vec();
    all.push(Path::new("--json"));
    let out = replay(&all);
    assert!(
        out.status.success(),
        "replay failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn intrusions_in<'a>(incidents: &'a Value, segment: &str) -> Vec<&'a Value> {
    incidents
        .as_array()
        .expect("incidents")
        .iter()
        .filter(|i| i["kind"] == "intrusion" && i["segment"] == segment)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_replays_the_live_alerts_and_tells_two_thresholds_apart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let link = d.join("tty/fence-s1");
    let mut pty = Pty::open(&link).expect("pseudo-terminal");
    let (old, new) = (d.join("old.toml"), d.join("new.toml"));
    std::fs::write(&old, config(d, port, &link, 400.0)).unwrap();
    std::fs::write(&new, config(d, port, &link, 600.0)).unwrap();
    let recording = d.join("input.rrec");

    // Live, with the OLD threshold (400 mg), recording.
    let daemon = Recording::start(&old, &recording, d.join("rampart.log"));
    let mut w = Watcher::start(port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("serial port opened", 1, WAIT).await;
    // One subscription each for sensors, acknowledgements and frames.
    daemon.wait_log("mqtt source subscribed", 3, WAIT).await;
    // fence-quiet never speaks (2 s deadline): offline before anything else.
    w.alert(WAIT, "fence-quiet offline", |v| {
        v["kind"] == "sensor_offline" && v["state"] == "raised"
    })
    .await;
    // Two readings at 500 mg on zone 2 (2 of 3 needed), a bad line between.
    let burst = format!(
        "{}$RPFZ,fence-s1,9,2,500,800*00\r\n{}",
        sentence("RPFZ,fence-s1,1,2,500,800"),
        sentence("RPFZ,fence-s1,2,2,500,800")
    );
    pty.send(burst.as_bytes());
    let fence = w
        .alert(WAIT, "fence intrusion in S012", |v| {
            v["kind"] == "intrusion" && v["state"] == "raised" && v["segment_id"] == "S012"
        })
        .await;
    let fence_id = fence["id"].as_str().unwrap().to_owned();
    // A geophone far over its threshold: an intrusion with either config.
    w.publish(
        "rampart/v1/sensor/trench-m1",
        sentence("RPGS,trench-m1,1,0,5000").as_bytes(),
    )
    .await;
    w.alert(WAIT, "ground intrusion in S250", |v| {
        v["kind"] == "intrusion" && v["state"] == "raised" && v["segment_id"] == "S250"
    })
    .await;
    w.publish(
        "rampart/v1/ack",
        format!(r#"{{"id": "{fence_id}", "by": "op-7"}}"#).as_bytes(),
    )
    .await;
    w.alert(WAIT, "the acknowledgement", |v| {
        v["id"] == fence_id.as_str() && v["acked_by"] == "op-7"
    })
    .await;
    // A frame (it only seeds the background) and one that is not a frame:
    // once the second is rejected, both are in the recording.
    let frame = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/frames/test-frame.rtf1"
    ))
    .unwrap();
    w.publish("rampart/v1/camera/cam-t/frame", &frame).await;
    w.publish("rampart/v1/camera/cam-t/frame", &[b'?'; 40])
        .await;
    daemon.wait_log("reason=\"unknown_format\"", 1, WAIT).await;
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("recording closed"), "{log}");
    assert!(
        !log.contains("\"record.dropped\""),
        "nothing dropped:\n{log}"
    );

    // Plain replay with OLD reproduces every incident the daemon raised:
    // same ids (the recording keeps the id prefix), kinds and segments.
    let mut live: Vec<(String, String, String)> =
        stored_alerts(&d.join("data"), &["--state", "raised"])
            .iter()
            .map(|r| &r["message"])
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap().to_owned();
                (s("id"), s("kind"), s("segment_id"))
            })
            .collect();
    let doc = replay_json(&[Path::new("--config"), &old, &recording]);
    let mut replayed: Vec<(String, String, String)> = doc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap().to_owned();
            (s("id"), s("kind"), s("segment"))
        })
        .collect();
    live.sort();
    replayed.sort();
    assert_eq!(replayed, live);
    assert_eq!(live.len(), 3, "offline, fence and ground: {live:?}");
    let acked = doc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == fence_id.as_str())
        .unwrap();
    assert!(
        acked["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["acked_by"] == "op-7"),
        "the acknowledgement replays too: {acked:#}"
    );
    assert_eq!(doc["counts"]["rejected"]["checksum_mismatch"], 1);
    assert_eq!(doc["counts"]["rejected"]["unknown_format"], 1);
    assert_eq!(
        doc["counts"]["frames"], 1,
        "every recorded frame is processed"
    );
    assert_eq!(doc["counts"]["sentences"], 3);
    assert!(doc["speed"]["records_per_s"].as_f64().unwrap() > 0.0);

    // NEW (600 mg) against OLD (400 mg): the fence intrusion disappears,
    // the others are unchanged.
    let doc = replay_json(&[
        Path::new("--config"),
        &new,
        &recording,
        Path::new("--compare"),
        &old,
    ]);
    let c = &doc["compare"];
    assert_eq!(intrusions_in(&c["disappear"], "S012").len(), 1, "{c:#}");
    assert_eq!(c["disappear"].as_array().unwrap().len(), 1, "{c:#}");
    assert!(c["appear"].as_array().unwrap().is_empty(), "{c:#}");
    assert!(c["changed"].as_array().unwrap().is_empty(), "{c:#}");
    assert_eq!(c["unchanged"].as_array().unwrap().len(), 2, "{c:#}");
    assert!(intrusions_in(&doc["incidents"], "S012").is_empty());
    assert_eq!(intrusions_in(&doc["incidents"], "S250").len(), 1);
    // And the other way round it appears.
    let doc = replay_json(&[
        Path::new("--config"),
        &old,
        &recording,
        Path::new("--compare"),
        &new,
    ]);
    assert_eq!(intrusions_in(&doc["compare"]["appear"], "S012").len(), 1);
    assert!(doc["compare"]["disappear"].as_array().unwrap().is_empty());

    // The table says the same for people.
    let out = replay(&[
        Path::new("--config"),
        &new,
        &recording,
        Path::new("--compare"),
        &old,
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let disappear = text
        .split("disappear (only with OLD): 1")
        .nth(1)
        .expect(&text);
    let disappear = disappear.split("changed:").next().unwrap();
    assert!(
        disappear.contains("intrusion") && disappear.contains("S012"),
        "{text}"
    );
    assert!(
        text.contains("replay: ") && text.contains("x realtime"),
        "{text}"
    );

    // A crash leaves a truncated tail: replayed up to it, with a warning.
    let bytes = std::fs::read(&recording).unwrap();
    let cut = d.join("cut.rrec");
    std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
    let out = replay(&[Path::new("--config"), &old, &cut, Path::new("--json")]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not closed cleanly"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["incidents"].as_array().unwrap().len(), 3);

    // A bad config exits 3, its problems as check-config prints them; a
    // command line naming no usable recording exits 2.
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "wall = 7\n").unwrap();
    let out = replay(&[Path::new("--config"), &bad, &recording]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 problem(s)"));
    let out = replay(&[Path::new("--config"), &old, &old]);
    assert_eq!(out.status.code(), Some(2), "a config is not a recording");
    let out = replay(&[Path::new("--config"), &old]);
    assert_eq!(out.status.code(), Some(2), "no recording given");
}
