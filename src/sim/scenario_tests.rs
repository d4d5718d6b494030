//! Tests of scenario parsing and validation.

use super::*;

fn devices() -> HashSet<String> {
    ["fence-a".to_owned()].into()
}

fn problems(text: &str) -> Vec<String> {
    let cameras: HashSet<String> = ["cam-1".to_owned()].into();
    match Scenario::parse_with_cameras("t.toml", text, &devices(), &cameras) {
        Ok(_) => Vec::new(),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_old_scenario_gets_the_camera_defaults() {
    // A scenario written before cameras existed.
    let text = "seed = 42\nduration = \"60s\"\nserial = [\"fence-c01\"]\n\n\
                [[events]]\nat = \"3s\"\nkind = \"intrusion\"\nchainage_m = 12310.0\n\n\
                [[events]]\nat = \"18s\"\nkind = \"tamper\"\ndevice = \"fence-c02\"\ntamper = \"CUT\"\n";
    let devices = ["fence-c01", "fence-c02", "trench-t01", "trench-t02"]
        .map(String::from)
        .into();
    let s = Scenario::parse("old", text, &devices).expect("an old scenario parses");
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.camera_rate_hz, 9.0);
    assert_eq!((s.camera_width, s.camera_height), (640, 512));
    assert_eq!(s.camera_format, CameraFormat::Rtf1);
    assert_eq!(s.cameras, None);
    assert_eq!(
        (s.ground_c, s.diurnal_k_per_hour, s.crossover),
        (20.0, 0.5, false)
    );
    assert!(s.objects.is_empty());
}

#[test]
fn the_demo_scenario_parses_with_its_camera_objects() {
    let text = include_str!("../../config/scenario-demo.toml");
    let devices = ["fence-c01", "fence-c02", "trench-t01", "trench-t02"]
        .map(String::from)
        .into();
    let s = Scenario::parse("demo", text, &devices).expect("the demo scenario parses");
    assert_eq!(s.objects.len(), 3);
}

#[test]
fn the_documented_example_parses() {
    let text = r#"
camera_rate_hz = 9.0
camera_width = 640
camera_height = 512
camera_format = "png"
cameras = ["cam-1"]
ground_c = 20.0
diurnal_k_per_hour = 0.5
crossover = false

[[objects]]
at = "5s"
kind = "person"
chainage_m = 12310.0
offset_m = 40.0
heading = "towards_wall"
speed_m_s = 1.4
duration = "40s"
contrast_k = -4.0

[[objects]]
at = "0s"
kind = "rock"
chainage_m = 12330.0
offset_m = 15.0
duration = "10m"
contrast_k = 6.0

[[objects]]
at = "1s"
object = "bird"
chainage_m = 12330.0
heading = 270
altitude_m = 12.0
"#;
    assert_eq!(problems(text), Vec::<String>::new());
    let s = Scenario::parse("t", text, &devices()).unwrap();
    assert_eq!(s.camera_format, CameraFormat::Png);
    assert_eq!(s.objects[0].heading, Heading::TowardsWall);
    assert_eq!(s.objects[0].contrast_k, Some(-4.0));
    assert_eq!(s.objects[1].at, Duration::ZERO);
    assert_eq!(s.objects[2].kind, ObjectKind::Bird);
    assert_eq!(s.objects[2].heading, Heading::Bearing(270.0));
    assert_eq!(s.objects[2].duration, Duration::from_secs(30));
    // Written to the ground truth as read.
    let json = serde_json::to_value(&s.objects[2]).unwrap();
    assert_eq!(json["heading"], 270.0);
    assert_eq!(json["kind"], "bird");
}

#[test]
fn odd_camera_values_are_refused_with_their_place() {
    let text = "camera_rate_hz = 0.0\ncamera_width = 5000\ncamera_format = \"jpeg\"\n\
                cameras = [\"cam-1\", \"cam-9\", \"cam-1\"]\ndiurnal_k_per_hour = nan\n";
    let p = problems(text).join("\n");
    // The format is a structural problem; the others are found on the
    // repaired document only when it deserializes, so check them apart.
    assert!(p.contains("camera_format: unknown variant `jpeg`"), "{p}");
    let p = problems(&text.replace("camera_format = \"jpeg\"\n", "")).join("\n");
    for want in [
        "t.toml:1:1: camera_rate_hz: must be above 0 and at most 30",
        "t.toml:2:1: camera_width: must be 1 to 4096 pixels",
        "cameras[1]: `cam-9` is not a camera of the rampart config",
        "cameras[2]: `cam-1` is listed twice",
        "diurnal_k_per_hour: must be -20 to 20",
    ] {
        assert!(p.contains(want), "missing `{want}` in\n{p}");
    }
    let p = problems("camera_width = 1280\ncamera_height = 1280\n").join("\n");
    assert!(p.contains("over the 1310720 (1280 x 1024)"), "{p}");
    assert!(problems("camera_width = 1280\ncamera_height = 1024\n").is_empty());
    // Without the configured cameras, the list is not checked here.
    assert!(Scenario::parse("t", "cameras = [\"cam-9\"]\n", &devices()).is_ok());
}

#[test]
fn odd_object_values_are_refused_with_their_place() {
    let object = |fields: &str| {
        problems(&format!(
            "[[objects]]\nat = \"1s\"\nkind = \"person\"\nchainage_m = 100.0\n{fields}"
        ))
        .join("\n")
    };
    for (fields, want) in [
        (
            "speed_m_s = -1.0\n",
            "only heading = \"along_wall\" takes a negative speed",
        ),
        ("speed_m_s = inf\n", "speed_m_s: must be -100 to 100"),
        ("contrast_k = nan\n", "contrast_k: must be -100 to 100"),
        ("altitude_m = 5.0\n", "only a bird flies"),
        ("offset_m = 1e9\n", "offset_m: must be -20000 to 20000"),
        ("heading = \"north\"\n", "expected \"towards_wall\""),
        (
            "heading = \"along_wall\"\nspeed_m_s = -1.0\nsize = 2\n",
            "unknown field `size`",
        ),
        ("duration = \"0s\"\n", "must be greater than zero"),
    ] {
        let p = object(fields);
        assert!(p.contains(want), "{fields}: missing `{want}` in\n{p}");
    }
    assert!(object("heading = \"along_wall\"\nspeed_m_s = -1.0\n").is_empty());
    let p =
        problems("[[objects]]\nat = \"1s\"\nkind = \"rock\"\nchainage_m = -1.0\nspeed_m_s = 1.0\n")
            .join("\n");
    assert!(
        p.contains("objects[0].chainage_m: must be a finite number"),
        "{p}"
    );
    assert!(
        p.contains("objects[0].speed_m_s: a rock does not move"),
        "{p}"
    );
    let p = problems("[[objects]]\nat = \"1s\"\nkind = \"yeti\"\nchainage_m = 1.0\n").join("\n");
    assert!(p.contains("unknown variant `yeti`"), "{p}");
}

#[test]
fn weather_events_and_climbs_are_checked_with_their_place() {
    let event = |fields: &str| problems(&format!("[[events]]\nat = \"0s\"\n{fields}")).join("\n");
    for (fields, want) in [
        (
            "kind = \"wind\"\nstrength_mg = 9000.0\n",
            "strength_mg: must be 0 to 5000",
        ),
        (
            "kind = \"rain\"\nintensity = 1.5\n",
            "intensity: must be 0 to 1",
        ),
        (
            "kind = \"rain\"\ndevice = \"fence-a\"\n",
            "rain and dust fall on the whole site",
        ),
        (
            "kind = \"wind\"\nintensity = 0.5\n",
            "only rain and dust take intensity",
        ),
        (
            "kind = \"dust\"\nstrength_mg = 100.0\n",
            "only wind and gust take strength_mg",
        ),
        (
            "kind = \"gust\"\ndevice = \"fence-z\"\n",
            "`fence-z` is not a device",
        ),
        ("kind = \"hail\"\n", "unknown variant `hail`"),
        ("kind = \"silence\"\n", "this event needs `device`"),
    ] {
        let p = event(fields);
        assert!(p.contains(want), "{fields}: missing `{want}` in\n{p}");
    }
    for ok in [
        "kind = \"wind\"\n",
        "kind = \"gust\"\ndevice = \"fence-a\"\nstrength_mg = 1500.0\nduration = \"20s\"\n",
        "kind = \"rain\"\nintensity = 0.3\n",
        "kind = \"dust\"\n",
    ] {
        assert_eq!(event(ok), "", "{ok}");
    }
    let object = |kind: &str, climb: &str| {
        problems(&format!(
            "[[objects]]\nat = \"1s\"\nkind = \"{kind}\"\nchainage_m = 100.0\nclimb_s = {climb}\n"
        ))
        .join("\n")
    };
    assert!(object("dog", "3.0").contains("objects[0].climb_s: only people, crawlers"));
    assert!(object("person", "-1.0").contains("climb_s: must be 0 to 600"));
    assert_eq!(object("crawler", "0.0"), "");
}

#[test]
fn a_scenario_that_is_not_a_regular_file_is_refused_at_once() {
    let p = Scenario::load(Path::new("/dev/zero"), &devices()).expect_err("/dev/zero loaded");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        p[0].to_string(),
        "/dev/zero: cannot read: it is a character device, not a regular file"
    );
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("scenario.toml");
    crate::testkit::mkfifo(&fifo);
    let p = crate::testkit::finishes_within("loading a FIFO scenario", move || {
        Scenario::load(&fifo, &devices())
    })
    .expect_err("a FIFO loaded");
    assert!(
        p[0].message.ends_with("it is a FIFO, not a regular file"),
        "{}",
        p[0]
    );
}
