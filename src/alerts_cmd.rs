//! `rampart alerts`: the alert history in the store, by segment, time,
//! state, kind or incident — read beside a running daemon.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use rampart::store::{Query, StateFilter, Store, StoredAlert};
use rampart::time::Timestamp;

#[derive(clap::Args)]
pub struct AlertsArgs {
    /// The daemon's config file (its `data_dir` holds the store).
    #[arg(short, long, default_value = "config/rampart.toml")]
    config: PathBuf,
    /// The data directory, instead of the config's.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Only this segment: `S042` or `42`.
    #[arg(long, value_name = "SEGMENT")]
    segment: Option<String>,
    /// Only messages published since: a time ago (`2h`, `30m`, `7days`) or
    /// an RFC 3339 time (`2026-11-26T03:00:00Z`).
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    since: Option<Timestamp>,
    /// Only messages published before (same forms as --since).
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    until: Option<Timestamp>,
    /// `raised`, `updated`, `cleared`; `open` (the latest message of every
    /// incident not cleared); `unsent` (the outbox: not yet acknowledged by
    /// the broker).
    #[arg(long, value_name = "STATE")]
    state: Option<StateFilter>,
    /// `intrusion`, `tamper`, `sensor_offline` or `sensor_fault`.
    #[arg(long)]
    kind: Option<String>,
    /// Every message of one incident.
    #[arg(long, value_name = "ID")]
    incident: Option<String>,
    /// Show at most the latest N messages (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// One JSON object per line: the stored message with its sequence
    /// number, topic and delivery time.
    #[arg(long)]
    json: bool,
}

/// `2h` ago, or an RFC 3339 time.
fn parse_when(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(Timestamp::from_system(t));
    }
    let ago = humantime::parse_duration(s)
        .map_err(|_| format!("`{s}` is neither a time ago (2h, 30m) nor an RFC 3339 time"))?;
    let t = SystemTime::now()
        .checked_sub(ago)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(Timestamp::from_system(t))
}

/// `S042`, `42` → `S042`.
fn segment_id(s: &str) -> Result<String, String> {
    let digits = s.strip_prefix(['S', 's']).unwrap_or(s);
    let n: u32 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a segment like S042 or 42"))?;
    Ok(format!("S{n:03}"))
}

pub fn run(args: AlertsArgs) -> ExitCode {
    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => match rampart::config::load(&args.config) {
            Ok(loaded) => loaded.config.data_dir,
            Err(problems) => {
                for p in &problems {
                    eprintln!("{p}");
                }
                return ExitCode::from(rampart::exit::CONFIG);
            }
        },
    };
    let segment = match args.segment.as_deref().map(segment_id).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampart: {e}");
            return ExitCode::from(rampart::exit::USAGE);
        }
    };
    let query = Query {
        segment,
        since: args.since,
        until: args.until,
        state: args.state,
        kind: args.kind,
        incident: args.incident,
        limit: args.limit,
    };
    let rows = match Store::open_read_only(&data_dir).and_then(|s| s.query(&query)) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("rampart: {e}");
            return ExitCode::from(rampart::exit::CANNOT_START);
        }
    };
    if args.json {
        for row in &rows {
            println!("{}", json_line(row));
        }
    } else {
        print_table(&rows);
    }
    ExitCode::SUCCESS
}

fn json_line(row: &StoredAlert) -> serde_json::Value {
    let message: serde_json::Value =
        serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "seq": row.seq,
        "topic": row.topic,
        "delivered_at": row.delivered_at.map(|t| t.to_string()),
        "message": message,
    })
}

fn print_table(rows: &[StoredAlert]) {
    println!(
        "{:<24} {:<5} {:<8} {:<15} {:<9} {:>4} {:<9} {:<32} summary",
        "published", "seg", "state", "kind", "priority", "rev", "broker", "incident"
    );
    for r in rows {
        let summary = serde_json::from_str::<serde_json::Value>(&r.payload)
            .ok()
            .and_then(|v| v["summary"].as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "{:<24} {:<5} {:<8} {:<15} {:<9} {:>4} {:<9} {:<32} {}",
            r.published_at.to_string(),
            r.segment_id,
            r.state,
            r.kind,
            r.priority,
            r.rev,
            if r.delivered_at.is_some() {
                "acked"
            } else {
                "UNSENT"
            },
            r.id,
            summary
        );
    }
    println!("{} message(s)", rows.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_times_parse_in_the_forms_operators_type() {
        assert_eq!(segment_id("S042").unwrap(), "S042");
        assert_eq!(segment_id("42").unwrap(), "S042");
        assert_eq!(segment_id("s1234").unwrap(), "S1234");
        assert!(segment_id("north").is_err());
        let t = parse_when("2026-11-26T03:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-26T03:00:00.000Z");
        let ago = parse_when("2h").unwrap();
        let expect = Timestamp::now().millis() - 7_200_000;
        assert!((ago.millis() - expect).abs() < 5000);
        assert!(parse_when("yesterday-ish").is_err());
    }
}
