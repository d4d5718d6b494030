//! First detection rules: pure functions of a device's recent readings and
//! the thresholds from the layout, turning sentences into [`Finding`]s.
//!
//! - Fence zone: a reading is a hit when RMS or peak is at or above its
//!   threshold; `k` hits among the last `n` readings of that zone make
//!   intrusion evidence (again for every further reading while it holds).
//! - Geophone: a PPV at or above threshold is intrusion evidence.
//! - Break-beam: the change from intact to broken is intrusion evidence (a
//!   beam that stays broken is reported once, not with every heartbeat).
//! - `TP`: tamper (or its `CLEAR`).
//! - `HB`: the device's health, `OK` or `FAULT`.
//! - Silence: a device not heard from within its heartbeat deadline (counted
//!   from start-up for a device never heard) is offline until it speaks again.

use std::collections::HashMap;
use std::sync::Arc;

use crate::evidence::{Evidence, EvidenceKind};
use crate::layout::{DeviceKind, DeviceSpec, Layout};
use crate::sentence::{Body, Health, Sentence, TamperKind};
use crate::time::Timestamp;

/// What the rules conclude from one sentence or one tick.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// Evidence of someone at the wall.
    Intrusion(Evidence),
    /// The controller reports tampering (`kind` is never `Clear` here).
    Tamper {
        device: String,
        kind: TamperKind,
        evidence: Evidence,
    },
    /// The controller reports its tamper condition is over.
    TamperCleared { device: String, at: Timestamp },
    /// A heartbeat said `FAULT`.
    Fault { device: String, evidence: Evidence },
    /// A heartbeat said `OK` again after a fault.
    FaultCleared { device: String, at: Timestamp },
    /// The device has been silent past its deadline.
    Offline { device: String, evidence: Evidence },
    /// An offline device spoke again.
    Online { device: String, at: Timestamp },
}

/// Why a well-formed sentence could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("device `{0}` is not in the configuration")]
    UnknownDevice(String),
    #[error("device `{device}` has no configured {what} {number}")]
    UnknownChannel {
        device: String,
        what: &'static str,
        number: u16,
    },
    #[error(
        "device `{device}` sent a {kind} sentence, which a {device_kind} controller does not send"
    )]
    WrongKind {
        device: String,
        kind: &'static str,
        device_kind: &'static str,
    },
}

impl Reject {
    /// A short, stable name for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            Reject::UnknownDevice(_) => "unknown_device",
            Reject::UnknownChannel { .. } => "unknown_channel",
            Reject::WrongKind { .. } => "wrong_sentence_for_device",
        }
    }
}

/// Counts the rules keep (plain numbers: the core does not know about metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqStats {
    /// Sentences missing according to sequence gaps.
    pub lost: u64,
    /// Sentences whose seq was not newer than the previous one (device
    /// restart or duplicate).
    pub out_of_order: u64,
}

/// The k-of-n window of one fence zone: bit i set = reading i ago was a hit.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    hits: u64,
}

impl Window {
    /// Records a reading; returns how many of the last `n` were hits.
    fn push(&mut self, hit: bool, n: u32) -> u32 {
        let mask = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        self.hits = ((self.hits << 1) | u64::from(hit)) & mask;
        self.hits.count_ones()
    }
}

#[derive(Debug, Default)]
struct DeviceState {
    last_heard: Option<Timestamp>,
    last_seq: Option<u32>,
    seq: SeqStats,
    offline: bool,
    fault: bool,
    windows: HashMap<u16, Window>,
    beams: HashMap<u16, bool>,
}

/// The rules' state for every device.
#[derive(Debug)]
pub struct Rules {
    layout: Arc<Layout>,
    started: Timestamp,
    devices: HashMap<String, DeviceState>,
}

impl Rules {
    /// Rules for `layout`, with deadlines counted from `started`.
    pub fn new(layout: Arc<Layout>, started: Timestamp) -> Self {
        Self {
            layout,
            started,
            devices: HashMap::new(),
        }
    }

    /// Sequence counters so far, per device heard from.
    pub fn seq_stats(&self) -> impl Iterator<Item = (&str, SeqStats)> {
        self.devices.iter().map(|(id, d)| (id.as_str(), d.seq))
    }

    /// Applies one sentence received at `now`.
    pub fn on_sentence(&mut self, s: &Sentence, now: Timestamp) -> Result<Vec<Finding>, Reject> {
        let spec = self
            .layout
            .device(&s.device)
            .ok_or_else(|| Reject::UnknownDevice(s.device.clone()))?;
        // Check the sentence fits the device before touching any state.
        let evidence = evaluate_shape(spec, &s.body)?;
        let state = self.devices.entry(s.device.clone()).or_default();
        count_seq(&mut state.seq, state.last_seq, s.seq);
        state.last_seq = Some(s.seq);
        state.last_heard = Some(now);
        let mut out = Vec::new();
        if state.offline {
            state.offline = false;
            out.push(Finding::Online {
                device: s.device.clone(),
                at: now,
            });
        }
        match (&s.body, evidence) {
            (
                Body::Fence {
                    zone,
                    rms_mg,
                    peak_mg,
                },
                Shape::Zone(z),
            ) => {
                let t = z.thresholds;
                let hit = *rms_mg >= t.rms_mg || *peak_mg >= t.peak_mg;
                let hits = state.windows.entry(*zone).or_default().push(hit, t.n);
                if hit && hits >= t.k {
                    let (value, threshold, what) = if rms_mg / t.rms_mg >= peak_mg / t.peak_mg {
                        (*rms_mg, t.rms_mg, "rms")
                    } else {
                        (*peak_mg, t.peak_mg, "peak")
                    };
                    out.push(Finding::Intrusion(Evidence {
                        sensor: format!("{}/zone{zone}", s.device),
                        kind: EvidenceKind::Fence,
                        at: now,
                        chainage_m: z.middle_m(),
                        value,
                        threshold,
                        detail: format!(
                            "{what} {value} mg over {threshold}; {hits} of last {} readings over",
                            t.n
                        ),
                        camera: None,
                    }));
                }
            }
            (Body::Ground { channel, ppv_um_s }, Shape::Geophone(g)) if *ppv_um_s >= g.ppv_um_s => {
                out.push(Finding::Intrusion(Evidence {
                    sensor: format!("{}/geo{channel}", s.device),
                    kind: EvidenceKind::Ground,
                    at: now,
                    chainage_m: g.at_m,
                    value: *ppv_um_s,
                    threshold: g.ppv_um_s,
                    detail: format!("ppv {ppv_um_s} um/s over {}", g.ppv_um_s),
                    camera: None,
                }));
            }
            (Body::Beam { channel, broken }, Shape::Beam(at_m)) => {
                let was_broken = state.beams.insert(*channel, *broken).unwrap_or(false);
                if *broken && !was_broken {
                    out.push(Finding::Intrusion(Evidence {
                        sensor: format!("{}/beam{channel}", s.device),
                        kind: EvidenceKind::Beam,
                        at: now,
                        chainage_m: at_m,
                        value: 1.0,
                        threshold: 1.0,
                        detail: "beam broken".into(),
                        camera: None,
                    }));
                }
            }
            (Body::Tamper { kind }, _) => out.push(match kind {
                TamperKind::Clear => Finding::TamperCleared {
                    device: s.device.clone(),
                    at: now,
                },
                kind => Finding::Tamper {
                    device: s.device.clone(),
                    kind: *kind,
                    evidence: device_evidence(spec, EvidenceKind::Tamper, now, kind.as_str()),
                },
            }),
            (Body::Heartbeat { status, uptime_s }, _) => match status {
                Health::Fault => {
                    state.fault = true;
                    let detail = format!("heartbeat reports FAULT (uptime {uptime_s} s)");
                    out.push(Finding::Fault {
                        device: s.device.clone(),
                        evidence: device_evidence(spec, EvidenceKind::Heartbeat, now, &detail),
                    });
                }
                Health::Ok if state.fault => {
                    state.fault = false;
                    out.push(Finding::FaultCleared {
                        device: s.device.clone(),
                        at: now,
                    });
                }
                Health::Ok => {}
            },
            // evaluate_shape pairs every body with its shape.
            _ => {}
        }
        Ok(out)
    }

    /// Checks heartbeat deadlines at `now`.
    pub fn on_tick(&mut self, now: Timestamp) -> Vec<Finding> {
        let mut out = Vec::new();
        for spec in self.layout.devices() {
            let state = self.devices.entry(spec.id.clone()).or_default();
            let since = state.last_heard.unwrap_or(self.started);
            if !state.offline && now.since(since) >= spec.heartbeat_deadline {
                state.offline = true;
                let detail = match state.last_heard {
                    Some(t) => format!("silent since {t}"),
                    None => "not heard from since start-up".into(),
                };
                out.push(Finding::Offline {
                    device: spec.id.clone(),
                    evidence: device_evidence(spec, EvidenceKind::Heartbeat, now, &detail),
                });
            }
        }
        out
    }
}

/// Where on the device a sentence's reading belongs.
enum Shape<'a> {
    Zone(&'a crate::layout::ZoneSpec),
    Geophone(crate::layout::GeophoneSpec),
    Beam(f64),
    Device,
}

fn evaluate_shape<'a>(spec: &'a DeviceSpec, body: &Body) -> Result<Shape<'a>, Reject> {
    let unknown = |what, number| Reject::UnknownChannel {
        device: spec.id.clone(),
        what,
        number,
    };
    let wrong = |kind, device_kind| Reject::WrongKind {
        device: spec.id.clone(),
        kind,
        device_kind,
    };
    match (body, &spec.kind) {
        (Body::Fence { zone, .. }, DeviceKind::Fence { zones }) => zones
            .get(zone)
            .map(Shape::Zone)
            .ok_or_else(|| unknown("zone", *zone)),
        (Body::Ground { channel, .. }, DeviceKind::Trench { geophones, .. }) => geophones
            .get(channel)
            .map(|g| Shape::Geophone(*g))
            .ok_or_else(|| unknown("geophone channel", *channel)),
        (Body::Beam { channel, .. }, DeviceKind::Trench { beams, .. }) => beams
            .get(channel)
            .map(|at| Shape::Beam(*at))
            .ok_or_else(|| unknown("beam channel", *channel)),
        (Body::Fence { .. }, DeviceKind::Trench { .. }) => Err(wrong("FZ", "trench")),
        (Body::Ground { .. }, DeviceKind::Fence { .. }) => Err(wrong("GS", "fence")),
        (Body::Beam { .. }, DeviceKind::Fence { .. }) => Err(wrong("BK", "fence")),
        (Body::Heartbeat { .. } | Body::Tamper { .. }, _) => Ok(Shape::Device),
    }
}

fn count_seq(stats: &mut SeqStats, last: Option<u32>, seq: u32) {
    let Some(last) = last else { return };
    // RFC 1982 style: the distance forward from `last`, modulo 2^32.
    let forward = seq.wrapping_sub(last);
    if forward == 0 || forward > u32::MAX / 2 {
        stats.out_of_order += 1;
    } else {
        stats.lost += u64::from(forward - 1);
    }
}

fn device_evidence(
    spec: &DeviceSpec,
    kind: EvidenceKind,
    now: Timestamp,
    detail: &str,
) -> Evidence {
    Evidence {
        sensor: spec.id.clone(),
        kind,
        at: now,
        chainage_m: spec.location_m,
        value: 1.0,
        threshold: 1.0,
        detail: detail.to_owned(),
        camera: None,
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
