//! The alert store against a real SQLite file in a temporary directory.

use std::time::Duration;

use super::*;
use crate::alert::{AlertKind, AlertState};
use crate::testkit::alert;

fn append(store: &mut Store, msgs: &[AlertMessage]) -> Vec<i64> {
    let json: Vec<String> = msgs
        .iter()
        .map(|m| serde_json::to_string(m).unwrap())
        .collect();
    let topics: Vec<String> = msgs
        .iter()
        .map(|m| format!("rampart/v1/alert/{}", m.segment_id))
        .collect();
    let new: Vec<NewAlert<'_>> = msgs
        .iter()
        .zip(&json)
        .zip(&topics)
        .map(|((message, payload), topic)| NewAlert {
            message,
            topic,
            payload,
        })
        .collect();
    store.append(&new).unwrap()
}

fn ids(rows: &[StoredAlert]) -> Vec<(String, u32)> {
    rows.iter().map(|r| (r.id.clone(), r.rev)).collect()
}

#[test]
fn the_outbox_keeps_undelivered_messages_in_order_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let msgs: Vec<AlertMessage> = (1..=5)
        .map(|rev| {
            alert(
                "a-1",
                rev,
                AlertState::Updated,
                AlertKind::Intrusion,
                3,
                1000 * rev as i64,
            )
        })
        .collect();
    let seqs = append(&mut store, &msgs);
    assert_eq!(seqs.len(), 5);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    store
        .mark_delivered(&[seqs[0], seqs[2]], Timestamp(9000))
        .unwrap();
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    let out = store.outbox(0, 100).unwrap();
    assert_eq!(out.iter().map(|r| r.rev).collect::<Vec<_>>(), [2, 4, 5]);
    assert_eq!(store.outbox_len().unwrap(), 3);
    assert_eq!(out[0].topic, "rampart/v1/alert/S003");
    let parsed: serde_json::Value = serde_json::from_str(&out[0].payload).unwrap();
    assert_eq!(parsed["rev"], 2);
    // Paging from a sequence number.
    let rest = store.outbox(out[0].seq, 1).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].rev, 4);
}

#[test]
fn open_incidents_are_the_latest_message_of_every_incident_not_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let (i, t, o) = (
        AlertKind::Intrusion,
        AlertKind::Tamper,
        AlertKind::SensorOffline,
    );
    append(
        &mut store,
        &[
            alert("a-1", 1, AlertState::Raised, i, 1, 1000),
            alert("a-2", 1, AlertState::Raised, t, 2, 2000),
            alert("a-1", 2, AlertState::Updated, i, 1, 3000),
            alert("a-3", 1, AlertState::Raised, o, 4, 3500),
            alert("a-2", 2, AlertState::Cleared, t, 2, 4000),
            alert("a-1", 3, AlertState::Updated, i, 1, 5000),
        ],
    );
    let open = store.open_incidents().unwrap();
    assert_eq!(ids(&open), [("a-3".into(), 1), ("a-1".into(), 3)]);
}

#[test]
fn queries_narrow_by_segment_time_state_kind_and_incident() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let (i, t) = (AlertKind::Intrusion, AlertKind::Tamper);
    let seqs = append(
        &mut store,
        &[
            alert("a-1", 1, AlertState::Raised, i, 42, 1000),
            alert("a-2", 1, AlertState::Raised, t, 7, 2000),
            alert("a-1", 2, AlertState::Updated, i, 42, 3000),
            alert("a-1", 3, AlertState::Cleared, i, 42, 4000),
            alert("a-4", 1, AlertState::Raised, i, 42, 5000),
        ],
    );
    store.mark_delivered(&seqs[..4], Timestamp(6000)).unwrap();
    let q = |q: Query| ids(&store.query(&q).unwrap());
    let seg = || Some("S042".to_owned());
    assert_eq!(
        q(Query {
            segment: seg(),
            ..Query::default()
        }),
        [
            ("a-1".into(), 1),
            ("a-1".into(), 2),
            ("a-1".into(), 3),
            ("a-4".into(), 1)
        ]
    );
    assert_eq!(
        q(Query {
            segment: seg(),
            since: Some(Timestamp(2500)),
            until: Some(Timestamp(5000)),
            ..Query::default()
        }),
        [("a-1".into(), 2), ("a-1".into(), 3)]
    );
    assert_eq!(
        q(Query {
            state: Some(StateFilter::Open),
            ..Query::default()
        }),
        [("a-2".into(), 1), ("a-4".into(), 1)]
    );
    assert_eq!(
        q(Query {
            state: Some(StateFilter::Unsent),
            ..Query::default()
        }),
        [("a-4".into(), 1)]
    );
    assert_eq!(
        q(Query {
            state: Some("raised".parse().unwrap()),
            kind: Some("intrusion".into()),
            ..Query::default()
        }),
        [("a-1".into(), 1), ("a-4".into(), 1)]
    );
    assert_eq!(
        q(Query {
            incident: Some("a-1".into()),
            limit: 2,
            ..Query::default()
        }),
        [("a-1".into(), 2), ("a-1".into(), 3)],
        "the latest two, oldest first"
    );
    assert!("opened".parse::<StateFilter>().is_err());
}

#[test]
fn retention_never_deletes_an_undelivered_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let day = 86_400_000;
    let msgs: Vec<AlertMessage> = (0..10)
        .map(|n| {
            alert(
                &format!("a-{n}"),
                1,
                AlertState::Raised,
                AlertKind::Intrusion,
                1,
                n * day,
            )
        })
        .collect();
    let seqs = append(&mut store, &msgs);
    // Everything delivered except messages 0 and 6.
    let delivered: Vec<i64> = seqs
        .iter()
        .enumerate()
        .filter(|(n, _)| *n != 0 && *n != 6)
        .map(|(_, s)| *s)
        .collect();
    store.mark_delivered(&delivered, Timestamp(0)).unwrap();
    // By age: older than 5 days at day 10 → messages 0..=4 except 0.
    let now = Timestamp(10 * day);
    let gone = store
        .prune(now, Duration::from_millis(5 * day as u64 + 1), 1000)
        .unwrap();
    assert_eq!(gone, 4);
    // By count: keep 3 → the oldest delivered go, undelivered 0 and 6 stay.
    let gone = store
        .prune(now, Duration::from_secs(1000 * 86_400), 3)
        .unwrap();
    assert_eq!(gone, 3);
    let left: Vec<String> = store
        .query(&Query::default())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, ["a-0", "a-6", "a-9"]);
    assert_eq!(store.outbox_len().unwrap(), 2);
}

#[test]
fn a_store_from_a_newer_rampart_is_refused_and_a_missing_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .conn
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(store);
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Version { .. }), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = Store::open_read_only(empty.path()).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
}

#[test]
fn a_read_only_reader_sees_what_the_writer_committed() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = Store::open(dir.path()).unwrap();
    let reader = Store::open_read_only(dir.path()).unwrap();
    append(
        &mut writer,
        &[alert(
            "a-1",
            1,
            AlertState::Raised,
            AlertKind::Tamper,
            5,
            1000,
        )],
    );
    assert_eq!(reader.outbox_len().unwrap(), 1);
    writer.probe().unwrap();
    writer.reopen().unwrap();
    assert_eq!(writer.outbox_len().unwrap(), 1);
}

#[test]
fn a_version_1_store_opens_and_gains_device_seqs_which_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A store as version 1 left it: no device_seq table.
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute_batch(
            "CREATE TABLE alerts (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL,
             rev INTEGER NOT NULL, segment_id TEXT NOT NULL, kind TEXT NOT NULL,
             state TEXT NOT NULL, priority TEXT NOT NULL, published_ms INTEGER NOT NULL,
             topic TEXT NOT NULL, payload TEXT NOT NULL, delivered_ms INTEGER);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut store = Store::open(dir.path()).unwrap();
    assert!(store.device_seqs().unwrap().is_empty());
    let at = Timestamp(1_800_000_000_000);
    store
        .save_device_seqs(&[("fence-a".into(), 7), ("trench-a".into(), u32::MAX)], at)
        .unwrap();
    store
        .save_device_seqs(&[("fence-a".into(), 8)], at)
        .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let version: i64 = store
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(
        store.device_seqs().unwrap(),
        [("fence-a".to_owned(), 8), ("trench-a".to_owned(), u32::MAX)]
    );
}

/// Accepted sentences are logged with the alerts and seqs of the same
/// commit, and come back after a reopen, oldest first (so the newest of a
/// slot wins when the engine takes them back).
#[test]
fn sentences_seen_are_committed_with_alerts_and_come_back() {
    use crate::redelivery::Seen;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let at = Timestamp(1_800_000_000_000);
    let seen = |seq: u32, digest: u64| Seen { seq, digest, at };
    let msg = alert(
        "rampart-t-1",
        1,
        AlertState::Raised,
        AlertKind::Tamper,
        12,
        1,
    );
    let json = serde_json::to_string(&msg).unwrap();
    let new = [NewAlert {
        message: &msg,
        topic: "rampart/v1/alert/S012",
        payload: &json,
    }];
    let first = vec![
        ("fence-a".to_owned(), seen(1, u64::MAX)),
        ("fence-a".to_owned(), seen(2, 7)),
        ("trench-a".to_owned(), seen(9, 9)),
    ];
    let seqs = store
        .commit(&new, &first, &[("fence-a".into(), 2)], at)
        .unwrap();
    assert_eq!(seqs.len(), 1);
    // Without an alert: committed too (without waiting for the disk).
    let later = [("fence-a".to_owned(), seen(3, 11))];
    store.commit(&[], &later, &[], at).unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let mut expected = first.clone();
    expected.extend(later);
    assert_eq!(store.seen().unwrap(), expected);
    assert_eq!(store.device_seqs().unwrap(), [("fence-a".to_owned(), 2)]);
    assert_eq!(store.outbox(0, 10).unwrap().len(), 1);
}

/// Only the newest sentences are kept: old ones are deleted as new ones
/// come, and reading back returns at most SEEN_KEPT.
#[test]
fn only_the_newest_sentences_seen_are_kept() {
    use crate::redelivery::Seen;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let total = SEEN_KEPT as u32 + 2 * SEEN_PRUNE_EVERY as u32;
    let batch: Vec<_> = (0..total)
        .map(|seq| {
            (
                "fence-a".to_owned(),
                Seen {
                    seq,
                    digest: u64::from(seq),
                    at: Timestamp(1),
                },
            )
        })
        .collect();
    for chunk in batch.chunks(10_000) {
        store.commit(&[], chunk, &[], Timestamp(1)).unwrap();
    }
    let back = store.seen().unwrap();
    assert_eq!(back.len(), SEEN_KEPT as usize);
    assert_eq!(back.first().unwrap().1.seq, total - SEEN_KEPT as u32);
    assert_eq!(back.last().unwrap().1.seq, total - 1);
    let rows: i64 = store
        .conn
        .query_row("SELECT count(*) FROM sentence_log", [], |r| r.get(0))
        .unwrap();
    assert!(
        rows <= SEEN_KEPT + SEEN_PRUNE_EVERY as i64,
        "{rows} rows kept"
    );
}

/// A version-2 store (keyed seqs, no sentences seen) gains the table.
#[test]
fn a_version_2_store_gains_the_sentences_seen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .conn
            .execute_batch("DROP TABLE sentence_log; PRAGMA user_version = 2;")
            .unwrap();
    }
    let mut store = Store::open(dir.path()).unwrap();
    assert!(store.seen().unwrap().is_empty());
    let s = crate::redelivery::Seen {
        seq: 4,
        digest: 4,
        at: Timestamp(1),
    };
    store
        .commit(&[], &[("fence-a", s)], &[], Timestamp(1))
        .unwrap();
    assert_eq!(store.seen().unwrap(), [("fence-a".to_owned(), s)]);
}
