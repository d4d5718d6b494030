//! The publisher's bookkeeping, without I/O: which alert messages wait to
//! be handed to the MQTT client, which packet id each got, and which the
//! broker acknowledged; plus the latest retained state of every segment.
//!
//! - **Order.** Alerts are handed in the order they were committed, at most
//!   `window` unacknowledged at a time, and only while connected.
//! - **Packet ids.** The client assigns a packet id when it takes a
//!   request off its queue, in queue order, and reports it as an outgoing
//!   publish. Every QoS 1 publication goes through this book (alerts
//!   *tracked*, states and presence *untracked*), so the n-th new packet id
//!   belongs to the n-th publication handed. A packet id already in flight
//!   is a retransmission after a reconnection.
//! - **Acknowledgement.** A PUBACK for a tracked packet id delivers its
//!   message: the caller marks it delivered in the store.
//! - **Memory.** Messages committed to the store need not stay in memory:
//!   beyond `memory` of them, the rest are left in the store and read back
//!   when the queue runs low ([`Delivery::reload_from`]). At start-up the
//!   store's outbox is read first. Messages the store could not take
//!   (`seq: None`) exist only here: at `memory_only` of them the book
//!   accepts no more input, which makes the sink, then the engine, wait.
//! - **States** are coalesced per topic: only the latest is published;
//!   after a session the broker did not keep, all are published again.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use bytes::Bytes;

/// One alert message on its way to the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Its sequence number in the store; `None` if the store could not
    /// take it.
    pub seq: Option<i64>,
    pub topic: String,
    pub payload: Bytes,
}

/// Bounds of the book.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Tracked publications handed but not acknowledged.
    pub window: usize,
    /// Stored messages kept in memory.
    pub memory: usize,
    /// Messages that exist only in memory.
    pub memory_only: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            window: 64,
            memory: 4096,
            memory_only: 10_000,
        }
    }
}

/// What the book has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub handed: u64,
    pub delivered: u64,
    /// Publications the client sent again with their packet id after a
    /// reconnection.
    pub retransmitted: u64,
    /// Packet ids reported with nothing handed (should not happen).
    pub unmatched: u64,
    /// Messages read back from the store.
    pub reloaded: u64,
}

/// The book.
#[derive(Debug)]
pub struct Delivery {
    limits: Limits,
    queue: VecDeque<Outgoing>,
    /// Handed, not acknowledged, by local number.
    awaiting: BTreeMap<u64, Outgoing>,
    next_local: u64,
    /// Handed publications waiting for their packet id, in order; `None`
    /// for untracked ones.
    handed: VecDeque<Option<u64>>,
    /// Packet id → local number (`None`: untracked).
    inflight: HashMap<u16, Option<u64>>,
    states: BTreeMap<String, Bytes>,
    dirty: BTreeSet<String>,
    connected: bool,
    /// The store holds undelivered messages after this sequence number
    /// that are not in memory.
    spilled_after: Option<i64>,
    /// The highest sequence number taken into memory.
    max_seq: i64,
    memory_only: usize,
    delivered: Vec<Outgoing>,
    stats: DeliveryStats,
}

impl Delivery {
    /// A book; with `store_backlog`, the store's outbox is read first.
    pub fn new(limits: Limits, store_backlog: bool) -> Self {
        Self {
            limits,
            queue: VecDeque::new(),
            awaiting: BTreeMap::new(),
            next_local: 0,
            handed: VecDeque::new(),
            inflight: HashMap::new(),
            states: BTreeMap::new(),
            dirty: BTreeSet::new(),
            connected: false,
            spilled_after: store_backlog.then_some(0),
            max_seq: 0,
            memory_only: 0,
            delivered: Vec::new(),
            stats: DeliveryStats::default(),
        }
    }

    /// Takes a new alert message from the sink.
    pub fn push(&mut self, m: Outgoing) {
        match m.seq {
            None => {
                self.memory_only += 1;
                self.queue.push_back(m);
            }
            // Already in memory (read back from the store first).
            Some(seq) if seq <= self.max_seq => {}
            // The store has it; it is read back in order.
            Some(_) if self.spilled_after.is_some() => {}
            Some(seq) => {
                if self.queue.len() + self.awaiting.len() >= self.limits.memory {
                    self.spilled_after = Some(self.max_seq);
                } else {
                    self.max_seq = seq;
                    self.queue.push_back(m);
                }
            }
        }
    }

    /// Whether the sink may hand over more.
    pub fn accepts_input(&self) -> bool {
        self.memory_only < self.limits.memory_only
    }

    /// If messages wait in the store and there is room, read back those
    /// after this sequence number.
    pub fn reload_from(&self) -> Option<i64> {
        self.spilled_after
            .filter(|_| self.queue.len() < self.limits.memory / 2)
    }

    /// How many to read back at a time.
    pub fn reload_batch(&self) -> usize {
        (self.limits.memory / 2).max(1)
    }

    /// Messages read back from the store after [`Self::reload_from`]; fewer
    /// than [`Self::reload_batch`] means the store has no more.
    pub fn reloaded(&mut self, rows: Vec<Outgoing>) {
        let complete = rows.len() < self.reload_batch();
        for m in rows {
            let Some(seq) = m.seq else { continue };
            if seq > self.max_seq {
                self.max_seq = seq;
                self.queue.push_back(m);
                self.stats.reloaded += 1;
            }
        }
        self.spilled_after = if complete { None } else { Some(self.max_seq) };
    }

    /// The next alert to hand to the client, if the window allows.
    pub fn next_alert(&self) -> Option<&Outgoing> {
        if self.connected && self.awaiting.len() < self.limits.window {
            self.queue.front()
        } else {
            None
        }
    }

    /// The client took [`Self::next_alert`].
    pub fn alert_handed(&mut self) {
        if let Some(m) = self.queue.pop_front() {
            let local = self.next_local;
            self.next_local += 1;
            self.awaiting.insert(local, m);
            self.handed.push_back(Some(local));
            self.stats.handed += 1;
        }
    }

    /// Records the latest retained state of a topic.
    pub fn set_state(&mut self, topic: String, payload: Bytes) {
        self.dirty.insert(topic.clone());
        self.states.insert(topic, payload);
    }

    /// The next state to publish, while connected.
    pub fn next_state(&self) -> Option<(&str, &Bytes)> {
        if !self.connected {
            return None;
        }
        let topic = self.dirty.first()?;
        self.states.get(topic).map(|p| (topic.as_str(), p))
    }

    /// The client took the state of `topic`.
    pub fn state_handed(&mut self, topic: &str) {
        self.dirty.remove(topic);
        self.handed.push_back(None);
    }

    /// The client took another QoS 1 publication (presence, health).
    pub fn untracked_handed(&mut self) {
        self.handed.push_back(None);
    }

    /// The client sent a publication with this packet id.
    pub fn on_outgoing_publish(&mut self, pkid: u16) {
        if pkid == 0 {
            return; // QoS 0
        }
        if self.inflight.contains_key(&pkid) {
            self.stats.retransmitted += 1;
            return;
        }
        match self.handed.pop_front() {
            Some(local) => {
                self.inflight.insert(pkid, local);
            }
            None => self.stats.unmatched += 1,
        }
    }

    /// The broker acknowledged this packet id.
    pub fn on_puback(&mut self, pkid: u16) {
        if let Some(Some(local)) = self.inflight.remove(&pkid) {
            if let Some(m) = self.awaiting.remove(&local) {
                if m.seq.is_none() {
                    self.memory_only -= 1;
                }
                self.stats.delivered += 1;
                self.delivered.push(m);
            }
        }
    }

    /// Messages delivered since the last call.
    pub fn take_delivered(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.delivered)
    }

    /// Connected. Without a resumed session the broker may have lost the
    /// retained states: all are published again.
    pub fn on_connected(&mut self, session_present: bool) {
        self.connected = true;
        if !session_present {
            self.dirty.extend(self.states.keys().cloned());
        }
    }

    /// The connection was lost. The client keeps what it took and sends it
    /// again after reconnecting.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Nothing left to deliver (states aside).
    pub fn is_drained(&self) -> bool {
        self.queue.is_empty() && self.awaiting.is_empty() && self.spilled_after.is_none()
    }

    /// Alert messages in memory not acknowledged yet, and whether more wait
    /// in the store.
    pub fn backlog(&self) -> (usize, bool) {
        (
            self.queue.len() + self.awaiting.len(),
            self.spilled_after.is_some(),
        )
    }

    /// Messages that exist only in memory.
    pub fn memory_only(&self) -> usize {
        self.memory_only
    }

    /// Untracked publications not acknowledged yet (for the last presence).
    pub fn untracked_outstanding(&self) -> usize {
        self.handed.iter().filter(|h| h.is_none()).count()
            + self.inflight.values().filter(|v| v.is_none()).count()
    }

    pub fn stats(&self) -> DeliveryStats {
        self.stats
    }
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
