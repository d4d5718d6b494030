//! Tests against values worked out independently of this code, with plain
//! Python `math` on the same sphere:
//!
//! ```text
//! R = 6371008.8
//! def hav(lon1, lat1, lon2, lat2):
//!     p1, p2 = radians(lat1), radians(lat2)
//!     dp, dl = radians(lat2 - lat1), radians(lon2 - lon1)
//!     a = sin(dp/2)**2 + cos(p1)*cos(p2)*sin(dl/2)**2
//!     return 2*R*asin(sqrt(a))
//! ```
//!
//! Great-circle midpoints are the normalised sum of the two ends' unit
//! vectors, converted back with `atan2`.

use super::*;

/// R·π/180: one degree of a great circle, e.g. along a meridian or the equator.
const ONE_DEGREE_M: f64 = 111_195.080_233_532_92;

/// The demo wall's vertex chainages: cumulative `hav` over its legs.
const DEMO_CHAINAGES: [f64; 16] = [
    0.0,
    19_942.562_427_991_517,
    38_815.850_642_168_96,
    66_632.308_065_405_2,
    108_054.622_191_174_42,
    131_664.884_625_800_1,
    159_593.602_573_255_46,
    181_905.277_857_634_97,
    259_747.091_288_812_46,
    315_946.468_297_696_8,
    350_356.267_768_010_1,
    385_144.348_480_576_7,
    413_867.706_832_982_13,
    494_331.752_824_715_7,
    538_694.123_535_182_2,
    583_318.968_961_016_7,
];

fn ll(lat: f64, lon: f64) -> LatLon {
    LatLon::new(lat, lon)
}

fn wall(vertices: &[(f64, f64)], segment_length_m: f64) -> Wall {
    let vertices = vertices.iter().map(|&(lat, lon)| ll(lat, lon)).collect();
    Wall::from_vertices(vertices, segment_length_m).unwrap_or_else(|e| panic!("test wall: {e}"))
}

/// (0, 0) → (1, 0) as lat/lon: one degree north along the prime meridian.
fn meridian() -> Wall {
    wall(&[(0.0, 0.0), (1.0, 0.0)], 1000.0)
}

fn demo_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wall-iraq-syria-approx.geojson")
}

fn demo() -> Wall {
    Wall::load(&demo_path(), 1000.0).unwrap_or_else(|e| panic!("demo wall: {e}"))
}

fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected} ± {tolerance}"
    );
}

fn assert_at(actual: LatLon, lat: f64, lon: f64, tolerance_deg: f64) {
    assert_close(actual.lat, lat, tolerance_deg, "lat");
    assert_close(actual.lon, lon, tolerance_deg, "lon");
}

fn rejection(text: &str) -> WallError {
    Wall::from_geojson_str(text, 1000.0).expect_err(text)
}

#[test]
fn radius_matches_geo() {
    assert_eq!(EARTH_RADIUS_M, 6_371_008.8);
    assert_eq!(Haversine.radius(), EARTH_RADIUS_M);
}

#[test]
fn wall_is_shareable() {
    fn shareable<T: fmt::Debug + Clone + Send + Sync + 'static>() {}
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    shareable::<Wall>();
    error::<WallError>();
}

#[test]
fn segment_ids_are_zero_padded() {
    assert_eq!(SegmentIndex(0).to_string(), "S000");
    assert_eq!(SegmentIndex(7).to_string(), "S007");
    assert_eq!(SegmentIndex(583).to_string(), "S583");
    assert_eq!(SegmentIndex(1234).to_string(), "S1234");
}

#[test]
fn meridian_length_and_midpoint() {
    let w = meridian();
    // One degree of latitude: R·π/180.
    assert_close(w.length_m(), ONE_DEGREE_M, 1e-6, "length");
    assert_at(w.position_at(ONE_DEGREE_M / 2.0), 0.5, 0.0, 1e-12);
    assert_eq!(w.position_at(0.0), ll(0.0, 0.0));
    assert_eq!(w.position_at(w.length_m()), ll(1.0, 0.0));
}

#[test]
fn meridian_segments() {
    let w = meridian();
    // ceil(111 195.08 / 1000) = 112 segments, S000 to S111; S111 is the
    // 195.080 233 532 92 m remainder.
    assert_eq!(w.segment_count(), 112);
    assert_eq!(w.segments().count(), 112);
    let s000 = w.segment(SegmentIndex(0));
    assert_eq!(s000.map(|s| (s.start_m, s.end_m)), Some((0.0, 1000.0)));
    let s110 = w.segment(SegmentIndex(110));
    assert_eq!(
        s110.map(|s| (s.start_m, s.end_m)),
        Some((110_000.0, 111_000.0))
    );
    let last = w.segment(SegmentIndex(111)).expect("S111");
    assert_eq!(last.index.to_string(), "S111");
    assert_eq!(last.start_m, 111_000.0);
    assert_eq!(last.end_m, w.length_m());
    assert_close(last.length_m(), 195.080_233_532_92, 1e-6, "last segment");
    assert_eq!(w.segment(SegmentIndex(112)), None);
    let ends: Vec<_> = w.segments().map(|s| s.end_m).collect();
    let starts: Vec<_> = w.segments().skip(1).map(|s| s.start_m).collect();
    assert_eq!(ends[..111], starts[..]);
}

#[test]
fn meridian_segment_at() {
    let w = meridian();
    assert_eq!(w.segment_at(0.0), SegmentIndex(0));
    assert_eq!(w.segment_at(999.999), SegmentIndex(0));
    assert_eq!(w.segment_at(1000.0), SegmentIndex(1));
    assert_eq!(w.segment_at(110_999.9), SegmentIndex(110));
    assert_eq!(w.segment_at(111_000.0), SegmentIndex(111));
    // The wall's end belongs to the last segment; beyond it clamps.
    assert_eq!(w.segment_at(w.length_m()), SegmentIndex(111));
    assert_eq!(w.segment_at(1e9), SegmentIndex(111));
    assert_eq!(w.segment_at(f64::INFINITY), SegmentIndex(111));
    assert_eq!(w.segment_at(-5.0), SegmentIndex(0));
    assert_eq!(w.segment_at(f64::NEG_INFINITY), SegmentIndex(0));
}

#[test]
fn meridian_segments_between() {
    let w = meridian();
    assert_eq!(w.segments_between(500.0, 1500.0), 0..=1);
    assert_eq!(w.segments_between(1500.0, 500.0), 0..=1);
    // Ending on a boundary does not reach into the next segment...
    assert_eq!(w.segments_between(0.0, 1000.0), 0..=0);
    assert_eq!(w.segments_between(1000.0, 3000.0), 1..=2);
    // ...but a single point on it is in the next one.
    assert_eq!(w.segments_between(1000.0, 1000.0), 1..=1);
    assert_eq!(w.segments_between(110_500.0, 1e9), 110..=111);
    assert_eq!(w.segments_between(-1e9, 1e9), 0..=111);
    assert_eq!(w.segments_between(w.length_m(), w.length_m()), 111..=111);
}

#[test]
fn segment_boundaries_agree_with_segment_at() {
    // L = 0.1 m is not exactly representable, so i·L and c/L round; the
    // boundaries `segment` reports must still be those `segment_at` uses.
    let w = wall(&[(0.0, 0.0), (0.0, 0.0001)], 0.1); // ≈ 11.12 m, 112 segments
    assert_eq!(w.segment_count(), 112);
    for s in w.segments() {
        assert!(s.start_m < s.end_m, "{s:?} is empty");
        assert_eq!(w.segment_at(s.start_m), s.index);
        let just_before_end = f64::from_bits(s.end_m.to_bits() - 1);
        assert_eq!(w.segment_at(just_before_end), s.index);
    }
}

#[test]
fn equator_point_north_of_mid_leg() {
    // (0,0) → (0,2) → (0,4) lat/lon. (0.01, 3) is due north of the middle of
    // the second leg, and a meridian crosses the equator at right angles, so
    // its nearest point is (0, 3): chainage 3·R·π/180 = 333 585.240 700 598 7,
    // offset 0.01·R·π/180 = 1 111.950 802 335 329.
    let w = wall(&[(0.0, 0.0), (0.0, 2.0), (0.0, 4.0)], 1000.0);
    for lat in [0.01, -0.01] {
        let at = w.locate(ll(lat, 3.0));
        assert_close(at.chainage_m, 333_585.240_700_598_7, 1e-6, "chainage");
        assert_close(at.offset_m, 1_111.950_802_335_329, 1e-6, "offset");
        assert_at(at.position, 0.0, 3.0, 1e-12);
    }
}

#[test]
fn points_beyond_the_ends_clamp() {
    let w = meridian();
    // Half a degree south of the first vertex: chainage 0, offset
    // 0.5·R·π/180 = 55 597.540 116 766 46.
    let before = w.locate(ll(-0.5, 0.0));
    assert_eq!(before.chainage_m, 0.0);
    assert_eq!(before.position, ll(0.0, 0.0));
    assert_close(before.offset_m, 55_597.540_116_766_46, 1e-6, "offset");
    // Half a degree north of the last vertex: chainage = length.
    let after = w.locate(ll(1.5, 0.0));
    assert_eq!(after.chainage_m, w.length_m());
    assert_eq!(after.position, ll(1.0, 0.0));
    assert_close(after.offset_m, 55_597.540_116_766_46, 1e-6, "offset");
    // Beyond the end and to the side: offset hav(0, 1, 0.3, 1.2)
    // = 40 086.827 276 927 506.
    let aside = w.locate(ll(1.2, 0.3));
    assert_eq!(aside.chainage_m, w.length_m());
    assert_close(aside.offset_m, 40_086.827_276_927_506, 1e-6, "offset");
}

#[test]
fn point_at_a_pole_of_the_legs() {
    // The north pole is 90° from every point of an equator wall: equally
    // near to all of it, so rounding picks the point; the offset is R·π/2.
    let w = wall(&[(0.0, 0.0), (0.0, 2.0), (0.0, 4.0)], 1000.0);
    for p in [ll(90.0, 0.0), ll(-90.0, 123.0)] {
        let at = w.locate(p);
        assert!((0.0..=w.length_m()).contains(&at.chainage_m), "{at:?}");
        assert_close(at.offset_m, 10_007_557.221_017_962, 1e-6, "offset");
        let on_wall = w.position_at(at.chainage_m);
        assert_close(on_wall.distance_m(at.position), 0.0, 1e-6, "position");
    }
}

#[test]
fn position_at_follows_the_great_circle() {
    // (0,0) → (50,80) lat/lon: 9 294 947.280 409 91 m. The great-circle
    // midpoint (normalised sum of the unit vectors) is lat 30.914 664 507 576 443,
    // lon 29.659 771 533 811 046; the linear lat/lon midpoint (25, 40) is
    // 1 208 999.020 079 163 6 m away from it.
    let w = wall(&[(0.0, 0.0), (50.0, 80.0)], 1000.0);
    assert_close(w.length_m(), 9_294_947.280_409_91, 1e-6, "length");
    let mid = w.position_at(w.length_m() / 2.0);
    assert_at(mid, 30.914_664_507_576_443, 29.659_771_533_811_046, 1e-9);
    assert_close(
        mid.distance_m(ll(25.0, 40.0)),
        1_208_999.020_079_163_6,
        1e-3,
        "linear midpoint",
    );
    // Both halves are half the leg.
    assert_close(
        mid.distance_m(ll(0.0, 0.0)),
        4_647_473.640_204_955,
        1e-6,
        "half",
    );
}

#[test]
fn demo_mid_leg_is_not_the_linear_midpoint() {
    // Demo leg 12, (34.17, 40.35) → (33.80, 39.60), chainage 413 867.706… to
    // 494 331.752…; its great-circle midpoint, at chainage 454 099.729 828 848 9,
    // is lat 33.985 568 796 108 49, lon 39.974 183 736 773 48, which is
    // 98.307 267 258 623 3 m from the linear midpoint (33.985, 39.975): the
    // largest such gap on this wall.
    let w = demo();
    let mid = w.position_at(454_099.729_828_848_9);
    assert_at(mid, 33.985_568_796_108_49, 39.974_183_736_773_48, 1e-9);
    assert_close(
        mid.distance_m(ll(33.985, 39.975)),
        98.307_267_258_623_3,
        1e-3,
        "linear midpoint",
    );
}

#[test]
fn antimeridian_crossing() {
    // (0, 179.5) → (0, -179.5) is one degree long, through lon ±180.
    let w = wall(&[(0.0, 179.5), (0.0, -179.5)], 1000.0);
    assert_close(w.length_m(), ONE_DEGREE_M, 1e-6, "length");
    let mid = w.position_at(ONE_DEGREE_M / 2.0);
    assert_close(mid.lat, 0.0, 1e-12, "lat");
    assert_close(mid.lon.abs(), 180.0, 1e-9, "lon");
    let at = w.locate(ll(0.01, -180.0));
    assert_close(at.chainage_m, ONE_DEGREE_M / 2.0, 1e-6, "chainage");
    assert_close(at.offset_m, 1_111.950_802_335_329, 1e-6, "offset");
}

/// A bent three-leg wall, (10, 30) → (10.3, 30.5) → (10.9, 30.2) → (11.2, 31)
/// lat/lon; vertex chainages 0, 64 092.699 798 077 13, 138 431.720 259 968 5,
/// 231 894.292 411 595 76.
fn bent() -> Wall {
    wall(
        &[(10.0, 30.0), (10.3, 30.5), (10.9, 30.2), (11.2, 31.0)],
        1000.0,
    )
}

#[test]
fn bent_wall_vertex_chainages() {
    let expected = [
        0.0,
        64_092.699_798_077_13,
        138_431.720_259_968_5,
        231_894.292_411_595_76,
    ];
    let w = bent();
    for (&got, want) in w.vertex_chainages().iter().zip(expected) {
        assert_close(got, want, 1e-6, "vertex chainage");
    }
    assert_eq!(w.segment_count(), 232);
}

#[test]
fn round_trip_on_bent_wall() {
    let w = bent();
    let steps = 2000;
    for k in 0..=steps {
        let c = w.length_m() * f64::from(k) / f64::from(steps);
        let at = w.locate(w.position_at(c));
        assert_close(at.chainage_m, c, 1e-3, "round trip");
        assert!(at.offset_m < 1e-3, "offset {} at {c}", at.offset_m);
    }
    for (i, &c) in w.vertex_chainages().iter().enumerate() {
        assert_eq!(w.position_at(c), w.vertices()[i]);
        assert_close(w.locate(w.vertices()[i]).chainage_m, c, 1e-6, "vertex");
    }
}

#[test]
fn perpendicular_offsets_keep_chainage() {
    // Stepping off the wall at right angles, less far than the bend, leaves
    // the nearest point where it was.
    use geo::{Bearing, Destination};
    let w = bent();
    for c in [1.0, 20_000.0, 63_000.0, 100_000.0, 200_000.0, 231_000.0] {
        let on = w.position_at(c);
        let ahead = w.position_at(c + 1.0).to_point();
        let heading = Haversine.bearing(on.to_point(), ahead);
        for (turn, off_m) in [(90.0, 250.0), (-90.0, 600.0)] {
            let p = LatLon::from_point(Haversine.destination(on.to_point(), heading + turn, off_m));
            let at = w.locate(p);
            assert_close(at.chainage_m, c, 1e-3, "chainage");
            assert_close(at.offset_m, off_m, 1e-3, "offset");
        }
    }
}

#[test]
fn locate_agrees_with_dense_sampling() {
    // Independent of the nearest-point algebra and of the leg pruning: the
    // nearest of positions sampled every `step` metres is at most `step / 2`
    // farther than the true nearest point, and never nearer.
    let w = demo();
    let step = 50.0;
    let samples: Vec<LatLon> = (0..=(w.length_m() / step).ceil() as u32)
        .map(|k| w.position_at(f64::from(k) * step))
        .collect();
    for i in 0..10 {
        for j in 0..9 {
            let p = ll(33.0 + 0.5 * f64::from(i), 38.5 + 0.5 * f64::from(j));
            let sampled = samples
                .iter()
                .map(|s| p.distance_m(*s))
                .fold(f64::INFINITY, f64::min);
            let at = w.locate(p);
            assert!(
                at.offset_m <= sampled + 1e-6 && at.offset_m >= sampled - step / 2.0,
                "{p:?}: located {at:?}, sampled {sampled}"
            );
            assert_close(at.offset_m, p.distance_m(at.position), 1e-9, "offset");
            let on_wall = w.position_at(at.chainage_m);
            assert_close(on_wall.distance_m(at.position), 0.0, 1e-6, "position");
        }
    }
}

#[test]
fn demo_wall_file() {
    let w = demo();
    assert_eq!(w.vertices().len(), 16);
    assert_eq!(w.vertices()[0], ll(37.107, 42.355));
    assert_close(w.length_m(), 583_318.968_961_016_7, 1e-3, "length");
    // ceil(583 318.97 / 1000) = 584: S000 to S583.
    assert_eq!(w.segment_count(), 584);
    assert_eq!(w.segment_at(w.length_m()).to_string(), "S583");
    for (i, (&got, want)) in w.vertex_chainages().iter().zip(DEMO_CHAINAGES).enumerate() {
        assert_close(got, want, 1e-3, &format!("vertex {i} chainage"));
        let at = w.locate(w.vertices()[i]);
        assert_close(at.chainage_m, want, 1e-3, &format!("vertex {i} located"));
        assert!(at.offset_m < 1e-6);
    }
    // Vertex 8 (35.2, 41.22) at 259 747.09 m is in S259.
    assert_eq!(w.segment_at(DEMO_CHAINAGES[8]), SegmentIndex(259));
}

#[test]
fn geojson_forms_accepted() {
    let line = r#"{"type": "LineString", "coordinates": [[0, 0], [0, 1, 250.0]]}"#;
    let feature = format!(r#"{{"type": "Feature", "properties": {{}}, "geometry": {line}}}"#);
    let collection = format!(
        r#"{{"type": "FeatureCollection", "features": [
            {{"type": "Feature", "properties": null,
              "geometry": {{"type": "Point", "coordinates": [5, 5]}}}},
            {feature},
            {{"type": "Feature", "properties": null,
              "geometry": {{"type": "LineString", "coordinates": [[9, 9], [9, 8]]}}}}
        ]}}"#
    );
    for text in [line, &feature, &collection] {
        let w = Wall::from_geojson_str(text, 1000.0).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(w.vertices(), &[ll(0.0, 0.0), ll(1.0, 0.0)]);
        assert_close(w.length_m(), ONE_DEGREE_M, 1e-6, "length");
    }
}

#[test]
fn geojson_not_json() {
    assert!(matches!(rejection("{\"type\": "), WallError::NotJson(_)));
    assert!(matches!(rejection(""), WallError::NotJson(_)));
}

#[test]
fn geojson_without_line_string() {
    for text in [
        r#"{"type": "Point", "coordinates": [0, 0]}"#,
        r#"{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}}"#,
        r#"{"type": "Feature", "geometry": null}"#,
        r#"{"type": "FeatureCollection", "features": []}"#,
        r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "MultiLineString", "coordinates": []}}]}"#,
        r#"{"coordinates": [[0, 0], [0, 1]]}"#,
        "[[0, 0], [0, 1]]",
    ] {
        let e = rejection(text);
        assert!(matches!(e, WallError::NoLineString(_)), "{text}: {e}");
    }
}

#[test]
fn geojson_malformed() {
    for text in [
        r#"{"type": "LineString"}"#,
        r#"{"type": "LineString", "coordinates": {"a": 1}}"#,
        r#"{"type": "LineString", "coordinates": [[0, 0], [1]]}"#,
        r#"{"type": "LineString", "coordinates": [[0, 0], ["1", "2"]]}"#,
        r#"{"type": "LineString", "coordinates": [[0, 0], 5]}"#,
        r#"{"type": "FeatureCollection"}"#,
    ] {
        let e = rejection(text);
        assert!(matches!(e, WallError::MalformedGeoJson(_)), "{text}: {e}");
    }
}

#[test]
fn geojson_too_few_vertices() {
    for (text, n) in [
        (r#"{"type": "LineString", "coordinates": []}"#, 0),
        (r#"{"type": "LineString", "coordinates": [[1, 2]]}"#, 1),
    ] {
        let e = rejection(text);
        assert!(
            matches!(e, WallError::TooFewVertices(got) if got == n),
            "{e}"
        );
    }
}

#[test]
fn geojson_out_of_range() {
    let lat = rejection(r#"{"type": "LineString", "coordinates": [[0, 0], [0, 90.5]]}"#);
    assert!(
        matches!(lat, WallError::BadLatitude { index: 1, .. }),
        "{lat}"
    );
    let lon = rejection(r#"{"type": "LineString", "coordinates": [[-180.01, 0], [0, 1]]}"#);
    assert!(
        matches!(lon, WallError::BadLongitude { index: 0, .. }),
        "{lon}"
    );
    // The extremes themselves are fine.
    let edge = r#"{"type": "LineString", "coordinates": [[-180, -90], [180, 0], [180, 90]]}"#;
    assert!(Wall::from_geojson_str(edge, 1000.0).is_ok());
}

#[test]
fn non_finite_vertices() {
    let cases = [
        (
            ll(f64::NAN, 0.0),
            "vertex 1: latitude NaN is not in [-90, 90]",
        ),
        (
            ll(f64::INFINITY, 0.0),
            "vertex 1: latitude inf is not in [-90, 90]",
        ),
        (
            ll(0.0, f64::NAN),
            "vertex 1: longitude NaN is not in [-180, 180]",
        ),
        (
            ll(0.0, f64::NEG_INFINITY),
            "vertex 1: longitude -inf is not in [-180, 180]",
        ),
    ];
    for (bad, message) in cases {
        let e = Wall::from_vertices(vec![ll(1.0, 1.0), bad], 1000.0).expect_err(message);
        assert_eq!(e.to_string(), message);
    }
}

#[test]
fn geojson_zero_length_leg() {
    let e = rejection(r#"{"type": "LineString", "coordinates": [[0, 0], [0, 1], [0, 1], [0, 2]]}"#);
    assert!(matches!(e, WallError::ZeroLengthLeg { index: 1 }), "{e}");
    assert_eq!(
        e.to_string(),
        "vertices 1 and 2 are the same point (zero-length leg)"
    );
    // Different numbers, same place: hav gives 1.5e-9 m and 3e-10 m.
    let e = rejection(r#"{"type": "LineString", "coordinates": [[180, 10], [-180, 10]]}"#);
    assert!(matches!(e, WallError::ZeroLengthLeg { index: 0 }), "{e}");
    let e = rejection(r#"{"type": "LineString", "coordinates": [[0, 80], [0, 90], [45, 90]]}"#);
    assert!(matches!(e, WallError::ZeroLengthLeg { index: 1 }), "{e}");
}

#[test]
fn antipodal_leg() {
    let e = rejection(r#"{"type": "LineString", "coordinates": [[0, 10], [180, -10]]}"#);
    assert!(matches!(e, WallError::AntipodalLeg { index: 0 }), "{e}");
}

#[test]
fn bad_segment_lengths() {
    let line = r#"{"type": "LineString", "coordinates": [[0, 0], [0, 1]]}"#;
    for l in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = Wall::from_geojson_str(line, l).expect_err("bad L accepted");
        assert!(matches!(e, WallError::BadSegmentLength(_)), "{l}: {e:?}");
        // Reported as such, not as a file error, even when the file is missing.
        let e = Wall::load(Path::new("/nonexistent/wall.geojson"), l).expect_err("loaded");
        assert!(matches!(e, WallError::BadSegmentLength(_)), "{l}: {e:?}");
    }
    // 583 km in 0.1 mm pieces is 5.8e9 segments, more than a u32 counts.
    let e = Wall::load(&demo_path(), 1e-4).expect_err("5.8e9 segments");
    let (_, inner) = file_error(e);
    assert!(
        matches!(inner, WallError::TooManySegments { .. }),
        "{inner:?}"
    );
    for l in [1e-5, f64::MIN_POSITIVE] {
        let e = Wall::from_geojson_str(line, l).expect_err("too many segments");
        assert!(matches!(e, WallError::TooManySegments { .. }), "{l}: {e:?}");
    }
    // One segment when L exceeds the wall.
    let w = Wall::from_geojson_str(line, 1e9).expect("L = 1e9");
    assert_eq!(w.segment_count(), 1);
    assert_eq!(w.segments().count(), 1);
}

/// The path and the inner error of a [`WallError::File`].
fn file_error(e: WallError) -> (PathBuf, WallError) {
    match e {
        WallError::File { path, error } => (path, *error),
        other => panic!("not a file error: {other:?}"),
    }
}

#[test]
fn load_errors_name_the_file() {
    let missing = Path::new("/nonexistent/wall.geojson");
    let e = Wall::load(missing, 1000.0).expect_err("a missing file loaded");
    let msg = e.to_string();
    let (path, inner) = file_error(e);
    assert_eq!(path, missing);
    assert!(matches!(inner, WallError::Read(_)), "{inner:?}");
    assert!(
        msg.starts_with("wall file /nonexistent/wall.geojson: cannot read: "),
        "{msg}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let point = dir.path().join("point.geojson");
    std::fs::write(&point, r#"{"type": "Point", "coordinates": [0, 0]}"#).expect("write");
    let e = Wall::load(&point, 1000.0).expect_err("a Point loaded");
    assert_eq!(
        e.to_string(),
        format!(
            "wall file {}: no LineString in the GeoJSON: the top-level object is a Point",
            point.display()
        )
    );
    let (path, inner) = file_error(e);
    assert_eq!(path, point);
    assert!(matches!(inner, WallError::NoLineString(_)), "{inner:?}");
}

#[test]
fn nan_queries_do_not_panic() {
    let w = bent();
    assert_eq!(w.segment_at(f64::NAN), SegmentIndex(0));
    assert_eq!(w.segments_between(f64::NAN, f64::NAN), 0..=0);
    assert_eq!(w.segments_between(f64::NAN, 1500.0), 0..=1);
    assert_eq!(w.position_at(f64::NAN), w.vertices()[0]);
    assert_eq!(w.position_at(f64::NEG_INFINITY), w.vertices()[0]);
    assert_eq!(w.position_at(f64::INFINITY), w.vertices()[3]);
    for p in [
        ll(f64::NAN, 30.0),
        ll(10.0, f64::NAN),
        ll(f64::INFINITY, 30.0),
        ll(10.0, f64::NEG_INFINITY),
    ] {
        let at = w.locate(p);
        assert_eq!(at.chainage_m, 0.0);
        assert_eq!(at.offset_m, f64::INFINITY);
        assert_eq!(at.position, w.vertices()[0]);
    }
    // Finite but out of range: lat 100 is lat 80 on the far meridian.
    let at = w.locate(ll(100.0, 30.0));
    assert!(at.chainage_m.is_finite() && at.offset_m.is_finite());
}

#[test]
fn lat_lon_helpers() {
    assert!(ll(90.0, -180.0).is_valid());
    assert!(!ll(90.1, 0.0).is_valid());
    assert!(!ll(0.0, f64::NAN).is_valid());
    assert_close(
        ll(0.0, 0.0).distance_m(ll(1.0, 0.0)),
        ONE_DEGREE_M,
        1e-6,
        "1°",
    );
    assert_eq!(
        serde_json::to_string(&ll(1.5, -2.0)).ok().as_deref(),
        Some(r#"{"lat":1.5,"lon":-2.0}"#)
    );
}
