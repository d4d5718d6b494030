//! Unit tests of resuming incidents after a restart: the first run's book
//! publishes, the messages go through JSON as the alert store keeps them,
//! and the next run's book adopts them.

use super::*;
use crate::alert::{Priority, SegmentCondition};
use crate::incident::tests::{alerts, at, book, ev, segment_states};
use crate::incident::Output;
use crate::rules::Finding;
use crate::sentence::TamperKind;

/// A message as the alert store hands it back.
fn stored(m: &AlertMessage) -> AlertMessage {
    let json = serde_json::to_string(m).expect("serialises");
    serde_json::from_str(&json).expect("parses back")
}

/// The next run's book (its own id prefix), having resumed `open` at `t`.
fn next_run(open: &[&AlertMessage], t: f64) -> (IncidentBook, ResumeReport) {
    let mut b = book();
    b.id_prefix = "test-def".into();
    let report = b.resume(open.iter().map(|m| stored(m)).collect(), at(t));
    (b, report)
}

fn intrusion(sensor: &str, kind: EvidenceKind, chainage_m: f64, t: f64) -> Finding {
    Finding::Intrusion(ev(sensor, kind, chainage_m, t))
}

/// The last alert of `out`.
fn last(out: &[Output]) -> AlertMessage {
    (*alerts(out).last().expect("an alert")).clone()
}

fn skips(report: &ResumeReport) -> Vec<(&str, u32, SkipReason)> {
    report
        .skipped
        .iter()
        .map(|s| (s.id.as_str(), s.rev, s.reason.clone()))
        .collect()
}

#[test]
fn a_resumed_intrusion_takes_new_evidence_nearby_with_the_next_rev() {
    let mut first = book();
    first.on_finding(
        intrusion("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0),
        at(0.0),
    );
    let geo = intrusion("trench-a/geo0", EvidenceKind::Ground, 4900.0, 3.0);
    let stored_msg = last(&first.on_finding(geo, at(3.0)));
    assert_eq!((stored_msg.rev, stored_msg.priority), (2, Priority::High));

    // Down for ten minutes, far longer than the fusion window.
    let (mut b, report) = next_run(&[&stored_msg], 600.0);
    assert_eq!((report.resumed_count(), report.skipped.len()), (1, 0));
    assert_eq!(
        report.resumed,
        [Resumed {
            id: stored_msg.id.clone(),
            rev: 2,
            kind: AlertKind::Intrusion,
            segment: SegmentIndex(4),
            device: None,
        }]
    );
    assert_eq!(b.open_count(), 1);
    assert!(
        alerts(&b.on_tick(at(600.5))).is_empty(),
        "nothing new to say"
    );

    // A beam 50 m away joins it: same id, the next rev, a third kind.
    let out = b.on_finding(
        intrusion("trench-a/beam0", EvidenceKind::Beam, 4950.0, 601.0),
        at(601.0),
    );
    let a = alerts(&out);
    assert_eq!(a.len(), 1, "{out:?}");
    assert_eq!(
        (a[0].id.as_str(), a[0].rev, a[0].state, a[0].priority),
        (
            stored_msg.id.as_str(),
            3,
            AlertState::Updated,
            Priority::Critical
        )
    );
    assert_eq!(
        a[0].sensors,
        ["fence-a/zone1", "trench-a/beam0", "trench-a/geo0"]
    );
    assert_eq!(
        (
            a[0].first_seen,
            a[0].last_seen,
            a[0].evidence_total,
            a[0].evidence.len()
        ),
        (at(0.0), at(601.0), 3, 3)
    );
    assert_eq!(b.open_count(), 1, "joined, not a second incident");

    // Evidence far away starts an incident with this run's prefix.
    let out = b.on_finding(
        intrusion("fence-a/zone3", EvidenceKind::Fence, 7100.0, 602.0),
        at(602.0),
    );
    let a = alerts(&out);
    assert_eq!(
        (a[0].id.as_str(), a[0].rev, a[0].state),
        ("test-def-1", 1, AlertState::Raised)
    );
}

#[test]
fn a_resumed_intrusion_clears_a_quiet_period_after_the_resume_not_before() {
    let mut first = book();
    let raised = last(&first.on_finding(
        intrusion("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0),
        at(0.0),
    ));
    let (mut b, _) = next_run(&[&raised], 600.0);
    assert_eq!(
        segment_states(&b.initial_states(at(600.0))),
        [
            (4, SegmentCondition::Alert),
            (5, SegmentCondition::Quiet),
            (7, SegmentCondition::Quiet)
        ]
    );
    // Its last evidence is ten minutes old, but evidence may have been
    // missed meanwhile: the quiet period counts from the resume.
    assert!(alerts(&b.on_tick(at(600.0))).is_empty());
    assert!(alerts(&b.on_tick(at(659.9))).is_empty());
    let out = b.on_tick(at(660.0));
    let a = alerts(&out);
    assert_eq!(
        (a.len(), a[0].id.as_str(), a[0].rev, a[0].state),
        (1, raised.id.as_str(), 2, AlertState::Cleared)
    );
    assert_eq!(a[0].last_seen, at(0.0), "no evidence was invented");
    assert_eq!(segment_states(&out), [(4, SegmentCondition::Quiet)]);
    assert_eq!(b.open_count(), 0);
}

#[test]
fn resumed_device_incidents_mark_their_segments_and_clear_as_before() {
    let mut first = book();
    let offline = last(&first.on_finding(
        Finding::Offline {
            device: "trench-a".into(),
            evidence: ev("trench-a", EvidenceKind::Heartbeat, 5000.0, 10.0),
        },
        at(10.0),
    ));
    let fault = last(&first.on_finding(
        Finding::Fault {
            device: "fence-a".into(),
            evidence: ev("fence-a", EvidenceKind::Heartbeat, 6000.0, 11.0),
        },
        at(11.0),
    ));
    let tamper = last(&first.on_finding(
        Finding::Tamper {
            device: "fence-a".into(),
            kind: TamperKind::Cut,
            evidence: ev("fence-a", EvidenceKind::Tamper, 5000.0, 12.0),
        },
        at(12.0),
    ));
    let (mut b, report) = next_run(&[&offline, &fault, &tamper], 100.0);
    let resumed: Vec<(AlertKind, Option<&str>)> = report
        .resumed
        .iter()
        .map(|r| (r.kind, r.device.as_deref()))
        .collect();
    assert_eq!(
        resumed,
        [
            (AlertKind::Tamper, Some("fence-a")),
            (AlertKind::SensorOffline, Some("trench-a")),
            (AlertKind::SensorFault, Some("fence-a"))
        ]
    );
    let init = b.initial_states(at(100.0));
    assert_eq!(
        segment_states(&init),
        [
            (4, SegmentCondition::Degraded),
            (5, SegmentCondition::Alert),
            (6, SegmentCondition::Quiet),
            (7, SegmentCondition::Degraded)
        ]
    );
    let s004 = init
        .iter()
        .find_map(|o| match o {
            Output::Segment(SegmentIndex(4), st) => Some(st.clone()),
            _ => None,
        })
        .expect("S004 published");
    assert_eq!(s004.reasons, ["fence-a: fault", "trench-a: offline"]);

    // Findings of the same kind join them; nothing is raised twice.
    let again = Finding::Fault {
        device: "fence-a".into(),
        evidence: ev("fence-a", EvidenceKind::Heartbeat, 6000.0, 101.0),
    };
    assert!(alerts(&b.on_finding(again, at(101.0))).is_empty());
    assert_eq!(b.open_count(), 3);

    for (finding, msg) in [
        (
            Finding::Online {
                device: "trench-a".into(),
                at: at(102.0),
            },
            &offline,
        ),
        (
            Finding::FaultCleared {
                device: "fence-a".into(),
                at: at(102.0),
            },
            &fault,
        ),
        (
            Finding::TamperCleared {
                device: "fence-a".into(),
                at: at(102.0),
            },
            &tamper,
        ),
    ] {
        let out = b.on_finding(finding, at(102.0));
        let a = alerts(&out);
        assert_eq!(
            (a.len(), a[0].id.as_str(), a[0].rev, a[0].state, a[0].kind),
            (1, msg.id.as_str(), 2, AlertState::Cleared, msg.kind)
        );
    }
    assert_eq!(b.open_count(), 0);
    let now = b.initial_states(at(103.0));
    assert!(
        segment_states(&now)
            .iter()
            .all(|(_, st)| *st == SegmentCondition::Quiet),
        "{now:?}"
    );
}

#[test]
fn of_duplicate_ids_the_highest_rev_is_resumed_with_its_acknowledgement() {
    let mut first = book();
    let m1 = last(&first.on_finding(
        intrusion("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0),
        at(0.0),
    ));
    let m2 = last(&first.on_finding(
        intrusion("fence-a/zone2", EvidenceKind::Fence, 4950.0, 1.0),
        at(1.0),
    ));
    let m3 = last(&first.on_ack(&m1.id, "op-7", at(2.0)).expect("open"));
    assert_eq!((m1.rev, m2.rev, m3.rev), (1, 2, 3));

    let (mut b, report) = next_run(&[&m2, &m3, &m1], 100.0);
    assert_eq!(report.resumed_count(), 1);
    assert_eq!(report.resumed[0].rev, 3);
    assert_eq!(
        skips(&report),
        [
            (m1.id.as_str(), 2, SkipReason::Superseded(3)),
            (m1.id.as_str(), 1, SkipReason::Superseded(3))
        ]
    );
    // Acknowledged: more of the same is not published...
    let more = intrusion("fence-a/zone1", EvidenceKind::Fence, 4900.0, 101.0);
    assert!(alerts(&b.on_finding(more, at(101.0))).is_empty());
    assert!(alerts(&b.on_tick(at(110.0))).is_empty());
    // ...and the clear carries the acknowledgement, with the next rev.
    let out = b.on_tick(at(161.0));
    let a = alerts(&out);
    assert_eq!(
        (
            a[0].rev,
            a[0].state,
            a[0].acked_by.as_deref(),
            a[0].acked_at
        ),
        (4, AlertState::Cleared, Some("op-7"), Some(at(2.0)))
    );

    // Two open offline incidents of one device (two runs ago and the last
    // one): the one published last is resumed.
    let mut first = book();
    let older = last(&first.on_finding(
        Finding::Offline {
            device: "trench-a".into(),
            evidence: ev("trench-a", EvidenceKind::Heartbeat, 5000.0, 10.0),
        },
        at(10.0),
    ));
    let newer = AlertMessage {
        id: "test-xyz-1".into(),
        published_at: at(50.0),
        ..older.clone()
    };
    for order in [[&older, &newer], [&newer, &older]] {
        let (b, report) = next_run(&order, 100.0);
        assert_eq!(report.resumed[0].id, "test-xyz-1");
        assert_eq!(
            skips(&report),
            [(
                older.id.as_str(),
                1,
                SkipReason::SameDevice("test-xyz-1".into())
            )]
        );
        assert_eq!(b.open_count(), 1);
    }
}

#[test]
fn what_cannot_be_resumed_is_skipped_with_a_reason() {
    let mut first = book();
    let good = last(&first.on_finding(
        intrusion("fence-a/zone1", EvidenceKind::Fence, 4900.0, 0.0),
        at(0.0),
    ));
    let offline = last(&first.on_finding(
        Finding::Offline {
            device: "trench-a".into(),
            evidence: ev("trench-a", EvidenceKind::Heartbeat, 5000.0, 10.0),
        },
        at(10.0),
    ));
    let variant = |id: &str, base: &AlertMessage, edit: &dyn Fn(&mut AlertMessage)| {
        let mut m = AlertMessage {
            id: id.into(),
            ..base.clone()
        };
        edit(&mut m);
        m
    };
    let bad = [
        variant("x-1", &good, &|m| m.state = AlertState::Cleared),
        variant("x-2", &offline, &|m| m.sensors = vec!["fence-z".into()]),
        variant("x-3", &good, &|m| m.segment = 999),
        variant("x-4", &good, &|m| m.chainage_m = -50.0),
        variant("x-5", &offline, &|m| {
            m.kind = AlertKind::Tamper;
            m.sensors.clear();
        }),
        variant("x-6", &good, &|m| m.rev = u32::MAX),
    ];
    let mut open: Vec<&AlertMessage> = bad.iter().collect();
    open.push(&good);
    let (mut b, report) = next_run(&open, 100.0);
    let count = b.wall.segment_count();
    assert_eq!(
        skips(&report),
        [
            ("x-1", 1, SkipReason::NotOpen(AlertState::Cleared)),
            ("x-2", 1, SkipReason::UnknownDevice("fence-z".into())),
            (
                "x-3",
                1,
                SkipReason::SegmentOffTheWall {
                    segment: 999,
                    count
                }
            ),
            ("x-4", 1, SkipReason::ChainageOffTheWall(-50.0)),
            ("x-5", 1, SkipReason::NoDevice(AlertKind::Tamper)),
            ("x-6", u32::MAX, SkipReason::RevExhausted),
        ]
    );
    assert_eq!(report.resumed_count(), 1);
    assert_eq!(b.open_count(), 1);
    let text = report.to_string();
    assert!(
        text.starts_with(
            "resumed 1 open incident(s); skipped 6: x-1 rev 1 (it is cleared, not open)"
        ) && text.contains("x-2 rev 1 (device `fence-z` is not in the configuration)"),
        "{text}"
    );
    // The unknown device degrades nothing.
    assert_eq!(
        segment_states(&b.initial_states(at(100.0))),
        [
            (4, SegmentCondition::Alert),
            (5, SegmentCondition::Quiet),
            (7, SegmentCondition::Quiet)
        ]
    );
    // Handed the same incidents again: already open.
    let again = b.resume(vec![stored(&good), stored(&offline)], at(101.0));
    assert_eq!(
        skips(&again),
        [(good.id.as_str(), 1, SkipReason::AlreadyOpen)]
    );
    assert_eq!(
        again.resumed_count(),
        1,
        "the offline incident was not open"
    );
    assert_eq!(b.open_count(), 2);
}

#[test]
fn sensor_strengths_are_approximated_from_the_trail_and_never_lower_what_was_published() {
    // A camera sees someone at 0 s, then a fence zone and a geophone go on
    // for longer than the trail is long: the camera's evidence leaves it.
    let mut first = book();
    let mut latest = last(&first.on_finding(
        intrusion("cam-1", EvidenceKind::Thermal, 4900.0, 0.0),
        at(0.0),
    ));
    for i in 1..=40 {
        let t = f64::from(i);
        let (sensor, kind) = if i % 2 == 0 {
            ("fence-a/zone1", EvidenceKind::Fence)
        } else {
            ("trench-a/geo0", EvidenceKind::Ground)
        };
        let mut out = first.on_finding(intrusion(sensor, kind, 4900.0, t), at(t));
        out.extend(first.on_tick(at(t + 0.5)));
        if let Some(a) = alerts(&out).last() {
            latest = (*a).clone();
        }
    }
    assert_eq!(latest.evidence.len(), TRAIL_LEN);
    assert!(latest.evidence.iter().all(|e| e.sensor != "cam-1"));
    assert_eq!(
        (latest.priority, latest.confidence),
        (Priority::Critical, 0.89)
    );

    let (mut b, _) = next_run(&[&latest], 100.0);
    let inc = b.open.values().next().expect("resumed");
    assert_eq!(inc.evidence_total, 41);
    assert_eq!(inc.sensors["cam-1"], (EvidenceKind::Thermal, 1.0));
    assert_eq!(inc.sensors["fence-a/zone1"], (EvidenceKind::Fence, 2.0));
    // The extents the wire does not carry, from the layout: half the
    // 200 m zone, a geophone's hearing radius.
    let extent = |sensor: &str| {
        inc.trail
            .iter()
            .find(|e| e.sensor == sensor)
            .map(|e| e.extent_m)
    };
    assert_eq!(extent("fence-a/zone1"), Some(100.0));
    assert_eq!(
        extent("trench-a/geo0"),
        Some(crate::rules::GEOPHONE_EXTENT_M)
    );

    // The camera's strength is underestimated (1.0, not 2.0): the
    // confidence would drop to 0.86, but never below what was published.
    let more = intrusion("fence-a/zone1", EvidenceKind::Fence, 4900.0, 101.0);
    assert!(alerts(&b.on_finding(more, at(101.0))).is_empty());
    let out = b.on_tick(at(103.0));
    let a = alerts(&out);
    assert_eq!(
        (a[0].rev, a[0].priority, a[0].confidence),
        (latest.rev + 1, Priority::Critical, 0.89)
    );
}
