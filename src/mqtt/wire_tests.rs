use super::*;
use proptest::prelude::*;

const LIMIT: usize = 1000;

fn limit(topic: &str) -> usize {
    if topic.starts_with("big/") {
        100_000
    } else {
        LIMIT
    }
}

fn publish(topic: &str, qos: QoS, pkid: u16, payload: &[u8]) -> Publish {
    Publish {
        topic: topic.into(),
        qos,
        dup: false,
        retain: false,
        pkid,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn bytes_of(p: &Publish) -> Vec<u8> {
    let mut out = Vec::new();
    encode_publish(p, &mut out);
    out
}

/// Feeds `stream` in pieces of `chunk` bytes and collects every packet.
fn decode_in_chunks(stream: &[u8], chunk: usize) -> (Vec<Incoming>, usize) {
    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut most_held = 0;
    for piece in stream.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        most_held = most_held.max(buf.len());
        while let Some(p) = d.decode(&mut buf, &limit).expect("framing") {
            out.push(p);
        }
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    assert_eq!(d.skipping(), 0);
    (out, most_held)
}

#[test]
fn publishes_round_trip_at_both_qos_with_their_flags() {
    let mut p1 = publish("rampart/v1/sensor/fence-a", QoS::AtLeastOnce, 7, b"$RPHB\n");
    p1.dup = true;
    let mut p0 = publish("rampart/v1/camera/c/frame", QoS::AtMostOnce, 0, &[0; 300]);
    p0.retain = true;
    let stream = [bytes_of(&p1), bytes_of(&p0)].concat();
    let (packets, _) = decode_in_chunks(&stream, stream.len());
    assert_eq!(packets, [Incoming::Publish(p1), Incoming::Publish(p0)]);
}

#[test]
fn the_connect_packet_is_what_the_standard_says() {
    let mut out = Vec::new();
    encode_connect(
        &Connect {
            client_id: "it-in",
            keep_alive_s: 15,
            clean_session: false,
            username: Some("u"),
            password: Some(b"pw"),
        },
        &mut out,
    );
    let expected = [
        0x10, 24, // CONNECT, remaining length
        0, 4, b'M', b'Q', b'T', b'T', 4,    // protocol name and level 3.1.1
        0xC0, // username and password, no clean session
        0, 15, // keep alive
        0, 5, b'i', b't', b'-', b'i', b'n', // client id
        0, 1, b'u', // username
        0, 2, b'p', b'w', // password
    ];
    assert_eq!(out, expected);
}

#[test]
fn small_packets_encode_as_specified() {
    let mut out = Vec::new();
    encode_puback(0x1234, &mut out);
    encode_pingreq(&mut out);
    encode_disconnect(&mut out);
    encode_subscribe(3, &[("a/+".to_owned(), QoS::AtLeastOnce)], &mut out);
    assert_eq!(
        out,
        [0x40, 2, 0x12, 0x34, 0xC0, 0, 0xE0, 0, 0x82, 8, 0, 3, 0, 3, b'a', b'/', b'+', 1]
    );
}

#[test]
fn connack_suback_and_pingresp_are_read() {
    let stream = [
        &[0x20, 2, 1, 0][..],
        &[0x90, 4, 0, 9, 1, 0x80],
        &[0xD0, 0],
        &[0x40, 2, 0, 5], // a PUBACK: not for a subscriber, harmless
    ]
    .concat();
    let (packets, _) = decode_in_chunks(&stream, 1);
    assert_eq!(
        packets,
        [
            Incoming::ConnAck {
                session_present: true,
                code: 0
            },
            Incoming::SubAck {
                pkid: 9,
                codes: vec![1, 0x80]
            },
            Incoming::PingResp,
            Incoming::Other { packet_type: 4 },
        ]
    );
}

#[test]
fn an_oversized_publish_is_reported_from_its_header_and_never_buffered() {
    let big = publish(
        "rampart/v1/sensor/x",
        QoS::AtLeastOnce,
        42,
        &vec![b'x'; 5 << 20],
    );
    let after = publish("rampart/v1/sensor/x", QoS::AtLeastOnce, 43, b"ok\n");
    let stream = [bytes_of(&big), bytes_of(&after)].concat();
    let (packets, most_held) = decode_in_chunks(&stream, 64 * 1024);
    assert_eq!(
        packets,
        [
            Incoming::Oversized(Oversized {
                topic: "rampart/v1/sensor/x".into(),
                qos: QoS::AtLeastOnce,
                dup: false,
                pkid: 42,
                payload_len: 5 << 20,
                limit: LIMIT,
            }),
            Incoming::Publish(after),
        ]
    );
    assert!(
        most_held <= 2 * 64 * 1024,
        "held {most_held} bytes of a 5 MiB message"
    );
}

#[test]
fn the_limit_is_per_topic() {
    let frame = publish("big/frame", QoS::AtMostOnce, 0, &[1; 50_000]);
    let (packets, _) = decode_in_chunks(&bytes_of(&frame), 4096);
    assert_eq!(packets, [Incoming::Publish(frame)]);
    let sentence = publish("small", QoS::AtMostOnce, 0, &[1; LIMIT + 1]);
    let (packets, _) = decode_in_chunks(&bytes_of(&sentence), 4096);
    assert!(matches!(&packets[..], [Incoming::Oversized(o)] if o.payload_len == LIMIT + 1));
}

#[test]
fn a_readable_frame_with_unreadable_contents_is_consumed_not_fatal() {
    let mut qos2 = bytes_of(&publish("t", QoS::AtLeastOnce, 5, b"abc"));
    qos2[0] = 0x34; // QoS 2
    let mut bad_topic = bytes_of(&publish("tt", QoS::AtLeastOnce, 6, b"abc"));
    bad_topic[4] = 0xff;
    let after = publish("t", QoS::AtMostOnce, 0, b"fine");
    let stream = [qos2, bad_topic, bytes_of(&after)].concat();
    for chunk in [1, 3, stream.len()] {
        let (packets, _) = decode_in_chunks(&stream, chunk);
        assert_eq!(
            packets,
            [
                Incoming::Malformed(Malformed {
                    ack: None,
                    why: "QoS 2 PUBLISH"
                }),
                Incoming::Malformed(Malformed {
                    ack: Some(6),
                    why: "PUBLISH topic not UTF-8"
                }),
                Incoming::Publish(after.clone()),
            ]
        );
    }
}

#[test]
fn broken_framing_and_huge_control_packets_are_errors() {
    let mut d = Decoder::new();
    let mut buf = BytesMut::from(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01][..]);
    assert_eq!(d.decode(&mut buf, &limit), Err(WireError::BadLength));
    let mut buf = BytesMut::from(&[0x90, 0x80, 0x80, 0x08][..]);
    assert!(matches!(
        Decoder::new().decode(&mut buf, &limit),
        Err(WireError::ControlTooLarge { packet_type: 9, .. })
    ));
    // A topic longer than the packet.
    let mut buf = BytesMut::from(&[0x30, 3, 0, 9, b'a'][..]);
    assert_eq!(
        Decoder::new().decode(&mut buf, &limit),
        Err(WireError::Malformed("PUBLISH"))
    );
}

#[test]
fn wanted_hints_at_a_whole_packet_only_within_its_limit() {
    let d = Decoder::new();
    let ok = bytes_of(&publish("big/x", QoS::AtLeastOnce, 1, &[0; 50_000]));
    assert_eq!(d.wanted(&ok[..20], &limit), ok.len() - 20);
    let over = bytes_of(&publish("small", QoS::AtLeastOnce, 1, &[0; 50_000]));
    assert_eq!(d.wanted(&over[..20], &limit), 0);
}

proptest! {
    /// Whatever the broker sends, the decoder returns or errs, never
    /// panics, and never holds more than it was given.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut d = Decoder::new();
        let mut buf = BytesMut::from(&bytes[..]);
        for _ in 0..64 {
            match d.decode(&mut buf, &limit) {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
        let _ = d.wanted(&buf, &limit);
    }

    /// A stream of packets decodes to the same packets however it is cut.
    #[test]
    fn any_cut_gives_the_same_packets(
        sizes in proptest::collection::vec(0usize..1500, 1..6),
        chunk in 1usize..700,
    ) {
        let mut stream = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let p = publish("t/x", QoS::AtLeastOnce, i as u16 + 1, &vec![i as u8; *n]);
            encode_publish(&p, &mut stream);
            stream.extend_from_slice(&[0xD0, 0]);
        }
        let (whole, _) = decode_in_chunks(&stream, stream.len());
        let (cut, _) = decode_in_chunks(&stream, chunk);
        prop_assert_eq!(whole.len(), sizes.len() * 2);
        prop_assert_eq!(whole, cut);
    }
}
