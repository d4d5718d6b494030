//! Authenticated sentences end to end: the real daemon with a key file,
//! fed over MQTT (a real Mosquitto) and a pseudo-terminal. Signed sentences
//! alert as usual; replays are rejected, also after a restart; a flood of
//! forgeries raises one tamper alert; no key ever reaches the log.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use rampart::auth::{sign, Key};
use rampart::sentence::parse;
use rampart::sim::pty::Pty;
use serde_json::Value;

use crate::harness::{sentence, simulator, Daemon, Mosquitto, Watcher};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(20);

/// The spec's keyed test vector and its key (bytes 00 01 ... 1f).
const VECTOR: &str = "$RPFZ,fence-c07,44,3,850,2400,m=6b5d4e55699d4479e9f69fc6628fdade*34\r\n";
const SPEC_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// The key of fence-s1 and trench-m1 in these tests.
const TEST_HEX: &str = "c0ffee00112233445566778899aabbccddeeff0123456789abcdef0f1e2d3c4b";

fn key(hex: &str) -> Key {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    Key::new(k)
}

/// `body` (between `$` and `*`) signed with `hex`'s key, in wire form.
fn signed(hex: &str, body: &str) -> String {
    let mut s = parse(sentence(body).as_bytes()).unwrap();
    sign(&mut s, &key(hex));
    s.encode()
}

/// The test config with fence-c07 (the vector's device, on MQTT, km 300,
/// sensitive enough that the vector's one reading alerts) and the key file
/// keying fence-s1, trench-m1 and fence-c07.
fn keyed_config(dir: &Path, port: u16, serial: &Path, extra: &str) -> String {
    let keys = dir.join("keys.toml");
    std::fs::write(
        &keys,
        format!(
            "# test keys\nfence-s1 = \"{TEST_HEX}\"\ntrench-m1 = \"{TEST_HEX}\"\nfence-c07 = \"{SPEC_HEX}\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    format!(
        "{}\n[[fence]]\nid = \"fence-c07\"\n[[fence.zones]]\nzone = 3\nstart_m = 300000.0\n\
         end_m = 300200.0\nrms_mg = 100.0\npeak_mg = 200.0\nk = 1\nn = 1\n\n\
         [auth]\nkeys_file = \"keys.toml\"\n{extra}",
        test_config(dir, port, false, serial)
    )
}

/// The final counters line's value of `name` (0 when absent).
pub(crate) fn final_counter(log: &str, name: &str) -> u64 {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("rampart stopped"))
        .unwrap_or_else(|| panic!("no final counters line in:\n{log}"));
    let pat = format!("\"{name}\": ");
    line.find(&pat)
        .map(|i| {
            line[i + pat.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap()
        })
        .unwrap_or(0)
}

fn is_tamper(v: &Value) -> bool {
    v["kind"] == "tamper"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_devices_alert_over_mqtt_and_serial_and_replays_are_rejected_even_after_a_restart() {
    let Some(broker) = Mosquitto::start("keyed_devices_alert_over_mqtt_and_serial") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/fence-s1");
    let mut pty = Pty::open(&link).unwrap();
    let config = keyed_config(dir.path(), broker.port, &link, "");
    let daemon = Daemon::start(dir.path(), &config);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;
    daemon.wait_log("serial port opened", 1, WAIT).await;

    // The spec's vector over MQTT raises the normal alert.
    w.publish("rampart/v1/sensor/fence-c07", VECTOR.as_bytes())
        .await;
    let vector = w
        .alert(WAIT, "intrusion from the spec's vector", |v| {
            v["kind"] == "intrusion" && v["sensors"] == serde_json::json!(["fence-c07/zone3"])
        })
        .await;
    assert_eq!(vector["segment_id"], "S300");
    // Signed sentences over MQTT and the serial line too.
    let steps = signed(TEST_HEX, "RPGS,trench-m1,1,0,4000");
    w.publish("rampart/v1/sensor/trench-m1", steps.as_bytes())
        .await;
    let climb: String = (1..=2)
        .map(|s| signed(TEST_HEX, &format!("RPFZ,fence-s1,{s},2,900,2500")))
        .collect();
    pty.send(climb.as_bytes());
    w.alert(WAIT, "intrusion at S250 (signed, MQTT)", |v| {
        v["kind"] == "intrusion" && v["segment_id"] == "S250"
    })
    .await;
    w.alert(WAIT, "intrusion at S012 (signed, serial)", |v| {
        v["kind"] == "intrusion" && v["segment_id"] == "S012"
    })
    .await;

    // Captured sentences sent again. On the serial line nothing is ever
    // sent twice: a replay, refused. Over MQTT the same device, seq and
    // bytes again is a redelivery (only the device's own account may
    // publish on its topic): dropped as a duplicate, never acted on
    // twice. An unsigned sentence is refused.
    w.publish("rampart/v1/sensor/fence-c07", VECTOR.as_bytes())
        .await;
    w.publish("rampart/v1/sensor/trench-m1", steps.as_bytes())
        .await;
    pty.send(climb.as_bytes());
    pty.send(sentence("RPFZ,fence-s1,9,2,900,2500").as_bytes());
    daemon.wait_log("reason=\"missing_mac\"", 1, WAIT).await;
    daemon.wait_log("reason=\"replayed_seq\"", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert_eq!(
        final_counter(&log, "rejected.replayed_seq"),
        2,
        "2 climbs over serial"
    );
    assert_eq!(
        final_counter(&log, "sentences.duplicate"),
        2,
        "vector, steps over MQTT"
    );
    assert_eq!(final_counter(&log, "rejected.missing_mac"), 1);
    assert_eq!(final_counter(&log, "rejected.bad_mac"), 0);

    // After a restart the seqs and the sentences taken are still known:
    // the vector over MQTT is a duplicate, the climb over serial a replay,
    // and a newer signed sentence is taken.
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;
    daemon.wait_log("seqs_restored=3", 1, WAIT).await;
    daemon.wait_log("serial port opened", 1, WAIT).await;
    w.publish("rampart/v1/sensor/fence-c07", VECTOR.as_bytes())
        .await;
    pty.send(climb.as_bytes());
    w.publish(
        "rampart/v1/sensor/trench-m1",
        signed(TEST_HEX, "RPHB,trench-m1,2,60,OK").as_bytes(),
    )
    .await;
    daemon.wait_log("reason=\"replayed_seq\"", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert_eq!(final_counter(&log, "rejected.replayed_seq"), 2, "{log}");
    assert_eq!(final_counter(&log, "sentences.duplicate"), 1, "{log}");
    assert_eq!(final_counter(&log, "sentences.accepted"), 1, "{log}");
    assert_eq!(final_counter(&log, "engine.sentences"), 4);
    drop(pty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_sentences_raises_exactly_one_tamper_alert() {
    let Some(broker) = Mosquitto::start("a_flood_of_forged_sentences") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/unused");
    let config = keyed_config(dir.path(), broker.port, &link, "");
    let daemon = Daemon::start(dir.path(), &config);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;

    // 1 000 forged readings (signed with the wrong key), 50 per message.
    let wrong = SPEC_HEX;
    let started = std::time::Instant::now();
    for batch in 0..20 {
        let msg: String = (0..50)
            .map(|i| {
                signed(
                    wrong,
                    &format!("RPGS,trench-m1,{},0,4000", batch * 50 + i + 1),
                )
            })
            .collect();
        w.publish("rampart/v1/sensor/trench-m1", msg.as_bytes())
            .await;
    }
    let raised = w
        .alert(WAIT, "the tamper alert", |v| {
            is_tamper(v) && v["state"] == "raised"
        })
        .await;
    eprintln!(
        "tamper raised {:?} after the first forgery",
        started.elapsed()
    );
    assert_eq!(raised["segment_id"], "S250");
    assert!(
        raised["summary"]
            .as_str()
            .unwrap()
            .contains("substitution suspected"),
        "{raised}"
    );
    // Let the flood be counted and any update go out.
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.drain(Duration::from_millis(500)).await;
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert_eq!(final_counter(&log, "rejected.bad_mac"), 1000);
    assert_eq!(
        final_counter(&log, "engine.sentences"),
        0,
        "no forgery reached the rules"
    );
    w.drain(Duration::from_millis(500)).await;
    let tampers: Vec<Value> = w_alerts(&w).into_iter().filter(is_tamper).collect();
    let raised_count = tampers.iter().filter(|v| v["state"] == "raised").count();
    assert_eq!(raised_count, 1, "{tampers:#?}");
    assert!(
        tampers.len() <= 3,
        "at most a raise and rate-limited updates: {tampers:#?}"
    );
    assert!(tampers.iter().all(|v| v["id"] == raised["id"]));
    assert!(
        tampers
            .iter()
            .any(|v| v["summary"].as_str().unwrap().contains("1000 rejected")
                || v["evidence"].to_string().contains("1000 rejected")),
        "the count is updated: {tampers:#?}"
    );
}

fn w_alerts(w: &Watcher) -> Vec<Value> {
    w.seen
        .iter()
        .filter(|r| r.topic.contains("/v1/alert/"))
        .map(|r| r.json())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_appears_in_the_log_at_trace_level() {
    let Some(broker) = Mosquitto::start("no_key_appears_in_the_log") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/fence-s1");
    let mut pty = Pty::open(&link).unwrap();
    let config = keyed_config(dir.path(), broker.port, &link, "");
    let daemon = Daemon::start_with_env(dir.path(), &config, &[("RUST_LOG", "trace")]);
    let w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;
    w.publish("rampart/v1/sensor/fence-c07", VECTOR.as_bytes())
        .await;
    for s in 1..=6 {
        pty.send(signed(TEST_HEX, &format!("RPFZ,fence-s1,{s},2,900,2500")).as_bytes());
        pty.send(signed(SPEC_HEX, &format!("RPHB,fence-s1,{s},1,OK")).as_bytes());
    }
    daemon.wait_log("reason=\"bad_mac\"", 1, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(
        log.contains("sentence authentication on") && log.contains("bad_mac"),
        "{log}"
    );
    for hex in [SPEC_HEX, TEST_HEX] {
        for k in [hex.to_owned(), hex.to_uppercase()] {
            assert!(!log.contains(&k), "a key is in the log");
        }
    }
    drop(pty);
}

const SIM_SCENARIO: &str = r#"
seed = 3
duration = "12s"
report_interval = "250ms"
heartbeat_interval = "1s"
serial = ["fence-s1"]

[[events]]
at = "1s"
kind = "intrusion"
chainage_m = 12300.0
duration = "4s"

[[events]]
at = "1s"
kind = "intrusion"
chainage_m = 250500.0
duration = "4s"
"#;

/// The simulator signs for the keyed devices (the config's key file), over
/// a pseudo-terminal and MQTT: the daemon alerts and rejects nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_signs_a_keyed_deployment_end_to_end() {
    use rampart::sim::pty_link;
    let Some(broker) = Mosquitto::start("the_simulator_signs_a_keyed_deployment") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pty_dir = dir.path().join("tty");
    let text = keyed_config(dir.path(), broker.port, &pty_link(&pty_dir, "fence-s1"), "");
    let (config, _wall) =
        rampart::config::load_str("test", &text, dir.path()).expect("valid config");
    assert_eq!(config.auth.keys.devices().count(), 3);
    let sim = simulator(
        &config,
        SIM_SCENARIO,
        &["fence-s1", "trench-m1", "fence-quiet", "fence-c07"],
        &pty_dir,
    );
    let daemon = Daemon::start(dir.path(), &text);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sim_task = tokio::spawn(sim.run(stop_rx));
    for segment in ["S012", "S250"] {
        w.alert(WAIT, &format!("intrusion at {segment}"), |v| {
            v["kind"] == "intrusion" && v["segment_id"] == segment
        })
        .await;
    }
    sim_task.abort();
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(final_counter(&log, "engine.sentences") > 20, "{log}");
    for reason in ["missing_mac", "bad_mac", "replayed_seq"] {
        assert_eq!(
            final_counter(&log, &format!("rejected.{reason}")),
            0,
            "{log}"
        );
    }
    assert!(!w.seen.iter().any(|r| is_tamper(&r.json())));
}

/// `check-config` and `run` refuse a key file group or others may read.
#[test]
fn a_key_file_others_can_read_stops_check_config_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let text = keyed_config(dir.path(), 1, &dir.path().join("tty/x"), "");
    let config = dir.path().join("rampart.toml");
    std::fs::write(&config, &text).unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    for cmd in [&["check-config"][..], &["run", "--config"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(cmd)
            .arg(&config)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{cmd:?}: {text}");
        assert!(
            text.contains(&keys.display().to_string()) && text.contains("chmod 600"),
            "{cmd:?}: {text}"
        );
        assert!(!text.contains(TEST_HEX) && !text.contains(SPEC_HEX));
    }
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_takes_effect_on_reload_without_a_restart() {
    let Some(broker) = Mosquitto::start("a_rotated_key_takes_effect_on_reload") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/unused");
    let config = keyed_config(dir.path(), broker.port, &link, "");
    let daemon = Daemon::start(dir.path(), &config);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;
    let topic = "rampart/v1/sensor/trench-m1";
    // Taken under the first key: its alert shows it was handled before the
    // keys change (a regression: the test once raced the reload).
    w.publish(topic, signed(TEST_HEX, "RPTP,trench-m1,1,CUT").as_bytes())
        .await;
    w.alert(WAIT, "the tamper under the first key", is_tamper)
        .await;

    // trench-m1 gets a new key; SIGHUP.
    const NEW_HEX: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    let keys = dir.path().join("keys.toml");
    let text = std::fs::read_to_string(&keys).unwrap();
    std::fs::write(
        &keys,
        text.replace(
            &format!("trench-m1 = \"{TEST_HEX}\""),
            &format!("trench-m1 = \"{NEW_HEX}\""),
        ),
    )
    .unwrap();
    daemon.hangup();
    daemon.wait_log("sentence keys replaced", 1, WAIT).await;

    // The old key is refused, the new one taken, with the seq carried on.
    w.publish(topic, signed(TEST_HEX, "RPHB,trench-m1,2,60,OK").as_bytes())
        .await;
    w.publish(topic, signed(NEW_HEX, "RPHB,trench-m1,3,60,OK").as_bytes())
        .await;
    w.publish(topic, signed(NEW_HEX, "RPHB,trench-m1,1,60,OK").as_bytes())
        .await;
    daemon.wait_log("reason=\"bad_mac\"", 1, WAIT).await;
    daemon.wait_log("reason=\"replayed_seq\"", 1, WAIT).await;
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert_eq!(final_counter(&log, "rejected.bad_mac"), 1, "{log}");
    assert_eq!(final_counter(&log, "rejected.replayed_seq"), 1, "{log}");
    // Seqs 1 and 3, and the replayed 1 the engine refuses; not the old key's.
    assert_eq!(final_counter(&log, "engine.sentences"), 3, "{log}");
    assert_eq!(final_counter(&log, "auth.key_reloads"), 1);
    assert!(!log.contains(NEW_HEX), "the new key appears in the log");
}

/// A substitution tamper open when the daemon stops carries on in the next
/// run, and clears `clear_after` (here 5 s) after the restart with its id
/// and the next rev; it is not raised again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substitution_open_at_a_restart_clears_after_clear_after_with_the_next_rev() {
    let Some(broker) = Mosquitto::start("a_substitution_open_at_a_restart") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/unused");
    let clear_after = Duration::from_secs(5);
    let config = keyed_config(dir.path(), broker.port, &link, "clear_after = \"5s\"\n");
    let daemon = Daemon::start(dir.path(), &config);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("mqtt source subscribed", 1, WAIT).await;

    // Five forgeries (signed with the wrong key) at once: a burst.
    let forged: String = (1..=5)
        .map(|s| signed(SPEC_HEX, &format!("RPGS,trench-m1,{s},0,4000")))
        .collect();
    w.publish("rampart/v1/sensor/trench-m1", forged.as_bytes())
        .await;
    let raised = w
        .alert(WAIT, "the substitution tamper", |v| {
            is_tamper(v) && v["state"] == "raised"
        })
        .await;
    assert!(
        raised["summary"]
            .as_str()
            .unwrap()
            .contains("substitution suspected: 5 rejected"),
        "{raised}"
    );
    // Stopped well within clear_after: still open.
    assert!(daemon.stop().success());
    w.drain(Duration::from_millis(300)).await;
    let id = raised["id"].clone();
    let before: Vec<Value> = w_alerts(&w).into_iter().filter(|v| v["id"] == id).collect();
    assert!(
        before.iter().all(|v| v["state"] != "cleared"),
        "cleared before the restart: {before:#?}"
    );
    let last_rev = before.iter().map(|v| v["rev"].as_u64().unwrap()).max();

    let restarted = std::time::Instant::now();
    let daemon = Daemon::start(dir.path(), &config);
    daemon
        .wait_log("open incidents of the previous run carried on", 1, WAIT)
        .await;
    assert!(
        daemon.log_text().contains("resumed 1 open incident(s)"),
        "{}",
        daemon.log_text()
    );
    let cleared = w
        .alert(WAIT, "the resumed tamper cleared", |v| {
            v["id"] == id && v["state"] == "cleared"
        })
        .await;
    let after = restarted.elapsed();
    assert_eq!(
        cleared["rev"].as_u64(),
        last_rev.map(|r| r + 1),
        "{cleared}"
    );
    assert_eq!(cleared["kind"], "tamper");
    // Counted from the restart, not from the last rejection before it.
    assert!(after >= clear_after, "cleared {after:?} after the restart");
    w.drain(Duration::from_millis(300)).await;
    assert!(daemon.stop().success());
    let tampers: Vec<Value> = w_alerts(&w).into_iter().filter(is_tamper).collect();
    assert!(
        tampers.iter().all(|v| v["id"] == id)
            && tampers.iter().filter(|v| v["state"] == "raised").count() == 1,
        "one incident, raised once: {tampers:#?}"
    );
}
