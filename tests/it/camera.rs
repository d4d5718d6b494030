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
