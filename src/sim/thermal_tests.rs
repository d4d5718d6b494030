//! Tests of the simulated thermal scenes, and of their contract with the camera pipeline.

use std::collections::HashSet;
use std::sync::Arc;

use super::*;
use crate::camera::{CameraPipeline, CameraSettings};
use crate::config::{CameraConfig, ThermalConfig};
use crate::evidence::Evidence;
use crate::time::Timestamp;
use crate::wall::{LatLon, Wall};

/// Metres per degree along the equator.
const M_PER_DEG: f64 = 111_195.08;
const RATE_HZ: f64 = 9.0;

/// The equator test wall (1° long, 1000 m segments).
fn wall() -> Arc<Wall> {
    Arc::new(
        Wall::from_vertices(vec![LatLon::new(0.0, 0.0), LatLon::new(0.0, 1.0)], 1000.0).unwrap(),
    )
}

/// A camera 150 m south of the wall at lon 0.05°, looking north at it.
fn camera() -> CameraConfig {
    crate::testkit::camera_south_of_wall(150.0)
}

fn mount() -> Mount {
    CameraSettings::resolve(&camera(), &ThermalConfig::default()).mount
}

/// A scenario with these `[[objects]]` (TOML) and seed 5.
fn scenario(objects: &str) -> Scenario {
    let text = format!("seed = 5\n{objects}");
    Scenario::parse("t.toml", &text, &HashSet::new()).expect("valid scenario")
}

fn settings(width: u32, height: u32) -> SceneSettings {
    SceneSettings {
        width,
        height,
        ..SceneSettings::from_scenario(&scenario(""))
    }
}

/// Settings without noise, dead pixels or background rocks.
fn quiet(width: u32, height: u32) -> SceneSettings {
    SceneSettings {
        noise_k: 0.0,
        dead_pixels: 0,
        sun_rocks: 0,
        ..settings(width, height)
    }
}

fn person_at(position: LatLon, contrast_k: f64) -> ObjectState {
    ObjectState {
        kind: ObjectKind::Person,
        position,
        altitude_m: 0.0,
        bearing_deg: 90.0,
        size: ObjectKind::Person.size(),
        contrast_k,
    }
}

fn t(frame: u32) -> Timestamp {
    Timestamp(1_770_000_000_000 + (f64::from(frame) * 1000.0 / RATE_HZ) as i64)
}

/// Runs `frames` frames of `scenario` through the daemon's pipeline;
/// returns the evidence with the frame each came from, and how many
/// blobs the kernel found in all.
fn through_the_daemon(scenario: &Scenario, frames: u32) -> (Vec<(u32, Evidence)>, u32) {
    let world = World::new(scenario, wall());
    let mut scene = CameraScene::new("cam-1", mount(), settings(640, 512)).unwrap();
    let settings = CameraSettings::resolve(&camera(), &ThermalConfig::default());
    let mut pipeline = CameraPipeline::new(settings, wall());
    // The camera learns the empty scene before frame 0.
    let warm = crate::camera::WARMUP_SAMPLES as i64;
    for k in 0..warm {
        let at = Timestamp(t(0).0 - (warm - k) * 1500);
        let frame = scene.render(k as u32, 0.0, &[]);
        assert!(pipeline.process(frame, Some(at), at).1.warming_up);
    }
    let mut states = Vec::new();
    let mut out = Vec::new();
    let mut blobs = 0;
    for i in 0..frames {
        let t_s = f64::from(i) / RATE_HZ;
        world.states_at(t_s, &mut states);
        let frame = scene.render(i, t_s, &states);
        let (evidence, stats) = pipeline.process(frame, Some(t(i)), t(i));
        out.extend(evidence.into_iter().map(|e| (i, e)));
        blobs += stats.blobs;
    }
    (out, blobs)
}

#[test]
fn the_same_seed_renders_the_same_frames() {
    let person = [person_at(LatLon::new(0.0, 0.05), 8.0)];
    let frame = |seed: u64| {
        let s = SceneSettings {
            seed,
            ..settings(320, 240)
        };
        let mut scene = CameraScene::new("cam-1", mount(), s).unwrap();
        scene.render(7, 1.5, &person).to_owned()
    };
    assert_eq!(frame(5), frame(5));
    assert_ne!(frame(5), frame(6));
    // Another frame of the same scene has other noise.
    let mut scene = CameraScene::new("cam-1", mount(), settings(320, 240)).unwrap();
    let a = scene.render(1, 0.0, &[]).to_owned();
    let b = scene.render(2, 0.0, &[]).to_owned();
    assert_ne!(a, b);
}

#[test]
fn a_person_appears_where_the_camera_model_projects_it() {
    let mut scene = CameraScene::new("cam-1", mount(), quiet(640, 512)).unwrap();
    let empty = scene.render(0, 0.0, &[]).to_owned();
    let foot = LatLon::new(0.0, 0.0501);
    let frame = scene.render(0, 0.0, &[person_at(foot, 8.0)]).to_owned();
    let (u, v) = scene.model().project(foot, 0.0).unwrap();
    let diff: Vec<(usize, usize, i32)> = frame
        .indexed_iter()
        .map(|((y, x), &p)| (y, x, i32::from(p) - i32::from(empty[(y, x)])))
        .filter(|&(_, _, d)| d.abs() > 50)
        .collect();
    assert!(!diff.is_empty());
    let bottom = diff.iter().map(|d| d.0).max().unwrap() as f64;
    let left = diff.iter().map(|d| d.1).min().unwrap() as f64;
    let right = diff.iter().map(|d| d.1).max().unwrap() as f64;
    // The lowest painted row holds the foot; the columns straddle it.
    assert!(
        (bottom + 0.5 - v).abs() <= 1.5,
        "bottom row {bottom}, foot v {v}"
    );
    assert!(
        ((left + right + 1.0) / 2.0 - u).abs() <= 1.0,
        "{left}..{right}, u {u}"
    );
    // 1.75 m at 150 m is about 15 rows with fy = 1287 px.
    let rows = bottom - diff.iter().map(|d| d.0).min().unwrap() as f64 + 1.0;
    assert!((13.0..=17.0).contains(&rows), "{rows} rows");
    // Fully covered pixels carry the contrast (± the terrain's texture).
    let peak = diff.iter().map(|d| d.2).max().unwrap();
    assert!((peak - 800).abs() <= 30, "peak contrast {peak} counts");
    // A colder-than-ground person is painted colder.
    let cold = scene.render(0, 0.0, &[person_at(foot, -5.0)]).to_owned();
    let lowest = cold
        .iter()
        .zip(empty.iter())
        .map(|(&a, &b)| i32::from(a) - i32::from(b))
        .min()
        .unwrap();
    assert!((lowest + 500).abs() <= 30, "{lowest}");
}

#[test]
fn objects_behind_the_camera_or_beyond_the_horizon_are_not_drawn() {
    let mut scene = CameraScene::new("cam-1", mount(), quiet(320, 240)).unwrap();
    let empty = scene.render(0, 0.0, &[]).to_owned();
    let behind = person_at(LatLon::new(-0.01, 0.05), 8.0);
    let far = person_at(LatLon::new(0.5, 0.05), 8.0);
    assert!(project_box(scene.model(), &behind).is_none());
    assert!(project_box(scene.model(), &far).is_none());
    assert_eq!(scene.render(0, 0.0, &[behind, far]).to_owned(), empty);
}

#[test]
fn sensor_noise_is_about_five_counts() {
    let mut noisy = CameraScene::new("cam-1", mount(), settings(640, 512)).unwrap();
    let mut clean = CameraScene::new(
        "cam-1",
        mount(),
        SceneSettings {
            noise_k: 0.0,
            ..settings(640, 512)
        },
    )
    .unwrap();
    let a = noisy.render(3, 0.0, &[]).to_owned();
    let b = clean.render(3, 0.0, &[]).to_owned();
    let diffs: Vec<f64> = a
        .iter()
        .zip(b.iter())
        .filter(|(&x, _)| x != 0)
        .map(|(&x, &y)| f64::from(x) - f64::from(y))
        .collect();
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 0.1, "mean {mean}");
    assert!((sd - 5.0).abs() < 0.25, "sd {sd}");
    // The dead pixels are 0 in every frame, and only they are.
    let dead = a.iter().filter(|&&p| p == 0).count();
    assert!((3..=noisy.settings().dead_pixels).contains(&dead), "{dead}");
    assert_eq!(
        noisy
            .render(4, 0.0, &[])
            .iter()
            .filter(|&&p| p == 0)
            .count(),
        dead
    );
}

#[test]
fn the_terrain_is_warmer_near_the_camera_and_the_sky_colder() {
    let mut scene = CameraScene::new("cam-1", mount(), quiet(640, 512)).unwrap();
    let frame = scene.render(0, 0.0, &[]).to_owned();
    let row_mean = |r: usize| frame.row(r).iter().map(|&p| f64::from(p)).sum::<f64>() / 640.0;
    let (top, bottom) = (row_mean(5), row_mean(505));
    let horizon_row = (0..512)
        .find(|&r| scene.model().ground_point(320.5, r as f64 + 0.5).is_some())
        .unwrap();
    let ground = row_mean(horizon_row + 20);
    assert!(top < ground - 1000.0, "sky {top} vs ground {ground}");
    assert!(bottom > ground, "near {bottom} vs far {ground}");
    // The ground near 20 °C, in centikelvin.
    assert!((29_015.0..29_515.0).contains(&bottom), "{bottom}");
    // Diurnal drift: 0.5 K an hour.
    let later = scene.render(0, 3600.0, &[]).to_owned();
    assert_eq!(
        i32::from(later[(400, 300)]) - i32::from(frame[(400, 300)]),
        50
    );
}

#[test]
fn a_rock_warms_over_its_duration_and_stays_warm() {
    let s = scenario(
        "[[objects]]\nat = \"0s\"\nkind = \"rock\"\nchainage_m = 5559.75\n\
         offset_m = 20.0\nduration = \"10m\"\ncontrast_k = 6.0\n",
    );
    let world = World::new(&s, wall());
    let rock = &world.objects()[0];
    let contrast = |t: f64| rock.state_at(world.wall(), t).unwrap().contrast_k;
    assert_eq!(contrast(0.0), 0.0);
    assert!((contrast(300.0) - 3.0).abs() < 1e-9);
    assert_eq!(contrast(600.0), 6.0);
    assert_eq!(contrast(5000.0), 6.0);
    let mut scene = CameraScene::new("cam-1", mount(), quiet(640, 512)).unwrap();
    let mut states = Vec::new();
    let mut at = |t: f64| {
        world.states_at(t, &mut states);
        let b = project_box(scene.model(), &states[0]).unwrap();
        let (u, v) = ((b.u0 + b.u1) / 2.0, (b.v0 + b.v1) / 2.0);
        let frame = scene.render(0, t, &states);
        f64::from(frame[(v as usize, u as usize)])
    };
    let (start, half, done) = (at(0.0), at(300.0), at(600.0));
    let drift = 0.5 * 100.0 / 3600.0;
    assert!(
        (half - start - 300.0 - 300.0 * drift).abs() < 2.0,
        "{start} {half}"
    );
    assert!(
        (done - start - 600.0 - 600.0 * drift).abs() < 2.0,
        "{start} {done}"
    );
}

#[test]
fn a_bird_moves_many_pixels_per_frame() {
    let s = scenario(
        "[[objects]]\nat = \"0s\"\nkind = \"bird\"\nchainage_m = 5540.0\n\
         offset_m = 100.0\nheading = \"along_wall\"\nduration = \"4s\"\n",
    );
    let world = World::new(&s, wall());
    let model = CameraModel::new(mount(), 640, 512).unwrap();
    let mut us = Vec::new();
    for i in 0..36 {
        let state = world.objects()[0].state_at(world.wall(), f64::from(i) / RATE_HZ);
        let state = state.unwrap();
        assert_eq!(state.altitude_m, 8.0);
        if let Some(b) = project_box(&model, &state).filter(|b| b.area_in(640, 512) > 0.0) {
            us.push((b.u0 + b.u1) / 2.0);
        }
    }
    assert!(
        (3..=30).contains(&us.len()),
        "in view in {} frames",
        us.len()
    );
    for pair in us.windows(2) {
        assert!(pair[1] - pair[0] > 25.0, "{us:?}");
    }
}

#[test]
fn a_rendered_frame_round_trips_through_the_codecs() {
    let mut scene = CameraScene::new("cam-1", mount(), settings(320, 240)).unwrap();
    let frame = scene
        .render(42, 2.0, &[person_at(LatLon::new(0.0, 0.05), 8.0)])
        .to_owned();
    let limits = crate::frame::FrameLimits::default();
    let rtf1 = crate::frame::encode_rtf1(frame.view(), 42, 1_770_000_000_123);
    let back = crate::frame::decode(&rtf1, &limits).unwrap();
    assert_eq!(back.pixels, frame);
    assert_eq!(
        (back.seq, back.capture_ms),
        (Some(42), Some(1_770_000_000_123))
    );
    let png = crate::frame::encode_png(frame.view());
    assert_eq!(crate::frame::decode(&png, &limits).unwrap().pixels, frame);
}

#[test]
fn defaults_come_from_the_kind_and_crossover() {
    let text = "[[objects]]\nat = \"1s\"\nkind = \"person\"\nchainage_m = 10.0\n\
                [[objects]]\nat = \"1s\"\nobject = \"vehicle\"\nchainage_m = 10.0\n";
    let normal = World::new(&scenario(text), wall());
    let crossover = World::new(&scenario(&format!("crossover = true\n{text}")), wall());
    let (p, v) = (&normal.objects()[0], &normal.objects()[1]);
    assert!((6.0..=10.0).contains(&p.contrast_k) && p.speed_m_s == 1.4);
    assert!(v.contrast_k == 15.0 && v.speed_m_s == 8.0);
    assert!((0.2..=1.0).contains(&crossover.objects()[0].contrast_k));
    assert_eq!(crossover.objects()[1].contrast_k, 15.0);
    // Gone after its duration (30 s by default).
    assert!(p.state_at(normal.wall(), 30.9).is_some());
    assert!(p.state_at(normal.wall(), 31.0).is_none());
    assert!(p.state_at(normal.wall(), 0.9).is_none());
}

#[test]
fn headings_move_objects_over_the_wall_along_it_or_on_a_bearing() {
    let w = wall();
    // Without the stop at the wall line (see the next test).
    let at = |heading: &str, offset: f64, speed: f64, t: f64| {
        let s = scenario(&format!(
            "[[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 5000.0\n\
             offset_m = {offset}\nheading = {heading}\nspeed_m_s = {speed}\nclimb_s = 0.0\n"
        ));
        let world = World::new(&s, w.clone());
        let p = world.objects()[0].state_at(&w, t).unwrap().position;
        let located = w.locate(p);
        // Positive: south of the equator wall, its right side.
        (located.chainage_m, p.lat * M_PER_DEG)
    };
    let (c, north) = at("\"towards_wall\"", 30.0, 1.5, 10.0);
    assert!((c - 5000.0).abs() < 0.01 && (north + 15.0).abs() < 0.01);
    let (_, north) = at("\"towards_wall\"", 30.0, 1.5, 29.0);
    assert!((north - 13.5).abs() < 0.01, "crossed over: {north}");
    let (_, north) = at("\"away_from_wall\"", -10.0, 1.0, 10.0);
    assert!((north - 20.0).abs() < 0.01);
    let (c, north) = at("\"along_wall\"", 10.0, -2.0, 10.0);
    assert!((c - 4980.0).abs() < 0.01 && (north + 10.0).abs() < 0.01);
    let (c, north) = at("90", 0.0, 1.0, 10.0);
    assert!((c - 5010.0).abs() < 0.01 && north.abs() < 0.01);
}

#[test]
fn rain_lowers_the_contrast_of_people_and_terrain() {
    use crate::sim::weather::Visibility;
    let mut scene = CameraScene::new("cam-1", mount(), quiet(640, 512)).unwrap();
    let foot = LatLon::new(0.0, 0.0501);
    let (u, v) = scene.model().project(foot, 0.9).unwrap();
    let person = [person_at(foot, 8.0)];
    let at = |f: &ndarray::Array2<u16>| f64::from(f[[v as usize, u as usize]]);
    let spread = |f: &ndarray::Array2<u16>| {
        let ground = f.row(500).iter().map(|x| f64::from(*x)).collect::<Vec<_>>();
        ground.iter().copied().fold(f64::MIN, f64::max)
            - ground.iter().copied().fold(f64::MAX, f64::min)
    };
    let clear_bg = scene.render(0, 0.0, &[]).to_owned();
    let clear = scene.render(0, 0.0, &person).to_owned();
    let rain = Visibility {
        contrast: 1.0 - 0.85 * 0.7,
        noise: 1.7,
    };
    let wet_bg = scene.render_in(0, 0.0, &[], rain).to_owned();
    let wet = scene.render_in(0, 0.0, &person, rain).to_owned();
    let clear_k = (at(&clear) - at(&clear_bg)) / 100.0;
    let wet_k = (at(&wet) - at(&wet_bg)) / 100.0;
    assert!((clear_k - 8.0).abs() < 0.3, "{clear_k}");
    assert!((wet_k - 8.0 * 0.405).abs() < 0.2, "{wet_k}");
    assert!(spread(&wet_bg) < spread(&clear_bg) * 0.45);
    // Clear air renders exactly as without weather.
    assert_eq!(
        scene
            .render_in(3, 1.0, &person, Visibility::CLEAR)
            .to_owned(),
        scene.render(3, 1.0, &person).to_owned()
    );
}

#[test]
fn cameras_that_see_an_object_are_named() {
    let s = scenario(
        "[[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 5559.75\n\
         offset_m = -5.0\nheading = \"along_wall\"\n\
         [[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 20000.0\n\
         [[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 5500.0\n\
         heading = \"along_wall\"\n",
    );
    let world = World::new(&s, wall());
    let cams = vec![(
        "cam-1".to_owned(),
        CameraModel::new(mount(), 640, 512).unwrap(),
    )];
    let seen = world.seen_by(0, &cams);
    assert_eq!((seen.at_start.len(), seen.during.len()), (1, 1));
    assert_eq!(world.seen_by(1, &cams), Seen::default());
    // Starts out of view (60 m left at 150 m, where the view is 40 m
    // either side), walks 42 m into it.
    let seen = world.seen_by(2, &cams);
    assert!(
        seen.at_start.is_empty() && seen.during == ["cam-1"],
        "{seen:?}"
    );
}

// The contract with the daemon: rendered frames through the real
// camera pipeline.

#[test]
fn the_daemon_places_a_walking_person_at_its_chainage() {
    let s = scenario(
        "[[objects]]\nat = \"1s\"\nkind = \"person\"\nchainage_m = 5550.0\n\
         heading = \"along_wall\"\nspeed_m_s = 1.4\n",
    );
    let (evidence, _) = through_the_daemon(&s, 90);
    assert!(evidence.len() >= 5, "{} pieces of evidence", evidence.len());
    for (i, ev) in &evidence {
        let truth = 5550.0 + 1.4 * (f64::from(*i) / RATE_HZ - 1.0);
        assert!(
            (ev.chainage_m - truth).abs() <= 10.0,
            "{} vs {truth}",
            ev.chainage_m
        );
        let cam = ev.camera.as_ref().unwrap();
        assert!((cam.range_m - 150.0).abs() < 10.0, "{cam:?}");
        assert!((6.0..=10.5).contains(&cam.contrast_k), "{cam:?}");
    }
}

#[test]
fn the_daemon_ignores_a_crossing_bird() {
    let s = scenario(
        "[[objects]]\nat = \"1s\"\nkind = \"bird\"\nchainage_m = 5540.0\n\
         offset_m = 100.0\nheading = \"along_wall\"\nduration = \"4s\"\n",
    );
    let (evidence, blobs) = through_the_daemon(&s, 60);
    assert!(evidence.is_empty(), "{evidence:?}");
    assert!(
        blobs >= 3,
        "the bird was seen in a few frames ({blobs} blobs)"
    );
}

#[test]
fn the_daemon_ignores_a_rock_warming_over_minutes() {
    // 8 K over 3 minutes, watched for 3.5 minutes at 9 Hz.
    let s = scenario(
        "[[objects]]\nat = \"1s\"\nkind = \"rock\"\nchainage_m = 5560.0\n\
         duration = \"3m\"\ncontrast_k = 8.0\n",
    );
    let (evidence, _) = through_the_daemon(&s, 1890);
    assert!(evidence.is_empty(), "{evidence:?}");
}

/// Rough cost of a 640 × 512 frame; run with
/// `cargo test --release --lib render_speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn render_speed() {
    let s = scenario(
        "[[objects]]\nat = \"0s\"\nkind = \"person\"\nchainage_m = 5550.0\n\
         [[objects]]\nat = \"0s\"\nkind = \"vehicle\"\nchainage_m = 5570.0\n",
    );
    let world = World::new(&s, wall());
    let started = std::time::Instant::now();
    let mut scene = CameraScene::new("cam-1", mount(), settings(640, 512)).unwrap();
    let setup = started.elapsed();
    let mut states = Vec::new();
    let frames = 500;
    let started = std::time::Instant::now();
    let mut bytes = 0;
    for i in 0..frames {
        let t_s = f64::from(i) / RATE_HZ;
        world.states_at(t_s, &mut states);
        bytes += scene.render(i, t_s, &states)[(300, 300)] as usize;
    }
    let render = started.elapsed() / frames;
    let frame = scene.render(0, 0.0, &states).to_owned();
    let started = std::time::Instant::now();
    for i in 0..50 {
        bytes += crate::frame::encode_rtf1(frame.view(), i, 0).len();
    }
    let rtf1 = started.elapsed() / 50;
    let started = std::time::Instant::now();
    for _ in 0..20 {
        bytes += crate::frame::encode_png(frame.view()).len();
    }
    let png = started.elapsed() / 20;
    println!(
        "640x512: scene setup {setup:?}, render {render:?}/frame, \
         encode RTF1 {rtf1:?}, PNG {png:?} ({bytes})"
    );
}
