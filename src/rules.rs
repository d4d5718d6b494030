//! First detection rules: pure functions of a device's recent readings and
//! the thresholds from the layout, turning sentences into [`Finding`]s.
//!
//! - Fence zone: a reading is a hit when RMS or peak is at or above its
//!   threshold; `k` hits among the last `n` readings of that zone make
//!   intrusion evidence (again for every further reading while it holds).
//! - Wind: each zone's RMS and peak are smoothed; when enough zones of one
//!   controller are stirred together (see [`WindConfig`]) it is wind, and
//!   until the zones have been calm for `hold` every zone's thresholds are
//!   at least `factor` times the controller's median smoothed level. A zone
//!   shaking well above its neighbours (someone climbing in a storm) still
//!   makes evidence; the others do not.
//! - Geophone: a PPV at or above threshold is intrusion evidence.
//! - Break-beam: the change from intact to broken is intrusion evidence (a
//!   beam that stays broken is reported once, not with every heartbeat).
//! - `TP`: tamper (or its `CLEAR`).
//! - `HB`: the device's health, `OK` or `FAULT`.
//! - Silence: a device not heard from within its heartbeat deadline (counted
//!   from start-up for a device never heard) is offline until it speaks again.
//! - After a restart, a device the previous run left offline or faulty is
//!   believed so ([`Rules::carry_over`]) until it speaks or reports `OK`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::WindConfig;
use crate::evidence::{Evidence, EvidenceKind};
use crate::layout::{DeviceKind, DeviceSpec, Layout, ZoneSpec};
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
    /// A burst of rejected (unauthenticated or replayed) sentences of a
    /// keyed controller: someone else may be speaking for it. Joins the
    /// device's tamper incident.
    Substitution { device: String, evidence: Evidence },
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
    /// Wind on a fence controller began (`on`) or ended; `detail` says how
    /// far its thresholds were raised.
    Wind {
        device: String,
        on: bool,
        detail: String,
        at: Timestamp,
    },
}

/// A device's condition that a previous run of the daemon left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    /// Silent past its deadline.
    Offline,
    /// Its heartbeat said `FAULT`.
    Fault,
}

/// Weight of the newest reading in a zone's smoothed level.
const LEVEL_ALPHA: f64 = 0.3;
/// How far either side of a geophone footsteps are placed, metres.
pub const GEOPHONE_EXTENT_M: f64 = 25.0;

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
    #[error("device `{device}` sent seq {seq}, not newer than its last accepted {last}")]
    ReplayedSeq { device: String, seq: u32, last: u32 },
}

impl Reject {
    /// A short, stable name for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            Reject::UnknownDevice(_) => "unknown_device",
            Reject::UnknownChannel { .. } => "unknown_channel",
            Reject::WrongKind { .. } => "wrong_sentence_for_device",
            Reject::ReplayedSeq { .. } => "replayed_seq",
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

/// A fence zone's smoothed RMS and peak (exponential moving averages,
/// starting from the first reading) and its latest reading.
#[derive(Debug, Clone, Copy, Default)]
struct Level {
    rms_mg: f64,
    peak_mg: f64,
    last_rms_mg: f64,
    last_peak_mg: f64,
}

impl Level {
    fn update(&mut self, rms_mg: f64, peak_mg: f64, first: bool) {
        if first {
            (self.rms_mg, self.peak_mg) = (rms_mg, peak_mg);
        } else {
            self.rms_mg += LEVEL_ALPHA * (rms_mg - self.rms_mg);
            self.peak_mg += LEVEL_ALPHA * (peak_mg - self.peak_mg);
        }
        (self.last_rms_mg, self.last_peak_mg) = (rms_mg, peak_mg);
    }
}

/// Wind on one fence controller.
#[derive(Debug, Clone, Copy)]
struct Wind {
    /// When the zones last looked windy.
    last_windy: Timestamp,
}

#[derive(Debug, Default)]
struct DeviceState {
    last_heard: Option<Timestamp>,
    last_seq: Option<u32>,
    seq: SeqStats,
    offline: bool,
    fault: bool,
    windows: HashMap<u16, Window>,
    levels: HashMap<u16, Level>,
    wind: Option<Wind>,
    beams: HashMap<u16, bool>,
    /// For a device added by a new layout: its deadline counts from here
    /// until it is heard.
    added: Option<Timestamp>,
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

    /// The layout in use.
    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    /// Takes a new layout (another profile's thresholds, or a reloaded
    /// config), keeping what is known of every device still in it: k-of-n
    /// windows, smoothed levels, wind, beam states, when it was last heard,
    /// sequence numbers, offline and fault. The next reading is judged by
    /// the new thresholds. A device new to the layout has its heartbeat
    /// deadline counted from `now`.
    ///
    /// What is known of devices, zones and channels no longer configured is
    /// dropped; the findings returned end what a removed device had open
    /// (tamper, fault, offline, wind), as nothing could end them later.
    /// Wind is ended on every controller when the new layout turns wind
    /// rejection off.
    pub fn set_layout(&mut self, layout: Arc<Layout>, now: Timestamp) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut removed: Vec<String> = self
            .devices
            .keys()
            .filter(|id| layout.device(id).is_none())
            .cloned()
            .collect();
        removed.sort();
        for device in removed {
            let Some(state) = self.devices.remove(&device) else {
                continue;
            };
            out.push(Finding::TamperCleared {
                device: device.clone(),
                at: now,
            });
            if state.fault {
                out.push(Finding::FaultCleared {
                    device: device.clone(),
                    at: now,
                });
            }
            if state.offline {
                out.push(Finding::Online {
                    device: device.clone(),
                    at: now,
                });
            }
            if state.wind.is_some() {
                out.push(Finding::Wind {
                    device,
                    on: false,
                    detail: "controller removed from the configuration".into(),
                    at: now,
                });
            }
        }
        for spec in layout.devices() {
            let known = self.layout.device(&spec.id).is_some();
            let state = self.devices.entry(spec.id.clone()).or_default();
            if !known {
                state.added = Some(now);
            }
            match &spec.kind {
                DeviceKind::Fence { zones } => {
                    state.windows.retain(|z, _| zones.contains_key(z));
                    state.levels.retain(|z, _| zones.contains_key(z));
                    state.beams.clear();
                }
                DeviceKind::Trench { beams, .. } => {
                    state.windows.clear();
                    state.levels.clear();
                    state.beams.retain(|b, _| beams.contains_key(b));
                }
            }
            let wind_off = !layout.wind.enabled || !matches!(spec.kind, DeviceKind::Fence { .. });
            if wind_off && state.wind.take().is_some() {
                out.push(Finding::Wind {
                    device: spec.id.clone(),
                    on: false,
                    detail: "wind rejection turned off".into(),
                    at: now,
                });
            }
        }
        self.layout = layout;
        out
    }

    /// Believes `device` offline or faulty, as a previous run left it (its
    /// incident was resumed), so that its next sentence finds it
    /// [`Finding::Online`] again, its next `OK` heartbeat
    /// [`Finding::FaultCleared`], and it is not found offline or faulty a
    /// second time meanwhile (a further `FAULT` is still found, and joins
    /// the open incident). Nothing happens for a device not in the layout.
    pub fn carry_over(&mut self, device: &str, what: Carried) {
        if self.layout.device(device).is_none() {
            return;
        }
        let state = self.devices.entry(device.to_owned()).or_default();
        match what {
            Carried::Offline => state.offline = true,
            Carried::Fault => state.fault = true,
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
                let DeviceKind::Fence { zones } = &spec.kind else {
                    unreachable!("a zone shape comes from a fence controller")
                };
                let first = !state.levels.contains_key(zone);
                let level = state.levels.entry(*zone).or_default();
                level.update(*rms_mg, *peak_mg, first);
                let wind = &self.layout.wind;
                if let Some(change) = update_wind(state, zones, wind, &s.device, now) {
                    out.push(change);
                }
                let (t, raised) = effective_thresholds(state, zones, z, wind);
                let hit = *rms_mg >= t.rms_mg || *peak_mg >= t.peak_mg;
                let hits = state.windows.entry(*zone).or_default().push(hit, t.n);
                if hit && hits >= t.k {
                    let (value, threshold, what) = if rms_mg / t.rms_mg >= peak_mg / t.peak_mg {
                        (*rms_mg, t.rms_mg, "rms")
                    } else {
                        (*peak_mg, t.peak_mg, "peak")
                    };
                    let windy = if raised { " (raised for wind)" } else { "" };
                    out.push(Finding::Intrusion(Evidence {
                        sensor: format!("{}/zone{zone}", s.device),
                        kind: EvidenceKind::Fence,
                        at: now,
                        chainage_m: z.middle_m(),
                        extent_m: (z.end_m - z.start_m) / 2.0,
                        value,
                        threshold: threshold.round(),
                        detail: format!(
                            "{what} {value} mg over {:.0}{windy}; {hits} of last {} readings over",
                            threshold, t.n
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
                    extent_m: GEOPHONE_EXTENT_M,
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
                        extent_m: 0.0,
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
            let since = state.last_heard.or(state.added).unwrap_or(self.started);
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

/// Turns a fence controller's wind on or off from its zones' smoothed levels.
fn update_wind(
    state: &mut DeviceState,
    zones: &HashMap<u16, ZoneSpec>,
    cfg: &WindConfig,
    device: &str,
    now: Timestamp,
) -> Option<Finding> {
    if !cfg.enabled {
        return None;
    }
    let stirred = zones
        .iter()
        .filter(|(n, z)| {
            state
                .levels
                .get(n)
                .is_some_and(|l| l.rms_mg >= cfg.stir_fraction * z.thresholds.rms_mg)
        })
        .count();
    let needed =
        (cfg.min_zones as usize).max((cfg.min_fraction * zones.len() as f64).ceil() as usize);
    let windy = stirred >= needed;
    match (&mut state.wind, windy) {
        (Some(w), true) => {
            w.last_windy = now;
            None
        }
        (None, true) => {
            state.wind = Some(Wind { last_windy: now });
            let (rms, peak) = median_levels(state, zones, |l| (l.rms_mg, l.peak_mg));
            Some(Finding::Wind {
                device: device.to_owned(),
                on: true,
                detail: format!(
                    "{stirred} of {} zones stirred (median {rms:.0} mg rms, {peak:.0} mg peak); \
                     thresholds raised to {:.1}x that",
                    zones.len(),
                    cfg.factor
                ),
                at: now,
            })
        }
        (Some(w), false) if now.since(w.last_windy) >= cfg.hold => {
            state.wind = None;
            Some(Finding::Wind {
                device: device.to_owned(),
                on: false,
                detail: format!("calm for {}", humantime::format_duration(cfg.hold)),
                at: now,
            })
        }
        _ => None,
    }
}

/// The median over a controller's zones of an RMS and a peak picked from
/// each zone's level (a zone not heard yet counts as 0).
fn median_levels(
    state: &DeviceState,
    zones: &HashMap<u16, ZoneSpec>,
    pick: impl Fn(&Level) -> (f64, f64),
) -> (f64, f64) {
    let mut rms: Vec<f64> = Vec::with_capacity(zones.len());
    let mut peak: Vec<f64> = Vec::with_capacity(zones.len());
    for n in zones.keys() {
        let (r, p) = pick(&state.levels.get(n).copied().unwrap_or_default());
        rms.push(r);
        peak.push(p);
    }
    (median(&mut rms), median(&mut peak))
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

/// A zone's thresholds now: its configured ones, raised while it is windy
/// to `factor` times the zones' median level — the smoothed or the latest
/// readings', whichever is higher, so a gust raises them at once. The flag
/// says whether wind raised them.
fn effective_thresholds(
    state: &DeviceState,
    zones: &HashMap<u16, ZoneSpec>,
    zone: &ZoneSpec,
    cfg: &WindConfig,
) -> (crate::config::FenceThresholds, bool) {
    let mut t = zone.thresholds;
    if state.wind.is_none() {
        return (t, false);
    }
    let (smooth_rms, smooth_peak) = median_levels(state, zones, |l| (l.rms_mg, l.peak_mg));
    let (last_rms, last_peak) = median_levels(state, zones, |l| (l.last_rms_mg, l.last_peak_mg));
    let raised_rms = cfg.factor * smooth_rms.max(last_rms);
    let raised_peak = cfg.factor * smooth_peak.max(last_peak);
    let raised = raised_rms > t.rms_mg || raised_peak > t.peak_mg;
    t.rms_mg = t.rms_mg.max(raised_rms);
    t.peak_mg = t.peak_mg.max(raised_peak);
    (t, raised)
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

/// Device-level evidence (tamper, offline, fault) placed at the device.
pub fn device_evidence(
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
        extent_m: 0.0,
        value: 1.0,
        threshold: 1.0,
        detail: detail.to_owned(),
        camera: None,
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
