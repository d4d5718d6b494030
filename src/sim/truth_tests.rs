//! Tests of the ground truth, and of the scenario library in
//! `firmware-sim/scenarios/` against `config/reference-site.toml`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::sim::cameras;

/// The reference site: its config and wall.
fn site() -> crate::config::Loaded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/reference-site.toml");
    crate::config::load(&path).unwrap_or_else(|p| {
        let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
        panic!("the reference site is invalid:\n{}", lines.join("\n"))
    })
}

/// The scenario files of the library, sorted.
fn library() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware-sim/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the scenario library")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_library_scenario_parses_against_the_reference_site_and_has_its_class() {
    let loaded = site();
    let config = &loaded.config;
    let wall = Arc::new(loaded.wall.clone());
    let devices: HashSet<String> = config
        .fence
        .iter()
        .map(|d| d.id.clone())
        .chain(config.trench.iter().map(|d| d.id.clone()))
        .collect();
    let camera_ids: HashSet<String> = config.camera.iter().map(|c| c.id.clone()).collect();
    let zones: Vec<(f64, f64)> = config
        .fence
        .iter()
        .flat_map(|f| f.zones.iter().map(|z| (z.start_m, z.end_m)))
        .collect();
    let covered = |c: f64| {
        zones
            .iter()
            .any(|(a, b)| (a - 50.0..=b + 50.0).contains(&c))
    };
    let files = library();
    assert!(files.len() >= 34, "{} scenarios", files.len());
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        if !text.starts_with("# ") {
            problems.push(format!("{name}: no comment header"));
        }
        let scenario = match Scenario::load_with_cameras(path, &devices, &camera_ids) {
            Ok(s) => s,
            Err(p) => {
                problems.extend(p.iter().map(ToString::to_string));
                continue;
            }
        };
        let secs = scenario.duration.as_secs_f64();
        if !(40.0..=120.0).contains(&secs) {
            problems.push(format!("{name}: lasts {secs} s, not 40 to 120"));
        }
        let world = World::new(&scenario, wall.clone());
        let models = cameras::models(config, &scenario).unwrap();
        let truth = ground_truth(config, &wall, &scenario, &world, &models);
        let count = |class: TruthClass| truth.iter().filter(|t| t.class == class).count();
        let (threats, devices) = (count(TruthClass::Threat), count(TruthClass::Device));
        let ok = if name.starts_with("threat-") {
            threats >= 1
        } else if name.starts_with("nuisance-") {
            threats == 0 && count(TruthClass::Nuisance) >= 1
        } else if name.starts_with("device-") {
            devices >= 1
        } else {
            false
        };
        if !ok {
            problems.push(format!(
                "{name}: {threats} threats and {devices} device items do not fit its prefix"
            ));
        }
        for item in &truth {
            // Everything happens where the site can sense it.
            if !item.track.is_empty() && !item.track.iter().any(|p| covered(p.chainage_m)) {
                problems.push(format!("{name}: {} is nowhere near a fence", item.id));
            }
            if let Some(t) = item.crosses_wall_s {
                let at = item
                    .track
                    .iter()
                    .min_by(|a, b| (a.t_s - t).abs().total_cmp(&(b.t_s - t).abs()));
                if !at.is_some_and(|p| covered(p.chainage_m)) {
                    problems.push(format!("{name}: {} crosses off the fences", item.id));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn threats_that_reach_the_wall_cross_it_where_their_track_says() {
    let loaded = site();
    let wall = Arc::new(loaded.wall.clone());
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("firmware-sim/scenarios/threat-a-two-300m-apart.toml");
    let devices: HashSet<String> = ["fence-a", "trench-a", "fence-b", "trench-b", "fence-c"]
        .map(String::from)
        .into();
    let scenario = Scenario::load(&path, &devices).unwrap();
    let world = World::new(&scenario, wall.clone());
    let models = cameras::models(&loaded.config, &scenario).unwrap();
    let truth = ground_truth(&loaded.config, &wall, &scenario, &world, &models);
    assert_eq!(truth.len(), 2);
    for (item, chainage, start) in [(&truth[0], 19810.0, 5.0), (&truth[1], 20110.0, 8.0)] {
        assert_eq!(item.class, TruthClass::Threat);
        assert_eq!(item.start_s, start);
        // 40 m and 35 m at 1.4 m/s.
        let cross = item.crosses_wall_s.unwrap();
        let offset = item.track[0].offset_m;
        assert!((cross - start - offset / 1.4).abs() < 0.05, "{cross}");
        // Stopped on the line for the 6 s climb, then on the other side.
        let on_line: Vec<&TruthPoint> = item
            .track
            .iter()
            .filter(|p| p.t_s > cross && p.t_s < cross + 6.0)
            .collect();
        assert!((11..=12).contains(&on_line.len()), "{}", on_line.len());
        assert!(on_line
            .iter()
            .all(|p| p.offset_m.abs() < 0.05 && (p.chainage_m - chainage).abs() < 0.5));
        assert!(item.track.last().unwrap().offset_m < -5.0);
    }
    assert_eq!(truth[0].segments, ["S019"]);
    assert!(truth[0].cameras.is_empty());
    assert_eq!(truth[1].segments, ["S020"]);
    assert_eq!(truth[1].cameras, ["cam-a"]);
}
