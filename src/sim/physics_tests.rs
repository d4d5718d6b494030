//! Tests of the sensor physics: objects of the world and the weather as the
//! simulated controllers report them.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::sentence::{parse, Body, Sentence};
use crate::sim::devices::Controllers;
use crate::sim::scenario::Scenario;
use crate::sim::weather::Weather;
use crate::wall::{LatLon, Wall};

/// Four 200 m fence zones from 4000 m and a trench along them, on the
/// equator test wall.
const CONFIG: &str = r#"
instance = "t"
wall = "unused.geojson"
[[fence]]
id = "fence-a"
[[fence.zones]]
zone = 1
start_m = 4000.0
end_m = 4200.0
[[fence.zones]]
zone = 2
start_m = 4200.0
end_m = 4400.0
[[fence.zones]]
zone = 3
start_m = 4400.0
end_m = 4600.0
[[fence.zones]]
zone = 4
start_m = 4600.0
end_m = 4800.0
[[trench]]
id = "trench-a"
[[trench.geophones]]
channel = 0
at_m = 4300.0
[[trench.geophones]]
channel = 1
at_m = 4600.0
[[trench.beams]]
channel = 0
at_m = 4310.0
[[trench.beams]]
channel = 1
at_m = 4700.0
"#;

fn wall() -> Arc<Wall> {
    Arc::new(
        Wall::from_vertices(vec![LatLon::new(0.0, 0.0), LatLon::new(0.0, 1.0)], 1000.0).unwrap(),
    )
}

/// Every sentence of `scenario` (TOML, after a seed) with its time.
fn run(scenario: &str) -> Vec<(f64, Sentence)> {
    let config: Config = toml::from_str(CONFIG).unwrap();
    let devices: HashSet<String> = ["fence-a", "trench-a"].map(String::from).into();
    let scenario = Scenario::parse("t.toml", scenario, &devices).expect("valid scenario");
    let world = Arc::new(World::new(&scenario, wall()));
    let weather = Arc::new(Weather::new(&scenario, &["fence-a".to_owned()]));
    let mut c = Controllers::new(&config, &scenario, Some(world), weather);
    let mut out = Vec::new();
    for n in 0..c.total_steps() {
        let t = c.elapsed(n).as_secs_f64();
        for (_, lines) in c.step(n) {
            out.extend(
                lines
                    .iter()
                    .filter_map(|l| parse(l.as_bytes()).ok().map(|s| (t, s))),
            );
        }
    }
    out
}

/// Fence readings: (time, zone, rms).
fn fence(lines: &[(f64, Sentence)]) -> Vec<(f64, u16, f64)> {
    lines
        .iter()
        .filter_map(|(t, s)| match s.body {
            Body::Fence { zone, rms_mg, .. } => Some((*t, zone, rms_mg)),
            _ => None,
        })
        .collect()
}

/// Geophone readings: (time, channel, ppv).
fn ground(lines: &[(f64, Sentence)]) -> Vec<(f64, u16, f64)> {
    lines
        .iter()
        .filter_map(|(t, s)| match s.body {
            Body::Ground { channel, ppv_um_s } => Some((*t, channel, ppv_um_s)),
            _ => None,
        })
        .collect()
}

fn beams_broken(lines: &[(f64, Sentence)]) -> BTreeSet<u16> {
    lines
        .iter()
        .filter_map(|(_, s)| match s.body {
            Body::Beam {
                channel,
                broken: true,
            } => Some(channel),
            _ => None,
        })
        .collect()
}

#[test]
fn a_person_climbing_over_shakes_the_zone_it_touches_only() {
    // From 20 m out at 1.4 m/s: at the fence at about 14.3 s, climbing
    // for 6 s, then on to the other side.
    let lines = run("seed = 3\nduration = \"40s\"\n\
         [[objects]]\nat = \"1s\"\nkind = \"person\"\nchainage_m = 4300.0\n\
         offset_m = 20.0\nduration = \"35s\"\n");
    let loud: Vec<(f64, u16, f64)> = fence(&lines)
        .into_iter()
        .filter(|(_, _, rms)| *rms > 400.0)
        .collect();
    let zones: BTreeSet<u16> = loud.iter().map(|(_, z, _)| *z).collect();
    assert_eq!(zones, BTreeSet::from([2]), "{loud:?}");
    // For the climb: about 6 s of readings every 0.5 s.
    assert!((10..=14).contains(&loud.len()), "{loud:?}");
    assert!(
        loud.iter()
            .all(|(t, _, rms)| (14.5..22.0).contains(t) && *rms < 2000.0),
        "{loud:?}"
    );
    // Footsteps reach the geophone beside it, not the one 300 m away.
    let steps = ground(&lines);
    assert!(steps.iter().any(|(_, ch, ppv)| *ch == 0 && *ppv > 1000.0));
    assert!(steps.iter().all(|(_, ch, ppv)| *ch != 1 || *ppv < 1000.0));
    // Crossing the trench line (3 m out) near km 4.31 breaks that beam only.
    assert_eq!(beams_broken(&lines), BTreeSet::from([0]));
}

#[test]
fn a_runner_breaks_the_beam_between_reports_and_a_crawler_is_quieter() {
    let lines = run("seed = 4\nduration = \"20s\"\n\
         [[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 4700.0\n\
         offset_m = 30.0\nspeed_m_s = 4.0\nclimb_s = 0.0\nduration = \"15s\"\n");
    assert_eq!(beams_broken(&lines), BTreeSet::from([1]));
    let peak = |lines: &[(f64, Sentence)], ch: u16| {
        ground(lines)
            .iter()
            .filter(|(_, c, _)| *c == ch)
            .map(|(_, _, p)| *p)
            .fold(0.0, f64::max)
    };
    let crawler = run("seed = 4\nduration = \"40s\"\n\
         [[objects]]\nat = \"0s\"\nkind = \"crawler\"\nchainage_m = 4600.0\n\
         offset_m = 8.0\nduration = \"40s\"\n");
    let walker = run("seed = 4\nduration = \"40s\"\n\
         [[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 4600.0\n\
         offset_m = 8.0\nduration = \"40s\"\n");
    assert!(peak(&crawler, 1) < peak(&walker, 1) * 0.6);
    assert!(peak(&walker, 1) > 2000.0);
}

#[test]
fn a_dog_along_the_fence_is_mostly_under_the_geophone_threshold() {
    let lines = run("seed = 5\nduration = \"60s\"\n\
         [[objects]]\nat = \"0s\"\nkind = \"dog\"\nchainage_m = 4270.0\n\
         offset_m = 2.0\nheading = \"along_wall\"\nduration = \"60s\"\n");
    let near: Vec<f64> = ground(&lines)
        .into_iter()
        .filter(|(t, ch, _)| *ch == 0 && (10.0..30.0).contains(t))
        .map(|(_, _, p)| p)
        .collect();
    let over = near.iter().filter(|p| **p >= 1000.0).count();
    assert!(near.iter().any(|p| *p > 350.0), "the dog is felt: {near:?}");
    assert!(
        over * 10 <= near.len(),
        "{over} of {} over 1000",
        near.len()
    );
    assert!(fence(&lines).iter().all(|(_, _, rms)| *rms < 300.0));
    assert!(beams_broken(&lines).is_empty());
}

#[test]
fn a_camel_by_the_fence_rubs_it_now_and_then() {
    let lines = run("seed = 6\nduration = \"60s\"\n\
         [[objects]]\nat = \"0s\"\nkind = \"camel\"\nchainage_m = 4250.0\n\
         offset_m = 1.0\nheading = \"along_wall\"\nspeed_m_s = 1.0\nduration = \"60s\"\n");
    let rubs: Vec<f64> = fence(&lines)
        .into_iter()
        .filter(|(_, _, rms)| *rms > 200.0)
        .map(|(_, _, rms)| rms)
        .collect();
    // 120 steps at a 35 % chance each.
    assert!((20..=70).contains(&rubs.len()), "{rubs:?}");
    assert!(rubs.iter().all(|r| *r < 650.0), "{rubs:?}");
    // Camel footsteps are strong.
    assert!(ground(&lines).iter().any(|(_, _, p)| *p > 1000.0));
}

#[test]
fn wind_raises_the_zones_of_a_controller_together() {
    let calm = run("seed = 7\nduration = \"60s\"\n");
    assert!(fence(&calm).iter().all(|(_, _, rms)| *rms < 200.0));
    let storm = run("seed = 7\nduration = \"60s\"\n\
         [[events]]\nat = \"0s\"\nkind = \"wind\"\nstrength_mg = 700.0\nduration = \"60s\"\n");
    let mut loud_at: BTreeMap<u64, u32> = BTreeMap::new();
    for (t, _, rms) in fence(&storm) {
        if rms > 400.0 {
            *loud_at.entry((t * 2.0) as u64).or_default() += 1;
        }
    }
    let together = loud_at.values().filter(|n| **n >= 3).count();
    assert!(
        together >= 60,
        "3 or more of 4 zones over 400 mg at {together} of 120 steps"
    );
    // A breeze mostly stays under the threshold.
    let breeze = run("seed = 7\nduration = \"60s\"\n\
         [[events]]\nat = \"0s\"\nkind = \"wind\"\nstrength_mg = 250.0\nduration = \"60s\"\n");
    let readings = fence(&breeze);
    let over = readings.iter().filter(|(_, _, rms)| *rms > 400.0).count();
    assert!(over * 5 < readings.len(), "{over} of {}", readings.len());
}

#[test]
fn a_climber_in_a_storm_adds_on_top_of_the_wind() {
    let text = "seed = 8\nduration = \"40s\"\n\
         [[events]]\nat = \"0s\"\nkind = \"wind\"\nstrength_mg = 700.0\nduration = \"40s\"\n";
    let wind = run(text);
    let both = run(&format!(
        "{text}[[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 4300.0\n\
         offset_m = 7.0\nduration = \"30s\"\n"
    ));
    let zone2 = |lines: &[(f64, Sentence)]| -> f64 {
        let v: Vec<f64> = fence(lines)
            .into_iter()
            .filter(|(t, z, _)| *z == 2 && (6.0..10.0).contains(t))
            .map(|(_, _, r)| r)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(zone2(&both) > zone2(&wind) + 300.0);
    assert!(zone2(&both) > 1200.0);
}

#[test]
fn rain_adds_a_little_fence_noise() {
    let rain = run("seed = 9\nduration = \"30s\"\n\
         [[events]]\nat = \"0s\"\nkind = \"rain\"\nintensity = 1.0\nduration = \"30s\"\n");
    let rms: Vec<f64> = fence(&rain).into_iter().map(|(_, _, r)| r).collect();
    let mean = rms.iter().sum::<f64>() / rms.len() as f64;
    assert!((100.0..200.0).contains(&mean), "{mean}");
    assert!(rms.iter().all(|r| *r < 400.0));
}

#[test]
fn stimuli_fall_off_with_distance() {
    let s = Stimuli {
        contacts: vec![Contact {
            chainage_m: 100.0,
            rms_mg: 1000.0,
        }],
        footsteps: vec![Footsteps {
            chainage_m: 100.0,
            offset_m: TRENCH_OFFSET_M,
            ppv_um_s: 2500.0,
            decay_m: 25.0,
        }],
        in_trench: vec![100.0],
    };
    assert_eq!(s.fence_mg(0.0, 200.0), 1000.0);
    assert!((s.fence_mg(110.0, 300.0) - 1000.0 / std::f64::consts::E).abs() < 1e-9);
    assert!(s.fence_mg(400.0, 600.0) < 1e-6);
    assert_eq!(s.ground_um_s(100.0), 2500.0);
    assert!((s.ground_um_s(125.0) - 2500.0 / std::f64::consts::E).abs() < 1e-9);
    assert!(s.beam_broken(115.0) && !s.beam_broken(116.0));
}
