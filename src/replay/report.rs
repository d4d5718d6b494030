//! How replay results are shown: a table for people, one JSON document for
//! scripts, and a summary line with the replay speed. Times are offsets
//! from the recording's start (`+12.3s`).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use super::compare::Comparison;
use super::{IncidentReport, ReplayResult};
use crate::alert::AlertMessage;
use crate::record::Header;
use crate::time::Timestamp;

/// One replay and the config it ran.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub config: &'a str,
    pub result: &'a ReplayResult,
}

/// About the replay as a whole.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    /// The recording file.
    pub recording: &'a str,
    pub header: &'a Header,
    /// Wall-clock time the replay took.
    pub elapsed: Duration,
    /// Problems worth knowing about (truncated tail, unmatched sources...).
    pub warnings: &'a [String],
}

/// Records per second and how many times faster than real time.
pub fn speed(result: &ReplayResult, elapsed: Duration) -> (f64, f64) {
    let secs = elapsed.as_secs_f64().max(1e-6);
    let span = result.end.since(result.start.started).as_secs_f64();
    (result.counts.records as f64 / secs, span / secs)
}

/// `+12.3s`, `+12:03.4`, `+1:02:03` after `start`.
pub fn offset(start: Timestamp, t: Timestamp) -> String {
    let ms = t.millis() - start.millis();
    let sign = if ms < 0 { "-" } else { "+" };
    let ms = ms.unsigned_abs();
    let (h, m, s) = (
        ms / 3_600_000,
        ms / 60_000 % 60,
        (ms % 60_000) as f64 / 1000.0,
    );
    if ms < 60_000 {
        format!("{sign}{s:.1}s")
    } else if h == 0 {
        format!("{sign}{m}:{s:04.1}")
    } else {
        format!("{sign}{h}:{m:02}:{:02}", s as u64)
    }
}

/// `#7` for `<prefix>-7`, else the whole id.
fn short_id(result: &ReplayResult, id: &str) -> String {
    id.strip_prefix(result.start.id_prefix.as_str())
        .and_then(|rest| rest.strip_prefix('-'))
        .map_or_else(|| id.to_owned(), |n| format!("#{n}"))
}

fn priority(p: crate::alert::Priority) -> String {
    format!("{p:?}").to_lowercase()
}

/// A table of `which` incidents of `result` (all of them if `None`).
pub fn table(result: &ReplayResult, which: Option<&[usize]>) -> String {
    let all: Vec<usize> = (0..result.incidents.len()).collect();
    let which = which.unwrap_or(&all);
    let mut out = String::new();
    if which.is_empty() {
        out.push_str("  (no incidents)\n");
        return out;
    }
    let _ = writeln!(
        out,
        "  {:<9} {:<7} {:<15} {:<10} {:<9} {:<15} {:<10} {:>4}  sensors",
        "raised", "id", "kind", "segment", "priority", "chainage", "cleared", "upd"
    );
    let mut projected = false;
    for &i in which {
        let inc = &result.incidents[i];
        let segment = if inc.segment_raised == inc.segment_last {
            inc.segment_raised.clone()
        } else {
            format!("{}>{}", inc.segment_raised, inc.segment_last)
        };
        let chainage = if (inc.chainage_last_m - inc.chainage_raised_m).abs() < 1.0 {
            format!("{:.0} m", inc.chainage_raised_m)
        } else {
            format!("{:.0}>{:.0} m", inc.chainage_raised_m, inc.chainage_last_m)
        };
        let cleared = match inc.cleared {
            Some(t) if t > result.end => {
                projected = true;
                format!("{}*", offset(result.start.started, t))
            }
            Some(t) => offset(result.start.started, t),
            None => "open".into(),
        };
        let _ = writeln!(
            out,
            "  {:<9} {:<7} {:<15} {:<10} {:<9} {:<15} {:<10} {:>4}  {}",
            offset(result.start.started, inc.raised),
            short_id(result, &inc.id),
            inc.kind.as_str(),
            segment,
            priority(inc.max_priority),
            chainage,
            cleared,
            inc.updates,
            inc.sensors.join(" ")
        );
    }
    if projected {
        out.push_str(
            "  * cleared after the end of the recording (its quiet period ran out in replay)\n",
        );
    }
    out
}

/// The one-line summary: counts and speed.
pub fn summary(result: &ReplayResult, elapsed: Duration) -> String {
    let c = &result.counts;
    let (per_s, realtime) = speed(result, elapsed);
    format!(
        "replay: {} records ({} sentences, {} duplicates, {} rejected, {} frames, {} thermal evidence) over {} of recording in {:.2} s: {:.0} records/s, {:.0}x realtime; {} incidents",
        c.records,
        c.sentences,
        c.duplicates,
        c.rejected_total(),
        c.frames,
        c.evidence,
        offset(result.start.started, result.end).trim_start_matches('+'),
        elapsed.as_secs_f64(),
        per_s,
        realtime,
        result.incidents.len()
    )
}

/// What changed between `old` and `new`, for people.
pub fn comparison(old: Run<'_>, new: Run<'_>, c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "NEW {}  vs  OLD {}", new.config, old.config);
    let _ = writeln!(out, "\nappear (only with NEW): {}", c.appeared.len());
    if !c.appeared.is_empty() {
        out.push_str(&table(new.result, Some(&c.appeared)));
    }
    let _ = writeln!(out, "\ndisappear (only with OLD): {}", c.disappeared.len());
    if !c.disappeared.is_empty() {
        out.push_str(&table(old.result, Some(&c.disappeared)));
    }
    let _ = writeln!(out, "\nchanged: {}", c.changed.len());
    for m in &c.changed {
        let n = &new.result.incidents[m.new];
        let changes: Vec<String> = m.changes.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  {} {} {} {} (OLD {}): {}",
            offset(new.result.start.started, n.raised),
            short_id(new.result, &n.id),
            n.kind.as_str(),
            n.segment_raised,
            short_id(old.result, &old.result.incidents[m.old].id),
            changes.join(", ")
        );
    }
    let _ = writeln!(out, "\nunchanged: {}", c.unchanged.len());
    out
}

/// The whole replay as one JSON document.
pub fn json(meta: &Meta<'_>, new: Run<'_>, old: Option<(Run<'_>, &Comparison)>) -> Value {
    let (per_s, realtime) = speed(new.result, meta.elapsed);
    let compare = old.map(|(old, c)| {
        let pick = |r: &ReplayResult, idx: &[usize]| -> Vec<Value> {
            idx.iter().map(|&i| incident(r, &r.incidents[i])).collect()
        };
        json!({
            "config": old.config,
            "incidents": incidents(old.result),
            "counts": counts(old.result),
            "appear": pick(new.result, &c.appeared),
            "disappear": pick(old.result, &c.disappeared),
            "changed": c.changed.iter().map(|m| json!({
                "old": incident(old.result, &old.result.incidents[m.old]),
                "new": incident(new.result, &new.result.incidents[m.new]),
                "changes": m.changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "unchanged": c.unchanged.iter().map(|m| json!({
                "old": old.result.incidents[m.old].id,
                "new": new.result.incidents[m.new].id,
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "recording": {
            "path": meta.recording,
            "instance": meta.header.instance,
            "started": new.result.start.started,
            "id_prefix": meta.header.id_prefix,
            "rampart_version": meta.header.rampart_version,
            "config": meta.header.config,
            "recorded": {
                "sentences": meta.header.recorded.sentences,
                "frames": meta.header.recorded.frames,
                "acks": meta.header.recorded.acks,
            },
            "end_s": secs(new.result.start.started, new.result.end),
        },
        "config": new.config,
        "incidents": incidents(new.result),
        "counts": counts(new.result),
        "unmatched_serial": new.result.unmatched_serial,
        "compare": compare,
        "warnings": meta.warnings,
        "speed": {
            "elapsed_s": meta.elapsed.as_secs_f64(),
            "records_per_s": per_s,
            "x_realtime": realtime,
        },
    })
}

fn secs(start: Timestamp, t: Timestamp) -> f64 {
    (t.millis() - start.millis()) as f64 / 1000.0
}

fn incidents(r: &ReplayResult) -> Vec<Value> {
    r.incidents.iter().map(|i| incident(r, i)).collect()
}

/// One incident: its summary and its alert messages (without evidence).
pub fn incident(r: &ReplayResult, i: &IncidentReport) -> Value {
    let start = r.start.started;
    json!({
        "id": i.id,
        "kind": i.kind,
        "raised": i.raised,
        "raised_s": secs(start, i.raised),
        "cleared": i.cleared,
        "cleared_s": i.cleared.map(|t| secs(start, t)),
        "cleared_after_end": i.cleared.is_some_and(|t| t > r.end),
        "segment": i.segment_raised,
        "segment_last": i.segment_last,
        "chainage_m": i.chainage_raised_m,
        "chainage_last_m": i.chainage_last_m,
        "max_priority": i.max_priority,
        "sensors": i.sensors,
        "updates": i.updates,
        "alerts": i.messages.iter().map(|m| alert(start, m)).collect::<Vec<_>>(),
    })
}

fn alert(start: Timestamp, m: &AlertMessage) -> Value {
    json!({
        "rev": m.rev,
        "state": m.state,
        "priority": m.priority,
        "confidence": m.confidence,
        "segment_id": m.segment_id,
        "chainage_m": m.chainage_m,
        "sensors": m.sensors,
        "at": m.published_at,
        "t_s": secs(start, m.published_at),
        "summary": m.summary,
        "acked_by": m.acked_by,
    })
}

fn counts(r: &ReplayResult) -> Value {
    let c = &r.counts;
    json!({
        "records": c.records,
        "sentences": c.sentences,
        "duplicates": c.duplicates,
        "rejected": c.rejected,
        "frames": c.frames,
        "evidence": c.evidence,
        "acks": c.acks,
        "alerts": c.alerts,
        "skipped": c.skipped,
        "raised_after_end": c.raised_after_end,
        "long_gaps": c.long_gaps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_well_at_every_scale() {
        let t0 = Timestamp(1_000_000);
        let at = |ms: i64| offset(t0, Timestamp(1_000_000 + ms));
        assert_eq!(at(0), "+0.0s");
        assert_eq!(at(12_345), "+12.3s");
        assert_eq!(at(59_940), "+59.9s");
        assert_eq!(at(62_400), "+1:02.4");
        assert_eq!(at(3_723_000), "+1:02:03");
        assert_eq!(at(-1_500), "-1.5s");
    }
}
