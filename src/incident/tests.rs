//! Unit tests of the incident book (its fixtures are shared with
//! `resume_tests.rs`).

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::alert::{AlertState, SegmentCondition};
use crate::evidence::{Evidence, EvidenceKind};
use crate::rules::Finding;
use crate::sentence::TamperKind;
use crate::testkit;

pub(super) const T0: Timestamp = Timestamp(1_770_000_000_000);

pub(super) fn at(secs: f64) -> Timestamp {
    Timestamp(T0.0 + (secs * 1000.0) as i64)
}

pub(super) fn book() -> IncidentBook {
    let (_, wall, layout) = testkit::layout();
    book_on(wall, layout)
}

/// A book whose layout has camera cam-1, 50 m south of the wall at 5.56 km.
fn book_with_camera() -> IncidentBook {
    let (mut config, wall) = testkit::fixture();
    config.camera.push(testkit::camera_south_of_wall(50.0));
    let layout = Arc::new(Layout::new(&config, &wall));
    book_on(wall, layout)
}

pub(super) fn book_on(wall: Arc<Wall>, layout: Arc<Layout>) -> IncidentBook {
    let timing = Timing {
        quiet_period: Duration::from_secs(60),
        min_update_interval: Duration::from_secs(2),
    };
    let fusion = Fusion::new(&crate::config::FusionConfig::default());
    IncidentBook::new(wall, layout, timing, fusion, "test", "test-abc")
}

pub(super) fn ev(sensor: &str, kind: EvidenceKind, chainage_m: f64, t: f64) -> Evidence {
    Evidence {
        sensor: sensor.into(),
        kind,
        at: at(t),
        chainage_m,
        extent_m: 0.0,
        value: 800.0,
        threshold: 400.0,
        detail: "test".into(),
        camera: None,
    }
}

pub(super) fn alerts(out: &[Output]) -> Vec<&AlertMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some(a),
            _ => None,
        })
        .collect()
}

pub(super) fn segment_states(out: &[Output]) -> Vec<(u32, SegmentCondition)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Segment(s, st) => Some((s.0, st.state)),
            _ => None,
        })
        .collect()
}

#[test]
fn intrusion_is_raised_once_then_updated_then_cleared() {
    let mut b = book();
    let out = b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0)),
        at(0.0),
    );
    let a = alerts(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].state, a[0].rev, a[0].segment, a[0].segment_id.as_str()),
        (AlertState::Raised, 1, 4, "S004")
    );
    assert_eq!(a[0].priority, Priority::Low, "one sensor alone");
    let id = a[0].id.clone();
    assert_eq!(segment_states(&out), vec![(4, SegmentCondition::Alert)]);

    // The same sensor again: no message now, one update after min_update_interval.
    let out = b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.5)),
        at(0.5),
    );
    assert!(alerts(&out).is_empty());
    assert!(alerts(&b.on_tick(at(1.5))).is_empty());
    let out = b.on_tick(at(2.0));
    let a = alerts(&out);
    assert_eq!((a.len(), a[0].rev, a[0].state), (1, 2, AlertState::Updated));

    // A new kind of sensor in the same segment: published at once, same id, higher priority.
    let out = b.on_finding(
        Finding::Intrusion(ev("trench-a/geo0", EvidenceKind::Ground, 4900.0, 3.0)),
        at(3.0),
    );
    let a = alerts(&out);
    assert_eq!(
        (a[0].id.as_str(), a[0].rev, a[0].priority),
        (id.as_str(), 3, Priority::High)
    );
    assert_eq!(a[0].sensors, vec!["fence-a/zone1", "trench-a/geo0"]);
    assert_eq!(a[0].evidence.len(), 3);
    assert!(a[0].confidence > 0.5 && a[0].confidence <= 1.0);

    // Quiet for the quiet period: cleared, and the segment goes quiet.
    assert!(alerts(&b.on_tick(at(62.9))).is_empty());
    let out = b.on_tick(at(63.0));
    let a = alerts(&out);
    assert_eq!(
        (a[0].state, a[0].rev, a[0].id.as_str()),
        (AlertState::Cleared, 4, id.as_str())
    );
    assert_eq!(segment_states(&out), vec![(4, SegmentCondition::Quiet)]);
    assert_eq!(b.open_count(), 0);
}

#[test]
fn evidence_near_an_incident_joins_it_and_far_away_starts_another() {
    let mut b = book();
    let a1 = alerts(&b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0)),
        at(0.0),
    ))[0]
        .id
        .clone();
    let out = b.on_finding(
        Finding::Intrusion(ev("trench-a/beam0", EvidenceKind::Beam, 4950.0, 1.0)),
        at(1.0),
    );
    assert_eq!(alerts(&out)[0].id, a1, "50 m away: same incident");
    let out = b.on_finding(
        Finding::Intrusion(ev("fence-a/zone3", EvidenceKind::Fence, 7100.0, 1.0)),
        at(1.0),
    );
    let other = alerts(&out)[0];
    assert_ne!(other.id, a1);
    assert_eq!(
        (other.segment_id.as_str(), other.state),
        ("S007", AlertState::Raised)
    );
    assert_eq!(b.open_count(), 2);
}

#[test]
fn tamper_is_critical_and_clears_only_on_clear() {
    let mut b = book();
    let tamper = Finding::Tamper {
        device: "fence-a".into(),
        kind: TamperKind::Cut,
        evidence: Evidence {
            detail: "CUT".into(),
            ..ev("fence-a", EvidenceKind::Tamper, 5000.0, 0.0)
        },
    };
    let out = b.on_finding(tamper, at(0.0));
    let a = alerts(&out)[0];
    assert_eq!(
        (a.kind, a.priority, a.confidence),
        (AlertKind::Tamper, Priority::Critical, 1.0)
    );
    assert!(
        alerts(&b.on_tick(at(3600.0))).is_empty(),
        "no quiet-period clear for tamper"
    );
    let out = b.on_finding(
        Finding::TamperCleared {
            device: "fence-a".into(),
            at: at(3601.0),
        },
        at(3601.0),
    );
    assert_eq!(alerts(&out)[0].state, AlertState::Cleared);
}

#[test]
fn offline_degrades_covered_segments_until_the_device_returns() {
    let mut b = book();
    let offline = Finding::Offline {
        device: "trench-a".into(),
        evidence: ev("trench-a", EvidenceKind::Heartbeat, 5000.0, 10.0),
    };
    let out = b.on_finding(offline, at(10.0));
    let a = alerts(&out)[0];
    assert_eq!(
        (a.kind, a.priority, a.state),
        (AlertKind::SensorOffline, Priority::High, AlertState::Raised)
    );
    // trench-a's channels are at 4900, 5100 and 4950 m: segments 4 and 5.
    assert_eq!(
        segment_states(&out),
        vec![
            (4, SegmentCondition::Degraded),
            (5, SegmentCondition::Degraded)
        ]
    );
    let out = b.on_finding(
        Finding::Online {
            device: "trench-a".into(),
            at: at(20.0),
        },
        at(20.0),
    );
    assert_eq!(alerts(&out)[0].state, AlertState::Cleared);
    assert_eq!(
        segment_states(&out),
        vec![(4, SegmentCondition::Quiet), (5, SegmentCondition::Quiet)]
    );
}

#[test]
fn alert_beats_degraded_in_segment_state() {
    let mut b = book();
    b.on_finding(
        Finding::Offline {
            device: "trench-a".into(),
            evidence: ev("trench-a", EvidenceKind::Heartbeat, 5000.0, 0.0),
        },
        at(0.0),
    );
    let out = b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 1.0)),
        at(1.0),
    );
    assert_eq!(segment_states(&out), vec![(4, SegmentCondition::Alert)]);
}

#[test]
fn alert_message_has_every_spec_field() {
    let mut b = book();
    let out = b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0)),
        at(0.0),
    );
    let v = serde_json::to_value(alerts(&out)[0]).unwrap();
    for (field, check) in [
        ("id", v["id"].is_string()),
        ("rev", v["rev"].is_u64()),
        ("state", v["state"] == "raised"),
        ("kind", v["kind"] == "intrusion"),
        ("priority", v["priority"] == "low"),
        (
            "confidence",
            v["confidence"]
                .as_f64()
                .is_some_and(|c| (0.0..=1.0).contains(&c)),
        ),
        ("segment", v["segment"] == 4),
        ("segment_id", v["segment_id"] == "S004"),
        ("chainage_m", v["chainage_m"] == 4900.0),
        ("lat", v["lat"].as_f64().is_some_and(|l| l.abs() < 1e-9)),
        // 4900 m along the equator from 0° E: 4900 / (R·π/180) degrees.
        (
            "lon",
            v["lon"].as_f64().is_some_and(|l| {
                (l - 4900.0 / (6_371_008.8 * std::f64::consts::PI / 180.0)).abs() < 1e-9
            }),
        ),
        (
            "sensors",
            v["sensors"] == serde_json::json!(["fence-a/zone1"]),
        ),
        (
            "evidence",
            v["evidence"][0]["kind"] == "fence"
                && v["evidence"][0]["sensor"] == "fence-a/zone1"
                && v["evidence"][0]["at"] == "2026-02-02T02:40:00.000Z",
        ),
        ("first_seen", v["first_seen"] == "2026-02-02T02:40:00.000Z"),
        ("last_seen", v["last_seen"].is_string()),
        ("published_at", v["published_at"].is_string()),
    ] {
        assert!(check, "field `{field}` wrong in {v}");
    }
}

#[test]
fn incident_ids_carry_the_prefix_and_count_up() {
    let mut b = book();
    let a = alerts(&b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0)),
        at(0.0),
    ))[0]
        .id
        .clone();
    let c = alerts(&b.on_finding(
        Finding::Intrusion(ev("fence-a/zone3", EvidenceKind::Fence, 7100.0, 0.0)),
        at(0.0),
    ))[0]
        .id
        .clone();
    assert_eq!((a.as_str(), c.as_str()), ("test-abc-1", "test-abc-2"));
}

#[test]
fn initial_states_cover_every_covered_segment() {
    let mut b = book();
    let out = b.initial_states(at(0.0));
    assert_eq!(
        segment_states(&out),
        vec![
            (4, SegmentCondition::Quiet),
            (5, SegmentCondition::Quiet),
            (7, SegmentCondition::Quiet)
        ]
    );
    let _ = Arc::clone(&b.wall);
}

#[test]
fn an_acknowledged_incident_is_quiet_until_its_priority_rises() {
    let mut b = book();
    let id = alerts(&b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0)),
        at(0.0),
    ))[0]
        .id
        .clone();
    let out = b.on_finding(
        Finding::Intrusion(ev("fence-a/zone2", EvidenceKind::Fence, 4950.0, 0.2)),
        at(0.2),
    );
    assert_eq!(
        alerts(&out)[0].priority,
        Priority::Medium,
        "two fence zones"
    );
    assert!(b.on_ack("no-such-incident", "op", at(0.5)).is_none());
    let out = b.on_ack(&id, "op-7", at(1.0)).expect("open incident");
    let a = alerts(&out)[0];
    assert_eq!(
        (a.rev, a.state, a.acked_by.as_deref(), a.acked_at),
        (3, AlertState::Updated, Some("op-7"), Some(at(1.0)))
    );
    let json = serde_json::to_value(a).unwrap();
    assert_eq!(json["acked_by"], "op-7");
    assert_eq!(json["acked_at"], "2026-02-02T02:40:01.000Z");
    // More of the same, even a new sensor of the same kind: no re-notification.
    assert!(alerts(&b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 2.0)),
        at(2.0)
    ))
    .is_empty());
    assert!(alerts(&b.on_finding(
        Finding::Intrusion(ev("fence-a/zone3", EvidenceKind::Fence, 4950.0, 3.0)),
        at(3.0)
    ))
    .is_empty());
    assert!(
        alerts(&b.on_tick(at(10.0))).is_empty(),
        "no pending update either"
    );
    // A second kind of sensor raises the priority: published, ack dropped.
    let out = b.on_finding(
        Finding::Intrusion(ev("trench-a/geo0", EvidenceKind::Ground, 4900.0, 11.0)),
        at(11.0),
    );
    let a = alerts(&out)[0];
    assert_eq!(
        (a.rev, a.priority, a.acked_by.clone()),
        (4, Priority::High, None)
    );
    // Acknowledged again, then the clear is still published, carrying the ack.
    b.on_ack(&id, "op-8", at(12.0)).unwrap();
    let out = b.on_tick(at(80.0));
    let a = alerts(&out)[0];
    assert_eq!(
        (a.state, a.acked_by.as_deref()),
        (AlertState::Cleared, Some("op-8"))
    );
    assert!(
        b.on_ack(&id, "op-9", at(81.0)).is_none(),
        "cleared incidents cannot be acknowledged"
    );
}

#[test]
fn messages_of_unacknowledged_incidents_carry_no_ack_fields() {
    let mut b = book();
    let out = b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0)),
        at(0.0),
    );
    let json = serde_json::to_value(alerts(&out)[0]).unwrap();
    assert!(
        json.get("acked_by").is_none() && json.get("acked_at").is_none(),
        "{json}"
    );
}

fn weak(sensor: &str, kind: EvidenceKind, chainage_m: f64, t: f64) -> Evidence {
    Evidence {
        value: 1200.0,
        threshold: 1000.0,
        extent_m: 25.0,
        ..ev(sensor, kind, chainage_m, t)
    }
}

#[test]
fn weak_evidence_is_held_until_the_sensors_together_are_strong_enough() {
    let mut b = book();
    // Footsteps at 1.2 times the threshold: held.
    let out = b.on_finding(
        Finding::Intrusion(weak("trench-a/geo0", EvidenceKind::Ground, 4900.0, 0.0)),
        at(0.0),
    );
    assert!(alerts(&out).is_empty(), "held: {out:?}");
    assert!(
        segment_states(&out).is_empty(),
        "held incidents are not on the board"
    );
    assert_eq!(b.open_count(), 0);
    // More from the same geophone is still one sensor alone.
    assert!(alerts(&b.on_finding(
        Finding::Intrusion(weak("trench-a/geo0", EvidenceKind::Ground, 4900.0, 2.0)),
        at(2.0),
    ))
    .is_empty());
    // A beam adds nothing (a fox breaks it too), nor does a fence zone at
    // 1.4 times its threshold (a camel rubbing it): 1 + 0.2 + 0 + 0.4 < 2.
    let beam = Evidence {
        value: 1.0,
        threshold: 1.0,
        ..weak("trench-a/beam0", EvidenceKind::Beam, 4950.0, 2.5)
    };
    assert!(alerts(&b.on_finding(Finding::Intrusion(beam), at(2.5))).is_empty());
    let rub = Evidence {
        value: 560.0,
        threshold: 400.0,
        ..weak("fence-a/zone1", EvidenceKind::Fence, 4960.0, 3.0)
    };
    assert!(alerts(&b.on_finding(Finding::Intrusion(rub), at(3.0))).is_empty());
    // The fence zone at 1.9 times: 1 + 0.2 + 0.9 ≥ 2, raised with the trail.
    let shake = Evidence {
        value: 760.0,
        threshold: 400.0,
        ..weak("fence-a/zone1", EvidenceKind::Fence, 4960.0, 4.0)
    };
    let out = b.on_finding(Finding::Intrusion(shake), at(4.0));
    let a = alerts(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].state, a[0].rev, a[0].priority),
        (AlertState::Raised, 1, Priority::Critical)
    );
    assert_eq!(a[0].evidence.len(), 5, "the held evidence is in the trail");
    assert_eq!(a[0].first_seen, at(0.0));
    assert_eq!(segment_states(&out), vec![(4, SegmentCondition::Alert)]);
    let stats = b.fusion_stats();
    assert_eq!(
        (stats.held, stats.held_raised, stats.held_expired),
        (1, 1, 0)
    );
}

#[test]
fn held_evidence_nothing_corroborates_expires_without_an_alert() {
    let mut b = book();
    b.on_finding(
        Finding::Intrusion(weak("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0)),
        at(0.0),
    );
    // Within the 15 s hold it is still waiting; after it, it is gone.
    assert!(alerts(&b.on_tick(at(14.0))).is_empty());
    assert_eq!(b.fusion_stats().held_expired, 0);
    assert!(alerts(&b.on_tick(at(15.0))).is_empty());
    assert_eq!(b.fusion_stats().held_expired, 1);
    // Fresh evidence later starts over, held again.
    let out = b.on_finding(
        Finding::Intrusion(weak("trench-a/geo0", EvidenceKind::Ground, 4900.0, 16.0)),
        at(16.0),
    );
    assert!(alerts(&out).is_empty());
    assert_eq!(b.fusion_stats().held, 2);
}

#[test]
fn a_camera_alerts_alone_a_beam_waits_and_a_climb_needs_no_help() {
    let mut b = book();
    // A person-shaped camera blob alerts alone, at low priority.
    let a = alerts(&b.on_finding(
        Finding::Intrusion(weak("cam-1", EvidenceKind::Thermal, 2500.0, 0.0)),
        at(0.0),
    ))
    .into_iter()
    .cloned()
    .collect::<Vec<_>>();
    assert_eq!(
        (a.len(), a[0].segment_id.as_str(), a[0].priority),
        (1, "S002", Priority::Low)
    );
    // A broken beam alone (a fox?) waits for another sensor.
    assert!(alerts(&b.on_finding(
        Finding::Intrusion(weak("trench-a/beam0", EvidenceKind::Beam, 4900.0, 0.0)),
        at(0.0),
    ))
    .is_empty());
    // A fence zone three times over its threshold (a climb) alerts alone.
    let climb = Evidence {
        value: 1200.0,
        threshold: 400.0,
        ..ev("fence-a/zone3", EvidenceKind::Fence, 7100.0, 1.0)
    };
    let a = alerts(&b.on_finding(Finding::Intrusion(climb), at(1.0)))
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!((a.len(), a[0].segment_id.as_str()), (1, "S007"));
}

#[test]
fn priority_rises_with_the_mix_of_sensor_kinds_at_one_place() {
    let mut b = book();
    let first = b.on_finding(
        Finding::Intrusion(ev("cam-1", EvidenceKind::Thermal, 4900.0, 0.0)),
        at(0.0),
    );
    assert_eq!(alerts(&first)[0].priority, Priority::Low);
    let out = b.on_finding(
        Finding::Intrusion(ev("fence-a/zone1", EvidenceKind::Fence, 4920.0, 1.0)),
        at(1.0),
    );
    assert_eq!(
        alerts(&out)[0].priority,
        Priority::High,
        "a human-sized blob with fence activity in the same place"
    );
    let out = b.on_finding(
        Finding::Intrusion(ev("trench-a/geo0", EvidenceKind::Ground, 4910.0, 2.0)),
        at(2.0),
    );
    assert_eq!(alerts(&out)[0].priority, Priority::Critical);
    assert_eq!(b.open_count(), 1);
}

#[test]
fn a_walker_along_the_wall_is_one_incident_that_moves_between_segments() {
    let mut b = book();
    let mut ids = std::collections::BTreeSet::new();
    let mut messages = Vec::new();
    let mut boards = Vec::new();
    // A camera follows someone walking from 4900 m to 5200 m at 1.5 m/s.
    for i in 0..=200 {
        let t = f64::from(i);
        let c = 4900.0 + 1.5 * t;
        let out = b.on_finding(
            Finding::Intrusion(ev("cam-1", EvidenceKind::Thermal, c, t)),
            at(t),
        );
        let mut tick = b.on_tick(at(t + 0.5));
        let mut all = out;
        all.append(&mut tick);
        for a in alerts(&all) {
            ids.insert(a.id.clone());
            messages.push(a.clone());
        }
        boards.extend(segment_states(&all));
    }
    assert_eq!(ids.len(), 1, "one incident, not one per segment");
    let moved: Vec<&AlertMessage> = messages.iter().filter(|m| m.moved_from.is_some()).collect();
    assert_eq!(moved.len(), 1);
    let m = moved[0];
    assert_eq!(
        (m.segment_id.as_str(), m.moved_from.as_deref(), m.state),
        ("S005", Some("S004"), AlertState::Updated)
    );
    // It moved once 25 m past the boundary, not before.
    assert!(
        m.chainage_m >= 5025.0 && m.chainage_m < 5040.0,
        "{}",
        m.chainage_m
    );
    assert!(
        boards.contains(&(4, SegmentCondition::Quiet))
            && boards.contains(&(5, SegmentCondition::Alert)),
        "{boards:?}"
    );
    // Every message before the move is in S004, every one after in S005.
    let split = messages
        .iter()
        .position(|m| m.moved_from.is_some())
        .unwrap();
    assert!(messages[..split].iter().all(|m| m.segment_id == "S004"));
    assert!(messages[split..].iter().all(|m| m.segment_id == "S005"));
    let json = serde_json::to_value(m).unwrap();
    assert_eq!(json["moved_from"], "S004");
    assert!(
        serde_json::to_value(&messages[0])
            .unwrap()
            .get("moved_from")
            .is_none(),
        "only the moving message carries moved_from"
    );
}

#[test]
fn two_intruders_far_enough_apart_are_two_incidents() {
    let mut b = book();
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..10 {
        let t = f64::from(i);
        for c in [4600.0, 4900.0] {
            for a in alerts(&b.on_finding(
                Finding::Intrusion(ev("cam-1", EvidenceKind::Thermal, c, t)),
                at(t),
            )) {
                ids.insert(a.id.clone());
            }
        }
    }
    assert_eq!(ids.len(), 2, "300 m apart");
    assert_eq!(b.open_count(), 2);
}

#[test]
fn wind_and_low_contrast_degrade_segments_and_say_why() {
    let mut b = book_with_camera();
    let out = b.on_finding(
        Finding::Wind {
            device: "fence-a".into(),
            on: true,
            detail: "test".into(),
            at: at(0.0),
        },
        at(0.0),
    );
    let states: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Segment(_, st) => Some(st.clone()),
            _ => None,
        })
        .collect();
    assert!(!states.is_empty());
    assert!(states
        .iter()
        .all(|st| st.state == SegmentCondition::Degraded
            && st.reasons == vec!["fence-a: wind".to_string()]));
    // Tamper is never suppressed by wind.
    let out = b.on_finding(
        Finding::Tamper {
            device: "fence-a".into(),
            kind: TamperKind::Cut,
            evidence: ev("fence-a", EvidenceKind::Tamper, 5000.0, 1.0),
        },
        at(1.0),
    );
    assert_eq!(alerts(&out)[0].kind, AlertKind::Tamper);
    let out = b.on_finding(
        Finding::Wind {
            device: "fence-a".into(),
            on: false,
            detail: "calm".into(),
            at: at(40.0),
        },
        at(40.0),
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Segment(_, st) if st.reasons.is_empty())));

    let mut b = book_with_camera();
    assert!(b
        .on_camera_contrast("no-such-camera", true, at(45.0))
        .is_empty());
    let out = b.on_camera_contrast("cam-1", true, at(50.0));
    let reasons: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Segment(_, st) => Some((st.state, st.reasons.clone())),
            _ => None,
        })
        .collect();
    assert!(!reasons.is_empty(), "the camera watches some segments");
    assert!(reasons
        .iter()
        .all(|(st, r)| *st == SegmentCondition::Degraded
            && r == &["cam-1: low_contrast".to_string()]));
    let out = b.on_camera_contrast("cam-1", false, at(60.0));
    assert!(!out.is_empty(), "the restored segments are published");
    assert!(out
        .iter()
        .all(|o| matches!(o, Output::Segment(_, st) if st.state == SegmentCondition::Quiet)));
}

#[test]
fn an_animal_a_camera_saw_explains_weak_evidence_but_not_a_climb() {
    let mut b = book();
    // A camel seen at 4950 m; its rubbing (1.5x) and steps (1.6x) by it:
    // 1 + 0.5 + 0.6 = 2.1 would raise, but not with the 2.0 margin.
    b.on_animals(&[4950.0], at(0.0));
    let rub = Evidence {
        value: 600.0,
        threshold: 400.0,
        ..weak("fence-a/zone1", EvidenceKind::Fence, 4900.0, 1.0)
    };
    let steps = Evidence {
        value: 1600.0,
        threshold: 1000.0,
        ..weak("trench-a/geo0", EvidenceKind::Ground, 4900.0, 2.0)
    };
    assert!(alerts(&b.on_finding(Finding::Intrusion(rub.clone()), at(1.0))).is_empty());
    assert!(alerts(&b.on_finding(Finding::Intrusion(steps.clone()), at(2.0))).is_empty());
    assert_eq!(b.fusion_stats().animal_sightings, 1);
    // Someone climbs there (3x) with a person's steps (2.5x):
    // 1 + 2 + 1.5 ≥ 4, raised despite the camel.
    let climb = Evidence {
        value: 1200.0,
        threshold: 400.0,
        ..weak("fence-a/zone1", EvidenceKind::Fence, 4900.0, 3.0)
    };
    assert!(alerts(&b.on_finding(Finding::Intrusion(climb), at(3.0))).is_empty());
    let heavy = Evidence {
        value: 2500.0,
        threshold: 1000.0,
        ..weak("trench-a/geo0", EvidenceKind::Ground, 4900.0, 3.5)
    };
    assert_eq!(
        alerts(&b.on_finding(Finding::Intrusion(heavy), at(3.5)))[0].state,
        AlertState::Raised
    );
    // Without the camel the weak pair alone raises.
    let mut b = book();
    b.on_finding(Finding::Intrusion(rub), at(1.0));
    assert_eq!(
        alerts(&b.on_finding(Finding::Intrusion(steps), at(2.0))).len(),
        1
    );
}

#[test]
fn a_vehicle_sized_camera_blob_waits_for_the_fence() {
    let mut b = book();
    let mut van = weak("cam-1", EvidenceKind::Thermal, 4900.0, 0.0);
    van.camera = Some(crate::evidence::CameraObservation {
        range_m: 150.0,
        bearing_deg: 0.0,
        lat: 0.0,
        lon: 0.0,
        wall_offset_m: 5.0,
        width_m: 4.6,
        height_m: 2.0,
        contrast_k: 9.0,
        captured: None,
        vehicle: true,
    });
    assert!(alerts(&b.on_finding(Finding::Intrusion(van), at(0.0))).is_empty());
    // It rams the fence: raised, with the camera's sighting in the trail.
    let ram = Evidence {
        value: 1400.0,
        threshold: 400.0,
        ..weak("fence-a/zone1", EvidenceKind::Fence, 4900.0, 1.0)
    };
    let out = b.on_finding(Finding::Intrusion(ram), at(1.0));
    let a = alerts(&out);
    assert_eq!((a.len(), a[0].priority), (1, Priority::High));
    assert_eq!(a[0].sensors, vec!["cam-1", "fence-a/zone1"]);
}

/// Regression: a tamper of a new kind once went out with the old summary,
/// and not at all once the incident was acknowledged.
#[test]
fn a_new_tamper_kind_is_published_with_its_summary_even_after_an_ack() {
    let mut b = book();
    let tamper = |kind: TamperKind, detail: &str, t: f64| Finding::Tamper {
        device: "fence-a".into(),
        kind,
        evidence: Evidence {
            detail: detail.into(),
            ..ev("fence-a", EvidenceKind::Tamper, 5000.0, t)
        },
    };
    let first =
        alerts(&b.on_finding(tamper(TamperKind::Enclosure, "ENCLOSURE", 0.0), at(0.0)))[0].clone();
    assert!(first.summary.contains("ENCLOSURE"), "{}", first.summary);
    b.on_ack(&first.id, "op-1", at(1.0)).expect("open");
    // The same kind again, acknowledged: quiet.
    assert!(
        alerts(&b.on_finding(tamper(TamperKind::Enclosure, "ENCLOSURE", 2.0), at(2.0))).is_empty()
    );
    // The cable is cut: published at once, saying so, asking for a new ack.
    let out = b.on_finding(tamper(TamperKind::Cut, "CUT", 3.0), at(3.0));
    let a = alerts(&out);
    assert_eq!(a.len(), 1);
    assert!(a[0].summary.contains("CUT"), "{}", a[0].summary);
    assert_eq!(a[0].acked_by, None);
}
