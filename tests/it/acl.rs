//! The shipped Mosquitto ACL (`config/mosquitto/acl.conf`) on a real
//! Mosquitto with accounts made at test time: each controller publishes
//! only on its own topic, control-room accounts only acknowledge, anonymous
//! clients are refused.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{require_tool, Mosquitto};

const ACCOUNTS: [&str; 4] = ["rampart", "control-room", "fence-a", "fence-b"];

fn password(user: &str) -> String {
    format!("pw-{user}-not-secret")
}

/// Publishes one message as `user` (or anonymously); true if the client
/// connected and sent it.
fn publish(port: u16, user: Option<&str>, topic: &str, message: &str) -> bool {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", topic, "-m", message]);
    if let Some(u) = user {
        cmd.args(["-u", u, "-P", &password(u)]);
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_shipped_acl_keeps_every_account_to_its_own_topics() {
    let test = "broker ACL";
    let (Some(passwd), Some(_), Some(_)) = (
        require_tool("mosquitto_passwd", test),
        require_tool("mosquitto_pub", test),
        require_tool("mosquitto_sub", test),
    ) else {
        return;
    };
    // Mosquitto drops root: its files must be readable by its own user.
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let passwords = dir.path().join("passwd");
    for (i, user) in ACCOUNTS.iter().enumerate() {
        let mut cmd = Command::new(&passwd);
        cmd.arg("-b");
        if i == 0 {
            cmd.arg("-c");
        }
        let ok = cmd
            .arg(&passwords)
            .args([user.to_string(), password(user)])
            .status()
            .unwrap()
            .success();
        assert!(ok, "mosquitto_passwd for {user}");
    }
    let acl = dir.path().join("acl.conf");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mosquitto/acl.conf"),
        &acl,
    )
    .unwrap();
    for f in [&passwords, &acl] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let Some(broker) = Mosquitto::start_with(
        test,
        &format!(
            "allow_anonymous false\npassword_file {}\nacl_file {}",
            passwords.display(),
            acl.display()
        ),
    ) else {
        return;
    };
    let port = broker.port;

    // What the daemon's account can read, and what a console can read.
    let watch = |user: &str| {
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-v"])
            .args(["-t", "rampart/v1/#", "-W", "4"])
            .args(["-u", user, "-P", &password(user)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let daemon = watch("rampart");
    let console = watch("control-room");
    std::thread::sleep(Duration::from_millis(500));

    assert!(publish(
        port,
        Some("fence-a"),
        "rampart/v1/sensor/fence-a",
        "own"
    ));
    // Refused by the ACL (the broker acknowledges and drops it).
    publish(port, Some("fence-a"), "rampart/v1/sensor/fence-b", "forged");
    publish(port, Some("fence-a"), "rampart/v1/ack", "fence acks");
    publish(
        port,
        Some("control-room"),
        "rampart/v1/alert/S001",
        "fake alert",
    );
    publish(
        port,
        Some("control-room"),
        "rampart/v1/sensor/fence-a",
        "console forges",
    );
    assert!(publish(
        port,
        Some("control-room"),
        "rampart/v1/ack",
        "console acks"
    ));
    assert!(publish(
        port,
        Some("rampart"),
        "rampart/v1/alert/S002",
        "real alert"
    ));
    assert!(
        !publish(port, None, "rampart/v1/sensor/fence-a", "anonymous"),
        "an anonymous client must be refused"
    );

    let read = |child: std::process::Child| {
        let out = child.wait_with_output().unwrap();
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        read(daemon),
        [
            "rampart/v1/ack console acks",
            "rampart/v1/alert/S002 real alert",
            "rampart/v1/sensor/fence-a own",
        ],
        "the daemon reads sensors and acknowledgements, and nothing forged"
    );
    assert_eq!(
        read(console),
        ["rampart/v1/alert/S002 real alert"],
        "a console reads alerts, not sensor traffic"
    );
}
