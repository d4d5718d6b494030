//! Tests of config hot reload: what needs a restart, and the watcher on a
//! real file.

use std::path::Path;

use super::*;

fn config_text(rms: f64, url: &str) -> String {
    let wall = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wall-iraq-syria-approx.geojson");
    format!(
        r#"
wall = "{}"
[mqtt]
url = "{url}"
[detection.fence]
rms_mg = {rms}
[[fence]]
id = "fence-a"
[[fence.zones]]
zone = 1
start_m = 12000.0
end_m = 12200.0
"#,
        wall.display()
    )
}

fn load(dir: &Path, text: &str) -> Loaded {
    let path = dir.join("rampart.toml");
    std::fs::write(&path, text).unwrap();
    crate::config::load(&path).expect("valid")
}

#[test]
fn thresholds_swap_live_but_the_broker_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let old = load(dir.path(), &config_text(400.0, "mqtt://127.0.0.1:1883")).config;
    let new = load(dir.path(), &config_text(600.0, "mqtt://127.0.0.1:1883")).config;
    assert!(restart_needed(&old, &new).is_empty());
    let moved = load(dir.path(), &config_text(400.0, "mqtt://127.0.0.1:1884")).config;
    assert_eq!(
        restart_needed(&old, &moved),
        vec!["[mqtt] changed: restart rampart to apply it"]
    );
}

#[test]
fn a_new_password_or_tls_file_behind_the_same_names_applies_at_restart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write_private = |name: &str, text: &str| {
        std::fs::write(d.join(name), text).unwrap();
        std::fs::set_permissions(d.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let ca = |name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(d.join("ca.pem"), cert.pem()).unwrap();
    };
    let text = config_text(400.0, "mqtts://broker:8883").replace(
        "[detection.fence]",
        "username = \"rampart\"\npassword_file = \"pw\"\n[mqtt.tls]\nca_file = \"ca.pem\"\n[detection.fence]",
    );
    write_private("pw", "first\n");
    ca("broker");
    let old = load(d, &text).config;
    assert!(applies_at_restart(&old, &load(d, &text).config).is_empty());
    write_private("pw", "second\n");
    let new = load(d, &text).config;
    assert_eq!(
        applies_at_restart(&old, &new),
        ["the broker password changed: it takes effect at the next restart"]
    );
    // Not a reason to refuse the reload (that would block key rotation).
    assert!(restart_needed(&old, &new).is_empty());
    ca("broker");
    let newer = load(d, &text).config;
    assert_eq!(
        applies_at_restart(&new, &newer),
        ["a [mqtt.tls] file changed: it takes effect at the next restart"]
    );
}

struct Harness {
    hup: mpsc::Sender<()>,
    engine: mpsc::Receiver<Box<Loaded>>,
    reports: mpsc::UnboundedReceiver<ReloadReport>,
    _stop: watch::Sender<bool>,
}

fn start(loaded: &Loaded) -> Harness {
    let (hup, hup_rx) = mpsc::channel(4);
    let (to_engine, engine) = mpsc::channel(4);
    let (report_tx, reports) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let watcher = ConfigWatcher::new(loaded);
    tokio::spawn(watcher.run(
        hup_rx,
        to_engine,
        move |r: &ReloadReport| {
            let _ = report_tx.send(r.clone());
        },
        Timestamp::now,
        stop_rx,
    ));
    Harness {
        hup,
        engine,
        reports,
        _stop: stop,
    }
}

async fn next<T>(rx: &mut mpsc::Receiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("within 10 s")
        .expect("open")
}

async fn next_report(h: &mut Harness) -> ReloadReport {
    tokio::time::timeout(Duration::from_secs(10), h.reports.recv())
        .await
        .expect("within 10 s")
        .expect("open")
}

#[tokio::test]
async fn a_changed_file_is_validated_then_swapped_in_and_a_bad_one_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let url = "mqtt://127.0.0.1:1883";
    let loaded = load(dir.path(), &config_text(400.0, url));
    let mut h = start(&loaded);

    // Edited on disk: picked up by polling, sent to the engine, reported.
    std::fs::write(&loaded.path, config_text(650.0, url)).unwrap();
    let new = next(&mut h.engine).await;
    assert_eq!(new.config.detection.fence.rms_mg, 650.0);
    let r = next_report(&mut h).await;
    assert_eq!((r.status, r.errors.len()), (ReloadStatus::Applied, 0));

    // A typo: rejected with its location, nothing sent to the engine.
    std::fs::write(
        &loaded.path,
        config_text(650.0, url).replace("rms_mg", "rms_mgg"),
    )
    .unwrap();
    let r = next_report(&mut h).await;
    assert_eq!(r.status, ReloadStatus::Rejected);
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("rms_mgg") && e.contains(":6:1:")),
        "{:?}",
        r.errors
    );
    assert!(h.engine.try_recv().is_err());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["status"], "rejected");

    // A broker change: refused as a whole.
    std::fs::write(&loaded.path, config_text(650.0, "mqtt://127.0.0.1:1999")).unwrap();
    let r = next_report(&mut h).await;
    assert_eq!(r.status, ReloadStatus::RestartNeeded);
    assert!(h.engine.try_recv().is_err());

    // SIGHUP reloads at once, even if the file did not change since.
    std::fs::write(&loaded.path, config_text(700.0, url)).unwrap();
    let _ = next_report(&mut h).await; // the poll may see it first
    h.hup.send(()).await.unwrap();
    let r = next_report(&mut h).await;
    assert_eq!(r.status, ReloadStatus::Applied);
    let mut last = next(&mut h.engine).await;
    while let Ok(more) = h.engine.try_recv() {
        last = more;
    }
    assert_eq!(last.config.detection.fence.rms_mg, 700.0);
}
