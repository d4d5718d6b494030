//! Wiring: config → tasks and channels, and an orderly shutdown.
//!
//! ```text
//! SerialSource (one per port) ─┐  Inbound (bounded, waits)   Output (bounded, waits)
//! MqttSource ──────────────────┴──────────> engine task ───────────> AlertSink ──> journal, log, MQTT
//!                                 1 s tick ─┘
//! ```
//! Shutdown: sources stop first; the engine drains what they sent; the sink
//! drains what the engine produced, publishes `offline` and disconnects.
//!
//! With [`RunOptions::record`], the sources also tap their raw input to the
//! [`recorder`], which never makes them wait; it finishes the recording once
//! the sources have stopped.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::Loaded;
use crate::engine::Engine;
use crate::incident::Output;
use crate::ingest::camera::{self, CameraSlot};
use crate::ingest::mqtt::MqttSource;
use crate::ingest::serial::SerialSource;
use crate::ingest::Inbound;
use crate::mqtt::LinkConfig;
use crate::record::recorder::{self, RecordError, RecordOptions, Tap};
use crate::record::{Header, Recorded};
use crate::runtime::{Clock, Shared};
use crate::sink::journal::Journal;
use crate::sink::publisher::{Publisher, Telemetry};
use crate::sink::AlertSink;

/// Capacity of the channel from sources to the engine.
pub const INBOUND_CAPACITY: usize = 4096;
/// Capacity of the channel from the engine to the sink.
pub const OUTPUT_CAPACITY: usize = 1024;
/// How often deadlines, pending updates and clears are checked.
pub const TICK: Duration = Duration::from_secs(1);
/// How long the process stays after shutdown when it runs the embedded broker.
pub const EMBEDDED_BROKER_LINGER: Duration = Duration::from_millis(300);
/// How often counters are logged and published.
pub const STATS_INTERVAL: Duration = Duration::from_secs(30);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the alert journal {path}: {source}")]
    Journal {
        path: String,
        source: std::io::Error,
    },
    #[error("bad broker URL: {0}")]
    Url(#[from] crate::topics::UrlError),
    #[error("embedded broker: {0}")]
    Broker(String),
    #[error("cannot start the worker thread of camera {0}: {1}")]
    Thread(String, std::io::Error),
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// How to run, beyond the config: what the command line adds.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Record the raw input to a file (`--record`).
    pub record: Option<RecordOptions>,
}

/// Runs the daemon until `shutdown` completes; returns the final counters.
pub async fn run(
    loaded: Loaded,
    shutdown: impl Future<Output = ()>,
) -> Result<BTreeMap<String, u64>, StartError> {
    run_with(loaded, RunOptions::default(), shutdown).await
}

/// [`run`] with options from the command line.
pub async fn run_with(
    loaded: Loaded,
    options: RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<BTreeMap<String, u64>, StartError> {
    let config_path = loaded.path.display().to_string();
    let config = loaded.config;
    let wall = Arc::new(loaded.wall);
    let link = LinkConfig::new(&config.mqtt, &config.instance)?;
    if config.mqtt.embedded_broker {
        crate::broker::start(&link.addr, config.mqtt.max_packet_bytes)
            .map_err(StartError::Broker)?;
    }
    let clock = Clock::start();
    let shared = Arc::new(Shared::new(clock));
    let journal_path = config.data_dir.join("alerts.jsonl");
    let journal = Journal::open(&journal_path)
        .await
        .map_err(|source| StartError::Journal {
            path: journal_path.display().to_string(),
            source,
        })?;
    let id_prefix = incident_id_prefix(&config.instance, clock);
    let (tap, recorder) = match &options.record {
        Some(record) => {
            let header = recording_header(&config, &config_path, clock, &id_prefix, record);
            let (tap, recorder) = recorder::start(record, &header, shared.clone())?;
            (tap, Some(recorder))
        }
        None => (Tap::off(), None),
    };
    info!(
        instance = %config.instance,
        wall_km = wall.length_m() / 1000.0,
        segments = wall.segment_count(),
        fence = config.fence.len(),
        trench = config.trench.len(),
        serial_ports = config.serial.len(),
        cameras = config.camera.len(),
        broker = %link.addr,
        journal = %journal_path.display(),
        "rampart starting"
    );

    let (in_tx, in_rx) = mpsc::channel::<Inbound>(INBOUND_CAPACITY);
    let (out_tx, out_rx) = mpsc::channel::<Output>(OUTPUT_CAPACITY);
    let (stop_tx, stop_rx) = watch::channel(false);

    let publisher = Publisher::start(&link, shared.clone());
    let telemetry = publisher.telemetry(link.topics.daemon_stats(&config.instance));
    let sink = tokio::spawn(
        AlertSink::new(journal, publisher, link.topics.clone(), shared.clone()).run(out_rx),
    );

    let wall_for_cameras = wall.clone();
    let engine = Engine::new(&config, wall, clock.started(), &id_prefix);
    let engine_task = tokio::spawn(run_engine(engine, in_rx, out_tx, shared.clone()));

    let (slots, workers) =
        start_cameras(&config, &wall_for_cameras, in_tx.clone(), shared.clone())?;
    let mut sources = JoinSet::new();
    for port in &config.serial {
        let src = SerialSource::new(port.clone(), in_tx.clone(), shared.clone(), tap.clone());
        sources.spawn(src.run(stop_rx.clone()));
    }
    let mqtt = MqttSource::new(link.clone(), in_tx, slots.clone(), shared.clone(), tap);
    sources.spawn(mqtt.run(stop_rx.clone()));
    let stats = tokio::spawn(report_stats(shared.clone(), telemetry, stop_rx.clone()));

    shutdown.await;
    info!("shutting down: stopping sources");
    let _ = stop_tx.send(true);
    while sources.join_next().await.is_some() {}
    // Camera workers finish the frame in hand and stop.
    for slot in slots.values() {
        slot.close();
    }
    // The sources held the taps: the recorder writes what is queued, the
    // end marker, and closes the file.
    let _ = tokio::task::spawn_blocking(move || {
        for w in workers {
            let _ = w.join();
        }
        if let Some(recorder) = recorder {
            recorder.finish();
        }
    })
    .await;
    // The sources held the last inbound senders: the engine now drains and ends.
    if engine_task.await.is_err() {
        warn!("engine task ended abnormally");
    }
    if sink.await.is_err() {
        warn!("sink task ended abnormally");
    }
    let _ = stats.await;
    if config.mqtt.embedded_broker {
        // The embedded broker dies with this process: give it a moment to
        // forward the last messages (the `offline` presence) to subscribers.
        tokio::time::sleep(EMBEDDED_BROKER_LINGER).await;
    }
    let counters = shared.counters.snapshot();
    info!(counters = ?counters, "rampart stopped");
    Ok(counters)
}

/// What a recording says about this run.
fn recording_header(
    config: &crate::config::Config,
    config_path: &str,
    clock: Clock,
    id_prefix: &str,
    record: &RecordOptions,
) -> Header {
    let sources = config
        .serial
        .iter()
        .map(|p| format!("serial:{}", p.path.display()))
        .chain(["mqtt:sensor/+".to_owned(), "mqtt:ack".to_owned()])
        .chain(config.camera.iter().map(|c| format!("camera:{}", c.id)))
        .collect();
    Header {
        instance: config.instance.clone(),
        started_ms: clock.started().millis(),
        started: clock.started().to_string(),
        id_prefix: id_prefix.to_owned(),
        rampart_version: env!("CARGO_PKG_VERSION").to_owned(),
        config: config_path.to_owned(),
        recorded: Recorded {
            sentences: true,
            frames: record.frames,
            acks: true,
        },
        sources,
    }
}

/// One slot and one worker thread per configured camera.
#[allow(clippy::type_complexity)]
fn start_cameras(
    config: &crate::config::Config,
    wall: &Arc<crate::wall::Wall>,
    tx: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
) -> Result<
    (
        HashMap<String, Arc<CameraSlot>>,
        Vec<std::thread::JoinHandle<()>>,
    ),
    StartError,
> {
    let limits = camera::frame_limits(config);
    let mut slots = HashMap::new();
    let mut workers = Vec::new();
    for pipeline in camera::pipelines(config, wall) {
        let id = pipeline.id().to_owned();
        let slot = Arc::new(CameraSlot::default());
        let worker =
            camera::spawn_worker(pipeline, slot.clone(), limits, tx.clone(), shared.clone())
                .map_err(|e| StartError::Thread(id.clone(), e))?;
        slots.insert(id, slot);
        workers.push(worker);
    }
    Ok((slots, workers))
}

/// The engine task: sentences and ticks in, outputs out.
async fn run_engine(
    mut engine: Engine,
    mut rx: mpsc::Receiver<Inbound>,
    tx: mpsc::Sender<Output>,
    shared: Arc<Shared>,
) {
    let send_all = |outs: Vec<Output>| {
        let tx = tx.clone();
        async move {
            for o in outs {
                if tx.send(o).await.is_err() {
                    return false;
                }
            }
            true
        }
    };
    if !send_all(engine.start(shared.clock.now())).await {
        return;
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let outs = tokio::select! {
            msg = rx.recv() => match msg {
                Some(Inbound::Sentence { sentence, received, source }) => match engine.on_sentence(&sentence, received) {
                    Ok(outs) => outs,
                    Err(reject) => {
                        let line = sentence.encode();
                        shared.reject(&source, reject.reason(), &reject.to_string(), line.trim_end().as_bytes());
                        continue;
                    }
                },
                Some(Inbound::Evidence { evidence, .. }) => engine.on_evidence(evidence, shared.clock.now()),
                Some(Inbound::CameraContrast { camera, low, received, .. }) => {
                    shared.counters.incr(if low { "cameras.low_contrast" } else { "cameras.contrast_restored" });
                    engine.on_camera_contrast(&camera, low, received)
                }
                Some(Inbound::Ack { ack, received }) => match engine.on_ack(&ack.id, &ack.by, received) {
                    Some(outs) => {
                        shared.counters.incr("acks.accepted");
                        info!(id = %ack.id, by = %ack.by, "incident acknowledged");
                        outs
                    }
                    None => {
                        let why = format!("no open incident `{}` (acknowledged by `{}`)", ack.id, ack.by);
                        shared.reject("mqtt:ack", "ack_unknown_incident", &why, b"");
                        continue;
                    }
                },
                None => break,
            },
            _ = tick.tick() => {
                let (mut lost, mut out_of_order) = (0, 0);
                for (device, seq) in engine.seq_stats() {
                    shared.counters.set(&format!("seq.lost.{device}"), seq.lost);
                    shared.counters.set(&format!("seq.out_of_order.{device}"), seq.out_of_order);
                    lost += seq.lost;
                    out_of_order += seq.out_of_order;
                }
                shared.counters.set("sentences.lost_by_seq_gap", lost);
                shared.counters.set("sentences.out_of_order", out_of_order);
                shared.counters.set("incidents.open", engine.open_incidents() as u64);
                engine.on_tick(shared.clock.now())
            }
        };
        if !send_all(outs).await {
            return;
        }
    }
    // Last look at deadlines and pending updates before stopping.
    let _ = send_all(engine.on_tick(shared.clock.now())).await;
}

/// Logs the counters and publishes them as telemetry every [`STATS_INTERVAL`].
async fn report_stats(shared: Arc<Shared>, telemetry: Telemetry, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(STATS_INTERVAL);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        let counters = shared.counters.snapshot();
        info!(counters = ?counters, "counters");
        let body = serde_json::json!({ "at": shared.clock.now(), "counters": counters });
        if !telemetry.offer(body.to_string().into_bytes()) {
            shared.counters.incr("telemetry.shed");
        }
    }
}

/// `<instance>-<start time, ms, hex>-<16 random bits, hex>`: incident ids
/// `<prefix>-<n>` are unique across restarts, even if the clock is set back,
/// as long as two starts in the same millisecond do not also draw the same
/// random bits.
fn incident_id_prefix(instance: &str, clock: Clock) -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!(
        "{instance}-{:x}-{:04x}",
        clock.started().millis(),
        random & 0xffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertKind, AlertState};

    async fn next_alert(rx: &mut mpsc::Receiver<Output>) -> crate::alert::AlertMessage {
        loop {
            match rx.recv().await.expect("engine still running") {
                Output::Alert(a) => return a,
                Output::Segment(..) => {}
            }
        }
    }

    /// The engine task on a paused clock: deadlines and quiet periods run
    /// on virtual time, no test sleeps.
    #[tokio::test(start_paused = true)]
    async fn engine_task_keeps_deadlines_and_quiet_periods_in_virtual_time() {
        let (config, wall) = crate::testkit::fixture();
        let shared = Arc::new(Shared::new(Clock::start()));
        let engine = Engine::new(&config, wall, shared.clock.started(), "t");
        let (in_tx, in_rx) = mpsc::channel(16);
        let (out_tx, mut out_rx) = mpsc::channel(64);
        let task = tokio::spawn(run_engine(engine, in_rx, out_tx, shared.clone()));
        let start = tokio::time::Instant::now();

        // A heartbeat keeps fence-a alive; trench-a (10 s deadline) never speaks.
        let hb = crate::sentence::Sentence {
            device: "fence-a".into(),
            seq: 1,
            body: crate::sentence::Body::Heartbeat {
                uptime_s: 1,
                status: crate::sentence::Health::Ok,
            },
            mac: None,
        };
        in_tx
            .send(Inbound::Sentence {
                sentence: hb,
                received: shared.clock.now(),
                source: "test".into(),
            })
            .await
            .unwrap();

        let offline = next_alert(&mut out_rx).await;
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

        // An intrusion, then silence: cleared after the 60 s quiet period.
        let ev = crate::sentence::Sentence {
            device: "trench-a".into(),
            seq: 1,
            body: crate::sentence::Body::Beam {
                channel: 0,
                broken: true,
            },
            mac: None,
        };
        let sent_at = tokio::time::Instant::now();
        in_tx
            .send(Inbound::Sentence {
                sentence: ev,
                received: shared.clock.now(),
                source: "test".into(),
            })
            .await
            .unwrap();
        let back = next_alert(&mut out_rx).await;
        assert_eq!(
            (back.kind, back.state),
            (AlertKind::SensorOffline, AlertState::Cleared)
        );
        let raised = next_alert(&mut out_rx).await;
        assert_eq!(
            (raised.kind, raised.state),
            (AlertKind::Intrusion, AlertState::Raised)
        );
        // trench-a falls silent again (offline 10 s after the beam), fence-a
        // 30 s after its heartbeat, then the intrusion clears.
        let mut offline = Vec::new();
        let cleared = loop {
            let a = next_alert(&mut out_rx).await;
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

        drop(in_tx);
        task.await.unwrap();
    }
}
