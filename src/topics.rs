//! MQTT names: the broker address from a config URL, and every topic the
//! daemon reads or writes, built from the configured root (`<root>/v1/...`).

use std::fmt;

/// A broker's host and port, from a `mqtt://HOST[:PORT]` or
/// `tcp://HOST[:PORT]` URL (port 1883 when omitted), or `mqtts://HOST[:PORT]`
/// for TLS (port 8883 when omitted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
    /// `mqtts://`: the connection must be TLS, never plain TCP.
    pub tls: bool,
}

/// Why a broker URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "`{0}`: expected mqtt://HOST[:PORT], tcp://HOST[:PORT] or, for TLS, mqtts://HOST[:PORT]"
    )]
    Scheme(String),
    #[error("`{0}`: missing host")]
    Host(String),
    #[error("`{0}`: port is not a number from 1 to 65535")]
    Port(String),
    #[error("`{0}`: an mqtts:// URL needs TLS settings ([mqtt.tls])")]
    NoTls(String),
}

impl BrokerAddr {
    /// Parses a broker URL.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let (rest, tls, default_port) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (rest, true, 8883)
        } else {
            let rest = url
                .strip_prefix("mqtt://")
                .or_else(|| url.strip_prefix("tcp://"))
                .ok_or_else(|| UrlError::Scheme(url.to_owned()))?;
            (rest, false, 1883)
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            // An IPv6 literal like [::1] has colons inside the brackets.
            Some((h, p)) if !p.contains(']') => {
                let port: u16 = p.parse().map_err(|_| UrlError::Port(url.to_owned()))?;
                if port == 0 {
                    return Err(UrlError::Port(url.to_owned()));
                }
                (h, port)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', '?', '@']) {
            return Err(UrlError::Host(url.to_owned()));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

impl fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tls {
            f.write_str("mqtts://")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The topic names under one root.
#[derive(Debug, Clone)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// Topics under `<root>/v1/`.
    pub fn new(root: &str) -> Self {
        Self {
            prefix: format!("{root}/v1/"),
        }
    }

    /// The subscription filter for sensor sentences.
    pub fn sensor_filter(&self) -> String {
        format!("{}sensor/+", self.prefix)
    }

    /// The topic a device publishes its sentences on.
    pub fn sensor(&self, device: &str) -> String {
        format!("{}sensor/{device}", self.prefix)
    }

    /// The device named by a sensor topic, if `topic` is one.
    pub fn sensor_device<'t>(&self, topic: &'t str) -> Option<&'t str> {
        topic.strip_prefix(&self.prefix)?.strip_prefix("sensor/")
    }

    /// Where operators publish acknowledgements.
    pub fn ack(&self) -> String {
        format!("{}ack", self.prefix)
    }

    /// The subscription filter for thermal frames.
    pub fn camera_filter(&self) -> String {
        format!("{}camera/+/frame", self.prefix)
    }

    /// The topic a camera publishes its frames on.
    pub fn camera_frame(&self, camera: &str) -> String {
        format!("{}camera/{camera}/frame", self.prefix)
    }

    /// The camera named by a frame topic, if `topic` is one.
    pub fn camera_of<'t>(&self, topic: &'t str) -> Option<&'t str> {
        topic
            .strip_prefix(&self.prefix)?
            .strip_prefix("camera/")?
            .strip_suffix("/frame")
    }

    /// Where alerts for a segment are published.
    pub fn alert(&self, segment_id: &str) -> String {
        format!("{}alert/{segment_id}", self.prefix)
    }

    /// The subscription filter for every alert.
    pub fn alert_filter(&self) -> String {
        format!("{}alert/+", self.prefix)
    }

    /// A segment's retained state.
    pub fn segment_state(&self, segment_id: &str) -> String {
        format!("{}segment/{segment_id}/state", self.prefix)
    }

    /// The daemon's retained presence.
    pub fn daemon_status(&self, instance: &str) -> String {
        format!("{}daemon/{instance}/status", self.prefix)
    }

    /// The outcome of the daemon's last config reload, retained (an
    /// extension to the spec).
    pub fn daemon_config(&self, instance: &str) -> String {
        format!("{}daemon/{instance}/config", self.prefix)
    }

    /// The daemon's retained health: store, broker link, clock (an
    /// extension to the spec).
    pub fn daemon_health(&self, instance: &str) -> String {
        format!("{}daemon/{instance}/health", self.prefix)
    }

    /// The daemon's retained counters (an extension to the spec).
    pub fn daemon_stats(&self, instance: &str) -> String {
        format!("{}daemon/{instance}/stats", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_broker_urls() {
        assert_eq!(
            BrokerAddr::parse("mqtt://127.0.0.1:1884").unwrap(),
            BrokerAddr {
                host: "127.0.0.1".into(),
                port: 1884,
                tls: false,
            }
        );
        assert_eq!(
            BrokerAddr::parse("mqtts://broker.example").unwrap(),
            BrokerAddr {
                host: "broker.example".into(),
                port: 8883,
                tls: true,
            }
        );
        assert_eq!(BrokerAddr::parse("mqtts://[::1]:9883").unwrap().port, 9883);
        assert!(!BrokerAddr::parse("tcp://broker.local").unwrap().tls);
        assert_eq!(BrokerAddr::parse("tcp://broker.local").unwrap().port, 1883);
        assert_eq!(BrokerAddr::parse("mqtt://[::1]:1999").unwrap().host, "::1");
        assert_eq!(BrokerAddr::parse("mqtt://[::1]").unwrap().port, 1883);
        assert!(matches!(
            BrokerAddr::parse("http://x"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            BrokerAddr::parse("ssl://x:8883"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            BrokerAddr::parse("mqtt://:1883"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            BrokerAddr::parse("mqtt://h:0"),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            BrokerAddr::parse("mqtt://h:x"),
            Err(UrlError::Port(_))
        ));
    }

    #[test]
    fn builds_and_reads_topics() {
        let t = Topics::new("rampart");
        assert_eq!(t.sensor_filter(), "rampart/v1/sensor/+");
        assert_eq!(
            t.sensor_device("rampart/v1/sensor/fence-c07"),
            Some("fence-c07")
        );
        assert_eq!(t.sensor_device("other/v1/sensor/fence-c07"), None);
        assert_eq!(t.alert("S042"), "rampart/v1/alert/S042");
        assert_eq!(t.camera_filter(), "rampart/v1/camera/+/frame");
        assert_eq!(t.camera_of("rampart/v1/camera/cam-7/frame"), Some("cam-7"));
        assert_eq!(t.camera_of("rampart/v1/camera/cam-7/other"), None);
        assert_eq!(t.camera_of(&t.camera_frame("c")), Some("c"));
        assert_eq!(t.segment_state("S042"), "rampart/v1/segment/S042/state");
        assert_eq!(t.daemon_status("r1"), "rampart/v1/daemon/r1/status");
    }
}
