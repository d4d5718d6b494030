//! The command line: `check-config` and `print-default-config`, and files
//! that are not regular files.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

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

/// Old and new configs for `check-config --against`: the new one raises
/// zone 2's threshold and adds a night profile with a stretch at 13–14 km.
const OLD: &str = r#"wall = "wall.geojson"

[[fence]]
id = "fence-c01"
[[fence.zones]]
zone = 1
start_m = 12000.0
end_m = 12200.0
[[fence.zones]]
zone = 2
start_m = 12200.0
end_m = 12400.0
[[fence.zones]]
zone = 3
start_m = 13000.0
end_m = 13200.0

[[trench]]
id = "trench-t01"
[[trench.geophones]]
channel = 1
at_m = 13100.0
[[trench.geophones]]
channel = 2
at_m = 12100.0
"#;

fn new_config() -> String {
    OLD.replace(
        "zone = 2\nstart_m = 12200.0\nend_m = 12400.0\n",
        "zone = 2\nstart_m = 12200.0\nend_m = 12400.0\nrms_mg = 450.0\n",
    ) + r#"
[[profile]]
name = "night"

[profiles]
utc_offset = "+03:00"
schedule = [{ from = "06:00", profile = "default" }, { from = "19:00", profile = "night" }]

[[stretch]]
from_m = 13000.0
to_m = 14000.0
profile = "night"
rms_mg = 300.0
ppv_um_s = 1200.0
"#
}

fn two_configs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(wall_file(), dir.path().join("wall.geojson")).unwrap();
    let old = dir.path().join("old.toml");
    let new = dir.path().join("new.toml");
    std::fs::write(&old, OLD).unwrap();
    std::fs::write(&new, new_config()).unwrap();
    (dir, old, new)
}

#[test]
fn check_config_against_an_old_file_lists_the_changed_thresholds_by_segment() {
    let (_dir, old, new) = two_configs();
    let out = rampart()
        .arg("check-config")
        .arg(&new)
        .arg("--against")
        .arg(&old)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with(&format!("{}: ok — wall", new.display())));
    assert_eq!(
        lines[1..],
        [
            format!("changes from {}:", old.display()).as_str(),
            "profile `night` added",
            "utc_offset +00:00 → +03:00",
            "schedule none → 06:00 default, 19:00 night",
            "S012  fence-c01/zone2  rms_mg 400 → 450  [all profiles]",
            "S013  fence-c01/zone3  rms_mg 400 → 300  [night]",
            "S013  trench-t01/geo1  ppv_um_s 1000 → 1200  [night]",
            "2 segments change; 3 thresholds in 2 profiles; 3 profile settings changed",
        ]
    );
}

#[test]
fn check_config_explain_prints_the_effective_thresholds() {
    let (_dir, _old, new) = two_configs();
    let out = rampart()
        .arg("check-config")
        .arg(&new)
        .arg("--explain")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[1].starts_with("profile now: "), "{stdout}");
    assert!(lines[1].contains("UTC+03:00; by the schedule)"), "{stdout}");
    assert_eq!(
        lines[2..],
        [
            "effective thresholds, by segment; profiles: default | night (one value: the same in all)",
            "S012  fence-c01/zone1  rms_mg 400  peak_mg 1500  k 3  n 5",
            "S012  fence-c01/zone2  rms_mg 450  peak_mg 1500  k 3  n 5",
            "S012  trench-t01/geo2  ppv_um_s 1000",
            "S013  fence-c01/zone3  rms_mg 400 | 300  peak_mg 1500  k 3  n 5",
            "S013  trench-t01/geo1  ppv_um_s 1000 | 1200",
        ]
    );
}

#[test]
fn check_config_against_a_broken_file_fails() {
    let (dir, _old, new) = two_configs();
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "wall = \"wall.geojson\"\n[[stretch]]\nfrom_m = 5.0\n",
    )
    .unwrap();
    let out = rampart()
        .arg("check-config")
        .arg(&new)
        .arg("--against")
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot compare against it"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:1: stretch[0].to_m: missing field `to_m`",
            broken.display()
        )),
        "{stderr}"
    );
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Runs `cmd` to its end, killing it and failing the test if it has not
/// ended within `limit`: a command that hangs fails here instead of
/// hanging the test run.
fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) on the child's pid; it has not been reaped
            // (the waiting thread has not returned), so the pid is still its.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let output = rx.recv().unwrap().unwrap();
            panic!(
                "{cmd:?} still running after {limit:?} (killed); stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// Nothing ever writes into these FIFOs: a command that opened one to read
/// would wait for ever.
const PROMPTLY: Duration = Duration::from_secs(10);

#[test]
fn a_fifo_as_the_config_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rampart.toml");
    mkfifo(&fifo);
    let said = format!(
        "{}: cannot read: it is a FIFO, not a regular file",
        fifo.display()
    );

    let out = output_within(rampart().arg("check-config").arg(&fifo), PROMPTLY);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().next() == Some(said.as_str()), "{stderr}");

    let out = output_within(rampart().arg("run").arg("--config").arg(&fifo), PROMPTLY);
    assert_eq!(out.status.code(), Some(3), "run on a FIFO: a config error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&said), "{stderr}");
}

#[test]
fn a_valid_config_whose_wall_is_a_fifo_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let wall = dir.path().join("wall.geojson");
    mkfifo(&wall);
    let file = dir.path().join("rampart.toml");
    std::fs::write(&file, OLD).unwrap();
    let said = format!(
        "{}:1:1: wall: wall file {}: cannot read: it is a FIFO, not a regular file",
        file.display(),
        wall.display()
    );

    let out = output_within(rampart().arg("check-config").arg(&file), PROMPTLY);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().next() == Some(said.as_str()), "{stderr}");

    let out = output_within(rampart().arg("run").arg("--config").arg(&file), PROMPTLY);
    assert!(!out.status.success(), "run with a FIFO wall succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&said), "{stderr}");
}

/// One table of exit codes, in `--help`, used by every subcommand.
#[test]
fn every_subcommand_uses_the_one_table_of_exit_codes() {
    let help = rampart().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes (every subcommand):"), "{text}");
    assert!(text.contains(rampart::exit::TABLE), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "wall = 7\n").unwrap();
    let code =
        |args: &[&std::ffi::OsStr]| output_within(rampart().args(args), PROMPTLY).status.code();
    let bad = bad.as_os_str();
    let (config, missing) = (std::ffi::OsStr::new("--config"), dir.path().join("none"));
    // What was checked failed.
    assert_eq!(code(&["check-config".as_ref(), bad]), Some(1));
    // The command line is wrong.
    assert_eq!(code(&["run".as_ref(), "--no-such-flag".as_ref()]), Some(2));
    assert_eq!(
        code(&[
            "alerts".as_ref(),
            "--data-dir".as_ref(),
            dir.path().as_os_str(),
            "--segment".as_ref(),
            "nowhere".as_ref()
        ]),
        Some(2)
    );
    // The config is invalid.
    for sub in ["run", "replay", "alerts", "score"] {
        let mut args = vec![sub.as_ref(), config, bad];
        if sub == "replay" || sub == "score" {
            args.push(missing.as_os_str());
        }
        assert_eq!(code(&args), Some(3), "{sub}");
    }
    assert_eq!(code(&["print-acl".as_ref(), bad]), Some(3));
    // Cannot start: no alert store to read.
    assert_eq!(
        code(&[
            "alerts".as_ref(),
            "--data-dir".as_ref(),
            missing.as_os_str()
        ]),
        Some(4)
    );
}
