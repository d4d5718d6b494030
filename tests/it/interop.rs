//! Clients nobody here wrote on both ends: `mosquitto_pub` sends sentences,
//! `mosquitto_sub` receives the alert.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{require_tool, sentence, Daemon, Mosquitto};
use crate::test_config;

#[test]
fn mosquitto_pub_in_mosquitto_sub_out() {
    let name = "mosquitto_pub_in_mosquitto_sub_out";
    let Some(broker) = Mosquitto::start(name) else {
        return;
    };
    let (Some(pub_bin), Some(sub_bin)) = (
        require_tool("mosquitto_pub", name),
        require_tool("mosquitto_sub", name),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/unused");
    let daemon = Daemon::start(
        dir.path(),
        &test_config(dir.path(), broker.port, false, &link),
    );
    let port = broker.port.to_string();
    let sub = Command::new(sub_bin)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-q",
            "1",
            "-t",
            "rampart/v1/alert/S250",
            "-C",
            "1",
            "-W",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Publish until the subscriber has its message (it may subscribe after
    // the first publication); each reading over threshold is fresh evidence.
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut seq = 0;
    let sub_pid = sub.id();
    let output = std::thread::spawn(move || sub.wait_with_output().unwrap());
    while !output.is_finished() && Instant::now() < deadline {
        seq += 1;
        // mosquitto_pub -m sends no trailing newline: the last line of a
        // message may be unterminated.
        let line = sentence(&format!("RPGS,trench-m1,{seq},0,4000"));
        let status = Command::new(&pub_bin)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-q",
                "1",
                "-t",
                "rampart/v1/sensor/trench-m1",
                "-m",
                line.trim_end(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(700));
    }
    if !output.is_finished() {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(sub_pid as i32, libc::SIGTERM) };
    }
    let out = output.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let alert: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("mosquitto_sub got `{text}`: {e}"));
    assert_eq!(alert["kind"], "intrusion");
    assert_eq!(alert["segment_id"], "S250");
    assert_eq!(alert["chainage_m"], 250500.0);
    assert_eq!(alert["sensors"], serde_json::json!(["trench-m1/geo0"]));
    assert!(daemon.stop().success());
}
