//! `MqttSource`: reads sentences from `<root>/v1/sensor/+` and thermal
//! frames from `<root>/v1/camera/+/frame`.
//!
//! Its own MQTT connection (separate from the publisher's, so a busy
//! publisher can never stall reading and the other way round), on a
//! persistent session: the broker queues sentences and acknowledgements
//! (QoS 1) while the daemon is away. It subscribes again after every
//! ConnAck, whether or not the session was resumed, and a sentence must name
//! the device in its topic.
//!
//! Acknowledgements are manual: a QoS 1 message is acknowledged to the
//! broker only once it has been handed on (to the engine's channel or a
//! camera's slot) or rejected, so a daemon killed in between gets it again
//! from the broker.
//!
//! With recording on, each message is recorded whole before it is handled
//! (sentences of a well-formed sensor topic, every frame, every
//! acknowledgement), with the receipt time the engine gets too. Frames are
//! recorded before the camera slot, so the recording holds the frames the
//! workers shed.

use std::collections::HashMap;
use std::sync::Arc;

use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use super::camera::{note_replaced, CameraSlot};
use super::{Ack, Binding, Inbound, LineHandler, MAX_ACK_BYTES};
use crate::mqtt::{self, Backoff};
use crate::record::recorder::Tap;
use crate::record::Source;
use crate::runtime::Shared;
use crate::sentence::is_valid_id;
use crate::topics::Topics;

/// The MQTT source of sentences and frames.
pub struct MqttSource {
    client: AsyncClient,
    eventloop: EventLoop,
    topics: Topics,
    handler: LineHandler,
    frame_qos: QoS,
    cameras: HashMap<String, Arc<CameraSlot>>,
    shared: Arc<Shared>,
    backoff: Backoff,
    tap: Tap,
}

impl MqttSource {
    /// A source feeding sentences to `tx` and frames to the `cameras`'
    /// slots, recording what it receives into `tap`.
    pub fn new(
        link: mqtt::LinkConfig,
        tx: mpsc::Sender<Inbound>,
        cameras: HashMap<String, Arc<CameraSlot>>,
        shared: Arc<Shared>,
        tap: Tap,
    ) -> Self {
        let mut options = link.options("in");
        options.set_manual_acks(true);
        // One acknowledgement per message goes through this queue.
        let (client, eventloop) = AsyncClient::new(options, 4096);
        Self {
            client,
            eventloop,
            topics: link.topics.clone(),
            handler: LineHandler::new("mqtt", tx, shared.clone()),
            frame_qos: link.frame_qos,
            cameras,
            shared,
            backoff: link.backoff(),
            tap,
        }
    }

    /// Reads until `shutdown` turns true or the engine goes away.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let filter = self.topics.sensor_filter();
        let frames = self.topics.camera_filter();
        let acks = self.topics.ack();
        loop {
            let event = tokio::select! {
                e = self.eventloop.poll() => e,
                _ = shutdown.changed() => break,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    self.backoff.reset();
                    self.shared.counters.incr("mqtt.in.connects");
                    info!(filter = %filter, session_present = ack.session_present, "mqtt source connected; subscribing");
                    if let Err(e) = self.client.try_subscribe(&filter, QoS::AtLeastOnce) {
                        warn!(error = %e, "mqtt subscribe request failed");
                    }
                    if let Err(e) = self.client.try_subscribe(&acks, QoS::AtLeastOnce) {
                        warn!(error = %e, "mqtt subscribe request failed");
                    }
                    if !self.cameras.is_empty() {
                        if let Err(e) = self.client.try_subscribe(&frames, self.frame_qos) {
                            warn!(error = %e, "mqtt subscribe request failed");
                        }
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    info!(filter = %filter, result = ?ack.return_codes, "mqtt source subscribed");
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let go_on = if let Some(camera) = self.topics.camera_of(&p.topic) {
                        self.on_frame(camera, p.payload.clone());
                        true
                    } else if p.topic == acks {
                        self.on_ack(&p.payload).await
                    } else {
                        self.on_publish(&p.topic, &p.payload).await
                    };
                    if !go_on {
                        // The engine is gone: not acknowledged, so the
                        // broker sends it again to the next run.
                        break;
                    }
                    if p.qos != QoS::AtMostOnce && self.client.try_ack(&p).is_err() {
                        self.shared.counters.incr("mqtt.in.ack_failed");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    self.shared.counters.incr("mqtt.in.connection_errors");
                    let wait = self.backoff.next_wait();
                    if let Some(why) = mqtt::tls_failure(&e, &self.eventloop.mqtt_options) {
                        // An engineer must act; the link retries, over TLS only.
                        self.shared.counters.incr("mqtt.in.tls_failures");
                        error!(retry_in = ?wait, "mqtt source cannot connect: {why}");
                    } else {
                        warn!(error = %e, retry_in = ?wait, "mqtt source disconnected");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            }
        }
        let _ = self.client.try_disconnect();
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
    async fn on_ack(&mut self, payload: &bytes::Bytes) -> bool {
        let received = self.shared.clock.now();
        // Anything longer is refused for its length alone: no need to keep it all.
        self.tap.ack(
            received,
            &payload.slice(..payload.len().min(MAX_ACK_BYTES + 1)),
        );
        match Ack::parse(payload) {
            Ok(ack) => self.handler.send(Inbound::Ack { ack, received }).await,
            Err(why) => {
                self.shared.reject(
                    "mqtt:ack",
                    "bad_ack",
                    &why,
                    &payload[..payload.len().min(80)],
                );
                true
            }
        }
    }

    async fn on_publish(&mut self, topic: &str, payload: &[u8]) -> bool {
        self.shared.counters.incr("mqtt.in.messages");
        let device = match self.topics.sensor_device(topic) {
            Some(d) if is_valid_id(d) => d.to_owned(),
            _ => {
                self.shared.reject(
                    "mqtt",
                    "bad_topic",
                    &format!("unexpected topic `{topic}`"),
                    b"",
                );
                return true;
            }
        };
        let received = self.shared.clock.now();
        self.tap
            .sentences(received, || Source::Mqtt(device.clone()), payload);
        self.handler.reset();
        self.handler
            .feed(payload, &Binding::Only(&device), true, received)
            .await
    }
}
