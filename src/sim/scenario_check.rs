//! The checks on a parsed scenario that its types do not make, each
//! reported with its place in the file (see [`diagnostics`]).

use std::collections::HashSet;

use super::{
    EventKind, Heading, ObjectEvent, ObjectKind, Scenario, MAX_CAMERA_PIXELS, MAX_CAMERA_RATE_HZ,
};
use crate::config::diagnostics::{self, Diagnostic};

/// Every problem of `s`; `devices` are the configured controllers and
/// `cameras`, when given, the configured cameras.
pub(super) fn check(
    s: &Scenario,
    source: &diagnostics::SourceMap,
    devices: &HashSet<String>,
    cameras: Option<&HashSet<String>>,
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let key = |k: &str| diagnostics::PathSeg::Key(k.to_owned());
    for (i, dev) in s.serial.iter().enumerate() {
        if !devices.contains(dev) {
            problems.push(source.diagnostic(
                &[key("serial"), diagnostics::PathSeg::Index(i)],
                format!("`{dev}` is not a device of the rampart config"),
            ));
        }
    }
    for i in 0..s.events.len() {
        check_event(s, i, source, devices, &mut problems);
    }
    check_cameras(s, source, cameras, &mut problems);
    for (i, ob) in s.objects.iter().enumerate() {
        check_object(ob, i, source, &mut problems);
    }
    problems
}

/// The checks on `[[events]]` entry `index`.
fn check_event(
    s: &Scenario,
    index: usize,
    source: &diagnostics::SourceMap,
    devices: &HashSet<String>,
    problems: &mut Vec<Diagnostic>,
) {
    let ev = &s.events[index];
    let path = [
        diagnostics::PathSeg::Key("events".into()),
        diagnostics::PathSeg::Index(index),
    ];
    let field = |k: &str| {
        [
            diagnostics::PathSeg::Key("events".into()),
            diagnostics::PathSeg::Index(index),
            diagnostics::PathSeg::Key(k.to_owned()),
        ]
    };
    let site_wide = matches!(ev.kind, EventKind::Rain | EventKind::Dust);
    let device_optional = site_wide
        || matches!(
            ev.kind,
            EventKind::Intrusion | EventKind::Wind | EventKind::Gust
        );
    match &ev.device {
        Some(_) if site_wide => problems.push(source.diagnostic(
            &field("device"),
            "rain and dust fall on the whole site: leave out `device`",
        )),
        Some(d) if !devices.contains(d) => problems.push(source.diagnostic(
            &path,
            format!("`{d}` is not a device of the rampart config"),
        )),
        None if !device_optional => {
            problems.push(source.diagnostic(&path, "this event needs `device`"))
        }
        _ => {}
    }
    if ev.kind == EventKind::Intrusion && ev.chainage_m.is_none() {
        problems.push(source.diagnostic(&path, "an intrusion needs `chainage_m`"));
    }
    if let Some(c) = ev.chainage_m {
        if !(c.is_finite() && c >= 0.0) {
            problems.push(source.diagnostic(
                &field("chainage_m"),
                "must be a finite number of metres, at least 0",
            ));
        }
    }
    if !ev.speed_m_s.is_finite() || ev.speed_m_s.abs() > 100.0 {
        problems.push(source.diagnostic(&field("speed_m_s"), "must be -100 to 100 m/s"));
    }
    if ev.kind == EventKind::Unplug && !ev.device.as_ref().is_some_and(|d| s.serial.contains(d)) {
        problems
            .push(source.diagnostic(&path, "only a device listed in `serial` can be unplugged"));
    }
    if let Some(t) = &ev.tamper {
        if !["ENCLOSURE", "CUT", "POWER"].contains(&t.as_str()) {
            problems.push(source.diagnostic(&path, "tamper must be ENCLOSURE, CUT or POWER"));
        }
    }
    if let Some(v) = ev.strength_mg {
        if !matches!(ev.kind, EventKind::Wind | EventKind::Gust) {
            problems.push(
                source.diagnostic(&field("strength_mg"), "only wind and gust take strength_mg"),
            );
        } else if !(0.0..=5000.0).contains(&v) {
            problems.push(source.diagnostic(&field("strength_mg"), "must be 0 to 5000 milli-g"));
        }
    }
    if let Some(v) = ev.intensity {
        if !site_wide {
            problems
                .push(source.diagnostic(&field("intensity"), "only rain and dust take intensity"));
        } else if !(0.0..=1.0).contains(&v) {
            problems.push(source.diagnostic(&field("intensity"), "must be 0 to 1"));
        }
    }
}

/// The camera settings and scene parameters.
fn check_cameras(
    s: &Scenario,
    source: &diagnostics::SourceMap,
    known: Option<&HashSet<String>>,
    problems: &mut Vec<Diagnostic>,
) {
    let at = |k: &str| [diagnostics::PathSeg::Key(k.to_owned())];
    let rate = s.camera_rate_hz;
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_CAMERA_RATE_HZ) {
        problems.push(source.diagnostic(
            &at("camera_rate_hz"),
            format!("must be above 0 and at most {MAX_CAMERA_RATE_HZ} frames per second"),
        ));
    }
    let (w, h) = (s.camera_width, s.camera_height);
    let side_ok = |v: u32| (1..=crate::frame::MAX_SIDE).contains(&v);
    for (k, v) in [("camera_width", w), ("camera_height", h)] {
        if !side_ok(v) {
            problems.push(source.diagnostic(
                &at(k),
                format!("must be 1 to {} pixels", crate::frame::MAX_SIDE),
            ));
        }
    }
    let pixels = u64::from(w) * u64::from(h);
    if side_ok(w) && side_ok(h) && pixels > MAX_CAMERA_PIXELS {
        problems.push(source.diagnostic(
            &at("camera_height"),
            format!(
                "a {w}x{h} frame has {pixels} pixels, over the {MAX_CAMERA_PIXELS} \
                 (1280 x 1024) the daemon accepts by default"
            ),
        ));
    }
    if let Some(list) = &s.cameras {
        let mut seen = HashSet::new();
        for (i, id) in list.iter().enumerate() {
            let path = [
                diagnostics::PathSeg::Key("cameras".into()),
                diagnostics::PathSeg::Index(i),
            ];
            if !seen.insert(id) {
                problems.push(source.diagnostic(&path, format!("`{id}` is listed twice")));
            } else if known.is_some_and(|k| !k.contains(id)) {
                problems.push(source.diagnostic(
                    &path,
                    format!("`{id}` is not a camera of the rampart config"),
                ));
            }
        }
    }
    if !(-60.0..=80.0).contains(&s.ground_c) {
        problems.push(source.diagnostic(&at("ground_c"), "must be -60 to 80 °C"));
    }
    if !(-20.0..=20.0).contains(&s.diurnal_k_per_hour) {
        problems.push(source.diagnostic(
            &at("diurnal_k_per_hour"),
            "must be -20 to 20 kelvin per hour",
        ));
    }
}

/// The checks on one `[[objects]]` entry that its types do not make.
fn check_object(
    ob: &ObjectEvent,
    index: usize,
    source: &diagnostics::SourceMap,
    problems: &mut Vec<Diagnostic>,
) {
    let at = |k: &str| {
        [
            diagnostics::PathSeg::Key("objects".into()),
            diagnostics::PathSeg::Index(index),
            diagnostics::PathSeg::Key(k.to_owned()),
        ]
    };
    let mut problem = |k: &str, msg: &str| problems.push(source.diagnostic(&at(k), msg));
    if !(ob.chainage_m.is_finite() && ob.chainage_m >= 0.0) {
        problem(
            "chainage_m",
            "must be a finite number of metres, at least 0",
        );
    }
    if !(-20_000.0..=20_000.0).contains(&ob.offset_m) {
        problem("offset_m", "must be -20000 to 20000 metres from the wall");
    }
    if let Some(v) = ob.speed_m_s {
        if !(-100.0..=100.0).contains(&v) {
            problem("speed_m_s", "must be -100 to 100 m/s");
        } else if ob.kind == ObjectKind::Rock && v != 0.0 {
            problem(
                "speed_m_s",
                "a rock does not move: leave out speed_m_s or set it to 0",
            );
        } else if v < 0.0 && ob.heading != Heading::AlongWall {
            problem(
                "speed_m_s",
                "only heading = \"along_wall\" takes a negative speed; turn the heading instead",
            );
        }
    }
    if let Some(c) = ob.contrast_k {
        if !(-100.0..=100.0).contains(&c) {
            problem("contrast_k", "must be -100 to 100 kelvin");
        }
    }
    if let Some(c) = ob.climb_s {
        if !matches!(
            ob.kind,
            ObjectKind::Person | ObjectKind::Crawler | ObjectKind::Vehicle
        ) {
            problem(
                "climb_s",
                "only people, crawlers and vehicles stop at the fence: leave out climb_s",
            );
        } else if !(0.0..=600.0).contains(&c) {
            problem("climb_s", "must be 0 to 600 seconds");
        }
    }
    if let Some(a) = ob.altitude_m {
        if ob.kind != ObjectKind::Bird {
            problem("altitude_m", "only a bird flies: leave out altitude_m");
        } else if !(0.0..=1000.0).contains(&a) {
            problem("altitude_m", "must be 0 to 1000 metres above the ground");
        }
    }
}
