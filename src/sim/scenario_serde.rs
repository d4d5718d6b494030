//! The hand-written serde parts of scenarios: [`Heading`] (a word or a
//! bearing) and `at` times (durations where zero is allowed).

use serde::{Deserialize, Serialize};

use super::Heading;

impl Serialize for Heading {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Heading::TowardsWall => s.serialize_str("towards_wall"),
            Heading::AwayFromWall => s.serialize_str("away_from_wall"),
            Heading::AlongWall => s.serialize_str("along_wall"),
            Heading::Bearing(b) => s.serialize_f64(*b),
        }
    }
}

impl<'de> Deserialize<'de> for Heading {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Heading;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "\"towards_wall\", \"away_from_wall\", \"along_wall\" \
                     or a bearing in degrees",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Heading, E> {
                match v {
                    "towards_wall" => Ok(Heading::TowardsWall),
                    "away_from_wall" => Ok(Heading::AwayFromWall),
                    "along_wall" => Ok(Heading::AlongWall),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Heading, E> {
                if v.is_finite() {
                    Ok(Heading::Bearing(v.rem_euclid(360.0)))
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Heading, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Heading, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `at` of an object: a duration like `"5s"`, where zero is allowed.
pub(super) mod at_time {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        crate::config::duration::serialize(d, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration `{text}` ({e}); write it like \"0s\" or \"2m 30s\""
            ))
        })
    }
}
