//! The detection engine: rules and incidents together, sentences and ticks
//! in, alert messages and segment states out. Pure: no I/O, no clock.

use std::sync::Arc;

use crate::config::Config;
use crate::evidence::Evidence;
use crate::incident::fusion::Fusion;
use crate::incident::{FusionStats, IncidentBook, Output, Timing};
use crate::layout::Layout;
use crate::rules::{Finding, Reject, Rules, SeqStats};
use crate::sentence::Sentence;
use crate::time::Timestamp;
use crate::wall::Wall;

/// Rules and incidents for one configuration.
#[derive(Debug)]
pub struct Engine {
    rules: Rules,
    book: IncidentBook,
}

impl Engine {
    /// An engine for a validated config; deadlines count from `started`.
    pub fn new(config: &Config, wall: Arc<Wall>, started: Timestamp, id_prefix: &str) -> Self {
        let layout = Arc::new(Layout::new(config, &wall));
        let timing = Timing {
            quiet_period: config.detection.quiet_period,
            min_update_interval: config.detection.min_update_interval,
        };
        Self {
            rules: Rules::new(layout.clone(), started),
            book: IncidentBook::new(
                wall,
                layout,
                timing,
                Fusion::new(&config.detection.fusion),
                &config.instance,
                id_prefix,
            ),
        }
    }

    /// The segment states to publish at start-up.
    pub fn start(&mut self, now: Timestamp) -> Vec<Output> {
        self.book.initial_states(now)
    }

    /// Applies a sentence received at `now`.
    pub fn on_sentence(&mut self, s: &Sentence, now: Timestamp) -> Result<Vec<Output>, Reject> {
        let findings = self.rules.on_sentence(s, now)?;
        Ok(findings
            .into_iter()
            .flat_map(|f| self.book.on_finding(f, now))
            .collect())
    }

    /// Applies evidence found elsewhere (a camera) at `now`.
    pub fn on_evidence(&mut self, evidence: Evidence, now: Timestamp) -> Vec<Output> {
        self.book.on_finding(Finding::Intrusion(evidence), now)
    }

    /// A camera's scene lost its contrast (`low`) or got it back.
    pub fn on_camera_contrast(&mut self, camera: &str, low: bool, now: Timestamp) -> Vec<Output> {
        self.book.on_camera_contrast(camera, low, now)
    }

    /// An operator's acknowledgement; `None` if no open incident has `id`.
    pub fn on_ack(&mut self, id: &str, by: &str, now: Timestamp) -> Option<Vec<Output>> {
        self.book.on_ack(id, by, now)
    }

    /// Deadlines, due updates and clears at `now`.
    pub fn on_tick(&mut self, now: Timestamp) -> Vec<Output> {
        let mut out: Vec<Output> = self
            .rules
            .on_tick(now)
            .into_iter()
            .flat_map(|f| self.book.on_finding(f, now))
            .collect();
        out.extend(self.book.on_tick(now));
        out
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
