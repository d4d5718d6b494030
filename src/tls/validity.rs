//! When certificates stop being valid: the `notAfter` date read from a
//! certificate's DER, and the warnings due as it nears. Pure: the caller
//! gives the time.
//!
//! Only as much DER is read as leads to the validity field (tbsCertificate:
//! optional version, serial, signature algorithm, issuer, validity); a
//! certificate that does not parse that far simply has no known expiry
//! (rustls has already accepted it as a certificate).

/// Warn this many days ahead of an expiry.
pub const WARN_DAYS: i64 = 30;

/// One certificate's expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// Which certificate, for an engineer: `client certificate rampart.pem`.
    pub what: String,
    /// `notAfter`, seconds since the Unix epoch.
    pub not_after: i64,
}

/// How soon a certificate expires, as of a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Expired: the broker (or this daemon) will refuse it.
    Expired { since_days: i64 },
    /// Within [`WARN_DAYS`].
    Soon { days_left: i64 },
}

impl Expiry {
    /// How soon this expires at `now` (seconds since the epoch), if within
    /// [`WARN_DAYS`] or past.
    pub fn due(&self, now: i64) -> Option<Due> {
        let left = self.not_after - now;
        if left < 0 {
            Some(Due::Expired {
                since_days: -left / 86_400,
            })
        } else if left < WARN_DAYS * 86_400 {
            Some(Due::Soon {
                days_left: left / 86_400,
            })
        } else {
            None
        }
    }

    /// `notAfter` as `YYYY-MM-DD HH:MM:SS UTC`.
    pub fn date(&self) -> String {
        let days = self.not_after.div_euclid(86_400);
        let secs = self.not_after.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// The `notAfter` of a DER certificate, in seconds since the epoch.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert, _) = element(der)?;
    let (_, tbs, _) = element(cert)?;
    let mut rest = tbs;
    // [0] EXPLICIT version, if present.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    for _ in 0..3 {
        // serialNumber, signature, issuer
        rest = element(rest)?.2;
    }
    let (tag, validity, _) = element(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, after) = element(validity)?; // notBefore
    let (tag, time, _) = element(after)?;
    // ASCII only: every slice below is then on a character boundary.
    let text = std::str::from_utf8(time).ok().filter(|t| t.is_ascii())?;
    match tag {
        0x17 => utc_time(text),
        0x18 => generalized_time(text),
        _ => None,
    }
}

/// One DER element: its tag, its contents, and what follows it.
fn element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// `YYMMDDHHMMSSZ` (RFC 5280: YY < 50 is 20YY).
fn utc_time(text: &str) -> Option<i64> {
    let yy: i64 = digits(text.get(0..2)?)?;
    let year = if yy < 50 { 2000 + yy } else { 1900 + yy };
    seconds(year, text.get(2..)?)
}

/// `YYYYMMDDHHMMSSZ`.
fn generalized_time(text: &str) -> Option<i64> {
    seconds(digits(text.get(0..4)?)?, text.get(4..)?)
}

/// `MMDDHHMMSSZ` of `year`, as seconds since the epoch.
fn seconds(year: i64, text: &str) -> Option<i64> {
    if text.len() != 11 || !text.ends_with('Z') {
        return None;
    }
    let field = |i: usize| digits(&text[i..i + 2]);
    let (month, day) = (field(0)?, field(2)?);
    let (h, m, s) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 59 {
        return None;
    }
    // Years are four digits at most, so this never overflows, and it stays
    // within what timestamps can print (up to 9999-12-31T23:59:59Z).
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

fn digits(text: &str) -> Option<i64> {
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse().ok())
        .flatten()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_known_days_are_right() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 26), 20_783);
        for z in [-1000, 0, 11_016, 11_017, 20_783, 800_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(
            utc_time("491231235959Z"),
            Some(days_from_civil(2049, 12, 31) * 86_400 + 86_399)
        );
        assert_eq!(
            utc_time("500101000000Z"),
            Some(days_from_civil(1950, 1, 1) * 86_400)
        );
        assert_eq!(
            generalized_time("20260229000000Z"),
            Some(days_from_civil(2026, 3, 1) * 86_400)
        );
        assert_eq!(utc_time("2601010000Z"), None, "too short");
        assert_eq!(generalized_time("20261301000000Z"), None, "month 13");
    }

    #[test]
    fn the_expiry_is_read_from_a_certificate_and_warned_ahead() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["broker".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2027, 1, 15);
        let cert = params.self_signed(&key).unwrap();
        let at = not_after(cert.der()).expect("parsed");
        assert_eq!(at, days_from_civil(2027, 1, 15) * 86_400);
        let e = Expiry {
            what: "client certificate c.pem".into(),
            not_after: at,
        };
        assert_eq!(e.date(), "2027-01-15 00:00:00 UTC");
        let day = 86_400;
        assert_eq!(e.due(at - 31 * day), None);
        assert_eq!(e.due(at - 30 * day + 1), Some(Due::Soon { days_left: 29 }));
        assert_eq!(e.due(at - 1), Some(Due::Soon { days_left: 0 }));
        assert_eq!(e.due(at + 3 * day), Some(Due::Expired { since_days: 3 }));
        // Far-future dates use GeneralizedTime (rcgen's default 4096).
        let far = rcgen::CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert_eq!(
            not_after(far.der()),
            Some(days_from_civil(4096, 1, 1) * 86_400)
        );
        // Truncated or foreign bytes give no date, never a panic.
        for n in 0..cert.der().len() {
            let _ = not_after(&cert.der()[..n]);
        }
        assert_eq!(not_after(b"\x30\x84\xff\xff\xff\xff"), None);
    }

    /// A minimal certificate whose notAfter is `time` with DER tag `tag`.
    fn with_time(tag: u8, time: &[u8]) -> Vec<u8> {
        let wrap = |tag: u8, body: &[u8]| {
            let mut v = vec![tag, body.len() as u8];
            v.extend_from_slice(body);
            v
        };
        let validity = [wrap(0x17, b"200101000000Z"), wrap(tag, time)].concat();
        let tbs = [
            wrap(0x02, &[1]),
            wrap(0x30, &[]),
            wrap(0x30, &[]),
            wrap(0x30, &validity),
        ]
        .concat();
        wrap(0x30, &wrap(0x30, &tbs))
    }

    #[test]
    fn hostile_times_give_no_date_and_never_panic() {
        assert_eq!(
            not_after(&with_time(0x17, b"260101000000Z")),
            Some(days_from_civil(2026, 1, 1) * 86_400)
        );
        // Non-ASCII bytes where digits belong (a regression: this sliced
        // through a character and panicked).
        assert_eq!(
            not_after(&with_time(0x17, "26\u{e9}0000000Z".as_bytes())),
            None
        );
        assert_eq!(
            not_after(&with_time(0x18, "2026\u{e9}00000000Z".as_bytes())),
            None
        );
        // A leap second at the end of time would overflow what timestamps print.
        assert_eq!(not_after(&with_time(0x18, b"99991231235960Z")), None);
        assert_eq!(
            not_after(&with_time(0x18, b"99991231235959Z")),
            Some(253_402_300_799)
        );
        assert_eq!(not_after(&with_time(0x17, b"26+101000000Z")), None);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_a_date_or_none(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = not_after(&bytes);
        }

        #[test]
        fn any_time_field_gives_a_date_or_none(tag in 0x17u8..=0x18, time in proptest::collection::vec(proptest::num::u8::ANY, 0..20)) {
            let _ = not_after(&with_time(tag, &time));
        }
    }
}
