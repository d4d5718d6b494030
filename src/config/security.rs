//! What `check-config` says of a config's security, so an engineer sees it
//! at a glance: how the broker is reached (TLS or not), which controllers
//! sign their sentences and which are not authenticated, and TLS
//! certificates near or past their expiry.

use super::Config;
use crate::tls::validity::Due;

/// The summary: two phrases for the `ok` line and warnings for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuritySummary {
    /// `TLS, client certificate`, `plain TCP, no TLS`, ...
    pub transport: String,
    /// `2 of 3 controllers sign their sentences; not authenticated: t1`.
    pub sentences: String,
    /// Certificates within 30 days of expiry.
    pub warnings: Vec<String>,
    /// Certificates past their expiry: the connection will fail.
    pub errors: Vec<String>,
}

/// At most this many unauthenticated controllers are named.
const NAMED: usize = 5;

/// The summary of a loaded (validated) config at `now` (seconds since the
/// epoch).
pub fn summary(config: &Config, now: i64) -> SecuritySummary {
    let tls = config.mqtt.tls.as_ref();
    let transport = match (config.mqtt.embedded_broker, tls) {
        (true, _) => "embedded, loopback only, no TLS".to_owned(),
        (false, Some(t)) if t.cert_file.is_some() => "TLS, client certificate".to_owned(),
        (false, Some(_)) => "TLS".to_owned(),
        (false, None) if config.mqtt.username.is_some() => {
            "plain TCP, no TLS: the password crosses the network in clear".to_owned()
        }
        (false, None) => "plain TCP, no TLS".to_owned(),
    };
    let controllers: Vec<&str> = config.controller_ids().collect();
    let unkeyed: Vec<&str> = controllers
        .iter()
        .copied()
        .filter(|id| config.auth.keys.get(id).is_none())
        .collect();
    let sentences = if controllers.is_empty() {
        "no controllers".to_owned()
    } else if unkeyed.len() == controllers.len() {
        "sentences not authenticated (no keys)".to_owned()
    } else if unkeyed.is_empty() {
        format!("all {} controllers sign their sentences", controllers.len())
    } else {
        let mut named = unkeyed[..unkeyed.len().min(NAMED)].join(", ");
        if unkeyed.len() > NAMED {
            named.push_str(&format!(" and {} more", unkeyed.len() - NAMED));
        }
        format!(
            "{} of {} controllers sign their sentences; not authenticated: {named}",
            controllers.len() - unkeyed.len(),
            controllers.len()
        )
    };
    let (mut warnings, mut errors) = (Vec::new(), Vec::new());
    let expiries = tls
        .and_then(|t| t.client.as_ref())
        .map(|client| client.expiries())
        .unwrap_or_default();
    for e in expiries {
        match e.due(now) {
            Some(Due::Expired { .. }) => errors.push(format!("{} expired on {}", e.what, e.date())),
            Some(Due::Soon { days_left }) => warnings.push(format!(
                "{} expires in {days_left} days, on {}",
                e.what,
                e.date()
            )),
            None => {}
        }
    }
    SecuritySummary {
        transport,
        sentences,
        warnings,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Key, Keys};

    #[test]
    fn names_the_unauthenticated_controllers_and_the_transport() {
        let (mut config, _) = crate::testkit::fixture();
        let s = summary(&config, 0);
        assert_eq!(s.transport, "plain TCP, no TLS");
        assert_eq!(s.sentences, "sentences not authenticated (no keys)");
        assert!(s.warnings.is_empty());
        let mut keys = Keys::none();
        keys.insert(&config.fence[0].id, Key::new([7; 32]));
        config.auth.keys = std::sync::Arc::new(keys);
        let s = summary(&config, 0);
        let total = config.fence.len() + config.trench.len();
        assert!(
            s.sentences.starts_with(&format!(
                "1 of {total} controllers sign their sentences; not authenticated: "
            )) && !s.sentences.contains(&config.fence[0].id),
            "{}",
            s.sentences
        );
        config.mqtt.embedded_broker = true;
        assert_eq!(
            summary(&config, 0).transport,
            "embedded, loopback only, no TLS"
        );
    }

    #[test]
    fn certificates_near_or_past_expiry_are_warnings_or_errors() {
        let (mut config, _) = crate::testkit::fixture();
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["broker".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2027, 1, 15);
        let cert = params.self_signed(&key).unwrap();
        let end = crate::tls::validity::not_after(cert.der()).unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.pem()).unwrap();
        config.mqtt.tls = Some(crate::config::TlsConfig {
            client: Some(crate::tls::TlsClient::load("broker", &ca, None).unwrap()),
            ca_file: ca,
            cert_file: None,
            key_file: None,
        });
        let at = |days_before: i64| summary(&config, end - days_before * 86_400);
        let far = at(40);
        assert!(far.warnings.is_empty() && far.errors.is_empty());
        let soon = at(12);
        assert_eq!(soon.warnings.len(), 1, "{soon:?}");
        assert!(soon.warnings[0].contains("expires in 12 days, on 2027-01-15"));
        assert!(soon.errors.is_empty());
        let past = at(-3);
        assert_eq!(past.errors.len(), 1, "{past:?}");
        assert!(past.errors[0].contains("expired on 2027-01-15"));
        assert_eq!(past.transport, "TLS");
    }
}
