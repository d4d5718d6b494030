//! The daemon's input connection to the broker: one persistent MQTT 3.1.1
//! session that subscribes and reads. The publisher uses rumqttc; this side
//! has its own small client (over the codec in [`super::wire`]) for what the
//! input needs and rumqttc cannot give it:
//!
//! - **A message too large is taken off the session, not fatal.** rumqttc
//!   can only drop the connection on a packet over its limit, and the
//!   broker then sends the same message again at every reconnection. Here
//!   the decoder reads its header, the source acknowledges it (refused and
//!   counted), and its payload is discarded as it arrives, never buffered.
//! - **Acknowledgements after the effect, and keep-alives, whatever the
//!   reader is doing.** The connection is split: the owner's task reads;
//!   a writer task sends each PUBACK when the daemon hands back its
//!   [`AckToken`] (once the message's effect is committed), and a PINGREQ
//!   every half keep-alive. A busy engine delays acknowledgements, and the
//!   broker's in-flight window then holds further QoS 1 messages back:
//!   flow control comes from the protocol, and the session stays up.
//!
//! A connection that breaks takes its unsent acknowledgements with it: the
//! broker sends those messages again on the next connection (flagged DUP),
//! and the engine recognises them (see `crate::redelivery`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::wire::{self, Decoder, Incoming, QoS, WireError};

/// How long connecting (TCP, TLS and CONNACK) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much is read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct SubscriberOptions {
    pub client_id: String,
    pub host: String,
    pub port: u16,
    pub keep_alive: Duration,
    /// The broker account and its password.
    pub credentials: Option<(String, crate::secret::Secret)>,
    /// TLS, for an `mqtts://` broker.
    pub tls: Option<crate::tls::TlsClient>,
    /// Subscribed after every CONNACK, whether or not the session was kept.
    pub subscriptions: Vec<(String, QoS)>,
}

/// Why the connection could not be made or was lost.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS with {host} failed: {source}")]
    Tls {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the broker refused the connection: {0}")]
    Refused(&'static str),
    #[error("no answer from the broker within {0:?}")]
    Timeout(Duration),
    #[error("the broker sent packet type {0} before CONNACK")]
    Unexpected(u8),
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("the broker closed the connection")]
    Closed,
    #[error("nothing heard from the broker for {0:?} (keep-alive)")]
    Silent(Duration),
    #[error("cannot send to the broker: {0}")]
    Write(String),
    #[error("the broker's bytes cannot be read: {0}")]
    Wire(#[from] WireError),
}

/// What a CONNACK return code means.
pub fn refusal(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version (the broker must speak MQTT 3.1.1)",
        2 => "client id rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorised: check this account's user name and password (or its certificate) and the broker's ACL",
        _ => "unknown CONNACK return code",
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// The acknowledgements of one connection, waiting for its writer.
#[derive(Debug, Default)]
struct Acks {
    state: Mutex<AckState>,
    wake: Notify,
    /// Told when the writer fails, so the reader stops too.
    broken: Notify,
    sent: AtomicU64,
}

#[derive(Debug, Default)]
struct AckState {
    pending: Vec<u16>,
    /// No more acknowledgements are taken (the connection is gone).
    shut: bool,
    /// Send what is pending, then DISCONNECT.
    closing: bool,
    error: Option<String>,
}

impl Acks {
    fn lock(&self) -> std::sync::MutexGuard<'_, AckState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, pkid: u16) -> bool {
        let mut s = self.lock();
        if s.shut || s.closing {
            return false;
        }
        s.pending.push(pkid);
        drop(s);
        self.wake.notify_one();
        true
    }
}

/// The right to acknowledge one QoS 1 message, on the connection it came
/// on. Dropping it unused leaves the message unacknowledged, so the broker
/// sends it again (on a later connection).
#[derive(Debug)]
pub struct AckToken {
    acks: Arc<Acks>,
    pkid: u16,
}

impl AckToken {
    /// Acknowledges the message; false if its connection is gone (the
    /// broker will send it again).
    pub fn ack(self) -> bool {
        self.acks.push(self.pkid)
    }
}

/// An open session: read with [`Connection::next`].
pub struct Connection {
    read: ReadHalf<Box<dyn Stream>>,
    buf: BytesMut,
    decoder: Decoder,
    acks: Arc<Acks>,
    writer: Option<JoinHandle<()>>,
    keep_alive: Duration,
    /// The broker kept the session from before.
    pub session_present: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Unless a Closer took the writer over.
        if let Some(w) = self.writer.take() {
            self.acks.lock().shut = true;
            w.abort();
        }
    }
}

impl Connection {
    /// Connects, logs in and subscribes (the SUBACK comes through
    /// [`Connection::next`]).
    pub async fn connect(options: &SubscriberOptions) -> Result<Self, SubscribeError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, Self::open(options)).await {
            Ok(r) => r,
            Err(_) => Err(SubscribeError::Timeout(CONNECT_TIMEOUT)),
        }
    }

    async fn open(options: &SubscriberOptions) -> Result<Self, SubscribeError> {
        let addr = format!("{}:{}", options.host, options.port);
        let tcp = TcpStream::connect((options.host.as_str(), options.port))
            .await
            .map_err(|source| SubscribeError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let mut stream: Box<dyn Stream> = match &options.tls {
            None => Box::new(tcp),
            Some(tls) => Box::new(tls.handshake(&options.host, tcp).await.map_err(|source| {
                SubscribeError::Tls {
                    host: options.host.clone(),
                    source,
                }
            })?),
        };
        let mut out = Vec::with_capacity(128);
        let keep_alive_s = u16::try_from(options.keep_alive.as_secs()).unwrap_or(u16::MAX);
        wire::encode_connect(
            &wire::Connect {
                client_id: &options.client_id,
                keep_alive_s,
                clean_session: false,
                username: options.credentials.as_ref().map(|(u, _)| u.as_str()),
                password: options
                    .credentials
                    .as_ref()
                    .map(|(_, p)| p.expose().as_bytes()),
            },
            &mut out,
        );
        stream.write_all(&out).await?;
        zeroize::Zeroize::zeroize(&mut out);
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut decoder = Decoder::new();
        let nothing = |_: &str| 0;
        let session_present = loop {
            match decoder.decode(&mut buf, &nothing)? {
                Some(Incoming::ConnAck {
                    session_present,
                    code: 0,
                }) => break session_present,
                Some(Incoming::ConnAck { code, .. }) => {
                    return Err(SubscribeError::Refused(refusal(code)))
                }
                Some(Incoming::Publish(_) | Incoming::Oversized(_) | Incoming::Malformed(_)) => {
                    return Err(SubscribeError::Unexpected(3))
                }
                Some(Incoming::SubAck { .. }) => return Err(SubscribeError::Unexpected(9)),
                Some(Incoming::PingResp) => return Err(SubscribeError::Unexpected(13)),
                Some(Incoming::Other { packet_type }) => {
                    return Err(SubscribeError::Unexpected(packet_type))
                }
                None => {
                    if stream.read_buf(&mut buf).await? == 0 {
                        return Err(SubscribeError::Closed);
                    }
                }
            }
        };
        let mut out = Vec::with_capacity(128);
        wire::encode_subscribe(1, &options.subscriptions, &mut out);
        stream.write_all(&out).await?;
        let (read, write) = tokio::io::split(stream);
        let acks = Arc::new(Acks::default());
        let writer = tokio::spawn(write_loop(write, acks.clone(), options.keep_alive));
        Ok(Self {
            read,
            buf,
            decoder,
            acks,
            writer: Some(writer),
            keep_alive: options.keep_alive,
            session_present,
        })
    }

    /// The next packet from the broker. `limit` gives the largest payload
    /// each topic may carry; larger messages come as
    /// [`Incoming::Oversized`]. Cancel-safe.
    pub async fn next(
        &mut self,
        limit: &(dyn Fn(&str) -> usize + Sync),
    ) -> Result<Incoming, SubscribeError> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.buf, limit)? {
                return Ok(packet);
            }
            let want = self.decoder.wanted(&self.buf, limit).max(READ_CHUNK);
            self.buf.reserve(want);
            // The broker answers the writer's pings every half keep-alive.
            let silence = self.keep_alive * 3 / 2;
            let read = self.read.read_buf(&mut self.buf);
            let n = tokio::select! {
                n = read => n?,
                _ = tokio::time::sleep(silence), if !silence.is_zero() => {
                    return Err(SubscribeError::Silent(silence))
                }
                _ = self.acks.broken.notified() => {
                    let why = self.acks.lock().error.clone().unwrap_or_default();
                    return Err(SubscribeError::Write(why));
                }
            };
            if n == 0 {
                return Err(SubscribeError::Closed);
            }
        }
    }

    /// A token to acknowledge `pkid` (of a QoS 1 message read here).
    pub fn token(&self, pkid: u16) -> AckToken {
        AckToken {
            acks: self.acks.clone(),
            pkid,
        }
    }

    /// Acknowledges `pkid` now.
    pub fn ack(&self, pkid: u16) {
        self.acks.push(pkid);
    }

    /// How many acknowledgements this connection has sent.
    pub fn acks_sent(&self) -> u64 {
        self.acks.sent.load(Ordering::Relaxed)
    }

    /// Stops reading; the writer carries on sending acknowledgements (and
    /// pings) until [`Closer::close`].
    pub fn into_closer(mut self) -> Closer {
        Closer {
            acks: self.acks.clone(),
            writer: self.writer.take(),
        }
    }
}

/// The writing half of a connection that no longer reads: it sends the
/// acknowledgements still to come, then DISCONNECT.
pub struct Closer {
    acks: Arc<Acks>,
    writer: Option<JoinHandle<()>>,
}

impl Closer {
    /// Sends what is pending and DISCONNECT, waiting at most `within`.
    pub async fn close(mut self, within: Duration) {
        self.acks.lock().closing = true;
        self.acks.wake.notify_one();
        if let Some(mut writer) = self.writer.take() {
            if tokio::time::timeout(within, &mut writer).await.is_err() {
                writer.abort();
            }
        }
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.acks.lock().shut = true;
        if let Some(w) = &self.writer {
            w.abort();
        }
    }
}

/// The writer: PUBACKs as they are handed back, a PINGREQ every half
/// keep-alive, DISCONNECT when closing.
async fn write_loop(mut w: WriteHalf<Box<dyn Stream>>, acks: Arc<Acks>, keep_alive: Duration) {
    let period = (keep_alive / 2).max(Duration::from_millis(100));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut out = Vec::with_capacity(4096);
    loop {
        let mut pinging = false;
        tokio::select! {
            _ = acks.wake.notified() => {}
            _ = ping.tick(), if !keep_alive.is_zero() => pinging = true,
        }
        let (pending, closing) = {
            let mut s = acks.lock();
            (std::mem::take(&mut s.pending), s.closing)
        };
        for &pkid in &pending {
            wire::encode_puback(pkid, &mut out);
        }
        if pinging {
            wire::encode_pingreq(&mut out);
        }
        if closing {
            wire::encode_disconnect(&mut out);
        }
        if !out.is_empty() {
            if let Err(e) = w.write_all(&out).await {
                let mut s = acks.lock();
                s.shut = true;
                s.error = Some(e.to_string());
                drop(s);
                acks.broken.notify_one();
                return;
            }
            acks.sent.fetch_add(pending.len() as u64, Ordering::Relaxed);
            out.clear();
        }
        if closing {
            let _ = w.shutdown().await;
            return;
        }
    }
}

/// Tokens for packet ids 1 to `n` of a connection of their own, for tests;
/// the second value tells which were acknowledged.
#[cfg(test)]
pub fn test_tokens(n: u16) -> (Vec<AckToken>, TestAcks) {
    let acks = Arc::new(Acks::default());
    let tokens = (1..=n)
        .map(|pkid| AckToken {
            acks: acks.clone(),
            pkid,
        })
        .collect();
    (tokens, TestAcks(acks))
}

/// What test tokens acknowledged.
#[cfg(test)]
pub struct TestAcks(Arc<Acks>);

#[cfg(test)]
impl TestAcks {
    /// The packet ids acknowledged so far, in order.
    pub fn acked(&self) -> Vec<u16> {
        self.0.lock().pending.clone()
    }
}

#[cfg(test)]
#[path = "subscriber_tests.rs"]
mod tests;
