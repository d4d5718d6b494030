//! Recordings of the daemon's raw input, for replay.
//!
//! With `rampart run --record FILE` every source hands what it receives —
//! sentence bytes exactly as read (a serial chunk, a whole MQTT payload),
//! thermal frame payloads, operator acknowledgements — with its receipt
//! time to the [`recorder`], which appends it to a file in the
//! [`format`](mod@format) described there. `rampart replay`
//! ([`crate::replay`]) reads it back and runs detection on it, re-framing
//! and re-parsing the bytes with the same codec, so bad lines replay as
//! rejections.
//!
//! A [`Record`] is also the input of the replay driver, so simulated input
//! can be fed to it without a file.

pub mod format;
pub mod recorder;

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Where a record came from. Written to the file as a label:
/// `serial:/dev/ttyUSB0`, `mqtt:sensor/fence-c07`, `mqtt:ack`,
/// `camera:cam-7`, `daemon`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A serial line, by the path the daemon opened.
    Serial(String),
    /// The MQTT topic of one device (`<root>/v1/sensor/<device>`).
    Mqtt(String),
    /// The MQTT topic of operator acknowledgements.
    Ack,
    /// The frame topic of one camera.
    Camera(String),
    /// The daemon itself (the end marker).
    Daemon,
    /// A label this version does not know (from a newer recorder).
    Other(String),
}

impl Source {
    /// Reads a label; anything unknown is [`Source::Other`].
    pub fn parse(label: &str) -> Source {
        if let Some(path) = label.strip_prefix("serial:") {
            Source::Serial(path.to_owned())
        } else if let Some(device) = label.strip_prefix("mqtt:sensor/") {
            Source::Mqtt(device.to_owned())
        } else if label == "mqtt:ack" {
            Source::Ack
        } else if let Some(id) = label.strip_prefix("camera:") {
            Source::Camera(id.to_owned())
        } else if label == "daemon" {
            Source::Daemon
        } else {
            Source::Other(label.to_owned())
        }
    }

    /// The length of the label in bytes, without formatting it.
    pub fn label_len(&self) -> usize {
        match self {
            Source::Serial(path) => "serial:".len() + path.len(),
            Source::Mqtt(device) => "mqtt:sensor/".len() + device.len(),
            Source::Ack => "mqtt:ack".len(),
            Source::Camera(id) => "camera:".len() + id.len(),
            Source::Daemon => "daemon".len(),
            Source::Other(label) => label.len(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Serial(path) => write!(f, "serial:{path}"),
            Source::Mqtt(device) => write!(f, "mqtt:sensor/{device}"),
            Source::Ack => f.write_str("mqtt:ack"),
            Source::Camera(id) => write!(f, "camera:{id}"),
            Source::Daemon => f.write_str("daemon"),
            Source::Other(label) => f.write_str(label),
        }
    }
}

/// What a record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Sentence bytes as received: a chunk of a serial stream (lines may
    /// be split across chunks) or one whole MQTT message.
    Sentences(Bytes),
    /// A thermal frame payload (RTF1, PNG or TIFF), undecoded.
    Frame(Bytes),
    /// An operator acknowledgement payload, unparsed.
    Ack(Bytes),
    /// The source dropped its partial line (a serial port was lost).
    Reset,
    /// The recording ends: the daemon stopped here. Input was watched
    /// until this time, even if nothing arrived.
    End,
}

impl Payload {
    /// The payload bytes (empty for markers).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Payload::Sentences(b) | Payload::Frame(b) | Payload::Ack(b) => b,
            Payload::Reset | Payload::End => &[],
        }
    }
}

/// One piece of raw input, with when (the daemon's clock) and where it was
/// received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: Timestamp,
    pub source: Source,
    pub payload: Payload,
}

impl Record {
    /// Sentence bytes from `source` (a [`Source::Serial`] or [`Source::Mqtt`]).
    pub fn sentences(at: Timestamp, source: Source, bytes: impl Into<Bytes>) -> Self {
        Self {
            at,
            source,
            payload: Payload::Sentences(bytes.into()),
        }
    }

    /// A frame payload from camera `camera`.
    pub fn frame(at: Timestamp, camera: &str, payload: impl Into<Bytes>) -> Self {
        Self {
            at,
            source: Source::Camera(camera.to_owned()),
            payload: Payload::Frame(payload.into()),
        }
    }

    /// An acknowledgement payload.
    pub fn ack(at: Timestamp, payload: impl Into<Bytes>) -> Self {
        Self {
            at,
            source: Source::Ack,
            payload: Payload::Ack(payload.into()),
        }
    }

    /// The end marker.
    pub fn end(at: Timestamp) -> Self {
        Self {
            at,
            source: Source::Daemon,
            payload: Payload::End,
        }
    }
}

/// The JSON header at the start of a recording. Unknown fields are
/// ignored when reading, so later versions may add some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The recording daemon's instance id.
    pub instance: String,
    /// When the daemon started, ms since the epoch: its deadlines for
    /// devices never heard count from here.
    pub started_ms: i64,
    /// The same, RFC 3339, for people.
    #[serde(default)]
    pub started: String,
    /// The prefix of the daemon's incident ids, so that a replay with the
    /// same config gives the same ids (and acknowledgements find them).
    pub id_prefix: String,
    /// The rampart version that recorded.
    pub rampart_version: String,
    /// The config file the daemon ran with.
    #[serde(default)]
    pub config: String,
    /// What was recorded.
    pub recorded: Recorded,
    /// The sources the daemon read (`serial:/dev/ttyUSB0`, `mqtt:sensor/+`,
    /// `mqtt:ack`, `camera:cam-7`).
    #[serde(default)]
    pub sources: Vec<String>,
}

impl Header {
    /// The daemon's start time.
    pub fn started(&self) -> Timestamp {
        Timestamp(self.started_ms)
    }
}

/// Which kinds of input a recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub sentences: bool,
    pub frames: bool,
    pub acks: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_labels_round_trip() {
        for s in [
            Source::Serial("/dev/ttyUSB0".into()),
            Source::Mqtt("fence-c07".into()),
            Source::Ack,
            Source::Camera("cam-7".into()),
            Source::Daemon,
            Source::Other("lora:gw-1".into()),
        ] {
            assert_eq!(Source::parse(&s.to_string()), s);
        }
        assert_eq!(
            Source::parse("serial:/dev/serial/by-id/usb-FTDI:x"),
            Source::Serial("/dev/serial/by-id/usb-FTDI:x".into())
        );
    }
}
