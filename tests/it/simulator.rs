//! The firmware simulator driving the real daemon through a real Mosquitto:
//! one controller on a pseudo-terminal, one over MQTT, scripted intrusions
//! at known chainages and a device that falls silent.

use std::collections::HashSet;
use std::time::Duration;

use rampart::sim::scenario::Scenario;
use rampart::sim::{pty_link, SimOptions, Simulator};
use tokio::sync::watch;

use crate::harness::{Daemon, Mosquitto, Watcher};
use crate::test_config;

const SCENARIO: &str = r#"
seed = 7
duration = "20s"
report_interval = "250ms"
heartbeat_interval = "1s"
serial = ["fence-s1"]

[[events]]
at = "2s"
kind = "intrusion"
chainage_m = 12300.0
duration = "4s"

# Heavy footsteps right by geophone 0 (over twice its threshold) alert
# alone, before trench-m1 falls silent.
[[events]]
at = "2s"
kind = "intrusion"
chainage_m = 250500.0
duration = "4s"

[[events]]
at = "4s"
kind = "silence"
device = "trench-m1"
duration = "30s"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_scenario_through_mosquitto() {
    let Some(broker) = Mosquitto::start("simulator_scenario_through_mosquitto") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pty_dir = dir.path().join("tty");
    let text = test_config(
        dir.path(),
        broker.port,
        false,
        &pty_link(&pty_dir, "fence-s1"),
    )
    // trench-m1 gets a short deadline so its silence is noticed quickly.
    .replace(
        "[[trench]]\nid = \"trench-m1\"",
        "[[trench]]\nid = \"trench-m1\"\nheartbeat_deadline = \"3s\"",
    );
    let (config, _wall) =
        rampart::config::load_str("test", &text, dir.path()).expect("valid config");
    let devices: HashSet<String> = ["fence-s1", "trench-m1", "fence-quiet"]
        .map(String::from)
        .into();
    let scenario = Scenario::parse("scenario", SCENARIO, &devices).expect("valid scenario");
    let sim = Simulator::new(
        &config,
        scenario,
        SimOptions {
            pty_dir: pty_dir.clone(),
            truth: Some(dir.path().join("truth.jsonl")),
            identities: None,
        },
    )
    .unwrap();
    let daemon = Daemon::start(dir.path(), &text);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    let (_stop_tx, stop_rx) = watch::channel(false);
    let sim_task = tokio::spawn(sim.run(stop_rx));

    let wait = Duration::from_secs(20);
    let serial = w
        .alert(wait, "intrusion at km 12.3 (serial)", |v| {
            v["kind"] == "intrusion" && v["segment_id"] == "S012"
        })
        .await;
    assert!(serial["sensors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "fence-s1/zone2"));
    let mqtt = w
        .alert(wait, "intrusion at km 250.5 (mqtt)", |v| {
            v["kind"] == "intrusion" && v["segment_id"] == "S250"
        })
        .await;
    assert!(mqtt["sensors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "trench-m1/geo0"));
    let offline = w
        .alert(wait, "trench-m1 offline", |v| {
            v["kind"] == "sensor_offline" && v["sensors"][0] == "trench-m1"
        })
        .await;
    assert_eq!(offline["segment_id"], "S250");
    // No alert anywhere the scenario put nothing (fence-quiet's offline aside).
    for r in &w.seen {
        let v = r.json();
        if v["kind"] == "intrusion" {
            assert!(
                v["segment_id"] == "S012" || v["segment_id"] == "S250",
                "unexpected {v}"
            );
        }
    }
    let truth = std::fs::read_to_string(dir.path().join("truth.jsonl")).unwrap();
    assert_eq!(truth.lines().count(), 3, "one ground-truth line per event");
    sim_task.abort();
    assert!(daemon.stop().success());
}
