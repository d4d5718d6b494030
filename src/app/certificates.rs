//! Watches the TLS certificates' expiry dates while the daemon runs: a
//! certificate valid at start-up may expire months later, and the first
//! sign would otherwise be a broker refusing the next reconnection.
//!
//! At start-up and every [`CHECK_INTERVAL`]: a certificate within
//! [`WARN_DAYS`](crate::tls::validity::WARN_DAYS) of its expiry is logged
//! at WARN, an expired one at ERROR (an engineer must act), and the first
//! to expire is shown in the health report.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, warn};

use crate::health::CertificateHealth;
use crate::runtime::Shared;
use crate::time::Timestamp;
use crate::tls::validity::{Due, Expiry};

/// How often the dates are checked again.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(12 * 3600);

/// Checks `expiries` now and every [`CHECK_INTERVAL`] until `stop`.
pub async fn watch(shared: Arc<Shared>, expiries: Vec<Expiry>, mut stop: watch::Receiver<bool>) {
    if expiries.is_empty() {
        // Nothing to watch (no TLS): wait for the stop like the others.
        let _ = stop.changed().await;
        return;
    }
    let mut every = tokio::time::interval(CHECK_INTERVAL);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        check(&shared, &expiries, Timestamp::now().millis() / 1000);
    }
}

/// One check at `now` (seconds since the epoch).
fn check(shared: &Shared, expiries: &[Expiry], now: i64) {
    for e in expiries {
        match e.due(now) {
            Some(Due::Expired { since_days }) => {
                shared.counters.incr("tls.certificates_expired");
                error!(certificate = %e.what, expired_at = %e.date(), since_days, "TLS certificate expired: connections to the broker will fail; replace it and restart rampart");
            }
            Some(Due::Soon { days_left }) => {
                warn!(certificate = %e.what, expires_at = %e.date(), days_left, "TLS certificate expires in {days_left} days: replace it and restart rampart");
            }
            None => {}
        }
    }
    if let Some(first) = expiries.iter().min_by_key(|e| e.not_after) {
        shared.health.certificate(
            CertificateHealth {
                certificate: first.what.clone(),
                expires_at: Timestamp(first.not_after * 1000),
                days_left: (first.not_after - now).div_euclid(86_400),
            },
            shared.clock.now(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_certificate_to_expire_is_reported_in_health() {
        let shared = Shared::new(crate::runtime::Clock::start());
        let day = 86_400;
        let now = 1_800_000_000;
        let expiries = [
            Expiry {
                what: "CA certificate ca.pem".into(),
                not_after: now + 400 * day,
            },
            Expiry {
                what: "client certificate rampart.pem".into(),
                not_after: now + 10 * day + 5,
            },
        ];
        check(&shared, &expiries, now);
        let (_, report) = shared.health.snapshot();
        let tls = report.tls.expect("reported");
        assert_eq!(tls.certificate, "client certificate rampart.pem");
        assert_eq!(tls.days_left, 10);
        assert_eq!(tls.expires_at, Timestamp((now + 10 * day + 5) * 1000));
        check(&shared, &expiries, now + 11 * day);
        let (_, report) = shared.health.snapshot();
        assert_eq!(report.tls.unwrap().days_left, -1, "expired");
        assert_eq!(shared.counters.get("tls.certificates_expired"), 1);
    }
}
