//! Fault test: a garbage flood. Against a real Mosquitto and the real
//! daemon, 100 000 malformed sentences (bad checksums, bad fields, over-long
//! lines, binary junk, unknown devices and types, wrong topics), half over a
//! pseudo-terminal and half over MQTT, and 1 000 malformed thermal frames
//! (truncated RTF1, headers claiming huge sizes, junk PNG and TIFF, unknown
//! cameras), interleaved with 15 000 valid readings, a climb on the fence
//! and valid frames. Every valid reading must reach the engine, the climb
//! must alert, every malformed sentence must be counted under its reason,
//! every frame must be accounted for under the camera slot's policy (a
//! newer frame replaces one still waiting, counted), the log must stay
//! rate-limited, memory must stay flat, and SIGTERM must stop the daemon
//! cleanly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rampart::sim::pty::Pty;

use crate::harness::{sentence, Daemon, Mosquitto, Watcher};
use crate::test_config;

const WAIT: Duration = Duration::from_secs(60);
/// How much the daemon's resident memory may grow from after the warm-up
/// to after the flood.
const RSS_GROWTH_LIMIT_KIB: u64 = 30 * 1024;
/// Lines per MQTT sensor message.
const LINES_PER_MESSAGE: usize = 100;
/// The reasons a thermal frame can be rejected for (docs/WIRE-FORMATS.md).
const FRAME_REASONS: [&str; 12] = [
    "too_short",
    "unknown_format",
    "bad_version",
    "bad_pixel_format",
    "bad_header",
    "bad_dimensions",
    "too_many_pixels",
    "length_mismatch",
    "bad_png",
    "bad_tiff",
    "not_grey16",
    "decoder_limit",
];

/// xorshift64*: deterministic junk without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// `min` to `min + spread - 1` random bytes.
    fn some_bytes(&mut self, min: usize, spread: u64) -> Vec<u8> {
        let len = min + self.below(spread) as usize;
        self.bytes(len)
    }
}

/// What was sent, so what the daemon must count.
#[derive(Default)]
struct Tally {
    /// Malformed sentences by the reason they must be rejected for.
    rejected: BTreeMap<&'static str, u64>,
    /// Malformed sentences sent during the flood proper (not the warm-up).
    flood_garbage: u64,
    /// Valid readings, each of which the engine must process.
    valid: u64,
    /// Sentences that parse but come from devices nobody configured: they
    /// reach the engine, which rejects them.
    unknown_device: u64,
    /// Frames for the configured camera, and how many of them were valid.
    frames_cam: u64,
    frames_cam_valid: u64,
    /// Frames for a camera nobody configured.
    frames_ghost: u64,
    in_flood: bool,
}

impl Tally {
    fn reject(&mut self, reason: &'static str) {
        *self.rejected.entry(reason).or_default() += 1;
        if self.in_flood {
            self.flood_garbage += 1;
        }
    }
}

/// A sentence with a checksum that does not match.
fn bad_checksum(body: &str) -> String {
    let good = sentence(body);
    let cs = u8::from_str_radix(&good[good.len() - 4..good.len() - 2], 16).unwrap_or(0);
    format!("${body}*{:02X}\r\n", cs ^ 0x5a)
}

/// A line of binary junk: no `\n` inside, at least one byte that is not
/// ASCII, ended by CR LF.
fn junk_line(rng: &mut Rng) -> Vec<u8> {
    let len = 8 + rng.below(80) as usize;
    let mut line: Vec<u8> = rng
        .bytes(len)
        .into_iter()
        .map(|b| if b == b'\n' { 0xff } else { b })
        .collect();
    line[0] = 0xfe;
    line.extend_from_slice(b"\r\n");
    line
}

/// An over-long line (more than 200 bytes) that looks like a sentence.
fn long_line(device: &str, rng: &mut Rng) -> Vec<u8> {
    let pad = "9".repeat(201 + rng.below(400) as usize);
    format!("$RPFZ,{device},1,1,{pad},1*00\r\n").into_bytes()
}

/// One malformed line for the fence controller's serial line.
fn serial_garbage(i: u64, rng: &mut Rng, tally: &mut Tally) -> Vec<u8> {
    let (line, reason) = match i % 8 {
        0 => (
            bad_checksum(&format!("RPFZ,fence-s1,{i},1,10,20")).into_bytes(),
            "checksum_mismatch",
        ),
        1 => (
            sentence(&format!("RPFZ,fence-s1,{i},2,abc,2500")).into_bytes(),
            "bad_field",
        ),
        2 => (
            sentence(&format!("RPFZ,fence-s1,{i},2,900")).into_bytes(),
            "field_count",
        ),
        3 => (long_line("fence-s1", rng), "too_long"),
        4 => (junk_line(rng), "not_ascii"),
        5 => (
            format!("GARBAGE {i} lorem ipsum dolor\r\n").into_bytes(),
            "bad_start",
        ),
        // A well-formed sentence from a device that is not on this line.
        6 => (
            sentence(&format!("RPHB,ghost-{},{i},10,OK", i % 50)).into_bytes(),
            "wrong_source",
        ),
        _ => (
            sentence(&format!("RPXX,fence-s1,{i},1")).into_bytes(),
            "unknown_type",
        ),
    };
    tally.reject(reason);
    line
}

/// One malformed line on the trench controller's MQTT topic.
fn mqtt_garbage(i: u64, rng: &mut Rng, tally: &mut Tally) -> Vec<u8> {
    let (line, reason) = match i % 7 {
        0 | 1 => (
            bad_checksum(&format!("RPGS,trench-m1,{i},0,100")).into_bytes(),
            "checksum_mismatch",
        ),
        2 => (
            sentence(&format!("RPGS,trench-m1,-{i},0,100")).into_bytes(),
            "bad_seq",
        ),
        3 => (
            sentence(&format!("RPGS,trench m1!,{i},0,100")).into_bytes(),
            "bad_device",
        ),
        4 => (long_line("trench-m1", rng), "too_long"),
        5 => (junk_line(rng), "not_ascii"),
        // fence-s1 speaking on trench-m1's topic.
        _ => (
            sentence(&format!("RPHB,fence-s1,{i},10,OK")).into_bytes(),
            "wrong_source",
        ),
    };
    tally.reject(reason);
    line
}

/// Sequence numbers of the two speaking controllers, continued across
/// warm-up, flood and the final sentences.
#[derive(Default)]
struct Seqs {
    fence: u64,
    trench: u64,
}

/// A valid, quiet reading from fence-s1 (a heartbeat now and then).
fn fence_reading(seqs: &mut Seqs, rng: &mut Rng, tally: &mut Tally) -> Vec<u8> {
    seqs.fence += 1;
    tally.valid += 1;
    let seq = seqs.fence;
    if seq.is_multiple_of(50) {
        return sentence(&format!("RPHB,fence-s1,{seq},{seq},OK")).into_bytes();
    }
    let zone = 1 + seq % 2;
    let (rms, peak) = (20 + rng.below(100), 50 + rng.below(250));
    sentence(&format!("RPFZ,fence-s1,{seq},{zone},{rms},{peak}")).into_bytes()
}

/// A valid, quiet reading from trench-m1's geophone (or a heartbeat).
fn trench_reading(seqs: &mut Seqs, rng: &mut Rng, tally: &mut Tally) -> Vec<u8> {
    seqs.trench += 1;
    tally.valid += 1;
    let seq = seqs.trench;
    if seq.is_multiple_of(50) {
        return sentence(&format!("RPHB,trench-m1,{seq},{seq},OK")).into_bytes();
    }
    sentence(&format!("RPGS,trench-m1,{seq},0,{}", 100 + rng.below(300))).into_bytes()
}

/// `garbage` malformed lines with `valid` readings spread among them; with
/// `crossing`, a climb on zone 2 (three strong readings in a row) halfway.
fn serial_stream(
    garbage: u64,
    valid: u64,
    crossing: bool,
    seqs: &mut Seqs,
    rng: &mut Rng,
    tally: &mut Tally,
) -> Vec<u8> {
    let every = (garbage / valid.max(1)).max(1);
    let mut out = Vec::new();
    let mut sent_valid = 0;
    for g in 0..garbage {
        out.extend(serial_garbage(g, rng, tally));
        if (g + 1) % every == 0 && sent_valid < valid {
            out.extend(fence_reading(seqs, rng, tally));
            sent_valid += 1;
        }
        if crossing && g == garbage / 2 {
            for _ in 0..3 {
                seqs.fence += 1;
                tally.valid += 1;
                out.extend(sentence(&format!("RPFZ,fence-s1,{},2,900,2500", seqs.fence)).bytes());
            }
        }
    }
    for _ in sent_valid..valid {
        out.extend(fence_reading(seqs, rng, tally));
    }
    out
}

/// A raw RTF1 payload: header fields as given, then `pixel_bytes` of data.
fn rtf1(
    version: u8,
    format: u8,
    width: u16,
    height: u16,
    reserved: u16,
    pixel_bytes: usize,
) -> Vec<u8> {
    let mut v = b"RTF1".to_vec();
    v.extend([version, format]);
    v.extend(width.to_le_bytes());
    v.extend(height.to_le_bytes());
    v.extend(reserved.to_le_bytes());
    v.extend(7u32.to_le_bytes());
    v.extend(0u64.to_le_bytes());
    v.extend(0u64.to_le_bytes());
    v.extend(std::iter::repeat_n(0x11, pixel_bytes));
    v
}

/// A little-endian TIFF whose only directory claims a 50 000 × 50 000
/// 16-bit image stored in one impossible strip.
fn lying_tiff() -> Vec<u8> {
    let mut v = b"II".to_vec();
    v.extend(42u16.to_le_bytes());
    v.extend(8u32.to_le_bytes());
    let entries: [(u16, u16, u32); 9] = [
        (256, 4, 50_000),
        (257, 4, 50_000),
        (258, 3, 16),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8),
        (277, 3, 1),
        (278, 4, 50_000),
        (279, 4, u32::MAX),
    ];
    v.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        v.extend(tag.to_le_bytes());
        v.extend(kind.to_le_bytes());
        v.extend(1u32.to_le_bytes());
        v.extend(value.to_le_bytes());
    }
    v.extend(0u32.to_le_bytes());
    v.extend([0x22; 64]);
    v
}

/// One malformed frame for the configured camera.
fn junk_frame(i: u64, rng: &mut Rng) -> Vec<u8> {
    const PNG_IHDR: [u8; 16] = [
        0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    match i % 9 {
        0 => rng.some_bytes(1, 31),
        1 => {
            let mut v = rng.some_bytes(40, 400);
            v[0] = b'X';
            v
        }
        // Truncated: a 640 × 512 header with a few pixels.
        2 => rtf1(1, 1, 640, 512, 0, 1000 + rng.below(4000) as usize),
        // Lying headers: 16.7 Mpixel (32 MiB claimed), sides of 0 or 65 535.
        3 => rtf1(1, 1, 4096, 4096, 0, 100),
        4 => {
            let side = if i.is_multiple_of(2) { 0 } else { u16::MAX };
            rtf1(1, 1, side, side, 0, 100)
        }
        5 => match (i / 9) % 3 {
            0 => rtf1(2, 1, 640, 512, 0, 100),
            1 => rtf1(1, 3, 640, 512, 0, 100),
            _ => rtf1(1, 1, 640, 512, 0xbeef, 100),
        },
        // PNG signature, then junk.
        6 => {
            let mut v = PNG_IHDR[..8].to_vec();
            v.extend(rng.some_bytes(100, 500));
            v
        }
        // A PNG header claiming 60 000², 4 000² or 640 × 512 over junk.
        7 => {
            let side: u32 = [60_000, 4_000, 640][((i / 9) % 3) as usize];
            let mut v = PNG_IHDR.to_vec();
            v.extend(side.to_be_bytes());
            v.extend(side.min(512).to_be_bytes());
            v.extend([16, 0, 0, 0, 0]);
            v.extend(rng.bytes(200));
            v
        }
        _ => {
            if i.is_multiple_of(2) {
                lying_tiff()
            } else {
                let mut v = b"MM\0*".to_vec();
                v.extend(rng.some_bytes(100, 300));
                v
            }
        }
    }
}

/// How much of each kind of MQTT traffic to send.
#[derive(Clone, Copy)]
struct Mix {
    /// Malformed lines on trench-m1's topic, and valid readings among them.
    trench_garbage: u64,
    trench_valid: u64,
    /// Messages of well-formed sentences from unknown devices.
    ghost_messages: u64,
    /// Messages on topics that do not name a device.
    bad_topics: u64,
    /// Junk frames (one in ten for an unknown camera), and valid ones.
    junk_frames: u64,
    valid_frames: u64,
}

/// The MQTT traffic: trench-m1 messages (garbage with valid readings
/// among it), unknown devices, bad topics, junk frames and valid frames,
/// interleaved evenly. The last frame is a valid one.
fn mqtt_traffic(
    mix: &Mix,
    seqs: &mut Seqs,
    rng: &mut Rng,
    tally: &mut Tally,
) -> Vec<(String, Vec<u8>)> {
    let Mix {
        trench_garbage,
        trench_valid,
        ghost_messages,
        bad_topics,
        junk_frames,
        valid_frames,
    } = *mix;
    let valid_frame = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/frames/test-frame.rtf1"
    ))
    .expect("test frame");
    let every = (trench_garbage / trench_valid.max(1)).max(1);
    let mut lines = Vec::new();
    let mut sent_valid = 0;
    for g in 0..trench_garbage {
        lines.push(mqtt_garbage(g, rng, tally));
        if (g + 1) % every == 0 && sent_valid < trench_valid {
            lines.push(trench_reading(seqs, rng, tally));
            sent_valid += 1;
        }
    }
    for _ in sent_valid..trench_valid {
        lines.push(trench_reading(seqs, rng, tally));
    }
    let trench: Vec<(String, Vec<u8>)> = lines
        .chunks(LINES_PER_MESSAGE)
        .map(|c| ("rampart/v1/sensor/trench-m1".to_owned(), c.concat()))
        .collect();
    let ghosts: Vec<(String, Vec<u8>)> = (0..ghost_messages)
        .map(|m| {
            let device = format!("ghost-{}", m % 7);
            let body: String = (0..LINES_PER_MESSAGE)
                .map(|l| sentence(&format!("RPGS,{device},{},0,100", m * 1000 + l as u64 + 1)))
                .collect();
            tally.unknown_device += LINES_PER_MESSAGE as u64;
            for _ in 0..LINES_PER_MESSAGE {
                tally.reject("unknown_device");
            }
            (format!("rampart/v1/sensor/{device}"), body.into_bytes())
        })
        .collect();
    let bad: Vec<(String, Vec<u8>)> = (0..bad_topics)
        .map(|m| {
            tally.reject("bad_topic");
            (
                format!("rampart/v1/sensor/bad.id{}", m % 5),
                sentence(&format!("RPHB,trench-m1,{m},1,OK")).into_bytes(),
            )
        })
        .collect();
    let mut frames = Vec::new();
    let valid_every = (junk_frames / valid_frames.max(1)).max(1);
    let mut sent_valid_frames = 0;
    for f in 0..junk_frames {
        if f % 10 == 9 {
            tally.frames_ghost += 1;
            frames.push((
                "rampart/v1/camera/cam-ghost/frame".to_owned(),
                rng.bytes(64),
            ));
        } else {
            tally.frames_cam += 1;
            frames.push((
                "rampart/v1/camera/cam-t/frame".to_owned(),
                junk_frame(f, rng),
            ));
        }
        if (f + 1) % valid_every == 0 && sent_valid_frames < valid_frames {
            sent_valid_frames += 1;
            tally.frames_cam += 1;
            tally.frames_cam_valid += 1;
            frames.push((
                "rampart/v1/camera/cam-t/frame".to_owned(),
                valid_frame.clone(),
            ));
        }
    }
    // Interleave the four kinds evenly, keeping each one's order.
    let mut keyed: Vec<(f64, usize, (String, Vec<u8>))> = Vec::new();
    for (kind, list) in [trench, ghosts, bad, frames].into_iter().enumerate() {
        let n = list.len() as f64;
        for (i, m) in list.into_iter().enumerate() {
            keyed.push(((i as f64 + 1.0) / n, kind, m));
        }
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, _, m)| m).collect()
}

/// `VmRSS` and `VmHWM` of a process, KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The counters the daemon logs as it stops (`rampart stopped counters={...}`).
pub(crate) fn final_counters(log: &str) -> BTreeMap<String, u64> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("rampart stopped"))
        .unwrap_or_else(|| panic!("no final counters in the log:\n{log}"));
    let start = line.find("counters={").expect("counters field") + "counters={".len();
    let end = start + line[start..].find('}').expect("end of the counters");
    line[start..end]
        .split(", ")
        .filter_map(|kv| {
            let (k, v) = kv.split_once(": ")?;
            Some((k.trim_matches('"').to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// Writes `bytes` to the line on a blocking thread, every byte delivered.
async fn write_serial(mut pty: Pty, bytes: Vec<u8>) -> Pty {
    tokio::task::spawn_blocking(move || {
        for chunk in bytes.chunks(64 * 1024) {
            pty.send_all(chunk, WAIT)
                .expect("the daemon reads the serial line");
        }
        pty
    })
    .await
    .expect("serial writer")
}

async fn publish_all(w: &Watcher, messages: &[(String, Vec<u8>)]) {
    for (topic, payload) in messages {
        w.publish(topic, payload).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_flood_is_counted_and_shed_while_valid_input_gets_through() {
    // Mosquitto drops QoS 1 messages beyond 1 000 queued for one subscriber
    // by default (max_queued_messages): raised so that the broker, not the
    // daemon, never loses a message here.
    let Some(broker) = Mosquitto::start_with(
        "a_garbage_flood_is_counted_and_shed_while_valid_input_gets_through",
        "max_queued_messages 100000",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty/fence-s1");
    let mut pty = Pty::open(&link).unwrap();
    let config = format!(
        "{}{}",
        test_config(dir.path(), broker.port, false, &link),
        crate::camera::camera_config()
    );
    let daemon = Daemon::start(dir.path(), &config);
    let mut w = Watcher::start(broker.port, &["rampart/v1/alert/+"]).await;
    daemon.wait_log("serial port opened", 1, WAIT).await;
    daemon.wait_log("mqtt source subscribed", 3, WAIT).await;

    let mut rng = Rng(0x5eed_f100d);
    let mut tally = Tally::default();
    let mut seqs = Seqs::default();

    // Warm-up: a little of everything, then one marker per path whose
    // rejection is logged (the first of its kind) once all before it went
    // through.
    let mut serial = serial_stream(800, 200, false, &mut seqs, &mut rng, &mut tally);
    serial.extend_from_slice(b"$RPHB,fence-s1,1,1,OK*zz\r\n");
    tally.reject("bad_checksum_field");
    let warm_up = Mix {
        trench_garbage: 700,
        trench_valid: 100,
        ghost_messages: 2,
        bad_topics: 10,
        junk_frames: 20,
        valid_frames: 2,
    };
    let mqtt = mqtt_traffic(&warm_up, &mut seqs, &mut rng, &mut tally);
    pty = write_serial(pty, serial).await;
    publish_all(&w, &mqtt).await;
    w.publish(
        "rampart/v1/ack",
        br#"{"id": "no-such-incident", "by": "flood test"}"#,
    )
    .await;
    daemon
        .wait_log("reason=\"bad_checksum_field\"", 1, WAIT)
        .await;
    daemon
        .wait_log("reason=\"ack_unknown_incident\"", 1, WAIT)
        .await;
    let (rss_warm, _) = memory_kib(daemon.pid());

    // The flood: 50 000 malformed lines and 10 000 readings (with the climb)
    // over serial; 50 000 malformed lines (35 000 among 5 000 readings on
    // trench-m1's topic, 14 000 from unknown devices, 1 000 on bad topics),
    // 1 000 junk frames and 20 valid ones over MQTT; both at once.
    tally.in_flood = true;
    let valid_before = tally.valid;
    let frames_before = (tally.frames_cam, tally.frames_cam_valid, tally.frames_ghost);
    let mut serial = serial_stream(50_000, 10_000, true, &mut seqs, &mut rng, &mut tally);
    let flood = Mix {
        trench_garbage: 35_000,
        trench_valid: 5_000,
        ghost_messages: 140,
        bad_topics: 1_000,
        junk_frames: 1_000,
        valid_frames: 20,
    };
    let mqtt = mqtt_traffic(&flood, &mut seqs, &mut rng, &mut tally);
    let flood_frames = (
        tally.frames_cam - tally.frames_cam_valid - (frames_before.0 - frames_before.1),
        tally.frames_cam_valid - frames_before.1,
        tally.frames_ghost - frames_before.2,
    );
    tally.in_flood = false;
    // Last on each path, a sentence whose alert says the path is through:
    // a cut fence on serial, a heavy footstep on MQTT.
    seqs.fence += 1;
    serial.extend(sentence(&format!("RPTP,fence-s1,{},CUT", seqs.fence)).bytes());
    seqs.trench += 1;
    let last_mqtt = sentence(&format!("RPGS,trench-m1,{},0,5000", seqs.trench));
    tally.valid += 2;
    let flood_valid = tally.valid - valid_before;
    let (serial_bytes, mqtt_messages) = (serial.len(), mqtt.len() + 1);

    let began = Instant::now();
    let writer = tokio::spawn(write_serial(pty, serial));
    publish_all(&w, &mqtt).await;
    w.publish("rampart/v1/sensor/trench-m1", last_mqtt.as_bytes())
        .await;
    let _pty = writer.await.expect("serial writer");
    let sent_in = began.elapsed();

    let is_intrusion = |v: &serde_json::Value, seg: &str, sensor: &str| {
        v["kind"] == "intrusion"
            && v["segment_id"] == seg
            && v["sensors"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x == sensor))
    };
    w.alert(WAIT, "the climb on fence-s1 zone 2", |v| {
        is_intrusion(v, "S012", "fence-s1/zone2")
    })
    .await;
    w.alert(WAIT, "the cut fence (end of the serial flood)", |v| {
        v["kind"] == "tamper" && v["segment_id"] == "S012"
    })
    .await;
    w.alert(WAIT, "the footstep (end of the MQTT flood)", |v| {
        is_intrusion(v, "S250", "trench-m1/geo0")
    })
    .await;
    let through_in = began.elapsed();
    let (rss_after, hwm) = memory_kib(daemon.pid());

    let log_path = daemon.log.clone();
    let status = daemon.stop();
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(!log.contains("panicked"), "a panic in the daemon's log");
    let c = final_counters(&log);
    let get = |k: &str| c.get(k).copied().unwrap_or(0);

    // Every valid reading reached the engine, in order and without a gap,
    // and was taken once; so did the well-formed sentences of unknown
    // devices, which it refused.
    let through_engine = tally.valid + tally.unknown_device;
    assert_eq!(get("sentences.decoded"), through_engine, "{c:?}");
    assert_eq!(get("engine.sentences"), through_engine, "{c:?}");
    assert_eq!(get("sentences.accepted"), tally.valid, "{c:?}");
    assert_eq!(get("sentences.duplicate"), 0, "{c:?}");
    assert_eq!(get("sentences.lost_by_seq_gap"), 0, "{c:?}");
    assert_eq!(get("sentences.out_of_order"), 0, "{c:?}");

    // Every malformed sentence counted once, under its reason.
    for (reason, sent) in &tally.rejected {
        assert_eq!(
            get(&format!("rejected.{reason}")),
            *sent,
            "rejected.{reason}: {c:?}"
        );
    }
    // Frames: each one received; those of the unknown camera refused at
    // once; each of the camera's either processed, rejected or replaced
    // by a newer one while waiting (the slot's policy), none lost; no junk
    // processed; the last (valid) frame processed.
    assert_eq!(
        get("frames.received"),
        tally.frames_cam + tally.frames_ghost,
        "{c:?}"
    );
    assert_eq!(get("rejected.unknown_camera"), tally.frames_ghost, "{c:?}");
    let processed = get("frames.processed.cam-t");
    let rejected = get("frames.rejected.cam-t");
    let replaced = get("frames.replaced.cam-t");
    assert_eq!(processed + rejected + replaced, tally.frames_cam, "{c:?}");
    assert!(
        (1..=tally.frames_cam_valid).contains(&processed),
        "{processed} frames processed of {} valid: {c:?}",
        tally.frames_cam_valid
    );
    let by_reason: u64 = FRAME_REASONS
        .iter()
        .map(|r| get(&format!("rejected.{r}")))
        .sum();
    assert_eq!(by_reason, rejected, "{c:?}");
    assert_eq!(get("acks.accepted"), 0);
    assert_eq!(get("rejected.ack_unknown_incident"), 1, "{c:?}");
    for key in c.keys().filter(|k| k.starts_with("rejected.")) {
        let reason = &key["rejected.".len()..];
        assert!(
            tally.rejected.contains_key(reason)
                || FRAME_REASONS.contains(&reason)
                || ["unknown_camera", "ack_unknown_incident"].contains(&reason),
            "unexpected {key} = {}",
            c[key]
        );
    }

    // The log stays readable: rejections are logged per source and reason
    // at most once every 10 s.
    let reject_lines = log.lines().filter(|l| l.contains("rejected input")).count();
    assert!(reject_lines <= 200, "{reject_lines} rejection lines logged");

    // Memory stays flat.
    let growth = rss_after.saturating_sub(rss_warm);
    assert!(
        growth < RSS_GROWTH_LIMIT_KIB,
        "RSS grew by {growth} KiB ({rss_warm} → {rss_after} KiB)"
    );

    eprintln!(
        "flood: sent {} malformed sentences ({serial_bytes} bytes on serial, {mqtt_messages} MQTT messages) \
         and {} junk frames + {} valid to cam-t, {} to an unknown camera, among {flood_valid} valid readings, \
         in {sent_in:?}; all through in {through_in:?}. engine.sentences {} (valid {} + unknown devices {}); \
         rejected {:?}; frames processed {processed}, rejected {rejected}, replaced {replaced}; \
         rejection log lines {reject_lines}; RSS {rss_warm} KiB after warm-up, {rss_after} KiB after the flood \
         (+{growth} KiB), peak {hwm} KiB",
        tally.flood_garbage,
        flood_frames.0,
        flood_frames.1,
        flood_frames.2,
        get("engine.sentences"),
        tally.valid,
        tally.unknown_device,
        tally.rejected,
    );
}
