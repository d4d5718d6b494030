//! Tests of scoring against ground truth.

use super::*;
use crate::alert::Priority;
use crate::evidence::Evidence;

const EPOCH: Timestamp = Timestamp(1_770_000_000_000);

fn at(s: f64) -> Timestamp {
    EPOCH.plus(std::time::Duration::from_secs_f64(s))
}

fn evidence(kind: EvidenceKind, t: f64, chainage_m: f64) -> Evidence {
    Evidence {
        sensor: "x".into(),
        kind,
        at: at(t),
        chainage_m,
        extent_m: 0.0,
        value: 2.0,
        threshold: 1.0,
        detail: String::new(),
        camera: None,
    }
}

fn msg(
    id: &str,
    kind: AlertKind,
    state: AlertState,
    t: f64,
    chainage_m: f64,
    first_seen: f64,
    ev: Vec<Evidence>,
) -> AlertMessage {
    AlertMessage {
        id: id.into(),
        rev: 1,
        state,
        kind,
        priority: Priority::High,
        confidence: 0.9,
        segment: (chainage_m / 1000.0) as u32,
        segment_id: format!("S{:03}", (chainage_m / 1000.0) as u32),
        chainage_m,
        lat: 0.0,
        lon: 0.0,
        sensors: vec!["fence-a".into()],
        evidence: ev,
        first_seen: at(first_seen),
        last_seen: at(t),
        published_at: at(t),
        evidence_total: 1,
        summary: String::new(),
        instance: "t".into(),
        acked_by: None,
        acked_at: None,
        moved_from: None,
    }
}

fn walker(id: &str, start: f64, end: f64, from_m: f64, speed: f64) -> Threat {
    Threat {
        id: id.into(),
        kind: "person".into(),
        start_s: start,
        end_s: end,
        track: (0..=((end - start) as usize))
            .map(|i| ThreatPoint {
                t_s: start + i as f64,
                chainage_m: from_m + speed * i as f64,
            })
            .collect(),
    }
}

fn run(threats: Vec<Threat>, alerts: Vec<AlertMessage>) -> Run {
    Run {
        name: "t".into(),
        epoch: EPOCH,
        duration_s: 120.0,
        covered_km: 2.0,
        threats,
        device_events: Vec::new(),
        alerts,
    }
}

#[test]
fn a_crossing_with_an_alert_nearby_is_detected_with_its_times_and_errors() {
    let threat = walker("objects[0]", 10.0, 40.0, 12_300.0, 0.0);
    let raised = msg(
        "i-1",
        AlertKind::Intrusion,
        AlertState::Raised,
        21.5,
        12_310.0,
        20.0,
        vec![
            evidence(EvidenceKind::Fence, 20.0, 12_300.0),
            evidence(EvidenceKind::Thermal, 21.0, 12_305.0),
        ],
    );
    let s = score(&run(vec![threat], vec![raised]));
    assert_eq!((s.threats, s.detected), (1, 1));
    assert!(s.missed.is_empty() && s.nuisance_alarms.is_empty());
    assert_eq!(s.tta_first_evidence_s, vec![1.5]);
    assert_eq!(s.tta_decisive_s, vec![0.5]);
    assert_eq!(s.camera_location_error_m, vec![10.0]);
}

#[test]
fn an_alert_far_from_every_threat_is_a_nuisance_and_the_threat_is_missed() {
    let threat = walker("objects[0]", 10.0, 40.0, 12_300.0, 0.0);
    let far = msg(
        "i-9",
        AlertKind::Intrusion,
        AlertState::Raised,
        20.0,
        12_800.0,
        20.0,
        vec![],
    );
    // Tamper alerts are not nuisance alarms.
    let tamper = msg(
        "t-1",
        AlertKind::Tamper,
        AlertState::Raised,
        20.0,
        12_300.0,
        20.0,
        vec![],
    );
    let s = score(&run(vec![threat], vec![far, tamper]));
    assert_eq!((s.detected, s.missed.len()), (0, 1));
    assert_eq!(s.nuisance_alarms.len(), 1);
    assert!(s.nuisance_alarms[0].starts_with("i-9"));
}

#[test]
fn an_incident_following_a_walker_matches_all_along() {
    let threat = walker("objects[0]", 0.0, 100.0, 4_900.0, 1.5);
    let mut alerts = vec![msg(
        "i-1",
        AlertKind::Intrusion,
        AlertState::Raised,
        5.0,
        4_907.0,
        4.0,
        vec![],
    )];
    for t in [30.0, 60.0, 90.0] {
        alerts.push(msg(
            "i-1",
            AlertKind::Intrusion,
            AlertState::Updated,
            t,
            4_900.0 + 1.5 * t - 20.0,
            4.0,
            vec![],
        ));
    }
    let s = score(&run(vec![threat], alerts));
    assert_eq!(s.detected, 1);
    assert!(s.nuisance_alarms.is_empty());
    assert_eq!(s.location_error_m.len(), 4);
    assert!(s.location_error_m.iter().all(|e| *e <= 20.5));
}

#[test]
fn an_alert_raised_before_the_threat_does_not_count_for_it() {
    let threat = walker("objects[0]", 50.0, 60.0, 12_300.0, 0.0);
    let early = msg(
        "i-1",
        AlertKind::Intrusion,
        AlertState::Raised,
        10.0,
        12_300.0,
        10.0,
        vec![],
    );
    let s = score(&run(vec![threat], vec![early]));
    assert_eq!((s.detected, s.nuisance_alarms.len()), (0, 1));
}

#[test]
fn device_events_are_scored_by_kind_and_device() {
    let mut r = run(
        vec![],
        vec![msg(
            "t-1",
            AlertKind::Tamper,
            AlertState::Raised,
            12.0,
            5_000.0,
            12.0,
            vec![],
        )],
    );
    r.device_events = vec![
        DeviceEvent {
            id: "events[0]".into(),
            kind: "tamper".into(),
            devices: vec!["fence-a".into()],
            start_s: 11.5,
            end_s: 20.0,
            expect: Some(AlertKind::Tamper),
        },
        DeviceEvent {
            id: "events[1]".into(),
            kind: "silence".into(),
            devices: vec!["fence-a".into()],
            start_s: 30.0,
            end_s: 60.0,
            expect: Some(AlertKind::SensorOffline),
        },
        DeviceEvent {
            id: "events[2]".into(),
            kind: "garbage".into(),
            devices: vec!["fence-a".into()],
            start_s: 30.0,
            end_s: 31.0,
            expect: None,
        },
    ];
    let s = score(&r);
    assert_eq!((s.device_events, s.device_events_reported), (2, 1));
    assert_eq!(s.device_missed, vec!["events[1] (silence)"]);
}

#[test]
fn the_summary_gives_pd_with_its_interval_and_nar_per_100_km_per_day() {
    let a = ScenarioScore {
        threats: 10,
        detected: 10,
        exposure_km_days: 0.5,
        tta_first_evidence_s: vec![0.0, 1.0],
        ..Default::default()
    };
    let b = ScenarioScore {
        threats: 10,
        detected: 9,
        nuisance_alarms: vec!["x".into()],
        exposure_km_days: 0.5,
        tta_first_evidence_s: vec![2.0],
        ..Default::default()
    };
    let sum = summarize(&[a, b]);
    assert_eq!((sum.threats, sum.detected), (20, 19));
    assert!((sum.pd - 0.95).abs() < 1e-12);
    assert!(sum.pd_ci95.0 > 0.7 && sum.pd_ci95.0 < 0.95 && sum.pd_ci95.1 > 0.95);
    // One alarm over 1 km·day is 100 per 100 km per day.
    assert!((sum.nar_per_100km_day - 100.0).abs() < 1e-9);
    assert!(sum.nar_upper95_per_100km_day > 470.0);
    assert_eq!(sum.tta_first_evidence_p50_s, Some(1.0));
    assert_eq!(sum.tta_first_evidence_p99_s, Some(2.0));
}

#[test]
fn a_second_threat_at_an_open_incident_is_detected_by_its_update() {
    let first = walker("events[0]", 5.0, 20.0, 150_390.0, 0.0);
    let second = walker("events[1]", 25.0, 45.0, 150_500.0, 1.5);
    let alerts = vec![
        msg(
            "i-1",
            AlertKind::Intrusion,
            AlertState::Raised,
            6.0,
            150_390.0,
            5.5,
            vec![],
        ),
        msg(
            "i-1",
            AlertKind::Intrusion,
            AlertState::Updated,
            26.0,
            150_480.0,
            5.5,
            vec![evidence(EvidenceKind::Fence, 25.5, 150_500.0)],
        ),
    ];
    let s = score(&run(vec![first, second], alerts));
    assert_eq!((s.detected, s.nuisance_alarms.len()), (2, 0));
    assert_eq!(s.tta_first_evidence_s, vec![0.5, 0.5]);
}
