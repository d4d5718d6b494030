//! Tests against values worked out independently of this code, with Python
//! `mpmath` (40 digits) on the same sphere. The ray of pixel `(u, v)` is built
//! from the axes in the module doc, but the ground point comes from the
//! triangle (Earth's centre, camera, hit) instead of the quadratic:
//!
//! ```text
//! R = 6371008.8
//! fx = 320/tan(15°) = 1194.2562584220407,  fy = 256/tan(10°) = 1451.8481458221336
//! δ     = asin(−w_up/|w|)                       depression of the ray
//! θ     = asin((R + h)·cos δ / R) − (90° − δ)   central angle (law of sines)
//! range = R·θ,  slant = R·sin θ / cos δ,  bearing = atan2(w_east, w_north)
//! lat2  = asin(sin φ cos(D/R) + cos φ sin(D/R) cos β)
//! lon2  = λ + atan2(sin β sin(D/R) cos φ, cos(D/R) − sin φ sin lat2)
//! ```

use super::*;

/// The camera foot of every test mount.
const FOOT: LatLon = LatLon::new(36.0, 41.0);

fn mount(heading_deg: f64, tilt_deg: f64) -> Mount {
    Mount {
        position: FOOT,
        height_m: 10.0,
        heading_deg,
        tilt_deg,
        hfov_deg: 30.0,
        vfov_deg: 20.0,
    }
}

/// A 640×512 camera, 10 m up at [`FOOT`], 30° × 20° field of view.
fn camera(heading_deg: f64, tilt_deg: f64) -> CameraModel {
    CameraModel::new(mount(heading_deg, tilt_deg), 640, 512)
        .unwrap_or_else(|e| panic!("test camera: {e}"))
}

/// The test cameras' main case: looking east, 5° down.
fn east() -> CameraModel {
    camera(90.0, 5.0)
}

fn hit(cam: &CameraModel, u: f64, v: f64) -> GroundHit {
    cam.ground_point(u, v)
        .unwrap_or_else(|| panic!("pixel ({u}, {v}) should see the ground"))
}

fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected} ± {tolerance}"
    );
}

/// Positions within 1e-9° (about 0.1 mm).
fn assert_at(actual: LatLon, lat: f64, lon: f64) {
    assert_close(actual.lat, lat, 1e-9, "lat");
    assert_close(actual.lon, lon, 1e-9, "lon");
}

#[test]
fn focal_lengths_and_principal_point() {
    let cam = east();
    let (fx, fy) = cam.focal_px();
    // 320/tan(15°), 256/tan(10°)
    assert_close(fx, 1_194.256_258_422_040_7, 1e-9, "fx");
    assert_close(fy, 1_451.848_145_822_133_6, 1e-9, "fy");
    assert_eq!(cam.principal_point(), (320.0, 256.0));
    assert_eq!(cam.image_size(), (640, 512));
    assert_eq!(cam.mount(), &mount(90.0, 5.0));
}

#[test]
fn principal_point_looking_east() {
    let cam = east();
    let at = hit(&cam, 320.0, 256.0);
    // δ = 5°: θ = asin((R + 10)·cos 5° / R) − 85°, range = R·θ. The flat
    // model's 10/tan 5° = 114.300 523 m is 11.7 mm short.
    assert_close(at.range_m, 114.312_244_866_594_9, 1e-6, "range");
    assert!(at.range_m - 10.0 / 5f64.to_radians().tan() > 0.011);
    // R·sin θ / cos 5°
    assert_close(at.slant_m, 114.748_899_065_043_67, 1e-6, "slant");
    assert_close(at.bearing_deg, 90.0, 1e-9, "bearing");
    // Due east along the great circle, which bends slightly south.
    assert_at(at.position, 35.999_999_993_299_26, 41.001_270_719_037_31);
    let geo = Haversine.destination(Point::new(41.0, 36.0), 90.0, at.range_m);
    assert_close(at.position.lat, geo.y(), 1e-12, "lat vs geo");
    assert_close(at.position.lon, geo.x(), 1e-12, "lon vs geo");
    // And back: the range is the haversine distance from the foot.
    assert_close(FOOT.distance_m(at.position), at.range_m, 1e-6, "haversine");
}

#[test]
fn left_and_right_of_centre_are_symmetric() {
    let cam = east();
    let left = hit(&cam, 220.0, 300.0);
    let right = hit(&cam, 420.0, 300.0);
    // Ray x·r + y·d + f with x = −100/fx, y = 44/fy: bearing
    // atan2(cos 5° − y·sin 5°, ∓x), depression 6.712 308 76°.
    assert_close(left.bearing_deg, 85.182_642_782_121_6, 1e-9, "left bearing");
    assert_close(
        right.bearing_deg,
        94.817_357_217_878_4,
        1e-9,
        "right bearing",
    );
    assert_close(
        left.bearing_deg + right.bearing_deg,
        180.0,
        1e-9,
        "symmetry",
    );
    for at in [left, right] {
        assert_close(at.range_m, 84.973_223_680_684_48, 1e-6, "range");
        assert_close(at.slant_m, 85.559_687_212_320_65, 1e-6, "slant");
    }
    // Left of a camera looking east is north.
    assert_at(left.position, 36.000_064_172_070_5, 41.000_941_244_288_61);
    assert_at(right.position, 35.999_935_820_576_61, 41.000_941_242_756_67);
}

#[test]
fn north_and_west_headings() {
    let north = hit(&camera(0.0, 5.0), 320.0, 256.0);
    assert_close(north.range_m, 114.312_244_866_594_9, 1e-6, "north range");
    assert_close(north.bearing_deg, 0.0, 1e-9, "north bearing");
    assert_at(north.position, 36.001_028_033_296_32, 41.0);

    let west = hit(&camera(270.0, 5.0), 320.0, 256.0);
    assert_close(west.range_m, 114.312_244_866_594_9, 1e-6, "west range");
    assert_close(west.bearing_deg, 270.0, 1e-9, "west bearing");
    assert_at(west.position, 35.999_999_993_299_26, 40.998_729_280_962_69);

    // Right of a camera looking north is east, right of one looking west is north.
    assert!(hit(&camera(0.0, 5.0), 420.0, 256.0).bearing_deg > 0.0);
    assert!(hit(&camera(0.0, 5.0), 420.0, 256.0).bearing_deg < 90.0);
    let west_right = hit(&camera(270.0, 5.0), 420.0, 256.0).bearing_deg;
    assert!(west_right > 270.0 && west_right < 360.0, "{west_right}");
}

#[test]
fn heading_is_taken_modulo_360() {
    let a = hit(&camera(450.0, 5.0), 100.0, 400.0);
    let b = hit(&camera(90.0, 5.0), 100.0, 400.0);
    assert_close(a.range_m, b.range_m, 1e-9, "range");
    assert_close(a.bearing_deg, b.bearing_deg, 1e-9, "bearing");
    let c = hit(&camera(-90.0, 5.0), 320.0, 256.0);
    assert_close(c.bearing_deg, 270.0, 1e-9, "bearing");
}

#[test]
fn steep_tilt() {
    let cam = camera(90.0, 60.0);
    let centre = hit(&cam, 320.0, 256.0);
    // Flat: 10/tan 60° = 5.773 502 69 m; the sphere adds 1.5 µm.
    assert_close(centre.range_m, 5.773_504_202_255_897, 1e-9, "range");
    assert_close(centre.slant_m, 11.547_008_404_510_214, 1e-9, "slant");
    assert_close(centre.bearing_deg, 90.0, 1e-9, "bearing");
    assert_at(centre.position, 35.999_999_999_982_91, 41.000_064_179_491_1);

    // Bottom edge: 70° down.
    let bottom = hit(&cam, 320.0, 512.0);
    assert_close(bottom.range_m, 3.639_702_721_069_511, 1e-9, "range");
    assert_close(bottom.slant_m, 10.641_778_831_148_02, 1e-9, "slant");
    assert_close(bottom.bearing_deg, 90.0, 1e-9, "bearing");

    // Off to the left near the bottom: depression 66.500 65°.
    let corner = hit(&cam, 100.0, 480.0);
    assert_close(corner.range_m, 4.347_989_500_663_83, 1e-9, "range");
    assert_close(corner.slant_m, 10.904_358_870_258_34, 1e-9, "slant");
    assert_close(corner.bearing_deg, 63.307_119_772_844_04, 1e-9, "bearing");
    assert_at(
        corner.position,
        36.000_017_565_082_23,
        41.000_043_182_178_07,
    );
}

#[test]
fn looking_straight_down() {
    let cam = camera(0.0, 90.0);
    let nadir = hit(&cam, 320.0, 256.0);
    assert_close(nadir.range_m, 0.0, 1e-9, "range");
    assert_close(nadir.slant_m, 10.0, 1e-9, "slant");
    assert_eq!(nadir.bearing_deg, 0.0);
    assert_at(nadir.position, 36.0, 41.0);

    // The top of the image points along the heading (north), its right east.
    let up = hit(&cam, 320.0, 200.0);
    assert_close(up.bearing_deg, 0.0, 1e-9, "bearing");
    assert_close(up.range_m, 0.385_715_270_750_129_9, 1e-9, "range");
    assert_close(up.slant_m, 10.007_436_060_430_79, 1e-9, "slant");
    let right = hit(&cam, 400.0, 256.0);
    assert_close(right.bearing_deg, 90.0, 1e-9, "bearing");
    assert_close(right.range_m, 0.669_872_983_436_869_1, 1e-9, "range");
    assert_close(right.slant_m, 10.022_411_412_343_31, 1e-9, "slant");
}

#[test]
fn rays_at_or_above_the_horizon_miss() {
    let cam = camera(0.0, 0.0);
    // Above the horizontal, and the horizontal itself: from a height h > 0 a
    // level ray stays above the sphere (its nearest approach to the centre
    // is R + h).
    assert_eq!(cam.ground_point(320.0, 100.0), None);
    assert_eq!(cam.ground_point(320.0, 256.0), None);
    // Looking down, but above the horizon: the horizon lies acos(R/(R+10))
    // = 0.101 516° down, at v = 256 + fy·tan(0.101 516°) = 258.572.
    assert_eq!(cam.ground_point(320.0, 258.0), None);
    assert_eq!(cam.ground_point(320.0, 258.57), None);
    // Just below it, the ground is kilometres away; a flat plane would put
    // these at 10/tan(δ) = 4 839 m and 2 420 m.
    let far = hit(&cam, 320.0, 259.0);
    assert_close(far.range_m, 6_390.625_989_566_107, 1e-5, "range");
    assert_close(far.slant_m, 6_390.638_560_990_262, 1e-5, "slant");
    assert_close(far.bearing_deg, 0.0, 1e-9, "bearing");
    assert_at(far.position, 36.057_472_200_893_64, 41.0);
    let nearer = hit(&cam, 320.0, 262.0);
    assert_close(nearer.range_m, 2_542.506_715_790_844, 1e-6, "range");
    assert_close(
        cam.horizon_range_m(),
        11_288.047_188_666_274,
        1e-6,
        "horizon",
    );
    assert!(hit(&cam, 320.0, 258.58).range_m < cam.horizon_range_m());

    // Looking up: nothing.
    let up = camera(0.0, -30.0);
    assert_eq!(up.ground_point(320.0, 512.0), None);
}

/// Round trips through `geo`'s destination, distance and bearing. The
/// tolerance is near the floor set by `geo`'s destination, which normalises
/// the longitude as `(λ + 540) mod 360 − 180` and so rounds it to
/// 1.1e-13° (up to 5 nm here), up to 6.2e-7 px seen from 10 m; the worst
/// pixel below comes back 6.8e-7 px off.
#[test]
fn project_inverts_ground_point() {
    let cameras = [
        camera(90.0, 5.0),
        camera(0.0, 5.0),
        camera(270.0, 5.0),
        camera(213.0, 1.0),
        camera(90.0, 60.0),
        camera(0.0, 90.0),
        camera(0.0, 0.0),
    ];
    let mut hits = 0;
    for cam in &cameras {
        for i in 0..=32 {
            for j in 0..=32 {
                let (u, v) = (f64::from(i) * 20.0, f64::from(j) * 16.0);
                let Some(at) = cam.ground_point(u, v) else {
                    continue;
                };
                hits += 1;
                let (pu, pv) = cam
                    .project(at.position, 0.0)
                    .unwrap_or_else(|| panic!("{:?}: ({u}, {v}) projects", cam.mount()));
                assert_close(pu, u, 1e-6, "u");
                assert_close(pv, v, 1e-6, "v");
            }
        }
    }
    // 5° and 1° down, the horizon is at about row 132 and 214; at 0° 259.
    assert!(hits > 3_000, "only {hits} pixels saw the ground");
}

#[test]
fn a_head_appears_above_its_foot() {
    let cam = east();
    let foot = hit(&cam, 320.0, 256.0).position;
    let (fu, fv) = cam.project(foot, 0.0).expect("foot in front");
    let (hu, hv) = cam.project(foot, 1.8).expect("head in front");
    assert_close(fu, 320.0, 1e-6, "foot u");
    assert_close(fv, 256.0, 1e-6, "foot v");
    assert_close(hu, 320.0, 1e-6, "head u");
    // The head is atan(drop/horizontal) = 4.103 500° down:
    // v = 256 + fy·tan(4.103 500° − 5°).
    assert_close(hv, 233.281_266_620_585_65, 1e-6, "head v");
    assert!(cam.in_image(hu, hv));
}

#[test]
fn project_behind_and_beside_the_camera() {
    let cam = east();
    let behind = Haversine.destination(Point::new(41.0, 36.0), 270.0, 100.0);
    assert_eq!(cam.project(from_point(behind), 0.0), None);
    assert_eq!(cam.project(from_point(behind), 1.8), None);
    // 100 m south of a camera looking east 5° down is (barely) in front of
    // the image plane, far outside the image.
    let beside = from_point(Haversine.destination(Point::new(41.0, 36.0), 180.0, 100.0));
    let (u, v) = cam.project(beside, 0.0).expect("in front");
    assert!(!cam.in_image(u, v));
    assert!(u > 640.0, "{u}");
    // The camera foot itself is in front (5° down) but below the image.
    let (u, v) = cam.project(FOOT, 0.0).expect("in front");
    assert!(v > 512.0 && !cam.in_image(u, v), "({u}, {v})");
    // Looking level, the foot is in the image plane: not projectable.
    assert_eq!(camera(0.0, 0.0).project(FOOT, 0.0), None);
}

#[test]
fn metres_per_pixel_is_slant_over_focal_length() {
    let cam = east();
    let (mx, my) = cam.metres_per_pixel(1000.0);
    // 1000·tan(15°)/320, 1000·tan(10°)/256
    assert_close(mx, 0.837_341_226_347_258_5, 1e-12, "horizontal");
    assert_close(my, 0.688_777_268_392_441_4, 1e-12, "vertical");
    let (fx, fy) = cam.focal_px();
    assert_eq!((mx, my), (1000.0 / fx, 1000.0 / fy));
}

#[test]
fn in_image_is_half_open() {
    let cam = east();
    assert!(cam.in_image(0.0, 0.0));
    assert!(cam.in_image(639.5, 511.5));
    assert!(cam.in_image(639.999, 511.999));
    assert!(!cam.in_image(640.0, 100.0));
    assert!(!cam.in_image(100.0, 512.0));
    assert!(!cam.in_image(-1e-9, 100.0));
    assert!(!cam.in_image(f64::NAN, 100.0));
    assert!(!cam.in_image(100.0, f64::INFINITY));
}

#[test]
fn bad_numbers_give_none() {
    let cam = east();
    assert_eq!(cam.ground_point(f64::NAN, 300.0), None);
    assert_eq!(cam.ground_point(320.0, f64::NAN), None);
    assert_eq!(cam.ground_point(f64::INFINITY, 300.0), None);
    assert_eq!(cam.ground_point(320.0, f64::NEG_INFINITY), None);
    let p = hit(&cam, 320.0, 300.0).position;
    assert_eq!(cam.project(p, f64::NAN), None);
    assert_eq!(cam.project(p, f64::INFINITY), None);
    assert_eq!(cam.project(LatLon::new(f64::NAN, 41.0), 0.0), None);
    assert_eq!(cam.project(LatLon::new(36.0, 181.0), 0.0), None);
}

#[test]
fn invalid_mounts_are_rejected() {
    let good = mount(90.0, 5.0);
    let reject = |m: Mount, width: u32, height: u32| {
        CameraModel::new(m, width, height).expect_err("should be rejected")
    };
    let cases = [
        (
            Mount {
                position: LatLon::new(36.0, 200.0),
                ..good
            },
            GeometryError::BadPosition {
                lat: 36.0,
                lon: 200.0,
            },
        ),
        (
            Mount {
                height_m: 0.0,
                ..good
            },
            GeometryError::BadHeight(0.0),
        ),
        (
            Mount {
                height_m: -3.0,
                ..good
            },
            GeometryError::BadHeight(-3.0),
        ),
        (
            Mount {
                height_m: f64::INFINITY,
                ..good
            },
            GeometryError::BadHeight(f64::INFINITY),
        ),
        (
            Mount {
                heading_deg: f64::INFINITY,
                ..good
            },
            GeometryError::BadHeading(f64::INFINITY),
        ),
        (
            Mount {
                tilt_deg: 90.5,
                ..good
            },
            GeometryError::BadTilt(90.5),
        ),
        (
            Mount {
                tilt_deg: -91.0,
                ..good
            },
            GeometryError::BadTilt(-91.0),
        ),
        (
            Mount {
                hfov_deg: 0.0,
                ..good
            },
            GeometryError::BadHfov(0.0),
        ),
        (
            Mount {
                hfov_deg: 180.0,
                ..good
            },
            GeometryError::BadHfov(180.0),
        ),
        (
            Mount {
                vfov_deg: -20.0,
                ..good
            },
            GeometryError::BadVfov(-20.0),
        ),
    ];
    for (m, expected) in cases {
        assert_eq!(reject(m, 640, 512), expected, "{m:?}");
    }
    // NaN never equals itself, so match those by variant.
    let nan = |m: Mount| reject(m, 640, 512);
    assert!(matches!(
        nan(Mount {
            position: LatLon::new(f64::NAN, 41.0),
            ..good
        }),
        GeometryError::BadPosition { lat, lon: 41.0 } if lat.is_nan()
    ));
    assert!(matches!(
        nan(Mount {
            height_m: f64::NAN,
            ..good
        }),
        GeometryError::BadHeight(h) if h.is_nan()
    ));
    assert!(matches!(
        nan(Mount {
            heading_deg: f64::NAN,
            ..good
        }),
        GeometryError::BadHeading(h) if h.is_nan()
    ));
    assert!(matches!(
        nan(Mount {
            tilt_deg: f64::NAN,
            ..good
        }),
        GeometryError::BadTilt(t) if t.is_nan()
    ));
    assert!(matches!(
        nan(Mount {
            hfov_deg: f64::NAN,
            ..good
        }),
        GeometryError::BadHfov(f) if f.is_nan()
    ));
    assert!(matches!(
        nan(Mount {
            vfov_deg: f64::NAN,
            ..good
        }),
        GeometryError::BadVfov(f) if f.is_nan()
    ));
    assert_eq!(
        reject(good, 0, 512),
        GeometryError::EmptyImage {
            width: 0,
            height: 512
        }
    );
    assert_eq!(
        reject(good, 640, 0),
        GeometryError::EmptyImage {
            width: 640,
            height: 0
        }
    );
    assert_eq!(
        GeometryError::BadTilt(95.0).to_string(),
        "camera tilt must be in [-90, 90] degrees, got 95"
    );
    // The limits themselves are fine.
    for tilt in [-90.0, 90.0] {
        let m = Mount {
            tilt_deg: tilt,
            ..good
        };
        assert!(CameraModel::new(m, 1, 1).is_ok(), "{m:?}");
    }
}
