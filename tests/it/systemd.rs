//! The real daemon under systemd's notification protocol, with a Unix
//! datagram socket standing in for systemd: `READY=1`, watchdog pings
//! while it runs, `STOPPING=1` on SIGTERM, and a clean exit.

use std::time::{Duration, Instant};

use tokio::net::UnixDatagram;

use crate::harness::{free_port, Daemon};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(15);

/// The next notification, waiting at most `within`.
async fn next(socket: &UnixDatagram, within: Duration) -> String {
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(within, socket.recv(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no notification within {within:?}"))
        .expect("recv");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_says_ready_pings_the_watchdog_and_says_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let config = test_config(dir.path(), free_port(), true, &dir.path().join("tty/none"));
    let daemon = Daemon::start_with_env(
        dir.path(),
        &config,
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );

    let ready = next(&socket, WAIT).await;
    assert!(
        ready.starts_with("READY=1\nSTATUS=running: 1 serial ports, 0 cameras"),
        "first notification: {ready:?}"
    );
    // Pings every 200 ms: three of them well within 2 s.
    let first_ping = Instant::now();
    for _ in 0..3 {
        let msg = next(&socket, Duration::from_secs(2)).await;
        assert_eq!(msg, "WATCHDOG=1");
    }
    assert!(
        first_ping.elapsed() < Duration::from_secs(2),
        "three pings took {:?}",
        first_ping.elapsed()
    );

    let log_path = daemon.log.clone();
    let status = daemon.stop();
    assert!(status.success(), "exit status {status:?}");
    // Everything sent since: pings until SIGTERM, then STOPPING=1, and
    // nothing after it.
    let mut rest = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = socket.try_recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let stopping = rest
        .iter()
        .position(|m| m.starts_with("STOPPING=1\n"))
        .unwrap_or_else(|| panic!("no STOPPING=1 after SIGTERM: {rest:?}"));
    assert_eq!(
        stopping,
        rest.len() - 1,
        "nothing after STOPPING=1: {rest:?}"
    );
    assert!(
        rest[..stopping].iter().all(|m| m == "WATCHDOG=1"),
        "{rest:?}"
    );
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("told systemd the daemon is ready"), "{log}");
    assert!(!log.contains("withholding the watchdog"), "{log}");
}

/// The shipped unit file: the keys that matter, an `ExecStart` the command
/// line accepts, and `systemd-analyze verify` clean where it is installed.
#[test]
fn the_shipped_unit_file_has_what_it_needs_and_verifies() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rampart.service");
    let text = std::fs::read_to_string(&path).unwrap();
    let values = |key: &str| -> Vec<&str> {
        let prefix = format!("{key}=");
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .collect()
    };
    let one = |key: &str| -> &str {
        match values(key)[..] {
            [v] => v,
            ref vs => panic!("{key}= must be set once, not {vs:?}"),
        }
    };
    for (key, want) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("Restart", "always"),
        ("RestartSec", "2"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("User", "rampart"),
        ("Group", "rampart"),
        ("SupplementaryGroups", "dialout"),
        ("StateDirectory", "rampart"),
        ("ReadWritePaths", "/var/lib/rampart"),
        ("DevicePolicy", "closed"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("MemoryDenyWriteExecute", "yes"),
        ("LockPersonality", "yes"),
    ] {
        assert_eq!(one(key), want, "{key}=");
    }
    assert!(values("DeviceAllow").contains(&"char-ttyUSB rw"));
    assert!(values("SystemCallFilter").contains(&"@system-service"));
    let duration =
        |key: &str| humantime::parse_duration(one(key)).unwrap_or_else(|e| panic!("{key}=: {e}"));
    // Pings every WatchdogSec/2 while the engine ticked within ENGINE_STALL.
    assert!(duration("WatchdogSec") >= 2 * rampart::sdnotify::ENGINE_STALL);
    // Graceful shutdown waits up to 5 s for the broker's acknowledgements,
    // then 2 s for the connection to close.
    assert!(duration("TimeoutStopSec") >= Duration::from_secs(10));

    let exec = one("ExecStart");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/rampart"));
    let args: Vec<&str> = words.collect();
    assert_eq!(args, ["run", "--config", "/etc/rampart/rampart.toml"]);
    // The command line parses: `--help` after it prints help, exit 0; an
    // unknown subcommand or flag would fail first.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        help.status.success() && String::from_utf8_lossy(&help.stdout).contains("--config"),
        "{}",
        String::from_utf8_lossy(&help.stderr)
    );

    let Some(analyze) = crate::harness::find_program("systemd-analyze") else {
        eprintln!("SKIPPED systemd-analyze verify: systemd-analyze is not installed");
        return;
    };
    // verify insists that ExecStart exists: point it at the built binary.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("rampart.service");
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/rampart", env!("CARGO_BIN_EXE_rampart")),
    )
    .unwrap();
    let verify = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    // It exits 0 on unknown keys and bad values too, warning on stderr.
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && !complaints.contains("rampart.service"),
        "systemd-analyze verify: {complaints}"
    );
}
