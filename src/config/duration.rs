//! Durations in config files are strings like `"30s"`, `"500ms"` or
//! `"2m 30s"` (humantime syntax); a zero duration is rejected.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes a duration the way it is read (`"1m 30s"`).
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// Parses a duration, rejecting zero.
pub fn parse(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration `{text}` ({e}); write it like \"30s\" or \"500ms\"")
    })?;
    if d.is_zero() {
        return Err(format!("duration `{text}` must be greater than zero"));
    }
    Ok(d)
}

/// The same for optional fields.
pub mod option {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn parses_human_durations() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2m 30s"), Ok(Duration::from_secs(150)));
        assert!(parse("30").unwrap_err().contains("invalid duration"));
        assert!(parse("0s").unwrap_err().contains("greater than zero"));
    }
}
