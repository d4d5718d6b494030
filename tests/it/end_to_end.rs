//! The real daemon, end to end, against the embedded broker and against a
//! real Mosquitto: sentences in over a pseudo-terminal and MQTT, alerts out.

use std::time::Duration;

use rampart::sim::pty::Pty;
use rampart::wall::Wall;
use serde_json::Value;

use crate::harness::{free_port, sentence, stored_alerts, Daemon, Mosquitto, Watcher};
use crate::{test_config, wall_file};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_with_the_embedded_broker() {
    end_to_end(free_port(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_with_mosquitto() {
    let Some(broker) = Mosquitto::start("end_to_end_with_mosquitto") else {
        return;
    };
    end_to_end(broker.port, false).await;
}

fn is(v: &Value, kind: &str, state: &str) -> bool {
    v["kind"] == kind && v["state"] == state
}

async fn end_to_end(port: u16, embedded: bool) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/fence-s1");
    let mut pty = Pty::open(&link).expect("pseudo-terminal");
    let config = test_config(dir.path(), port, embedded, &link);
    let daemon = Daemon::start(dir.path(), &config);
    let mut w = Watcher::start(port, &["rampart/v1/#"]).await;
    let wall = Wall::load(&wall_file(), 1000.0).unwrap();

    w.wait_for(WAIT, "presence online", |r| {
        r.topic == "rampart/v1/daemon/it/status" && r.payload == b"online"
    })
    .await;
    daemon.wait_log("serial port opened", 1, WAIT).await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;

    // Zone 2 needs 2 hits in 3 readings: one before a burst of garbage and
    // one after it. The alert proves both good lines survived the burst.
    let hit = |seq: u32| sentence(&format!("RPFZ,fence-s1,{seq},2,900,2500"));
    let mut burst = hit(1);
    for i in 0..20 {
        burst.push_str(&format!("$RPFZ,fence-s1,{i},2,900,2500*00\r\n")); // bad checksum
        burst.push_str("\u{1}\u{2}\u{ff}binary\u{0}noise\r\n");
        burst.push_str(&"x".repeat(300));
        burst.push_str("\r\n");
        burst.push_str(&sentence("RPXX,fence-s1,1,2")); // unknown type
    }
    burst.push_str(&hit(2));
    pty.send(burst.as_bytes());
    let alert = w
        .alert(WAIT, "intrusion raised in S012", |v| {
            is(v, "intrusion", "raised") && v["segment_id"] == "S012"
        })
        .await;
    assert_eq!(alert["segment"], 12);
    assert_eq!(alert["chainage_m"], 12300.0);
    let at = wall.position_at(12300.0);
    assert!((alert["lat"].as_f64().unwrap() - at.lat).abs() < 1e-9);
    assert!((alert["lon"].as_f64().unwrap() - at.lon).abs() < 1e-9);
    assert_eq!(alert["sensors"], serde_json::json!(["fence-s1/zone2"]));
    assert_eq!(alert["rev"], 1);
    assert_eq!(alert["priority"], "low", "one sensor alone");
    let first_id = alert["id"].as_str().unwrap().to_owned();

    // An operator acknowledges it: the next message carries who and when,
    // and further evidence of the same kind does not re-notify.
    w.publish("rampart/v1/ack", b"{\"id\": \"not json").await;
    w.publish(
        "rampart/v1/ack",
        format!(r#"{{"id": "{first_id}", "by": "op-7"}}"#).as_bytes(),
    )
    .await;
    let acked = w
        .alert(WAIT, "the acknowledged update", |v| {
            v["id"] == first_id.as_str() && v["acked_by"] == "op-7"
        })
        .await;
    assert_eq!(
        (acked["rev"].as_u64(), acked["state"].as_str()),
        (Some(2), Some("updated"))
    );
    assert!(acked["acked_at"].is_string());
    pty.send(format!("{}{}", hit(3), hit(4)).as_bytes());
    // Twice min_update_interval (1 s): an unacknowledged incident would have been updated.
    w.drain(Duration::from_millis(2500)).await;
    let later = w
        .seen
        .iter()
        .map(|r| r.json())
        .filter(|v| v["id"] == first_id.as_str() && v["rev"].as_u64() > Some(2))
        .count();
    assert_eq!(later, 0, "an acknowledged incident stays quiet");

    // Over MQTT: two sentences in one message, plus one naming another
    // device on trench-m1's topic (rejected, never attributed).
    let payload = format!(
        "{}{}{}",
        sentence("RPGS,trench-m1,1,0,5000"),
        sentence("RPFZ,fence-s1,3,1,900,2500"),
        sentence("RPBK,trench-m1,2,0,1"),
    );
    w.publish("rampart/v1/sensor/trench-m1", payload.as_bytes())
        .await;
    let alert = w
        .alert(WAIT, "intrusion in S250", |v| {
            v["kind"] == "intrusion"
                && v["segment_id"] == "S250"
                && v["sensors"].as_array().is_some_and(|s| s.len() == 2)
        })
        .await;
    assert_eq!(
        alert["sensors"],
        serde_json::json!(["trench-m1/beam0", "trench-m1/geo0"])
    );
    assert_eq!(alert["priority"], "high");
    assert!((250500.0..=250520.0).contains(&alert["chainage_m"].as_f64().unwrap()));

    // Tamper: critical, at the controller (middle of its channels).
    w.publish(
        "rampart/v1/sensor/trench-m1",
        sentence("RPTP,trench-m1,3,CUT").as_bytes(),
    )
    .await;
    let tamper = w.alert(WAIT, "tamper", |v| is(v, "tamper", "raised")).await;
    assert_eq!(tamper["priority"], "critical");
    assert_eq!(tamper["segment_id"], "S250");
    assert_eq!(tamper["chainage_m"], 250510.0);
    assert_eq!(tamper["evidence"][0]["kind"], "tamper");

    // fence-quiet never speaks: offline after its 2 s deadline, its segment degraded.
    let offline = w
        .alert(WAIT, "sensor_offline", |v| {
            is(v, "sensor_offline", "raised")
        })
        .await;
    assert_eq!(offline["segment_id"], "S400");
    assert_eq!(offline["chainage_m"], 400100.0);
    assert_eq!(offline["sensors"], serde_json::json!(["fence-quiet"]));
    let state = w
        .wait_for(WAIT, "S400 degraded", |r| {
            r.topic == "rampart/v1/segment/S400/state" && r.json()["state"] == "degraded"
        })
        .await;
    assert_eq!(
        state.json()["degraded_by"],
        serde_json::json!(["fence-quiet"])
    );

    // Graceful stop: exit 0 and presence goes offline.
    let log_path = daemon.log.clone();
    let status = daemon.stop();
    assert!(status.success(), "exit status {status:?}");
    w.wait_for(WAIT, "presence offline", |r| {
        r.topic == "rampart/v1/daemon/it/status" && r.payload == b"offline"
    })
    .await;
    let log = std::fs::read_to_string(&log_path).unwrap();
    // 20 bad checksums, 20 binary lines, 20 over-long lines: one log line each per 10 s.
    for reason in ["checksum_mismatch", "not_ascii", "too_long", "unknown_type"] {
        let lines = log
            .lines()
            .filter(|l| l.contains("rejected input") && l.contains(&format!("reason=\"{reason}\"")))
            .count();
        assert_eq!(
            lines, 1,
            "{reason} should be logged once (rate-limited), got {lines}"
        );
    }
    assert!(
        log.contains("\"rejected.checksum_mismatch\": 20"),
        "counters in the final log line"
    );
    assert!(
        log.contains("\"rejected.wrong_source\": 1"),
        "the foreign sentence on trench-m1's topic"
    );
    assert!(
        log.contains("\"rejected.bad_ack\": 1") && log.contains("\"acks.accepted\": 1"),
        "acknowledgements counted"
    );

    // Every alert published is in the store, and was acknowledged by the
    // broker: the outbox is empty after a graceful stop.
    let stored = stored_alerts(&dir.path().join("data"), &[]);
    let journaled: Vec<Value> = stored.iter().map(|r| r["message"].clone()).collect();
    assert!(
        stored.iter().all(|r| r["delivered_at"].is_string()),
        "undelivered after a graceful stop: {stored:?}"
    );
    let published: Vec<Value> = w
        .seen
        .iter()
        .filter(|r| r.topic.contains("/alert/"))
        .map(|r| r.json())
        .collect();
    for p in &published {
        assert!(
            journaled
                .iter()
                .any(|j| j["id"] == p["id"] && j["rev"] == p["rev"]),
            "{p} not in the store"
        );
    }

    // A restart carries the open incidents on: new evidence at S250 joins
    // the S250 intrusion with its id and the next rev, and the silent
    // controller's offline incident is not raised a second time.
    let last_rev = |id: &Value| {
        journaled
            .iter()
            .filter(|j| j["id"] == *id)
            .filter_map(|j| j["rev"].as_u64())
            .max()
            .unwrap()
    };
    let s250 = alert["id"].clone();
    let offline_id = offline["id"].clone();
    let seen_before = w.seen.len();
    let daemon = Daemon::start(dir.path(), &config);
    daemon
        .wait_log("open incidents of the previous run carried on", 1, WAIT)
        .await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;
    w.publish(
        "rampart/v1/sensor/trench-m1",
        sentence("RPGS,trench-m1,10,0,5000").as_bytes(),
    )
    .await;
    let again = w
        .alert(WAIT, "the S250 intrusion carried on", |v| {
            v["id"] == s250 && v["rev"].as_u64() > Some(last_rev(&s250))
        })
        .await;
    assert_eq!(again["rev"].as_u64(), Some(last_rev(&s250) + 1));
    assert_eq!(again["state"], "updated");
    assert_eq!(again["segment_id"], "S250");
    // fence-quiet's deadline (2 s) passes again without a second incident.
    w.drain(Duration::from_secs(3)).await;
    let second_offline: Vec<Value> = w.seen[seen_before..]
        .iter()
        .map(|r| r.json())
        .filter(|v| v["kind"] == "sensor_offline" && v["id"] != offline_id)
        .collect();
    assert!(
        second_offline.is_empty(),
        "a second offline incident after the restart: {second_offline:?}"
    );
    assert!(daemon.stop().success());
}
