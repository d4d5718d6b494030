//! The wall and its segments.
//!
//! The wall is a polyline of WGS84 vertices read from a GeoJSON LineString
//! (`[lon, lat]` positions). Everything else in the daemon talks about places
//! on it by *chainage*: the distance in metres along the wall from its first
//! vertex. The wall is cut into segments of a configured length `L` (default
//! 1000 m): segment `i` covers chainage `[i·L, (i+1)·L)`, the last one may be
//! shorter and also holds the wall's end. Segment ids are `S` and the index
//! zero-padded to at least three digits (`S007`, `S583`, `S1234`).
//!
//! # Distance model
//!
//! As the interface spec fixes it, so that every implementation puts a point
//! at the same chainage and in the same segment:
//!
//! - the Earth is a sphere of radius [`EARTH_RADIUS_M`] (6 371 008.8 m, the
//!   GRS80 mean radius, which is also `geo::Haversine`'s radius) and distances
//!   are haversine great-circle distances;
//! - each leg between two vertices is the great-circle arc between them;
//! - the chainage of a point off the wall is the chainage of its nearest
//!   point on the legs (clamped to the ends of the legs, so a point beyond
//!   either end of the wall maps to that end).
//!
//! A simpler model would move points by more than a segment boundary can
//! tolerate: on the 583 km demo wall, interpolating legs linearly in
//! latitude/longitude moves mid-leg points by up to about 100 m, and
//! ellipsoidal distances change chainages by up to about 320 m.
//!
//! Point-to-point distances (leg lengths, offsets) and interpolation along a
//! leg use the `geo` crate's [`geo::Haversine`]; the nearest point on a
//! great-circle leg, which `geo` lacks, is computed with unit vectors in the
//! private `sphere` module (its formulas are documented there).
//!
//! # Bad numbers
//!
//! Constructors reject invalid input with a [`WallError`]. The query methods
//! never panic: chainages are clamped to `[0, length]`, NaN chainage counts
//! as 0 (the first vertex), and [`Wall::locate`] of a point with a NaN or
//! infinite coordinate answers chainage 0 with an infinite offset.
//!
//! This module does no I/O apart from [`Wall::load`].

mod geojson;
mod sphere;
#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use geo::{Distance, Haversine, InterpolatePoint, Point};

use sphere::{Foot, Leg, Vec3};

/// Radius in metres of the sphere all wall distances are measured on (the
/// GRS80 mean radius `R₁`).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Consecutive vertices closer than this (1 µm) are the same point. Above
/// rounding noise, which is what separates e.g. `[180, 10]` from `[-180, 10]`
/// or two positions at a pole, and far below any real leg.
const MIN_LEG_M: f64 = 1e-6;

/// The largest wall file [`Wall::load`] reads (a wall of a few hundred
/// thousand vertices); a wrong path must not be read to its end.
pub const MAX_WALL_FILE_BYTES: u64 = 16 << 20;

// `geo::Haversine` must measure on the same sphere.
const _: () = assert!(Haversine.radius() == EARTH_RADIUS_M);

/// A WGS84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LatLon {
    /// Latitude in degrees, positive north.
    pub lat: f64,
    /// Longitude in degrees, positive east.
    pub lon: f64,
}

impl LatLon {
    /// A position from latitude and longitude in degrees (note the order:
    /// GeoJSON writes `[lon, lat]`).
    pub const fn new(lat: f64, lon: f64) -> LatLon {
        LatLon { lat, lon }
    }

    /// Whether both coordinates are finite, the latitude in `[-90, 90]` and
    /// the longitude in `[-180, 180]`.
    pub fn is_valid(self) -> bool {
        (-90.0..=90.0).contains(&self.lat) && (-180.0..=180.0).contains(&self.lon)
    }

    /// Haversine distance in metres to `other` on the [`EARTH_RADIUS_M`]
    /// sphere (NaN if a coordinate is NaN).
    pub fn distance_m(self, other: LatLon) -> f64 {
        Haversine.distance(self.to_point(), other.to_point())
    }

    fn to_point(self) -> Point<f64> {
        Point::new(self.lon, self.lat)
    }

    fn from_point(p: Point<f64>) -> LatLon {
        LatLon {
            lat: p.y(),
            lon: p.x(),
        }
    }
}

/// The index of a wall segment; displays as its id, `S` and the index
/// zero-padded to at least three digits (`S007`, `S583`, `S1234`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentIndex(pub u32);

impl fmt::Display for SegmentIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S{:03}", self.0)
    }
}

/// One segment of the wall: chainage `[start_m, end_m)`, or `[start_m,
/// end_m]` for the last segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Which segment this is.
    pub index: SegmentIndex,
    /// Chainage where the segment starts, `index × L`.
    pub start_m: f64,
    /// Chainage where the next segment starts, or the wall's length for the
    /// last segment.
    pub end_m: f64,
}

impl Segment {
    /// The segment's length in metres (`L`, except perhaps for the last one).
    pub fn length_m(&self) -> f64 {
        self.end_m - self.start_m
    }
}

/// A point placed on the wall by [`Wall::locate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Located {
    /// Chainage of the nearest point on the wall, in metres.
    pub chainage_m: f64,
    /// Distance in metres from the point to the wall (to that nearest point).
    pub offset_m: f64,
    /// The nearest point on the wall.
    pub position: LatLon,
}

/// Why a wall could not be built or loaded. The message (`Display`) tells
/// the whole story, so no variant has an error `source()`.
#[derive(Debug, thiserror::Error)]
pub enum WallError {
    /// The text is not JSON at all.
    #[error("not valid JSON: {0}")]
    NotJson(serde_json::Error),
    /// The JSON holds no LineString where one is accepted.
    #[error("no LineString in the GeoJSON: {0}")]
    NoLineString(String),
    /// The GeoJSON is structurally broken (missing arrays, bad positions).
    #[error("malformed GeoJSON: {0}")]
    MalformedGeoJson(String),
    /// A wall needs at least one leg.
    #[error("the wall needs at least 2 vertices, got {0}")]
    TooFewVertices(usize),
    /// A latitude is NaN, infinite or outside `[-90, 90]`.
    #[error("vertex {index}: latitude {lat} is not in [-90, 90]")]
    BadLatitude {
        /// Index of the vertex, from 0.
        index: usize,
        /// The offending value.
        lat: f64,
    },
    /// A longitude is NaN, infinite or outside `[-180, 180]`.
    #[error("vertex {index}: longitude {lon} is not in [-180, 180]")]
    BadLongitude {
        /// Index of the vertex, from 0.
        index: usize,
        /// The offending value.
        lon: f64,
    },
    /// Two consecutive vertices are the same place (a leg shorter than 1 µm).
    #[error("vertices {index} and {} are the same point (zero-length leg)", index + 1)]
    ZeroLengthLeg {
        /// Index of the leg's first vertex.
        index: usize,
    },
    /// Two consecutive vertices are (nearly) antipodal, so no single great
    /// circle joins them.
    #[error("vertices {index} and {} are antipodal: no great circle joins them", index + 1)]
    AntipodalLeg {
        /// Index of the leg's first vertex.
        index: usize,
    },
    /// The segment length is NaN, infinite, zero or negative.
    #[error("segment length must be a finite number of metres above 0, got {0}")]
    BadSegmentLength(f64),
    /// The segment length is so short that segment indices would overflow `u32`.
    #[error("segment length {segment_length_m} m gives over 2^32 - 1 segments on {length_m:.1} m")]
    TooManySegments {
        /// The wall's length in metres.
        length_m: f64,
        /// The requested segment length in metres.
        segment_length_m: f64,
    },
    /// The wall file could not be read.
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    /// Any of the above, in the named wall file.
    #[error("wall file {}: {error}", path.display())]
    File {
        /// The file as given to [`Wall::load`].
        path: PathBuf,
        /// What is wrong with it.
        error: Box<WallError>,
    },
}

/// The wall: its vertices, legs and segmentation. Cheap queries, no I/O;
/// share it behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Wall {
    vertices: Vec<LatLon>,
    /// Chainage of each vertex: 0, then the running sum of the leg lengths.
    chainages: Vec<f64>,
    /// One per pair of consecutive vertices.
    legs: Vec<Leg>,
    segment_length_m: f64,
    segment_count: u32,
}

impl Wall {
    /// Builds a wall from its vertices (at least two, valid coordinates, no
    /// two consecutive ones at the same place, none antipodal to the next)
    /// and the segment length in metres (finite, above 0).
    pub fn from_vertices(vertices: Vec<LatLon>, segment_length_m: f64) -> Result<Wall, WallError> {
        check_segment_length(segment_length_m)?;
        if vertices.len() < 2 {
            return Err(WallError::TooFewVertices(vertices.len()));
        }
        for (index, v) in vertices.iter().enumerate() {
            check_vertex(index, *v)?;
        }
        let mut chainages = Vec::with_capacity(vertices.len());
        let mut legs = Vec::with_capacity(vertices.len() - 1);
        chainages.push(0.0);
        let mut length_m = 0.0;
        for (index, pair) in vertices.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            let leg_m = a.distance_m(b);
            if !(leg_m.is_finite() && leg_m >= MIN_LEG_M) {
                return Err(WallError::ZeroLengthLeg { index });
            }
            legs.push(Leg::new(a, b).ok_or(WallError::AntipodalLeg { index })?);
            length_m += leg_m;
            chainages.push(length_m);
        }
        let segment_count = count_segments(length_m, segment_length_m)?;
        Ok(Wall {
            vertices,
            chainages,
            legs,
            segment_length_m,
            segment_count,
        })
    }

    /// Builds a wall from GeoJSON text: a LineString geometry, a Feature
    /// whose geometry is a LineString, or a FeatureCollection (its first
    /// LineString Feature is used).
    pub fn from_geojson_str(text: &str, segment_length_m: f64) -> Result<Wall, WallError> {
        // A bad segment length is reported before any problem with the text.
        check_segment_length(segment_length_m)?;
        Wall::from_vertices(geojson::parse_line_string(text)?, segment_length_m)
    }

    /// Reads a GeoJSON wall file (see [`Wall::from_geojson_str`]). Errors about
    /// the file are wrapped in [`WallError::File`], which names it; a bad
    /// segment length is reported as such, before the file is read.
    pub fn load(path: &Path, segment_length_m: f64) -> Result<Wall, WallError> {
        check_segment_length(segment_length_m)?;
        let in_file = |error| WallError::File {
            path: path.to_owned(),
            error: Box::new(error),
        };
        let text = crate::capped::read_to_string(path, MAX_WALL_FILE_BYTES)
            .map_err(|e| in_file(WallError::Read(e)))?;
        Wall::from_geojson_str(&text, segment_length_m).map_err(in_file)
    }

    /// The wall's length in metres: the sum of its legs.
    pub fn length_m(&self) -> f64 {
        self.chainages.last().copied().unwrap_or(0.0)
    }

    /// The nominal segment length `L` in metres.
    pub fn segment_length_m(&self) -> f64 {
        self.segment_length_m
    }

    /// How many segments the wall has (at least 1).
    pub fn segment_count(&self) -> u32 {
        self.segment_count
    }

    /// The vertices, in order.
    pub fn vertices(&self) -> &[LatLon] {
        &self.vertices
    }

    /// The chainage of each vertex, in order: 0 for the first, the wall's
    /// length for the last.
    pub fn vertex_chainages(&self) -> &[f64] {
        &self.chainages
    }

    /// The segment with this index, or `None` past the last one.
    pub fn segment(&self, index: SegmentIndex) -> Option<Segment> {
        (index.0 < self.segment_count).then(|| Segment {
            index,
            start_m: self.segment_start(index.0),
            end_m: self.segment_end(index.0),
        })
    }

    /// All segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        (0..self.segment_count).filter_map(|i| self.segment(SegmentIndex(i)))
    }

    /// The segment holding this chainage. The chainage is clamped to the wall
    /// (NaN counts as 0), so the wall's end belongs to the last segment.
    pub fn segment_at(&self, chainage_m: f64) -> SegmentIndex {
        let c = self.clamp_chainage(chainage_m);
        let last = self.segment_count - 1;
        // `as` saturates; the quotient is finite and non-negative here.
        let mut i = ((c / self.segment_length_m).floor() as u32).min(last);
        // The division may round across a boundary: settle on the segment
        // whose [start, end) as reported by `segment` holds `c`.
        if i > 0 && c < self.segment_start(i) {
            i -= 1;
        } else if i < last && c >= self.segment_start(i + 1) {
            i += 1;
        }
        SegmentIndex(i)
    }

    /// The indices of the segments that the chainage range between `from_m`
    /// and `to_m` (in either order, clamped to the wall, NaN as 0) overlaps.
    /// A range ending exactly on a segment boundary does not reach into the
    /// next segment; an empty range gives the segment of its one point.
    pub fn segments_between(&self, from_m: f64, to_m: f64) -> RangeInclusive<u32> {
        let (a, b) = (self.clamp_chainage(from_m), self.clamp_chainage(to_m));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let first = self.segment_at(lo).0;
        let mut last = self.segment_at(hi).0;
        if hi > lo && last > first && hi <= self.segment_start(last) {
            last -= 1;
        }
        first..=last
    }

    /// The point at this chainage, along the great-circle legs. The chainage
    /// is clamped to the wall (NaN counts as 0); vertex chainages give the
    /// vertices exactly.
    pub fn position_at(&self, chainage_m: f64) -> LatLon {
        let c = self.clamp_chainage(chainage_m);
        let i = self.leg_at(c);
        let (start, end) = (self.vertices[i], self.vertices[i + 1]);
        let leg_m = self.chainages[i + 1] - self.chainages[i];
        let ratio = ((c - self.chainages[i]) / leg_m).clamp(0.0, 1.0);
        LatLon::from_point(Haversine.point_at_ratio_between(
            start.to_point(),
            end.to_point(),
            ratio,
        ))
    }

    /// The nearest point on the wall to `p`, its chainage and its distance
    /// from `p`. Out-of-range but finite coordinates are taken for the place
    /// they denote on the sphere. If `p` has a NaN or infinite coordinate the
    /// answer is chainage 0 at the first vertex with an infinite offset, so
    /// that any distance gate rejects it. When several points of the wall are
    /// equally near, rounding decides which one is returned (an exact tie goes
    /// to the lowest chainage).
    ///
    /// Costs a cheap pass over the legs, then a full nearest-point computation
    /// for the few legs that could hold the answer.
    pub fn locate(&self, p: LatLon) -> Located {
        if !(p.lat.is_finite() && p.lon.is_finite()) {
            return Located {
                chainage_m: 0.0,
                offset_m: f64::INFINITY,
                position: self.vertices[0],
            };
        }
        let u = Vec3::from_lat_lon(p);
        // Each leg's middle is on the wall, so the nearest middle bounds the
        // answer, and a leg whose bounding ball lies wholly beyond that bound
        // cannot hold it; the leg of the nearest middle always passes.
        let bound = self
            .legs
            .iter()
            .map(|leg| leg.chord2_to_mid(u))
            .fold(f64::INFINITY, f64::min)
            .sqrt();
        // A wall has at least one leg. Only a strictly nearer leg replaces
        // the best so far, so exact ties go to the lowest chainage.
        let (mut i, mut nearest) = (0, self.legs[0].nearest(u));
        for (j, leg) in self.legs.iter().enumerate().skip(1) {
            if leg.is_beyond(u, bound) {
                continue;
            }
            let candidate = leg.nearest(u);
            if candidate.chord2 < nearest.chord2 {
                (i, nearest) = (j, candidate);
            }
        }
        let (chainage_m, position) = match nearest.foot {
            Foot::Start => (self.chainages[i], self.vertices[i]),
            Foot::End => (self.chainages[i + 1], self.vertices[i + 1]),
            Foot::Inside(c) => {
                let leg_m = self.chainages[i + 1] - self.chainages[i];
                let along_m = (self.legs[i].along_rad(c) * EARTH_RADIUS_M).clamp(0.0, leg_m);
                (self.chainages[i] + along_m, c.to_lat_lon())
            }
        };
        Located {
            chainage_m,
            offset_m: p.distance_m(position),
            position,
        }
    }

    /// `c` clamped to `[0, length]`, NaN as 0.
    fn clamp_chainage(&self, c: f64) -> f64 {
        if c.is_nan() {
            0.0
        } else {
            c.clamp(0.0, self.length_m())
        }
    }

    /// The index of the leg holding chainage `c` (already clamped): the last
    /// leg starting at or before `c`.
    fn leg_at(&self, c: f64) -> usize {
        let after = self.chainages.partition_point(|&v| v <= c);
        after.saturating_sub(1).min(self.legs.len() - 1)
    }

    fn segment_start(&self, i: u32) -> f64 {
        f64::from(i) * self.segment_length_m
    }

    fn segment_end(&self, i: u32) -> f64 {
        if i + 1 >= self.segment_count {
            self.length_m()
        } else {
            self.segment_start(i + 1)
        }
    }
}

fn check_segment_length(segment_length_m: f64) -> Result<(), WallError> {
    if segment_length_m.is_finite() && segment_length_m > 0.0 {
        Ok(())
    } else {
        Err(WallError::BadSegmentLength(segment_length_m))
    }
}

fn check_vertex(index: usize, v: LatLon) -> Result<(), WallError> {
    if !(-90.0..=90.0).contains(&v.lat) {
        Err(WallError::BadLatitude { index, lat: v.lat })
    } else if !(-180.0..=180.0).contains(&v.lon) {
        Err(WallError::BadLongitude { index, lon: v.lon })
    } else {
        Ok(())
    }
}

/// The number of segments of length `segment_length_m` (valid) needed to
/// cover `length_m` (finite, above 0): the smallest `n ≥ 1` with
/// `n × L ≥ length`, computed the way [`Wall::segment`] computes boundaries,
/// so that every segment is non-empty.
fn count_segments(length_m: f64, segment_length_m: f64) -> Result<u32, WallError> {
    let too_many = || WallError::TooManySegments {
        length_m,
        segment_length_m,
    };
    let estimate = (length_m / segment_length_m).ceil().max(1.0);
    if estimate > f64::from(u32::MAX) {
        return Err(too_many());
    }
    let mut n = estimate as u32;
    while f64::from(n) * segment_length_m < length_m {
        n = n.checked_add(1).ok_or_else(too_many)?;
    }
    while n > 1 && f64::from(n - 1) * segment_length_m >= length_m {
        n -= 1;
    }
    Ok(n)
}
