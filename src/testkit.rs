//! Shared fixtures for unit tests: a small config on an equator wall.

use std::sync::Arc;

use crate::config::Config;
use crate::layout::Layout;
use crate::wall::{LatLon, Wall};

/// A 1-degree equator wall (about 111.2 km) with one fence and one trench
/// controller near chainage 5 km.
pub const CONFIG: &str = r#"
instance = "test"
wall = "unused.geojson"
[detection]
heartbeat_deadline = "30s"
quiet_period = "60s"
min_update_interval = "2s"
[detection.fence]
rms_mg = 400.0
peak_mg = 1500.0
k = 3
n = 5
[detection.ground]
ppv_um_s = 1000.0

[[fence]]
id = "fence-a"
[[fence.zones]]
zone = 1
start_m = 4800.0
end_m = 5000.0
[[fence.zones]]
zone = 2
start_m = 5000.0
end_m = 5200.0
rms_mg = 600.0
[[fence.zones]]
zone = 3
start_m = 7000.0
end_m = 7200.0

[[trench]]
id = "trench-a"
heartbeat_deadline = "10s"
[[trench.geophones]]
channel = 0
at_m = 4900.0
[[trench.geophones]]
channel = 1
at_m = 5100.0
ppv_um_s = 2000.0
[[trench.beams]]
channel = 0
at_m = 4950.0
"#;

/// The fixture config and its wall.
pub fn fixture() -> (Config, Arc<Wall>) {
    let config: Config = toml::from_str(CONFIG).expect("fixture config parses");
    let wall = Wall::from_vertices(vec![LatLon::new(0.0, 0.0), LatLon::new(0.0, 1.0)], 1000.0)
        .expect("fixture wall");
    (config, Arc::new(wall))
}

/// A camera `south_m` south of the equator wall at lon 0.05°, on a 10 m
/// mast, looking north at the wall (tilt 5°, 30° × 22.5° field of view).
pub fn camera_south_of_wall(south_m: f64) -> crate::config::CameraConfig {
    crate::config::CameraConfig {
        id: "cam-1".into(),
        lat: -south_m / 111_195.08,
        lon: 0.05,
        height_m: 10.0,
        heading_deg: 0.0,
        tilt_deg: 5.0,
        hfov_deg: 30.0,
        vfov_deg: 22.5,
        delta_t_k: None,
        gate_min_c: None,
        gate_max_c: None,
        min_extent_m: None,
        max_extent_m: None,
        k: None,
        n: None,
    }
}

/// The fixture's layout.
pub fn layout() -> (Config, Arc<Wall>, Arc<Layout>) {
    let (config, wall) = fixture();
    let layout = Arc::new(Layout::new(&config, &wall));
    (config, wall, layout)
}

/// An alert message with the given identity, on segment `segment`,
/// published at `at_ms`; the rest is plausible filler.
pub fn alert(
    id: &str,
    rev: u32,
    state: crate::alert::AlertState,
    kind: crate::alert::AlertKind,
    segment: u32,
    at_ms: i64,
) -> crate::alert::AlertMessage {
    use crate::time::Timestamp;
    crate::alert::AlertMessage {
        id: id.into(),
        rev,
        state,
        kind,
        priority: crate::alert::Priority::High,
        confidence: 0.9,
        segment,
        segment_id: format!("S{segment:03}"),
        chainage_m: segment as f64 * 1000.0 + 500.0,
        lat: 0.0,
        lon: 0.0,
        sensors: vec!["fence-a/zone1".into()],
        evidence: Vec::new(),
        first_seen: Timestamp(at_ms),
        last_seen: Timestamp(at_ms),
        published_at: Timestamp(at_ms),
        evidence_total: 1,
        summary: "test".into(),
        instance: "test".into(),
        acked_by: None,
        acked_at: None,
        moved_from: None,
    }
}

/// Makes a FIFO at `path` (mode 0600).
pub fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in the path");
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Runs `f` on a thread of its own and returns what it returns, failing
/// the test if it has not returned within 10 s (a read that blocks for
/// ever fails instead of hanging the test run; the thread is left behind).
pub fn finishes_within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} did not return within 10 s: it blocks"))
}
