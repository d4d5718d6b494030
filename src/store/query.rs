//! Questions asked of the alert history (`rampart alerts`): by segment,
//! time range, kind, incident and state.

use rusqlite::types::Value;

use super::{row_to_alert, sqlite, Store, StoreError, StoredAlert, COLUMNS};
use crate::time::Timestamp;

/// Which messages, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Messages whose `state` is `raised`, `updated` or `cleared`.
    Message(&'static str),
    /// The latest message of every incident not cleared yet.
    Open,
    /// Messages the broker has not acknowledged yet (the outbox).
    Unsent,
}

impl std::str::FromStr for StateFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "raised" => Self::Message("raised"),
            "updated" => Self::Message("updated"),
            "cleared" => Self::Message("cleared"),
            "open" => Self::Open,
            "unsent" => Self::Unsent,
            _ => {
                return Err(format!(
                    "`{s}`: expected raised, updated, cleared, open or unsent"
                ))
            }
        })
    }
}

/// A query of the history; every field set narrows it.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// `S042`.
    pub segment: Option<String>,
    /// Published at or after.
    pub since: Option<Timestamp>,
    /// Published before.
    pub until: Option<Timestamp>,
    pub state: Option<StateFilter>,
    /// `intrusion`, `tamper`, `sensor_offline`, `sensor_fault`.
    pub kind: Option<String>,
    /// One incident's messages.
    pub incident: Option<String>,
    /// At most this many (the latest ones); 0 for all.
    pub limit: usize,
}

impl Store {
    /// The messages matching `q`, oldest first.
    pub fn query(&self, q: &Query) -> Result<Vec<StoredAlert>, StoreError> {
        let mut clauses: Vec<&str> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut add = |clause: &'static str, value: Value| {
            clauses.push(clause);
            values.push(value);
        };
        if let Some(s) = &q.segment {
            add("segment_id = ?", Value::Text(s.clone()));
        }
        if let Some(t) = q.since {
            add("published_ms >= ?", Value::Integer(t.millis()));
        }
        if let Some(t) = q.until {
            add("published_ms < ?", Value::Integer(t.millis()));
        }
        if let Some(k) = &q.kind {
            add("kind = ?", Value::Text(k.clone()));
        }
        if let Some(id) = &q.incident {
            add("id = ?", Value::Text(id.clone()));
        }
        match q.state {
            Some(StateFilter::Message(s)) => add("state = ?", Value::Text(s.to_owned())),
            Some(StateFilter::Open) => clauses
                .push("seq IN (SELECT MAX(seq) FROM alerts GROUP BY id) AND state != 'cleared'"),
            Some(StateFilter::Unsent) => clauses.push("delivered_ms IS NULL"),
            None => {}
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let limit = if q.limit == 0 { -1 } else { q.limit as i64 };
        // The latest `limit` matches, returned oldest first.
        let sql = format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM alerts {filter} ORDER BY seq DESC LIMIT {limit}) ORDER BY seq"
        );
        let e = |e| sqlite(&self.path, e);
        let mut stmt = self.conn.prepare(&sql).map_err(e)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), row_to_alert)
            .map_err(e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e)
    }
}
