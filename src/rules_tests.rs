//! Unit tests of the detection rules.

use super::*;
use crate::sentence::{Body, Health, Sentence, TamperKind};
use crate::testkit;
use crate::time::Timestamp;

const T0: Timestamp = Timestamp(1_770_000_000_000);

fn at(secs: f64) -> Timestamp {
    Timestamp(T0.0 + (secs * 1000.0) as i64)
}

struct Feed {
    rules: Rules,
    seq: u32,
}

impl Feed {
    fn new() -> Self {
        let (_, _, layout) = testkit::layout();
        Self {
            rules: Rules::new(layout, T0),
            seq: 0,
        }
    }

    fn send(&mut self, device: &str, body: Body, t: f64) -> Result<Vec<Finding>, Reject> {
        self.seq += 1;
        let s = Sentence {
            device: device.into(),
            seq: self.seq,
            body,
            mac: None,
        };
        self.rules.on_sentence(&s, at(t))
    }

    fn fence(&mut self, zone: u16, rms: f64, t: f64) -> Vec<Finding> {
        self.send(
            "fence-a",
            Body::Fence {
                zone,
                rms_mg: rms,
                peak_mg: rms * 2.0,
            },
            t,
        )
        .unwrap()
    }
}

fn intrusion(f: &[Finding]) -> Option<&crate::evidence::Evidence> {
    f.iter().find_map(|f| match f {
        Finding::Intrusion(e) => Some(e),
        _ => None,
    })
}

#[test]
fn fence_needs_k_hits_in_the_last_n_readings() {
    let mut feed = Feed::new();
    assert!(feed.fence(1, 500.0, 0.0).is_empty());
    assert!(feed.fence(1, 50.0, 0.5).is_empty());
    assert!(feed.fence(1, 500.0, 1.0).is_empty());
    // Third hit among the last five readings (H M H H).
    let third = feed.fence(1, 500.0, 1.5);
    let ev = intrusion(&third).expect("evidence on the k-th hit");
    assert_eq!(ev.sensor, "fence-a/zone1");
    assert_eq!(ev.chainage_m, 4900.0);
    assert_eq!(ev.threshold, 400.0);
    // A quiet reading is never evidence, even with k hits in the window.
    assert!(feed.fence(1, 50.0, 2.0).is_empty());
    // Window now H H M H H M ... the oldest hits fall out after five readings.
    assert!(intrusion(&feed.fence(1, 500.0, 2.5)).is_some());
    for t in [3.0, 3.5, 4.0] {
        feed.fence(1, 50.0, t);
    }
    assert!(
        feed.fence(1, 500.0, 4.5).is_empty(),
        "only 2 hits in the last 5"
    );
}

#[test]
fn peak_alone_is_a_hit() {
    let mut feed = Feed::new();
    let peak_only = |feed: &mut Feed, t| {
        feed.send(
            "fence-a",
            Body::Fence {
                zone: 1,
                rms_mg: 10.0,
                peak_mg: 1600.0,
            },
            t,
        )
        .unwrap()
    };
    peak_only(&mut feed, 0.0);
    peak_only(&mut feed, 0.5);
    let ev = peak_only(&mut feed, 1.0);
    let ev = intrusion(&ev).expect("peak over threshold counts");
    assert_eq!(ev.threshold, 1500.0);
    assert!(ev.detail.starts_with("peak"));
}

#[test]
fn zone_override_beats_the_default() {
    let mut feed = Feed::new();
    // 500 mg is over the default 400 (zone 1) but under zone 2's 600.
    for t in [0.0, 0.5, 1.0] {
        assert!(feed.fence(2, 500.0, t).is_empty());
    }
    let mut got = Vec::new();
    for t in [1.5, 2.0, 2.5] {
        got = feed.fence(2, 650.0, t);
    }
    assert_eq!(intrusion(&got).unwrap().threshold, 600.0);
}

#[test]
fn geophone_threshold_and_channel_override() {
    let mut feed = Feed::new();
    let gs = |feed: &mut Feed, channel, ppv| {
        feed.send(
            "trench-a",
            Body::Ground {
                channel,
                ppv_um_s: ppv,
            },
            0.0,
        )
        .unwrap()
    };
    assert!(gs(&mut feed, 0, 999.0).is_empty());
    let e = gs(&mut feed, 0, 1000.0);
    assert_eq!(intrusion(&e).unwrap().chainage_m, 4900.0);
    assert!(
        gs(&mut feed, 1, 1500.0).is_empty(),
        "channel 1 threshold is 2000"
    );
    assert!(intrusion(&gs(&mut feed, 1, 2500.0)).is_some());
}

#[test]
fn beam_reports_the_break_not_the_state() {
    let mut feed = Feed::new();
    let bk = |feed: &mut Feed, broken| {
        feed.send("trench-a", Body::Beam { channel: 0, broken }, 0.0)
            .unwrap()
    };
    assert!(bk(&mut feed, false).is_empty());
    assert_eq!(
        intrusion(&bk(&mut feed, true)).unwrap().sensor,
        "trench-a/beam0"
    );
    assert!(bk(&mut feed, true).is_empty(), "still broken: nothing new");
    assert!(bk(&mut feed, false).is_empty());
    assert!(intrusion(&bk(&mut feed, true)).is_some(), "broken again");
}

#[test]
fn tamper_and_clear() {
    let mut feed = Feed::new();
    let got = feed
        .send(
            "fence-a",
            Body::Tamper {
                kind: TamperKind::Cut,
            },
            0.0,
        )
        .unwrap();
    assert!(
        matches!(&got[..], [Finding::Tamper { kind: TamperKind::Cut, evidence, .. }] if evidence.detail == "CUT")
    );
    let got = feed
        .send(
            "fence-a",
            Body::Tamper {
                kind: TamperKind::Clear,
            },
            1.0,
        )
        .unwrap();
    assert!(matches!(&got[..], [Finding::TamperCleared { .. }]));
}

#[test]
fn heartbeat_fault_and_recovery() {
    let mut feed = Feed::new();
    let hb = |feed: &mut Feed, status| {
        feed.send(
            "fence-a",
            Body::Heartbeat {
                uptime_s: 5,
                status,
            },
            0.0,
        )
        .unwrap()
    };
    assert!(hb(&mut feed, Health::Ok).is_empty());
    assert!(matches!(
        &hb(&mut feed, Health::Fault)[..],
        [Finding::Fault { .. }]
    ));
    assert!(matches!(
        &hb(&mut feed, Health::Ok)[..],
        [Finding::FaultCleared { .. }]
    ));
    assert!(hb(&mut feed, Health::Ok).is_empty());
}

#[test]
fn silence_past_the_deadline_is_offline_once_and_speech_is_online() {
    let mut feed = Feed::new();
    // trench-a's deadline is 10 s, fence-a's the default 30 s; neither has spoken.
    assert!(feed.rules.on_tick(at(9.9)).is_empty());
    let t10 = feed.rules.on_tick(at(10.0));
    assert!(matches!(&t10[..], [Finding::Offline { device, .. }] if device == "trench-a"));
    assert!(feed.rules.on_tick(at(11.0)).is_empty(), "raised once");
    let back = feed
        .send(
            "trench-a",
            Body::Heartbeat {
                uptime_s: 1,
                status: Health::Ok,
            },
            12.0,
        )
        .unwrap();
    assert!(matches!(&back[..], [Finding::Online { device, .. }] if device == "trench-a"));
    // fence-a heard at 20 s: offline 30 s later, not 30 s after start.
    feed.fence(1, 10.0, 20.0);
    assert!(feed
        .rules
        .on_tick(at(49.9))
        .iter()
        .all(|f| !matches!(f, Finding::Offline { device, .. } if device == "fence-a")));
    assert!(feed
        .rules
        .on_tick(at(50.0))
        .iter()
        .any(|f| matches!(f, Finding::Offline { device, .. } if device == "fence-a")));
}

#[test]
fn rejects_sentences_that_do_not_fit_the_layout() {
    let mut feed = Feed::new();
    let err = feed
        .send(
            "ghost",
            Body::Tamper {
                kind: TamperKind::Cut,
            },
            0.0,
        )
        .unwrap_err();
    assert_eq!(err.reason(), "unknown_device");
    let err = feed
        .send(
            "fence-a",
            Body::Fence {
                zone: 9,
                rms_mg: 1.0,
                peak_mg: 1.0,
            },
            0.0,
        )
        .unwrap_err();
    assert_eq!(err.reason(), "unknown_channel");
    let err = feed
        .send(
            "fence-a",
            Body::Ground {
                channel: 0,
                ppv_um_s: 1.0,
            },
            0.0,
        )
        .unwrap_err();
    assert_eq!(err.reason(), "wrong_sentence_for_device");
    let err = feed
        .send(
            "trench-a",
            Body::Beam {
                channel: 7,
                broken: true,
            },
            0.0,
        )
        .unwrap_err();
    assert_eq!(err.reason(), "unknown_channel");
    // A rejected sentence does not count as the device being heard.
    assert!(!feed.rules.on_tick(at(30.0)).is_empty());
}

#[test]
fn sequence_gaps_and_wraps_are_counted() {
    let mut stats = SeqStats::default();
    count_seq(&mut stats, None, 5);
    count_seq(&mut stats, Some(5), 6);
    count_seq(&mut stats, Some(6), 9);
    assert_eq!(stats.lost, 2);
    count_seq(&mut stats, Some(9), 9);
    count_seq(&mut stats, Some(9), 3);
    assert_eq!(stats.out_of_order, 2);
    count_seq(&mut stats, Some(u32::MAX), 0);
    assert_eq!(stats.lost, 2, "wrap from 4294967295 to 0 loses nothing");
    count_seq(&mut stats, Some(u32::MAX - 1), 1);
    assert_eq!(stats.lost, 4);
}

fn winds(f: &[Finding]) -> Vec<bool> {
    f.iter()
        .filter_map(|f| match f {
            Finding::Wind { on, .. } => Some(*on),
            _ => None,
        })
        .collect()
}

/// Every zone of fence-a reads `rms(zone)` each half second from `from` to
/// `to`; returns the findings.
fn shake_all(feed: &mut Feed, from: f64, to: f64, rms: impl Fn(u16, f64) -> f64) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        for zone in [1, 2, 3] {
            out.extend(feed.fence(zone, rms(zone, t), t));
        }
        t += 0.5;
    }
    out
}

#[test]
fn all_zones_shaking_together_is_wind_not_intrusion() {
    let mut feed = Feed::new();
    // Gusts of 450 to 900 mg on every zone: over every zone's threshold
    // (400, 600, 400), but nothing stands out.
    let found = shake_all(&mut feed, 0.0, 30.0, |zone, t| {
        650.0 + 200.0 * (t * 0.7).sin() + 20.0 * f64::from(zone)
    });
    assert_eq!(winds(&found), vec![true], "wind turned on once");
    assert!(intrusion(&found).is_none(), "{:?}", intrusion(&found));
}

#[test]
fn a_zone_standing_out_in_the_wind_still_alerts_and_says_so() {
    let mut feed = Feed::new();
    shake_all(&mut feed, 0.0, 10.0, |_, _| 500.0);
    // Someone climbs in zone 3 during the storm: 2000 mg against ~500.
    let found = shake_all(&mut feed, 10.0, 14.0, |zone, _| {
        if zone == 3 {
            2000.0
        } else {
            500.0
        }
    });
    let ev = intrusion(&found).expect("the climb is found");
    assert_eq!(ev.sensor, "fence-a/zone3");
    assert!(ev.detail.contains("raised for wind"), "{}", ev.detail);
    assert!(
        ev.threshold > 400.0,
        "the raised threshold is reported: {}",
        ev.threshold
    );
}

#[test]
fn wind_ends_after_the_zones_stay_calm_for_the_hold_time() {
    let mut feed = Feed::new();
    shake_all(&mut feed, 0.0, 10.0, |_, _| 700.0);
    let calm = shake_all(&mut feed, 10.0, 60.0, |_, _| 40.0);
    assert_eq!(winds(&calm), vec![false]);
    // Calm again: a single zone at 700 mg is an intrusion as usual.
    let mut found = Vec::new();
    for i in 0..6 {
        found.extend(feed.fence(1, 700.0, 60.0 + f64::from(i) * 0.5));
    }
    assert!(intrusion(&found).is_some());
}

#[test]
fn one_or_two_zones_shaking_are_not_wind() {
    let mut feed = Feed::new();
    let found = shake_all(
        &mut feed,
        0.0,
        10.0,
        |zone, _| if zone == 3 { 40.0 } else { 900.0 },
    );
    assert!(winds(&found).is_empty());
    assert!(
        intrusion(&found).is_some(),
        "two zones over threshold alert"
    );
}

#[test]
fn a_new_layout_ends_wind_when_wind_rejection_is_turned_off() {
    let windy = || {
        let mut feed = Feed::new();
        let found = shake_all(&mut feed, 0.0, 30.0, |zone, t| {
            650.0 + 200.0 * (t * 0.7).sin() + 20.0 * f64::from(zone)
        });
        assert_eq!(winds(&found), vec![true]);
        feed
    };
    let zone1_at_700 = |feed: &mut Feed| {
        [30.5, 31.0, 31.5]
            .into_iter()
            .any(|t| intrusion(&feed.fence(1, 700.0, t)).is_some())
    };
    let mut feed = windy();
    let (mut config, wall) = testkit::fixture();
    config.detection.wind.enabled = false;
    let layout = Arc::new(Layout::new(&config, &wall));
    let ended = feed.rules.set_layout(layout, at(30.0));
    assert_eq!(winds(&ended), vec![false]);
    // Plain thresholds again: 700 mg on zone 1 is evidence.
    assert!(zone1_at_700(&mut feed));
    // Still windy: it is not.
    assert!(!zone1_at_700(&mut windy()));
}

#[test]
fn a_new_layout_keeps_the_window_of_a_zone_whose_n_shrinks() {
    let mut feed = Feed::new();
    for t in [0.0, 1.0] {
        feed.fence(1, 500.0, t);
    }
    feed.fence(1, 50.0, 2.0);
    // n 5 → 3 with k 2: the two hits two and three readings ago; the
    // oldest falls out with the next reading.
    let (mut config, wall) = testkit::fixture();
    config.fence[0].zones[0].k = Some(2);
    config.fence[0].zones[0].n = Some(3);
    let layout = Arc::new(Layout::new(&config, &wall));
    assert!(feed.rules.set_layout(layout, at(2.5)).is_empty());
    assert!(
        intrusion(&feed.fence(1, 500.0, 3.0)).is_some(),
        "hits at 1.0 and 3.0 in the last three readings"
    );
}

#[test]
fn a_device_carried_over_offline_or_faulty_is_found_well_by_its_first_word() {
    let mut feed = Feed::new();
    feed.rules.carry_over("trench-a", Carried::Offline);
    feed.rules.carry_over("fence-a", Carried::Fault);
    feed.rules.carry_over("fence-z", Carried::Offline);
    // Offline already: not found offline again past trench-a's 10 s
    // deadline (fence-a, never heard, is at 30 s; fence-z is unknown).
    assert!(feed.rules.on_tick(at(10.0)).is_empty());
    let t30 = feed.rules.on_tick(at(30.0));
    assert!(
        matches!(&t30[..], [Finding::Offline { device, .. }] if device == "fence-a"),
        "{t30:?}"
    );
    // trench-a's first sentence brings it back.
    let back = feed
        .send(
            "trench-a",
            Body::Beam {
                channel: 0,
                broken: false,
            },
            31.0,
        )
        .unwrap();
    assert!(matches!(&back[..], [Finding::Online { device, .. }] if device == "trench-a"));
    // fence-a's FAULT is found again (it joins the open incident), its
    // OK clears it.
    let hb = |feed: &mut Feed, status, t| {
        feed.send(
            "fence-a",
            Body::Heartbeat {
                uptime_s: 5,
                status,
            },
            t,
        )
        .unwrap()
    };
    let fault = hb(&mut feed, Health::Fault, 32.0);
    assert!(
        matches!(&fault[..], [Finding::Online { .. }, Finding::Fault { .. }]),
        "{fault:?}"
    );
    let ok = hb(&mut feed, Health::Ok, 33.0);
    assert!(matches!(&ok[..], [Finding::FaultCleared { device, .. }] if device == "fence-a"));
    assert!(hb(&mut feed, Health::Ok, 34.0).is_empty());
}
