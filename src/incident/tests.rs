//! Unit tests of the incident book.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::alert::{AlertState, SegmentCondition};
use crate::evidence::{Evidence, EvidenceKind};
use crate::rules::Finding;
use crate::sentence::TamperKind;
use crate::testkit;

const T0: Timestamp = Timestamp(1_770_000_000_000);

fn at(secs: f64) -> Timestamp {
    Timestamp(T0.0 + (secs * 1000.0) as i64)
}

fn book() -> IncidentBook {
    let (_, wall, layout) = testkit::layout();
    let timing = Timing {
        quiet_period: Duration::from_secs(60),
        min_update_interval: Duration::from_secs(2),
    };
    IncidentBook::new(wall, layout, timing, "test", "test-abc")
}

fn ev(sensor: &str, kind: EvidenceKind, chainage_m: f64, t: f64) -> Evidence {
    Evidence {
        sensor: sensor.into(),
        kind,
        at: at(t),
        chainage_m,
        value: 800.0,
        threshold: 400.0,
        detail: "test".into(),
        camera: None,
    }
}

fn alerts(out: &[Output]) -> Vec<&AlertMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn segment_states(out: &[Output]) -> Vec<(u32, SegmentCondition)> {
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
    assert_eq!(a[0].priority, Priority::Medium);
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
fn one_incident_per_segment() {
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
    assert_eq!(alerts(&out)[0].id, a1, "same segment S004: same incident");
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
        ("priority", v["priority"] == "medium"),
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
    assert!(b.on_ack("no-such-incident", "op", at(0.5)).is_none());
    let out = b.on_ack(&id, "op-7", at(1.0)).expect("open incident");
    let a = alerts(&out)[0];
    assert_eq!(
        (a.rev, a.state, a.acked_by.as_deref(), a.acked_at),
        (2, AlertState::Updated, Some("op-7"), Some(at(1.0)))
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
        Finding::Intrusion(ev("fence-a/zone2", EvidenceKind::Fence, 4950.0, 3.0)),
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
        (3, Priority::High, None)
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
