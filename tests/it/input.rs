//! The MQTT input path under load and faults (issue 12), against a real
//! Mosquitto on loopback running the limits of the shipped
//! `config/mosquitto/mosquitto.conf` (`harness::shipped_limits`) and the
//! real `rampart` binary:
//!
//! - messages too large for their topic (a 5 MiB sensor message on a broker
//!   that does not limit packets, a frame over `max_packet_bytes`, an
//!   acknowledgement over 4096 bytes) are acknowledged, dropped unread,
//!   counted and shown in the health topic, without costing the connection,
//!   and are not delivered again after a restart;
//! - a backlog of 100 000 sentences from 600 controllers (half of them
//!   keyed) queued while the daemon is down gives exactly the incidents the
//!   same input gives a running daemon, also when the daemon is killed with
//!   SIGKILL halfway through the drain;
//! - a kill -9 loop under controllers cycling tamper CUT/CLEAR at QoS 1:
//!   every sentence acts exactly once.
//!
//! CI runs few kill cycles; the long run is
//! `RAMPART_INPUT_KILL_CYCLES=50 RAMPART_REQUIRE_MOSQUITTO=1 cargo test --test it input:: -- --nocapture --test-threads 1`.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rampart::auth::{sign, Key};
use rampart::sentence::parse;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

use crate::flood::final_counters;
use crate::harness::{
    random_ms, seed, sentence, shipped_limit, shipped_limits, stored_alerts, Daemon, Mosquitto,
    Watcher,
};
use crate::wall_file;

const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Helpers

/// A test client publishing at QoS 1 with packets of up to 16 MiB (rumqttc),
/// counting the broker's acknowledgements.
struct Publisher {
    client: AsyncClient,
    acked: Arc<AtomicU64>,
    sent: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Publisher {
    /// Connects as `id`; `persistent`: clean session off.
    async fn connect(port: u16, id: &str, persistent: bool) -> Self {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_clean_session(!persistent);
        options.set_max_packet_size(16 << 20, 16 << 20);
        options.set_inflight(500);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let acked = Arc::new(AtomicU64::new(0));
        let count = acked.clone();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(WAIT, ready_rx.recv())
            .await
            .expect("the test publisher could not connect within 20 s");
        Self {
            client,
            acked,
            sent: 0,
            task,
        }
    }

    /// Publishes one message at QoS 1 (queued in the client).
    async fn publish(&mut self, topic: &str, payload: Bytes) {
        self.client
            .publish_bytes(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("publish");
        self.sent += 1;
    }

    /// Waits until the broker has acknowledged everything published.
    async fn flushed(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let acked = self.acked.load(Ordering::Relaxed);
            if acked >= self.sent {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the broker acknowledged {acked} of {} messages within {within:?}",
                self.sent
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A deterministic key for controller number `i`, as 64 hex digits.
fn key_hex(i: usize) -> String {
    (0..32)
        .map(|k| format!("{:02x}", (i * 131 + k * 7 + 1) as u8 ^ 0x5a))
        .collect()
}

fn key_of(hex: &str) -> Key {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    Key::new(k)
}

/// `body` (between `$` and `*`) in wire form, signed when a key is given.
fn line(body: &str, key: Option<&Key>) -> String {
    match key {
        None => sentence(body),
        Some(key) => {
            let mut s = parse(sentence(body).as_bytes()).expect("a valid sentence");
            sign(&mut s, key);
            s.encode()
        }
    }
}

fn sensor_topic(device: &str) -> String {
    format!("rampart/v1/sensor/{device}")
}

/// A config for `instance` on the broker at `port`: one fence controller
/// per `(id, start_m)` with one 200 m zone, where any single reading over
/// the thresholds is evidence (k = n = 1); the devices in `keys` keyed (a
/// key file beside the config, mode 0600). Controllers may be silent for an
/// hour and intrusions stay open for an hour: nothing depends on timing.
fn fences_config(
    dir: &Path,
    port: u16,
    instance: &str,
    fences: &[(String, f64)],
    keys: &[(String, String)],
    extra: &str,
) -> String {
    let mut auth = String::new();
    if !keys.is_empty() {
        let path = dir.join("keys.toml");
        let text: String = keys
            .iter()
            .map(|(d, hex)| format!("{d} = \"{hex}\"\n"))
            .collect();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        auth = "[auth]\nkeys_file = \"keys.toml\"\n".to_owned();
    }
    let mut text = format!(
        r#"
instance = "{instance}"
wall = "{wall}"
data_dir = "{data}"

[mqtt]
url = "mqtt://127.0.0.1:{port}"
reconnect_max = "500ms"
{extra}
[detection]
heartbeat_deadline = "1h"
quiet_period = "1h"

[detection.fence]
k = 1
n = 1

{auth}
"#,
        wall = wall_file().display(),
        data = dir.join("data").display(),
    );
    for (id, start) in fences {
        text.push_str(&format!(
            "[[fence]]\nid = \"{id}\"\n[[fence.zones]]\nzone = 1\nstart_m = {start:.1}\nend_m = {:.1}\n",
            start + 200.0
        ));
    }
    text
}

/// One incident as the store tells it at the end: what matters, not when.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Incident {
    kind: String,
    /// Its sensors (devices for tamper), sorted, joined with `,`.
    sensors: String,
    segment: String,
    /// `open` or `cleared`.
    state: &'static str,
}

/// What the alert store under `data` holds.
struct StoreReport {
    /// Every incident, sorted.
    incidents: Vec<Incident>,
    messages: usize,
    /// `raised` messages per incident kind and device / sensors.
    raised: BTreeMap<(String, String), u64>,
    /// Anything that must not be: an (`id`, `rev`) twice, an incident raised
    /// twice or not first, a message after `cleared`, a substitution
    /// suspicion.
    problems: Vec<String>,
}

fn read_store(data: &Path) -> StoreReport {
    let rows = stored_alerts(data, &[]);
    let mut problems = Vec::new();
    let mut keys = HashSet::new();
    let mut by_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in &rows {
        let m = &r["message"];
        let id = m["id"].as_str().unwrap_or_default().to_owned();
        let rev = m["rev"].as_u64().unwrap_or_default();
        if !keys.insert((id.clone(), rev)) {
            problems.push(format!("({id}, {rev}) stored twice"));
        }
        if m.to_string().contains("substitution") {
            problems.push(format!("substitution suspected: {m}"));
        }
        by_id.entry(id).or_default().push(m.clone());
    }
    let mut incidents = Vec::new();
    let mut raised: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (id, mut msgs) in by_id {
        msgs.sort_by_key(|m| m["rev"].as_u64());
        let mut sensors: Vec<String> = msgs
            .iter()
            .flat_map(|m| m["sensors"].as_array().cloned().unwrap_or_default())
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        sensors.sort();
        sensors.dedup();
        let sensors = sensors.join(",");
        let kind = msgs[0]["kind"].as_str().unwrap_or_default().to_owned();
        let states: Vec<&str> = msgs
            .iter()
            .map(|m| m["state"].as_str().unwrap_or_default())
            .collect();
        let n_raised = states.iter().filter(|s| **s == "raised").count();
        *raised.entry((kind.clone(), sensors.clone())).or_default() += n_raised as u64;
        if n_raised != 1 || states[0] != "raised" {
            problems.push(format!("{id} ({kind} {sensors}): states {states:?}"));
        }
        if let Some(i) = states.iter().position(|s| *s == "cleared") {
            if i + 1 != states.len() {
                problems.push(format!(
                    "{id} ({kind} {sensors}): messages after cleared: {states:?}"
                ));
            }
        }
        let last = msgs.last().expect("at least one message");
        incidents.push(Incident {
            kind,
            sensors,
            segment: last["segment_id"].as_str().unwrap_or_default().to_owned(),
            state: if last["state"] == "cleared" {
                "cleared"
            } else {
                "open"
            },
        });
    }
    incidents.sort();
    StoreReport {
        incidents,
        messages: rows.len(),
        raised,
        problems,
    }
}

/// Signs of authentication trouble or replays in a daemon's log.
fn log_problems(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains("substitution suspected")
                || l.contains("reason=\"replayed_seq\"")
                || l.contains("reason=\"bad_mac\"")
                || l.contains("reason=\"missing_mac\"")
                || l.contains("panicked")
        })
        .map(str::to_owned)
        .collect()
}

/// The counters of a daemon stopped gracefully: the final line of its log,
/// which must also hold no panic, and an exit status 0.
fn stop_and_count(daemon: Daemon) -> (BTreeMap<String, u64>, String) {
    let path = daemon.log.clone();
    let status = daemon.stop();
    let log = std::fs::read_to_string(path).unwrap_or_default();
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(!log.contains("panicked"), "a panic in the log:\n{log}");
    (final_counters(&log), log)
}

fn get(c: &BTreeMap<String, u64>, k: &str) -> u64 {
    c.get(k).copied().unwrap_or(0)
}

/// Waits until `watcher` has seen `n` alert messages satisfying `pred`.
async fn wait_alerts(
    w: &mut Watcher,
    n: usize,
    within: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        let have = w
            .seen
            .iter()
            .filter(|r| r.topic.contains("/v1/alert/") && pred(&r.json()))
            .count();
        if have >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{have} of {n} {what} within {within:?}"
        );
        w.drain(Duration::from_millis(100)).await;
    }
}

fn is_tamper_of(v: &Value, device: &str) -> bool {
    v["kind"] == "tamper"
        && v["sensors"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == device))
}

// ---------------------------------------------------------------------------
// 1. Oversized messages

const MIB: usize = 1 << 20;

/// `len` bytes of heartbeat sentences from `device` (seqs from 1000): read,
/// they would count as sentences.
fn sentences_of_size(device: &str, len: usize) -> Bytes {
    let mut v = Vec::with_capacity(len + 64);
    let mut seq = 1000u64;
    while v.len() < len {
        v.extend_from_slice(sentence(&format!("RPHB,{device},{seq},{seq},OK")).as_bytes());
        seq += 1;
    }
    v.truncate(len);
    Bytes::from(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_acknowledged_dropped_and_counted_without_losing_the_connection() {
    // The shipped limits, but no max_packet_size: the broker passes a 5 MiB
    // message on, and the daemon must cope by itself.
    let Some(broker) = Mosquitto::start_with(
        "oversized_messages_are_acknowledged_dropped_and_counted",
        &shipped_limits(&["max_packet_size"]),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = fences_config(
        dir.path(),
        broker.port,
        "big",
        &[("fence-a".to_owned(), 100_000.0)],
        &[],
        "frame_qos = 1\n",
    ) + crate::camera::camera_config();
    let health_topic = "rampart/v1/daemon/big/health";
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+", health_topic]).await;
    let daemon = Daemon::start(dir.path(), &config);
    // Sensors, acknowledgements, frames.
    daemon.wait_log("mqtt source subscribed", 3, WAIT).await;
    let mut publisher = Publisher::connect(broker.port, "big-publisher", false).await;
    let oversized = |w: &Watcher, count: u64| {
        w.seen.iter().rev().find_map(|r| {
            let v = r.json();
            (r.topic == health_topic && v["oversized"]["count"] == count).then_some(v)
        })
    };

    // 5 MiB of sentences on fence-a's topic, then a cut fence.
    let big = 5 * MIB;
    publisher
        .publish(&sensor_topic("fence-a"), sentences_of_size("fence-a", big))
        .await;
    publisher
        .publish(
            &sensor_topic("fence-a"),
            Bytes::from(sentence("RPTP,fence-a,1,CUT")),
        )
        .await;
    publisher.flushed(WAIT).await;
    let raised = w
        .alert(WAIT, "the cut after the 5 MiB message", |v| {
            is_tamper_of(v, "fence-a") && v["state"] == "raised"
        })
        .await;
    w.wait_for(WAIT, "oversized count 1 in the health topic", |r| {
        r.topic == health_topic && r.json()["oversized"]["count"] == 1
    })
    .await;
    let h = oversized(&w, 1).unwrap();
    assert_eq!(
        h["oversized"]["last_topic"], "rampart/v1/sensor/fence-a",
        "{h}"
    );
    assert_eq!(h["oversized"]["last_bytes"], big as u64, "{h}");
    assert_eq!(h["oversized"]["limit"], 65536, "{h}");

    // A frame over max_packet_bytes (4 MiB) and an acknowledgement over
    // 4096 bytes, at QoS 1 (frame_qos = 1), then the fence's CLEAR.
    publisher
        .publish(
            "rampart/v1/camera/cam-t/frame",
            Bytes::from(vec![0x11u8; 4 * MIB + 1]),
        )
        .await;
    w.wait_for(WAIT, "oversized count 2 in the health topic", |r| {
        r.topic == health_topic && r.json()["oversized"]["count"] == 2
    })
    .await;
    let h = oversized(&w, 2).unwrap();
    assert_eq!(
        h["oversized"]["last_topic"], "rampart/v1/camera/cam-t/frame",
        "{h}"
    );
    assert_eq!(h["oversized"]["last_bytes"], (4 * MIB + 1) as u64, "{h}");
    assert_eq!(h["oversized"]["limit"], (4 * MIB) as u64, "{h}");
    let ack = format!(
        r#"{{"id": "{}", "by": "{}"}}"#,
        raised["id"].as_str().unwrap(),
        "x".repeat(5000)
    );
    publisher.publish("rampart/v1/ack", Bytes::from(ack)).await;
    w.wait_for(WAIT, "oversized count 3 in the health topic", |r| {
        r.topic == health_topic && r.json()["oversized"]["count"] == 3
    })
    .await;
    let h = oversized(&w, 3).unwrap();
    assert_eq!(h["oversized"]["last_topic"], "rampart/v1/ack", "{h}");
    assert_eq!(h["oversized"]["limit"], 4096, "{h}");
    publisher
        .publish(
            &sensor_topic("fence-a"),
            Bytes::from(sentence("RPTP,fence-a,2,CLEAR")),
        )
        .await;
    let cleared = w
        .alert(WAIT, "the CLEAR after the oversized messages", |v| {
            v["id"] == raised["id"] && v["state"] == "cleared"
        })
        .await;
    assert!(
        cleared["acked_by"].is_null(),
        "the oversized acknowledgement was acted on: {cleared}"
    );
    publisher.flushed(WAIT).await;

    let (c, log) = stop_and_count(daemon);
    assert_eq!(get(&c, "rejected.oversized"), 3, "{c:?}");
    assert_eq!(get(&c, "mqtt.in.connects"), 1, "no reconnection: {c:?}");
    assert_eq!(get(&c, "mqtt.in.connection_errors"), 0, "{c:?}");
    assert_eq!(get(&c, "mqtt.in.messages"), 5, "{c:?}");
    // Only the two small sentences were read.
    assert_eq!(get(&c, "sentences.decoded"), 2, "{c:?}");
    assert_eq!(get(&c, "sentences.accepted"), 2, "{c:?}");
    assert_eq!(get(&c, "mqtt.in.acked"), 2, "{c:?}");
    assert_eq!(get(&c, "frames.received"), 0, "{c:?}");
    assert_eq!(get(&c, "acks.accepted"), 0, "{c:?}");
    assert!(
        !log.contains("mqtt source disconnected"),
        "the input connection was lost:\n{log}"
    );
    assert!(
        log.contains("5242880 bytes on `rampart/v1/sensor/fence-a`, more than the 65536 its topic allows: dropped unread and acknowledged"),
        "{log}"
    );

    // The broker kept the daemon's session; it sends none of the three again.
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 3, WAIT).await;
    publisher
        .publish(
            &sensor_topic("fence-a"),
            Bytes::from(sentence("RPTP,fence-a,3,CUT")),
        )
        .await;
    w.alert(WAIT, "a new cut after the restart", |v| {
        is_tamper_of(v, "fence-a") && v["state"] == "raised" && v["id"] != raised["id"]
    })
    .await;
    let (c, log) = stop_and_count(daemon);
    assert!(
        log.contains("session_present=true"),
        "the broker did not keep the session:\n{log}"
    );
    assert_eq!(get(&c, "rejected.oversized"), 0, "delivered again: {c:?}");
    assert_eq!(get(&c, "mqtt.in.messages"), 1, "{c:?}");
    assert_eq!(get(&c, "mqtt.in.redelivered"), 0, "{c:?}");
    assert_eq!(get(&c, "sentences.accepted"), 1, "{c:?}");
    assert_eq!(get(&c, "mqtt.in.connects"), 1, "{c:?}");
}

// ---------------------------------------------------------------------------
// 2. A backlog

const CONTROLLERS: usize = 600;
const BACKLOG: usize = 100_000;
/// Controller `i`'s zone starts at `ZONE0_M + i * SPACING_M`: 600 along
/// the 583 km wall.
const ZONE0_M: f64 = 500.0;
const SPACING_M: f64 = 970.0;
const MARKER: &str = "marker";

/// Controllers and where their zone starts.
type Fences = Vec<(String, f64)>;
/// Keyed controllers and their keys (hex).
type Keys = Vec<(String, String)>;
/// Messages to publish: topic and payload.
type Messages = Vec<(String, Bytes)>;
/// Incidents as (kind, sensors, state).
type Expected = Vec<(String, String, &'static str)>;

fn controller(i: usize) -> String {
    format!("fence-{i:03}")
}

fn is_keyed(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// The 600 controllers and the marker, and the keys of half of them.
fn wall_fences() -> (Fences, Keys) {
    let mut fences: Vec<(String, f64)> = (0..CONTROLLERS)
        .map(|i| (controller(i), ZONE0_M + i as f64 * SPACING_M))
        .collect();
    fences.push((MARKER.to_owned(), 582_900.0));
    let keys = (0..CONTROLLERS)
        .filter(|&i| is_keyed(i))
        .map(|i| (controller(i), key_hex(i)))
        .collect();
    (fences, keys)
}

/// The input, in publication order: one sentence per message, round after
/// round over the 600 controllers (seq 1, 2, ... each), 100 000 in all,
/// then the marker's CUT. Controllers 0–99 cut (in rounds 20–119), 0–49
/// clear later (rounds 130–159), 300–309 see one strong reading each (a
/// climb, rounds 40–130); everything else is quiet readings and
/// heartbeats. Also the incidents this must give.
fn backlog_input() -> (Messages, Expected) {
    let keys: Vec<Option<Key>> = (0..CONTROLLERS)
        .map(|i| is_keyed(i).then(|| key_of(&key_hex(i))))
        .collect();
    let mut seqs = vec![0u64; CONTROLLERS];
    let mut messages = Vec::with_capacity(BACKLOG + 1);
    for k in 0..BACKLOG {
        let (d, round) = (k % CONTROLLERS, k / CONTROLLERS);
        seqs[d] += 1;
        let (id, seq) = (controller(d), seqs[d]);
        let body = if d < 100 && round == 20 + d {
            format!("RPTP,{id},{seq},CUT")
        } else if d < 50 && round == 130 + d % 30 {
            format!("RPTP,{id},{seq},CLEAR")
        } else if (300..310).contains(&d) && round == 40 + (d - 300) * 10 {
            format!("RPFZ,{id},{seq},1,900,3200")
        } else if seq % 25 == 0 {
            format!("RPHB,{id},{seq},{},OK", seq * 10)
        } else {
            let h = (d as u64 * 7919 + seq * 104_729) % 20_000;
            format!("RPFZ,{id},{seq},1,{},{}", 20 + h % 80, 50 + h / 80)
        };
        messages.push((
            sensor_topic(&id),
            Bytes::from(line(&body, keys[d].as_ref())),
        ));
    }
    messages.push((
        sensor_topic(MARKER),
        Bytes::from(sentence(&format!("RPTP,{MARKER},1,CUT"))),
    ));
    let mut expected: Vec<(String, String, &'static str)> = (0..100)
        .map(|d| {
            let state = if d < 50 { "cleared" } else { "open" };
            ("tamper".to_owned(), controller(d), state)
        })
        .chain((300..310).map(|d| {
            (
                "intrusion".to_owned(),
                format!("{}/zone1", controller(d)),
                "open",
            )
        }))
        .collect();
    expected.push(("tamper".to_owned(), MARKER.to_owned(), "open"));
    expected.sort();
    (messages, expected)
}

/// A run's incidents without their segments, to set against the expected.
fn kinds_and_states(incidents: &[Incident]) -> Vec<(String, String, &'static str)> {
    let mut v: Vec<_> = incidents
        .iter()
        .map(|i| (i.kind.clone(), i.sensors.clone(), i.state))
        .collect();
    v.sort();
    v
}

fn is_marker(v: &Value, instance: &str) -> bool {
    v["instance"] == instance && is_tamper_of(v, MARKER) && v["state"] == "raised"
}

async fn publish_all(p: &mut Publisher, messages: &[(String, Bytes)]) -> Duration {
    let began = Instant::now();
    for (topic, payload) in messages {
        p.publish(topic, payload.clone()).await;
    }
    p.flushed(Duration::from_secs(120)).await;
    began.elapsed()
}

/// How long the drain of a backlog may take.
const DRAIN_WAIT: Duration = Duration::from_secs(240);

/// The counters of a run that took the whole input in one go.
fn assert_whole_input(c: &BTreeMap<String, u64>, run: &str) {
    let n = (BACKLOG + 1) as u64;
    assert_eq!(get(c, "sentences.accepted"), n, "{run}: {c:?}");
    assert_eq!(get(c, "sentences.decoded"), n, "{run}: {c:?}");
    assert_eq!(get(c, "sentences.duplicate"), 0, "{run}: {c:?}");
    assert_eq!(get(c, "mqtt.in.messages"), n, "{run}: {c:?}");
    assert_eq!(get(c, "mqtt.in.acked"), n, "{run}: {c:?}");
    assert_eq!(
        get(c, "mqtt.in.connects"),
        1,
        "{run}: no reconnection: {c:?}"
    );
    assert_eq!(get(c, "sentences.lost_by_seq_gap"), 0, "{run}: {c:?}");
    assert_eq!(get(c, "sentences.out_of_order"), 0, "{run}: {c:?}");
    let rejected: Vec<_> = c
        .iter()
        .filter(|(k, v)| k.starts_with("rejected.") && **v > 0)
        .collect();
    assert!(rejected.is_empty(), "{run}: rejected {rejected:?}");
}

fn assert_store(report: &StoreReport, expected: &[(String, String, &'static str)], run: &str) {
    assert!(report.problems.is_empty(), "{run}: {:#?}", report.problems);
    assert_eq!(
        kinds_and_states(&report.incidents),
        expected,
        "{run}: incidents"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_100k_sentences_from_600_controllers_gives_the_incidents_of_a_live_run() {
    let Some(broker) = Mosquitto::start_with(
        "a_backlog_of_100k_sentences_from_600_controllers",
        &shipped_limits(&[]),
    ) else {
        return;
    };
    assert!(
        shipped_limit("max_queued_messages") > BACKLOG as u64,
        "the shipped broker would drop part of the backlog"
    );
    let (fences, keys) = wall_fences();
    let (input, expected) = backlog_input();
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    let mut logs = Vec::new();

    // The backlog: the daemon runs once (its session exists), stops; the
    // input is queued; it starts again.
    let backlog_dir = tempfile::tempdir().unwrap();
    let config = fences_config(
        backlog_dir.path(),
        broker.port,
        "backlog",
        &fences,
        &keys,
        "",
    );
    let daemon = Daemon::start(backlog_dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;
    let (_, log) = stop_and_count(daemon);
    logs.push(log);
    let mut publisher = Publisher::connect(broker.port, "backlog-controllers", true).await;
    let queued_in = publish_all(&mut publisher, &input).await;
    let started = Instant::now();
    let daemon = Daemon::start(backlog_dir.path(), &config);
    w.alert(DRAIN_WAIT, "the marker's cut after the backlog", |v| {
        is_marker(v, "backlog")
    })
    .await;
    let drained_in = started.elapsed();
    let (c, log) = stop_and_count(daemon);
    logs.push(log);
    assert_whole_input(&c, "backlog");
    let backlog = read_store(&backlog_dir.path().join("data"));
    assert_store(&backlog, &expected, "backlog");
    eprintln!(
        "backlog: {} sentences from {CONTROLLERS} controllers ({} keyed) queued in {queued_in:?}, \
         drained in {drained_in:?} ({:.0} sentences/s, from the daemon's start to the marker's alert); \
         {} incidents, {} alert messages",
        BACKLOG + 1,
        keys.len(),
        (BACKLOG + 1) as f64 / drained_in.as_secs_f64(),
        backlog.incidents.len(),
        backlog.messages
    );

    // The same input to a running daemon.
    let live_dir = tempfile::tempdir().unwrap();
    let config = fences_config(live_dir.path(), broker.port, "live", &fences, &keys, "");
    let daemon = Daemon::start(live_dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;
    let started = Instant::now();
    let sent_in = publish_all(&mut publisher, &input).await;
    w.alert(DRAIN_WAIT, "the marker's cut in the live run", |v| {
        is_marker(v, "live")
    })
    .await;
    let live_in = started.elapsed();
    let (c, log) = stop_and_count(daemon);
    logs.push(log);
    assert_whole_input(&c, "live");
    let live = read_store(&live_dir.path().join("data"));
    assert_store(&live, &expected, "live");
    assert_eq!(
        backlog.incidents, live.incidents,
        "backlog and live runs differ"
    );
    eprintln!("live: the same input published in {sent_in:?}, all handled in {live_in:?}");

    // The backlog again, the daemon killed (SIGKILL) halfway through the
    // drain and started again.
    let killed_dir = tempfile::tempdir().unwrap();
    let data = killed_dir.path().join("data");
    let config = fences_config(killed_dir.path(), broker.port, "killed", &fences, &keys, "");
    let daemon = Daemon::start(killed_dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;
    let (_, log) = stop_and_count(daemon);
    logs.push(log);
    publish_all(&mut publisher, &input).await;
    let started = Instant::now();
    let daemon = Daemon::start(killed_dir.path(), &config);
    // A quarter of the cuts (controllers 0–24, in rounds 20–44 of 167)
    // raised: the alerts lag behind the drain.
    wait_alerts(
        &mut w,
        25,
        DRAIN_WAIT,
        "tampers raised before the kill",
        |v| v["instance"] == "killed" && v["kind"] == "tamper" && v["state"] == "raised",
    )
    .await;
    let killed_at = started.elapsed();
    let log_path = daemon.log.clone();
    daemon.kill();
    logs.push(std::fs::read_to_string(log_path).unwrap_or_default());
    let daemon = Daemon::start(killed_dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;
    w.alert(DRAIN_WAIT, "the marker's cut after the kill", |v| {
        is_marker(v, "killed")
    })
    .await;
    let (c, log) = stop_and_count(daemon);
    // What the killed run had committed as accepted, read back at the start.
    let remembered: u64 = log
        .lines()
        .find(|l| l.contains("sentences accepted by the previous run remembered"))
        .and_then(|l| l.split("sentences=").nth(1))
        .and_then(|v| v.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    logs.push(log);
    let killed = read_store(&data);
    eprintln!(
        "killed: SIGKILL {killed_at:?} into the drain, {remembered} sentences committed by then; \
         the restarted daemon accepted {}, dropped {} redeliveries ({} messages flagged DUP); {} alert messages",
        get(&c, "sentences.accepted"),
        get(&c, "sentences.duplicate"),
        get(&c, "mqtt.in.redelivered"),
        killed.messages
    );
    assert!(
        remembered > 0 && remembered < (BACKLOG + 1) as u64,
        "not killed halfway: {remembered} sentences committed before the kill"
    );
    // Each sentence taken once across both runs: what the first committed,
    // the second recognised; the rest it accepted.
    assert_eq!(
        remembered + get(&c, "sentences.accepted"),
        (BACKLOG + 1) as u64,
        "{c:?}"
    );
    assert_eq!(
        get(&c, "sentences.accepted") + get(&c, "sentences.duplicate"),
        get(&c, "sentences.decoded"),
        "{c:?}"
    );
    let rejected: Vec<_> = c
        .iter()
        .filter(|(k, v)| k.starts_with("rejected.") && **v > 0)
        .collect();
    assert!(rejected.is_empty(), "after the kill: rejected {rejected:?}");
    assert_store(&killed, &expected, "killed");
    assert_eq!(
        backlog.incidents, killed.incidents,
        "backlog and killed runs differ"
    );
    for log in &logs {
        let problems = log_problems(log);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}

// ---------------------------------------------------------------------------
// 3. A kill -9 loop

const LOOP_DEVICES: usize = 8;

/// `devices` controllers 10 km apart from km 50 (every other one keyed)
/// and the marker controller at km 150, as instance `instance`.
fn loop_config(dir: &Path, port: u16, instance: &str, devices: usize) -> String {
    let mut fences: Vec<(String, f64)> = (0..devices)
        .map(|i| (loop_device(i), 50_000.0 + 10_000.0 * i as f64))
        .collect();
    fences.push((MARKER.to_owned(), 150_000.0));
    let keys: Vec<(String, String)> = (0..devices)
        .filter(|&i| is_keyed(i))
        .map(|i| (loop_device(i), key_hex(i)))
        .collect();
    fences_config(dir, port, instance, &fences, &keys, "")
}

fn loop_device(i: usize) -> String {
    format!("ctl-{i}")
}

/// Controllers cycling tamper CUT, CLEAR at QoS 1 (one sentence every
/// 10 ms, device after device) until stopped; the even ones sign.
struct Controllers {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Publisher, Vec<(u64, u64)>)>,
}

impl Controllers {
    fn start(mut publisher: Publisher) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let keys: Vec<Option<Key>> = (0..LOOP_DEVICES)
                .map(|i| is_keyed(i).then(|| key_of(&key_hex(i))))
                .collect();
            // (CUTs, CLEARs) per device.
            let mut sent = vec![(0u64, 0u64); LOOP_DEVICES];
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                let d = n % LOOP_DEVICES;
                let (cuts, clears) = sent[d];
                let seq = cuts + clears + 1;
                let kind = if cuts == clears { "CUT" } else { "CLEAR" };
                let id = loop_device(d);
                let body = format!("RPTP,{id},{seq},{kind}");
                publisher
                    .publish(
                        &sensor_topic(&id),
                        Bytes::from(line(&body, keys[d].as_ref())),
                    )
                    .await;
                if cuts == clears {
                    sent[d].0 += 1;
                } else {
                    sent[d].1 += 1;
                }
                n += 1;
            }
            (publisher, sent)
        });
        Self { stop, task }
    }

    async fn stop(self) -> (Publisher, Vec<(u64, u64)>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("controllers")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loop_under_qos1_tamper_cycles_acts_on_every_sentence_exactly_once() {
    let Some(broker) =
        Mosquitto::start_with("sigkill loop under QoS 1 input", &shipped_limits(&[]))
    else {
        return;
    };
    let cycles: usize = std::env::var("RAMPART_INPUT_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = loop_config(dir.path(), broker.port, "killer", LOOP_DEVICES);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    // The daemon's session exists before the controllers start.
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;
    let publisher = Publisher::connect(broker.port, "killer-controllers", true).await;
    let controllers = Controllers::start(publisher);
    let mut rng = seed();
    let mut logs = Vec::new();
    let began = Instant::now();
    let mut daemon = Some(daemon);
    for _ in 0..cycles {
        let d = match daemon.take() {
            Some(d) => d,
            None => {
                let d = Daemon::start(dir.path(), &config);
                d.wait_log("mqtt source subscribed", 2, WAIT).await;
                d
            }
        };
        tokio::time::sleep(Duration::from_millis(random_ms(&mut rng, 100, 1500))).await;
        let log_path = d.log.clone();
        d.kill();
        logs.push(std::fs::read_to_string(log_path).unwrap_or_default());
        // Down for a while: the broker queues.
        tokio::time::sleep(Duration::from_millis(random_ms(&mut rng, 1, 700))).await;
    }
    let (mut publisher, sent) = controllers.stop().await;
    publisher.flushed(WAIT).await;
    publisher
        .publish(
            &sensor_topic(MARKER),
            Bytes::from(sentence(&format!("RPTP,{MARKER},1,CUT"))),
        )
        .await;
    publisher.flushed(WAIT).await;
    // A last run drains what is left.
    let daemon = Daemon::start(dir.path(), &config);
    w.alert(
        Duration::from_secs(60),
        "the marker's cut at the end",
        |v| is_tamper_of(v, MARKER) && v["state"] == "raised",
    )
    .await;
    let (c, log) = stop_and_count(daemon);
    logs.push(log);
    let elapsed = began.elapsed();

    let report = read_store(&data);
    let total: u64 = sent.iter().map(|(a, b)| a + b).sum();
    eprintln!(
        "input kill -9 loop: {cycles} cycles in {:.0} s, {total} tamper sentences from {LOOP_DEVICES} controllers \
         ({} keyed) at QoS 1; the last run accepted {}, dropped {} redeliveries ({} flagged DUP by the broker), \
         {} messages acknowledged; {} alert messages stored, {} incidents",
        elapsed.as_secs_f64(),
        (0..LOOP_DEVICES).filter(|&i| is_keyed(i)).count(),
        get(&c, "sentences.accepted"),
        get(&c, "sentences.duplicate"),
        get(&c, "mqtt.in.redelivered"),
        get(&c, "mqtt.in.acked"),
        report.messages,
        report.incidents.len()
    );
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let rejected: Vec<_> = c
        .iter()
        .filter(|(k, v)| k.starts_with("rejected.") && **v > 0)
        .collect();
    assert!(rejected.is_empty(), "the last run rejected {rejected:?}");
    for log in &logs {
        let problems = log_problems(log);
        assert!(problems.is_empty(), "{problems:#?}");
    }
    let mut mismatches = Vec::new();
    for (d, &(cuts, clears)) in sent.iter().enumerate() {
        let id = loop_device(d);
        let mine: Vec<&Incident> = report
            .incidents
            .iter()
            .filter(|i| i.kind == "tamper" && i.sensors == id)
            .collect();
        let raised = report
            .raised
            .get(&("tamper".to_owned(), id.clone()))
            .copied()
            .unwrap_or(0);
        let cleared = mine.iter().filter(|i| i.state == "cleared").count() as u64;
        let open = mine.iter().filter(|i| i.state == "open").count() as u64;
        if raised != cuts || cleared != clears || open != cuts - clears {
            mismatches.push(format!(
                "{id}: sent {cuts} CUT, {clears} CLEAR; stored {raised} raised, {cleared} cleared, {open} open"
            ));
        }
    }
    assert!(
        total >= (cycles as u64) * 10,
        "too few sentences ({total}) to test anything"
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

// ---------------------------------------------------------------------------
// 4. A deep backlog per controller, killed mid-drain

/// Sentences queued per controller.
const DEEP: u64 = 10_000;
/// One CUT every `DEEP_CYCLE` sentences, its CLEAR half a cycle later.
const DEEP_CYCLE: u64 = 250;

/// A few controllers with thousands of sentences each queued while the
/// daemon is down (far more than the 1024 seqs it remembers per
/// controller), the daemon killed (SIGKILL) while it drains them, and
/// started again: every sentence must still act once (per controller as
/// many tampers raised and cleared as CUTs and CLEARs sent), a redelivery
/// is never a replay nor a substitution.
///
/// This holds only if no controller has more sentences delivered and not
/// yet acknowledged (as far as the broker knows) at the kill than the
/// daemon remembers, which the shipped config leaves to the broker's
/// in-flight window (max_inflight_messages 1000). Mosquitto 2.0.11 does
/// not keep that window for a backlog queued while its client was away:
/// after the reconnection each PUBACK lets up to another 1000 messages go,
/// so the whole backlog is soon in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_backlog_per_controller_killed_mid_drain_acts_once_per_sentence() {
    let Some(broker) = Mosquitto::start_with("a deep backlog per controller", &shipped_limits(&[]))
    else {
        return;
    };
    const DEVICES: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let config = loop_config(dir.path(), broker.port, "deep", DEVICES);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;
    let (_, first_log) = stop_and_count(daemon);

    let key_objs: Vec<Option<Key>> = (0..DEVICES)
        .map(|i| is_keyed(i).then(|| key_of(&key_hex(i))))
        .collect();
    let mut input = Vec::new();
    for seq in 1..=DEEP {
        for (d, key) in key_objs.iter().enumerate() {
            let id = loop_device(d);
            let body = match seq % DEEP_CYCLE {
                1 => format!("RPTP,{id},{seq},CUT"),
                x if x == DEEP_CYCLE / 2 + 1 => format!("RPTP,{id},{seq},CLEAR"),
                _ if seq % 25 == 0 => format!("RPHB,{id},{seq},{seq},OK"),
                _ => format!("RPFZ,{id},{seq},1,{},{}", 20 + seq % 80, 50 + seq % 200),
            };
            input.push((sensor_topic(&id), Bytes::from(line(&body, key.as_ref()))));
        }
    }
    input.push((
        sensor_topic(MARKER),
        Bytes::from(sentence(&format!("RPTP,{MARKER},1,CUT"))),
    ));
    let cycles_per_device = DEEP / DEEP_CYCLE;
    let mut publisher = Publisher::connect(broker.port, "deep-controllers", true).await;
    publish_all(&mut publisher, &input).await;

    let started = Instant::now();
    let daemon = Daemon::start(dir.path(), &config);
    // An eighth of the tampers raised (the alerts lag behind the drain).
    let kill_after = (DEVICES as u64 * cycles_per_device / 8) as usize;
    wait_alerts(
        &mut w,
        kill_after,
        DRAIN_WAIT,
        "tampers raised before the kill",
        |v| v["kind"] == "tamper" && v["state"] == "raised",
    )
    .await;
    let killed_at = started.elapsed();
    let log_path = daemon.log.clone();
    daemon.kill();
    let killed_log = std::fs::read_to_string(log_path).unwrap_or_default();
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;
    w.alert(DRAIN_WAIT, "the marker's cut after the kill", |v| {
        is_tamper_of(v, MARKER) && v["state"] == "raised"
    })
    .await;
    let (c, log) = stop_and_count(daemon);
    let remembered: u64 = log
        .lines()
        .find(|l| l.contains("sentences accepted by the previous run remembered"))
        .and_then(|l| l.split("sentences=").nth(1))
        .and_then(|v| v.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let report = read_store(&dir.path().join("data"));
    eprintln!(
        "deep backlog: {} sentences from {DEVICES} controllers ({} keyed), SIGKILL {killed_at:?} into the drain; \
         the restarted daemon remembered {remembered}, received {} messages ({} flagged DUP), accepted {}, \
         dropped {} redeliveries, rejected replayed_seq {}; {} alert messages, {} incidents",
        input.len(),
        (0..DEVICES).filter(|&i| is_keyed(i)).count(),
        get(&c, "mqtt.in.messages"),
        get(&c, "mqtt.in.redelivered"),
        get(&c, "sentences.accepted"),
        get(&c, "sentences.duplicate"),
        get(&c, "rejected.replayed_seq"),
        report.messages,
        report.incidents.len()
    );
    let mut mismatches = Vec::new();
    for d in 0..DEVICES {
        let id = loop_device(d);
        let raised = report
            .raised
            .get(&("tamper".to_owned(), id.clone()))
            .copied()
            .unwrap_or(0);
        let cleared = report
            .incidents
            .iter()
            .filter(|i| i.kind == "tamper" && i.sensors == id && i.state == "cleared")
            .count() as u64;
        if raised != cycles_per_device || cleared != cycles_per_device {
            mismatches.push(format!(
                "{id}: sent {cycles_per_device} CUT and CLEAR; stored {raised} raised, {cleared} cleared"
            ));
        }
    }
    let mut problems = report.problems.clone();
    for l in [&first_log, &killed_log, &log] {
        problems.extend(log_problems(l));
    }
    problems.truncate(20);
    assert!(mismatches.is_empty(), "{mismatches:#?}\n{problems:#?}");
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(get(&c, "rejected.replayed_seq"), 0, "{c:?}");
}
