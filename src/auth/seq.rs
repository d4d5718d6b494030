//! The stateful half of sentence authentication, pure (time passed in):
//!
//! - [`SeqGuard`]: the last accepted sequence number of every keyed device.
//!   A sentence is newer when its distance forward from the last, modulo
//!   2^32, is 1 to 2^31 − 1 (RFC 1982 serial-number arithmetic, so
//!   4294967295 → 0 is newer). The half-way distance 2^31, which RFC 1982
//!   leaves undefined, is refused, like equal and older numbers. A device
//!   never accepted before (no stored number) is accepted at any seq.
//! - [`Suspicion`]: counts the authentication rejections of each keyed
//!   device; a burst (`burst_count` within `burst_window`) makes
//!   substitution suspected, and the engine raises one tamper incident. It
//!   is reported again (an update) at most every `update_interval` while
//!   rejections keep coming, and is over after `clear_after` without any
//!   rejection — or at the device's authenticated `CLEAR`. While the device
//!   itself reports a tamper, the incident stays open until its `CLEAR`.
//! - [`OpenTamper`]: after a restart, what a resumed tamper incident's
//!   evidence says was open — the device's own tamper, a suspicion (with its
//!   count), or both — for [`Suspicion::resume`] to carry on. The detail of
//!   every suspicion report is written (and read back) here, so the two
//!   cannot drift apart.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::time::Timestamp;

/// True when `seq` is newer than `last` (RFC 1982; the half-way case is not).
pub fn is_newer(seq: u32, last: u32) -> bool {
    let forward = seq.wrapping_sub(last);
    forward != 0 && forward < 1 << 31
}

/// The last accepted seq of each keyed device, and which changed since
/// they were last saved.
#[derive(Debug, Default)]
pub struct SeqGuard {
    last: BTreeMap<String, u32>,
    changed: BTreeSet<String>,
}

impl SeqGuard {
    /// Takes the numbers a previous run saved (not marked changed).
    pub fn restore(&mut self, saved: impl IntoIterator<Item = (String, u32)>) {
        self.last.extend(saved);
    }

    /// `Err(last)` when `seq` is not newer than `device`'s last accepted.
    pub fn check(&self, device: &str, seq: u32) -> Result<(), u32> {
        match self.last.get(device) {
            Some(&last) if !is_newer(seq, last) => Err(last),
            _ => Ok(()),
        }
    }

    /// Records `seq` as `device`'s last accepted.
    pub fn accept(&mut self, device: &str, seq: u32) {
        self.last.insert(device.to_owned(), seq);
        self.changed.insert(device.to_owned());
    }

    /// The last accepted seq of `device`.
    pub fn last(&self, device: &str) -> Option<u32> {
        self.last.get(device).copied()
    }

    /// The devices whose number changed since the last call, with it.
    pub fn take_changes(&mut self) -> Vec<(String, u32)> {
        let changed = std::mem::take(&mut self.changed);
        changed
            .into_iter()
            .filter_map(|d| self.last.get(&d).map(|&s| (d, s)))
            .collect()
    }
}

/// When a burst of rejections makes substitution suspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuspicionConfig {
    /// This many rejections of one device ...
    pub burst_count: u32,
    /// ... within this long.
    pub burst_window: Duration,
    /// Over after this long without a rejection.
    pub clear_after: Duration,
    /// At most one update of the count this often.
    pub update_interval: Duration,
}

/// The start of every substitution detail.
const DETAIL_PREFIX: &str = "substitution suspected: ";
/// The end of a substitution detail while the device's own tamper is open
/// (its `CLEAR`, not time, ends their incident): it lets a restart tell the
/// mixed case even when the device's own tamper evidence has left the
/// incident's trail.
const DEVICE_TAMPER_NOTE: &str = " while the controller's own tamper is open";
/// The rejection reasons that count, as they appear in a detail.
const REASONS: [&str; 3] = ["missing_mac", "bad_mac", "replayed_seq"];

/// What the engine is to do about a device's suspicion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suspected {
    /// Raise (or update) the tamper incident with this detail.
    Report { device: String, detail: String },
    /// It is over: clear the device's tamper incident.
    Over { device: String },
}

#[derive(Debug, Default)]
struct Device {
    /// Rejections within the burst window, while not suspected.
    recent: VecDeque<(Timestamp, &'static str)>,
    /// Rejections by reason since the suspicion began.
    reasons: BTreeMap<&'static str, u64>,
    open: bool,
    last_rejected: Option<Timestamp>,
    last_reported: Option<Timestamp>,
    reported_total: u64,
    /// The device itself reported a tamper (`TP` other than `CLEAR`).
    device_tamper: bool,
}

impl Device {
    fn total(&self) -> u64 {
        self.reasons.values().sum()
    }

    fn detail(&self) -> String {
        let reasons: Vec<String> = self
            .reasons
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let note = if self.device_tamper {
            DEVICE_TAMPER_NOTE
        } else {
            ""
        };
        format!(
            "{DETAIL_PREFIX}{} rejected sentences ({}){note}",
            self.total(),
            reasons.join(", ")
        )
    }
}

/// What a substitution detail says: the rejections by reason (as far as
/// they can be read) and whether the device's own tamper was open. `None`
/// when `detail` is not a substitution detail.
fn read_detail(detail: &str) -> Option<(BTreeMap<&'static str, u64>, bool)> {
    let rest = detail.strip_prefix(DETAIL_PREFIX)?;
    let (rest, device_tamper) = match rest.strip_suffix(DEVICE_TAMPER_NOTE) {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let list = rest
        .split_once('(')
        .and_then(|(_, list)| list.strip_suffix(')'))
        .unwrap_or("");
    let reasons = list
        .split(", ")
        .filter_map(|item| {
            let (name, count) = item.rsplit_once(' ')?;
            let name = REASONS.into_iter().find(|r| *r == name)?;
            Some((name, count.parse::<u64>().ok()?))
        })
        .collect();
    Some((reasons, device_tamper))
}

/// A device's tamper incident that a previous run left open, as the
/// evidence of its last message tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenTamper {
    /// The device reported a tamper itself: only its `CLEAR` ends the
    /// incident.
    pub device_tamper: bool,
    /// A substitution was suspected: the rejections by reason so far (from
    /// its latest report).
    pub suspicion: Option<BTreeMap<&'static str, u64>>,
}

impl OpenTamper {
    /// Reads an incident's evidence details, oldest first. A substitution
    /// detail carries the suspicion's count and says whether the device's
    /// own tamper was open; any other detail (`CUT`, `ENCLOSURE`, ...) is
    /// the device's own report. An incident with no substitution detail at
    /// all is the device's own (as every tamper was before substitution
    /// was suspected), so that only its `CLEAR` ends it.
    pub fn from_details<'a>(details: impl IntoIterator<Item = &'a str>) -> Self {
        let mut open = OpenTamper::default();
        for detail in details {
            match read_detail(detail) {
                Some((reasons, device_tamper)) => {
                    open.suspicion = Some(reasons);
                    open.device_tamper |= device_tamper;
                }
                None => open.device_tamper = true,
            }
        }
        if open.suspicion.is_none() {
            open.device_tamper = true;
        }
        open
    }
}

/// The rejections of every keyed device.
#[derive(Debug)]
pub struct Suspicion {
    config: SuspicionConfig,
    devices: BTreeMap<String, Device>,
}

impl Suspicion {
    pub fn new(config: SuspicionConfig) -> Self {
        Self {
            config,
            devices: BTreeMap::new(),
        }
    }

    /// Takes new settings; what is known is kept.
    pub fn set_config(&mut self, config: SuspicionConfig) {
        self.config = config;
    }

    /// A sentence of `device` was rejected for `reason` at `now`.
    pub fn on_reject(
        &mut self,
        device: &str,
        reason: &'static str,
        now: Timestamp,
    ) -> Option<Suspected> {
        let cfg = self.config;
        let d = self.devices.entry(device.to_owned()).or_default();
        d.last_rejected = Some(now);
        if d.open {
            *d.reasons.entry(reason).or_default() += 1;
            return None;
        }
        d.recent.push_back((now, reason));
        while d
            .recent
            .front()
            .is_some_and(|(t, _)| now.since(*t) >= cfg.burst_window)
        {
            d.recent.pop_front();
        }
        if d.recent.len() < cfg.burst_count.max(1) as usize {
            return None;
        }
        d.open = true;
        d.reasons.clear();
        for (_, r) in d.recent.drain(..) {
            *d.reasons.entry(r).or_default() += 1;
        }
        d.last_reported = Some(now);
        d.reported_total = d.total();
        Some(Suspected::Report {
            device: device.to_owned(),
            detail: d.detail(),
        })
    }

    /// The device's own tamper report (`active`) or its `CLEAR` (which ends
    /// a suspicion too: its incident is cleared by the `CLEAR`).
    pub fn on_device_tamper(&mut self, device: &str, active: bool) {
        let d = self.devices.entry(device.to_owned()).or_default();
        d.device_tamper = active;
        if !active {
            *d = Device::default();
        }
    }

    /// Updates due and suspicions over at `now`.
    pub fn on_tick(&mut self, now: Timestamp) -> Vec<Suspected> {
        let cfg = self.config;
        let mut out = Vec::new();
        for (device, d) in &mut self.devices {
            if !d.open {
                continue;
            }
            let quiet = d
                .last_rejected
                .is_none_or(|t| now.since(t) >= cfg.clear_after);
            if quiet {
                let tamper = d.device_tamper;
                *d = Device {
                    device_tamper: tamper,
                    ..Device::default()
                };
                // A tamper the device reported itself stays until its CLEAR.
                if !tamper {
                    out.push(Suspected::Over {
                        device: device.clone(),
                    });
                }
                continue;
            }
            let due = d
                .last_reported
                .is_none_or(|t| now.since(t) >= cfg.update_interval);
            if due && d.total() != d.reported_total {
                d.last_reported = Some(now);
                d.reported_total = d.total();
                out.push(Suspected::Report {
                    device: device.clone(),
                    detail: d.detail(),
                });
            }
        }
        out
    }

    /// Carries on what a previous run left open for `device`, whose tamper
    /// incident was resumed at `now`. A suspicion counts as rejected at
    /// `now` (rejections may have gone unseen while the daemon was down):
    /// it is over after `clear_after` from then without another rejection,
    /// and every further rejection joins it — reported as an update with
    /// the count carried on, never raised again. The device's own tamper
    /// keeps the incident open until its `CLEAR`, as in the run that raised
    /// it.
    pub fn resume(&mut self, device: &str, open: OpenTamper, now: Timestamp) {
        let d = self.devices.entry(device.to_owned()).or_default();
        d.device_tamper = open.device_tamper;
        if let Some(reasons) = open.suspicion {
            d.open = true;
            d.recent.clear();
            d.reasons = reasons;
            d.last_rejected = Some(now);
            d.last_reported = Some(now);
            d.reported_total = d.total();
        }
    }

    /// Forgets devices no longer keyed.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.devices.retain(|d, _| keep(d));
    }
}
