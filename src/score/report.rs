//! Text and JSON for `rampart score`: a line per scenario, the summary, and
//! the targets the figures are held to.

use serde::Serialize;

use super::{ScenarioScore, Summary};

/// The targets of the detection issue.
pub const TARGET_PD: f64 = 0.98;
pub const TARGET_NAR: f64 = 1.0;
pub const TARGET_TTA_P99_S: f64 = 1.0;
pub const TARGET_CAMERA_LOCATION_M: f64 = 25.0;

/// One target and whether it is met.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: &'static str,
    pub goal: String,
    pub value: String,
    pub met: bool,
}

/// The targets, judged on `s`. Time to alert is judged from the evidence
/// that decided the alert.
pub fn targets(s: &Summary) -> Vec<Target> {
    let opt = |v: Option<f64>, unit: &str| v.map_or("n/a".to_owned(), |v| format!("{v:.2}{unit}"));
    vec![
        Target {
            name: "Pd",
            goal: format!(">= {TARGET_PD}"),
            value: format!("{:.3}", s.pd),
            met: s.threats > 0 && s.pd >= TARGET_PD,
        },
        Target {
            name: "NAR per 100 km per day",
            goal: format!("<= {TARGET_NAR}"),
            value: format!("{:.1}", s.nar_per_100km_day),
            met: s.nar_per_100km_day <= TARGET_NAR,
        },
        Target {
            name: "time to alert p99 (from the deciding evidence)",
            goal: format!("<= {TARGET_TTA_P99_S} s"),
            value: opt(s.tta_decisive_p99_s, " s"),
            met: s.tta_decisive_p99_s.is_some_and(|v| v <= TARGET_TTA_P99_S),
        },
        Target {
            name: "median location error, camera evidence",
            goal: format!("<= {TARGET_CAMERA_LOCATION_M} m"),
            value: opt(s.camera_location_error_median_m, " m"),
            met: s
                .camera_location_error_median_m
                .is_some_and(|v| v <= TARGET_CAMERA_LOCATION_M),
        },
    ]
}

/// One line per scenario.
pub fn scenario_line(s: &ScenarioScore) -> String {
    let mut line = format!(
        "{:<34} threats {}/{}  nuisance {}  device {}/{}",
        s.name,
        s.detected,
        s.threats,
        s.nuisance_alarms.len(),
        s.device_events_reported,
        s.device_events
    );
    if let Some(t) = super::stats::percentile(&s.tta_first_evidence_s, 1.0) {
        line.push_str(&format!("  tta<= {t:.1} s"));
    }
    for m in &s.missed {
        line.push_str(&format!("\n    missed {m}"));
    }
    for n in &s.nuisance_alarms {
        line.push_str(&format!("\n    nuisance alarm {n}"));
    }
    for d in &s.device_missed {
        line.push_str(&format!("\n    device event not reported {d}"));
    }
    line
}

/// The summary and the targets, for people.
pub fn summary_text(s: &Summary) -> String {
    let opt = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
    let mut out = format!(
        "scenarios {}  threats {}  detected {}  Pd {:.3} (95% CI {:.3}-{:.3})\n\
         nuisance alarms {} over {:.3} km-days: NAR {:.1} per 100 km per day (95% upper bound {:.1})\n\
         time to alert from first evidence p50 {} s p99 {} s; from the deciding evidence p50 {} s p99 {} s\n\
         location error median {} m (camera evidence {} m)\n\
         device events reported {}/{}\n",
        s.scenarios,
        s.threats,
        s.detected,
        s.pd,
        s.pd_ci95.0,
        s.pd_ci95.1,
        s.nuisance_alarms,
        s.exposure_km_days,
        s.nar_per_100km_day,
        s.nar_upper95_per_100km_day,
        opt(s.tta_first_evidence_p50_s),
        opt(s.tta_first_evidence_p99_s),
        opt(s.tta_decisive_p50_s),
        opt(s.tta_decisive_p99_s),
        opt(s.location_error_median_m),
        opt(s.camera_location_error_median_m),
        s.device_events_reported,
        s.device_events,
    );
    for t in targets(s) {
        out.push_str(&format!(
            "target {:<48} {:>10}  {:<10} {}\n",
            t.name,
            t.value,
            t.goal,
            if t.met { "met" } else { "NOT MET" }
        ));
    }
    out
}
