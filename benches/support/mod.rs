//! What the system benchmarks (`e2e_cameras`, `sensor_load`) share: a free
//! loopback port and finding a program such as `mosquitto`.

use std::net::TcpListener;
use std::path::PathBuf;

/// A TCP port free on loopback now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `name` on the `PATH`, or in the sbin folders where Debian puts daemons.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
