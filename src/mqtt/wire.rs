//! MQTT 3.1.1 on the wire: the part the daemon's input connection speaks.
//! CONNECT, SUBSCRIBE, PUBACK, PINGREQ and DISCONNECT go out; CONNACK,
//! SUBACK, PUBLISH (QoS 0 and 1) and PINGRESP come in. Pure: bytes in,
//! packets out, no I/O.
//!
//! The decoder sizes a PUBLISH from its fixed header and its topic before
//! it buffers the payload: a payload larger than its topic allows is never
//! held in memory. [`Decoder::decode`] reports it as [`Incoming::Oversized`]
//! (with its packet id, so the message can be acknowledged and so taken off
//! the session) and then discards its bytes as they arrive. Other packets
//! from the broker are small; one over [`MAX_CONTROL_PACKET`] breaks the
//! connection. A PUBLISH whose length is sound but whose contents are not
//! (a topic that is not UTF-8, QoS 2, which the daemon never subscribes
//! at) is consumed and reported as [`Incoming::Malformed`], so one bad
//! message can never make the connection fail again at every redelivery.

use bytes::{Buf, Bytes, BytesMut};

/// The largest remaining length MQTT can express (four length bytes).
pub const MAX_REMAINING: usize = 268_435_455;
/// The largest packet other than a PUBLISH accepted from a broker.
pub const MAX_CONTROL_PACKET: usize = 64 * 1024;

const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const SUBSCRIBE: u8 = 8;
const SUBACK: u8 = 9;
const PINGREQ: u8 = 12;
const PINGRESP: u8 = 13;
const DISCONNECT: u8 = 14;

/// Quality of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
}

/// What a CONNECT says.
#[derive(Debug, Clone)]
pub struct Connect<'a> {
    pub client_id: &'a str,
    pub keep_alive_s: u16,
    pub clean_session: bool,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
}

/// A packet from the broker.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The broker's answer to CONNECT: return code 0 is accepted.
    ConnAck {
        session_present: bool,
        code: u8,
    },
    /// The broker's answer to SUBSCRIBE: a granted QoS, or 0x80 for
    /// refused, per filter.
    SubAck {
        pkid: u16,
        codes: Vec<u8>,
    },
    Publish(Publish),
    /// A PUBLISH whose payload is larger than its topic allows. Its
    /// payload is discarded by the decoder as it arrives.
    Oversized(Oversized),
    /// A PUBLISH that was framed correctly but cannot be read; consumed.
    Malformed(Malformed),
    PingResp,
    /// Any other packet a broker may send a subscriber (a PUBACK, say): of
    /// no use to it, and harmless.
    Other {
        packet_type: u8,
    },
}

/// An application message.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub topic: String,
    pub qos: QoS,
    /// The broker has sent it before (on an earlier connection).
    pub dup: bool,
    pub retain: bool,
    /// 0 at QoS 0.
    pub pkid: u16,
    pub payload: Bytes,
}

/// A message too large for its topic, known by its header only.
#[derive(Debug, Clone, PartialEq)]
pub struct Oversized {
    pub topic: String,
    pub qos: QoS,
    pub dup: bool,
    pub pkid: u16,
    pub payload_len: usize,
    /// The most its topic allows.
    pub limit: usize,
}

/// A message that cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    /// The packet id to acknowledge it with, if it has one.
    pub ack: Option<u16>,
    pub why: &'static str,
}

/// The byte stream cannot be framed: the connection must close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("malformed remaining length")]
    BadLength,
    #[error("packet type {packet_type} of {len} bytes from the broker; at most {MAX_CONTROL_PACKET} are accepted")]
    ControlTooLarge { packet_type: u8, len: usize },
    #[error("malformed {0} packet")]
    Malformed(&'static str),
}

/// Reads packets out of a growing buffer, one at a time.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of an oversized payload still to discard.
    skip: usize,
}

/// A fixed header: the packet's first byte, its remaining length and the
/// header's own length.
struct Fixed {
    byte: u8,
    remaining: usize,
    len: usize,
}

fn fixed_header(buf: &[u8]) -> Result<Option<Fixed>, WireError> {
    let Some(&byte) = buf.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some(Fixed {
                byte,
                remaining,
                len: 2 + i,
            }));
        }
    }
    Err(WireError::BadLength)
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of an oversized payload still to be discarded.
    pub fn skipping(&self) -> usize {
        self.skip
    }

    /// How many more bytes the packet at the head of `buf` needs, as far
    /// as its headers tell and within what its topic allows: a hint for
    /// how much room to make before reading (0 when unknown).
    pub fn wanted(&self, buf: &[u8], limit: &dyn Fn(&str) -> usize) -> usize {
        if self.skip > 0 {
            return 0;
        }
        let Ok(Some(f)) = fixed_header(buf) else {
            return 0;
        };
        let whole = (f.len + f.remaining).saturating_sub(buf.len());
        if f.byte >> 4 != PUBLISH {
            return if f.remaining <= MAX_CONTROL_PACKET {
                whole
            } else {
                0
            };
        }
        let head = &buf[f.len..];
        if head.len() < 2 {
            return 0;
        }
        let topic_len = usize::from(u16::from_be_bytes([head[0], head[1]]));
        let Some(topic) = head.get(2..2 + topic_len) else {
            return 2 + topic_len - head.len().min(2 + topic_len);
        };
        match std::str::from_utf8(topic) {
            Ok(t) if f.remaining <= limit(t).saturating_add(4 + topic_len) => whole,
            _ => 0,
        }
    }

    /// The next packet in `buf`, consuming its bytes; `None` until enough
    /// have arrived. `limit` gives the largest payload a topic may carry.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limit: &dyn Fn(&str) -> usize,
    ) -> Result<Option<Incoming>, WireError> {
        if self.skip > 0 {
            let n = self.skip.min(buf.len());
            buf.advance(n);
            self.skip -= n;
            if self.skip > 0 {
                return Ok(None);
            }
        }
        let Some(f) = fixed_header(buf)? else {
            return Ok(None);
        };
        let packet_type = f.byte >> 4;
        if packet_type == PUBLISH {
            return self.publish(buf, &f, limit);
        }
        if f.remaining > MAX_CONTROL_PACKET {
            return Err(WireError::ControlTooLarge {
                packet_type,
                len: f.remaining,
            });
        }
        if buf.len() < f.len + f.remaining {
            return Ok(None);
        }
        buf.advance(f.len);
        let body = buf.split_to(f.remaining);
        let packet = match packet_type {
            CONNACK => {
                if body.len() != 2 {
                    return Err(WireError::Malformed("CONNACK"));
                }
                Incoming::ConnAck {
                    session_present: body[0] & 1 == 1,
                    code: body[1],
                }
            }
            SUBACK => {
                if body.len() < 3 {
                    return Err(WireError::Malformed("SUBACK"));
                }
                Incoming::SubAck {
                    pkid: u16::from_be_bytes([body[0], body[1]]),
                    codes: body[2..].to_vec(),
                }
            }
            PINGRESP => Incoming::PingResp,
            other => Incoming::Other { packet_type: other },
        };
        Ok(Some(packet))
    }

    fn publish(
        &mut self,
        buf: &mut BytesMut,
        f: &Fixed,
        limit: &dyn Fn(&str) -> usize,
    ) -> Result<Option<Incoming>, WireError> {
        let flags = f.byte & 0x0f;
        let (dup, qos_bits, retain) = (flags & 0x08 != 0, (flags >> 1) & 3, flags & 1 == 1);
        let pkid_len = if qos_bits > 0 { 2 } else { 0 };
        // The variable header: topic length, topic, packet id.
        let head = &buf[f.len..];
        if head.len() < 2 {
            return Ok(None);
        }
        let topic_len = usize::from(u16::from_be_bytes([head[0], head[1]]));
        let var_len = 2 + topic_len + pkid_len;
        if var_len > f.remaining {
            return Err(WireError::Malformed("PUBLISH"));
        }
        if head.len() < var_len {
            return Ok(None);
        }
        let pkid = if pkid_len == 2 {
            u16::from_be_bytes([head[2 + topic_len], head[3 + topic_len]])
        } else {
            0
        };
        let payload_len = f.remaining - var_len;
        let topic = std::str::from_utf8(&head[2..2 + topic_len]).map(str::to_owned);
        let malformed = |why| {
            Incoming::Malformed(Malformed {
                ack: (qos_bits == 1).then_some(pkid),
                why,
            })
        };
        let (qos, topic) = match (qos_bits, topic) {
            (0, Ok(t)) => (QoS::AtMostOnce, t),
            (1, Ok(t)) => (QoS::AtLeastOnce, t),
            (2, _) => return Ok(Some(self.discard(buf, f, malformed("QoS 2 PUBLISH")))),
            (3.., _) => return Err(WireError::Malformed("PUBLISH (QoS 3)")),
            (_, Err(_)) => {
                return Ok(Some(self.discard(
                    buf,
                    f,
                    malformed("PUBLISH topic not UTF-8"),
                )))
            }
        };
        let max = limit(&topic);
        if payload_len > max {
            buf.advance(f.len + var_len);
            self.skip = payload_len;
            let oversized = Incoming::Oversized(Oversized {
                topic,
                qos,
                dup,
                pkid,
                payload_len,
                limit: max,
            });
            // Whatever of the payload is here already goes now.
            let n = self.skip.min(buf.len());
            buf.advance(n);
            self.skip -= n;
            return Ok(Some(oversized));
        }
        if buf.len() < f.len + f.remaining {
            return Ok(None);
        }
        buf.advance(f.len + var_len);
        let payload = buf.split_to(payload_len).freeze();
        Ok(Some(Incoming::Publish(Publish {
            topic,
            qos,
            dup,
            retain,
            pkid,
            payload,
        })))
    }

    /// Consumes the packet at the head of `buf` (now or as it arrives) and
    /// returns `packet`.
    fn discard(&mut self, buf: &mut BytesMut, f: &Fixed, packet: Incoming) -> Incoming {
        let total = f.len + f.remaining;
        let n = total.min(buf.len());
        buf.advance(n);
        self.skip = total - n;
        packet
    }
}

fn put_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut b = (len & 0x7f) as u8;
        len >>= 7;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
}

/// A string or binary field: a 16-bit length, then the bytes. Longer ones
/// are cut at 65 535 bytes (the callers' fields are far shorter).
fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Appends a CONNECT.
pub fn encode_connect(c: &Connect<'_>, out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(64);
    put_field(&mut body, b"MQTT");
    body.push(4); // protocol level 3.1.1
    let mut flags = 0u8;
    if c.clean_session {
        flags |= 0x02;
    }
    if c.username.is_some() {
        flags |= 0x80;
        if c.password.is_some() {
            flags |= 0x40;
        }
    }
    body.push(flags);
    body.extend_from_slice(&c.keep_alive_s.to_be_bytes());
    put_field(&mut body, c.client_id.as_bytes());
    if let Some(user) = c.username {
        put_field(&mut body, user.as_bytes());
        if let Some(password) = c.password {
            put_field(&mut body, password);
        }
    }
    out.push(CONNECT << 4);
    put_length(out, body.len());
    out.extend_from_slice(&body);
}

/// Appends a SUBSCRIBE of `filters`.
pub fn encode_subscribe(pkid: u16, filters: &[(String, QoS)], out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(64);
    body.extend_from_slice(&pkid.to_be_bytes());
    for (filter, qos) in filters {
        put_field(&mut body, filter.as_bytes());
        body.push(*qos as u8);
    }
    out.push(SUBSCRIBE << 4 | 0x02);
    put_length(out, body.len());
    out.extend_from_slice(&body);
}

/// Appends a PUBACK.
pub fn encode_puback(pkid: u16, out: &mut Vec<u8>) {
    out.push(PUBACK << 4);
    out.push(2);
    out.extend_from_slice(&pkid.to_be_bytes());
}

/// Appends a PINGREQ.
pub fn encode_pingreq(out: &mut Vec<u8>) {
    out.extend_from_slice(&[PINGREQ << 4, 0]);
}

/// Appends a DISCONNECT.
pub fn encode_disconnect(out: &mut Vec<u8>) {
    out.extend_from_slice(&[DISCONNECT << 4, 0]);
}

/// Appends a PUBLISH (for tests and tools that play the broker's part).
pub fn encode_publish(p: &Publish, out: &mut Vec<u8>) {
    let pkid_len = if p.qos == QoS::AtLeastOnce { 2 } else { 0 };
    let remaining = 2 + p.topic.len() + pkid_len + p.payload.len();
    let mut flags = (p.qos as u8) << 1;
    if p.dup {
        flags |= 0x08;
    }
    if p.retain {
        flags |= 1;
    }
    out.push(PUBLISH << 4 | flags);
    put_length(out, remaining);
    put_field(out, p.topic.as_bytes());
    if pkid_len == 2 {
        out.extend_from_slice(&p.pkid.to_be_bytes());
    }
    out.extend_from_slice(&p.payload);
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
