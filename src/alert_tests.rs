//! Unit tests of the alert messages: what is serialised parses back.

use super::*;
use crate::evidence::{CameraObservation, EvidenceKind};

fn evidence(sensor: &str, kind: EvidenceKind, at_ms: i64) -> Evidence {
    Evidence {
        sensor: sensor.into(),
        kind,
        at: Timestamp(at_ms),
        chainage_m: 4_912.345_678_901_234,
        value: 851.25,
        threshold: 400.0,
        detail: "rms 851.25 mg over 400; 3 of last 5 readings over".into(),
        // Not sent: parses back as 0.
        extent_m: 0.0,
        camera: None,
    }
}

fn message(kind: AlertKind, state: AlertState) -> AlertMessage {
    let t = 1_770_498_843_120;
    let mut thermal = evidence("cam-1", EvidenceKind::Thermal, t + 7);
    thermal.camera = Some(CameraObservation {
        range_m: 48.123_456_789,
        bearing_deg: 359.999_999_9,
        lat: -0.000_449_660_301_234_5,
        lon: 0.050_000_000_000_000_1,
        wall_offset_m: 1.1e-3,
        width_m: 0.61,
        height_m: 1.78,
        contrast_k: -3.25,
        captured: Some(Timestamp(t + 3)),
        // Not sent: parses back as false.
        vehicle: false,
    });
    AlertMessage {
        id: "test-19c3a1f2-7".into(),
        rev: 3,
        state,
        kind,
        priority: Priority::High,
        confidence: 0.93,
        segment: 4,
        segment_id: "S004".into(),
        chainage_m: 4912.3,
        lat: 1.234_567_890_123_456_7e-9,
        lon: 0.044_176_654_321_987_65,
        sensors: vec!["cam-1".into(), "fence-a/zone1".into()],
        evidence: vec![evidence("fence-a/zone1", EvidenceKind::Fence, t), thermal],
        first_seen: Timestamp(t),
        last_seen: Timestamp(t + 7),
        published_at: Timestamp(t + 9),
        evidence_total: 42,
        summary: "intrusion evidence from 2 sensor(s) (thermal + fence)".into(),
        instance: "test".into(),
        acked_by: None,
        acked_at: None,
        moved_from: None,
    }
}

#[test]
fn every_kind_and_state_parses_back_into_the_same_message() {
    let kinds = [
        AlertKind::Intrusion,
        AlertKind::Tamper,
        AlertKind::SensorOffline,
        AlertKind::SensorFault,
    ];
    let states = [AlertState::Raised, AlertState::Updated, AlertState::Cleared];
    let priorities = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Critical,
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        for state in states {
            let mut m = message(kind, state);
            m.priority = priorities[i];
            let json = serde_json::to_string(&m).unwrap();
            let back: AlertMessage = serde_json::from_str(&json).unwrap();
            assert_eq!(back, m, "{json}");
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }
}

#[test]
fn the_optional_fields_parse_back_when_present_and_stay_absent_when_not() {
    let mut m = message(AlertKind::Intrusion, AlertState::Updated);
    m.acked_by = Some("op-7".into());
    m.acked_at = Some(Timestamp(1_770_498_850_001));
    m.moved_from = Some("S003".into());
    let json = serde_json::to_string(&m).unwrap();
    let back: AlertMessage = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    assert_eq!(
        (
            back.acked_by.as_deref(),
            back.acked_at,
            back.moved_from.as_deref()
        ),
        (
            Some("op-7"),
            Some(Timestamp(1_770_498_850_001)),
            Some("S003")
        )
    );

    let plain = message(AlertKind::Tamper, AlertState::Raised);
    let json = serde_json::to_string(&plain).unwrap();
    assert!(
        !json.contains("acked") && !json.contains("moved_from"),
        "{json}"
    );
    let back: AlertMessage = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (back.acked_by, back.acked_at, back.moved_from),
        (None, None, None)
    );
}

#[test]
fn unknown_fields_are_ignored_and_missing_extensions_default() {
    let m = message(AlertKind::SensorFault, AlertState::Updated);
    let mut v = serde_json::to_value(&m).unwrap();
    v["schema"] = serde_json::json!(7);
    v["evidence"][0]["quality"] = serde_json::json!({ "snr_db": 12.5 });
    let back: AlertMessage = serde_json::from_value(v.clone()).expect("newer fields ignored");
    assert_eq!(back, m);

    // An older message without the extensions.
    for field in ["evidence_total", "summary", "instance"] {
        v.as_object_mut().unwrap().remove(field);
    }
    let back: AlertMessage = serde_json::from_value(v.clone()).expect("older message reads");
    assert_eq!(
        (
            back.evidence_total,
            back.summary.as_str(),
            back.instance.as_str()
        ),
        (0, "", "")
    );
    // A field of the spec is still required.
    v.as_object_mut().unwrap().remove("rev");
    assert!(serde_json::from_value::<AlertMessage>(v).is_err());
}

#[test]
fn a_bad_enum_or_time_is_an_error_not_a_guess() {
    let m = message(AlertKind::Intrusion, AlertState::Raised);
    let v = serde_json::to_value(&m).unwrap();
    for (field, bad) in [
        ("kind", serde_json::json!("earthquake")),
        ("state", serde_json::json!("RAISED")),
        ("priority", serde_json::json!(2)),
        ("first_seen", serde_json::json!("last tuesday")),
    ] {
        let mut v = v.clone();
        v[field] = bad;
        assert!(
            serde_json::from_value::<AlertMessage>(v).is_err(),
            "`{field}` accepted"
        );
    }
}

proptest::proptest! {
    /// Every float of the message survives the trip, to the last bit.
    #[test]
    fn floats_parse_back_bit_for_bit(
        lat in -90.0f64..90.0,
        lon in -180.0f64..180.0,
        confidence in 0.0f64..1.0,
        value in 0.0f64..1e6,
    ) {
        let mut m = message(AlertKind::Intrusion, AlertState::Updated);
        (m.lat, m.lon, m.confidence, m.evidence[0].value) = (lat, lon, confidence, value);
        let json = serde_json::to_string(&m).unwrap();
        let back: AlertMessage = serde_json::from_str(&json).unwrap();
        proptest::prop_assert_eq!(back, m);
    }
}
