//! Replay on the equator test wall: sentences over serial and MQTT, frames,
//! acknowledgements, virtual time, and the same answer every time.

use ndarray::Array2;

use super::*;
use crate::camera::geometry::CameraModel;
use crate::camera::CameraSettings;
use crate::config::ThermalConfig;
use crate::record::format::{Reader, Writer};
use crate::record::Recorded;
use crate::testkit;
use crate::wall::LatLon;

const T0: i64 = 1_770_000_000_000;

/// `s` seconds after the start.
fn at(s: f64) -> Timestamp {
    Timestamp(T0 + (s * 1000.0).round() as i64)
}

fn start() -> Start {
    Start {
        started: at(0.0),
        id_prefix: "rp".into(),
    }
}

/// A sentence in wire form with its checksum.
fn line(body: &str) -> String {
    format!(
        "${body}*{:02X}\r\n",
        crate::sentence::checksum(body.as_bytes())
    )
}

fn serial(s: f64, bytes: &str) -> Record {
    Record::sentences(at(s), Source::Serial("/dev/ttyS0".into()), bytes.to_owned())
}

fn mqtt(s: f64, device: &str, bytes: &str) -> Record {
    Record::sentences(at(s), Source::Mqtt(device.into()), bytes.to_owned())
}

/// Fence zone 1 (threshold 400 mg, 3 of 5) hit three times at 900 mg (over
/// twice the threshold: it alerts without waiting for corroboration), a
/// geophone next to it, garbage, acknowledgements; the recording ends at 8 s.
fn session() -> Vec<Record> {
    let fz = |seq: u32| line(&format!("RPFZ,fence-a,{seq},1,900,1200"));
    let first = format!("{}{}", line("RPHB,fence-a,1,10,OK"), fz(2));
    let (head, tail) = first.split_at(first.len() - 7);
    vec![
        serial(1.0, head),
        serial(1.05, &format!("{tail}$RPFZ,fence-a,3,1,900,1200*00\r\n")),
        serial(2.0, &fz(4)),
        serial(3.0, &fz(5)),
        mqtt(4.0, "trench-a", &line("RPGS,trench-a,1,0,2500")),
        mqtt(5.0, "trench-a", &line("RPHB,fence-a,6,10,OK")),
        Record::ack(at(6.0), &br#"{"id": "rp-1", "by": "op-7"}"#[..]),
        Record::ack(at(6.5), &br#"{"id": "rp-99", "by": "op-7"}"#[..]),
        Record::ack(at(6.6), &b"not json"[..]),
        Record::end(at(8.0)),
    ]
}

fn replay(records: Vec<Record>) -> ReplayResult {
    let (config, wall) = testkit::fixture();
    run(&config, wall, start(), records)
}

#[test]
fn replay_runs_the_live_codec_rules_and_incidents_on_virtual_time() {
    let r = replay(session());
    assert_eq!(r.incidents.len(), 1, "{:#?}", r.incidents);
    let inc = &r.incidents[0];
    assert_eq!(inc.id, "rp-1");
    assert_eq!(inc.kind, AlertKind::Intrusion);
    assert_eq!(inc.raised, at(3.0), "the third hit, at its receipt time");
    assert_eq!(
        (inc.segment_raised.as_str(), inc.segment_last.as_str()),
        ("S004", "S004")
    );
    assert_eq!(inc.max_priority, Priority::High, "fence and ground");
    assert_eq!(inc.sensors, ["fence-a/zone1", "trench-a/geo0"]);
    // The acknowledgement is in the next message; clear after the 60 s quiet
    // period, on the first tick at or after it.
    assert_eq!(inc.messages[2].acked_by.as_deref(), Some("op-7"));
    assert_eq!(inc.cleared, Some(at(64.0)));
    assert!(
        r.last_tick >= at(64.0) && r.last_tick <= at(66.0),
        "{:?}",
        r.last_tick
    );
    assert_eq!(r.end, at(8.0));

    let c = &r.counts;
    assert_eq!(c.records, 10);
    assert_eq!(c.sentences, 5, "HB and four FZ over serial, GS over MQTT");
    let rejected: Vec<(&str, u64)> = c.rejected.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        rejected,
        [
            ("ack_unknown_incident", 1),
            ("bad_ack", 1),
            ("checksum_mismatch", 1),
            ("wrong_source", 1),
        ]
    );
    assert_eq!(c.acks, 1);
    // trench-a (10 s) and fence-a (30 s) fall silent after the end: not events.
    assert_eq!(c.raised_after_end, 2);
    assert_eq!(
        r.unmatched_serial,
        ["/dev/ttyS0"],
        "not in the config: any device"
    );
}

#[test]
fn the_same_records_give_the_same_incidents_every_time_and_through_a_file() {
    let first = replay(session());
    assert_eq!(replay(session()), first);
    let header = Header {
        instance: "test".into(),
        started_ms: T0,
        started: String::new(),
        id_prefix: "rp".into(),
        rampart_version: "0".into(),
        config: String::new(),
        recorded: Recorded {
            sentences: true,
            frames: true,
            acks: true,
        },
        sources: vec![],
    };
    let mut w = Writer::new(Vec::new(), &header).unwrap();
    for r in session() {
        w.write(&r).unwrap();
    }
    let bytes = w.into_inner();
    let reader = Reader::new(&bytes[..]).unwrap();
    assert_eq!(Start::from_header(reader.header()), start());
    let records: Vec<Record> = reader.map(Result::unwrap).collect();
    assert_eq!(replay(records), first);
}

#[test]
fn a_serial_line_is_framed_across_chunks_with_its_binding_and_a_reset_drops_the_partial_line() {
    let (mut config, wall) = testkit::fixture();
    config.serial = toml::from_str::<crate::config::Config>(&format!(
        "{}\n[[serial]]\npath = \"/dev/ttyS0\"\ndevices = [\"fence-a\"]\n",
        testkit::CONFIG
    ))
    .unwrap()
    .serial;
    let hb = line("RPHB,fence-a,1,10,OK");
    let (head, tail) = hb.split_at(10);
    let records = vec![
        serial(1.0, head),
        Record {
            at: at(1.5),
            source: Source::Serial("/dev/ttyS0".into()),
            payload: Payload::Reset,
        },
        // The orphaned tail is no sentence; trench-a is not on this line.
        serial(2.0, &format!("{tail}{}", line("RPHB,trench-a,1,10,OK"))),
        serial(3.0, head),
        serial(3.1, tail),
    ];
    let r = run(&config, wall, start(), records);
    assert_eq!(r.counts.sentences, 1);
    let rejected: Vec<&str> = r.counts.rejected.keys().map(String::as_str).collect();
    assert_eq!(rejected, ["bad_start", "wrong_source"]);
    assert!(r.unmatched_serial.is_empty());
}

#[test]
fn the_end_marker_says_how_long_the_daemon_watched() {
    // One geophone hit at 1 s. Without an end marker the input ends there:
    // the devices' deadlines run out after it and are left out.
    let hit = || mqtt(1.0, "trench-a", &line("RPGS,trench-a,1,0,2500"));
    let r = replay(vec![hit()]);
    assert_eq!(r.incidents.len(), 1);
    assert_eq!(r.incidents[0].cleared, Some(at(61.0)));
    assert_eq!(r.counts.raised_after_end, 2);
    // The daemon ran on to 40 s: trench-a went offline at 11 s and
    // fence-a (never heard) at 30 s, while it watched.
    let r = replay(vec![hit(), Record::end(at(40.0))]);
    let kinds: Vec<(AlertKind, Timestamp, Option<Timestamp>)> = r
        .incidents
        .iter()
        .map(|i| (i.kind, i.raised, i.cleared))
        .collect();
    assert_eq!(
        kinds,
        [
            (AlertKind::Intrusion, at(1.0), Some(at(61.0))),
            (AlertKind::SensorOffline, at(11.0), None),
            (AlertKind::SensorOffline, at(30.0), None),
        ]
    );
    assert_eq!(r.incidents[1].sensors, ["trench-a"]);
    assert_eq!(r.counts.raised_after_end, 0);
}

#[test]
fn a_long_gap_is_not_ticked_through_to_its_end() {
    let ten_days = 10.0 * 86_400.0;
    let records = vec![
        mqtt(1.0, "trench-a", &line("RPGS,trench-a,1,0,2500")),
        mqtt(ten_days, "trench-a", &line("RPGS,trench-a,2,0,2500")),
    ];
    let r = replay(records);
    assert_eq!(r.counts.long_gaps, 1);
    let raised: Vec<Timestamp> = r.incidents.iter().map(|i| i.raised).collect();
    // The first intrusion, both devices offline within the first hour, and
    // the second intrusion ten days later (trench-a back online).
    assert_eq!(raised, [at(1.0), at(11.0), at(30.0), at(ten_days)]);
    assert_eq!(r.incidents[0].cleared, Some(at(61.0)));
    assert_eq!(r.incidents[1].cleared, Some(at(ten_days)));
}

const GROUND: u16 = 29_500;
const W: usize = 320;
const H: usize = 240;

/// A frame with a person 0.6 × 1.8 m standing on the wall at lon 0.05°
/// (chainage 5560 m), seen by the fixture camera 111 m south of it.
fn person_frame(model: &CameraModel) -> Array2<u16> {
    let mut frame = Array2::from_elem((H, W), GROUND);
    let foot = LatLon::new(0.0, 0.05);
    let (u, v_foot) = model.project(foot, 0.0).unwrap();
    let (_, v_head) = model.project(foot, 1.8).unwrap();
    let slant = model.ground_point(u, v_foot).unwrap().slant_m;
    let half_w = 0.6 * model.focal_px().0 / slant / 2.0;
    for y in v_head.floor() as usize..v_foot.ceil() as usize {
        for x in (u - half_w).floor() as usize..(u + half_w).ceil() as usize {
            frame[(y.min(H - 1), x.min(W - 1))] = GROUND + 800;
        }
    }
    frame
}

#[test]
fn frames_go_through_the_camera_pipeline_every_one_in_order() {
    let (mut config, wall) = testkit::fixture();
    let cam = testkit::camera_south_of_wall(111.195);
    let settings = CameraSettings::resolve(&cam, &ThermalConfig::default());
    let model = CameraModel::new(settings.mount, W as u32, H as u32).unwrap();
    config.camera.push(cam);
    let empty = Array2::from_elem((H, W), GROUND);
    let person = person_frame(&model);
    // The camera learns the empty scene first (its warm-up samples, 1.5 s
    // apart), then sees the person.
    let warm = crate::camera::WARMUP_SAMPLES as u32;
    let mut records: Vec<Record> = (0..warm)
        .map(|k| {
            let t = at(1.0 + 1.5 * f64::from(k));
            Record::frame(
                t,
                "cam-1",
                crate::frame::encode_rtf1(empty.view(), k, t.millis()),
            )
        })
        .collect();
    let first = 1.0 + 1.5 * f64::from(warm);
    let frame_at = |i: u32| at(first + f64::from(i) * 0.111);
    for i in 1..=5 {
        let payload = crate::frame::encode_png(person.view());
        records.push(Record::frame(frame_at(i), "cam-1", payload));
    }
    records.push(Record::frame(at(first + 1.0), "cam-1", vec![b'x'; 64]));
    records.push(Record::frame(at(first + 1.1), "cam-9", vec![b'x'; 64]));
    let r = run(&config, wall.clone(), start(), records.clone());
    assert_eq!(r.counts.frames, u64::from(warm) + 5);
    assert_eq!(
        r.counts.evidence, 1,
        "after 3 frames, then at most once a second"
    );
    let rejected: Vec<&str> = r.counts.rejected.keys().map(String::as_str).collect();
    assert_eq!(rejected, ["unknown_camera", "unknown_format"]);
    let inc = r
        .incidents
        .iter()
        .find(|i| i.kind == AlertKind::Intrusion)
        .expect("the person raised an intrusion");
    assert_eq!(
        (inc.kind, inc.segment_raised.as_str(), inc.raised),
        (AlertKind::Intrusion, "S005", frame_at(3))
    );
    assert_eq!(inc.sensors, ["cam-1"]);
    assert!(
        (inc.chainage_raised_m - 5559.75).abs() < 3.0,
        "{}",
        inc.chainage_raised_m
    );
    assert_eq!(run(&config, wall, start(), records), r, "deterministic");
}
