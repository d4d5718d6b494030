//! The shipped Mosquitto ACL (`config/mosquitto/acl.conf`) on a real
//! Mosquitto with accounts made at test time: each controller publishes
//! only on its own topic, control-room accounts only acknowledge, anonymous
//! clients are refused.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{require_tool, sentence, Daemon, Mosquitto, Watcher};
use crate::wall_file;

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

/// A Mosquitto with the shipped ACL and the test accounts, or None (with a
/// visible skip) when a tool is missing.
fn broker_with_acl(test: &str, dir: &Path) -> Option<Mosquitto> {
    let (Some(passwd), Some(_), Some(_)) = (
        require_tool("mosquitto_passwd", test),
        require_tool("mosquitto_pub", test),
        require_tool("mosquitto_sub", test),
    ) else {
        return None;
    };
    // Mosquitto drops root: its files must be readable by its own user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let passwords = dir.join("passwd");
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
    let acl = dir.join("acl.conf");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mosquitto/acl.conf"),
        &acl,
    )
    .unwrap();
    for f in [&passwords, &acl] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    Mosquitto::start_with(
        test,
        &format!(
            "allow_anonymous false\npassword_file {}\nacl_file {}",
            passwords.display(),
            acl.display()
        ),
    )
}

#[test]
fn the_shipped_acl_keeps_every_account_to_its_own_topics() {
    let test = "broker ACL";
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = broker_with_acl(test, dir.path()) else {
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

/// A daemon config on `port` logging in as `rampart` with the password from
/// `password` (a `password_file` or `password_env` line), with one fence
/// controller over MQTT.
fn daemon_config(dir: &Path, port: u16, password: &str) -> String {
    format!(
        r#"
instance = "acl"
wall = "{wall}"
data_dir = "{data}"

[mqtt]
url = "mqtt://127.0.0.1:{port}"
reconnect_max = "500ms"
username = "rampart"
{password}

[[fence]]
id = "fence-a"
[[fence.zones]]
zone = 1
start_m = 5000.0
end_m = 5200.0
"#,
        wall = wall_file().display(),
        data = dir.join("data").display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_logs_in_under_the_acl_and_never_logs_its_password() {
    let test = "daemon under the ACL";
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = broker_with_acl(test, dir.path()) else {
        return;
    };
    let port = broker.port;
    let wait = Duration::from_secs(20);
    // A console, through a client of our own (its account may read alerts).
    let mut console = {
        let mut options = rumqttc::MqttOptions::new("console-1", "127.0.0.1", port);
        options.set_credentials("control-room", password("control-room"));
        Watcher::with_options(options, &["rampart/v1/alert/#"]).await
    };

    // First the password from the environment, at trace level.
    let config = daemon_config(
        dir.path(),
        port,
        "password_env = \"RAMPART_TEST_MQTT_PASSWORD\"",
    );
    let daemon = Daemon::start_with_env(
        dir.path(),
        &config,
        &[
            ("RUST_LOG", "trace"),
            ("RAMPART_TEST_MQTT_PASSWORD", &password("rampart")),
        ],
    );
    daemon.wait_log("mqtt source subscribed", 1, wait).await;
    let sent = publish(
        port,
        Some("fence-a"),
        "rampart/v1/sensor/fence-a",
        sentence("RPTP,fence-a,1,CUT").trim_end(),
    );
    assert!(sent);
    let alert = console
        .alert(wait, "tamper through the ACL", |v| v["kind"] == "tamper")
        .await;
    assert_eq!(alert["sensors"], serde_json::json!(["fence-a"]));
    let log = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("TRACE"), "the log is at trace level");
    assert!(
        !log.contains(&password("rampart")),
        "the password appears in the log"
    );

    // Then from a file, which must be private.
    let file = dir.path().join("mqtt-password");
    std::fs::write(&file, format!("{}\n", password("rampart"))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = daemon_config(dir.path(), port, "password_file = \"mqtt-password\"");
    std::fs::write(dir.path().join("rampart.toml"), &config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("check-config")
        .arg(dir.path().join("rampart.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let daemon = Daemon::start(dir.path(), &config);
    daemon.wait_log("mqtt source subscribed", 1, wait).await;
    assert!(publish(
        port,
        Some("fence-a"),
        "rampart/v1/sensor/fence-a",
        sentence("RPTP,fence-a,2,CLEAR").trim_end(),
    ));
    console
        .alert(wait, "the tamper cleared", |v| v["state"] == "cleared")
        .await;
    assert!(daemon.stop().success());
}
