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
