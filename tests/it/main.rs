//! Rampart's integration tests, in one binary: the real `rampart` binary
//! against the embedded broker and a real Mosquitto, fed over real
//! pseudo-terminals and MQTT. Tests that need Mosquitto print a visible
//! SKIPPED line when it is missing, and fail instead when
//! `RAMPART_REQUIRE_MOSQUITTO=1`.

mod acl;
mod auth;
mod camera;
mod cli;
mod end_to_end;
mod faults;
mod flood;
mod harness;
mod input;
mod interop;
mod reload;
mod replay;
mod scoring;
mod serial;
mod simulator;
mod supervise;
mod systemd;
#[cfg(feature = "tls")]
mod tls;

use std::path::{Path, PathBuf};

/// The demo wall shipped in `config/`.
pub fn wall_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wall-iraq-syria-approx.geojson")
}

/// A daemon config for the tests: a fence controller on a serial line
/// (zones at 12.0–12.4 km, segment S012), a trench controller over MQTT
/// (km 250.5, S250), and a controller that never speaks (km 400.1, S400).
pub fn test_config(dir: &Path, port: u16, embedded: bool, serial_path: &Path) -> String {
    format!(
        r#"
instance = "it"
wall = "{wall}"
data_dir = "{data}"

[mqtt]
url = "mqtt://127.0.0.1:{port}"
embedded_broker = {embedded}
reconnect_max = "1s"

[detection]
heartbeat_deadline = "60s"
quiet_period = "30s"
min_update_interval = "1s"

[[serial]]
path = "{serial}"
devices = ["fence-s1"]
retry_max = "500ms"

[[fence]]
id = "fence-s1"
[[fence.zones]]
zone = 1
start_m = 12000.0
end_m = 12200.0
[[fence.zones]]
zone = 2
start_m = 12200.0
end_m = 12400.0
k = 2
n = 3

[[trench]]
id = "trench-m1"
[[trench.geophones]]
channel = 0
at_m = 250500.0
[[trench.beams]]
channel = 0
at_m = 250520.0

[[fence]]
id = "fence-quiet"
location_m = 400100.0
heartbeat_deadline = "2s"
[[fence.zones]]
zone = 1
start_m = 400000.0
end_m = 400200.0
"#,
        wall = wall_file().display(),
        data = dir.join("data").display(),
        serial = serial_path.display(),
    )
}
