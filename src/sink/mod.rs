//! Sinks: where the engine's output goes. Every alert message is written to
//! the journal, summarised in one log line, and published over MQTT (QoS 1);
//! segment states are published retained. The sink takes one message at a
//! time from a bounded channel; when it is slow the engine waits, so nothing
//! is dropped.

pub mod journal;
pub mod publisher;

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::alert::{AlertKind, AlertState};
use crate::incident::Output;
use crate::runtime::Shared;
use crate::topics::Topics;
use journal::Journal;
use publisher::Publisher;

/// `AlertSink`: journal, log line, MQTT.
pub struct AlertSink {
    journal: Journal,
    publisher: Publisher,
    topics: Topics,
    shared: Arc<Shared>,
}

impl AlertSink {
    pub fn new(
        journal: Journal,
        publisher: Publisher,
        topics: Topics,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            journal,
            publisher,
            topics,
            shared,
        }
    }

    /// Handles outputs until the channel closes, then says goodbye on MQTT.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Output>) {
        while let Some(out) = rx.recv().await {
            self.handle(out).await;
        }
        self.publisher.close().await;
    }

    async fn handle(&mut self, out: Output) {
        match out {
            Output::Alert(mut msg) => {
                // The time it is handed to the journal and the broker.
                msg.published_at = self.shared.clock.now();
                let json = match serde_json::to_string(&msg) {
                    Ok(j) => j,
                    Err(e) => {
                        // Cannot happen with these types; say so loudly if it does.
                        error!(id = %msg.id, error = %e, "alert could not be serialised");
                        return;
                    }
                };
                self.shared
                    .counters
                    .incr(&format!("alerts.{}", msg.kind.as_str()));
                if let Err(e) = self.journal.append(&json).await {
                    self.shared.counters.incr("journal.write_errors");
                    error!(path = %self.journal.path().display(), error = %e, "alert journal write failed");
                }
                log_alert(&msg);
                let topic = self.topics.alert(&msg.segment_id);
                self.publisher
                    .publish(topic, json.into_bytes(), false)
                    .await;
            }
            Output::Segment(seg, state) => {
                let topic = self.topics.segment_state(&seg.to_string());
                match serde_json::to_vec(&state) {
                    Ok(body) => self.publisher.publish(topic, body, true).await,
                    Err(e) => {
                        error!(segment = %seg, error = %e, "segment state could not be serialised")
                    }
                }
            }
        }
    }
}

/// One line per alert message: fields first, then the headline. A newly
/// raised intrusion or tamper is a WARN (someone must look); the rest INFO.
fn log_alert(msg: &crate::alert::AlertMessage) {
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
