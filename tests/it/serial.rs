//! Serial lines that are missing at start-up or unplugged while running.

use std::time::Duration;

use rampart::sim::pty::Pty;

use crate::harness::{free_port, sentence, Daemon, Watcher};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_port_is_picked_up_when_it_appears_and_again_after_unplugging() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let link = dir.path().join("tty/fence-s1");
    let daemon = Daemon::start(dir.path(), &test_config(dir.path(), port, true, &link));
    let mut w = Watcher::start(port, &["rampart/v1/alert/+"]).await;

    // The port appears after the daemon found it missing.
    daemon
        .wait_log("serial port cannot be opened", 1, WAIT)
        .await;
    let mut pty = Pty::open(&link).unwrap();
    daemon.wait_log("serial port opened", 1, WAIT).await;
    pty.send(
        format!(
            "{}{}",
            sentence("RPFZ,fence-s1,1,2,900,2500"),
            sentence("RPFZ,fence-s1,2,2,900,2500")
        )
        .as_bytes(),
    );
    let first = w
        .alert(WAIT, "alert from the late port", |v| {
            v["state"] == "raised" && v["segment_id"] == "S012"
        })
        .await;

    // Unplug: the link disappears; plug back in: a new pseudo-terminal at the same path.
    drop(pty);
    daemon
        .wait_log("serial port lost; reopening", 1, WAIT)
        .await;
    let returned = std::time::Instant::now();
    let mut pty = Pty::open(&link).unwrap();
    daemon.wait_log("serial port opened", 2, WAIT).await;
    // The back-off is capped at 500 ms here (retry_max): reopened well within 2 s.
    assert!(
        returned.elapsed() < Duration::from_secs(2),
        "reopened after {:?}",
        returned.elapsed()
    );
    let zone1 = (3..6)
        .map(|s| sentence(&format!("RPFZ,fence-s1,{s},1,900,2500")))
        .collect::<String>();
    pty.send(zone1.as_bytes());
    let update = w
        .alert(WAIT, "update with zone 1 after replugging", |v| {
            v["id"] == first["id"]
                && v["sensors"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x == "fence-s1/zone1"))
        })
        .await;
    assert_eq!(update["state"], "updated");
    assert!(daemon.stop().success());
}
