//! Unit tests of the engine: profile changes and reconfiguration keep the
//! rules' state and the open incidents; a restart resumes them.

use super::*;
use crate::alert::{AlertKind, AlertMessage, AlertState, SegmentCondition};
use crate::sentence::{Body, Health, TamperKind};
use crate::testkit::{self, CONFIG};

/// 17:59:00 UTC on 17 February 2026.
const T0: Timestamp = Timestamp((20_501 * 86_400 + 17 * 3600 + 59 * 60) * 1000);

fn at(secs: f64) -> Timestamp {
    Timestamp(T0.0 + (secs * 1000.0) as i64)
}

/// The fixture, where one sensor alone alerts (no corroboration needed),
/// plus `extra`.
fn config(extra: &str) -> Config {
    let text = format!("{CONFIG}\n[detection.fusion]\ncorroborate = []\n{extra}");
    toml::from_str(&text).expect("test config parses")
}

/// A night profile at 300 mg from 18:00 UTC, the defaults from 06:00.
const NIGHT: &str = r#"
[[profile]]
name = "night"
rms_mg = 300.0
delta_t_k = 2.0
[profiles]
schedule = [{ from = "06:00", profile = "default" }, { from = "18:00", profile = "night" }]
"#;

struct Feed {
    engine: Engine,
    seq: u32,
}

impl Feed {
    fn new(config: &Config) -> Self {
        let (_, wall) = testkit::fixture();
        Self {
            engine: Engine::new(config, wall, T0, "t"),
            seq: 0,
        }
    }

    /// The engine of a later run, started at `t` with id prefix `u`, after
    /// it resumed `open` (through JSON, as the alert store keeps them), and
    /// its initial outputs.
    fn resumed(
        config: &Config,
        open: &[&AlertMessage],
        t: f64,
    ) -> (Self, ResumeReport, Vec<Output>) {
        let (_, wall) = testkit::fixture();
        let mut engine = Engine::new(config, wall, at(t), "u");
        let open = open
            .iter()
            .map(|m| serde_json::from_str(&serde_json::to_string(m).unwrap()).unwrap())
            .collect();
        let report = engine.resume(open, at(t));
        let initial = engine.start(at(t));
        (Self { engine, seq: 0 }, report, initial)
    }

    fn send(&mut self, device: &str, body: Body, t: f64) -> Vec<Output> {
        self.seq += 1;
        let s = Sentence {
            device: device.into(),
            seq: self.seq,
            body,
            mac: None,
        };
        self.engine
            .on_sentence(&s, at(t))
            .expect("sentence accepted")
    }

    /// Zone 1 of fence-a (threshold 400 mg by default) at `rms` milli-g.
    fn zone1(&mut self, rms: f64, t: f64) -> Vec<Output> {
        let body = Body::Fence {
            zone: 1,
            rms_mg: rms,
            peak_mg: 100.0,
        };
        self.send("fence-a", body, t)
    }

    fn beam_broken(&mut self, t: f64) -> Vec<Output> {
        let body = Body::Beam {
            channel: 0,
            broken: true,
        };
        self.send("trench-a", body, t)
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

fn from_zone1(out: &[Output]) -> bool {
    alerts(out)
        .iter()
        .any(|a| a.sensors.iter().any(|s| s == "fence-a/zone1"))
}

#[test]
fn the_profile_starts_as_scheduled_and_switches_on_a_tick() {
    let mut feed = Feed::new(&config(NIGHT));
    assert_eq!(feed.engine.active_profile(), None, "17:59: defaults");
    assert_eq!(feed.engine.take_profile_change(), None);
    feed.engine.on_tick(at(30.0));
    assert_eq!(feed.engine.take_profile_change(), None);
    feed.engine.on_tick(at(60.0));
    assert_eq!(feed.engine.active_profile(), Some("night"));
    let change = feed.engine.take_profile_change().expect("18:00: night");
    assert_eq!(
        (change.from.as_deref(), change.to.as_deref(), change.at),
        (None, Some("night"), at(60.0))
    );
    assert_eq!(change.to_string(), "default → night");
    assert_eq!(feed.engine.take_profile_change(), None, "taken once");
    assert_eq!(feed.engine.layout().profile(), Some("night"));
    // The cameras' settings follow the profile.
    let mut with_camera = config(NIGHT);
    with_camera
        .camera
        .push(testkit::camera_south_of_wall(200.0));
    let mut feed = Feed::new(&with_camera);
    assert_eq!(feed.engine.camera_settings()[0].kernel.delta_t, 300);
    feed.engine.on_tick(at(60.0));
    assert_eq!(feed.engine.camera_settings()[0].kernel.delta_t, 200);
}

#[test]
fn a_profile_change_keeps_the_k_of_n_window_and_applies_to_the_next_reading() {
    // Two hits (500 mg) at 17:59, then 350 mg after 18:00: a third hit
    // only under the night profile's 300 mg.
    let run = |extra: &str| {
        let mut feed = Feed::new(&config(extra));
        assert!(feed.zone1(500.0, 1.0).is_empty());
        assert!(feed.zone1(500.0, 2.0).is_empty());
        feed.engine.on_tick(at(60.0));
        feed.zone1(350.0, 61.0)
    };
    let intrusions = |out: &[Output]| -> Vec<(AlertState, Vec<String>)> {
        alerts(out)
            .iter()
            .filter(|a| a.kind == AlertKind::Intrusion)
            .map(|a| (a.state, a.sensors.clone()))
            .collect()
    };
    let out = run(NIGHT);
    assert_eq!(
        intrusions(&out),
        [(AlertState::Raised, vec!["fence-a/zone1".to_owned()])],
        "third hit at night: {out:?}"
    );
    let forced = format!("{NIGHT}force = \"default\"\n");
    assert_eq!(intrusions(&run(&forced)), [], "350 mg is no hit by day");
}

#[test]
fn reconfigure_keeps_windows_and_open_incidents_and_applies_new_thresholds() {
    let old = config("");
    let mut feed = Feed::new(&old);
    let raised = feed.beam_broken(1.0);
    assert_eq!(alerts(&raised)[0].state, AlertState::Raised);
    let id = alerts(&raised)[0].id.clone();
    assert!(!from_zone1(&feed.zone1(500.0, 2.0)));
    feed.zone1(500.0, 3.0);
    assert_eq!(feed.engine.open_incidents(), 1);

    let new = config("[[stretch]]\nfrom_m = 4000.0\nto_m = 5000.0\nrms_mg = 300.0\n");
    let out = feed.engine.reconfigure(&new, at(4.0)).expect("same wall");
    assert!(out.is_empty(), "nothing ends: {out:?}");
    assert_eq!(feed.engine.open_incidents(), 1, "the beam's incident stays");
    assert_eq!(feed.engine.active_profile(), None);
    assert_eq!(feed.engine.take_profile_change(), None);
    // 350 mg is a hit under the new 300 mg and the third in the window: it
    // joins the open incident.
    let out = feed.zone1(350.0, 5.0);
    let updated = alerts(&out);
    assert_eq!(updated.len(), 1, "{out:?}");
    assert_eq!(updated[0].id, id);
    assert_eq!(updated[0].state, AlertState::Updated);
    assert!(from_zone1(&out));

    // The same without the reconfiguration: no hit.
    let mut control = Feed::new(&old);
    control.beam_broken(1.0);
    control.zone1(500.0, 2.0);
    control.zone1(500.0, 3.0);
    assert!(control.zone1(350.0, 5.0).is_empty());
}

#[test]
fn reconfigure_ends_what_removed_devices_had_open_and_watches_added_ones_from_now() {
    let mut feed = Feed::new(&config(""));
    // trench-a's deadline is 10 s; fence-a's 30 s.
    let out = feed.engine.on_tick(at(11.0));
    let offline = alerts(&out);
    assert_eq!(offline.len(), 1);
    assert_eq!(offline[0].kind, AlertKind::SensorOffline);
    assert_eq!(offline[0].sensors, ["trench-a"]);
    // A config without trench-a, with a new fence-b.
    let text = CONFIG[..CONFIG.find("[[trench]]").unwrap()].to_owned()
        + "[[fence]]\nid = \"fence-b\"\n[[fence.zones]]\nzone = 1\nstart_m = 9000.0\nend_m = 9200.0\n";
    let new: Config = toml::from_str(&text).unwrap();
    let out = feed.engine.reconfigure(&new, at(20.0)).unwrap();
    let cleared = alerts(&out);
    assert_eq!(cleared.len(), 1, "{out:?}");
    assert_eq!(
        (cleared[0].kind, cleared[0].state),
        (AlertKind::SensorOffline, AlertState::Cleared)
    );
    assert_eq!(feed.engine.open_incidents(), 0);
    // fence-a was never heard: its deadline still counts from the start;
    // fence-b's counts from the reconfiguration.
    let out = feed.engine.on_tick(at(31.0));
    let sensors: Vec<&str> = alerts(&out)
        .iter()
        .flat_map(|a| a.sensors.iter().map(String::as_str))
        .collect();
    assert_eq!(sensors, ["fence-a"]);
    let out = feed.engine.on_tick(at(50.0));
    assert_eq!(alerts(&out)[0].sensors, ["fence-b"]);
    // A sentence from the removed controller is rejected.
    let s = Sentence {
        device: "trench-a".into(),
        seq: 99,
        body: Body::Beam {
            channel: 0,
            broken: true,
        },
        mac: None,
    };
    assert!(feed.engine.on_sentence(&s, at(51.0)).is_err());
}

#[test]
fn reconfigure_switches_profile_and_refuses_what_needs_a_restart() {
    let mut feed = Feed::new(&config(""));
    let forced = config(&format!("{NIGHT}force = \"night\"\n"));
    feed.engine.reconfigure(&forced, at(1.0)).unwrap();
    assert_eq!(feed.engine.active_profile(), Some("night"));
    let change = feed.engine.take_profile_change().unwrap();
    assert_eq!(change.to_string(), "default → night");
    // The schedule no longer matters while forced.
    feed.engine.on_tick(at(3600.0 * 14.0));
    assert_eq!(feed.engine.take_profile_change(), None);

    let mut other_wall = forced.clone();
    other_wall.wall = "elsewhere.geojson".into();
    assert_eq!(
        feed.engine.reconfigure(&other_wall, at(2.0)),
        Err(ReconfigureError::NeedsRestart("wall"))
    );
    let mut other_length = forced.clone();
    other_length.segment_length_m = 500.0;
    assert_eq!(
        feed.engine.reconfigure(&other_length, at(2.0)),
        Err(ReconfigureError::NeedsRestart("segment_length_m"))
    );
    assert_eq!(feed.engine.config().segment_length_m, 1000.0);
}

#[test]
fn reconfigure_gives_the_incident_book_new_timing_and_fusion() {
    let old = config("");
    let mut feed = Feed::new(&old);
    feed.beam_broken(1.0);
    assert_eq!(feed.engine.open_incidents(), 1);
    // The fixture's quiet period is 60 s; the new config makes it 10 s and
    // holds lone beams back for corroboration.
    let new: Config = toml::from_str(&format!(
        "{}\n[detection.fusion]\ncorroborate = [\"beam\", \"fence\", \"ground\"]\n",
        CONFIG.replace("quiet_period = \"60s\"", "quiet_period = \"10s\"")
    ))
    .unwrap();
    feed.engine.reconfigure(&new, at(2.0)).expect("same wall");
    let out = feed.engine.on_tick(at(11.0));
    assert!(
        alerts(&out).iter().any(|a| a.state == AlertState::Cleared),
        "cleared after the new 10 s quiet period: {out:?}"
    );
    // A lone beam is now held back.
    let body = Body::Beam {
        channel: 0,
        broken: false,
    };
    feed.send("trench-a", body, 20.0);
    assert!(alerts(&feed.beam_broken(21.0)).is_empty());
    assert_eq!(feed.engine.fusion_stats().held, 1);
}

fn segments(out: &[Output]) -> Vec<(u32, SegmentCondition)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Segment(s, st) => Some((s.0, st.state)),
            _ => None,
        })
        .collect()
}

fn heartbeat(status: Health) -> Body {
    Body::Heartbeat {
        uptime_s: 5,
        status,
    }
}

#[test]
fn a_resumed_intrusion_starts_its_segment_in_alert_and_joins_new_evidence() {
    let cfg = config("");
    let mut first = Feed::new(&cfg);
    let raised = alerts(&first.beam_broken(1.0))[0].clone();
    assert_eq!((raised.segment_id.as_str(), raised.rev), ("S004", 1));

    let (mut next, report, initial) = Feed::resumed(&cfg, &[&raised], 300.0);
    assert_eq!(report.resumed_count(), 1);
    assert_eq!(
        segments(&initial),
        [
            (4, SegmentCondition::Alert),
            (5, SegmentCondition::Quiet),
            (7, SegmentCondition::Quiet)
        ]
    );
    assert!(initial.iter().any(
        |o| matches!(o, Output::Segment(s, st) if s.0 == 4 && st.incidents == [raised.id.clone()])
    ));
    assert_eq!(next.engine.open_incidents(), 1);
    // Footsteps at the geophone 50 m away: the same incident, rev 2.
    let body = Body::Ground {
        channel: 0,
        ppv_um_s: 1500.0,
    };
    let out = next.send("trench-a", body, 301.0);
    let a = alerts(&out);
    assert_eq!(a.len(), 1, "{out:?}");
    assert_eq!(
        (a[0].id.as_str(), a[0].rev, a[0].state),
        (raised.id.as_str(), 2, AlertState::Updated)
    );
    assert_eq!(a[0].sensors, ["trench-a/beam0", "trench-a/geo0"]);
    assert_eq!(next.engine.open_incidents(), 1);
}

#[test]
fn a_resumed_offline_device_stays_degraded_until_it_speaks_and_is_not_raised_again() {
    let cfg = config("");
    let mut first = Feed::new(&cfg);
    let offline = alerts(&first.engine.on_tick(at(11.0)))[0].clone();
    assert_eq!(
        (offline.kind, offline.sensors.as_slice()),
        (AlertKind::SensorOffline, ["trench-a".to_owned()].as_slice())
    );

    // It speaks at once after the restart (it came back while the daemon
    // was down): cleared, with the next rev.
    let (mut next, _, _) = Feed::resumed(&cfg, &[&offline], 100.0);
    let out = next.send("trench-a", heartbeat(Health::Ok), 101.0);
    let a = alerts(&out);
    assert_eq!(
        (a.len(), a[0].id.as_str(), a[0].rev, a[0].state),
        (1, offline.id.as_str(), 2, AlertState::Cleared)
    );

    let (mut next, report, initial) = Feed::resumed(&cfg, &[&offline], 100.0);
    assert_eq!(report.resumed[0].device.as_deref(), Some("trench-a"));
    // trench-a covers S004 and S005.
    assert_eq!(
        segments(&initial),
        [
            (4, SegmentCondition::Degraded),
            (5, SegmentCondition::Degraded),
            (7, SegmentCondition::Quiet)
        ]
    );
    // Silent past its 10 s deadline, and long after: no second incident.
    // (fence-a, 30 s, keeps talking.)
    next.send("fence-a", heartbeat(Health::Ok), 105.0);
    for t in [110.0, 111.0, 125.0] {
        let out = next.engine.on_tick(at(t));
        assert!(alerts(&out).is_empty(), "at {t}: {out:?}");
    }
    next.send("fence-a", heartbeat(Health::Ok), 130.0);
    assert!(alerts(&next.engine.on_tick(at(150.0))).is_empty());
    assert_eq!(next.engine.open_incidents(), 1);
    // It speaks at last: cleared; its segments are quiet.
    let out = next.send("trench-a", heartbeat(Health::Ok), 151.0);
    let a = alerts(&out);
    assert_eq!(
        (a.len(), a[0].id.as_str(), a[0].rev, a[0].state),
        (1, offline.id.as_str(), 2, AlertState::Cleared)
    );
    assert_eq!(
        segments(&out),
        [(4, SegmentCondition::Quiet), (5, SegmentCondition::Quiet)]
    );
    assert_eq!(next.engine.open_incidents(), 0);
}

#[test]
fn a_resumed_fault_clears_on_ok_and_a_resumed_tamper_on_clear() {
    let cfg = config("");
    let mut first = Feed::new(&cfg);
    let fault = alerts(&first.send("fence-a", heartbeat(Health::Fault), 1.0))[0].clone();
    let cut = Body::Tamper {
        kind: TamperKind::Cut,
    };
    let tamper = alerts(&first.send("trench-a", cut.clone(), 2.0))[0].clone();
    assert_eq!(
        (fault.kind, tamper.kind),
        (AlertKind::SensorFault, AlertKind::Tamper)
    );

    let (mut next, report, initial) = Feed::resumed(&cfg, &[&fault, &tamper], 100.0);
    assert_eq!(report.resumed_count(), 2);
    // fence-a (S004, S005, S007) faulty, its incident placed at 6000 m
    // (S006); trench-a's tamper at 5000 m (S005).
    assert_eq!(
        segments(&initial),
        [
            (4, SegmentCondition::Degraded),
            (5, SegmentCondition::Alert),
            (6, SegmentCondition::Quiet),
            (7, SegmentCondition::Degraded)
        ]
    );
    // fence-a reports OK (it was repaired while the daemon was down).
    let out = next.send("fence-a", heartbeat(Health::Ok), 101.0);
    let a = alerts(&out);
    assert_eq!(
        (a.len(), a[0].id.as_str(), a[0].rev, a[0].state),
        (1, fault.id.as_str(), 2, AlertState::Cleared)
    );
    // The same tamper again: joined, never raised a second time.
    assert!(alerts(&next.send("trench-a", cut, 102.0)).is_empty());
    // The repeated tamper is published as an update once due.
    let out = next.engine.on_tick(at(104.0));
    let a = alerts(&out);
    assert_eq!(
        (a.len(), a[0].id.as_str(), a[0].rev, a[0].state),
        (1, tamper.id.as_str(), 2, AlertState::Updated)
    );
    assert_eq!(next.engine.open_incidents(), 1);

    let clear = Body::Tamper {
        kind: TamperKind::Clear,
    };
    let out = next.send("trench-a", clear, 106.0);
    let a = alerts(&out);
    assert_eq!(
        (a.len(), a[0].id.as_str(), a[0].rev, a[0].state),
        (1, tamper.id.as_str(), 3, AlertState::Cleared)
    );
    assert_eq!(next.engine.open_incidents(), 0);
    assert_eq!(segments(&out), [(5, SegmentCondition::Quiet)]);
}

// Every kind of incident open at a restart clears by its own rule in the
// next run. Each test raises the incident in one engine, hands its latest
// message (through JSON, as the store keeps it) to a new engine, and
// drives that one.

/// The fixture with fence-a keyed and a substitution over after 60 s
/// without a rejection (burst: 5 within 10 s, the default).
fn keyed() -> Config {
    let mut cfg = config("[auth]\nclear_after = \"60s\"\n");
    let mut keys = crate::auth::Keys::none();
    keys.insert("fence-a", crate::auth::Key::new([7; crate::auth::KEY_LEN]));
    cfg.auth.keys = Arc::new(keys);
    cfg
}

/// The revs and states of incident `id`'s alerts in `out`.
fn revs(out: &[Output], id: &str) -> Vec<(u32, AlertState)> {
    alerts(out)
        .iter()
        .filter(|a| a.id == id)
        .map(|a| (a.rev, a.state))
        .collect()
}

/// The last alert of incident `id` in `out`.
fn latest(out: &[Output], id: &str) -> AlertMessage {
    alerts(out)
        .into_iter()
        .rev()
        .find(|a| a.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("no alert of {id} in {out:?}"))
}

/// Tamper alerts `raised` in `out`.
fn tampers_raised(out: &[Output]) -> usize {
    alerts(out)
        .iter()
        .filter(|a| a.kind == AlertKind::Tamper && a.state == AlertState::Raised)
        .count()
}

impl Feed {
    /// Ticks every second from `from` to `to`, both included.
    fn ticks(&mut self, from: u32, to: u32) -> Vec<Output> {
        (from..=to)
            .flat_map(|t| self.engine.on_tick(at(f64::from(t))))
            .collect()
    }

    /// A forged sentence of fence-a (a wrong tag) rejected at `t`.
    fn forged(&mut self, t: f64) -> Vec<Output> {
        self.engine.on_auth_rejection("fence-a", "bad_mac", at(t))
    }

    /// Five forged sentences from `t`, 0.1 s apart: a burst.
    fn burst(&mut self, t: f64) -> Vec<Output> {
        (0..5)
            .flat_map(|i| self.forged(t + f64::from(i) * 0.1))
            .collect()
    }

    fn tamper(&mut self, kind: TamperKind, t: f64) -> Vec<Output> {
        self.send("fence-a", Body::Tamper { kind }, t)
    }
}

#[test]
fn every_kind_resumes_an_intrusion_clears_a_quiet_period_after_its_evidence_or_the_restart() {
    let cfg = config("");
    let mut first = Feed::new(&cfg);
    let raised = alerts(&first.beam_broken(1.0))[0].clone();
    let id = raised.id.as_str();

    // Restarted 30 s later: not cleared at 61 s (a quiet period after its
    // evidence) but at 90 s (one after the restart).
    let (mut next, report, _) = Feed::resumed(&cfg, &[&raised], 30.0);
    assert_eq!(report.resumed_count(), 1);
    assert_eq!(revs(&next.ticks(30, 89), id), []);
    assert_eq!(
        revs(&next.engine.on_tick(at(90.0)), id),
        [(2, AlertState::Cleared)]
    );

    // The restart's clock is behind the evidence (the system clock was set
    // back): a quiet period after the evidence, the later.
    let (mut next, _, _) = Feed::resumed(&cfg, &[&raised], 0.5);
    assert_eq!(revs(&next.engine.on_tick(at(60.5)), id), []);
    assert_eq!(
        revs(&next.engine.on_tick(at(61.0)), id),
        [(2, AlertState::Cleared)]
    );
}

#[test]
fn every_kind_resumes_a_devices_own_tamper_clears_at_its_clear_never_by_time() {
    let cfg = keyed();
    let mut first = Feed::new(&cfg);
    let raised = alerts(&first.tamper(TamperKind::Cut, 1.0))[0].clone();
    let id = raised.id.as_str();
    assert_eq!((raised.kind, raised.rev), (AlertKind::Tamper, 1));

    let (mut next, _, _) = Feed::resumed(&cfg, &[&raised], 100.0);
    // Far past the quiet period and clear_after: still open.
    let out = next.ticks(100, 1000);
    assert_eq!(revs(&out, id), []);
    // A burst of forgeries joins it (not a second incident), and when the
    // rejections stop the device's own tamper keeps it open.
    let mut out = next.burst(1001.0);
    out.extend(next.ticks(1002, 2000));
    assert_eq!(revs(&out, id), [(2, AlertState::Updated)]);
    assert_eq!(tampers_raised(&out), 0);
    // Its CLEAR ends it.
    let out = next.tamper(TamperKind::Clear, 2001.0);
    assert_eq!(revs(&out, id), [(3, AlertState::Cleared)]);
    assert!(!alerts(&out)
        .iter()
        .any(|a| a.kind == AlertKind::Tamper && a.id != id));

    // Without the burst, the CLEAR is the stored rev + 1.
    let (mut next, _, _) = Feed::resumed(&cfg, &[&raised], 100.0);
    let out = next.tamper(TamperKind::Clear, 101.0);
    assert_eq!(revs(&out, id), [(2, AlertState::Cleared)]);
}

#[test]
fn every_kind_resumes_an_offline_device_clears_when_it_speaks_not_on_a_replay() {
    let cfg = keyed();
    let mut first = Feed::new(&cfg);
    let out = first.engine.on_tick(at(31.0));
    let offline = alerts(&out)
        .into_iter()
        .find(|a| a.kind == AlertKind::SensorOffline && a.sensors == ["fence-a"])
        .expect("fence-a offline")
        .clone();
    let id = offline.id.as_str();

    let (mut next, _, _) = Feed::resumed(&cfg, &[&offline], 100.0);
    next.engine.restore_seqs([("fence-a".to_owned(), 50)]);
    // Silence, forgeries and a replayed sentence are not the device speaking.
    let mut out = next.ticks(100, 500);
    out.extend(next.forged(501.0));
    let replayed = Sentence {
        device: "fence-a".into(),
        seq: 50,
        body: heartbeat(Health::Ok),
        mac: None,
    };
    assert!(next.engine.on_sentence(&replayed, at(502.0)).is_err());
    out.extend(next.ticks(503, 600));
    assert_eq!(revs(&out, id), []);
    assert!(
        !alerts(&out)
            .iter()
            .any(|a| a.kind == AlertKind::SensorOffline && a.sensors == ["fence-a"]),
        "not raised a second time: {out:?}"
    );
    // Its next genuine sentence clears it.
    next.seq = 50;
    let out = next.send("fence-a", heartbeat(Health::Ok), 601.0);
    assert_eq!(revs(&out, id), [(2, AlertState::Cleared)]);
}

#[test]
fn every_kind_resumes_a_fault_clears_on_an_ok_heartbeat_only() {
    let cfg = config("");
    let mut first = Feed::new(&cfg);
    let fault = alerts(&first.send("fence-a", heartbeat(Health::Fault), 1.0))[0].clone();
    let id = fault.id.as_str();

    let (mut next, _, _) = Feed::resumed(&cfg, &[&fault], 100.0);
    // Readings, another FAULT and time do not clear it (nor raise it again).
    let mut out = next.zone1(100.0, 101.0);
    out.extend(next.send("fence-a", heartbeat(Health::Fault), 102.0));
    out.extend(next.ticks(103, 125));
    out.extend(next.zone1(100.0, 126.0));
    out.extend(next.ticks(127, 400));
    assert_eq!(revs(&out, id), []);
    assert!(!alerts(&out)
        .iter()
        .any(|a| a.kind == AlertKind::SensorFault));
    let out = next.send("fence-a", heartbeat(Health::Ok), 401.0);
    assert_eq!(revs(&out, id), [(2, AlertState::Cleared)]);
}

#[test]
fn every_kind_resumes_a_substitution_clears_clear_after_from_the_restart_or_at_the_clear() {
    let cfg = keyed();
    let mut first = Feed::new(&cfg);
    let raised = latest(&first.burst(1.0), "t-1");
    assert_eq!((raised.kind, raised.rev), (AlertKind::Tamper, 1));
    assert!(raised
        .summary
        .contains("substitution suspected: 5 rejected"));

    // Down for longer than clear_after: the 60 s count from the restart.
    let (mut next, _, _) = Feed::resumed(&cfg, &[&raised], 100.0);
    assert_eq!(revs(&next.ticks(100, 159), "t-1"), []);
    assert_eq!(
        revs(&next.engine.on_tick(at(160.0)), "t-1"),
        [(2, AlertState::Cleared)]
    );

    // Or the device's CLEAR ends it at once.
    let (mut next, _, _) = Feed::resumed(&cfg, &[&raised], 100.0);
    let out = next.tamper(TamperKind::Clear, 101.0);
    assert_eq!(revs(&out, "t-1"), [(2, AlertState::Cleared)]);
    assert!(
        revs(&next.ticks(102, 200), "t-1").is_empty(),
        "cleared once"
    );
}

#[test]
fn every_kind_resumes_rejections_after_the_restart_update_the_substitution_and_put_off_its_clear() {
    let cfg = keyed();
    let mut first = Feed::new(&cfg);
    let raised = latest(&first.burst(1.0), "t-1");

    let (mut next, _, _) = Feed::resumed(&cfg, &[&raised], 100.0);
    // One rejection every 20 s until 400 s (never a burst of its own), a
    // burst just before 310 s; a tick every second until 600 s.
    let mut out = Vec::new();
    for t in 100..=600 {
        let t = f64::from(t);
        if t > 100.0 && t <= 400.0 && t % 20.0 == 0.0 {
            out.extend(next.forged(t));
        }
        if t == 310.0 {
            out.extend(next.burst(309.5));
        }
        out.extend(next.engine.on_tick(at(t)));
    }
    assert_eq!(tampers_raised(&out), 0, "never a second incident");
    let mine: Vec<&AlertMessage> = alerts(&out).into_iter().filter(|a| a.id == "t-1").collect();
    let (cleared, updates) = mine.split_last().expect("alerts of t-1");
    assert_eq!(
        (cleared.state, cleared.rev, cleared.published_at),
        (AlertState::Cleared, updates.len() as u32 + 2, at(460.0)),
        "60 s after the last rejection"
    );
    assert_eq!(updates.len(), 16, "one per rejection, the burst in one");
    for (i, u) in updates.iter().enumerate() {
        assert_eq!((u.state, u.rev), (AlertState::Updated, i as u32 + 2));
    }
    // The count carries on from the previous run's 5.
    assert!(
        updates[0]
            .summary
            .contains("6 rejected sentences (bad_mac 6)"),
        "{}",
        updates[0].summary
    );
    assert!(
        updates[15].summary.contains("25 rejected sentences"),
        "{}",
        updates[15].summary
    );
}

#[test]
fn every_kind_resumes_a_devices_tamper_joined_by_a_substitution_stays_open_until_its_clear() {
    let cfg = keyed();
    let mut first = Feed::new(&cfg);
    let mut out = first.tamper(TamperKind::Cut, 1.0);
    out.extend(first.burst(2.0));
    let short = latest(&out, "t-1");
    assert_eq!((short.rev, short.state), (2, AlertState::Updated));
    assert!(short.evidence.iter().any(|e| e.detail == "CUT"));
    // Rejections go on for long enough that the CUT leaves the trail.
    for t in 3..=100 {
        out.extend(first.forged(f64::from(t)));
        out.extend(first.engine.on_tick(at(f64::from(t) + 0.5)));
    }
    let long = latest(&out, "t-1");
    assert!(!long.evidence.iter().any(|e| e.detail == "CUT"), "{long:?}");

    for stored in [&short, &long] {
        // A rejection while the carried-on suspicion lasts updates it; its
        // end 60 s later does not clear the incident, nor does the end of a
        // new burst.
        let (mut next, _, _) = Feed::resumed(&cfg, &[stored], 200.0);
        let mut out = next.forged(201.0);
        out.extend(next.ticks(201, 1000));
        out.extend(next.burst(1001.0));
        out.extend(next.ticks(1002, 2000));
        let mine = revs(&out, "t-1");
        assert_eq!(
            mine,
            [
                (stored.rev + 1, AlertState::Updated),
                (stored.rev + 2, AlertState::Updated)
            ],
            "updated by the rejections, never cleared by time"
        );
        assert_eq!(tampers_raised(&out), 0);
        let out = next.tamper(TamperKind::Clear, 3001.0);
        assert_eq!(
            revs(&out, "t-1"),
            [(stored.rev + 3, AlertState::Cleared)],
            "stored rev {}",
            stored.rev
        );
    }
}

/// Redeliveries over MQTT: the same device, seq and bytes again is dropped
/// before the replay guard; a keyed device's flagged sentence older than
/// its last is dropped too, however old; the same without the flag, or
/// over a serial line, is a replay.
#[test]
fn redeliveries_are_dropped_before_the_replay_guard_and_replays_are_not() {
    use crate::engine::{Arrival, Delivery, Verdict};
    use crate::redelivery::digest;
    let mut engine = Feed::new(&keyed()).engine;
    let hb = |seq: u32| Sentence {
        device: "fence-a".into(),
        seq,
        body: heartbeat(Health::Ok),
        mac: None,
    };
    let arrive = |engine: &mut Engine, seq: u32, delivery: Delivery, t: f64| {
        let s = hb(seq);
        let arrival = Arrival {
            at: at(t),
            digest: digest(s.encode().as_bytes()),
            delivery,
        };
        match engine.on_arrival(&s, arrival) {
            Ok(Verdict::Accepted(_)) => "accepted",
            Ok(Verdict::Duplicate) => "duplicate",
            Err(r) => r.reason(),
        }
    };
    let fresh = Delivery::AtLeastOnce { flagged: false };
    let flagged = Delivery::AtLeastOnce { flagged: true };
    for seq in 1..=3 {
        assert_eq!(arrive(&mut engine, seq, fresh, 1.0), "accepted");
    }
    // The same bytes again over MQTT: a redelivery, flagged or not.
    assert_eq!(arrive(&mut engine, 2, fresh, 2.0), "duplicate");
    assert_eq!(arrive(&mut engine, 2, flagged, 2.0), "duplicate");
    // Over a serial line nothing is sent twice: a replay.
    assert_eq!(arrive(&mut engine, 2, Delivery::Once, 2.0), "replayed_seq");
    // After a restart that remembered nothing (the window had moved on):
    // flagged by the broker, older than the last taken: a redelivery.
    let mut later = Feed::new(&keyed()).engine;
    later.restore_seqs([("fence-a".to_owned(), 3)]);
    assert_eq!(arrive(&mut later, 1, flagged, 3.0), "duplicate");
    assert_eq!(arrive(&mut later, 1, fresh, 3.0), "replayed_seq");
    assert_eq!(arrive(&mut later, 4, flagged, 3.0), "accepted");
}
