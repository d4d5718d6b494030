//! The command line: `check-config` and `print-default-config`.

use std::process::Command;

use crate::wall_file;

fn rampart() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
}

#[test]
fn check_config_reports_every_problem_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(wall_file(), dir.path().join("wall.geojson")).unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        r#"wall = "wall.geojson"
segment_lenght_m = 500.0

[mqtt]
url = "http://broker"

[[fence]]
id = "fence-1"
[[fence.zones]]
zone = 1
start_m = 12000.0
end_m = 11000.0
[[fence.zones]]
zone = 2
start_m = 900000.0
end_m = 900100.0
k = 9
n = 3
"#,
    )
    .unwrap();
    let out = rampart().arg("check-config").arg(&file).output().unwrap();
    assert!(!out.status.success(), "bad config must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    let f = file.display();
    // The typo is a structural error: reported on its own, with line and column.
    assert!(
        err.contains(&format!("{f}:2:1: segment_lenght_m: unknown field")),
        "{err}"
    );
    assert!(err.contains("1 problem(s)"), "{err}");

    // Fix the typo: now every semantic problem is reported at once.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("segment_lenght_m", "segment_length_m");
    std::fs::write(&file, text).unwrap();
    let out = rampart().arg("check-config").arg(&file).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        format!("{f}:5:1: mqtt.url: `http://broker`: expected mqtt://HOST[:PORT]"),
        format!("{f}:12:1: fence[0].zones[0].end_m: must be greater than start_m"),
        format!("{f}:15:1: fence[0].zones[1].start_m: 900000 m is beyond the end of the wall"),
        format!("{f}:16:1: fence[0].zones[1].end_m: 900100 m is beyond the end of the wall"),
        format!("{f}:13:1: fence[0].zones[1]: effective k (9) is greater than n (3)"),
    ] {
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
    assert!(err.contains("5 problem(s)"), "{err}");
}

#[test]
fn print_default_config_prints_a_config_that_checks() {
    let out = rampart().arg("print-default-config").output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        wall_file(),
        dir.path().join("wall-iraq-syria-approx.geojson"),
    )
    .unwrap();
    let file = dir.path().join("default.toml");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = rampart().arg("check-config").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "default config does not check: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("584 segments"));
}

#[test]
fn the_shipped_demo_config_checks() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rampart.toml");
    let check = rampart().arg("check-config").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
