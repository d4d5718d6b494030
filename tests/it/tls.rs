//! TLS to a real Mosquitto running the shipped broker config
//! (`config/mosquitto/mosquitto.conf`: `require_certificate true`, the
//! certificate's CN as the account) and the ACL `rampart print-acl` writes
//! for the tests' devices, certificates made at test time (rcgen): the daemon connects with
//! its client certificate, a keyed sensor's signed sentence alerts, a
//! sensor cannot publish as another, and no secret reaches the trace log; a wrong
//! CA, expired certificates on either side, a missing client certificate,
//! a hostname mismatch and a plain listener each keep the daemon off the
//! broker with an error that says why.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::auth::final_counter;
use crate::harness::{require_tool, sentence, Daemon, Mosquitto, Watcher};
use crate::wall_file;

/// A certificate authority made for one test.
struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// Writes the CA certificate to `dir/<name>.pem`.
    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, self.cert.pem()).unwrap();
        path
    }

    /// Issues a certificate for `cn` (and the names `sans`) and writes it
    /// and its key to `dir/<file>.pem` and `dir/<file>.key` (mode 0600).
    fn issue(&self, dir: &Path, file: &str, cn: &str, sans: &[&str], how: Issue) -> Identity {
        let names: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![match how.role {
            Role::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        match how.validity {
            Validity::Long => {}
            Validity::Expired => {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            Validity::Future => params.not_before = rcgen::date_time_ymd(2090, 1, 1),
            Validity::Days(days) => {
                // Half a day over, so whole days left stay `days` for a while.
                params.not_after = time::OffsetDateTime::now_utc()
                    + time::Duration::days(days)
                    + time::Duration::hours(12);
            }
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let id = Identity {
            cert: dir.join(format!("{file}.pem")),
            key: dir.join(format!("{file}.key")),
        };
        std::fs::write(&id.cert, cert.pem()).unwrap();
        std::fs::write(&id.key, key.serialize_pem()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&id.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        id
    }
}

#[derive(Clone, Copy)]
enum Role {
    Server,
    Client,
}

#[derive(Clone, Copy)]
enum Validity {
    /// rcgen's default, to 4096.
    Long,
    /// 2020 to 2021.
    Expired,
    /// From 1975 to this many days (and a half) from now.
    Days(i64),
    /// From 2090 on.
    Future,
}

#[derive(Clone, Copy)]
struct Issue {
    role: Role,
    validity: Validity,
}

const SERVER: Issue = Issue {
    role: Role::Server,
    validity: Validity::Long,
};
const CLIENT: Issue = Issue {
    role: Role::Client,
    validity: Validity::Long,
};

/// A certificate and its private key on disk.
struct Identity {
    cert: PathBuf,
    key: PathBuf,
}

/// Mosquitto on the shipped `config/mosquitto/mosquitto.conf`, moved onto
/// a loopback port and this test's files: a TLS listener presenting
/// `server` (signed by the CA in `ca`) that requires a client certificate
/// signed by that CA, takes its CN as the account name and applies the ACL
/// `rampart print-acl` writes for these tests' devices (fence-a, fence-b,
/// cam-a).
fn tls_broker(test: &str, dir: &Path, ca: &Path, server: &Identity) -> Option<Mosquitto> {
    use std::os::unix::fs::PermissionsExt;
    // Mosquitto drops root before it reads these: they must be readable by
    // its own user (test keys only, made for this run).
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&server.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mosquitto");
    let acl = dir.join("acl.conf");
    let devices =
        rampart::acl::Acl::new("rampart", "rampart", &["fence-a", "fence-b"], &["cam-a"]).unwrap();
    std::fs::write(&acl, devices.render("tls-test.toml")).unwrap();
    let persistence = dir.join("persistence");
    std::fs::create_dir_all(&persistence).unwrap();
    std::fs::set_permissions(&persistence, std::fs::Permissions::from_mode(0o777)).unwrap();
    let text = std::fs::read_to_string(shipped.join("mosquitto.conf")).unwrap();
    Mosquitto::start_config(test, |port, _| {
        let mut text = text.clone();
        let moves = [
            (
                "listener 8883 10.20.0.5",
                format!("listener {port} 127.0.0.1"),
            ),
            (
                "/etc/mosquitto/certs/rampart-ca.pem",
                ca.display().to_string(),
            ),
            (
                "/etc/mosquitto/certs/broker.pem",
                server.cert.display().to_string(),
            ),
            (
                "/etc/mosquitto/certs/broker.key",
                server.key.display().to_string(),
            ),
            ("/etc/mosquitto/rampart-acl.conf", acl.display().to_string()),
            ("/var/lib/mosquitto/", format!("{}/", persistence.display())),
        ];
        for (from, to) in moves {
            assert!(
                text.contains(from),
                "the shipped mosquitto.conf no longer has `{from}`"
            );
            text = text.replace(from, &to);
        }
        text
    })
}

/// A test site: a directory, a CA (`ca.pem` in it) and Mosquitto on the
/// shipped config presenting a certificate for 127.0.0.1 and localhost.
fn site(test: &str) -> Option<(tempfile::TempDir, Authority, PathBuf, Mosquitto)> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let authority = Authority::new("Rampart test CA");
    let ca = authority.write(d, "ca");
    let server = authority.issue(d, "server", "broker", &["127.0.0.1", "localhost"], SERVER);
    let broker = tls_broker(test, d, &ca, &server)?;
    Some((dir, authority, ca, broker))
}

/// A daemon config on `mqtts://<host>:<port>` with these `[mqtt.tls]`
/// lines, fence-a at km 5 and fence-b at km 9.
fn daemon_config(dir: &Path, host: &str, port: u16, tls: &str) -> String {
    format!(
        r#"
instance = "tls"
wall = "{wall}"
data_dir = "{data}"

[mqtt]
url = "mqtts://{host}:{port}"
reconnect_max = "500ms"

[mqtt.tls]
{tls}

[[fence]]
id = "fence-a"
[[fence.zones]]
zone = 1
start_m = 5000.0
end_m = 5200.0

[[fence]]
id = "fence-b"
[[fence.zones]]
zone = 1
start_m = 9000.0
end_m = 9200.0
"#,
        wall = wall_file().display(),
        data = dir.join("data").display(),
    )
}

fn tls_lines(ca: &Path, client: Option<&Identity>) -> String {
    let mut lines = format!("ca_file = \"{}\"\n", ca.display());
    if let Some(id) = client {
        lines += &format!(
            "cert_file = \"{}\"\nkey_file = \"{}\"\n",
            id.cert.display(),
            id.key.display()
        );
    }
    lines
}

/// Publishes one QoS 1 message over TLS as the holder of `id`.
fn publish(port: u16, ca: &Path, id: &Identity, topic: &str, message: &str) -> bool {
    Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .arg("--cafile")
        .arg(ca)
        .arg("--cert")
        .arg(&id.cert)
        .arg("--key")
        .arg(&id.key)
        .args(["-t", topic, "-m", message])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the daemon on `config` until its log says `expected`, then checks
/// it never got onto the broker and stops gracefully.
async fn refused(dir: &Path, config: &str, expected: &str) {
    let daemon = Daemon::start(dir, config);
    daemon.wait_log(expected, 1, Duration::from_secs(20)).await;
    let log = daemon.log_text();
    let line = log.lines().find(|l| l.contains(expected)).unwrap();
    assert!(line.contains("ERROR"), "an engineer must act: {line}");
    for connected in ["mqtt source connected", "mqtt publisher connected"] {
        assert!(
            !log.contains(connected),
            "{expected}: the daemon connected:\n{log}"
        );
    }
    println!("{expected}: {line}");
    assert!(daemon.stop().success(), "{expected}: graceful stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_connects_with_its_client_certificate_and_sensors_keep_to_their_topics() {
    let test = "mutual TLS";
    if require_tool("mosquitto_pub", test).is_none() {
        return;
    }
    let Some((dir, authority, ca, broker)) = site(test) else {
        return;
    };
    let d = dir.path();
    let port = broker.port;
    let wait = Duration::from_secs(20);
    // The daemon's certificate expires in 10 days: it says so.
    let daemon_id = authority.issue(
        d,
        "rampart",
        "rampart",
        &[],
        Issue {
            role: Role::Client,
            validity: Validity::Days(10),
        },
    );
    let fence_a = authority.issue(d, "fence-a", "fence-a", &[], CLIENT);
    let console_id = authority.issue(d, "console", "control-room", &[], CLIENT);

    // A console over TLS, as the control-room account (its CN).
    let mut console = {
        let mut options = rumqttc::MqttOptions::new("console-tls", "127.0.0.1", port);
        rampart::tls::TlsClient::load("127.0.0.1", &ca, Some((&console_id.cert, &console_id.key)))
            .unwrap()
            .apply(&mut options);
        Watcher::with_options(options, &["rampart/v1/alert/#"]).await
    };

    // Every secret at once, logged at trace level: a sentence key for
    // fence-a, the TLS key, and a password (the broker takes the account
    // from the certificate and ignores it, but the daemon sends it).
    const KEY_HEX: &str = "7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e";
    const PASSWORD: &str = "pw-rampart-over-tls-not-secret";
    let keys = d.join("keys.toml");
    std::fs::write(&keys, format!("fence-a = \"{KEY_HEX}\"\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = daemon_config(d, "127.0.0.1", port, &tls_lines(&ca, Some(&daemon_id))).replace(
        "[mqtt.tls]",
        "username = \"rampart\"\npassword_env = \"RAMPART_TEST_MQTT_PASSWORD\"\n\n[mqtt.tls]",
    ) + "\n[auth]\nkeys_file = \"keys.toml\"\n";
    let daemon = Daemon::start_with_env(
        d,
        &config,
        &[
            ("RUST_LOG", "trace"),
            ("RAMPART_TEST_MQTT_PASSWORD", PASSWORD),
        ],
    );
    daemon.wait_log("mqtt source subscribed", 1, wait).await;
    daemon
        .wait_log("TLS certificate expires in 10 days", 1, wait)
        .await;

    // check-config says the same at a glance.
    let check = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("check-config")
        .arg(d.join("rampart.toml"))
        .env("RAMPART_TEST_MQTT_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr),
    );
    assert!(
        out.contains("(TLS, client certificate); 1 of 2 controllers sign their sentences; not authenticated: fence-b"),
        "{out}{err}"
    );
    assert!(
        err.contains("warning: TLS client certificate") && err.contains("expires in 10 days"),
        "{err}"
    );

    // fence-a tries to speak for fence-b: the broker drops it (ACL).
    let forged = sentence("RPTP,fence-b,1,CUT");
    assert!(publish(
        port,
        &ca,
        &fence_a,
        "rampart/v1/sensor/fence-b",
        forged.trim_end()
    ));
    // Unsigned, from the keyed fence-a: refused by the daemon.
    let unsigned = sentence("RPTP,fence-a,1,CUT");
    assert!(publish(
        port,
        &ca,
        &fence_a,
        "rampart/v1/sensor/fence-a",
        unsigned.trim_end()
    ));
    daemon.wait_log("reason=\"missing_mac\"", 1, wait).await;
    let own = {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = u8::from_str_radix(&KEY_HEX[2 * i..2 * i + 2], 16).unwrap();
        }
        let mut s = rampart::sentence::parse(sentence("RPTP,fence-a,2,CUT").as_bytes()).unwrap();
        rampart::auth::sign(&mut s, &rampart::auth::Key::new(k));
        s.encode()
    };
    assert!(publish(
        port,
        &ca,
        &fence_a,
        "rampart/v1/sensor/fence-a",
        own.trim_end()
    ));
    let alert = console
        .alert(wait, "fence-a's tamper over TLS", |v| v["kind"] == "tamper")
        .await;
    assert_eq!(alert["sensors"], serde_json::json!(["fence-a"]));
    // The forged sentence went first: had it passed, its alert would be here.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = daemon.log_text();
    assert!(
        !log.contains("ALERT S009"),
        "the forged sentence raised an alert:\n{log}"
    );

    let stopped = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(stopped).unwrap();
    assert_eq!(
        final_counter(&log, "mqtt.in.messages"),
        2,
        "only fence-a's two messages on its own topic reach the daemon"
    );
    assert!(log.contains("TRACE"), "the log is at trace level");
    assert!(
        !log.contains(KEY_HEX),
        "the sentence key appears in the log"
    );
    assert!(!log.contains(PASSWORD), "the password appears in the log");
    // No line of the private key's PEM body appears, at any level.
    let key = std::fs::read_to_string(&daemon_id.key).unwrap();
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(line), "the client key appears in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_or_a_missing_expired_or_foreign_client_certificate_fails_closed() {
    let test = "TLS refusals";
    let Some((dir, authority, ca, broker)) = site(test) else {
        return;
    };
    let d = dir.path();
    let port = broker.port;
    let good = authority.issue(d, "rampart", "rampart", &[], CLIENT);
    let expired = authority.issue(
        d,
        "rampart-old",
        "rampart",
        &[],
        Issue {
            role: Role::Client,
            validity: Validity::Expired,
        },
    );
    let stranger = Authority::new("Somebody else's CA");
    let other_ca = stranger.write(d, "other-ca");
    let foreign = stranger.issue(d, "rampart-foreign", "rampart", &[], CLIENT);

    let cases = [
        (tls_lines(&other_ca, Some(&good)), "unknown issuer"),
        (tls_lines(&ca, None), "requires a client certificate"),
        (
            tls_lines(&ca, Some(&expired)),
            "refused this daemon's client certificate: it has expired",
        ),
        (
            tls_lines(&ca, Some(&foreign)),
            "refused this daemon's client certificate (UnknownCA)",
        ),
    ];
    for (tls, expected) in cases {
        refused(d, &daemon_config(d, "127.0.0.1", port, &tls), expected).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_misnamed_broker_certificate_or_a_plain_listener_fails_closed() {
    let test = "TLS broker certificate";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let authority = Authority::new("Rampart test CA");
    let ca = authority.write(d, "ca");
    let client = authority.issue(d, "rampart", "rampart", &[], CLIENT);
    let tls = tls_lines(&ca, Some(&client));

    let old = authority.issue(
        d,
        "server-old",
        "broker",
        &["127.0.0.1"],
        Issue {
            role: Role::Server,
            validity: Validity::Expired,
        },
    );
    let Some(broker) = tls_broker(test, d, &ca, &old) else {
        return;
    };
    let config = daemon_config(d, "127.0.0.1", broker.port, &tls);
    refused(d, &config, "the broker's certificate has expired").await;
    drop(broker);

    let future = authority.issue(
        d,
        "server-future",
        "broker",
        &["127.0.0.1"],
        Issue {
            role: Role::Server,
            validity: Validity::Future,
        },
    );
    let broker = tls_broker(test, d, &ca, &future).unwrap();
    let config = daemon_config(d, "127.0.0.1", broker.port, &tls);
    refused(d, &config, "the broker's certificate is not valid yet").await;
    drop(broker);

    let misnamed = authority.issue(d, "server-other", "broker", &["broker.invalid"], SERVER);
    let broker = tls_broker(test, d, &ca, &misnamed).unwrap();
    let config = daemon_config(d, "127.0.0.1", broker.port, &tls);
    refused(d, &config, "not valid for `127.0.0.1` (hostname mismatch)").await;
    drop(broker);

    // A plain MQTT listener behind an mqtts:// URL: never used in the clear.
    let plain = Mosquitto::start(test).unwrap();
    let config = daemon_config(d, "127.0.0.1", plain.port, &tls);
    refused(d, &config, "is that port a TLS listener?").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_connects_each_device_with_its_own_certificate() {
    let test = "simulator identities";
    let Some((dir, authority, ca, broker)) = site(test) else {
        return;
    };
    let d = dir.path();
    let wait = Duration::from_secs(20);
    let daemon_id = authority.issue(d, "rampart", "rampart", &[], CLIENT);
    let identities = d.join("identities");
    std::fs::create_dir(&identities).unwrap();
    // Two controllers and a camera, each with a certificate of its own.
    let text = daemon_config(
        d,
        "127.0.0.1",
        broker.port,
        &tls_lines(&ca, Some(&daemon_id)),
    ) + &crate::camera::camera_facing_wall("cam-a", 5100.0);
    let (config, _) = rampart::config::load_str("test", &text, d).expect("valid config");
    let sim = || {
        let scenario = rampart::sim::scenario::Scenario::parse(
            "scenario",
            "seed = 5\nduration = \"10s\"\nreport_interval = \"250ms\"\n\
             heartbeat_interval = \"1s\"\n\n[[events]]\nat = \"1s\"\nkind = \"intrusion\"\n\
             chainage_m = 5100.0\nduration = \"4s\"\n",
            &["fence-a".to_string(), "fence-b".to_string()]
                .into_iter()
                .collect(),
        )
        .expect("valid scenario");
        rampart::sim::Simulator::new(
            &config,
            scenario,
            rampart::sim::SimOptions {
                pty_dir: d.join("tty"),
                truth: None,
                identities: Some(identities.clone()),
            },
        )
    };
    // A device without its certificate stops the simulator before it runs.
    authority.issue(&identities, "fence-a", "fence-a", &[], CLIENT);
    authority.issue(&identities, "cam-a", "cam-a", &[], CLIENT);
    let err = sim().err().expect("fence-b has no certificate").to_string();
    assert!(
        err.contains("`fence-b`") && err.contains("fence-b.pem"),
        "{err}"
    );
    authority.issue(&identities, "fence-b", "fence-b", &[], CLIENT);
    let sim = sim().unwrap();
    let daemon = Daemon::start(d, &text);
    daemon.wait_log("mqtt source subscribed", 1, wait).await;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(sim.run(stop_rx));
    daemon
        .wait_log("ALERT S005 intrusion raised", 1, wait)
        .await;
    // A second more of frames (they flow from the start, at several a
    // second), then stop.
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.abort();
    // Each device logged in as itself: the broker took the account from
    // its certificate.
    let log = broker.log_text();
    for device in ["fence-a", "fence-b", "cam-a"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("as firmware-sim-{device} "))
                    && l.contains(&format!("u'{device}'"))),
            "{device} did not connect with its own certificate:\n{log}"
        );
    }
    let log_path = daemon.log.clone();
    assert!(daemon.stop().success());
    // The camera's frames passed the ACL (its own frame topic) to the daemon.
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(final_counter(&log, "frames.received") > 0, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_account_over_tls_needs_no_client_certificate() {
    let test = "password over TLS";
    let Some(passwd) = require_tool("mosquitto_passwd", test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let authority = Authority::new("Rampart test CA");
    let ca = authority.write(d, "ca");
    let server = authority.issue(d, "server", "broker", &["127.0.0.1"], SERVER);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&server.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    const PASSWORD: &str = "pw-rampart-tls-only-not-secret";
    let passwords = d.join("passwd");
    let made = Command::new(passwd)
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["rampart", PASSWORD])
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::set_permissions(&passwords, std::fs::Permissions::from_mode(0o644)).unwrap();
    let Some(broker) = Mosquitto::start_with(
        test,
        &format!(
            "certfile {}\nkeyfile {}\ntls_version tlsv1.2\nallow_anonymous false\npassword_file {}",
            server.cert.display(),
            server.key.display(),
            passwords.display()
        ),
    ) else {
        return;
    };
    let config = |password_env: &str| {
        daemon_config(d, "127.0.0.1", broker.port, &tls_lines(&ca, None)).replace(
            "[mqtt.tls]",
            &format!("username = \"rampart\"\npassword_env = \"{password_env}\"\n\n[mqtt.tls]"),
        )
    };
    let daemon = Daemon::start_with_env(
        d,
        &config("RAMPART_TEST_PW"),
        &[("RAMPART_TEST_PW", PASSWORD), ("RUST_LOG", "trace")],
    );
    daemon
        .wait_log("mqtt source subscribed", 1, Duration::from_secs(20))
        .await;
    let log = daemon.log.clone();
    assert!(daemon.stop().success());
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!log.contains(PASSWORD), "the password appears in the log");

    // A wrong password is refused by the broker, over TLS still.
    let daemon = Daemon::start_with_env(
        d,
        &config("RAMPART_TEST_PW"),
        &[("RAMPART_TEST_PW", "not-the-password")],
    );
    daemon
        .wait_log(
            "the broker refused the connection: not authorised",
            1,
            Duration::from_secs(20),
        )
        .await;
    let log = daemon.log_text();
    assert!(!log.contains("mqtt source connected"), "{log}");
    assert!(
        !log.contains("TLS to the broker failed"),
        "not a TLS failure: {log}"
    );
    assert!(daemon.stop().success());
}
