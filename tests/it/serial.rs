//! Serial lines that are missing at start-up or unplugged while running,
//! and a cable pulled while someone climbs the fence.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use rampart::sim::pty::Pty;

use crate::harness::{free_port, sentence, simulator, Daemon, Watcher};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_port_is_picked_up_when_it_appears_and_again_after_unplugging() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let link = dir.path().join("tty/fence-s1");
    let daemon = Daemon::start(dir.path(), &test_config(dir.path(), port, true, &link));
    let mut w = Watcher::start(port, &["rampart/v1/alert/+"]).await;

    // The port appears after the daemon found it missing.
    daemon
        .wait_log("serial port cannot be opened", 1, WAIT)
        .await;
    let mut pty = Pty::open(&link).unwrap();
    daemon.wait_log("serial port opened", 1, WAIT).await;
    pty.send(
        format!(
            "{}{}",
            sentence("RPFZ,fence-s1,1,2,900,2500"),
            sentence("RPFZ,fence-s1,2,2,900,2500")
        )
        .as_bytes(),
    );
    let first = w
        .alert(WAIT, "alert from the late port", |v| {
            v["state"] == "raised" && v["segment_id"] == "S012"
        })
        .await;

    // Unplug: the link disappears; plug back in: a new pseudo-terminal at the same path.
    drop(pty);
    daemon
        .wait_log("serial port lost; reopening", 1, WAIT)
        .await;
    let returned = std::time::Instant::now();
    let mut pty = Pty::open(&link).unwrap();
    daemon.wait_log("serial port opened", 2, WAIT).await;
    // The back-off is capped at 500 ms here (retry_max): reopened well within 2 s.
    assert!(
        returned.elapsed() < Duration::from_secs(2),
        "reopened after {:?}",
        returned.elapsed()
    );
    let zone1 = (3..6)
        .map(|s| sentence(&format!("RPFZ,fence-s1,{s},1,900,2500")))
        .collect::<String>();
    pty.send(zone1.as_bytes());
    let update = w
        .alert(WAIT, "update with zone 1 after replugging", |v| {
            v["id"] == first["id"]
                && v["sensors"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x == "fence-s1/zone1"))
        })
        .await;
    assert_eq!(update["state"], "updated");
    assert!(daemon.stop().success());
}

/// The fence controller's cable is pulled as someone reaches the fence and
/// starts to climb, and plugged back in while they are still on it.
const UNPLUG_DURING_CROSSING: &str = r#"
seed = 11
duration = "16s"
report_interval = "250ms"
heartbeat_interval = "1s"
serial = ["fence-s1"]

# Someone walks up to the wall at km 12.3 (fence-s1, zone 2) from 4.2 m
# away, touches the fence at about 3.6 s and climbs it until about 10 s.
[[objects]]
at = "1s"
kind = "person"
chainage_m = 12300.0
offset_m = 4.2
speed_m_s = 1.4
duration = "14s"

# The cable is out from 3 s to 6 s: the start of the climb is never heard.
[[events]]
at = "3s"
kind = "unplug"
device = "fence-s1"
duration = "3s"
"#;

/// Waits (bounded, polling every 10 ms) until `link` exists or not.
async fn wait_link(link: &Path, present: bool, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    while link.symlink_metadata().is_ok() != present {
        assert!(
            Instant::now() < deadline,
            "{} still {} after {within:?}",
            link.display(),
            if present { "missing" } else { "there" }
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Instant::now()
}

/// An RFC 3339 time from an alert, as a system time.
fn time_of(v: &serde_json::Value) -> SystemTime {
    let text = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cable_pulled_during_a_crossing_is_reopened_and_the_crossing_still_alerts() {
    use rampart::sim::pty_link;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pty_dir = dir.path().join("tty");
    let link = pty_link(&pty_dir, "fence-s1");
    let text = test_config(dir.path(), port, true, &link);
    let (config, _) = rampart::config::load_str("test", &text, dir.path()).expect("valid config");
    let sim = simulator(
        &config,
        UNPLUG_DURING_CROSSING,
        &["fence-s1", "trench-m1", "fence-quiet"],
        &pty_dir,
    );
    let daemon = Daemon::start(dir.path(), &text);
    let mut w = Watcher::start(port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("serial port opened", 1, WAIT).await;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let sim = tokio::spawn(sim.run(stop_rx));

    let unplugged = wait_link(&link, false, WAIT).await;
    let returned = wait_link(&link, true, Duration::from_secs(5)).await;
    let returned_at = SystemTime::now();
    daemon
        .wait_log("serial port lost; reopening", 1, WAIT)
        .await;
    daemon.wait_log("serial port opened", 2, WAIT).await;
    let reopened = returned.elapsed();
    assert!(
        reopened < Duration::from_secs(2),
        "reopened {reopened:?} after the port returned"
    );

    let raised = w
        .alert(WAIT, "intrusion at km 12.3 after replugging", |v| {
            v["kind"] == "intrusion"
                && v["state"] == "raised"
                && v["segment_id"] == "S012"
                && v["sensors"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x == "fence-s1/zone2"))
        })
        .await;
    let arrived = returned.elapsed();
    // Detected from what the line carried after it came back: every piece of
    // evidence was received after the port's return, the first within 2 s.
    let received: Vec<SystemTime> = raised["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| time_of(&e["at"]))
        .collect();
    let tolerance = Duration::from_millis(50);
    assert!(
        received.iter().all(|&at| at + tolerance >= returned_at),
        "evidence from before the port's return: {raised}"
    );
    let first = received.iter().min().expect("some evidence");
    let resumed = first.duration_since(returned_at).unwrap_or(Duration::ZERO);
    assert!(
        resumed < Duration::from_secs(2),
        "first evidence {resumed:?} after the port's return"
    );
    sim.abort();
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(!log.contains("panicked"), "{log}");
    eprintln!(
        "unplug during crossing: unplugged for {:?}, reopened {reopened:?} after return, \
         first evidence {resumed:?} after return, alert {arrived:?} after return",
        returned - unplugged
    );
}
