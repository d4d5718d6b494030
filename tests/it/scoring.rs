//! Nuisance and intrusion classes through the real binary: `rampart score`
//! runs library scenarios against the reference site (simulated in virtual
//! time, through the daemon's input path and engine) and each test checks
//! its class: nuisances raise nothing, intrusions raise the right segment.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Scores `scenarios` (names in `firmware-sim/scenarios/`) on the
/// reference site; returns each scenario's score.
fn score(scenarios: &[&str]) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("score")
        .arg("--json")
        .arg("--config")
        .arg(root.join("config/reference-site.toml"))
        .args(
            scenarios
                .iter()
                .map(|s| root.join(format!("firmware-sim/scenarios/{s}.toml"))),
        )
        .output()
        .expect("run rampart score");
    assert!(
        out.status.success(),
        "rampart score failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    doc["scenarios"].as_array().expect("scenarios").clone()
}

/// Every scenario raises no intrusion (nuisance alarms) and misses nothing.
fn raises_nothing(scenarios: &[&str]) {
    for s in score(scenarios) {
        assert_eq!(
            s["nuisance_alarms"],
            serde_json::json!([]),
            "{}: nuisance alarms",
            s["name"]
        );
        assert_eq!(s["threats"], 0, "{} is a nuisance scenario", s["name"]);
    }
}

/// Every threat of the scenario is detected, first in these segments, and
/// nothing else alarms.
fn detected_in(scenario: &str, segments: &[&str]) -> Value {
    let s = score(&[scenario]).remove(0);
    assert_eq!(s["missed"], serde_json::json!([]), "{scenario}: {s}");
    assert_eq!(
        s["nuisance_alarms"],
        serde_json::json!([]),
        "{scenario}: {s}"
    );
    let got: Vec<&str> = s["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["segment_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, segments, "{scenario}: {s}");
    s
}

#[test]
fn nuisance_wind_storm_and_gusts_raise_nothing() {
    raises_nothing(&["nuisance-storm", "nuisance-gusts", "nuisance-breeze"]);
}

#[test]
fn nuisance_dogs_and_a_fox_raise_nothing() {
    raises_nothing(&["nuisance-a-dogs", "nuisance-b-dog-pack", "nuisance-a-fox"]);
}

#[test]
fn nuisance_camels_grazing_along_the_fence_raise_nothing() {
    raises_nothing(&[
        "nuisance-b-camels-grazing",
        "nuisance-c-camel-and-dog",
        "nuisance-a-camels",
    ]);
}

#[test]
fn nuisance_birds_raise_nothing() {
    raises_nothing(&["nuisance-a-birds", "nuisance-c-birds"]);
}

#[test]
fn nuisance_sun_heated_rocks_raise_nothing() {
    raises_nothing(&["nuisance-a-rocks"]);
}

#[test]
fn nuisance_rain_and_dust_raise_nothing() {
    raises_nothing(&["nuisance-rain", "nuisance-rain-starts", "nuisance-dust"]);
}

#[test]
fn intrusion_a_person_walking_over_the_wall_in_view_of_a_camera() {
    let s = detected_in("threat-a-walk", &["S020"]);
    assert_eq!(s["detections"][0]["priority"], "high", "camera and fence");
}

#[test]
fn intrusion_a_crawler_without_a_camera() {
    detected_in("threat-b-crawler", &["S150"]);
}

#[test]
fn intrusion_a_vehicle_ramming_the_fence() {
    detected_in("threat-c-vehicle", &["S250"]);
}

#[test]
fn intrusion_a_runner() {
    detected_in("threat-b-run", &["S150"]);
}

#[test]
fn intrusion_at_night_at_crossover_and_colder_than_the_ground() {
    detected_in("threat-a-night", &["S020"]);
    detected_in("threat-a-crossover", &["S020"]);
    detected_in("threat-a-cold-person", &["S020"]);
}

#[test]
fn intrusion_during_wind_and_rain() {
    detected_in("threat-a-wind-crossing", &["S020"]);
    detected_in("threat-a-rain-crossing", &["S020"]);
}

#[test]
fn intrusion_two_at_once_are_two_alerts() {
    detected_in("threat-two-far-apart", &["S020", "S150"]);
    let s = detected_in("threat-a-two-300m-apart", &["S019", "S020"]);
    let a = &s["detections"][0]["incident"];
    let b = &s["detections"][1]["incident"];
    assert_ne!(a, b, "300 m apart: two incidents");
}

#[test]
fn intrusion_a_walker_along_the_wall_is_one_incident() {
    let s = detected_in("threat-a-boundary-walk", &["S019"]);
    assert_eq!(
        s["incident_segments"].as_object().unwrap().len(),
        1,
        "one incident, not one per segment or sensor: {s}"
    );
}

#[test]
fn intrusion_while_a_device_falls_silent_is_still_caught_and_the_silence_reported() {
    let s = detected_in("device-a-silent-during-crossing", &["S020"]);
    assert_eq!(
        (
            s["device_events"].as_u64(),
            s["device_events_reported"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

#[test]
fn device_tamper_fault_and_silence_are_reported() {
    for s in score(&[
        "device-a-fence-cut",
        "device-b-enclosure",
        "device-b-fault",
        "device-c-silence",
        "device-c-garbage",
    ]) {
        assert_eq!(s["device_missed"], serde_json::json!([]), "{s}");
        assert_eq!(s["nuisance_alarms"], serde_json::json!([]), "{s}");
    }
}
