//! Just enough GeoJSON (RFC 7946) to find the wall's LineString: a bare
//! LineString geometry, a Feature whose geometry is one, or the first such
//! Feature of a FeatureCollection.

use serde_json::Value;

use super::{LatLon, WallError};

/// The vertices of the LineString in a GeoJSON text, in file order. Ranges
/// are not checked here; [`super::Wall::from_vertices`] does that.
pub(super) fn parse_line_string(text: &str) -> Result<Vec<LatLon>, WallError> {
    let root: Value = serde_json::from_str(text).map_err(WallError::NotJson)?;
    find_coordinates(&root)?
        .iter()
        .enumerate()
        .map(|(index, position)| parse_position(index, position))
        .collect()
}

/// The `coordinates` array of the LineString `root` is or holds.
fn find_coordinates(root: &Value) -> Result<&[Value], WallError> {
    match type_of(root) {
        Some("LineString") => coordinates(root),
        Some("Feature") => match feature_line_string(root) {
            Some(geometry) => coordinates(geometry),
            None => Err(WallError::NoLineString(format!(
                "the Feature's geometry is {}, not a LineString",
                describe(root.get("geometry"))
            ))),
        },
        Some("FeatureCollection") => {
            let features = root
                .get("features")
                .and_then(Value::as_array)
                .ok_or_else(|| malformed("the FeatureCollection has no \"features\" array"))?;
            match features.iter().find_map(feature_line_string) {
                Some(geometry) => coordinates(geometry),
                None => Err(WallError::NoLineString(format!(
                    "none of the FeatureCollection's {} features is a LineString",
                    features.len()
                ))),
            }
        }
        Some(other) => Err(WallError::NoLineString(format!(
            "the top-level object is a {other}"
        ))),
        None => Err(WallError::NoLineString(
            "the JSON is not a GeoJSON object (no \"type\" member)".to_owned(),
        )),
    }
}

/// The geometry of `feature` if it is a Feature with a LineString geometry.
fn feature_line_string(feature: &Value) -> Option<&Value> {
    if type_of(feature) != Some("Feature") {
        return None;
    }
    feature
        .get("geometry")
        .filter(|geometry| type_of(geometry) == Some("LineString"))
}

/// The `type` member of a GeoJSON object.
fn type_of(value: &Value) -> Option<&str> {
    value.get("type").and_then(Value::as_str)
}

/// How a Feature's `geometry` member looks, for error messages.
fn describe(geometry: Option<&Value>) -> String {
    match geometry {
        None => "missing".to_owned(),
        Some(Value::Null) => "null".to_owned(),
        Some(g) => match type_of(g) {
            Some(t) => format!("a {t}"),
            None => "not a GeoJSON geometry".to_owned(),
        },
    }
}

fn coordinates(line_string: &Value) -> Result<&[Value], WallError> {
    line_string
        .get("coordinates")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| malformed("the LineString has no \"coordinates\" array"))
}

/// One GeoJSON position, `[lon, lat]` or `[lon, lat, altitude]`; anything
/// after the latitude is ignored.
fn parse_position(index: usize, position: &Value) -> Result<LatLon, WallError> {
    let number = |i: usize| position.get(i).and_then(Value::as_f64);
    match (number(0), number(1)) {
        (Some(lon), Some(lat)) => Ok(LatLon { lat, lon }),
        _ => Err(malformed(&format!(
            "position {index} is not an array of at least two numbers [lon, lat]: {position}"
        ))),
    }
}

fn malformed(what: &str) -> WallError {
    WallError::MalformedGeoJson(what.to_owned())
}
