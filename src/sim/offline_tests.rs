//! Tests of the offline simulator: determinism, time order, what it yields
//! and its agreement with the shared generation code.

use std::collections::HashSet;

use super::*;
use crate::frame::{decode, FrameLimits};
use crate::sentence::{parse, Body};
use crate::sim::truth::TruthClass;
use crate::testkit;

/// The fixture config with a camera 150 m south of the wall at km 5.56.
fn config() -> (Config, Arc<Wall>) {
    let (mut config, wall) = testkit::fixture();
    config.camera.push(testkit::camera_south_of_wall(150.0));
    (config, wall)
}

const SCENARIO: &str = r#"
duration = "12s"
camera_rate_hz = 2.0
camera_width = 160
camera_height = 128

[[objects]]
at = "1s"
kind = "person"
chainage_m = 4940.0
offset_m = 4.0
speed_m_s = 1.0
duration = "11s"

[[objects]]
at = "0s"
kind = "dog"
chainage_m = 5555.0
offset_m = 10.0
heading = "along_wall"
duration = "10s"

[[events]]
at = "2s"
kind = "garbage"
device = "fence-a"
lines = 7

[[events]]
at = "3s"
kind = "silence"
device = "trench-a"
duration = "4s"

[[events]]
at = "0s"
kind = "rain"
intensity = 0.3
duration = "12s"
"#;

fn sim(seed: u64) -> OfflineSim {
    let (config, wall) = config();
    let devices: HashSet<String> = ["fence-a", "trench-a"].map(String::from).into();
    let mut scenario = Scenario::parse("t.toml", SCENARIO, &devices).expect("valid scenario");
    scenario.seed = seed;
    OfflineSim::new(&config, wall, scenario).expect("offline simulator")
}

#[test]
fn the_same_seed_gives_the_same_inputs_and_another_seed_others() {
    let a: Vec<TimedInput> = sim(11).take(120).collect();
    let b: Vec<TimedInput> = sim(11).take(120).collect();
    assert_eq!(a.len(), 120);
    assert_eq!(a, b);
    let c: Vec<TimedInput> = sim(12).take(120).collect();
    assert_ne!(a, c);
}

#[test]
fn inputs_come_in_time_order_sensors_first_and_end_with_the_scenario() {
    let all: Vec<TimedInput> = sim(1).collect();
    assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(all.iter().all(|i| i.at < Duration::from_secs(12)));
    // At 0 s the sensors' lines come before the camera's first frame.
    let first_frame = all
        .iter()
        .position(|i| matches!(i.input, SimInput::Frame { .. }))
        .unwrap();
    assert!(first_frame > 0 && all[first_frame].at == Duration::ZERO);
    assert!(all[..first_frame]
        .iter()
        .all(|i| matches!(i.input, SimInput::Line { .. })));
    // 2 Hz for 12 s.
    let frames: Vec<&TimedInput> = all
        .iter()
        .filter(|i| matches!(i.input, SimInput::Frame { .. }))
        .collect();
    assert_eq!(frames.len(), 24);
    assert_eq!(frames[3].at, Duration::from_millis(1500));
}

#[test]
fn lines_frames_garbage_and_silence() {
    let all: Vec<TimedInput> = sim(2).collect();
    let mut bad = 0;
    let mut trench_during_silence = 0;
    for i in &all {
        if let SimInput::Line { device, line } = &i.input {
            assert!(line.ends_with("\r\n"), "{line:?}");
            match parse(line.as_bytes()) {
                Ok(s) => {
                    // The foreign heartbeat of a garbage burst names another.
                    if s.device != "someone-else" {
                        assert_eq!(&s.device, device);
                    }
                }
                Err(_) => bad += 1,
            }
            let silent = Duration::from_secs(3)..Duration::from_secs(7);
            if device == "trench-a" && silent.contains(&i.at) {
                trench_during_silence += 1;
            }
        }
    }
    // 7 garbage lines, of which the `someone-else` heartbeat parses.
    assert_eq!(bad, 6);
    assert_eq!(trench_during_silence, 0);
    // Frames decode, with capture times from the fixed epoch.
    let limits = FrameLimits::default();
    for i in &all {
        if let SimInput::Frame { camera, payload } = &i.input {
            assert_eq!(camera, "cam-1");
            let f = decode(payload, &limits).expect("a valid frame");
            assert_eq!(f.pixels.dim(), (128, 160));
            let ms = DEFAULT_EPOCH_MS + i.at.as_millis() as i64;
            assert_eq!(f.capture_ms, Some(ms));
        }
    }
}

#[test]
fn the_person_walking_over_shakes_the_fence_and_breaks_the_beam() {
    // 4 m out at 1 m/s from 1 s: crosses the trench line (3 m) at about
    // 2 s, reaches the wall at 5 s and climbs until 11 s.
    let all: Vec<TimedInput> = sim(3).collect();
    let mut loud = HashSet::new();
    let mut beam = false;
    for i in &all {
        let SimInput::Line { line, .. } = &i.input else {
            continue;
        };
        match parse(line.as_bytes()).map(|s| s.body) {
            Ok(Body::Fence { zone, rms_mg, .. }) if rms_mg > 400.0 => {
                loud.insert(zone);
                assert!(i.at >= Duration::from_millis(4500), "{:?}", i.at);
            }
            Ok(Body::Beam {
                channel: 0,
                broken: true,
            }) => beam = true,
            _ => {}
        }
    }
    assert_eq!(loud, HashSet::from([1]));
    assert!(beam);
}

#[test]
fn truth_of_the_sample_scenario() {
    let s = sim(4);
    let truth = s.truth();
    let kinds: Vec<(&str, &str, TruthClass)> = truth
        .iter()
        .map(|t| (t.id.as_str(), t.kind.as_str(), t.class))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("objects[1]", "dog", TruthClass::Nuisance),
            ("events[2]", "rain", TruthClass::Nuisance),
            ("objects[0]", "person", TruthClass::Threat),
            ("events[0]", "garbage", TruthClass::Device),
            ("events[1]", "silence", TruthClass::Device),
        ]
    );
    let person = &truth[2];
    assert_eq!((person.start_s, person.end_s), (1.0, 12.0));
    assert_eq!(person.track.len(), 22);
    assert!((person.crosses_wall_s.unwrap() - 5.0).abs() < 0.01);
    assert_eq!(person.segments, ["S004"]);
    let p = person.track[0];
    assert!((p.chainage_m - 4940.0).abs() < 0.01 && (p.offset_m - 4.0).abs() < 0.01);
    assert!(
        person.cameras.is_empty(),
        "km 4.94 is out of the camera's view"
    );
    let dog = &truth[0];
    assert_eq!(dog.cameras, ["cam-1"]);
    assert_eq!(dog.crosses_wall_s, None);
    let silence = &truth[4];
    assert_eq!(silence.devices, ["trench-a"]);
    assert_eq!(silence.segments, ["S004", "S005"]);
    assert!(silence.track.is_empty());
    // One JSON object per item, and back.
    for t in truth {
        let line = serde_json::to_string(t).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(&serde_json::from_str::<TruthItem>(&line).unwrap(), t);
    }
    let v: serde_json::Value = serde_json::to_value(&truth[2]).unwrap();
    assert_eq!(v["class"], "threat");
}

#[test]
fn an_offline_run_can_move_to_another_thread() {
    fn send<T: Send>(_: &T) {}
    let s = sim(5);
    send(&s);
    let first = std::thread::spawn(move || s.take(3).count())
        .join()
        .unwrap();
    assert_eq!(first, 3);
}

#[test]
fn keyed_devices_sign_every_sentence_and_their_seq_keeps_growing() {
    use crate::auth::{verify, Key, Keys};
    let (mut config, wall) = config();
    let key = Key::new([9; 32]);
    let mut keys = Keys::none();
    keys.insert("fence-a", key.clone());
    config.auth.keys = Arc::new(keys);
    let devices: HashSet<String> = ["fence-a", "trench-a"].map(String::from).into();
    let mut scenario = Scenario::parse("t.toml", SCENARIO, &devices).expect("valid scenario");
    scenario.seed = 3;
    let (mut signed, mut plain, mut last) = (0, 0, None::<u32>);
    for i in OfflineSim::new(&config, wall, scenario).expect("offline simulator") {
        let SimInput::Line { line, .. } = &i.input else {
            continue;
        };
        let Ok(s) = parse(line.as_bytes()) else {
            continue; // garbage
        };
        if s.device == "fence-a" {
            assert_eq!(
                verify(&key, line.as_bytes(), s.mac.as_ref()),
                Ok(()),
                "{line}"
            );
            assert!(last.is_none_or(|l| crate::auth::seq::is_newer(s.seq, l)));
            last = Some(s.seq);
            signed += 1;
        } else {
            assert_eq!(s.mac, None, "unkeyed devices do not sign: {line}");
            plain += 1;
        }
    }
    assert!(signed > 20 && plain > 5, "{signed} signed, {plain} plain");
}
