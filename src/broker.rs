//! The embedded MQTT broker (rumqttd), for demos and single-machine setups
//! that should need nothing else. Behind the `embedded-broker` cargo feature.
//!
//! Known limits of rumqttd, which is why production deployments point at
//! Mosquitto instead: it runs on its own threads and has no shutdown API (it
//! lives as long as the process), it drops publishes larger than its
//! `max_payload_size` without telling the sender (set here to the daemon's
//! own packet limit), and it is slow with many small QoS 1 messages.

use crate::topics::BrokerAddr;

/// Starts the broker listening on `addr` (MQTT 3.1.1) in background threads.
#[cfg(feature = "embedded-broker")]
pub fn start(addr: &BrokerAddr, max_packet_bytes: usize) -> Result<(), String> {
    use std::collections::HashMap;
    use std::net::{SocketAddr, ToSocketAddrs};

    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

    let listen: SocketAddr = (addr.host.as_str(), addr.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} resolves to no address"))?;
    // No accounts, ACL or TLS: loopback only (validation checks the name;
    // this checks what it resolved to).
    if !listen.ip().is_loopback() {
        return Err(format!(
            "{addr} resolves to {listen}, not a loopback address: the embedded broker listens on loopback only"
        ));
    }
    // Fail early and clearly if the port is taken; rumqttd would only log it.
    std::net::TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let server = ServerSettings {
        name: "rampart-embedded".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: max_packet_bytes,
            max_inflight_count: 500,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 1000,
            max_segment_size: 64 * 1024 * 1024,
            max_segment_count: 4,
            ..Default::default()
        },
        v4: Some(HashMap::from([("rampart".to_owned(), server)])),
        ..Default::default()
    };
    let mut broker = Broker::new(config);
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded broker stopped");
            }
        })
        .map_err(|e| format!("cannot start broker thread: {e}"))?;
    tracing::info!(listen = %listen, "embedded broker started");
    Ok(())
}

/// Without the feature, asking for the embedded broker is an error.
#[cfg(not(feature = "embedded-broker"))]
pub fn start(_addr: &BrokerAddr, _max_packet_bytes: usize) -> Result<(), String> {
    Err("this build has no embedded broker (cargo feature `embedded-broker`)".into())
}
