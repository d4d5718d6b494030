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
    // Structural (the typo) and semantic problems, all in one pass, in file order.
    let expected = [
        format!("{f}:2:1: segment_lenght_m: unknown field"),
        format!("{f}:5:1: mqtt.url: `http://broker`: expected mqtt://HOST[:PORT]"),
        format!("{f}:12:1: fence[0].zones[0].end_m: must be greater than start_m"),
        format!("{f}:13:1: fence[0].zones[1]: effective k (9) is greater than n (3)"),
        format!("{f}:15:1: fence[0].zones[1].start_m: 900000 m is beyond the end of the wall"),
        format!("{f}:16:1: fence[0].zones[1].end_m: 900100 m is beyond the end of the wall"),
    ];
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{err}");
    for (line, want) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(want.as_str()),
            "expected `{want}`, got `{line}`"
        );
    }
    assert!(err.contains("6 problem(s)"), "{err}");
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
