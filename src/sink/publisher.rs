//! `Publisher`: the daemon's outgoing MQTT connection, and the outbox's
//! delivery loop.
//!
//! Two tasks share one [`Delivery`] book:
//! - the **driver** owns rumqttc's event loop and only polls it (never
//!   cancelling a poll): it records packet ids and acknowledgements, keeps
//!   the daemon's presence (`online` after every connection, `offline` as
//!   the last will), and holds on to the requests rumqttc would otherwise
//!   forget when a new session starts, handing them back after the next
//!   ConnAck — so nothing handed to the client is lost, whether or not the
//!   broker kept the session;
//! - the **feeder** takes alert messages and segment states from the sink,
//!   hands alerts to the client in commit order within the window, marks
//!   acknowledged ones delivered in the store, reads back the store's outbox
//!   (at start-up, and when it spilled), and publishes the daemon's health.
//!
//! Publications that matter are QoS 1 and go through the book; telemetry
//! is QoS 0 and shed when the client's queue is full.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, Outgoing as Out, Packet, QoS, Request};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::delivery::{Delivery, Limits, Outgoing};
use crate::mqtt::{Backoff, LinkConfig};
use crate::runtime::Shared;
use crate::store::{StoreHandle, StoredAlert};

/// How long a clean shutdown waits for the broker to acknowledge what is
/// still in flight.
pub const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// Capacity of the sink → publisher channel.
const INPUT_CAPACITY: usize = 1024;

/// What the sink hands the publisher.
#[derive(Debug)]
pub enum ToPublish {
    /// An alert message (committed to the store when `seq` is set).
    Alert(Outgoing),
    /// A segment's retained state; only the latest per topic matters.
    State { topic: String, payload: Bytes },
}

/// Handle for publishing; the connection runs in its own tasks.
pub struct Publisher {
    input: mpsc::Sender<ToPublish>,
    client: AsyncClient,
    feeder: JoinHandle<()>,
    driver: JoinHandle<()>,
}

/// What the two tasks share.
struct Link {
    client: AsyncClient,
    book: Mutex<Delivery>,
    wake: Notify,
    shared: Arc<Shared>,
    status_topic: String,
    health_topic: String,
}

impl Link {
    fn book(&self) -> std::sync::MutexGuard<'_, Delivery> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes an untracked QoS 1 message through the book.
    fn publish_untracked(&self, topic: &str, payload: Vec<u8>, retain: bool) -> bool {
        let mut book = self.book();
        match self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            Ok(()) => {
                book.untracked_handed();
                true
            }
            Err(_) => false,
        }
    }
}

impl Publisher {
    /// Connects (in the background) and keeps reconnecting; with a store,
    /// its outbox is sent first.
    pub fn start(link: &LinkConfig, store: Option<StoreHandle>, shared: Arc<Shared>) -> Self {
        let status_topic = link.topics.daemon_status(&link.instance);
        let mut options = link.options("out");
        options.set_last_will(LastWill::new(
            &status_topic,
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
        // Room for the window, states and presence; telemetry is shed.
        let (client, eventloop) = AsyncClient::new(options, 1024);
        let book = Delivery::new(Limits::default(), store.is_some());
        let shared_link = Arc::new(Link {
            client: client.clone(),
            book: Mutex::new(book),
            wake: Notify::new(),
            shared,
            status_topic,
            health_topic: link.topics.daemon_health(&link.instance),
        });
        let (input, rx) = mpsc::channel(INPUT_CAPACITY);
        let supervisor = &shared_link.shared.supervisor;
        let driver = supervisor.spawn(
            "mqtt publisher's driver",
            drive(eventloop, link.backoff(), shared_link.clone()),
        );
        let feeder = supervisor.spawn(
            "mqtt publisher's feeder",
            feed(rx, store, shared_link.clone()),
        );
        Self {
            input,
            client,
            feeder,
            driver,
        }
    }

    /// Where the sink sends.
    pub fn input(&self) -> mpsc::Sender<ToPublish> {
        self.input.clone()
    }

    /// A handle for telemetry, which is shed rather than queued.
    pub fn telemetry(&self, topic: String) -> Telemetry {
        Telemetry {
            client: self.client.clone(),
            topic,
        }
    }

    /// Waits (at most [`CLOSE_DEADLINE`]) for the broker to acknowledge
    /// what is in flight, publishes `offline` and disconnects. Call after
    /// every sender of [`Self::input`] is gone.
    pub async fn close(self) {
        drop(self.input);
        if self.feeder.await.is_err() {
            warn!("mqtt publisher's feeder task ended abnormally");
        }
        // Never waits: with the broker away the client's queue may be full.
        let _ = self.client.try_disconnect();
        let mut driver = self.driver;
        if tokio::time::timeout(Duration::from_secs(2), &mut driver)
            .await
            .is_err()
        {
            driver.abort();
            warn!("mqtt publisher did not finish within 2 s of disconnecting");
        }
    }
}

/// The driver: polls the event loop, never cancelled mid-poll.
async fn drive(mut eventloop: EventLoop, mut backoff: Backoff, link: Arc<Link>) {
    let shared = link.shared.clone();
    let mut held: Vec<Request> = Vec::new();
    let mut connected_once = false;
    let mut was_connected = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                // rumqttc forgets its pending requests when the broker did
                // not keep the session: hand back what was held.
                let returned = held.len();
                eventloop.pending.extend(held.drain(..));
                link.book().on_connected(ack.session_present);
                info!(broker = ?eventloop.mqtt_options.broker_address(), session_present = ack.session_present, resent = returned, "mqtt publisher connected");
                shared.counters.incr("mqtt.out.connects");
                if connected_once {
                    shared.counters.incr("mqtt.out.reconnects");
                }
                connected_once = true;
                was_connected = true;
                shared.health.broker(None, shared.clock.now());
                if !link.publish_untracked(&link.status_topic, b"online".to_vec(), true) {
                    warn!("could not queue the online presence");
                }
                link.wake.notify_one();
            }
            Ok(Event::Outgoing(Out::Publish(pkid))) => link.book().on_outgoing_publish(pkid),
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                link.book().on_puback(ack.pkid);
                shared.counters.incr("mqtt.out.acked");
                link.wake.notify_one();
            }
            Ok(Event::Outgoing(Out::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                held.append(&mut eventloop.pending.drain(..).collect());
                link.book().on_disconnected();
                shared.counters.incr("mqtt.out.connection_errors");
                let wait = backoff.next_wait();
                let now = shared.clock.now();
                if let Some(why) = crate::mqtt::tls_failure(&e, &eventloop.mqtt_options) {
                    // An engineer must act; the link retries, over TLS only.
                    shared.counters.incr("mqtt.out.tls_failures");
                    if was_connected {
                        shared.counters.incr("mqtt.out.lost");
                    }
                    shared.health.broker(Some(why.clone()), now);
                    error!(retry_in = ?wait, held = held.len(), "mqtt publisher cannot connect: {why}; alerts stay in the outbox");
                } else if was_connected {
                    shared.counters.incr("mqtt.out.lost");
                    shared.health.broker(Some(e.to_string()), now);
                    error!(error = %e, retry_in = ?wait, held = held.len(), "mqtt publisher lost the broker; alerts stay in the outbox until it returns");
                } else {
                    shared.health.broker(Some(e.to_string()), now);
                    warn!(error = %e, retry_in = ?wait, "mqtt publisher cannot reach the broker");
                }
                was_connected = false;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The feeder: sink input in, alerts handed in order, deliveries recorded.
async fn feed(mut rx: mpsc::Receiver<ToPublish>, store: Option<StoreHandle>, link: Arc<Link>) {
    let shared = link.shared.clone();
    let mut input_open = true;
    let mut closing: Option<tokio::time::Instant> = None;
    let mut published_health = 0;
    let mut health_tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        if let Some(store) = &store {
            reload(&link, store).await;
        }
        hand(&link);
        record_deliveries(&link, store.as_ref()).await;
        let connected = link.book().is_connected();
        if connected && shared.health.version() != published_health {
            let (version, report) = shared.health.snapshot();
            if let Ok(body) = serde_json::to_vec(&report) {
                if link.publish_untracked(&link.health_topic, body, true) {
                    published_health = version;
                }
            }
        }
        if closing.is_some() && link.book().is_drained() {
            break;
        }
        let accepts = link.book().accepts_input();
        tokio::select! {
            msg = rx.recv(), if input_open && accepts => match msg {
                Some(ToPublish::Alert(m)) => link.book().push(m),
                Some(ToPublish::State { topic, payload }) => link.book().set_state(topic, payload),
                None => {
                    input_open = false;
                    closing = Some(tokio::time::Instant::now() + CLOSE_DEADLINE);
                }
            },
            _ = link.wake.notified() => {}
            _ = health_tick.tick() => {
                let (n, _) = link.book().backlog();
                shared.health.outbox(n as u64, shared.clock.now());
            }
            _ = sleep_until(closing) => break,
        }
    }
    finish(&link).await;
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Hands alerts (first) and states to the client while the book allows.
fn hand(link: &Link) {
    let mut book = link.book();
    while let Some(m) = book.next_alert() {
        let (topic, payload) = (m.topic.clone(), m.payload.clone());
        if link
            .client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
            .is_err()
        {
            return; // the client's queue is full: again after the next event
        }
        book.alert_handed();
    }
    while let Some((topic, payload)) = book.next_state() {
        let (topic, payload) = (topic.to_owned(), payload.clone());
        if link
            .client
            .try_publish(&topic, QoS::AtLeastOnce, true, payload)
            .is_err()
        {
            return;
        }
        book.state_handed(&topic);
    }
}

/// Reads back the store's outbox when the book asks for it.
async fn reload(link: &Link, store: &StoreHandle) {
    let (after, batch) = {
        let book = link.book();
        match book.reload_from() {
            Some(after) => (after, book.reload_batch()),
            None => return,
        }
    };
    match store.call(move |s| s.outbox(after, batch)).await {
        Ok(rows) => {
            if after == 0 && !rows.is_empty() {
                info!(
                    messages = rows.len(),
                    "sending the alert messages left in the outbox by the previous run first"
                );
            }
            let n = rows.len() as u64;
            link.book()
                .reloaded(rows.into_iter().map(outgoing).collect());
            link.shared.counters.add("outbox.reloaded", n);
        }
        Err(e) => {
            link.shared.counters.incr("store.read_errors");
            link.shared
                .health
                .store(Some(e.to_string()), link.shared.clock.now());
            error!(error = %e, "cannot read the outbox; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

fn outgoing(row: StoredAlert) -> Outgoing {
    Outgoing {
        seq: Some(row.seq),
        topic: row.topic,
        payload: Bytes::from(row.payload.into_bytes()),
    }
}

/// Marks acknowledged messages delivered in the store.
async fn record_deliveries(link: &Link, store: Option<&StoreHandle>) {
    let delivered = link.book().take_delivered();
    if delivered.is_empty() {
        return;
    }
    let shared = &link.shared;
    shared
        .counters
        .add("alerts.delivered", delivered.len() as u64);
    let seqs: Vec<i64> = delivered.iter().filter_map(|m| m.seq).collect();
    let Some(store) = store else { return };
    if seqs.is_empty() {
        return;
    }
    let now = shared.clock.now();
    if let Err(e) = store.call(move |s| s.mark_delivered(&seqs, now)).await {
        // They will be sent again after a restart: duplicates, not losses.
        shared.counters.incr("store.write_errors");
        shared.health.store(Some(e.to_string()), now);
        error!(error = %e, "cannot mark delivered alerts in the store; they will be sent again after a restart");
    }
}

/// At shutdown: reports what is left, publishes `offline` and waits
/// briefly for it to be acknowledged.
async fn finish(link: &Link) {
    let (left, spilled) = link.book().backlog();
    let memory_only = link.book().memory_only();
    let stats = link.book().stats();
    if left == 0 && !spilled {
        info!(
            delivered = stats.delivered,
            "mqtt publisher: every alert message acknowledged"
        );
    } else if memory_only > 0 {
        error!(
            left,
            lost = memory_only,
            "mqtt publisher: alert messages the store could not take were never acknowledged by the broker and are lost"
        );
    } else {
        warn!(
            left,
            more_in_store = spilled,
            "mqtt publisher: alert messages not acknowledged by the broker stay in the outbox for the next start"
        );
    }
    if link.book().is_connected()
        && link.publish_untracked(&link.status_topic, b"offline".to_vec(), true)
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while link.book().untracked_outstanding() > 0 && tokio::time::Instant::now() < deadline {
            tokio::select! {
                _ = link.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
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
