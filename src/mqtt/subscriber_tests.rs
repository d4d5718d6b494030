//! The input connection against a scripted broker on loopback (the real
//! broker is Mosquitto, in the integration tests).

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::mqtt::wire::{encode_publish, Publish};

/// One packet from the client: its type and body.
async fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let first = s.read_u8().await.ok()?;
    let mut len = 0usize;
    for i in 0..4 {
        let b = s.read_u8().await.ok()?;
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.ok()?;
    Some((first >> 4, body))
}

/// The next packet of `kind`, skipping pings.
async fn expect(s: &mut TcpStream, kind: u8) -> Vec<u8> {
    loop {
        let (t, body) = tokio::time::timeout(Duration::from_secs(5), read_packet(s))
            .await
            .expect("a packet within 5 s")
            .expect("the client's connection open");
        if t == kind {
            return body;
        }
        assert_eq!(t, 12, "unexpected packet type {t}");
    }
}

fn options(port: u16, keep_alive: Duration) -> SubscriberOptions {
    SubscriberOptions {
        client_id: "it-in".into(),
        host: "127.0.0.1".into(),
        port,
        keep_alive,
        credentials: None,
        tls: None,
        subscriptions: vec![("rampart/v1/sensor/+".into(), QoS::AtLeastOnce)],
    }
}

/// A broker that accepts one client and answers its CONNECT with `code`.
async fn broker(code: u8) -> (u16, tokio::task::JoinHandle<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let connect = expect(&mut s, 1).await;
        // Protocol MQTT 3.1.1, clean session off, client id it-in.
        assert_eq!(&connect[..7], b"\0\x04MQTT\x04");
        assert_eq!(connect[7] & 0x02, 0, "persistent session");
        assert_eq!(&connect[10..], b"\0\x05it-in");
        s.write_all(&[0x20, 2, 1, code]).await.unwrap();
        s
    });
    (port, task)
}

fn publish_bytes(pkid: u16, payload_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    encode_publish(
        &Publish {
            topic: "rampart/v1/sensor/fence-a".into(),
            qos: QoS::AtLeastOnce,
            dup: pkid == 5,
            retain: false,
            pkid,
            payload: Bytes::from(vec![b'x'; payload_len]),
        },
        &mut out,
    );
    out
}

#[tokio::test]
async fn messages_come_in_oversized_ones_unread_and_acks_go_out_when_handed_back() {
    let (port, broker) = broker(0).await;
    let mut conn = Connection::connect(&options(port, Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(conn.session_present);
    let mut s = broker.await.unwrap();
    let subscribe = expect(&mut s, 8).await;
    assert!(subscribe.ends_with(b"rampart/v1/sensor/+\x01"));
    s.write_all(&[0x90, 3, 0, 1, 1]).await.unwrap();
    let stream = [
        publish_bytes(5, 10),
        publish_bytes(6, 3 << 20),
        publish_bytes(7, 10),
    ]
    .concat();
    let writer = tokio::spawn(async move {
        s.write_all(&stream).await.unwrap();
        s
    });
    let limit = |_: &str| 1000;
    assert!(matches!(
        conn.next(&limit).await.unwrap(),
        Incoming::SubAck { pkid: 1, .. }
    ));
    let Incoming::Publish(first) = conn.next(&limit).await.unwrap() else {
        panic!("a publish")
    };
    assert_eq!((first.pkid, first.dup, first.payload.len()), (5, true, 10));
    let Incoming::Oversized(big) = conn.next(&limit).await.unwrap() else {
        panic!("the oversized message")
    };
    assert_eq!((big.pkid, big.payload_len), (6, 3 << 20));
    let Incoming::Publish(third) = conn.next(&limit).await.unwrap() else {
        panic!("a publish after the oversized one")
    };
    assert_eq!(third.pkid, 7);
    assert!(
        conn.buf.capacity() < 1 << 20,
        "{} bytes of buffer for a 3 MiB message",
        conn.buf.capacity()
    );
    let mut s = writer.await.unwrap();
    // Acknowledged in the order handed back: 7 first, then 6 and 5.
    conn.token(7).ack();
    conn.ack(6);
    conn.token(5).ack();
    let mut acked = Vec::new();
    while acked.len() < 3 {
        let body = expect(&mut s, 4).await;
        acked.push(u16::from_be_bytes([body[0], body[1]]));
    }
    assert_eq!(acked, [7, 6, 5]);
    assert_eq!(conn.acks_sent(), 3);
}

#[tokio::test]
async fn pings_go_out_while_nobody_reads_and_the_closer_still_acknowledges() {
    let (port, broker) = broker(0).await;
    let conn = Connection::connect(&options(port, Duration::from_secs(1)))
        .await
        .unwrap();
    let token = conn.token(9);
    let mut s = broker.await.unwrap();
    expect(&mut s, 8).await;
    // Nobody calls next(): the writer pings every half keep-alive anyway.
    let started = Instant::now();
    for _ in 0..2 {
        let (t, _) = tokio::time::timeout(Duration::from_secs(3), read_packet(&mut s))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t, 12, "PINGREQ");
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // Reading stops; the acknowledgement handed back later still goes
    // out, then DISCONNECT, then the connection closes.
    let closer = conn.into_closer();
    assert!(token.ack());
    closer.close(Duration::from_secs(2)).await;
    assert_eq!(expect(&mut s, 4).await, [0, 9]);
    expect(&mut s, 14).await;
    assert!(
        read_packet(&mut s).await.is_none(),
        "closed after DISCONNECT"
    );
}

#[tokio::test]
async fn a_refusal_is_explained_and_a_silent_broker_is_noticed() {
    let (port, refusing) = broker(5).await;
    let refused = Connection::connect(&options(port, Duration::from_secs(30))).await;
    assert!(
        matches!(refused, Err(SubscribeError::Refused(why)) if why.contains("not authorised")),
        "{:?}",
        refused.err()
    );
    drop(refusing.await);

    // A broker that stops answering (pings unanswered) is given up after
    // one and a half keep-alives.
    let (port, silent) = broker(0).await;
    let mut conn = Connection::connect(&options(port, Duration::from_secs(1)))
        .await
        .unwrap();
    let _silent = silent.await.unwrap();
    let started = Instant::now();
    let err = conn.next(&|_: &str| 1000).await.unwrap_err();
    assert!(matches!(err, SubscribeError::Silent(_)), "{err}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    // Its tokens are worth nothing now: the broker sends those again.
    let token = conn.token(3);
    drop(conn);
    assert!(!token.ack());
}
