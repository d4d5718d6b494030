//! Thermal frames into the real daemon: bad frames are rejected and
//! counted without disturbing anything else.

use std::time::Duration;

use crate::harness::{free_port, sentence, Daemon, Watcher};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(15);

/// A camera on the test config's wall near km 250.5.
pub fn camera_config() -> &'static str {
    r#"
[[camera]]
id = "cam-t"
lat = 34.43
lon = 40.98
height_m = 12.0
heading_deg = 0.0
tilt_deg = 5.0
hfov_deg = 30.0
vfov_deg = 24.0
"#
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_rejected_and_counted_and_sentences_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "{}{}",
        test_config(dir.path(), port, true, &dir.path().join("tty/none")),
        camera_config()
    );
    let daemon = Daemon::start(dir.path(), &config);
    let mut w = Watcher::start(port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;

    // An RTF1 header claiming 2000×2000 pixels, with almost no pixel data.
    let mut huge = b"RTF1\x01\x01".to_vec();
    huge.extend_from_slice(&2000u16.to_le_bytes());
    huge.extend_from_slice(&2000u16.to_le_bytes());
    huge.extend_from_slice(&[0; 22]);
    huge.extend_from_slice(&[1; 100]);
    // One at a time: a frame arriving while the previous one waits would
    // replace it (that is the shedding policy, tested below).
    w.publish("rampart/v1/camera/cam-t/frame", &huge).await;
    daemon.wait_log("reason=\"too_many_pixels\"", 1, WAIT).await;
    // The spec's test PNG cut in half.
    let png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/frames/test-frame.png"
    ))
    .unwrap();
    w.publish("rampart/v1/camera/cam-t/frame", &png[..png.len() / 2])
        .await;
    daemon.wait_log("reason=\"bad_png\"", 1, WAIT).await;
    // Garbage, and a frame from a camera nobody configured.
    w.publish(
        "rampart/v1/camera/cam-t/frame",
        b"not a frame at all, not even close",
    )
    .await;
    daemon.wait_log("reason=\"unknown_format\"", 1, WAIT).await;
    let rtf1 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/frames/test-frame.rtf1"
    ))
    .unwrap();
    w.publish("rampart/v1/camera/cam-x/frame", &rtf1).await;
    daemon.wait_log("reason=\"unknown_camera\"", 1, WAIT).await;
    // A good frame is decoded and processed (it only seeds the background).
    w.publish("rampart/v1/camera/cam-t/frame", &rtf1).await;

    // Sentences are untouched by all that.
    w.publish(
        "rampart/v1/sensor/trench-m1",
        sentence("RPGS,trench-m1,1,0,5000").as_bytes(),
    )
    .await;
    w.alert(WAIT, "intrusion from the geophone", |v| {
        v["segment_id"] == "S250"
    })
    .await;
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    for counter in [
        "\"rejected.too_many_pixels\": 1",
        "\"rejected.bad_png\": 1",
        "\"rejected.unknown_format\": 1",
        "\"rejected.unknown_camera\": 1",
        "\"frames.processed.cam-t\": 1,",
        "\"frames.rejected.cam-t\": 3",
    ] {
        assert!(
            log.contains(counter),
            "no {counter} in the final counters:\n{log}"
        );
    }
}

/// A `[[camera]]` 150 m from the wall at `chainage`, on the wall's right
/// side (looking towards increasing chainage), facing the wall.
pub fn camera_facing_wall(id: &str, chainage: f64) -> String {
    use geo::{Bearing, Destination, Haversine, Point};
    let wall = rampart::wall::Wall::load(&crate::wall_file(), 1000.0).unwrap();
    let on_wall = wall.position_at(chainage);
    let (a, b) = (
        wall.position_at(chainage - 50.0),
        wall.position_at(chainage + 50.0),
    );
    let along = Haversine.bearing(Point::new(a.lon, a.lat), Point::new(b.lon, b.lat));
    let mast = Haversine.destination(Point::new(on_wall.lon, on_wall.lat), along + 90.0, 150.0);
    format!(
        "\n[[camera]]\nid = \"{id}\"\nlat = {}\nlon = {}\nheight_m = 12.0\nheading_deg = {}\ntilt_deg = 4.5\nhfov_deg = 30.0\nvfov_deg = 24.0\n",
        mast.y(),
        mast.x(),
        (along + 270.0).rem_euclid(360.0)
    )
}

/// Runs the real simulator (cameras only) against the real daemon through
/// Mosquitto; returns the alerts seen within `for_s` seconds, the truth file
/// and the daemon's final log.
async fn run_scene(
    name: &str,
    objects: &str,
    for_s: u64,
) -> Option<(Vec<serde_json::Value>, String, String)> {
    use rampart::sim::scenario::Scenario;
    use rampart::sim::{SimOptions, Simulator};
    let broker = crate::harness::Mosquitto::start(name)?;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}{}",
        test_config(dir.path(), broker.port, false, &dir.path().join("tty/none")),
        camera_facing_wall("cam-w", 250_500.0)
    );
    let (config, _) = rampart::config::load_str("test", &text, dir.path()).expect("valid config");
    let scenario =
        format!("seed = 3\nduration = \"{for_s}s\"\nserial = []\ncamera_rate_hz = 9.0\n{objects}");
    let devices = ["fence-s1", "trench-m1", "fence-quiet"]
        .map(String::from)
        .into();
    let scenario = Scenario::parse("scenario", &scenario, &devices).expect("valid scenario");
    let truth = dir.path().join("truth.jsonl");
    let sim = Simulator::new(
        &config,
        scenario,
        SimOptions {
            pty_dir: dir.path().join("tty"),
            truth: Some(truth.clone()),
            identities: None,
        },
    )
    .unwrap();
    let daemon = Daemon::start(dir.path(), &text);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("mqtt source subscribed", 2, WAIT).await;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let sim = tokio::spawn(sim.run(stop_rx));
    let _ = sim.await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    w.drain(Duration::from_millis(300)).await;
    let alerts = w.seen.iter().map(|r| r.json()).collect();
    Some((
        alerts,
        std::fs::read_to_string(truth).unwrap_or_default(),
        std::fs::read_to_string(log_path).unwrap(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_camera_sees_a_person_walk_up_to_the_wall() {
    // The camera learns its scene for about 12 s first (see WARMUP_SAMPLES).
    let objects = "[[objects]]\nat = \"13s\"\nkind = \"person\"\nchainage_m = 250500.0\noffset_m = 12.0\nheading = \"towards_wall\"\nspeed_m_s = 1.5\nduration = \"9s\"\n";
    let Some((alerts, truth, log)) = run_scene(
        "a_simulated_camera_sees_a_person_walk_up_to_the_wall",
        objects,
        22,
    )
    .await
    else {
        return;
    };
    assert!(
        truth.contains("\"S250\"") && truth.contains("cam-w"),
        "the person is in the camera's view: {truth}"
    );
    let raised = alerts
        .iter()
        .find(|a| {
            a["kind"] == "intrusion"
                && a["sensors"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s == "cam-w"))
        })
        .unwrap_or_else(|| panic!("no intrusion with the camera; alerts {alerts:?}\nlog:\n{log}"));
    assert_eq!(raised["segment_id"], "S250");
    let ev = raised["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "thermal")
        .unwrap_or_else(|| panic!("no thermal evidence in {raised}"));
    assert_eq!(ev["kind"], "thermal");
    assert!(
        (ev["chainage_m"].as_f64().unwrap() - 250_500.0).abs() < 15.0,
        "{ev}"
    );
    assert!(ev["camera"]["range_m"].as_f64().unwrap() > 100.0, "{ev}");
    assert!(
        alerts
            .iter()
            .all(|a| a["segment_id"] == "S250" || a["kind"] != "intrusion"),
        "{alerts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bird_and_a_sun_heated_rock_raise_nothing() {
    let objects = "[[objects]]\nat = \"13s\"\nkind = \"bird\"\nchainage_m = 250440.0\noffset_m = 30.0\nheading = \"along_wall\"\nspeed_m_s = 12.0\nduration = \"8s\"\n\n\
                   [[objects]]\nat = \"0s\"\nkind = \"rock\"\nchainage_m = 250520.0\noffset_m = 25.0\ncontrast_k = 6.0\nduration = \"10m\"\n";
    let Some((alerts, truth, log)) =
        run_scene("a_bird_and_a_sun_heated_rock_raise_nothing", objects, 24).await
    else {
        return;
    };
    assert!(
        truth.matches("cam-w").count() >= 2,
        "both are in the camera's view: {truth}"
    );
    let intrusions: Vec<_> = alerts.iter().filter(|a| a["kind"] == "intrusion").collect();
    assert!(intrusions.is_empty(), "{intrusions:?}");
    // The frames were processed and the bird was seen as blobs, then dropped.
    assert!(log.contains("\"frames.processed.cam-w\""), "{log}");
    let blobs = log
        .split("\"frames.blobs\": ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(blobs.is_some_and(|b| b > 0), "the bird made blobs: {log}");
}
