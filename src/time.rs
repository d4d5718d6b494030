//! Time as the core sees it: a [`Timestamp`] is a value passed in, never read
//! from a clock inside the core, so replays and paused-clock tests work.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time (for the edges of the program only).
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    /// Converts a system time, saturating before 1970.
    pub fn from_system(t: SystemTime) -> Self {
        let ms = t
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self(ms)
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This time plus a duration.
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// How long after `earlier` this is (zero if it is not after).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

/// The last millisecond RFC 3339's four-digit years can show.
const LAST_PRINTABLE_MS: i64 = 253_402_300_799_999;

/// RFC 3339, UTC, millisecond precision: `2026-02-07T21:14:03.120Z`. Times
/// before 1970 print as 1970, after 9999 as 9999-12-31T23:59:59.999Z:
/// printing never fails (a failing `Display` would panic inside serde).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.clamp(0, LAST_PRINTABLE_MS) as u64;
        let t = UNIX_EPOCH + Duration::from_millis(ms);
        write!(f, "{}", humantime::format_rfc3339_millis(t))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The RFC 3339 form [`Timestamp`] is written in (UTC, `Z`); finer than a
/// millisecond is truncated, before 1970 is refused.
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rfc3339;
        impl serde::de::Visitor<'_> for Rfc3339 {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 UTC time such as 2026-02-07T21:14:03.120Z")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                humantime::parse_rfc3339(v)
                    .map(Timestamp::from_system)
                    .map_err(|e| E::custom(format_args!("`{v}`: {e}")))
            }
        }
        d.deserialize_str(Rfc3339)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_timestamp_prints_within_rfc3339_years() {
        assert_eq!(Timestamp(-5).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp(i64::MAX).to_string(), "9999-12-31T23:59:59.999Z");
        assert!(serde_json::to_string(&Timestamp(i64::MAX)).is_ok());
    }

    #[test]
    fn formats_rfc3339_with_millis() {
        assert_eq!(
            Timestamp(1_770_498_843_120).to_string(),
            "2026-02-07T21:14:03.120Z"
        );
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [0, 1_770_498_843_120, 1_770_498_843_001, 4_102_444_799_999] {
            let json = serde_json::to_string(&Timestamp(ms)).unwrap();
            let back: Timestamp = serde_json::from_str(&json).unwrap();
            assert_eq!(back, Timestamp(ms), "{json}");
        }
        let whole: Timestamp = serde_json::from_str("\"2026-02-07T21:14:03Z\"").unwrap();
        assert_eq!(whole, Timestamp(1_770_498_843_000));
        for bad in ["\"yesterday\"", "\"2026-02-07 21:14:03\"", "1770498843120"] {
            assert!(serde_json::from_str::<Timestamp>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp(1000);
        assert_eq!(t.plus(Duration::from_millis(500)), Timestamp(1500));
        assert_eq!(Timestamp(500).since(t), Duration::ZERO);
        assert_eq!(t.since(Timestamp(400)), Duration::from_millis(600));
    }
}
