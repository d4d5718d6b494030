//! Checks that need more than types: ids, ranges, uniqueness, and that every
//! zone and channel lies on the wall. All problems are collected, each
//! located in the file by its key path.

use std::collections::HashSet;

use super::diagnostics::{Diagnostic, PathSeg, SourceMap};
use super::{Config, DEFAULT_PROFILE};
use crate::sentence::is_valid_id;
use crate::wall::Wall;

/// The largest fence window `n` (readings are kept in a 64-bit mask).
pub const MAX_WINDOW: u32 = 64;

struct Problems<'a> {
    source: &'a SourceMap,
    list: Vec<Diagnostic>,
}

impl Problems<'_> {
    fn add(&mut self, path: &[PathSeg], message: impl Into<String>) {
        self.list.push(self.source.diagnostic(path, message));
    }
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_owned())
}

fn at(path: &[PathSeg], more: &[PathSeg]) -> Vec<PathSeg> {
    path.iter().chain(more).cloned().collect()
}

/// Validates `config`, loading its wall. Returns the config and the wall, or
/// every problem found.
pub fn validate(mut config: Config, source: &SourceMap) -> Result<(Config, Wall), Vec<Diagnostic>> {
    let mut p = Problems {
        source,
        list: Vec::new(),
    };
    if !is_valid_id(&config.instance) {
        p.add(
            &[key("instance")],
            "must be 1 to 32 characters of A-Z a-z 0-9 _ -",
        );
    }
    // A bad segment length is reported by check_thresholds; the wall file
    // is still checked, with the default length.
    let length_ok = config.segment_length_m.is_finite() && config.segment_length_m > 0.0;
    let length = if length_ok {
        config.segment_length_m
    } else {
        1000.0
    };
    let wall = match Wall::load(&config.wall, length) {
        Ok(w) => Some(w).filter(|_| length_ok),
        Err(e) => {
            p.add(&[key("wall")], e.to_string());
            None
        }
    };
    check_mqtt(&config, &mut p);
    check_auth(&mut config, &mut p);
    check_credentials(&mut config, &mut p);
    check_tls(&mut config, &mut p);
    check_thresholds(&config, &mut p);
    check_devices(&config, wall.as_ref(), &mut p);
    check_serial(&config, &mut p);
    check_cameras(&config, &mut p);
    check_profiles(&config, &mut p);
    check_stretches(&config, wall.as_ref(), &mut p);
    match (p.list.is_empty(), wall) {
        (true, Some(wall)) => Ok((config, wall)),
        _ => {
            p.list.sort_by_key(|d| (d.line, d.column));
            Err(p.list)
        }
    }
}

/// Reads the key file; every device it names must be configured.
fn check_auth(config: &mut Config, p: &mut Problems) {
    let auth = &config.auth;
    if auth.burst_count == 0 {
        p.add(&[key("auth"), key("burst_count")], "must be at least 1");
    }
    if auth.burst_window.is_zero() {
        p.add(&[key("auth"), key("burst_window")], "must be longer than 0");
    }
    let Some(path) = &auth.keys_file else {
        return;
    };
    let at_file = [key("auth"), key("keys_file")];
    match crate::auth::Keys::load(path) {
        Ok(keys) => {
            for device in keys.devices() {
                let known = config.fence.iter().any(|f| f.id == device)
                    || config.trench.iter().any(|t| t.id == device);
                if !known {
                    p.add(
                        &at_file,
                        format!(
                            "key file {} names device `{device}`, which is not configured",
                            path.display()
                        ),
                    );
                }
            }
            config.auth.keys = std::sync::Arc::new(keys);
        }
        Err(e) => p.add(&at_file, e.to_string()),
    }
}

/// The broker account: a password from exactly one place, read now.
fn check_credentials(config: &mut Config, p: &mut Problems) {
    let m = &config.mqtt;
    let at = |k: &'static str| [key("mqtt"), key(k)];
    if m.password_file.is_some() && m.password_env.is_some() {
        p.add(
            &at("password_env"),
            "give `password_file` or `password_env`, not both",
        );
        return;
    }
    let read = match (&m.password_file, &m.password_env) {
        (Some(file), None) => Some((at("password_file"), crate::secret::from_file(file))),
        (None, Some(var)) => Some((at("password_env"), crate::secret::from_env(var))),
        _ => None,
    };
    if read.is_some() && m.username.is_none() {
        p.add(&at("username"), "a password needs a `username`");
    }
    if m.username.is_some() && m.embedded_broker {
        p.add(
            &at("username"),
            "the embedded broker has no accounts: use an external broker",
        );
    }
    if let Some((path, result)) = read {
        match result {
            Ok(secret) => config.mqtt.password = Some(secret),
            Err(e) => p.add(&path, e),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// TLS exactly when the URL says `mqtts://`; its files read now.
fn check_tls(config: &mut Config, p: &mut Problems) {
    let Ok(addr) = crate::topics::BrokerAddr::parse(&config.mqtt.url) else {
        return; // reported by check_mqtt
    };
    let m = &mut config.mqtt;
    let Some(tls) = &mut m.tls else {
        if addr.tls {
            p.add(
                &[key("mqtt"), key("url")],
                "an mqtts:// URL needs a [mqtt.tls] table with at least `ca_file`",
            );
        }
        return;
    };
    let at_tls = [key("mqtt"), key("tls")];
    if !addr.tls {
        p.add(
            &at_tls,
            "TLS settings with a plain mqtt:// URL: write mqtts:// (Rampart never falls back to plain TCP)",
        );
        return;
    }
    if m.embedded_broker {
        p.add(
            &[key("mqtt"), key("embedded_broker")],
            "the embedded broker has no TLS: use an external broker",
        );
    }
    let identity = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
        (None, None) => None,
        _ => {
            p.add(&at_tls, "give both `cert_file` and `key_file`, or neither");
            return;
        }
    };
    match crate::tls::TlsClient::load(&addr.host, &tls.ca_file, identity) {
        Ok(client) => tls.client = Some(client),
        Err(e) => p.add(&at_tls, e.to_string()),
    }
}

fn check_mqtt(config: &Config, p: &mut Problems) {
    match crate::topics::BrokerAddr::parse(&config.mqtt.url) {
        Err(e) => p.add(&[key("mqtt"), key("url")], e.to_string()),
        // The embedded broker has no accounts, ACL or TLS: whoever reaches
        // it could inject sentences and acknowledgements. Loopback only.
        Ok(addr) if config.mqtt.embedded_broker && !is_loopback(&addr.host) => p.add(
            &[key("mqtt"), key("url")],
            format!(
                "the embedded broker listens on loopback only (127.0.0.1, ::1 or localhost), not `{}`: \
                 it has no accounts, ACL or TLS; use Mosquitto for a networked deployment",
                addr.host
            ),
        ),
        Ok(_) => {}
    }
    let root = &config.mqtt.root;
    if root.is_empty() || root.contains(['/', '+', '#']) || root.contains(char::is_whitespace) {
        p.add(
            &[key("mqtt"), key("root")],
            "must be one non-empty topic level without `/`, `+`, `#` or spaces",
        );
    }
    if config.mqtt.max_packet_bytes < 10 * 1024 || config.mqtt.max_packet_bytes > 256 * 1024 * 1024
    {
        p.add(
            &[key("mqtt"), key("max_packet_bytes")],
            "must be between 10240 and 268435456",
        );
    }
    let sensor_max = config.mqtt.max_sensor_message_bytes;
    if !(crate::sentence::MAX_LINE_LEN..=config.mqtt.max_packet_bytes).contains(&sensor_max) {
        p.add(
            &[key("mqtt"), key("max_sensor_message_bytes")],
            format!(
                "must be between {} (one sentence) and max_packet_bytes ({})",
                crate::sentence::MAX_LINE_LEN,
                config.mqtt.max_packet_bytes
            ),
        );
    }
    if config.mqtt.frame_qos > 1 {
        p.add(&[key("mqtt"), key("frame_qos")], "must be 0 or 1");
    }
    if config.store.max_messages < 1000 {
        p.add(
            &[key("store"), key("max_messages")],
            "must be at least 1000",
        );
    }
}

fn check_positive(p: &mut Problems, path: &[PathSeg], value: Option<f64>) {
    if let Some(v) = value {
        if !(v.is_finite() && v > 0.0) {
            p.add(path, format!("must be a positive number, got {v}"));
        }
    }
}

fn check_window(p: &mut Problems, path: &[PathSeg], k: Option<u32>, n: Option<u32>) {
    if let Some(k) = k {
        if k == 0 {
            p.add(&at(path, &[key("k")]), "must be at least 1");
        }
    }
    if let Some(n) = n {
        if n == 0 || n > MAX_WINDOW {
            p.add(&at(path, &[key("n")]), format!("must be 1 to {MAX_WINDOW}"));
        }
    }
}

fn check_thresholds(config: &Config, p: &mut Problems) {
    let base = [key("detection"), key("fence")];
    let f = &config.detection.fence;
    check_positive(p, &at(&base, &[key("rms_mg")]), Some(f.rms_mg));
    check_positive(p, &at(&base, &[key("peak_mg")]), Some(f.peak_mg));
    check_window(p, &base, Some(f.k), Some(f.n));
    check_positive(
        p,
        &[key("detection"), key("ground"), key("ppv_um_s")],
        Some(config.detection.ground.ppv_um_s),
    );
    check_positive(p, &[key("segment_length_m")], Some(config.segment_length_m));
    check_fusion(config, p);
}

fn check_range(p: &mut Problems, path: &[PathSeg], value: f64, lo: f64, hi: f64) {
    if !(value.is_finite() && (lo..=hi).contains(&value)) {
        p.add(path, format!("must be {lo} to {hi}, got {value}"));
    }
}

fn check_fusion(config: &Config, p: &mut Problems) {
    let fusion = &config.detection.fusion;
    let f = |k: &str| [key("detection"), key("fusion"), key(k)];
    check_range(p, &f("radius_m"), fusion.radius_m, 0.0, 5000.0);
    check_range(p, &f("raise_strength"), fusion.raise_strength, 1.0, 100.0);
    check_range(p, &f("animal_margin"), fusion.animal_margin, 0.0, 100.0);
    if fusion.window.is_zero() {
        p.add(&f("window"), "must be longer than 0s");
    }
    let wind = &config.detection.wind;
    let w = |k: &str| [key("detection"), key("wind"), key(k)];
    check_range(p, &w("stir_fraction"), wind.stir_fraction, 0.05, 1.0);
    check_range(p, &w("min_fraction"), wind.min_fraction, 0.0, 1.0);
    check_range(p, &w("factor"), wind.factor, 1.0, 20.0);
    if wind.min_zones < 2 {
        p.add(
            &w("min_zones"),
            "must be at least 2: one zone shaking alone is not wind",
        );
    }
    check_range(
        p,
        &[key("thermal"), key("min_scene_contrast_k")],
        config.thermal.min_scene_contrast_k,
        0.0,
        100.0,
    );
}

fn check_device_id(p: &mut Problems, path: &[PathSeg], id: &str, seen: &mut HashSet<String>) {
    if !is_valid_id(id) {
        p.add(
            &at(path, &[key("id")]),
            "must be 1 to 32 characters of A-Z a-z 0-9 _ -",
        );
    } else if !seen.insert(id.to_owned()) {
        p.add(
            &at(path, &[key("id")]),
            format!("device `{id}` is configured twice"),
        );
    }
}

fn check_chainage(p: &mut Problems, path: &[PathSeg], value: f64, wall: Option<&Wall>) {
    if !value.is_finite() || value < 0.0 {
        p.add(
            path,
            format!("must be a chainage of 0 or more, got {value}"),
        );
    } else if let Some(w) = wall {
        if value > w.length_m() {
            p.add(
                path,
                format!(
                    "{value} m is beyond the end of the wall ({:.1} m)",
                    w.length_m()
                ),
            );
        }
    }
}

fn check_devices(config: &Config, wall: Option<&Wall>, p: &mut Problems) {
    let mut ids = HashSet::new();
    for (i, dev) in config.fence.iter().enumerate() {
        let path = [key("fence"), PathSeg::Index(i)];
        check_device_id(p, &path, &dev.id, &mut ids);
        check_positive(p, &at(&path, &[key("rms_mg")]), dev.rms_mg);
        check_positive(p, &at(&path, &[key("peak_mg")]), dev.peak_mg);
        check_window(p, &path, dev.k, dev.n);
        if let Some(l) = dev.location_m {
            check_chainage(p, &at(&path, &[key("location_m")]), l, wall);
        }
        if dev.zones.is_empty() {
            p.add(
                &path,
                format!("fence controller `{}` has no [[fence.zones]]", dev.id),
            );
        }
        let mut zones = HashSet::new();
        for (j, z) in dev.zones.iter().enumerate() {
            let zp = at(&path, &[key("zones"), PathSeg::Index(j)]);
            if !zones.insert(z.zone) {
                p.add(
                    &at(&zp, &[key("zone")]),
                    format!("zone {} appears twice", z.zone),
                );
            }
            check_chainage(p, &at(&zp, &[key("start_m")]), z.start_m, wall);
            check_chainage(p, &at(&zp, &[key("end_m")]), z.end_m, wall);
            if z.end_m <= z.start_m {
                p.add(&at(&zp, &[key("end_m")]), "must be greater than start_m");
            }
            check_positive(p, &at(&zp, &[key("rms_mg")]), z.rms_mg);
            check_positive(p, &at(&zp, &[key("peak_mg")]), z.peak_mg);
            check_window(p, &zp, z.k, z.n);
            // Under the defaults first, then under each profile; one
            // report per zone.
            let bad = config.profile_choices().into_iter().find_map(|profile| {
                let t = config.zone_thresholds(i, j, profile);
                (t.k > t.n).then_some((t, profile))
            });
            if let Some((t, profile)) = bad {
                p.add(
                    &zp,
                    format!(
                        "effective k ({}) is greater than n ({}){}",
                        t.k,
                        t.n,
                        under(profile)
                    ),
                );
            }
        }
    }
    for (i, dev) in config.trench.iter().enumerate() {
        let path = [key("trench"), PathSeg::Index(i)];
        check_device_id(p, &path, &dev.id, &mut ids);
        check_positive(p, &at(&path, &[key("ppv_um_s")]), dev.ppv_um_s);
        if let Some(l) = dev.location_m {
            check_chainage(p, &at(&path, &[key("location_m")]), l, wall);
        }
        if dev.geophones.is_empty() && dev.beams.is_empty() {
            p.add(
                &path,
                format!("trench controller `{}` has no geophones or beams", dev.id),
            );
        }
        let mut geophones = HashSet::new();
        for (j, g) in dev.geophones.iter().enumerate() {
            let gp = at(&path, &[key("geophones"), PathSeg::Index(j)]);
            if !geophones.insert(g.channel) {
                p.add(
                    &at(&gp, &[key("channel")]),
                    format!("geophone channel {} appears twice", g.channel),
                );
            }
            check_chainage(p, &at(&gp, &[key("at_m")]), g.at_m, wall);
            check_positive(p, &at(&gp, &[key("ppv_um_s")]), g.ppv_um_s);
        }
        let mut beams = HashSet::new();
        for (j, b) in dev.beams.iter().enumerate() {
            let bp = at(&path, &[key("beams"), PathSeg::Index(j)]);
            if !beams.insert(b.channel) {
                p.add(
                    &at(&bp, &[key("channel")]),
                    format!("beam channel {} appears twice", b.channel),
                );
            }
            check_chainage(p, &at(&bp, &[key("at_m")]), b.at_m, wall);
        }
    }
}

fn check_serial(config: &Config, p: &mut Problems) {
    let known: HashSet<&str> = config
        .fence
        .iter()
        .map(|d| d.id.as_str())
        .chain(config.trench.iter().map(|d| d.id.as_str()))
        .collect();
    let mut paths = HashSet::new();
    for (i, port) in config.serial.iter().enumerate() {
        let path = [key("serial"), PathSeg::Index(i)];
        if !paths.insert(port.path.clone()) {
            p.add(
                &at(&path, &[key("path")]),
                format!("port {} is configured twice", port.path.display()),
            );
        }
        if port.baud == 0 {
            p.add(&at(&path, &[key("baud")]), "must be greater than zero");
        }
        for (j, dev) in port.devices.iter().enumerate() {
            if !known.contains(dev.as_str()) {
                p.add(
                    &at(&path, &[key("devices"), PathSeg::Index(j)]),
                    format!("`{dev}` is not a configured [[fence]] or [[trench]] controller"),
                );
            }
        }
    }
}

fn check_cameras(config: &Config, p: &mut Problems) {
    use crate::camera::geometry::{CameraModel, Mount};
    let t = &config.thermal;
    let base = [key("thermal")];
    check_positive(p, &at(&base, &[key("delta_t_k")]), Some(t.delta_t_k));
    check_positive(p, &at(&base, &[key("min_extent_m")]), Some(t.min_extent_m));
    check_positive(p, &at(&base, &[key("max_extent_m")]), Some(t.max_extent_m));
    check_positive(
        p,
        &at(&base, &[key("track_radius_px")]),
        Some(t.track_radius_px),
    );
    check_positive(
        p,
        &at(&base, &[key("max_wall_offset_m")]),
        Some(t.max_wall_offset_m),
    );
    for (name, v) in [
        ("max_speed_m_s", t.max_speed_m_s),
        ("max_vehicle_speed_m_s", t.max_vehicle_speed_m_s),
        ("vehicle_extent_m", t.vehicle_extent_m),
    ] {
        check_positive(p, &at(&base, &[key(name)]), Some(v));
    }
    check_window(p, &base, Some(t.k), Some(t.n));
    if t.background_frames == 0 {
        p.add(
            &at(&base, &[key("background_frames")]),
            "must be at least 1",
        );
    }
    let max_pixels = u64::from(crate::frame::MAX_SIDE) * u64::from(crate::frame::MAX_SIDE);
    if t.max_frame_pixels == 0 || t.max_frame_pixels > max_pixels {
        p.add(
            &at(&base, &[key("max_frame_pixels")]),
            format!("must be 1 to {max_pixels}"),
        );
    }
    let mut ids: HashSet<&str> = config
        .fence
        .iter()
        .map(|d| d.id.as_str())
        .chain(config.trench.iter().map(|d| d.id.as_str()))
        .collect();
    for (i, cam) in config.camera.iter().enumerate() {
        let path = [key("camera"), PathSeg::Index(i)];
        if !is_valid_id(&cam.id) {
            p.add(
                &at(&path, &[key("id")]),
                "must be 1 to 32 characters of A-Z a-z 0-9 _ -",
            );
        } else if !ids.insert(&cam.id) {
            p.add(
                &at(&path, &[key("id")]),
                format!("`{}` is already the id of a controller or camera", cam.id),
            );
        }
        let mount = Mount::from_config(cam);
        if let Err(e) = CameraModel::new(mount, 640, 512) {
            p.add(&path, format!("camera mounting: {e}"));
        }
        check_positive(p, &at(&path, &[key("delta_t_k")]), cam.delta_t_k);
        check_positive(p, &at(&path, &[key("min_extent_m")]), cam.min_extent_m);
        check_positive(p, &at(&path, &[key("max_extent_m")]), cam.max_extent_m);
        check_window(p, &path, cam.k, cam.n);
        let (k, n) = (cam.k.unwrap_or(t.k), cam.n.unwrap_or(t.n));
        if k > n {
            p.add(&path, format!("effective k ({k}) is greater than n ({n})"));
        }
        let bad = config.profile_choices().into_iter().find_map(|profile| {
            let t = config.camera_thermal(i, profile);
            (t.min_extent_m >= t.max_extent_m).then_some((t, profile))
        });
        if let Some((t, profile)) = bad {
            p.add(
                &path,
                format!(
                    "effective min_extent_m ({}) is not below max_extent_m ({}){}",
                    t.min_extent_m,
                    t.max_extent_m,
                    under(profile)
                ),
            );
        }
        if let (Some(lo), Some(hi)) = (
            cam.gate_min_c.or(t.gate_min_c),
            cam.gate_max_c.or(t.gate_max_c),
        ) {
            if lo >= hi {
                p.add(
                    &path,
                    format!("effective gate_min_c ({lo}) is not below gate_max_c ({hi})"),
                );
            }
        }
    }
}

/// `" under profile `NAME`"`, or nothing for the defaults.
fn under(profile: Option<&str>) -> String {
    profile.map_or_else(String::new, |name| format!(" under profile `{name}`"))
}

/// Whether `name` may be used where a profile is named: a `[[profile]]` or
/// `"default"`.
fn names_a_profile(config: &Config, name: &str) -> bool {
    name == DEFAULT_PROFILE || config.profile(name).is_some()
}

fn not_a_profile(name: &str) -> String {
    format!("`{name}` is not a [[profile]] name (nor `{DEFAULT_PROFILE}`)")
}

fn check_profiles(config: &Config, p: &mut Problems) {
    let mut names = HashSet::new();
    for (i, profile) in config.profile.iter().enumerate() {
        let path = [key("profile"), PathSeg::Index(i)];
        let name = &profile.name;
        if !is_valid_id(name) {
            p.add(
                &at(&path, &[key("name")]),
                "must be 1 to 32 characters of A-Z a-z 0-9 _ -",
            );
        } else if name == DEFAULT_PROFILE {
            p.add(
                &at(&path, &[key("name")]),
                "`default` is reserved: it means no profile",
            );
        } else if !names.insert(name.as_str()) {
            p.add(
                &at(&path, &[key("name")]),
                format!("profile `{name}` is defined twice"),
            );
        }
        for (k, v) in [
            ("rms_mg", profile.rms_mg),
            ("peak_mg", profile.peak_mg),
            ("ppv_um_s", profile.ppv_um_s),
            ("delta_t_k", profile.delta_t_k),
            ("min_extent_m", profile.min_extent_m),
            ("max_extent_m", profile.max_extent_m),
        ] {
            check_positive(p, &at(&path, &[key(k)]), v);
        }
        check_window(p, &path, profile.k, profile.n);
    }
    let base = [key("profiles")];
    let mut times = HashSet::new();
    for (j, entry) in config.profiles.schedule.iter().enumerate() {
        let ep = at(&base, &[key("schedule"), PathSeg::Index(j)]);
        if !times.insert(entry.from) {
            p.add(
                &at(&ep, &[key("from")]),
                format!("{} appears twice in the schedule", entry.from),
            );
        }
        if !names_a_profile(config, &entry.profile) {
            p.add(&at(&ep, &[key("profile")]), not_a_profile(&entry.profile));
        }
    }
    if let Some(force) = &config.profiles.force {
        if !names_a_profile(config, force) {
            p.add(&at(&base, &[key("force")]), not_a_profile(force));
        }
    }
}

fn check_stretches(config: &Config, wall: Option<&Wall>, p: &mut Problems) {
    for (i, s) in config.stretch.iter().enumerate() {
        let path = [key("stretch"), PathSeg::Index(i)];
        check_chainage(p, &at(&path, &[key("from_m")]), s.from_m, wall);
        check_chainage(p, &at(&path, &[key("to_m")]), s.to_m, wall);
        if s.to_m <= s.from_m {
            p.add(&at(&path, &[key("to_m")]), "must be greater than from_m");
        }
        if let Some(name) = &s.profile {
            if !names_a_profile(config, name) {
                p.add(&at(&path, &[key("profile")]), not_a_profile(name));
            }
        }
        check_positive(p, &at(&path, &[key("rms_mg")]), s.rms_mg);
        check_positive(p, &at(&path, &[key("peak_mg")]), s.peak_mg);
        check_positive(p, &at(&path, &[key("ppv_um_s")]), s.ppv_um_s);
        check_window(p, &path, s.k, s.n);
        if let (Some(k), Some(n)) = (s.k, s.n) {
            if k > n {
                p.add(&path, format!("k ({k}) is greater than n ({n})"));
            }
        }
        let sets = [s.rms_mg, s.peak_mg, s.ppv_um_s]
            .iter()
            .any(Option::is_some)
            || s.k.is_some()
            || s.n.is_some();
        if !sets {
            p.add(
                &path,
                "sets no threshold: give at least one of rms_mg, peak_mg, k, n, ppv_um_s",
            );
        }
    }
}
