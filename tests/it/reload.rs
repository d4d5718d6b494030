//! Hot reload with the real binary: a threshold changed mid-stream applies
//! to the next readings, no reading is lost, and a broken file is refused
//! (logged and published) while the running config stays.

use std::time::Duration;

use crate::harness::{free_port, sentence, Daemon, Watcher};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(15);

/// The shared test config with fence zone thresholds at `rms_mg`, where one
/// fence zone alone may alert.
fn config(dir: &std::path::Path, port: u16, rms_mg: f64) -> String {
    format!(
        "{}\n[detection.fence]\nrms_mg = {rms_mg:.1}\npeak_mg = 9000.0\n[detection.fusion]\ncorroborate = []\n",
        test_config(dir, port, true, &dir.join("no-such-tty"))
    )
}

/// Zone 1 of fence-s1 at 600 mg, sequence number `seq`.
fn reading(seq: u32) -> Vec<u8> {
    sentence(&format!("RPFZ,fence-s1,{seq},1,600,900")).into_bytes()
}

fn engine_sentences(log: &str) -> Option<u64> {
    let line = log.lines().rev().find(|l| l.contains("rampart stopped"))?;
    let at = line.find("\"engine.sentences\": ")? + "\"engine.sentences\": ".len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_changed_mid_stream_applies_and_no_reading_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let daemon = Daemon::start(dir.path(), &config(dir.path(), port, 800.0));
    let path = dir.path().join("rampart.toml");
    let mut w = Watcher::start(port, &["rampart/v1/#"]).await;
    w.wait_for(WAIT, "presence online", |r| {
        r.topic == "rampart/v1/daemon/it/status" && r.payload == b"online"
    })
    .await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;
    let topic = "rampart/v1/sensor/fence-s1";
    let mut seq = 0;
    let mut send = |n: u32| {
        let batch: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                seq += 1;
                reading(seq)
            })
            .collect();
        batch
    };

    // 600 mg under an 800 mg threshold: nothing.
    for r in send(20) {
        w.publish(topic, &r).await;
    }
    // A typo: refused with its place, published; the running config stays.
    std::fs::write(
        &path,
        config(dir.path(), port, 500.0).replace("rms_mg = 500.0", "rms_mgg = 500.0"),
    )
    .unwrap();
    let report = w
        .wait_for(WAIT, "the rejected reload", |r| {
            r.topic == "rampart/v1/daemon/it/config" && r.json()["status"] == "rejected"
        })
        .await
        .json();
    let errors = report["errors"].to_string();
    assert!(
        errors.contains("rms_mgg") && errors.contains("rampart.toml:"),
        "{errors}"
    );
    daemon.wait_log("config reload rejected", 1, WAIT).await;
    for r in send(10) {
        w.publish(topic, &r).await;
    }
    w.drain(Duration::from_millis(500)).await;
    assert!(
        !w.seen
            .iter()
            .any(|r| r.topic.contains("/v1/alert/") && r.json()["kind"] == "intrusion"),
        "still under the old threshold"
    );

    // The threshold lowered to 500 mg, applied on SIGHUP: the next readings alert.
    std::fs::write(&path, config(dir.path(), port, 500.0)).unwrap();
    daemon.hangup();
    w.wait_for(WAIT, "the applied reload", |r| {
        r.topic == "rampart/v1/daemon/it/config" && r.json()["status"] == "applied"
    })
    .await;
    daemon.wait_log("new config in use", 1, WAIT).await;
    for r in send(30) {
        w.publish(topic, &r).await;
    }
    let alert = w
        .alert(WAIT, "intrusion under the new threshold", |v| {
            v["kind"] == "intrusion" && v["state"] == "raised"
        })
        .await;
    assert_eq!(alert["segment_id"], "S012");
    assert_eq!(alert["evidence"][0]["threshold"], 500.0);
    w.drain(Duration::from_millis(300)).await;

    let log = {
        let status = daemon_stop(daemon);
        assert!(status.0.success());
        status.1
    };
    assert_eq!(
        engine_sentences(&log),
        Some(60),
        "every reading reached the engine across both reloads"
    );
}

fn daemon_stop(daemon: Daemon) -> (std::process::ExitStatus, String) {
    let log = daemon.log.clone();
    let status = daemon.stop();
    (status, std::fs::read_to_string(log).unwrap_or_default())
}
