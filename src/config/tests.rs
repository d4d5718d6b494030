//! Tests of config loading, defaults, precedence and validation.

use super::*;

fn wall_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// Every problem `load_str` reports for `text`, as printed.
pub(crate) fn load_problems(text: &str) -> Vec<String> {
    problems(text)
}

fn problems(text: &str) -> Vec<String> {
    match load_str("t.toml", text, &wall_dir()) {
        Ok(_) => Vec::new(),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

pub(crate) const WALL: &str = "wall = \"wall-iraq-syria-approx.geojson\"\n";

#[test]
fn the_printed_default_is_the_built_in_default() {
    let (c, wall) =
        load_str("default.toml", DEFAULT_TOML, &wall_dir()).expect("default config loads");
    let d = DetectionConfig::default();
    assert_eq!(c.instance, "rampart");
    assert_eq!(c.segment_length_m, 1000.0);
    assert_eq!(c.detection.heartbeat_deadline, d.heartbeat_deadline);
    assert_eq!(c.detection.quiet_period, d.quiet_period);
    assert_eq!(c.detection.min_update_interval, d.min_update_interval);
    assert_eq!(c.detection.fence, d.fence);
    assert_eq!(c.detection.ground, d.ground);
    assert_eq!(c.detection.fusion, d.fusion);
    assert_eq!(c.detection.wind, d.wind);
    let m = MqttConfig::default();
    assert_eq!(
        (c.mqtt.url, c.mqtt.root, c.mqtt.embedded_broker),
        (m.url, m.root, m.embedded_broker)
    );
    assert_eq!(
        (
            c.mqtt.keep_alive,
            c.mqtt.max_packet_bytes,
            c.mqtt.reconnect_max
        ),
        (m.keep_alive, m.max_packet_bytes, m.reconnect_max)
    );
    assert_eq!(c.mqtt.frame_qos, m.frame_qos);
    let st = StoreConfig::default();
    assert_eq!(
        (c.store.retention, c.store.max_messages),
        (st.retention, st.max_messages)
    );
    assert_eq!(wall.segment_count(), 584);
    assert_eq!(c.profiles, ProfilesConfig::default());
    assert!(c.profile.is_empty() && c.stretch.is_empty());
    let t = ThermalConfig::default();
    let ct = &c.thermal;
    assert_eq!(
        (ct.min_scene_contrast_k, ct.low_contrast_after),
        (t.min_scene_contrast_k, t.low_contrast_after)
    );
    assert_eq!(
        (
            ct.delta_t_k,
            ct.gate_min_c,
            ct.gate_max_c,
            ct.background_frames
        ),
        (t.delta_t_k, t.gate_min_c, t.gate_max_c, t.background_frames)
    );
    assert_eq!(
        (
            ct.min_extent_m,
            ct.max_extent_m,
            ct.k,
            ct.n,
            ct.track_radius_px
        ),
        (t.min_extent_m, t.max_extent_m, t.k, t.n, t.track_radius_px)
    );
    assert_eq!(
        (
            ct.evidence_interval,
            ct.max_wall_offset_m,
            ct.max_frame_pixels
        ),
        (t.evidence_interval, t.max_wall_offset_m, t.max_frame_pixels)
    );
    assert_eq!(
        (
            ct.max_speed_m_s,
            ct.max_vehicle_speed_m_s,
            ct.vehicle_extent_m
        ),
        (t.max_speed_m_s, t.max_vehicle_speed_m_s, t.vehicle_extent_m)
    );
}

#[test]
fn thresholds_take_zone_then_controller_then_detection() {
    let text = format!(
        "{WALL}[detection.fence]\nrms_mg = 300.0\nk = 2\nn = 4\n\
         [[fence]]\nid = \"f\"\nrms_mg = 500.0\npeak_mg = 1800.0\n\
         [[fence.zones]]\nzone = 1\nstart_m = 0.0\nend_m = 10.0\nrms_mg = 700.0\nn = 6\n\
         [[fence.zones]]\nzone = 2\nstart_m = 10.0\nend_m = 20.0\n"
    );
    let (c, _) = load_str("t.toml", &text, &wall_dir()).unwrap();
    let zone1 = c.zone_thresholds(0, 0, None);
    let zone2 = c.zone_thresholds(0, 1, None);
    assert_eq!(
        (zone1.rms_mg, zone1.peak_mg, zone1.k, zone1.n),
        (700.0, 1800.0, 2, 6)
    );
    assert_eq!(
        (zone2.rms_mg, zone2.peak_mg, zone2.k, zone2.n),
        (500.0, 1800.0, 2, 4)
    );
}

#[test]
fn a_repaired_value_is_not_reported_again_by_the_semantic_checks() {
    let text = format!(
        "{WALL}[[fence]]\nid = \"f\"\n[[fence.zones]]\nzone = 1\nstart_m = 5.0\nend_m = \"ten\"\n"
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("t.toml:7:9: fence[0].zones[0].end_m: invalid type"),
        "{p:?}"
    );
}

#[test]
fn ids_ports_and_windows_are_checked() {
    let text = format!(
        "{WALL}instance = \"bad id\"\n\
         [[serial]]\npath = \"/dev/a\"\ndevices = [\"nobody\"]\n\
         [[serial]]\npath = \"/dev/a\"\n\
         [[fence]]\nid = \"f\"\nk = 0\nn = 65\n[[fence.zones]]\nzone = 1\nstart_m = 0.0\nend_m = 1.0\n\
         [[fence.zones]]\nzone = 1\nstart_m = 1.0\nend_m = 2.0\n\
         [[trench]]\nid = \"f\"\n"
    );
    let p = problems(&text).join("\n");
    for want in [
        "instance: must be 1 to 32 characters",
        "serial[0].devices[0]: `nobody` is not a configured",
        "serial[1].path: port /dev/a is configured twice",
        "fence[0].k: must be at least 1",
        "fence[0].n: must be 1 to 64",
        "fence[0].zones[1].zone: zone 1 appears twice",
        "trench[0].id: device `f` is configured twice",
        "trench[0]: trench controller `f` has no geophones or beams",
    ] {
        assert!(p.contains(want), "missing `{want}` in\n{p}");
    }
}

#[test]
fn a_missing_wall_file_names_the_file() {
    let p = problems("wall = \"nowhere.geojson\"\n");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("t.toml:1:1: wall: ") && p[0].contains("nowhere.geojson"),
        "{p:?}"
    );
}

#[test]
fn a_config_file_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.toml");
    // Sparse: claims MAX_CONFIG_BYTES + 1 bytes without writing them.
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(MAX_CONFIG_BYTES + 1).expect("set_len");
    let p = load(&path).expect_err("an oversize file loaded");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].message.contains("over the limit of 1048576 bytes"),
        "{}",
        p[0]
    );
    // One byte less is read (and then fails as TOML, not as a size).
    file.set_len(MAX_CONFIG_BYTES).expect("set_len");
    let p = load(&path).expect_err("NUL bytes are no config");
    assert!(p.iter().all(|d| !d.message.contains("limit")), "{p:?}");
}

#[test]
fn config_and_wall_files_that_are_not_regular_files_are_refused_at_once() {
    use crate::testkit::{finishes_within, mkfifo};
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("rampart.toml");
    mkfifo(&fifo);
    // Nothing ever writes into the FIFO: opening it to read would block.
    let p = {
        let fifo = fifo.clone();
        finishes_within("loading a FIFO config", move || load(&fifo)).expect_err("a FIFO loaded")
    };
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        p[0].to_string(),
        format!(
            "{}: cannot read: it is a FIFO, not a regular file",
            fifo.display()
        )
    );
    let p = load(Path::new("/dev/zero")).expect_err("/dev/zero loaded");
    assert_eq!(
        p[0].to_string(),
        "/dev/zero: cannot read: it is a character device, not a regular file"
    );
    let p = load(dir.path()).expect_err("a directory loaded");
    assert!(
        p[0].message
            .ends_with("it is a directory, not a regular file"),
        "{}",
        p[0]
    );

    // The wall: the problem is located at the `wall` key, as any other.
    let text = format!("wall = \"{}\"\n", fifo.display());
    let p = finishes_within("loading a config whose wall is a FIFO", move || {
        problems(&text)
    });
    assert_eq!(
        p,
        [format!(
            "t.toml:1:1: wall: wall file {}: cannot read: it is a FIFO, not a regular file",
            fifo.display()
        )]
    );
    let p = problems("wall = \"/dev/zero\"\n");
    assert_eq!(
        p,
        ["t.toml:1:1: wall: wall file /dev/zero: cannot read: it is a character device, not a regular file"]
    );
}

#[test]
fn the_key_file_is_read_relative_to_the_config_and_must_name_configured_devices() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let wall = wall_dir().join("wall-iraq-syria-approx.geojson");
    let hex = "ab".repeat(32);
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, format!("f1 = \"{hex}\"\nnobody = \"{hex}\"\n")).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        "wall = \"{}\"\n[auth]\nkeys_file = \"keys.toml\"\n\n[[fence]]\nid = \"f1\"\n\
         [[fence.zones]]\nzone = 1\nstart_m = 0.0\nend_m = 100.0\n",
        wall.display()
    );
    let problems = match load_str("t.toml", &text, dir.path()) {
        Ok(_) => panic!("an unknown device in the key file is an error"),
        Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("t.toml:3:")
            && problems[0].contains("`nobody`, which is not configured"),
        "{problems:?}"
    );
    assert!(!problems[0].contains(&hex));
    std::fs::write(&keys, format!("f1 = \"{hex}\"\n")).unwrap();
    let (config, _) = load_str("t.toml", &text, dir.path()).expect("loads");
    assert_eq!(config.auth.keys.devices().collect::<Vec<_>>(), ["f1"]);
    assert_eq!(config.auth.keys_file, Some(keys.clone()));
    assert!(
        !format!("{config:?}").contains(&hex),
        "Debug of the config shows no key"
    );
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let problems = match load_str("t.toml", &text, dir.path()) {
        Ok(_) => panic!("mode 0644 is refused"),
        Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
    };
    assert!(problems[0].contains("chmod 600"), "{problems:?}");
}

#[test]
fn tls_goes_with_mqtts_urls_only_and_its_files_are_read_at_load() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let wall = wall_dir().join("wall-iraq-syria-approx.geojson");
    let load = |mqtt: &str| {
        let text = format!("wall = \"{}\"\n[mqtt]\n{mqtt}\n", wall.display());
        load_str("t.toml", &text, dir.path())
            .map_err(|p| p.iter().map(ToString::to_string).collect::<Vec<_>>())
    };
    let only = |mqtt: &str| {
        let problems = load(mqtt).expect_err(mqtt);
        assert_eq!(problems.len(), 1, "{mqtt}: {problems:?}");
        problems.into_iter().next().unwrap()
    };
    assert!(only("url = \"mqtts://broker:8883\"").contains("needs a [mqtt.tls] table"));
    let plain = only("url = \"mqtt://broker\"\n[mqtt.tls]\nca_file = \"ca.pem\"");
    assert!(plain.contains("never falls back to plain TCP"), "{plain}");
    let missing = only("url = \"mqtts://broker\"\n[mqtt.tls]\nca_file = \"ca.pem\"");
    assert!(
        missing.contains("CA file") && missing.contains("ca.pem") && missing.contains("t.toml:4:"),
        "{missing}"
    );
    let half =
        only("url = \"mqtts://broker\"\n[mqtt.tls]\nca_file = \"ca.pem\"\ncert_file = \"c.pem\"");
    assert!(half.contains("both `cert_file` and `key_file`"), "{half}");

    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["broker".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
    let key_file = dir.path().join("client.key");
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (config, _) = load(
        "url = \"mqtts://broker\"\n[mqtt.tls]\nca_file = \"ca.pem\"\n\
         cert_file = \"ca.pem\"\nkey_file = \"client.key\"",
    )
    .expect("a complete TLS table loads");
    let tls = config.mqtt.tls.as_ref().unwrap();
    assert!(tls.client.is_some(), "the client is built at load");
    assert_eq!(tls.key_file.as_deref(), Some(key_file.as_path()));
    let debug = format!("{config:?}");
    assert!(!debug.contains("PRIVATE KEY"), "Debug shows no key");
    let link = crate::mqtt::LinkConfig::new(&config.mqtt, "t").unwrap();
    assert!(link.addr.tls && link.addr.port == 8883);

    let embedded = only(
        "url = \"mqtts://127.0.0.1\"\nembedded_broker = true\n[mqtt.tls]\nca_file = \"ca.pem\"",
    );
    assert!(
        embedded.contains("embedded broker has no TLS"),
        "{embedded}"
    );
}

#[test]
fn the_embedded_broker_listens_on_loopback_only() {
    for (host, ok) in [
        ("127.0.0.1", true),
        ("127.0.0.53", true),
        ("[::1]", true),
        ("localhost", true),
        ("0.0.0.0", false),
        ("10.20.0.5", false),
        ("[::]", false),
        ("broker.example", false),
    ] {
        let text = format!("{WALL}[mqtt]\nurl = \"mqtt://{host}:1883\"\nembedded_broker = true\n");
        let found = problems(&text);
        if ok {
            assert!(found.is_empty(), "{host}: {found:?}");
        } else {
            assert!(
                found.len() == 1 && found[0].contains("loopback only"),
                "{host}: {found:?}"
            );
        }
    }
}
