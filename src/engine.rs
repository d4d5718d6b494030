//! The detection engine: rules and incidents together, sentences and ticks
//! in, alert messages and segment states out. Pure: no I/O, no clock.
//!
//! The engine also follows the active threshold profile: each tick it asks
//! the config which profile applies at that time ([`Config::active_profile`])
//! and, when that changed, re-resolves the layout's thresholds and hands the
//! new layout to the rules, which keep all their state. The change is kept
//! for the daemon to log ([`Engine::take_profile_change`]) and to pass on
//! to the cameras ([`Engine::camera_settings`]). [`Engine::reconfigure`]
//! takes a whole new config in the same way (hot reload).
//!
//! For keyed devices (`[auth]`) the engine refuses a sentence whose seq is
//! not newer than the device's last accepted one (`replayed_seq`), whatever
//! source it came on, and turns a burst of authentication rejections into
//! one tamper incident (see [`crate::auth::seq`]). The last accepted seqs
//! are handed out for saving ([`Engine::take_seq_changes`]) and taken back
//! after a restart ([`Engine::restore_seqs`]).
//!
//! After a restart, [`Engine::resume`] adopts the incidents the previous
//! run left open, so that they continue with their ids and revisions and
//! each clears by its own rule — a suspected substitution too.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::alert::{AlertKind, AlertMessage};
use crate::auth::seq::{OpenTamper, SeqGuard, Suspected, Suspicion, SuspicionConfig};
use crate::camera::CameraSettings;
use crate::config::Config;
use crate::evidence::Evidence;
use crate::evidence::EvidenceKind;
use crate::incident::fusion::Fusion;
use crate::incident::{FusionStats, IncidentBook, Output, ResumeReport, Timing};
use crate::layout::Layout;
use crate::redelivery::{Redeliveries, Seen};
use crate::rules::{device_evidence, Carried, Finding, Reject, Rules, SeqStats};
use crate::sentence::{Body, Sentence, TamperKind};
use crate::time::Timestamp;
use crate::wall::Wall;

/// The active profile changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChange {
    /// The profile before (`None`: the defaults).
    pub from: Option<String>,
    /// The profile now (`None`: the defaults).
    pub to: Option<String>,
    /// When the engine noticed.
    pub at: Timestamp,
}

impl fmt::Display for ProfileChange {
    /// `default → night`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |p: &Option<String>| p.clone().unwrap_or_else(|| "default".into());
        write!(f, "{} → {}", name(&self.from), name(&self.to))
    }
}

/// Why [`Engine::reconfigure`] refused a config: what it changes needs a
/// restart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconfigureError {
    #[error("`{0}` changed; restart the daemon to apply it")]
    NeedsRestart(&'static str),
}

/// Rules and incidents for one configuration.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    wall: Arc<Wall>,
    /// The layout in use, resolved for `profile`. The rules hold the same
    /// one.
    layout: Arc<Layout>,
    /// The active profile (`None`: the defaults).
    profile: Option<String>,
    /// The last profile change not yet taken by the daemon.
    profile_change: Option<ProfileChange>,
    rules: Rules,
    /// The book uses its layout for places only (which segments a device or
    /// camera covers), never for thresholds: a profile change leaves it as
    /// it is.
    book: IncidentBook,
    /// The last accepted seq of every keyed device.
    seqs: SeqGuard,
    /// Bursts of authentication rejections.
    suspicion: Suspicion,
    /// Sentences accepted recently, to recognise their redeliveries.
    redeliveries: Redeliveries,
}

/// How a sentence arrived: what the engine needs to recognise it when it
/// comes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// When it was received.
    pub at: Timestamp,
    /// Its bytes' digest ([`crate::redelivery::digest`]).
    pub digest: u64,
    pub delivery: Delivery,
}

/// Whether a sentence's transport may deliver it more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A serial line: nothing is ever sent twice, so the same bytes again
    /// are a replay.
    Once,
    /// MQTT, at least once; `flagged` when the broker marked the message
    /// as sent before (DUP).
    AtLeastOnce { flagged: bool },
}

/// What became of a sentence the engine took.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Acted on; what it produced.
    Accepted(Vec<Output>),
    /// Already acted on: a redelivery, dropped.
    Duplicate,
}

impl Engine {
    /// An engine for a validated config; deadlines count from `started`, and
    /// the profile active at `started` applies from the start.
    pub fn new(config: &Config, wall: Arc<Wall>, started: Timestamp, id_prefix: &str) -> Self {
        let profile = config.active_profile(started).map(str::to_owned);
        let layout = Arc::new(Layout::with_profile(config, &wall, profile.as_deref()));
        Self {
            rules: Rules::new(layout.clone(), started),
            book: IncidentBook::new(
                wall.clone(),
                layout.clone(),
                timing(config),
                Fusion::new(&config.detection.fusion),
                &config.instance,
                id_prefix,
            ),
            config: config.clone(),
            wall,
            layout,
            profile,
            profile_change: None,
            seqs: SeqGuard::default(),
            suspicion: Suspicion::new(suspicion_config(config)),
            redeliveries: Redeliveries::default(),
        }
    }

    /// Takes the sentences a previous run saved as accepted (call before
    /// the first sentence), so their redeliveries are recognised.
    pub fn restore_seen(&mut self, saved: impl IntoIterator<Item = (String, Seen)>) {
        self.redeliveries.restore(saved);
    }

    /// The sentences accepted since the last call: what to save.
    pub fn take_seen(&mut self) -> Vec<(std::sync::Arc<str>, Seen)> {
        self.redeliveries.take_new()
    }

    /// Whether sentences were accepted (or keyed seqs moved) since the
    /// last [`Engine::take_seen`].
    pub fn has_unsaved(&self) -> bool {
        self.redeliveries.has_new()
    }

    /// Takes the last accepted seqs a previous run saved (call before the
    /// first sentence).
    pub fn restore_seqs(&mut self, saved: impl IntoIterator<Item = (String, u32)>) {
        self.seqs.restore(saved);
    }

    /// The keyed devices whose last accepted seq changed since the last
    /// call, with it: what to save.
    pub fn take_seq_changes(&mut self) -> Vec<(String, u32)> {
        self.seqs.take_changes()
    }

    /// A sentence of `device` was rejected for `reason` at `now` (by a
    /// source's MAC check, or by this engine's seq check). For a keyed
    /// device an authentication reason counts towards suspected
    /// substitution; anything else is ignored here.
    pub fn on_auth_rejection(&mut self, device: &str, reason: &str, now: Timestamp) -> Vec<Output> {
        let reason: &'static str = match reason {
            "missing_mac" => "missing_mac",
            "bad_mac" => "bad_mac",
            "replayed_seq" => "replayed_seq",
            _ => return Vec::new(),
        };
        if self.config.auth.keys.get(device).is_none() {
            return Vec::new();
        }
        match self.suspicion.on_reject(device, reason, now) {
            Some(s) => self.apply_suspected(vec![s], now),
            None => Vec::new(),
        }
    }

    fn apply_suspected(&mut self, list: Vec<Suspected>, now: Timestamp) -> Vec<Output> {
        let findings = list
            .into_iter()
            .filter_map(|s| match s {
                Suspected::Report { device, detail } => {
                    let spec = self.layout.device(&device)?;
                    Some(Finding::Substitution {
                        evidence: device_evidence(spec, EvidenceKind::Tamper, now, &detail),
                        device,
                    })
                }
                Suspected::Over { device } => Some(Finding::TamperCleared { device, at: now }),
            })
            .collect();
        self.apply(findings, now)
    }

    /// Adopts the incidents a previous run left open, from the latest
    /// published message of each (as the alert store keeps them), at `now`.
    /// Call it after [`Engine::new`] and before [`Engine::start`], whose
    /// initial segment states then show them. Publishes nothing.
    ///
    /// Restored: each incident's id, rev, kind, segment, chainage, sensors,
    /// evidence trail and total, first and last seen, priority,
    /// confidence, summary and acknowledgement. Its next message carries
    /// the same id and rev + 1 (`updated` or `cleared`, never `raised`).
    ///
    /// - An intrusion joins new evidence nearby like any open incident and
    ///   clears `quiet_period` after its last evidence or `now`, whichever
    ///   is later (evidence may have been missed while the daemon was
    ///   down). Its sensors' fusion strengths are approximated from the
    ///   evidence trail (threshold strength for a sensor whose evidence
    ///   has left it); the published priority and confidence are kept as a
    ///   floor.
    /// - The device of an offline incident is believed offline: its
    ///   segments are `degraded`, the incident clears when the device
    ///   speaks, and it is not raised again while the device stays silent.
    ///   Likewise a fault clears on the device's `OK` heartbeat; it is not
    ///   raised twice.
    /// - A tamper is read from its evidence ([`OpenTamper`]). The device's
    ///   own tamper (`TP CUT` and the like) clears on its `CLEAR`, never by
    ///   time. A suspected substitution is carried on as if rejected at
    ///   `now`: it clears `clear_after` later without another rejection, or
    ///   at the device's `CLEAR`, and further rejections update it with the
    ///   count carried on. Both joined in one incident: it stays open until
    ///   the `CLEAR`.
    ///
    /// Not restored: the rules' state (k-of-n windows, wind, beams, last
    /// heard — deadlines count from [`Engine::new`]'s `started`), held
    /// evidence, animals seen, a camera's low contrast, and what the wire
    /// does not carry (see [`IncidentBook::resume`]). Messages that cannot
    /// be adopted are skipped, with the reason in the report: not open, an
    /// unconfigured device, a segment or chainage off the wall, and the
    /// like; of several messages with one id the highest rev is adopted.
    /// New incidents get ids from this run's prefix as always.
    pub fn resume(&mut self, open: Vec<AlertMessage>, now: Timestamp) -> ResumeReport {
        // What each tamper message says was open, by id and rev (the book
        // takes the messages).
        let mut tampers: HashMap<(String, u32), OpenTamper> = open
            .iter()
            .filter(|m| m.kind == AlertKind::Tamper)
            .map(|m| {
                let details = m.evidence.iter().map(|e| e.detail.as_str());
                ((m.id.clone(), m.rev), OpenTamper::from_details(details))
            })
            .collect();
        let report = self.book.resume(open, now);
        for r in &report.resumed {
            let Some(device) = &r.device else { continue };
            match r.kind {
                AlertKind::SensorOffline => self.rules.carry_over(device, Carried::Offline),
                AlertKind::SensorFault => self.rules.carry_over(device, Carried::Fault),
                AlertKind::Tamper => {
                    // The suspicion follows a keyed device's own tamper
                    // (its `CLEAR` only reaches it for a keyed device).
                    let keyed = self.config.auth.keys.get(device).is_some();
                    match tampers.remove(&(r.id.clone(), r.rev)) {
                        Some(t) if keyed || t.suspicion.is_some() => {
                            self.suspicion.resume(device, t, now)
                        }
                        _ => {}
                    }
                }
                AlertKind::Intrusion => {}
            }
        }
        report
    }

    /// The segment states to publish at start-up.
    pub fn start(&mut self, now: Timestamp) -> Vec<Output> {
        self.book.initial_states(now)
    }

    /// Applies a sentence received at `now`.
    ///
    /// A keyed device's sentence must be newer than its last accepted one
    /// ([`Reject::ReplayedSeq`]); its MAC was checked by the source.
    pub fn on_sentence(&mut self, s: &Sentence, now: Timestamp) -> Result<Vec<Output>, Reject> {
        self.check_seq(s)?;
        self.apply_sentence(s, now)
    }

    /// Takes a sentence as it arrived: over MQTT, a redelivery of one
    /// accepted before (same device, seq and bytes; see
    /// [`crate::redelivery`]) is dropped first, so it is never judged a
    /// replay; then as [`Engine::on_sentence`].
    pub fn on_arrival(&mut self, s: &Sentence, arrival: Arrival) -> Result<Verdict, Reject> {
        let Arrival {
            at,
            digest,
            delivery,
        } = arrival;
        // Only configured devices are remembered: a flood of made-up ids
        // costs nothing (the rules refuse their sentences).
        let known = self.layout.device(&s.device).is_some();
        if let Delivery::AtLeastOnce { flagged } = delivery {
            let remembered = known
                && self
                    .redeliveries
                    .is_redelivery(&s.device, s.seq, digest, flagged, at);
            // A keyed controller's seq only grows, the broker delivers a
            // device's messages in order and flags only what it sent this
            // daemon before (a publisher cannot set DUP on that leg): an
            // authentic flagged sentence that is not newer than the last
            // taken came before it, and was handled then, however long
            // ago — even out of the window.
            let keyed_and_older = flagged
                && self.config.auth.keys.get(&s.device).is_some()
                && self.seqs.check(&s.device, s.seq).is_err();
            if remembered || keyed_and_older {
                return Ok(Verdict::Duplicate);
            }
        }
        self.check_seq(s)?;
        if known {
            self.redeliveries.accept(&s.device, s.seq, digest, at);
        }
        self.apply_sentence(s, at).map(Verdict::Accepted)
    }

    /// The replay check of a keyed device's sentence; takes its seq.
    fn check_seq(&mut self, s: &Sentence) -> Result<(), Reject> {
        if self.config.auth.keys.get(&s.device).is_some() {
            if let Err(last) = self.seqs.check(&s.device, s.seq) {
                return Err(Reject::ReplayedSeq {
                    device: s.device.clone(),
                    seq: s.seq,
                    last,
                });
            }
            // Authentic and fresh: taken even if the rules refuse it.
            self.seqs.accept(&s.device, s.seq);
            if let Body::Tamper { kind } = s.body {
                self.suspicion
                    .on_device_tamper(&s.device, kind != TamperKind::Clear);
            }
        }
        Ok(())
    }

    fn apply_sentence(&mut self, s: &Sentence, now: Timestamp) -> Result<Vec<Output>, Reject> {
        let findings = self.rules.on_sentence(s, now)?;
        Ok(self.apply(findings, now))
    }

    /// Applies evidence found elsewhere (a camera) at `now`.
    pub fn on_evidence(&mut self, evidence: Evidence, now: Timestamp) -> Vec<Output> {
        self.book.on_finding(Finding::Intrusion(evidence), now)
    }

    /// A camera saw animals at these chainages at `now`: weak evidence there
    /// needs more to be raised for a while.
    pub fn on_animals(&mut self, chainages_m: &[f64], now: Timestamp) {
        self.book.on_animals(chainages_m, now);
    }

    /// A camera's scene lost its contrast (`low`) or got it back.
    pub fn on_camera_contrast(&mut self, camera: &str, low: bool, now: Timestamp) -> Vec<Output> {
        self.book.on_camera_contrast(camera, low, now)
    }

    /// An operator's acknowledgement; `None` if no open incident has `id`.
    pub fn on_ack(&mut self, id: &str, by: &str, now: Timestamp) -> Option<Vec<Output>> {
        self.book.on_ack(id, by, now)
    }

    /// Switches to the profile active at `now` if it changed (see
    /// [`Engine::take_profile_change`]), then deadlines, due updates and
    /// clears at `now`.
    pub fn on_tick(&mut self, now: Timestamp) -> Vec<Output> {
        let active = self.config.active_profile(now).map(str::to_owned);
        if active != self.profile {
            let layout = Arc::new(self.layout.reprofiled(&self.config, active.as_deref()));
            self.switch(layout, active, now);
        }
        let findings = self.rules.on_tick(now);
        let mut out = self.apply(findings, now);
        let suspected = self.suspicion.on_tick(now);
        out.extend(self.apply_suspected(suspected, now));
        out.extend(self.book.on_tick(now));
        out
    }

    /// The active profile (`None`: the defaults).
    pub fn active_profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The last change of the active profile since this was last called,
    /// by a tick or by [`Engine::reconfigure`]. When it is `Some`, the
    /// daemon logs it and gives every camera its new settings
    /// ([`Engine::camera_settings`]).
    pub fn take_profile_change(&mut self) -> Option<ProfileChange> {
        self.profile_change.take()
    }

    /// The config in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The layout in use (thresholds of the active profile).
    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    /// Every camera's settings under the active profile, in `[[camera]]`
    /// order, for `CameraPipeline::new` or `CameraPipeline::reconfigure`.
    pub fn camera_settings(&self) -> Vec<CameraSettings> {
        let profile = self.active_profile();
        self.config
            .camera
            .iter()
            .enumerate()
            .map(|(i, cam)| CameraSettings::resolve(cam, &self.config.camera_thermal(i, profile)))
            .collect()
    }

    /// Takes a new validated config (hot reload) at `now`: new layout,
    /// thresholds, heartbeat deadlines, wind settings, profiles and
    /// schedule, with the profile active at `now`. The rules keep their
    /// state for every device still configured (k-of-n windows, last heard,
    /// offline, wind); open incidents stay open. Incidents of controllers no
    /// longer configured are cleared (returned as outputs). A change of the
    /// active profile is reported by [`Engine::take_profile_change`].
    ///
    /// Incident timing (`quiet_period`, `min_update_interval`), fusion
    /// settings and the places of added devices and cameras go to the
    /// incident book; segments newly covered get their initial state.
    ///
    /// # Errors
    ///
    /// [`ReconfigureError::NeedsRestart`] if the new config has another
    /// `wall`, `segment_length_m` or `instance`; nothing is changed then.
    pub fn reconfigure(
        &mut self,
        config: &Config,
        now: Timestamp,
    ) -> Result<Vec<Output>, ReconfigureError> {
        if config.wall != self.config.wall {
            return Err(ReconfigureError::NeedsRestart("wall"));
        }
        if config.segment_length_m != self.config.segment_length_m {
            return Err(ReconfigureError::NeedsRestart("segment_length_m"));
        }
        if config.instance != self.config.instance {
            return Err(ReconfigureError::NeedsRestart("instance"));
        }
        // New keys apply here at once (the seq check) and in the sources
        // before their next message (the caller swaps `Shared::keys`).
        self.suspicion.set_config(suspicion_config(config));
        // Cameras no longer configured: end their low-contrast marks.
        let gone: Vec<String> = self
            .config
            .camera
            .iter()
            .filter(|old| !config.camera.iter().any(|c| c.id == old.id))
            .map(|c| c.id.clone())
            .collect();
        let active = config.active_profile(now).map(str::to_owned);
        let layout = Arc::new(Layout::with_profile(config, &self.wall, active.as_deref()));
        self.config = config.clone();
        let mut out = self.switch(layout, active, now);
        for camera in gone {
            out.extend(self.book.on_camera_contrast(&camera, false, now));
        }
        // After the findings above, which needed the old layout to find the
        // segments of removed devices and cameras.
        self.book.reconfigure(
            self.layout.clone(),
            timing(config),
            Fusion::new(&config.detection.fusion),
        );
        out.extend(self.book.segment_changes(now));
        Ok(out)
    }

    /// Hands `layout` (resolved for `profile`) to the rules, applies the
    /// findings that ends, and records a profile change.
    fn switch(
        &mut self,
        layout: Arc<Layout>,
        profile: Option<String>,
        now: Timestamp,
    ) -> Vec<Output> {
        let findings = self.rules.set_layout(layout.clone(), now);
        self.layout = layout;
        if profile != self.profile {
            let from = std::mem::replace(&mut self.profile, profile.clone());
            self.profile_change = Some(ProfileChange {
                from,
                to: profile,
                at: now,
            });
        }
        self.apply(findings, now)
    }

    fn apply(&mut self, findings: Vec<Finding>, now: Timestamp) -> Vec<Output> {
        findings
            .into_iter()
            .flat_map(|f| self.book.on_finding(f, now))
            .collect()
    }

    /// Sequence-number counters per device.
    pub fn seq_stats(&self) -> impl Iterator<Item = (&str, SeqStats)> {
        self.rules.seq_stats()
    }

    /// What fusion has done so far.
    pub fn fusion_stats(&self) -> FusionStats {
        self.book.fusion_stats()
    }

    /// Open incidents.
    pub fn open_incidents(&self) -> usize {
        self.book.open_count()
    }
}

fn suspicion_config(config: &Config) -> SuspicionConfig {
    SuspicionConfig {
        burst_count: config.auth.burst_count,
        burst_window: config.auth.burst_window,
        clear_after: config.auth.clear_after,
        update_interval: config.detection.min_update_interval,
    }
}

fn timing(config: &Config) -> Timing {
    Timing {
        quiet_period: config.detection.quiet_period,
        min_update_interval: config.detection.min_update_interval,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
