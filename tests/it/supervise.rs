//! Supervision: a component of the daemon that dies takes the process down
//! at once, with exit code 70 and an ERROR naming it, and the next start
//! sends what the outbox kept. The deaths are forced with failpoints
//! (`RAMPART_FAILPOINT`, debug builds only, as the tests run).

use std::time::{Duration, Instant, SystemTime};

use rampart::sim::pty::Pty;

use crate::camera::camera_config;
use crate::harness::{sentence, stored_alerts, Daemon, Mosquitto, Watcher};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(20);

/// The time a log line starts with.
fn logged_at(line: &str) -> SystemTime {
    let stamp = line.split_whitespace().next().unwrap_or_default();
    humantime::parse_rfc3339_weak(stamp).unwrap_or_else(|e| panic!("no time in `{line}`: {e}"))
}

/// The first line of `log` containing `text`.
fn line_with<'a>(log: &'a str, text: &str) -> &'a str {
    log.lines()
        .find(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no `{text}` in the log:\n{log}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_engine_exits_at_once_and_the_next_start_sends_the_outbox() {
    let Some(mut broker) = Mosquitto::start("engine panic") else {
        return;
    };
    // The broker is away: the tamper alert stays in the outbox.
    broker.stop(libc::SIGTERM);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let link = dir.path().join("tty/ctl");
    let mut pty = Pty::open(&link).expect("pseudo-terminal");
    let config = test_config(dir.path(), broker.port, false, &link).replace(
        r#"devices = ["fence-s1"]"#,
        r#"devices = ["fence-s1", "trench-m1"]"#,
    );
    let mut daemon = Daemon::start_with_env(
        dir.path(),
        &config,
        &[("RAMPART_FAILPOINT", "engine:trench-m1")],
    );
    daemon.wait_log("serial port opened", 1, WAIT).await;
    pty.send(sentence("RPTP,fence-s1,1,CUT").as_bytes());
    daemon.wait_log("ALERT", 1, WAIT).await;
    assert_eq!(stored_alerts(&data, &["--state", "unsent"]).len(), 1);

    // A sentence from trench-m1 makes the engine task panic.
    let sent = Instant::now();
    pty.send(sentence("RPHB,trench-m1,1,10,OK").as_bytes());
    let status = daemon.wait_exit(Duration::from_secs(10));
    let waited = sent.elapsed();
    let log = daemon.log_text();
    assert_eq!(status.code(), Some(70), "{log}");
    let panic_line = line_with(&log, "panic: failpoint engine:trench-m1 reached");
    assert!(panic_line.contains("ERROR"), "{panic_line}");
    let exit_line = line_with(&log, "the engine task panicked: rampart exits (code 70)");
    assert!(exit_line.contains("ERROR"), "{exit_line}");
    let between = logged_at(exit_line)
        .duration_since(logged_at(panic_line))
        .unwrap_or_default();
    assert!(
        between < Duration::from_secs(1),
        "{between:?} from the panic to the exit decision"
    );
    assert!(!log.contains("shutting down"), "no drain: {log}");
    eprintln!("engine panic: exit 70 observed {waited:?} after the trigger was written, decided {between:?} after the panic");
    // The outbox is as it was.
    assert_eq!(stored_alerts(&data, &["--state", "unsent"]).len(), 1);

    // With the broker back, the next start sends it.
    broker.start_again();
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/#"]).await;
    let daemon = Daemon::start(dir.path(), &config);
    let tamper = w
        .alert(WAIT, "the tamper kept in the outbox", |v| {
            v["kind"] == "tamper" && v["state"] == "raised"
        })
        .await;
    assert_eq!(tamper["sensors"], serde_json::json!(["fence-s1"]));
    assert!(daemon.stop().success());
    assert!(stored_alerts(&data, &["--state", "unsent"]).is_empty());
    drop(pty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_worker_that_panics_takes_the_daemon_down_naming_it() {
    let Some(broker) = Mosquitto::start("camera worker panic") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}{}",
        test_config(dir.path(), broker.port, false, &dir.path().join("tty/none")),
        camera_config()
    );
    let mut daemon = Daemon::start_with_env(
        dir.path(),
        &config,
        &[("RAMPART_FAILPOINT", "camera:cam-t")],
    );
    daemon.wait_log("mqtt source subscribed", 3, WAIT).await;
    let w = Watcher::start(broker.port, &["rampart/v1/alert/#"]).await;
    w.publish("rampart/v1/camera/cam-t/frame", b"any frame")
        .await;
    let status = daemon.wait_exit(Duration::from_secs(10));
    let log = daemon.log_text();
    assert_eq!(status.code(), Some(70), "{log}");
    let exit_line = line_with(
        &log,
        "the worker of camera cam-t panicked: rampart exits (code 70)",
    );
    assert!(exit_line.contains("ERROR"), "{exit_line}");
    assert!(line_with(&log, "panic: failpoint camera:cam-t reached").contains("camera-cam-t"));
}
