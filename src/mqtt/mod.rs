//! MQTT: connection settings shared by the source and the publisher, the
//! reconnection back-off, and the input connection's own client
//! ([`subscriber`], over the packet codec in [`wire`]).

pub mod subscriber;
pub mod wire;

use std::time::Duration;

use rumqttc::MqttOptions;

use crate::config::MqttConfig;
use crate::topics::{BrokerAddr, Topics};

/// How to reach the broker.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub addr: BrokerAddr,
    pub topics: Topics,
    pub instance: String,
    /// The QoS thermal frames are subscribed at.
    pub frame_qos: rumqttc::QoS,
    keep_alive: Duration,
    max_packet_bytes: usize,
    /// The broker account and its password, if the config names one.
    credentials: Option<(String, crate::secret::Secret)>,
    /// TLS, for an `mqtts://` URL (and only then).
    tls: Option<crate::tls::TlsClient>,
    /// The CA file TLS trusts, for [`LinkConfig::with_identity`].
    tls_ca: Option<std::path::PathBuf>,
    reconnect_max: Duration,
}

impl LinkConfig {
    /// From a validated `[mqtt]` table.
    pub fn new(config: &MqttConfig, instance: &str) -> Result<Self, crate::topics::UrlError> {
        let addr = BrokerAddr::parse(&config.url)?;
        // Fail closed: an mqtts:// URL without a TLS client never connects.
        let tls = match config.tls.as_ref().and_then(|t| t.client.clone()) {
            Some(client) if addr.tls => Some(client),
            None if !addr.tls => None,
            _ => return Err(crate::topics::UrlError::NoTls(config.url.clone())),
        };
        Ok(Self {
            addr,
            tls,
            tls_ca: config.tls.as_ref().map(|t| t.ca_file.clone()),
            topics: Topics::new(&config.root),
            instance: instance.to_owned(),
            frame_qos: if config.frame_qos == 0 {
                rumqttc::QoS::AtMostOnce
            } else {
                rumqttc::QoS::AtLeastOnce
            },
            keep_alive: config.keep_alive,
            credentials: config.username.clone().map(|user| {
                let password = config.password.clone();
                (user, password.unwrap_or_else(crate::secret::Secret::empty))
            }),
            max_packet_bytes: config.max_packet_bytes,
            reconnect_max: config.reconnect_max,
        })
    }

    /// Options for one connection: a persistent session (clean session
    /// off) under the stable client id `<instance>-<role>`, so the broker
    /// keeps the daemon's subscriptions and queues QoS 1 messages while it
    /// is away.
    pub fn options(&self, role: &str) -> MqttOptions {
        let mut o = MqttOptions::new(
            format!("{}-{role}", self.instance),
            &self.addr.host,
            self.addr.port,
        );
        o.set_clean_session(false);
        if let Some((user, password)) = &self.credentials {
            o.set_credentials(user, password.expose());
        }
        o.set_keep_alive(self.keep_alive);
        // rumqttc caps packets at 10 KiB both ways by default.
        o.set_max_packet_size(self.max_packet_bytes, self.max_packet_bytes);
        if let Some(tls) = &self.tls {
            tls.apply(&mut o);
        }
        o
    }

    /// Options for the input connection (`<instance>-<role>`, a persistent
    /// session) subscribing to `subscriptions`.
    pub fn subscriber(
        &self,
        role: &str,
        subscriptions: Vec<(String, wire::QoS)>,
    ) -> subscriber::SubscriberOptions {
        subscriber::SubscriberOptions {
            client_id: format!("{}-{role}", self.instance),
            host: self.addr.host.clone(),
            port: self.addr.port,
            keep_alive: self.keep_alive,
            credentials: self.credentials.clone(),
            tls: self.tls.clone(),
            subscriptions,
        }
    }

    /// This link logging in with another client certificate, trusting
    /// the same CA, and without the account's password (the broker takes
    /// the account from the certificate). For simulated devices.
    pub fn with_identity(
        &self,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Self, crate::tls::TlsError> {
        let Some(ca) = &self.tls_ca else {
            return Err(crate::tls::TlsError::Identity(
                "client certificates need an mqtts:// broker with [mqtt.tls]".into(),
            ));
        };
        Ok(Self {
            tls: Some(crate::tls::TlsClient::load(
                &self.addr.host,
                ca,
                Some((cert, key)),
            )?),
            credentials: None,
            ..self.clone()
        })
    }

    /// The TLS client, for an `mqtts://` link.
    pub fn tls(&self) -> Option<&crate::tls::TlsClient> {
        self.tls.as_ref()
    }

    /// A fresh back-off for this link.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(Duration::from_millis(250), self.reconnect_max)
    }
}

/// A TLS failure in `error`, in words an engineer can act on; `None` for
/// any other failure. `options` are the failed connection's.
pub fn tls_failure(error: &rumqttc::ConnectionError, options: &MqttOptions) -> Option<String> {
    let explained = crate::tls::explain(error, &options.broker_address().0);
    #[cfg(feature = "tls")]
    if explained.is_none() {
        if let rumqttc::ConnectionError::Tls(e) = error {
            // No TLS error from the peer, only a closed or broken stream
            // during the handshake: typically a plain listener.
            return Some(format!(
                "TLS to the broker failed: the handshake did not complete ({e}): is that port a TLS listener?"
            ));
        }
    }
    explained
}

/// Exponential back-off with jitter: each wait is between half and all of
/// the current step, which doubles up to a cap.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    step: Duration,
    seed: u64,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            | 1;
        Self {
            first,
            max: max.max(first),
            step: first,
            seed,
        }
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        // xorshift64: plenty for jitter.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let frac = 0.5 + (self.seed % 1000) as f64 / 2000.0;
        let wait = self.step.mul_f64(frac);
        self.step = (self.step * 2).min(self.max);
        wait
    }

    /// Back to the first step (after a success).
    pub fn reset(&mut self) {
        self.step = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let waits: Vec<Duration> = (0..6).map(|_| b.next_wait()).collect();
        let steps = [100, 200, 400, 800, 800, 800];
        for (w, s) in waits.iter().zip(steps) {
            let s = Duration::from_millis(s);
            assert!(*w >= s / 2 && *w <= s, "{w:?} not within half of {s:?}");
        }
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(100));
    }
}
