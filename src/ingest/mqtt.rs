//! `MqttSource`: reads sentences from `<root>/v1/sensor/+`, thermal frames
//! from `<root>/v1/camera/+/frame` and operator acknowledgements from
//! `<root>/v1/ack`, on the daemon's input connection
//! ([`crate::mqtt::subscriber`]): a persistent session under the client
//! id `<instance>-in`, so the broker queues QoS 1 messages while the daemon
//! is away. It subscribes again after every CONNACK, and a sentence must
//! name the device in its topic.
//!
//! - **Sizes.** Each message is sized against its topic's limit
//!   ([`TopicLimits`]) before its payload is read. One too large is
//!   acknowledged (so the broker forgets it), discarded unread, counted
//!   (`rejected.oversized`), logged (rate-limited) and shown on the health
//!   topic (`oversized`); it never costs the connection.
//! - **Acknowledgement after the effect.** A QoS 1 sentence or
//!   acknowledgement message is followed to the engine by its token
//!   ([`Inbound::Acknowledge`]); the sink acknowledges it once the alerts it
//!   produced, and the record of its sentences, are committed. A killed
//!   daemon is sent again what it had not finished, and recognises what it
//!   had (`crate::redelivery`). A frame is acknowledged once it is in its
//!   camera's slot (frames may be shed); a refused message at once.
//! - **Shutdown** stops the reading; the connection's writer stays until
//!   the engine and the sink have finished ([`Closer`]), so what they
//!   commit is still acknowledged.
//!
//! With recording on, each message is recorded whole before it is handled
//! (sentences of a well-formed sensor topic, every frame, every
//! acknowledgement), with the receipt time the engine gets too. Frames are
//! recorded before the camera slot, so the recording holds the frames the
//! workers shed.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use super::camera::{note_replaced, CameraSlot};
use super::{Ack, Binding, Inbound, LineHandler, MAX_ACK_BYTES};
use crate::engine::Delivery;
use crate::mqtt::subscriber::{AckToken, Closer, Connection, SubscribeError, SubscriberOptions};
use crate::mqtt::wire::{Incoming, Oversized, Publish, QoS};
use crate::mqtt::{self, Backoff};
use crate::record::recorder::Tap;
use crate::record::Source;
use crate::runtime::Shared;
use crate::sentence::is_valid_id;
use crate::topics::Topics;

/// The largest payload each kind of topic may carry, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicLimits {
    /// A sensor message (one or more sentences).
    pub sentences: usize,
    /// A thermal frame.
    pub frame: usize,
    /// An operator acknowledgement.
    pub ack: usize,
}

impl TopicLimits {
    /// From the `[mqtt]` config.
    pub fn new(config: &crate::config::MqttConfig) -> Self {
        Self {
            sentences: config.max_sensor_message_bytes,
            frame: config.max_packet_bytes,
            ack: MAX_ACK_BYTES,
        }
    }

    /// The limit for `topic` (0 for a topic the daemon does not read).
    fn of(&self, topics: &Topics, topic: &str) -> usize {
        if topics.sensor_device(topic).is_some() {
            self.sentences
        } else if topics.camera_of(topic).is_some() {
            self.frame
        } else if topic == topics.ack() {
            self.ack
        } else {
            0
        }
    }
}

/// The MQTT source of sentences, frames and acknowledgements.
pub struct MqttSource {
    options: SubscriberOptions,
    topics: Topics,
    limits: TopicLimits,
    handler: LineHandler,
    cameras: HashMap<String, Arc<CameraSlot>>,
    shared: Arc<Shared>,
    backoff: Backoff,
    tap: Tap,
    connected_before: bool,
}

impl MqttSource {
    /// A source feeding sentences to `tx` and frames to the `cameras`'
    /// slots, recording what it receives into `tap`.
    pub fn new(
        link: mqtt::LinkConfig,
        limits: TopicLimits,
        tx: mpsc::Sender<Inbound>,
        cameras: HashMap<String, Arc<CameraSlot>>,
        shared: Arc<Shared>,
        tap: Tap,
    ) -> Self {
        let topics = link.topics.clone();
        let mut subscriptions = vec![
            (topics.sensor_filter(), QoS::AtLeastOnce),
            (topics.ack(), QoS::AtLeastOnce),
        ];
        if !cameras.is_empty() {
            let qos = match link.frame_qos {
                rumqttc::QoS::AtMostOnce => QoS::AtMostOnce,
                _ => QoS::AtLeastOnce,
            };
            subscriptions.push((topics.camera_filter(), qos));
        }
        Self {
            options: link.subscriber("in", subscriptions),
            topics,
            limits,
            handler: LineHandler::new("mqtt", tx, shared.clone()),
            cameras,
            shared,
            backoff: link.backoff(),
            tap,
            connected_before: false,
        }
    }

    /// Reads until `shutdown` turns true or the engine goes away; returns
    /// the connection's writer, still sending acknowledgements, for the
    /// daemon to close once the engine and the sink are done.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Option<Closer> {
        loop {
            let connected = tokio::select! {
                c = Connection::connect(&self.options) => c,
                _ = shutdown.changed() => return None,
            };
            match connected {
                Ok(mut conn) => {
                    self.on_connected(&conn);
                    let (topics, limits) = (self.topics.clone(), self.limits);
                    let limit = move |topic: &str| limits.of(&topics, topic);
                    loop {
                        let packet = tokio::select! {
                            p = conn.next(&limit) => p,
                            _ = shutdown.changed() => return Some(conn.into_closer()),
                        };
                        let go_on = match packet {
                            Ok(Incoming::Publish(p)) => {
                                let token = (p.qos == QoS::AtLeastOnce).then(|| conn.token(p.pkid));
                                self.on_publish(p, token).await
                            }
                            Ok(Incoming::Oversized(o)) => {
                                self.on_oversized(&conn, o);
                                true
                            }
                            Ok(Incoming::Malformed(m)) => {
                                self.shared.counters.incr("mqtt.in.messages");
                                self.shared.reject(
                                    "mqtt",
                                    "mqtt_malformed",
                                    &format!("{}; acknowledged and dropped", m.why),
                                    b"",
                                );
                                if let Some(pkid) = m.ack {
                                    conn.ack(pkid);
                                }
                                true
                            }
                            Ok(Incoming::SubAck { codes, .. }) => {
                                self.on_suback(&codes);
                                true
                            }
                            Ok(_) => true,
                            Err(e) => {
                                self.lost(&e);
                                break;
                            }
                        };
                        if !go_on {
                            // The engine is gone: what was not handed on is
                            // not acknowledged, and comes again next run.
                            return Some(conn.into_closer());
                        }
                    }
                }
                Err(e) => self.lost(&e),
            }
            let wait = self.backoff.next_wait();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return None,
            }
        }
    }

    fn on_connected(&mut self, conn: &Connection) {
        self.backoff.reset();
        self.shared.counters.incr("mqtt.in.connects");
        let now = self.shared.clock.now();
        self.shared.health.input(None, now);
        info!(
            session_present = conn.session_present,
            "mqtt source connected; subscribing"
        );
        if self.connected_before && !conn.session_present {
            // Whatever the broker queued for the daemon is gone.
            warn!("the broker did not keep the daemon's session: sentences sent while the daemon was disconnected may be lost (is the broker's persistence on?)");
        }
        self.connected_before = true;
    }

    /// Counts and explains a failed or lost connection.
    fn lost(&mut self, e: &SubscribeError) {
        let counters = &self.shared.counters;
        counters.incr("mqtt.in.connection_errors");
        self.shared
            .health
            .input(Some(e.to_string()), self.shared.clock.now());
        match e {
            SubscribeError::Tls { host, source } => {
                // An engineer must act; the link retries, over TLS only.
                counters.incr("mqtt.in.tls_failures");
                let why = crate::tls::explain(source, host).unwrap_or_else(|| {
                    format!("TLS to the broker failed: the handshake did not complete ({source}): is that port a TLS listener?")
                });
                error!("mqtt source cannot connect: {why}");
            }
            SubscribeError::Refused(why) => {
                error!("mqtt source cannot connect: the broker refused the connection: {why}")
            }
            other => warn!(error = %other, "mqtt source disconnected"),
        }
    }

    fn on_suback(&self, codes: &[u8]) {
        for ((filter, _), code) in self.options.subscriptions.iter().zip(codes) {
            if *code == 0x80 {
                // Nothing arrives on it: an operator must fix the ACL.
                error!(filter = %filter, "the broker refused the subscription: check its ACL for this account");
            } else {
                info!(filter = %filter, qos = code, "mqtt source subscribed");
            }
        }
    }

    /// Refuses a message too large for its topic; it is acknowledged, so
    /// the broker does not send it again.
    fn on_oversized(&self, conn: &Connection, o: Oversized) {
        if o.qos == QoS::AtLeastOnce {
            conn.ack(o.pkid);
        }
        self.shared.counters.incr("mqtt.in.messages");
        let topic: String = o.topic.chars().take(200).collect();
        self.shared.reject(
            "mqtt",
            "oversized",
            &format!(
                "{} bytes on `{}`, more than the {} its topic allows: dropped unread{}",
                o.payload_len,
                topic.escape_debug(),
                o.limit,
                if o.qos == QoS::AtLeastOnce {
                    " and acknowledged"
                } else {
                    ""
                }
            ),
            b"",
        );
        self.shared.health.oversized(
            &topic,
            o.payload_len as u64,
            o.limit as u64,
            self.shared.clock.now(),
        );
    }

    /// Routes one message; false when the engine is gone.
    async fn on_publish(&mut self, p: Publish, token: Option<AckToken>) -> bool {
        if p.dup {
            self.shared.counters.incr("mqtt.in.redelivered");
        }
        if let Some(camera) = self.topics.camera_of(&p.topic) {
            let camera = camera.to_owned();
            self.on_frame(&camera, p.payload);
            // In its slot, or refused: either way done with.
            token.map(AckToken::ack);
            return true;
        }
        if p.topic == self.topics.ack() {
            return self.on_ack(&p.payload, token).await;
        }
        self.on_sentences(&p.topic, &p.payload, p.dup, token).await
    }

    /// Hands a frame to its camera's slot, never waiting.
    fn on_frame(&self, camera: &str, payload: bytes::Bytes) {
        self.shared.counters.incr("frames.received");
        let received = self.shared.clock.now();
        self.tap.frame(received, camera, &payload);
        match self.cameras.get(camera) {
            Some(slot) => {
                if slot.offer(payload, received) {
                    note_replaced(&self.shared, camera);
                }
            }
            None => self.shared.reject(
                "mqtt",
                "unknown_camera",
                &format!(
                    "frame from camera `{}`, which is not configured",
                    camera.escape_debug()
                ),
                b"",
            ),
        }
    }

    /// Hands a well-formed acknowledgement to the engine.
    async fn on_ack(&mut self, payload: &bytes::Bytes, token: Option<AckToken>) -> bool {
        let received = self.shared.clock.now();
        self.tap.ack(received, payload);
        match Ack::parse(payload) {
            Ok(ack) => {
                self.handler.send(Inbound::Ack { ack, received }).await && self.follow(token).await
            }
            Err(why) => {
                self.shared.reject(
                    "mqtt:ack",
                    "bad_ack",
                    &why,
                    &payload[..payload.len().min(80)],
                );
                token.map(AckToken::ack);
                true
            }
        }
    }

    async fn on_sentences(
        &mut self,
        topic: &str,
        payload: &[u8],
        dup: bool,
        token: Option<AckToken>,
    ) -> bool {
        self.shared.counters.incr("mqtt.in.messages");
        let device = match self.topics.sensor_device(topic) {
            Some(d) if is_valid_id(d) => d.to_owned(),
            _ => {
                self.shared.reject(
                    "mqtt",
                    "bad_topic",
                    &format!("unexpected topic `{}`", topic.escape_debug()),
                    b"",
                );
                token.map(AckToken::ack);
                return true;
            }
        };
        let received = self.shared.clock.now();
        self.tap
            .sentences(received, || Source::Mqtt(device.clone()), payload);
        self.handler.reset();
        self.handler
            .feed(
                payload,
                &Binding::Only(&device),
                true,
                received,
                Delivery::AtLeastOnce { flagged: dup },
            )
            .await
            && self.follow(token).await
    }

    /// Sends a message's token after its contents.
    async fn follow(&self, token: Option<AckToken>) -> bool {
        match token {
            Some(t) => self.handler.send(Inbound::Acknowledge(t)).await,
            None => true,
        }
    }
}
