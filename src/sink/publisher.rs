//! `Publisher`: the daemon's outgoing MQTT connection. It publishes alerts
//! (QoS 1) and retained states, and keeps the daemon's retained presence:
//! `online` after every connection, `offline` as its last will and on a
//! clean shutdown.
//!
//! Messages not yet acknowledged when the connection drops stay queued in
//! rumqttc and are sent again after reconnection (durable storage of the
//! outbox across restarts is a later step).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, LastWill, Packet, QoS};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::mqtt::LinkConfig;
use crate::runtime::Shared;

/// How long a clean shutdown waits for the broker to acknowledge what is
/// still in flight.
pub const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// QoS 1 publications handed to rumqttc, and acknowledgements received.
#[derive(Debug, Default)]
struct Tally {
    queued: AtomicU64,
    acked: AtomicU64,
}

/// Handle for publishing; the connection runs in its own task.
pub struct Publisher {
    client: AsyncClient,
    status_topic: String,
    tally: Arc<Tally>,
    task: JoinHandle<()>,
}

impl Publisher {
    /// Connects (in the background) and keeps reconnecting.
    pub fn start(link: &LinkConfig, shared: Arc<Shared>) -> Self {
        let status_topic = link.topics.daemon_status(&link.instance);
        let mut options = link.options("out");
        options.set_last_will(LastWill::new(
            &status_topic,
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
        // Room for every segment's state at start-up without blocking.
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let mut backoff = link.backoff();
        let online_client = client.clone();
        let topic = status_topic.clone();
        let tally = Arc::new(Tally::default());
        let counts = tally.clone();
        let task = tokio::spawn(async move {
            let mut connected = false;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        backoff.reset();
                        connected = true;
                        info!(broker = ?eventloop.mqtt_options.broker_address(), "mqtt publisher connected");
                        shared.counters.incr("mqtt.out.connects");
                        match online_client.try_publish(&topic, QoS::AtLeastOnce, true, "online") {
                            Ok(()) => {
                                counts.queued.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => warn!(error = %e, "could not queue the online presence"),
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counts.acked.fetch_add(1, Ordering::Relaxed);
                        shared.counters.incr("mqtt.out.acked");
                    }
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(e) => {
                        shared.counters.incr("mqtt.out.connection_errors");
                        let wait = backoff.next_wait();
                        if connected {
                            error!(error = %e, retry_in = ?wait, "mqtt publisher lost the broker; alerts are held until it returns");
                        } else {
                            warn!(error = %e, retry_in = ?wait, "mqtt publisher cannot reach the broker");
                        }
                        connected = false;
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        });
        Self {
            client,
            status_topic,
            tally,
            task,
        }
    }

    /// Queues a message for publication at QoS 1. Waits while rumqttc's
    /// request queue is full (the broker is slow or away).
    pub async fn publish(&self, topic: String, payload: Vec<u8>, retain: bool) {
        match self
            .client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
        {
            Ok(()) => {
                self.tally.queued.fetch_add(1, Ordering::Relaxed);
            }
            // Only happens when the connection task has ended.
            Err(e) => {
                error!(error = %e, "alert publication failed: the mqtt connection task has stopped")
            }
        }
    }

    /// A handle for telemetry, which is shed rather than queued.
    pub fn telemetry(&self, topic: String) -> Telemetry {
        Telemetry {
            client: self.client.clone(),
            topic,
        }
    }

    /// Publishes `offline`, waits (at most [`CLOSE_DEADLINE`]) until the
    /// broker has acknowledged everything queued, then disconnects.
    pub async fn close(self) {
        self.publish(self.status_topic.clone(), b"offline".to_vec(), true)
            .await;
        let deadline = tokio::time::Instant::now() + CLOSE_DEADLINE;
        let unacked = || {
            let queued = self.tally.queued.load(Ordering::Relaxed);
            queued.saturating_sub(self.tally.acked.load(Ordering::Relaxed))
        };
        while unacked() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match unacked() {
            0 => info!("mqtt publisher: everything acknowledged; disconnecting"),
            n => error!(
                unacked = n,
                "mqtt publisher: messages not acknowledged by the broker at shutdown"
            ),
        }
        let _ = self.client.disconnect().await;
        if tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .is_err()
        {
            warn!("mqtt publisher did not finish within 2 s of disconnecting");
        }
    }
}

/// Publishes telemetry (the daemon's counters) retained at QoS 0, only when
/// there is room: telemetry is the first thing shed when the link is slow.
#[derive(Clone)]
pub struct Telemetry {
    client: AsyncClient,
    topic: String,
}

impl Telemetry {
    /// Offers a payload; returns false if it was shed.
    pub fn offer(&self, payload: Vec<u8>) -> bool {
        self.client
            .try_publish(&self.topic, QoS::AtMostOnce, true, payload)
            .is_ok()
    }
}
