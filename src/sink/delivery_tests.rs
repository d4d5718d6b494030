//! The publisher's book, driven through the event sequences rumqttc
//! produces: in-order handing, packet ids, acknowledgements, reconnections,
//! spilling to the store and reading back.

use super::*;

fn msg(seq: i64) -> Outgoing {
    Outgoing {
        seq: Some(seq),
        topic: format!("rampart/v1/alert/S{seq:03}"),
        payload: Bytes::from(format!("alert {seq}")),
    }
}

fn memory_only(n: u8) -> Outgoing {
    Outgoing {
        seq: None,
        topic: "rampart/v1/alert/S001".into(),
        payload: Bytes::from(vec![n]),
    }
}

/// Hands everything the window allows; returns the payloads handed.
fn hand_all(d: &mut Delivery) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let Some(m) = d.next_alert() {
        out.push(m.payload.clone());
        d.alert_handed();
    }
    out
}

fn seqs(ms: &[Outgoing]) -> Vec<Option<i64>> {
    ms.iter().map(|m| m.seq).collect()
}

fn limits(window: usize, memory: usize, memory_only: usize) -> Limits {
    Limits {
        window,
        memory,
        memory_only,
    }
}

#[test]
fn alerts_are_handed_in_order_within_the_window_and_delivered_by_packet_id() {
    let mut d = Delivery::new(limits(2, 100, 100), false);
    for s in 1..=3 {
        d.push(msg(s));
    }
    assert!(
        hand_all(&mut d).is_empty(),
        "nothing is handed before connecting"
    );
    d.on_connected(false);
    assert_eq!(hand_all(&mut d), [msg(1).payload, msg(2).payload]);
    d.on_outgoing_publish(7);
    d.on_outgoing_publish(8);
    // Acknowledged out of order: each by its own packet id.
    d.on_puback(8);
    assert_eq!(seqs(&d.take_delivered()), [Some(2)]);
    assert_eq!(hand_all(&mut d), [msg(3).payload]);
    d.on_outgoing_publish(9);
    d.on_puback(7);
    d.on_puback(9);
    assert_eq!(seqs(&d.take_delivered()), [Some(1), Some(3)]);
    assert!(d.is_drained());
    assert_eq!(d.stats().delivered, 3);
}

#[test]
fn untracked_publications_keep_packet_ids_matched_to_the_right_alert() {
    let mut d = Delivery::new(limits(8, 100, 100), false);
    d.on_connected(true);
    d.untracked_handed(); // the `online` presence
    d.push(msg(1));
    hand_all(&mut d);
    d.set_state("seg/S001".into(), Bytes::from_static(b"quiet"));
    let (topic, _) = d.next_state().unwrap();
    let topic = topic.to_owned();
    d.state_handed(&topic);
    d.push(msg(2));
    hand_all(&mut d);
    for pkid in 1..=4 {
        d.on_outgoing_publish(pkid);
    }
    assert_eq!(d.untracked_outstanding(), 2);
    // Packet 3 is the state: acknowledging it delivers no alert.
    d.on_puback(3);
    d.on_puback(1);
    assert!(d.take_delivered().is_empty());
    d.on_puback(4);
    assert_eq!(seqs(&d.take_delivered()), [Some(2)]);
    d.on_puback(2);
    assert_eq!(seqs(&d.take_delivered()), [Some(1)]);
    assert_eq!(d.untracked_outstanding(), 0);
}

#[test]
fn after_a_reconnection_retransmissions_keep_their_packet_id_and_new_ones_follow() {
    let mut d = Delivery::new(limits(8, 100, 100), false);
    d.on_connected(false);
    for s in 1..=3 {
        d.push(msg(s));
    }
    hand_all(&mut d);
    // Only the first two got packet ids before the connection dropped.
    d.on_outgoing_publish(1);
    d.on_outgoing_publish(2);
    d.on_disconnected();
    assert!(d.next_alert().is_none());
    d.push(msg(4));
    d.on_connected(false);
    // The client sends 1 and 2 again, then the third with a new id.
    d.on_outgoing_publish(1);
    d.on_outgoing_publish(2);
    d.on_outgoing_publish(3);
    assert_eq!(d.stats().retransmitted, 2);
    hand_all(&mut d);
    d.on_outgoing_publish(4);
    for pkid in [3, 1, 4, 2] {
        d.on_puback(pkid);
    }
    assert_eq!(
        seqs(&d.take_delivered()),
        [Some(3), Some(1), Some(4), Some(2)]
    );
    assert!(d.is_drained());
}

#[test]
fn the_store_backlog_is_read_first_and_new_messages_are_not_taken_twice() {
    let mut d = Delivery::new(limits(8, 10, 100), true);
    assert_eq!(d.reload_from(), Some(0));
    // The sink commits 3 while the backlog 1..=2 is being read.
    d.push(msg(3));
    d.reloaded(vec![msg(1), msg(2), msg(3)]);
    assert_eq!(d.reload_from(), None, "fewer than a batch: caught up");
    d.push(msg(3));
    d.push(msg(4));
    d.on_connected(true);
    let handed = hand_all(&mut d);
    assert_eq!(
        handed,
        [
            msg(1).payload,
            msg(2).payload,
            msg(3).payload,
            msg(4).payload
        ]
    );
    assert_eq!(d.stats().reloaded, 3);
}

#[test]
fn beyond_its_memory_the_book_leaves_messages_in_the_store_and_reads_them_back() {
    let mut d = Delivery::new(limits(2, 4, 100), false);
    for s in 1..=10 {
        d.push(msg(s));
    }
    assert_eq!(d.backlog(), (4, true));
    assert_eq!(d.reload_from(), None, "the queue is not low yet");
    d.on_connected(true);
    hand_all(&mut d);
    d.on_outgoing_publish(1);
    d.on_outgoing_publish(2);
    d.on_puback(1);
    d.on_puback(2);
    hand_all(&mut d);
    // 3 and 4 are handed, none queued: time to read the store.
    assert_eq!(d.reload_from(), Some(4));
    // The store answers with a full batch (2): there may be more.
    d.reloaded(vec![msg(5), msg(6)]);
    assert!(d.backlog().1);
    d.reloaded(vec![msg(7)]);
    assert!(!d.backlog().1, "a short batch: caught up");
    let mut delivered = seqs(&d.take_delivered());
    for pkid in 3..=20 {
        hand_all(&mut d);
        d.on_outgoing_publish(pkid);
        d.on_puback(pkid);
        delivered.extend(seqs(&d.take_delivered()));
    }
    assert_eq!(
        delivered,
        (1..=7).map(Some).collect::<Vec<_>>(),
        "in commit order, none twice"
    );
}

#[test]
fn messages_only_in_memory_are_capped_and_the_cap_makes_the_sink_wait() {
    let mut d = Delivery::new(limits(1, 100, 2), false);
    d.push(memory_only(1));
    assert!(d.accepts_input());
    d.push(memory_only(2));
    assert!(!d.accepts_input());
    assert_eq!(d.memory_only(), 2);
    d.on_connected(true);
    hand_all(&mut d);
    d.on_outgoing_publish(1);
    d.on_puback(1);
    assert!(d.accepts_input());
    assert_eq!(d.take_delivered()[0].payload, Bytes::from_static(&[1]));
}

#[test]
fn states_are_coalesced_and_all_published_again_after_a_lost_session() {
    let mut d = Delivery::new(Limits::default(), false);
    d.set_state("a".into(), Bytes::from_static(b"1"));
    d.set_state("a".into(), Bytes::from_static(b"2"));
    d.set_state("b".into(), Bytes::from_static(b"3"));
    assert!(d.next_state().is_none(), "not while disconnected");
    d.on_connected(true);
    let mut sent = Vec::new();
    while let Some((t, p)) = d.next_state() {
        let t = t.to_owned();
        sent.push((t.clone(), p.clone()));
        d.state_handed(&t);
    }
    assert_eq!(
        sent,
        [
            ("a".to_owned(), Bytes::from_static(b"2")),
            ("b".to_owned(), Bytes::from_static(b"3"))
        ]
    );
    d.on_disconnected();
    d.on_connected(true);
    assert!(d.next_state().is_none(), "a resumed session keeps them");
    d.on_disconnected();
    d.on_connected(false);
    assert_eq!(d.next_state().map(|(t, _)| t.to_owned()), Some("a".into()));
}
