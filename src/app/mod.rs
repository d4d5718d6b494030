//! Wiring: config → tasks and channels, and an orderly shutdown.
//!
//! ```text
//! SerialSource (one per port) ─┐  Inbound (bounded, waits)   Output (bounded, waits)
//! MqttSource ──────────────────┴──────────> engine task ───────────> AlertSink ──> store (outbox), log
//! camera workers (evidence) ───┘               ↑   ↑                     │ ToPublish (bounded, waits)
//!                                   1 s tick ──┘   └── ConfigWatcher     └──> Publisher ──> MQTT
//! ```
//! Start-up: the alert store is opened (the daemon does not start without
//! it), and the publisher sends what the previous run left in its outbox
//! before anything new.
//!
//! Shutdown: sources stop first; the engine drains what they sent; the sink
//! drains what the engine produced; the publisher waits (at most
//! [`CLOSE_DEADLINE`](crate::sink::publisher::CLOSE_DEADLINE)) for the
//! broker's acknowledgements, publishes `offline` and disconnects. What the
//! broker did not acknowledge stays in the outbox for the next start.
//!
//! With [`RunOptions::record`], the sources also tap their raw input to the
//! [`recorder`], which never makes them wait; it finishes the recording once
//! the sources have stopped.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::config::Loaded;
use crate::engine::Engine;
use crate::incident::Output;
use crate::ingest::camera::{self, CameraSlot};
use crate::ingest::mqtt::{MqttSource, TopicLimits};
use crate::ingest::serial::SerialSource;
use crate::ingest::Inbound;
use crate::mqtt::LinkConfig;
use crate::record::recorder::{self, RecordError, RecordOptions, Tap};
use crate::record::{Header, Recorded};
use crate::reload::{ConfigWatcher, ReloadReport};
use crate::runtime::{Clock, Shared};
use crate::sink::publisher::{Publisher, Telemetry};
use crate::sink::{AlertSink, Retention, SinkInput};
use crate::store::{Store, StoreHandle};

mod certificates;
mod engine_task;

use engine_task::{run_engine, EngineLinks};

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

/// Why the daemon could not start, or stopped without being asked to.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A component died while running ([`crate::supervise`]): exit at once
    /// with [`crate::exit::COMPONENT_DIED`].
    #[error("{0}")]
    Died(crate::supervise::Death),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
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
    let watched = ConfigWatcher::new(&loaded);
    let config = loaded.config;
    let wall = Arc::new(loaded.wall);
    let link = LinkConfig::new(&config.mqtt, &config.instance)?;
    if config.mqtt.embedded_broker {
        crate::broker::start(&link.addr, config.mqtt.max_packet_bytes)
            .map_err(StartError::Broker)?;
    }
    let clock = Clock::start();
    let shared = Arc::new(Shared::with_keys(clock, config.auth.keys.clone()));
    let data_dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&data_dir))
        .await
        .map_err(|e| crate::store::StoreError::Task(e.to_string()))??;
    let store_path = store.path().to_owned();
    let store = StoreHandle::new(store);
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
        store = %store_path.display(),
        "rampart starting"
    );

    let (in_tx, in_rx) = mpsc::channel::<Inbound>(INBOUND_CAPACITY);
    let (out_tx, out_rx) = mpsc::channel::<SinkInput>(OUTPUT_CAPACITY);
    let (stop_tx, stop_rx) = watch::channel(false);

    let publisher = Publisher::start(&link, Some(store.clone()), shared.clone());
    let telemetry = publisher.telemetry(link.topics.daemon_stats(&config.instance));
    let publisher_notices = publisher.telemetry(link.topics.daemon_config(&config.instance));
    let retention = Retention {
        max_age: config.store.retention,
        max_messages: config.store.max_messages,
    };
    let supervisor = &shared.supervisor;
    let mut deaths = supervisor
        .take_deaths()
        .expect("one daemon per shared state");
    let sink = supervisor.spawn(
        "sink",
        AlertSink::new(
            Some(store.clone()),
            retention,
            publisher,
            link.topics.clone(),
            shared.clone(),
        )
        .run(out_rx),
    );

    let wall_for_cameras = wall.clone();
    let mut engine = Engine::new(&config, wall, clock.started(), &id_prefix);
    restore_device_seqs(&mut engine, &store, &config).await?;
    restore_seen(&mut engine, &store).await?;
    let closing = resume_open_incidents(&mut engine, &store, &shared).await;
    for msg in closing {
        // Into the sink before anything the engine says.
        let _ = out_tx.send(SinkInput::Output(Output::Alert(msg))).await;
    }
    if let Some(profile) = engine.active_profile() {
        info!(profile, "threshold profile in use");
    }
    let (slots, workers) = start_cameras(
        &config,
        engine.camera_settings(),
        &wall_for_cameras,
        in_tx.clone(),
        shared.clone(),
    )?;
    let (reload_tx, reload_rx) = mpsc::channel::<Box<Loaded>>(4);
    let links = EngineLinks {
        reloads: reload_rx,
        cameras: slots.clone(),
    };
    let engine_task = supervisor.spawn(
        "engine task",
        run_engine(engine, in_rx, links, out_tx, shared.clone()),
    );
    let watcher = start_reload_watcher(
        &watched,
        reload_tx,
        publisher_notices,
        shared.clone(),
        stop_rx.clone(),
    );
    let mut sources = Vec::new();
    for port in &config.serial {
        let name = format!("serial source {}", port.path.display());
        let src = SerialSource::new(port.clone(), in_tx.clone(), shared.clone(), tap.clone());
        sources.push(supervisor.spawn(&name, src.run(stop_rx.clone())));
    }
    let limits = TopicLimits::new(&config.mqtt);
    let mqtt = MqttSource::new(
        link.clone(),
        limits,
        in_tx,
        slots.clone(),
        shared.clone(),
        tap,
    );
    let mqtt = supervisor.spawn("mqtt source", mqtt.run(stop_rx.clone()));
    let stats = supervisor.spawn(
        "counters reporter",
        report_stats(shared.clone(), telemetry, stop_rx.clone()),
    );
    let clock_watch = supervisor.spawn("clock watch", watch_clock(shared.clone(), stop_rx.clone()));
    let expiries = link
        .tls()
        .map(|t| t.expiries().to_vec())
        .unwrap_or_default();
    let cert_watch = supervisor.spawn(
        "certificate watch",
        certificates::watch(shared.clone(), expiries, stop_rx.clone()),
    );
    let ready = format!(
        "running: {} serial ports, {} cameras, broker {}",
        config.serial.len(),
        config.camera.len(),
        link.addr
    );
    let systemd = crate::sdnotify::Supervisor::start(&ready, shared.clone(), stop_rx.clone());

    let died = tokio::select! {
        _ = shutdown => None,
        death = deaths.recv() => death,
    };
    if let Some(death) = died {
        // Nothing is drained: what is committed stays in the outbox for
        // the next start, what is not acknowledged the broker sends again.
        error!(
            component = %death.component,
            panicked = death.panicked,
            "{death}: rampart exits (code {}) so that it is restarted; the alerts it committed wait in the store's outbox",
            crate::exit::COMPONENT_DIED
        );
        return Err(StartError::Died(death));
    }
    supervisor.stopping();
    info!("shutting down: stopping sources");
    systemd.stopping();
    let _ = stop_tx.send(true);
    for source in sources {
        let _ = source.await;
    }
    // The MQTT source stops reading; its connection's writer stays, to
    // acknowledge what the engine and the sink still finish.
    let mqtt_closer = mqtt.await.ok().flatten();
    let _ = watcher.await;
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
        error!("the engine task panicked while stopping");
    }
    if sink.await.is_err() {
        error!("the sink panicked while stopping");
    }
    if let Some(closer) = mqtt_closer {
        closer.close(Duration::from_secs(2)).await;
    }
    let _ = stats.await;
    let _ = clock_watch.await;
    let _ = cert_watch.await;
    if config.mqtt.embedded_broker {
        // The embedded broker dies with this process: give it a moment to
        // forward the last messages (the `offline` presence) to subscribers.
        tokio::time::sleep(EMBEDDED_BROKER_LINGER).await;
    }
    let counters = shared.counters.snapshot();
    info!(counters = ?counters, "rampart stopped");
    Ok(counters)
}

/// Hands the engine the incidents the previous run left open (the latest
/// message of each, from the store), so they carry on with their ids and
/// revisions; returns `cleared` messages for those this run cannot carry on
/// (their device is gone from the config, say).
async fn resume_open_incidents(
    engine: &mut Engine,
    store: &StoreHandle,
    shared: &Shared,
) -> Vec<crate::alert::AlertMessage> {
    let rows = match store.call(|s| s.open_incidents()).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the open incidents from the store; they are not carried on");
            return Vec::new();
        }
    };
    let mut open = Vec::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_str::<crate::alert::AlertMessage>(&row.payload) {
            Ok(msg) => open.push(msg),
            Err(e) => {
                warn!(id = %row.id, rev = row.rev, error = %e, "a stored open incident does not parse; not carried on")
            }
        }
    }
    if open.is_empty() {
        return Vec::new();
    }
    let now = shared.clock.now();
    let report = engine.resume(open.clone(), now);
    shared
        .counters
        .set("incidents.resumed", report.resumed_count() as u64);
    info!(%report, "open incidents of the previous run carried on");
    report
        .skipped
        .iter()
        .filter(|s| s.reason.needs_closing())
        .filter_map(|s| {
            open.iter()
                .find(|m| m.id == s.id && m.rev == s.rev)
                .map(|m| crate::incident::closing_message(m, &s.reason, now))
        })
        .collect()
}

/// Hands the engine the keyed devices' last accepted seqs, before any
/// sentence: the daemon does not start without them when a device is keyed.
async fn restore_device_seqs(
    engine: &mut Engine,
    store: &StoreHandle,
    config: &crate::config::Config,
) -> Result<(), StartError> {
    let saved = store.call(|s| s.device_seqs()).await?;
    let keyed: Vec<_> = saved
        .into_iter()
        .filter(|(d, _)| config.auth.keys.get(d).is_some())
        .collect();
    if !config.auth.keys.is_empty() {
        info!(
            keyed = config.auth.keys.devices().count(),
            seqs_restored = keyed.len(),
            "sentence authentication on"
        );
    }
    engine.restore_seqs(keyed);
    Ok(())
}

/// Hands the engine the sentences the previous run accepted (the last of
/// each device), so that the broker's redeliveries of them are known.
async fn restore_seen(engine: &mut Engine, store: &StoreHandle) -> Result<(), StartError> {
    let seen = store.call(|s| s.seen()).await?;
    if !seen.is_empty() {
        info!(
            sentences = seen.len(),
            "sentences accepted by the previous run remembered"
        );
    }
    engine.restore_seen(seen);
    Ok(())
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

/// Watches the config file (and SIGHUP); logs and publishes (retained) what
/// became of each reload.
fn start_reload_watcher(
    watcher: &ConfigWatcher,
    to_engine: mpsc::Sender<Box<Loaded>>,
    notices: Telemetry,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let watcher = watcher.clone();
    let lifeline = shared.supervisor.lifeline("config watcher");
    tokio::spawn(async move {
        let hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                // Detection goes on; only reloading is lost.
                error!(error = %e, "cannot watch SIGHUP: the config will not be reloaded until a restart");
                lifeline.retire();
                return;
            }
        };
        let clock = shared.clock;
        let report = move |r: &ReloadReport| {
            shared
                .counters
                .incr(&format!("config.reload_{}", r.status.as_str()));
            let body = serde_json::to_vec(r).unwrap_or_default();
            if !notices.offer(body) {
                warn!("could not queue the config reload report for publication");
            }
        };
        watcher
            .run(hangup, to_engine, report, move || clock.now(), stop)
            .await;
        drop(lifeline);
    })
}

/// One slot and one worker thread per configured camera.
#[allow(clippy::type_complexity)]
fn start_cameras(
    config: &crate::config::Config,
    settings: Vec<crate::camera::CameraSettings>,
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
    for pipeline in camera::pipelines(settings, wall) {
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

/// How often the system clock is compared with the daemon's.
pub const CLOCK_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Compares the system clock with the daemon's (start time plus monotonic
/// time) every [`CLOCK_CHECK_INTERVAL`]; a jump is logged at ERROR, counted
/// (`clock.jumps`) and shown in the health report. Alert times keep
/// following the monotonic clock, so they never jump; restart the daemon
/// to adopt a corrected system time.
async fn watch_clock(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let offset = || crate::time::Timestamp::now().millis() - shared.clock.now().millis();
    let mut last = offset();
    let mut every = tokio::time::interval(CLOCK_CHECK_INTERVAL);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        let now = offset();
        if let Some(jump) = crate::health::clock_jump(last, now) {
            let by_s = jump as f64 / 1000.0;
            shared.counters.incr("clock.jumps");
            shared.health.clock_jump(by_s, shared.clock.now());
            tracing::error!(by_s, "the system clock jumped; alert times follow the monotonic clock (restart rampart to adopt the new time)");
        }
        last = now;
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
