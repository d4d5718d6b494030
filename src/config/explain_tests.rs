//! Tests of the effective-threshold tables and the diff between configs.

use super::*;
use crate::testkit::{camera_south_of_wall, fixture, CONFIG};

fn parse(text: &str) -> Config {
    toml::from_str(text).expect("test config parses")
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn values_are_written_plainly() {
    assert_eq!(format_value("rms_mg", 400.0), "400");
    assert_eq!(format_value("rms_mg", 412.5), "412.5");
    assert_eq!(format_value("ppv_um_s", 1000.0), "1000");
    assert_eq!(format_value("delta_t_k", 3.0), "3.0");
    assert_eq!(format_value("delta_t_k", 2.25), "2.25");
    assert_eq!(format_value("k", 3.0), "3");
}

#[test]
fn effective_thresholds_are_listed_by_segment_under_every_profile() {
    let (_, wall) = fixture();
    let text = format!(
        "{CONFIG}\n[[profile]]\nname = \"night\"\nrms_mg = 300.0\n\
         [[profile]]\nname = \"day\"\nppv_um_s = 1200.0\n\
         [[stretch]]\nfrom_m = 5000.0\nto_m = 6000.0\nprofile = \"night\"\nppv_um_s = 700.0\n"
    );
    let e = effective(&parse(&text), &wall);
    assert_eq!(e.profiles, ["default", "night", "day"]);
    let zone1 = e
        .sensors
        .iter()
        .find(|s| s.sensor == "fence-a/zone1")
        .unwrap();
    assert_eq!(zone1.segments, [SegmentIndex(4)]);
    assert_eq!(zone1.values[1][0], ("rms_mg", 300.0));
    assert_eq!(
        lines(&render_effective(&e)),
        [
            "effective thresholds, by segment; profiles: default | night | day (one value: the same in all)",
            "S004  fence-a/zone1  rms_mg 400 | 300 | 400  peak_mg 1500  k 3  n 5",
            "S004  trench-a/geo0  ppv_um_s 1000 | 1000 | 1200",
            "S005  fence-a/zone2  rms_mg 600  peak_mg 1500  k 3  n 5",
            "S005  trench-a/geo1  ppv_um_s 2000",
            "S007  fence-a/zone3  rms_mg 400 | 300 | 400  peak_mg 1500  k 3  n 5",
        ]
    );
}

#[test]
fn the_diff_names_each_segment_sensor_threshold_and_profile() {
    let (old, wall) = fixture();
    let new_text = CONFIG
        .replace(
            "zone = 3\nstart_m = 7000.0\nend_m = 7200.0\n",
            "zone = 3\nstart_m = 7000.0\nend_m = 7200.0\nrms_mg = 450.0\n",
        )
        .replace("[[trench.beams]]\nchannel = 0\nat_m = 4950.0\n", "")
        + r#"
[[fence]]
id = "fence-b"
[[fence.zones]]
zone = 1
start_m = 20000.0
end_m = 20200.0

[[profile]]
name = "night"

[[stretch]]
from_m = 4000.0
to_m = 6000.0
profile = "night"
rms_mg = 300.0
ppv_um_s = 800.0
"#;
    let new = parse(&new_text);
    let d = diff(&old, &wall, &new, &wall);
    assert_eq!(d.profiles, ["default", "night"]);
    assert_eq!(
        lines(&render_diff(&d)),
        [
            "profile `night` added",
            "S004  fence-a/zone1  rms_mg 400 → 300  [night]",
            "S004  trench-a/beam0  removed",
            "S004  trench-a/geo0  ppv_um_s 1000 → 800  [night]",
            "S007  fence-a/zone3  rms_mg 400 → 450  [all profiles]",
            "S020  fence-b  added",
            "3 segments change; 3 thresholds in 2 profiles; 1 device added; 1 sensor removed; \
             1 profile setting changed",
        ]
    );
    // Zone 2 and geophone 1 set their own thresholds: the stretch does not
    // reach them, so they are not listed.
    assert!(!d.changes.iter().any(|c| c.name.ends_with("zone2")));
    assert!(!d.changes.iter().any(|c| c.name.ends_with("geo1")));
}

#[test]
fn the_same_change_under_several_profiles_is_one_line() {
    let (_, wall) = fixture();
    let profiles = "[[profile]]\nname = \"night\"\n[[profile]]\nname = \"day\"\n\
                    [[profile]]\nname = \"crossover\"\n";
    let old = parse(&format!("{CONFIG}{profiles}"));
    let new = parse(&format!(
        "{CONFIG}{profiles}[[stretch]]\nfrom_m = 7000.0\nto_m = 8000.0\nprofile = \"night\"\nk = 2\n\
         [[stretch]]\nfrom_m = 7000.0\nto_m = 8000.0\nprofile = \"day\"\nk = 2\n"
    ));
    let d = diff(&old, &wall, &new, &wall);
    assert_eq!(
        lines(&render_diff(&d)),
        [
            "S007  fence-a/zone3  k 3 → 2  [night, day]",
            "1 segment changes; 1 threshold in 2 profiles",
        ]
    );
}

#[test]
fn moved_sensors_and_unchanged_configs() {
    let (old, wall) = fixture();
    let d = diff(&old, &wall, &old, &wall);
    assert!(d.changes.is_empty() && d.notes.is_empty());
    assert_eq!(render_diff(&d), "no effective threshold changes\n");
    let new = parse(&CONFIG.replace("at_m = 4900.0", "at_m = 6100.0"));
    let d = diff(&old, &wall, &new, &wall);
    assert_eq!(
        lines(&render_diff(&d)),
        [
            "S006  trench-a/geo0  moved from S004",
            "1 segment changes; 1 sensor moved"
        ]
    );
}

#[test]
fn cameras_are_listed_with_the_segments_they_watch() {
    let (mut old, wall) = fixture();
    old.camera.push(camera_south_of_wall(200.0));
    let mut new = old.clone();
    new.profile.push(crate::config::Profile {
        name: "night".into(),
        rms_mg: None,
        peak_mg: None,
        k: None,
        n: None,
        ppv_um_s: None,
        delta_t_k: Some(2.5),
        min_extent_m: None,
        max_extent_m: None,
    });
    let watched = Layout::new(&old, &wall).camera_segments("cam-1").to_vec();
    assert!(!watched.is_empty());
    let d = diff(&old, &wall, &new, &wall);
    let want = format!("cam-1 ({})  delta_t_k 3.0 → 2.5  [night]", span(&watched));
    let out = render_diff(&d);
    assert!(lines(&out).contains(&want.as_str()), "{out}");
    assert_eq!(d.segments().len(), watched.len());
    new.camera.clear();
    let d = diff(&old, &wall, &new, &wall);
    assert!(
        render_diff(&d).contains(&format!("cam-1 ({})  removed", span(&watched))),
        "{}",
        render_diff(&d)
    );
}

#[test]
fn the_active_profile_is_explained() {
    let night = "[[profile]]\nname = \"night\"\n[profiles]\nutc_offset = \"+03:00\"\n\
                 schedule = [{ from = \"06:00\", profile = \"default\" }, { from = \"19:00\", profile = \"night\" }]\n";
    let mut c = parse(&format!("{CONFIG}{night}"));
    // 17:00 UTC is 20:00 at +03:00.
    let t = Timestamp(17 * 3_600_000);
    assert_eq!(
        render_active(&c, t),
        "profile now: night (20:00 local time, UTC+03:00; by the schedule)"
    );
    c.profiles.force = Some("default".into());
    assert_eq!(
        render_active(&c, t),
        "profile now: default (20:00 local time, UTC+03:00; forced)"
    );
    let (plain, _) = fixture();
    assert_eq!(
        render_active(&plain, t),
        "profile now: default (17:00 local time, UTC+00:00; no schedule)"
    );
}
