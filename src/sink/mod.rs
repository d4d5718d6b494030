//! Sinks: where the engine's output goes. Every alert message is committed
//! to the alert store (its outbox and history), summarised in one log line
//! and handed to the [`publisher`], which publishes it at QoS 1 and marks
//! it delivered once the broker acknowledged it; segment states are
//! published retained.
//!
//! The sink takes the engine's outputs from a bounded channel, committing
//! what has queued up in one transaction: alert messages, and the engine's
//! [`Progress`] (the sentences it accepted, remembered so that their
//! redeliveries are known after a restart, and the keyed devices' last
//! seqs). Once that transaction is committed it acknowledges to the broker
//! the MQTT messages whose effect it holds: a message is acknowledged only
//! when its effect can no longer be lost. A transaction with an alert is
//! synced to disk (`synchronous=FULL`); one with only progress is
//! committed without waiting for the disk, which survives a crash of the
//! daemon but not of the machine (then a few sentences may act twice). If the store cannot commit (disk
//! full, read-only, I/O error) the messages still go out over MQTT, held in
//! memory only; that is logged at ERROR, counted (`store.write_errors`),
//! shown in the daemon's health, and the store is probed every
//! [`PROBE_INTERVAL`] until it works again. The sink never drops a message:
//! when the publisher can take no more, the sink — and so the engine —
//! waits.

pub mod delivery;
pub mod publisher;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::alert::{AlertKind, AlertMessage, AlertState};
use crate::incident::Output;
use crate::mqtt::subscriber::AckToken;
use crate::redelivery::Seen;
use crate::runtime::Shared;
use crate::store::{NewAlert, StoreHandle};
use crate::topics::Topics;
use delivery::Outgoing;
use publisher::{Publisher, ToPublish};

/// How many queued outputs are committed together at most.
pub const BATCH: usize = 64;
/// How often a failing store is tried again without waiting for an alert.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How often retention runs.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// What the engine hands the sink, in order.
// Outputs are most of what passes; boxing them would cost an allocation
// each, to save room on the rarer progress.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum SinkInput {
    /// An alert message or a segment state.
    Output(Output),
    /// How far the engine's input has got.
    Progress(Progress),
}

impl From<Output> for SinkInput {
    fn from(o: Output) -> Self {
        SinkInput::Output(o)
    }
}

/// How far the engine's input has got since the last `Progress`: to be
/// committed together with every alert before it, then acknowledged.
#[derive(Debug, Default)]
pub struct Progress {
    /// Sentences accepted (to recognise their redeliveries).
    pub seen: Vec<(Arc<str>, Seen)>,
    /// Keyed devices whose last accepted seq moved.
    pub seqs: Vec<(String, u32)>,
    /// MQTT messages fully handled, to acknowledge once committed.
    pub acks: Vec<AckToken>,
}

impl Progress {
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty() && self.seqs.is_empty() && self.acks.is_empty()
    }
}

/// How long alert history is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_age: Duration,
    pub max_messages: u64,
}

/// `AlertSink`: store, log line, MQTT.
pub struct AlertSink {
    store: Option<StoreHandle>,
    retention: Retention,
    publisher: Publisher,
    to_publish: mpsc::Sender<ToPublish>,
    topics: Topics,
    shared: Arc<Shared>,
}

impl AlertSink {
    /// A sink committing to `store` (none: MQTT only, as in replay-free
    /// tests) and publishing through `publisher`.
    pub fn new(
        store: Option<StoreHandle>,
        retention: Retention,
        publisher: Publisher,
        topics: Topics,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            store,
            retention,
            to_publish: publisher.input(),
            publisher,
            topics,
            shared,
        }
    }

    /// Handles outputs until the channel closes, then lets the publisher
    /// finish (flush within its deadline, say `offline`).
    pub async fn run(mut self, mut rx: mpsc::Receiver<SinkInput>) {
        let mut probe = tokio::time::interval(PROBE_INTERVAL);
        let mut prune = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(60),
            PRUNE_INTERVAL,
        );
        loop {
            let failing = !self.shared.health.store_ok();
            tokio::select! {
                first = rx.recv() => {
                    let Some(first) = first else { break };
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(o) => batch.push(o),
                            Err(_) => break,
                        }
                    }
                    if !self.handle(batch).await {
                        break;
                    }
                }
                _ = probe.tick(), if failing => self.probe().await,
                _ = prune.tick() => self.prune().await,
            }
        }
        drop(self.to_publish);
        self.publisher.close().await;
    }

    /// Commits the batch's alerts, then hands everything to the publisher
    /// in order. False if the publisher is gone.
    async fn handle(&mut self, batch: Vec<SinkInput>) -> bool {
        /// One output, in the batch's order: an alert (the next of
        /// `alerts`) or a segment state.
        enum Item {
            Alert,
            State(String, Vec<u8>),
        }
        let now = self.shared.clock.now();
        let mut alerts: Vec<(AlertMessage, String, String)> = Vec::new();
        let mut order: Vec<Item> = Vec::new();
        let mut progress = Progress::default();
        for input in batch {
            let out = match input {
                SinkInput::Output(o) => o,
                SinkInput::Progress(p) => {
                    progress.seen.extend(p.seen);
                    progress.seqs.extend(p.seqs);
                    progress.acks.extend(p.acks);
                    continue;
                }
            };
            match out {
                Output::Alert(mut msg) => {
                    crate::failpoint::check("sink", msg.kind.as_str());
                    // The time it is handed to the store and the broker.
                    msg.published_at = now;
                    match serde_json::to_string(&msg) {
                        Ok(json) => {
                            let topic = self.topics.alert(&msg.segment_id);
                            order.push(Item::Alert);
                            alerts.push((msg, topic, json));
                        }
                        // Cannot happen with these types; say so loudly if it does.
                        Err(e) => error!(id = %msg.id, error = %e, "alert could not be serialised"),
                    }
                }
                Output::Segment(seg, state) => {
                    let topic = self.topics.segment_state(&seg.to_string());
                    match serde_json::to_vec(&state) {
                        Ok(body) => order.push(Item::State(topic, body)),
                        Err(e) => {
                            error!(segment = %seg, error = %e, "segment state could not be serialised")
                        }
                    }
                }
            }
        }
        let acks = std::mem::take(&mut progress.acks);
        let seqs = self.commit(&alerts, progress).await;
        // Committed (or the store is failing, and the daemon goes on
        // without it): the messages' effect is in hand.
        let n = acks.len() as u64;
        let mut gone = 0;
        for token in acks {
            gone += u64::from(!token.ack());
        }
        self.shared.counters.add("mqtt.in.acked", n - gone);
        if gone > 0 {
            // Their connection broke: the broker sends them again.
            self.shared
                .counters
                .add("mqtt.in.ack_connection_gone", gone);
        }
        let mut committed = alerts.into_iter().enumerate();
        for item in order {
            let msg = match item {
                Item::Alert => {
                    let Some((i, (msg, topic, json))) = committed.next() else {
                        continue;
                    };
                    self.shared
                        .counters
                        .incr(&format!("alerts.{}", msg.kind.as_str()));
                    log_alert(&msg);
                    ToPublish::Alert(Outgoing {
                        seq: seqs.as_ref().map(|s| s[i]),
                        topic,
                        payload: Bytes::from(json.into_bytes()),
                    })
                }
                Item::State(topic, body) => ToPublish::State {
                    topic,
                    payload: Bytes::from(body),
                },
            };
            let sent = match self.to_publish.try_send(msg) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(msg)) => {
                    self.shared.backpressure("sink", "publisher");
                    self.to_publish.send(msg).await.is_ok()
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            };
            if !sent {
                error!("the mqtt publisher has stopped; alert messages can no longer be published");
                return false;
            }
        }
        true
    }

    /// Commits alerts and progress to the store; the alerts' sequence
    /// numbers, or `None` if there is no store or it failed.
    async fn commit(
        &mut self,
        alerts: &[(AlertMessage, String, String)],
        progress: Progress,
    ) -> Option<Vec<i64>> {
        let store = self.store.as_ref()?;
        if alerts.is_empty() && progress.seen.is_empty() && progress.seqs.is_empty() {
            return Some(Vec::new());
        }
        let owned: Vec<(AlertMessage, String, String)> = alerts.to_vec();
        let (seen, seqs) = (progress.seen, progress.seqs);
        let at = self.shared.clock.now();
        let saved_seqs = seqs.len() as u64;
        let result = store
            .call(move |s| {
                let new: Vec<NewAlert<'_>> = owned
                    .iter()
                    .map(|(message, topic, payload)| NewAlert {
                        message,
                        topic,
                        payload,
                    })
                    .collect();
                s.commit(&new, &seen, &seqs, at)
            })
            .await;
        if result.is_ok() {
            self.shared.counters.add("auth.seqs_saved", saved_seqs);
        }
        let now = self.shared.clock.now();
        match result {
            Ok(seqs) => {
                if self.shared.health.store(None, now) {
                    info!("alert store: committing again");
                }
                Some(seqs)
            }
            Err(e) => {
                self.shared
                    .counters
                    .add("store.write_errors", alerts.len() as u64);
                self.shared
                    .counters
                    .add("alerts.memory_only", alerts.len() as u64);
                let full = e.is_disk_full();
                if self.shared.health.store(Some(e.to_string()), now) {
                    error!(error = %e, disk_full = full, "alert store cannot commit: alerts are published over MQTT but not kept on disk until it recovers");
                } else {
                    self.shared.reject(
                        "store",
                        "store_write_failed",
                        &format!("alert store still failing: {e}"),
                        b"",
                    );
                }
                None
            }
        }
    }

    /// Tries the failing store again.
    async fn probe(&mut self) {
        let Some(store) = &self.store else { return };
        let result = store
            .call(|s| s.probe().or_else(|_| s.reopen().and_then(|()| s.probe())))
            .await;
        if result.is_ok() && self.shared.health.store(None, self.shared.clock.now()) {
            info!("alert store: committing again");
        }
    }

    /// Deletes old delivered history.
    async fn prune(&mut self) {
        let Some(store) = &self.store else { return };
        let (now, r) = (self.shared.clock.now(), self.retention);
        match store
            .call(move |s| s.prune(now, r.max_age, r.max_messages))
            .await
        {
            Ok(0) => {}
            Ok(n) => info!(deleted = n, "alert store: old history deleted"),
            Err(e) => warn!(error = %e, "alert store: retention failed; trying again later"),
        }
    }
}

/// One line per alert message: fields first, then the headline. A newly
/// raised intrusion or tamper is a WARN (someone must look); the rest INFO.
fn log_alert(msg: &AlertMessage) {
    let (segment, kind, rev, chainage_m) = (
        msg.segment_id.as_str(),
        msg.kind.as_str(),
        msg.rev,
        msg.chainage_m,
    );
    let line = msg.headline();
    let urgent = matches!(msg.kind, AlertKind::Tamper | AlertKind::Intrusion)
        && msg.state == AlertState::Raised;
    if urgent {
        warn!(segment, kind, rev, chainage_m, "ALERT {line}");
    } else {
        info!(segment, kind, rev, chainage_m, "alert {line}");
    }
}
