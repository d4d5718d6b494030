//! Tests of the simulated controllers.

use super::*;
use crate::sentence::parse;
use crate::testkit;

fn event(kind: EventKind, at_s: u64, device: Option<&str>, chainage_m: Option<f64>) -> Event {
    Event {
        at: Duration::from_secs(at_s),
        kind,
        chainage_m,
        speed_m_s: 0.0,
        device: device.map(str::to_owned),
        duration: Duration::from_secs(3),
        tamper: None,
        lines: Some(14),
        strength_mg: None,
        intensity: None,
    }
}

/// Runs every device for `steps` half-second steps (heartbeats every 5 s);
/// returns all lines.
fn run(seed: u64, events: &[Event], steps: u64) -> Vec<String> {
    let (config, _) = testkit::fixture();
    let mut scenario = Scenario::parse(
        "t.toml",
        &format!("seed = {seed}\nreport_interval = \"500ms\"\nheartbeat_interval = \"5s\"\n"),
        &std::collections::HashSet::new(),
    )
    .expect("valid scenario");
    scenario.events = events.to_vec();
    let fences: Vec<String> = config.fence.iter().map(|f| f.id.clone()).collect();
    let weather = Arc::new(Weather::new(&scenario, &fences));
    let mut controllers = Controllers::new(&config, &scenario, None, weather);
    (0..steps)
        .flat_map(|n| controllers.step(n))
        .flat_map(|(_, lines)| lines)
        .collect()
}

#[test]
fn same_seed_same_sentences_other_seed_other_noise() {
    let events = [event(EventKind::Intrusion, 2, None, Some(4900.0))];
    assert_eq!(run(42, &events, 40), run(42, &events, 40));
    assert_ne!(run(42, &events, 40), run(43, &events, 40));
}

#[test]
fn an_intrusion_shakes_the_nearby_zone_only() {
    let events = [event(EventKind::Intrusion, 2, None, Some(4940.0))];
    let lines = run(1, &events, 20);
    let mut loud = std::collections::BTreeSet::new();
    for l in &lines {
        if let Ok(Sentence {
            body: Body::Fence { zone, rms_mg, .. },
            ..
        }) = parse(l.as_bytes())
        {
            if rms_mg > 400.0 {
                loud.insert(zone);
            }
        }
    }
    // Zone 1 spans 4800-5000 m; zone 2 (5000-5200) is 60 m away, zone 3 far.
    assert_eq!(loud.into_iter().collect::<Vec<_>>(), vec![1]);
    let beam_broken = lines
        .iter()
        .filter_map(|l| parse(l.as_bytes()).ok())
        .any(|s| {
            s.body
                == Body::Beam {
                    channel: 0,
                    broken: true,
                }
        });
    assert!(
        beam_broken,
        "the beam at 4950 m breaks while the person crosses"
    );
}

#[test]
fn garbage_lines_are_all_rejected_and_good_lines_survive() {
    let events = [event(EventKind::Garbage, 1, Some("fence-a"), None)];
    let lines = run(3, &events, 4);
    let bad: Vec<&String> = lines
        .iter()
        .filter(|l| parse(l.as_bytes()).is_err())
        .collect();
    let good_fence = lines
        .iter()
        .filter_map(|l| parse(l.as_bytes()).ok())
        .filter(|s| s.device == "fence-a")
        .count();
    // 14 garbage lines, of which the `someone-else` heartbeat parses (it
    // is refused later by the source binding): 12 fail to parse, plus the
    // over-long line which the parser rejects as too long.
    assert_eq!(bad.len(), 12, "{bad:?}");
    // 3 zones x 4 steps of good readings, none lost to the garbage.
    assert!(good_fence >= 12, "{good_fence}");
}

#[test]
fn silence_and_tamper_events() {
    let events = [
        event(EventKind::Silence, 1, Some("trench-a"), None),
        event(EventKind::Tamper, 1, Some("fence-a"), None),
    ];
    let lines = run(5, &events, 12);
    let parsed: Vec<Sentence> = lines
        .iter()
        .filter_map(|l| parse(l.as_bytes()).ok())
        .collect();
    let trench_steps: Vec<u32> = parsed
        .iter()
        .filter(|s| s.device == "trench-a")
        .map(|s| s.seq)
        .collect();
    assert!(!trench_steps.is_empty());
    let tampers: Vec<TamperKind> = parsed
        .iter()
        .filter_map(|s| match s.body {
            Body::Tamper { kind } => Some(kind),
            _ => None,
        })
        .collect();
    assert_eq!(tampers, vec![TamperKind::Cut, TamperKind::Clear]);
    // trench-a says nothing from 1 s to 4 s (steps 2..8).
    let during = run(5, &events, 8).len() - run(5, &events, 2).len();
    let fence_only = run(5, &[], 8).len() - run(5, &[], 2).len();
    assert!(during < fence_only, "silence removes trench-a's lines");
}
