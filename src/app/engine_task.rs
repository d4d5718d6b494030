//! The engine task: the one task that owns the detection engine. Sentences,
//! camera evidence, acknowledgements and reloaded configs come in; alert
//! messages and segment states go out; a tick every [`TICK`] runs deadlines,
//! due updates, clears and the profile schedule, and records the engine's
//! pulse for the systemd watchdog. A new config or profile is swapped in
//! between two inputs, so nothing in flight is lost, and the cameras get
//! their new settings before their next frame.
//!
//! Progress goes to the sink in order with the outputs ([`Progress`]): the
//! sentences accepted, the keyed devices' last seqs and the tokens of the
//! MQTT messages fully handled. It is handed over [`PROGRESS_DELAY`] after
//! the first of it, at once once [`PROGRESS_BATCH`] messages wait, and at
//! each tick; the sink commits it with the alerts before it and only then
//! acknowledges the messages. (Alerts do not wait for it: they go to the
//! sink as soon as they are decided.)

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::TICK;
use crate::auth::Key;
use crate::config::Loaded;
use crate::engine::{Arrival, Engine, Verdict};
use crate::incident::Output;
use crate::ingest::camera::CameraSlot;
use crate::ingest::Inbound;
use crate::mqtt::subscriber::AckToken;
use crate::runtime::Shared;
use crate::sink::{Progress, SinkInput};

/// At most this many MQTT messages wait for their acknowledgement in the
/// engine task before their progress goes to the sink.
pub const PROGRESS_BATCH: usize = 256;
/// At most this long: a few milliseconds more before a message is
/// acknowledged, for one store commit per batch instead of per message.
pub const PROGRESS_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

/// What the engine task talks to besides its input and output.
pub struct EngineLinks {
    /// New validated configs from the reload watcher.
    pub reloads: mpsc::Receiver<Box<Loaded>>,
    /// Each camera's slot, to hand it new settings.
    pub cameras: HashMap<String, Arc<CameraSlot>>,
}

/// The engine task: sentences and ticks in, outputs out.
pub async fn run_engine(
    mut engine: Engine,
    mut rx: mpsc::Receiver<Inbound>,
    links: EngineLinks,
    tx: mpsc::Sender<SinkInput>,
    shared: Arc<Shared>,
) {
    let EngineLinks {
        mut reloads,
        cameras,
    } = links;
    let push_camera_settings = |engine: &Engine| {
        for settings in engine.camera_settings() {
            if let Some(slot) = cameras.get(&settings.id) {
                slot.reconfigure(settings);
            }
        }
    };
    let send_all = |outs: Vec<Output>| {
        let tx = tx.clone();
        async move {
            for o in outs {
                if tx.send(SinkInput::Output(o)).await.is_err() {
                    return false;
                }
            }
            true
        }
    };
    // Hands the sink what the engine has done since the last time.
    let send_progress = |engine: &mut Engine, acks: &mut Vec<_>| {
        let progress = Progress {
            seen: engine.take_seen(),
            seqs: engine.take_seq_changes(),
            acks: std::mem::take(acks),
        };
        let tx = tx.clone();
        async move { progress.is_empty() || tx.send(SinkInput::Progress(progress)).await.is_ok() }
    };
    let mut acks = Vec::new();
    // Per-sentence counts, added to the shared counters with each progress.
    let mut counts = SentenceCounts::default();
    if !send_all(engine.start(shared.clock.now())).await {
        return;
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When the progress waiting now must go to the sink.
    let mut progress_due: Option<tokio::time::Instant> = None;
    loop {
        let mut ticked = false;
        let mut progress_now = false;
        let outs = tokio::select! {
            _ = sleep_until(progress_due) => {
                progress_now = true;
                Vec::new()
            }
            msg = rx.recv() => match msg {
                Some(Inbound::Batch(items)) => {
                    let mut outs = Vec::new();
                    for item in items {
                        outs.extend(handle(&mut engine, item, &shared, &mut counts, &mut acks));
                    }
                    outs
                }
                Some(item) => handle(&mut engine, item, &shared, &mut counts, &mut acks),
                None => break,
            },
            Some(loaded) = reloads.recv() => match engine.reconfigure(&loaded.config, shared.clock.now()) {
                Ok(outs) => {
                    shared.counters.incr("config.reloads");
                    // In the same step as the engine's switch: every later
                    // sentence is judged by the new keys (see above).
                    if shared.keys.replace(loaded.config.auth.keys.clone()) {
                        shared.counters.incr("auth.key_reloads");
                        info!(keyed = loaded.config.auth.keys.devices().count(), "sentence keys replaced");
                    }
                    push_camera_settings(&engine);
                    if let Some(change) = engine.take_profile_change() {
                        info!(%change, "threshold profile changed with the new config");
                    }
                    info!(file = %loaded.path.display(), "new config in use");
                    outs
                }
                Err(e) => {
                    warn!(error = %e, "config reload refused by the engine; the running config stays");
                    continue;
                }
            },
            _ = tick.tick() => {
                ticked = true;
                shared.engine_ticked();
                publish_stats(&engine, &shared);
                let outs = engine.on_tick(shared.clock.now());
                if let Some(change) = engine.take_profile_change() {
                    info!(%change, "threshold profile changed");
                    push_camera_settings(&engine);
                }
                outs
            }
        };
        if !send_all(outs).await {
            counts.add_to(&shared);
            return;
        }
        if ticked || progress_now || acks.len() >= PROGRESS_BATCH {
            counts.add_to(&shared);
            if !send_progress(&mut engine, &mut acks).await {
                return;
            }
            progress_due = None;
        } else if progress_due.is_none() && (!acks.is_empty() || engine.has_unsaved()) {
            progress_due = Some(tokio::time::Instant::now() + PROGRESS_DELAY);
        }
    }
    // Last look at deadlines and pending updates before stopping.
    counts.add_to(&shared);
    let _ = send_all(engine.on_tick(shared.clock.now())).await;
    let _ = send_progress(&mut engine, &mut acks).await;
}

/// What one input does to the engine, and what the engine says.
fn handle(
    engine: &mut Engine,
    inbound: Inbound,
    shared: &Shared,
    counts: &mut SentenceCounts,
    acks: &mut Vec<AckToken>,
) -> Vec<Output> {
    match inbound {
        Inbound::Sentence {
            sentence,
            received,
            source,
            checked_with,
            digest,
            delivery,
        } => {
            counts.sentences += 1;
            crate::failpoint::check("engine", &sentence.device);
            let keyed = engine.config().auth.keys.get(&sentence.device).map(Key::id);
            let arrival = Arrival {
                at: received,
                digest,
                delivery,
            };
            if keyed.is_some() && checked_with != keyed {
                // Checked before a reload replaced the keys: not
                // authenticated under the keys in force now.
                let why = format!(
                    "device `{}`: checked before its key changed; dropped",
                    sentence.device
                );
                shared.reject(&source, "key_changed", &why, b"");
                Vec::new()
            } else {
                match engine.on_arrival(&sentence, arrival) {
                    Ok(Verdict::Accepted(outs)) => {
                        counts.accepted += 1;
                        outs
                    }
                    Ok(Verdict::Duplicate) => {
                        // At-least-once delivery at work: counted, not an error.
                        counts.duplicate += 1;
                        Vec::new()
                    }
                    Err(reject) => {
                        let line = sentence.encode();
                        shared.reject(
                            &source,
                            reject.reason(),
                            &reject.to_string(),
                            line.trim_end().as_bytes(),
                        );
                        engine.on_auth_rejection(&sentence.device, reject.reason(), received)
                    }
                }
            }
        }
        Inbound::Acknowledge(token) => {
            acks.push(token);
            Vec::new()
        }
        Inbound::AuthRejected {
            device,
            reason,
            received,
            checked_with,
        } => {
            if checked_with == engine.config().auth.keys.get(&device).map(Key::id) {
                engine.on_auth_rejection(&device, reason, received)
            } else {
                Vec::new() // judged by keys a reload has replaced
            }
        }
        Inbound::Evidence { evidence, .. } => engine.on_evidence(evidence, shared.clock.now()),
        Inbound::AnimalsSeen {
            chainages_m,
            received,
            ..
        } => {
            engine.on_animals(&chainages_m, received);
            Vec::new()
        }
        Inbound::CameraContrast {
            camera,
            low,
            received,
            ..
        } => {
            shared.counters.incr(if low {
                "cameras.low_contrast"
            } else {
                "cameras.contrast_restored"
            });
            engine.on_camera_contrast(&camera, low, received)
        }
        Inbound::Ack { ack, received } => match engine.on_ack(&ack.id, &ack.by, received) {
            Some(outs) => {
                shared.counters.incr("acks.accepted");
                info!(id = %ack.id, by = %ack.by, "incident acknowledged");
                outs
            }
            None => {
                let why = format!(
                    "no open incident `{}` (acknowledged by `{}`)",
                    ack.id, ack.by
                );
                shared.reject("mqtt:ack", "ack_unknown_incident", &why, b"");
                Vec::new()
            }
        },
        // Batches are taken apart by the caller; none nests.
        Inbound::Batch(items) => items
            .into_iter()
            .flat_map(|item| handle(engine, item, shared, counts, acks))
            .collect(),
    }
}

/// The sentences the engine task saw since they were last counted.
#[derive(Debug, Default)]
struct SentenceCounts {
    sentences: u64,
    accepted: u64,
    duplicate: u64,
}

impl SentenceCounts {
    /// Adds them to the shared counters and starts again from zero.
    fn add_to(&mut self, shared: &Shared) {
        let c = std::mem::take(self);
        for (name, n) in [
            ("engine.sentences", c.sentences),
            ("sentences.accepted", c.accepted),
            ("sentences.duplicate", c.duplicate),
        ] {
            if n > 0 {
                shared.counters.add(name, n);
            }
        }
    }
}

/// Completes at `deadline`, never without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The engine's gauges, as counters.
fn publish_stats(engine: &Engine, shared: &Shared) {
    let (mut lost, mut out_of_order) = (0, 0);
    for (device, seq) in engine.seq_stats() {
        shared.counters.set(&format!("seq.lost.{device}"), seq.lost);
        shared
            .counters
            .set(&format!("seq.out_of_order.{device}"), seq.out_of_order);
        lost += seq.lost;
        out_of_order += seq.out_of_order;
    }
    shared.counters.set("sentences.lost_by_seq_gap", lost);
    shared.counters.set("sentences.out_of_order", out_of_order);
    shared
        .counters
        .set("incidents.open", engine.open_incidents() as u64);
    let fusion = engine.fusion_stats();
    shared.counters.set("fusion.held", fusion.held);
    shared
        .counters
        .set("fusion.held_raised", fusion.held_raised);
    shared
        .counters
        .set("fusion.held_expired", fusion.held_expired);
    shared.counters.set("fusion.moved", fusion.moved);
    shared.counters.set("fusion.joined", fusion.joined);
    shared
        .counters
        .set("fusion.animal_sightings", fusion.animal_sightings);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::alert::{AlertKind, AlertState};
    use crate::runtime::Clock;
    use crate::sentence::{Body, Health, Sentence};

    /// The engine task on the test fixture, with its input, output and the
    /// counters it keeps.
    struct Running {
        shared: Arc<Shared>,
        input: mpsc::Sender<Inbound>,
        output: mpsc::Receiver<SinkInput>,
        task: tokio::task::JoinHandle<()>,
        _reloads: mpsc::Sender<Box<Loaded>>,
    }

    impl Running {
        fn start() -> Self {
            Self::start_keyed(crate::auth::Keys::none())
        }

        /// With these sentence keys in the config and the sources' ring.
        fn start_keyed(keys: crate::auth::Keys) -> Self {
            let (mut config, wall) = crate::testkit::fixture();
            config.auth.keys = Arc::new(keys);
            let shared = Arc::new(Shared::with_keys(Clock::start(), config.auth.keys.clone()));
            let engine = Engine::new(&config, wall, shared.clock.started(), "t");
            let (input, in_rx) = mpsc::channel(16);
            let (out_tx, output) = mpsc::channel(64);
            let (reloads_tx, reloads) = mpsc::channel(1);
            let links = EngineLinks {
                reloads,
                cameras: HashMap::new(),
            };
            let task = tokio::spawn(run_engine(engine, in_rx, links, out_tx, shared.clone()));
            Self {
                shared,
                input,
                output,
                task,
                _reloads: reloads_tx,
            }
        }

        /// Sends `body` from `device` (seq 1), received now.
        async fn send(&self, device: &str, body: Body) {
            self.send_checked(device, 1, body, None).await;
        }

        /// Sends `body` from `device` as a source that checked it with the
        /// key `checked_with`.
        async fn send_checked(
            &self,
            device: &str,
            seq: u32,
            body: Body,
            checked_with: Option<crate::auth::KeyId>,
        ) {
            let sentence = Sentence {
                device: device.into(),
                seq,
                body,
                mac: None,
            };
            let sentence_line = sentence.encode();
            self.input
                .send(Inbound::Sentence {
                    sentence,
                    received: self.shared.clock.now(),
                    source: "test".into(),
                    checked_with,
                    digest: crate::redelivery::digest(sentence_line.as_bytes()),
                    delivery: crate::engine::Delivery::AtLeastOnce { flagged: false },
                })
                .await
                .unwrap();
        }

        async fn next_alert(&mut self) -> crate::alert::AlertMessage {
            loop {
                match self.output.recv().await.expect("engine still running") {
                    SinkInput::Output(Output::Alert(a)) => return a,
                    SinkInput::Output(Output::Segment(..)) | SinkInput::Progress(_) => {}
                }
            }
        }

        /// Closes the input and waits for the task to end.
        async fn stop(self) -> mpsc::Receiver<SinkInput> {
            drop(self.input);
            self.task.await.unwrap();
            self.output
        }
    }

    /// A keyed device's sentence counts only if its source checked it with
    /// the key in force: one checked before a reload changed the keys (or
    /// unsigned, before the device had a key) is dropped.
    #[tokio::test(start_paused = true)]
    async fn a_sentence_checked_with_a_replaced_key_is_dropped() {
        use crate::auth::{Key, Keys};
        let (old, new) = (Key::new([1; 32]), Key::new([2; 32]));
        let mut keys = Keys::none();
        keys.insert("fence-a", new.clone());
        let run = Running::start_keyed(keys);
        let hb = || Body::Heartbeat {
            uptime_s: 1,
            status: Health::Ok,
        };
        run.send_checked("fence-a", 1, hb(), None).await;
        run.send_checked("fence-a", 2, hb(), Some(old.id())).await;
        run.send_checked("fence-a", 3, hb(), Some(new.id())).await;
        // Seq 3 was taken: the same bytes again are a redelivery, other
        // bytes under that seq a replay.
        run.send_checked("fence-a", 3, hb(), Some(new.id())).await;
        let other = Body::Heartbeat {
            uptime_s: 2,
            status: Health::Ok,
        };
        run.send_checked("fence-a", 3, other, Some(new.id())).await;
        // trench-a has no key: taken however it was checked.
        run.send_checked("trench-a", 1, hb(), None).await;
        let shared = run.shared.clone();
        let _ = run.stop().await;
        assert_eq!(shared.counters.get("rejected.key_changed"), 2);
        assert_eq!(shared.counters.get("sentences.duplicate"), 1);
        assert_eq!(shared.counters.get("rejected.replayed_seq"), 1);
        assert_eq!(shared.counters.get("sentences.accepted"), 2);
        assert_eq!(shared.counters.get("engine.sentences"), 6);
    }

    /// Each MQTT message's token reaches the sink after the outputs of its
    /// sentences, in a progress that also carries what was accepted.
    #[tokio::test(start_paused = true)]
    async fn a_messages_token_follows_its_outputs_with_the_sentences_accepted() {
        let mut run = Running::start();
        let (acks, _connection) = crate::mqtt::subscriber::test_tokens(2);
        let cut = Body::Tamper {
            kind: crate::sentence::TamperKind::Cut,
        };
        run.send_checked("fence-a", 7, cut, None).await;
        for token in acks {
            run.input.send(Inbound::Acknowledge(token)).await.unwrap();
        }
        // Progress may come in more than one piece (each within
        // PROGRESS_DELAY): gather it until both tokens are in.
        let mut seen_alert = false;
        let (mut acked, mut seen) = (0, Vec::new());
        while acked < 2 {
            match run.output.recv().await.expect("engine running") {
                SinkInput::Output(Output::Alert(a)) => {
                    assert_eq!(a.kind, AlertKind::Tamper);
                    seen_alert = true;
                }
                SinkInput::Output(_) => {}
                SinkInput::Progress(p) => {
                    assert!(
                        p.acks.is_empty() || seen_alert,
                        "the alert comes before the token"
                    );
                    acked += p.acks.len();
                    seen.extend(p.seen);
                }
            }
        }
        assert_eq!(acked, 2);
        assert_eq!(seen.len(), 1);
        assert_eq!(&*seen[0].0, "fence-a");
        assert_eq!(seen[0].1.seq, 7);
        run.stop().await;
    }

    /// Rejections judged by keys a reload has replaced do not count towards
    /// "substitution suspected"; rejections under the keys in force do.
    #[tokio::test(start_paused = true)]
    async fn only_rejections_under_the_keys_in_force_make_a_substitution() {
        use crate::auth::{Key, Keys};
        let (old, new) = (Key::new([1; 32]), Key::new([2; 32]));
        let tampers = |outs: Vec<SinkInput>| {
            outs.into_iter()
                .filter(|o| matches!(o, SinkInput::Output(Output::Alert(a)) if a.kind == AlertKind::Tamper))
                .count()
        };
        let mut runs = Vec::new();
        for (current, stale) in [(4, 5), (5, 0)] {
            let mut keys = Keys::none();
            keys.insert("fence-a", new.clone());
            let run = Running::start_keyed(keys);
            let ids = std::iter::repeat_n(Some(new.id()), current)
                .chain(std::iter::repeat_n(Some(old.id()), stale));
            for checked_with in ids {
                run.input
                    .send(Inbound::AuthRejected {
                        device: "fence-a".into(),
                        reason: "bad_mac",
                        received: run.shared.clock.now(),
                        checked_with,
                    })
                    .await
                    .unwrap();
            }
            let mut output = run.stop().await;
            let mut outs = Vec::new();
            while let Ok(o) = output.try_recv() {
                outs.push(o);
            }
            runs.push(tampers(outs));
        }
        assert_eq!(runs, [0, 1], "4 current + 5 stale: none; 5 current: one");
    }

    /// The engine task on a paused clock: deadlines and quiet periods run
    /// on virtual time, no test sleeps.
    #[tokio::test(start_paused = true)]
    async fn engine_task_keeps_deadlines_and_quiet_periods_in_virtual_time() {
        let mut run = Running::start();
        let start = tokio::time::Instant::now();

        // A heartbeat keeps fence-a alive; trench-a (10 s deadline) never speaks.
        let hb = Body::Heartbeat {
            uptime_s: 1,
            status: Health::Ok,
        };
        run.send("fence-a", hb).await;

        let offline = run.next_alert().await;
        assert_eq!(
            (offline.kind, offline.state),
            (AlertKind::SensorOffline, AlertState::Raised)
        );
        assert_eq!(offline.sensors, vec!["trench-a"]);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(10) && waited <= Duration::from_secs(11),
            "{waited:?}"
        );

        // Heavy steps by geophone 0 (2.5 times its threshold: no need to
        // wait for corroboration), then silence: cleared after the 60 s
        // quiet period.
        let sent_at = tokio::time::Instant::now();
        let steps = Body::Ground {
            channel: 0,
            ppv_um_s: 2500.0,
        };
        run.send("trench-a", steps).await;
        let back = run.next_alert().await;
        assert_eq!(
            (back.kind, back.state),
            (AlertKind::SensorOffline, AlertState::Cleared)
        );
        let raised = run.next_alert().await;
        assert_eq!(
            (raised.kind, raised.state),
            (AlertKind::Intrusion, AlertState::Raised)
        );
        // trench-a falls silent again (offline 10 s after the steps), fence-a
        // 30 s after its heartbeat, then the intrusion clears.
        let mut offline = Vec::new();
        let cleared = loop {
            let a = run.next_alert().await;
            match a.kind {
                AlertKind::SensorOffline => offline.push(a.sensors[0].clone()),
                _ => break a,
            }
        };
        assert_eq!(offline, ["trench-a", "fence-a"]);
        assert_eq!(
            (cleared.id.as_str(), cleared.state),
            (raised.id.as_str(), AlertState::Cleared)
        );
        let quiet = sent_at.elapsed();
        assert!(
            quiet >= Duration::from_secs(60) && quiet <= Duration::from_secs(61),
            "{quiet:?}"
        );
        run.stop().await;
    }

    /// Weak footsteps alone wait for corroboration for the 15 s hold, in
    /// virtual time, and are then dropped and counted: no alert.
    #[tokio::test(start_paused = true)]
    async fn weak_lone_evidence_waits_for_the_hold_then_is_dropped_in_virtual_time() {
        let run = Running::start();
        let steps = Body::Ground {
            channel: 0,
            ppv_um_s: 1300.0,
        };
        run.send("trench-a", steps).await;
        tokio::time::sleep(Duration::from_secs(14)).await;
        assert_eq!(run.shared.counters.get("fusion.held"), 1);
        assert_eq!(run.shared.counters.get("fusion.held_expired"), 0);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(run.shared.counters.get("fusion.held_expired"), 1);
        let mut output = run.stop().await;
        let mut intrusions = 0;
        while let Ok(out) = output.try_recv() {
            if let SinkInput::Output(Output::Alert(a)) = out {
                intrusions += usize::from(a.kind == AlertKind::Intrusion);
            }
        }
        assert_eq!(intrusions, 0, "held evidence never became an alert");
    }
}
