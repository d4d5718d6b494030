//! The alert store: one SQLite database, `<data_dir>/rampart.db`, that is
//! both the outbox and the history of every alert message the daemon
//! decided on.
//!
//! - **Outbox.** A message is committed here (WAL, `synchronous=FULL`: on
//!   disk when [`Store::append`] returns) before it is handed to the broker,
//!   and stays marked undelivered until the broker has acknowledged it
//!   ([`Store::mark_delivered`]). After a crash the next run sends what is
//!   still undelivered first, in commit order ([`Store::outbox`]).
//! - **History.** Every message, queryable by segment, time, kind, incident
//!   and state ([`Store::query`], `rampart alerts`); the latest message of
//!   every incident still open lets a restarted daemon carry on with its
//!   revision numbers ([`Store::open_incidents`]).
//! - **Device seqs.** The last accepted sequence number of every keyed
//!   device (`device_seq`), saved in batches by the engine task and read
//!   back at start-up, so a sentence captured before a restart cannot be
//!   replayed after it ([`Store::save_device_seqs`], [`Store::device_seqs`]).
//! - **Sentences seen.** The last [`SEEN_KEPT`] sentences accepted
//!   (`sentence_log`: device, seq, digest, in the order taken), committed
//!   with the alerts they produced and before their MQTT messages are
//!   acknowledged, so a restarted daemon recognises the broker's
//!   redeliveries ([`Store::commit`], [`Store::seen`]). Appended, not
//!   updated in place: a whole wall's sentences cost a few microseconds
//!   each.
//! - **Retention** ([`Store::prune`]) deletes old delivered messages by age
//!   and by count, and never an undelivered one.
//!
//! Synchronous and blocking: the daemon calls it through [`StoreHandle`]
//! (`spawn_blocking`), `rampart alerts` directly.

mod handle;
mod query;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};

use crate::alert::AlertMessage;
use crate::redelivery::Seen;
use crate::time::Timestamp;

pub use handle::StoreHandle;
pub use query::{Query, StateFilter};

/// The database's file name in the data directory.
pub const FILE_NAME: &str = "rampart.db";

/// The schema this build writes (`PRAGMA user_version`). Version 2 added
/// `device_seq`, version 3 `sentence_log`; an older store gains them when
/// opened (every statement of [`SCHEMA`] is `IF NOT EXISTS`, so the
/// migration is running it).
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL,
    rev          INTEGER NOT NULL,
    segment_id   TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    priority     TEXT    NOT NULL,
    published_ms INTEGER NOT NULL,
    topic        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    delivered_ms INTEGER
);
CREATE INDEX IF NOT EXISTS alerts_outbox ON alerts(seq) WHERE delivered_ms IS NULL;
CREATE INDEX IF NOT EXISTS alerts_segment ON alerts(segment_id, published_ms);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(published_ms);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts(id, rev);
CREATE TABLE IF NOT EXISTS probe (n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS device_seq (
    device     TEXT    PRIMARY KEY,
    seq        INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sentence_log (
    device TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    digest INTEGER NOT NULL,
    at_ms  INTEGER NOT NULL
);
";

/// How many accepted sentences the store keeps (the newest): the engine's
/// window of redeliveries.
pub const SEEN_KEPT: i64 = crate::redelivery::WINDOW as i64;
/// Old sentences are deleted after this many new ones.
const SEEN_PRUNE_EVERY: u64 = 65_536;

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("alert store {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "alert store {path} has schema version {found}, newer than this rampart's {SCHEMA_VERSION}"
    )]
    Version { path: String, found: i64 },
    #[error("alert store {path} does not exist")]
    Missing { path: String },
    #[error("the alert store's worker task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// True when the disk (or the file system) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(e, _), .. }
                if e.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

/// One stored alert message.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    /// Commit order: the outbox is sent in this order.
    pub seq: i64,
    pub id: String,
    pub rev: u32,
    pub segment_id: String,
    pub kind: String,
    pub state: String,
    pub priority: String,
    pub published_at: Timestamp,
    pub topic: String,
    /// The message exactly as published (JSON).
    pub payload: String,
    /// When the broker acknowledged it; `None` while it is in the outbox.
    pub delivered_at: Option<Timestamp>,
}

/// A message to store: the alert, where it goes and its JSON.
#[derive(Debug, Clone, Copy)]
pub struct NewAlert<'a> {
    pub message: &'a AlertMessage,
    pub topic: &'a str,
    pub payload: &'a str,
}

/// The alert store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Commits wait for the disk (`synchronous=FULL`).
    synced: bool,
    /// Sentences logged since old ones were last deleted.
    seen_since_prune: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating it, and its directory, if needed) the store in
    /// `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Dir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(FILE_NAME);
        let conn = Connection::open(&path).map_err(|e| sqlite(&path, e))?;
        let store = Self {
            conn,
            path,
            synced: true,
            seen_since_prune: 0,
        };
        store.prepare()?;
        Ok(store)
    }

    /// Opens an existing store for reading only (`rampart alerts`), beside
    /// a running daemon.
    pub fn open_read_only(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(FILE_NAME);
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.display().to_string(),
            });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite(&path, e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| sqlite(&path, e))?;
        let store = Self {
            conn,
            path,
            synced: true,
            seen_since_prune: 0,
        };
        store.check_version()?;
        Ok(store)
    }

    /// Where the database is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn prepare(&self) -> Result<(), StoreError> {
        let e = |e| sqlite(&self.path, e);
        self.conn.busy_timeout(Duration::from_secs(5)).map_err(e)?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(e)?;
        // Every commit reaches the disk before append returns.
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(e)?;
        self.check_version()?;
        self.conn.execute_batch(SCHEMA).map_err(e)?;
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(e)?;
        Ok(())
    }

    fn check_version(&self) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| sqlite(&self.path, e))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::Version {
                path: self.path.display().to_string(),
                found,
            });
        }
        Ok(())
    }

    /// Commits messages, in order, in one transaction; returns their
    /// sequence numbers. On disk when it returns.
    pub fn append(&mut self, alerts: &[NewAlert<'_>]) -> Result<Vec<i64>, StoreError> {
        self.commit(alerts, &[] as &[(&str, Seen)], &[], Timestamp(0))
    }

    /// Commits in one transaction alert messages (in order), sentences
    /// accepted and keyed devices' last seqs (as of `at`); returns the
    /// messages' sequence numbers. With messages it is on disk when it
    /// returns (`synchronous=FULL`); without, it is committed without
    /// waiting for the disk: a crash of the daemon keeps it, a crash of the
    /// machine may not.
    pub fn commit(
        &mut self,
        alerts: &[NewAlert<'_>],
        seen: &[(impl AsRef<str>, Seen)],
        seqs: &[(String, u32)],
        at: Timestamp,
    ) -> Result<Vec<i64>, StoreError> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let synced = !alerts.is_empty();
        if synced != self.synced {
            let mode = if synced { "FULL" } else { "NORMAL" };
            self.conn
                .pragma_update(None, "synchronous", mode)
                .map_err(e)?;
            self.synced = synced;
        }
        let tx = self.conn.transaction().map_err(e)?;
        if !seen.is_empty() {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO sentence_log (device, seq, digest, at_ms) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(e)?;
            for (device, s) in seen {
                // SQLite integers are signed: the digest's bits, as they are.
                insert
                    .execute(params![
                        device.as_ref(),
                        s.seq,
                        s.digest as i64,
                        s.at.millis()
                    ])
                    .map_err(e)?;
            }
            self.seen_since_prune += seen.len() as u64;
            if self.seen_since_prune >= SEEN_PRUNE_EVERY {
                tx.execute(
                    "DELETE FROM sentence_log WHERE rowid <= (SELECT max(rowid) FROM sentence_log) - ?1",
                    [SEEN_KEPT],
                )
                .map_err(e)?;
                self.seen_since_prune = 0;
            }
        }
        if !seqs.is_empty() {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO device_seq (device, seq, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT(device) DO UPDATE SET seq = ?2, updated_ms = ?3",
                )
                .map_err(e)?;
            for (device, seq) in seqs {
                upsert
                    .execute(params![device, seq, at.millis()])
                    .map_err(e)?;
            }
        }
        let mut seqs = Vec::with_capacity(alerts.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO alerts (id, rev, segment_id, kind, state, priority, published_ms, topic, payload)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(e)?;
            for a in alerts {
                let m = a.message;
                insert
                    .execute(params![
                        m.id,
                        m.rev,
                        m.segment_id,
                        m.kind.as_str(),
                        state_str(m.state),
                        priority_str(m.priority),
                        m.published_at.millis(),
                        a.topic,
                        a.payload,
                    ])
                    .map_err(e)?;
                seqs.push(tx.last_insert_rowid());
            }
        }
        tx.commit().map_err(e)?;
        Ok(seqs)
    }

    /// Saves the last accepted seq of these devices, in one transaction.
    pub fn save_device_seqs(
        &mut self,
        seqs: &[(String, u32)],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit(&[], &[] as &[(&str, Seen)], seqs, at).map(drop)
    }

    /// The newest [`SEEN_KEPT`] sentences saved as accepted, oldest first.
    pub fn seen(&self) -> Result<Vec<(String, Seen)>, StoreError> {
        let e = |e| sqlite(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT device, seq, digest, at_ms FROM sentence_log
                 WHERE rowid > (SELECT coalesce(max(rowid), 0) FROM sentence_log) - ?1
                 ORDER BY rowid",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([SEEN_KEPT], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Seen {
                        seq: r.get(1)?,
                        digest: r.get::<_, i64>(2)? as u64,
                        at: Timestamp(r.get(3)?),
                    },
                ))
            })
            .map_err(e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e)
    }

    /// The last accepted seq of every device saved.
    pub fn device_seqs(&self) -> Result<Vec<(String, u32)>, StoreError> {
        let e = |e| sqlite(&self.path, e);
        let mut stmt = self
            .conn
            .prepare("SELECT device, seq FROM device_seq ORDER BY device")
            .map_err(e)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))
            .map_err(e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e)
    }

    /// Marks messages as acknowledged by the broker: they leave the outbox.
    pub fn mark_delivered(&mut self, seqs: &[i64], at: Timestamp) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE alerts SET delivered_ms = ?2 WHERE seq = ?1 AND delivered_ms IS NULL",
                )
                .map_err(e)?;
            for seq in seqs {
                update.execute(params![seq, at.millis()]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Up to `limit` undelivered messages after sequence number `after`, in
    /// commit order.
    pub fn outbox(&self, after: i64, limit: usize) -> Result<Vec<StoredAlert>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.select(
            "WHERE delivered_ms IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
            params![after, limit],
        )
    }

    /// How many messages are waiting in the outbox.
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM alerts WHERE delivered_ms IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| sqlite(&self.path, e))
    }

    /// The latest message of every incident whose latest message is not a
    /// clear, oldest incident first.
    pub fn open_incidents(&self) -> Result<Vec<StoredAlert>, StoreError> {
        self.select(
            "WHERE seq IN (SELECT MAX(seq) FROM alerts GROUP BY id) AND state != 'cleared' ORDER BY seq",
            [],
        )
    }

    /// Deletes delivered messages published before `now - max_age`, then
    /// the oldest delivered ones beyond `max_messages`. Undelivered messages
    /// are never deleted. Returns how many were deleted.
    pub fn prune(
        &mut self,
        now: Timestamp,
        max_age: Duration,
        max_messages: u64,
    ) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let cutoff = now.millis().saturating_sub(max_age.as_millis() as i64);
        let tx = self.conn.transaction().map_err(e)?;
        let mut deleted = tx
            .execute(
                "DELETE FROM alerts WHERE delivered_ms IS NOT NULL AND published_ms < ?1",
                params![cutoff],
            )
            .map_err(e)? as u64;
        let total: i64 = tx
            .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0))
            .map_err(e)?;
        let excess = (total.max(0) as u64).saturating_sub(max_messages);
        if excess > 0 {
            deleted += tx
                .execute(
                    "DELETE FROM alerts WHERE seq IN (SELECT seq FROM alerts WHERE delivered_ms IS NOT NULL ORDER BY seq LIMIT ?1)",
                    params![excess as i64],
                )
                .map_err(e)? as u64;
        }
        tx.commit().map_err(e)?;
        Ok(deleted)
    }

    /// A small write that tells whether the store can commit again (after
    /// the disk filled up or turned read-only).
    pub fn probe(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute("DELETE FROM probe", []).map_err(e)?;
        tx.execute("INSERT INTO probe (n) VALUES (1)", [])
            .map_err(e)?;
        tx.commit().map_err(e)
    }

    /// Opens the database again: after an I/O error SQLite may hold on to
    /// a broken file handle.
    pub fn reopen(&mut self) -> Result<(), StoreError> {
        let conn = Connection::open(&self.path).map_err(|e| sqlite(&self.path, e))?;
        self.conn = conn;
        self.synced = true;
        self.prepare()
    }

    fn select(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM alerts {clause}");
        let e = |e| sqlite(&self.path, e);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(e)?;
        let rows = stmt.query_map(params, row_to_alert).map_err(e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e)
    }
}

const COLUMNS: &str =
    "seq, id, rev, segment_id, kind, state, priority, published_ms, topic, payload, delivered_ms";

fn row_to_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredAlert> {
    Ok(StoredAlert {
        seq: r.get(0)?,
        id: r.get(1)?,
        rev: r.get(2)?,
        segment_id: r.get(3)?,
        kind: r.get(4)?,
        state: r.get(5)?,
        priority: r.get(6)?,
        published_at: Timestamp(r.get(7)?),
        topic: r.get(8)?,
        payload: r.get(9)?,
        delivered_at: r.get::<_, Option<i64>>(10)?.map(Timestamp),
    })
}

fn sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

fn state_str(s: crate::alert::AlertState) -> &'static str {
    use crate::alert::AlertState::*;
    match s {
        Raised => "raised",
        Updated => "updated",
        Cleared => "cleared",
    }
}

fn priority_str(p: crate::alert::Priority) -> &'static str {
    use crate::alert::Priority::*;
    match p {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
}

#[cfg(test)]
mod tests;
