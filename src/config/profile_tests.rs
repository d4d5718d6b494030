//! Tests of profiles, the schedule, stretches and threshold precedence.

use super::*;
use crate::camera::CameraSettings;
use crate::config::tests::{load_problems, WALL};

fn config(text: &str) -> Config {
    toml::from_str(&format!("wall = \"unused.geojson\"\n{text}")).expect("test config parses")
}

/// 2026-03-10 at `h`:`m` UTC.
fn utc(h: i64, m: i64) -> Timestamp {
    Timestamp((20_522 * 86_400 + h * 3600 + m * 60) * 1000)
}

fn tod(text: &str) -> TimeOfDay {
    TimeOfDay::parse(text).unwrap()
}

#[test]
fn times_of_day_and_offsets_parse_strictly() {
    assert_eq!(tod("06:30").minutes(), 390);
    assert_eq!(tod("6:30").minutes(), 390);
    assert_eq!(tod("23:59").to_string(), "23:59");
    assert_eq!(tod("00:00").minutes(), 0);
    for bad in [
        "24:00", "12:60", "1230", "12:3", "", "-1:00", "12:30:00", "ab:cd",
    ] {
        let e = TimeOfDay::parse(bad).unwrap_err();
        assert!(e.contains("invalid time of day"), "{bad}: {e}");
    }
    assert_eq!(UtcOffset::parse("+03:00").unwrap().minutes(), 180);
    assert_eq!(UtcOffset::parse("-04:30").unwrap().minutes(), -270);
    assert_eq!(UtcOffset::parse("+14:00").unwrap().to_string(), "+14:00");
    assert_eq!(UtcOffset::parse("-00:30").unwrap().to_string(), "-00:30");
    for bad in ["+14:01", "03:00", "+3:00", "+03:60", "+03", "Z", ""] {
        let e = UtcOffset::parse(bad).unwrap_err();
        assert!(e.contains("invalid UTC offset"), "{bad}: {e}");
    }
}

const SCHEDULED: &str = r#"
[[profile]]
name = "day"
[[profile]]
name = "night"
[[profile]]
name = "crossover"
[profiles]
schedule = [
  { from = "18:00", profile = "night" },
  { from = "05:00", profile = "crossover" },
  { from = "06:00", profile = "day" },
]
"#;

#[test]
fn the_schedule_picks_the_latest_entry_not_after_the_time_and_wraps_over_midnight() {
    let c = config(SCHEDULED);
    for (time, want) in [
        ("00:00", Some("night")),
        ("04:59", Some("night")),
        ("05:00", Some("crossover")),
        ("05:59", Some("crossover")),
        ("06:00", Some("day")),
        ("17:59", Some("day")),
        ("18:00", Some("night")),
        ("23:59", Some("night")),
    ] {
        assert_eq!(c.profiles.scheduled(tod(time)), want, "at {time}");
    }
    assert_eq!(config("").profiles.scheduled(tod("12:00")), None);
}

#[test]
fn a_default_entry_means_no_profile() {
    let c = config(
        r#"
[[profile]]
name = "night"
[profiles]
schedule = [{ from = "19:00", profile = "night" }, { from = "06:00", profile = "default" }]
"#,
    );
    assert_eq!(c.active_profile(utc(20, 0)), Some("night"));
    assert_eq!(c.active_profile(utc(3, 0)), Some("night"));
    assert_eq!(c.active_profile(utc(6, 0)), None);
    assert_eq!(c.active_profile(utc(18, 59)), None);
}

#[test]
fn the_schedule_is_read_in_local_time() {
    let mut c = config(SCHEDULED);
    assert_eq!(c.profiles.local_time(utc(15, 30)), tod("15:30"));
    assert_eq!(c.active_profile(utc(15, 30)), Some("day"));
    // 15:30 UTC is 18:30 at +03:00: night already.
    c.profiles.utc_offset = UtcOffset::parse("+03:00").unwrap();
    assert_eq!(c.profiles.local_time(utc(15, 30)), tod("18:30"));
    assert_eq!(c.active_profile(utc(15, 30)), Some("night"));
    // 22:30 UTC is 01:30 the next day: night, over midnight.
    assert_eq!(c.profiles.local_time(utc(22, 30)), tod("01:30"));
    // 02:00 UTC at -04:30 is 21:30 the day before.
    c.profiles.utc_offset = UtcOffset::parse("-04:30").unwrap();
    assert_eq!(c.profiles.local_time(utc(2, 0)), tod("21:30"));
    assert_eq!(c.active_profile(utc(2, 0)), Some("night"));
    assert_eq!(c.active_profile(utc(10, 0)), Some("crossover"));
    // Before 1970 too.
    assert_eq!(
        c.profiles.local_time(Timestamp(-60_000)),
        tod("19:29"),
        "23:59 UTC on 31 Dec 1969, minus 4:30"
    );
}

#[test]
fn force_overrides_the_schedule() {
    let mut c = config(SCHEDULED);
    c.profiles.force = Some("crossover".into());
    assert_eq!(c.active_profile(utc(12, 0)), Some("crossover"));
    assert_eq!(c.active_profile(utc(23, 0)), Some("crossover"));
    c.profiles.force = Some("default".into());
    assert_eq!(c.active_profile(utc(23, 0)), None);
}

/// Every layer of the precedence, each one visible in one zone or channel.
const LAYERED: &str = r#"
[detection.fence]
rms_mg = 400.0
peak_mg = 1500.0
k = 3
n = 5
[detection.ground]
ppv_um_s = 1000.0
[thermal]
delta_t_k = 3.0
min_extent_m = 1.0
max_extent_m = 12.0

[[profile]]
name = "night"
rms_mg = 300.0
peak_mg = 1200.0
k = 2
ppv_um_s = 900.0
delta_t_k = 2.0
min_extent_m = 0.8

[[profile]]
name = "day"

# A: always, 0-1000.
[[stretch]]
from_m = 0.0
to_m = 1000.0
rms_mg = 350.0
# B: at night, 0-1000.
[[stretch]]
from_m = 0.0
to_m = 1000.0
profile = "night"
rms_mg = 250.0
ppv_um_s = 800.0
# C: always, 500-1000; later than A.
[[stretch]]
from_m = 500.0
to_m = 1000.0
rms_mg = 360.0
# D: only without a profile, 3000-4000.
[[stretch]]
from_m = 3000.0
to_m = 4000.0
profile = "default"
rms_mg = 420.0

[[fence]]
id = "f1"
[[fence.zones]]     # 0: stretch A, B at night
zone = 1
start_m = 100.0
end_m = 200.0
[[fence.zones]]     # 1: stretch C over A; B at night
zone = 2
start_m = 600.0
end_m = 700.0
[[fence.zones]]     # 2: no stretch
zone = 3
start_m = 2000.0
end_m = 2100.0
[[fence.zones]]     # 3: the zone itself
zone = 4
start_m = 100.0
end_m = 200.0
rms_mg = 500.0
[[fence.zones]]     # 4: middle 1000 is not in [0, 1000)
zone = 5
start_m = 900.0
end_m = 1100.0
[[fence.zones]]     # 5: stretch D, without profile only
zone = 6
start_m = 3400.0
end_m = 3500.0

[[fence]]
id = "f2"
rms_mg = 450.0
[[fence.zones]]
zone = 1
start_m = 100.0
end_m = 200.0

[[trench]]
id = "t1"
[[trench.geophones]]
channel = 0
at_m = 500.0
[[trench.geophones]]
channel = 1
at_m = 5000.0
[[trench.geophones]]
channel = 2
at_m = 500.0
ppv_um_s = 1500.0

[[trench]]
id = "t2"
ppv_um_s = 1100.0
[[trench.geophones]]
channel = 0
at_m = 500.0

[[camera]]
id = "cam-1"
lat = 0.0
lon = 0.0
height_m = 10.0
heading_deg = 0.0
tilt_deg = 5.0
hfov_deg = 30.0
vfov_deg = 20.0
[[camera]]
id = "cam-2"
lat = 0.0
lon = 0.0
height_m = 10.0
heading_deg = 0.0
tilt_deg = 5.0
hfov_deg = 30.0
vfov_deg = 20.0
delta_t_k = 4.0
k = 4
"#;

#[test]
fn zone_thresholds_follow_the_precedence_layer_by_layer() {
    let c = config(LAYERED);
    let rms = |fence, zone, profile| c.zone_thresholds(fence, zone, profile).rms_mg;
    // [detection.fence], then the active profile.
    assert_eq!(rms(0, 2, None), 400.0);
    assert_eq!(rms(0, 2, Some("night")), 300.0);
    assert_eq!(rms(0, 2, Some("day")), 400.0, "a profile that sets nothing");
    // A stretch without a profile beats the profile; with the profile it
    // beats one without.
    assert_eq!(rms(0, 0, None), 350.0);
    assert_eq!(rms(0, 0, Some("day")), 350.0);
    assert_eq!(rms(0, 0, Some("night")), 250.0);
    // Later stretches win over earlier ones of the same kind, but a
    // profile's stretch still beats a later one without a profile.
    assert_eq!(rms(0, 1, None), 360.0);
    assert_eq!(rms(0, 1, Some("night")), 250.0);
    // Zone, then controller, beat every stretch and profile.
    assert_eq!(rms(0, 3, None), 500.0);
    assert_eq!(rms(0, 3, Some("night")), 500.0);
    assert_eq!(rms(1, 0, None), 450.0);
    assert_eq!(rms(1, 0, Some("night")), 450.0);
    // Ranges include from_m and exclude to_m.
    assert_eq!(rms(0, 4, None), 400.0);
    // A stretch for "default" applies only without a profile.
    assert_eq!(rms(0, 5, None), 420.0);
    assert_eq!(rms(0, 5, Some("day")), 400.0);
    // Each key on its own: the night stretch sets only rms_mg.
    let t = c.zone_thresholds(0, 0, Some("night"));
    assert_eq!((t.rms_mg, t.peak_mg, t.k, t.n), (250.0, 1200.0, 2, 5));
    let t = c.zone_thresholds(1, 0, Some("night"));
    assert_eq!((t.rms_mg, t.peak_mg, t.k, t.n), (450.0, 1200.0, 2, 5));
    assert_eq!(c.fence_defaults(Some("night")).rms_mg, 300.0);
}

#[test]
fn geophone_thresholds_follow_the_precedence() {
    let c = config(LAYERED);
    let ppv = |t, g, p| c.geophone_ppv(t, g, p);
    assert_eq!(ppv(0, 0, None), 1000.0, "[detection.ground]");
    assert_eq!(ppv(0, 0, Some("night")), 800.0, "night stretch");
    assert_eq!(ppv(0, 1, Some("night")), 900.0, "night profile, no stretch");
    assert_eq!(ppv(0, 2, Some("night")), 1500.0, "the channel");
    assert_eq!(ppv(1, 0, Some("night")), 1100.0, "the controller");
    assert_eq!(ppv(1, 0, None), 1100.0);
}

#[test]
fn camera_thresholds_take_the_camera_then_the_profile_then_thermal() {
    let c = config(LAYERED);
    let t = c.camera_thermal(0, None);
    assert_eq!((t.delta_t_k, t.min_extent_m, t.k), (3.0, 1.0, 3));
    let t = c.camera_thermal(0, Some("night"));
    assert_eq!(
        (t.delta_t_k, t.min_extent_m, t.max_extent_m),
        (2.0, 0.8, 12.0)
    );
    let t = c.camera_thermal(1, Some("night"));
    assert_eq!((t.delta_t_k, t.min_extent_m, t.k), (4.0, 0.8, 4));
    // What the camera pipeline gets.
    let s = CameraSettings::resolve(&c.camera[0], &c.camera_thermal(0, Some("night")));
    assert_eq!(s.kernel.delta_t, 200);
    assert_eq!(s.min_extent_m, 0.8);
    let s = CameraSettings::resolve(&c.camera[1], &c.camera_thermal(1, Some("night")));
    assert_eq!((s.kernel.delta_t, s.track.k), (400, 4));
}

fn valid(extra: &str) -> Vec<String> {
    load_problems(&format!(
        "{WALL}[[fence]]\nid = \"f\"\n[[fence.zones]]\nzone = 1\nstart_m = 100.0\nend_m = 200.0\n{extra}"
    ))
}

#[test]
fn profiles_schedule_and_stretches_are_validated_with_their_locations() {
    let p = valid(
        r#"[profiles]
schedule = [
  { from = "06:00", profile = "day" },
  { from = "18:00", profile = "nite" },
  { from = "06:00", profile = "default" },
]
force = "dawn"
[[profile]]
name = "day"
k = 0
[[profile]]
name = "day"
rms_mg = -5.0
[[profile]]
name = "default"
[[stretch]]
from_m = 5000.0
to_m = 4000.0
profile = "night"
rms_mg = 0.0
[[stretch]]
from_m = 0.0
to_m = 900000.0
[[stretch]]
from_m = 0.0
to_m = 100.0
k = 9
n = 8
"#,
    );
    let want = [
        "t.toml:11:21: profiles.schedule[1].profile: `nite` is not a [[profile]] name (nor `default`)",
        "t.toml:12:5: profiles.schedule[2].from: 06:00 appears twice in the schedule",
        "t.toml:14:1: profiles.force: `dawn` is not a [[profile]] name (nor `default`)",
        "t.toml:17:1: profile[0].k: must be at least 1",
        "t.toml:19:1: profile[1].name: profile `day` is defined twice",
        "t.toml:20:1: profile[1].rms_mg: must be a positive number, got -5",
        "t.toml:22:1: profile[2].name: `default` is reserved: it means no profile",
        "t.toml:25:1: stretch[0].to_m: must be greater than from_m",
        "t.toml:26:1: stretch[0].profile: `night` is not a [[profile]] name (nor `default`)",
        "t.toml:27:1: stretch[0].rms_mg: must be a positive number, got 0",
        "t.toml:28:1: stretch[1]: sets no threshold: give at least one of rms_mg, peak_mg, k, n, ppv_um_s",
        "t.toml:30:1: stretch[1].to_m: 900000 m is beyond the end of the wall (583319.0 m)",
        "t.toml:31:1: stretch[2]: k (9) is greater than n (8)",
    ];
    assert_eq!(p, want, "\n{}", p.join("\n"));
}

#[test]
fn malformed_times_and_offsets_are_reported_at_the_value() {
    let p = valid(
        "[profiles]\nutc_offset = \"3h\"\nschedule = [{ from = \"25:00\", profile = \"default\" }]\n",
    );
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("t.toml:9:14: profiles.utc_offset: invalid UTC offset `3h`"),
        "{p:?}"
    );
    assert!(
        p[1].starts_with("t.toml:10:22: profiles.schedule[0].from: invalid time of day `25:00`"),
        "{p:?}"
    );
}

#[test]
fn effective_values_are_checked_under_every_profile() {
    let p = valid(
        "[[profile]]\nname = \"night\"\nn = 2\nmin_extent_m = 20.0\n\
         [[camera]]\nid = \"cam\"\nlat = 36.5\nlon = 41.5\nheight_m = 10.0\nheading_deg = 0.0\n\
         tilt_deg = 5.0\nhfov_deg = 30.0\nvfov_deg = 20.0\n",
    );
    let want = [
        "t.toml:4:1: fence[0].zones[0]: effective k (3) is greater than n (2) under profile `night`",
        "t.toml:12:1: camera[0]: effective min_extent_m (20) is not below max_extent_m (12) under profile `night`",
    ];
    assert_eq!(p, want, "\n{}", p.join("\n"));
    // Fixed by a stretch at night over that zone.
    let p = valid(
        "[[profile]]\nname = \"night\"\nn = 2\n\
         [[stretch]]\nfrom_m = 0.0\nto_m = 1000.0\nprofile = \"night\"\nk = 2\n",
    );
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn a_valid_profile_setup_loads() {
    let p = valid(
        r#"[[profile]]
name = "night"
rms_mg = 300.0
[[profile]]
name = "crossover"
delta_t_k = 1.5
[profiles]
utc_offset = "+03:00"
schedule = [
  { from = "05:30", profile = "crossover" },
  { from = "07:00", profile = "default" },
  { from = "18:30", profile = "crossover" },
  { from = "20:00", profile = "night" },
]
force = "default"
[[stretch]]
from_m = 0.0
to_m = 5000.0
profile = "night"
rms_mg = 250.0
"#,
    );
    assert!(p.is_empty(), "{p:?}");
}
