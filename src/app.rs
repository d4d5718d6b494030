//! Wiring: config → tasks and channels, and an orderly shutdown.
//!
//! ```text
//! SerialSource (one per port) ─┐  Inbound (bounded, waits)   Output (bounded, waits)
//! MqttSource ──────────────────┴──────────> engine task ───────────> AlertSink ──> journal, log, MQTT
//!                                 1 s tick ─┘
//! ```
//! Shutdown: sources stop first; the engine drains what they sent; the sink
//! drains what the engine produced, publishes `offline` and disconnects.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::Loaded;
use crate::engine::Engine;
use crate::incident::Output;
use crate::ingest::mqtt::MqttSource;
use crate::ingest::serial::SerialSource;
use crate::ingest::Inbound;
use crate::mqtt::LinkConfig;
use crate::runtime::{Clock, Shared};
use crate::sink::journal::Journal;
use crate::sink::publisher::Publisher;
use crate::sink::AlertSink;

/// Capacity of the channel from sources to the engine.
pub const INBOUND_CAPACITY: usize = 4096;
/// Capacity of the channel from the engine to the sink.
pub const OUTPUT_CAPACITY: usize = 1024;
/// How often deadlines, pending updates and clears are checked.
pub const TICK: Duration = Duration::from_secs(1);
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
}

/// Runs the daemon until `shutdown` completes; returns the final counters.
pub async fn run(
    loaded: Loaded,
    shutdown: impl Future<Output = ()>,
) -> Result<BTreeMap<String, u64>, StartError> {
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
    info!(
        instance = %config.instance,
        wall_km = wall.length_m() / 1000.0,
        segments = wall.segment_count(),
        fence = config.fence.len(),
        trench = config.trench.len(),
        serial_ports = config.serial.len(),
        broker = %link.addr,
        journal = %journal_path.display(),
        "rampart starting"
    );

    let (in_tx, in_rx) = mpsc::channel::<Inbound>(INBOUND_CAPACITY);
    let (out_tx, out_rx) = mpsc::channel::<Output>(OUTPUT_CAPACITY);
    let (stop_tx, stop_rx) = watch::channel(false);

    let publisher = Publisher::start(&link, shared.clone());
    let sink = tokio::spawn(
        AlertSink::new(journal, publisher, link.topics.clone(), shared.clone()).run(out_rx),
    );

    let id_prefix = incident_id_prefix(&config.instance, clock);
    let engine = Engine::new(&config, wall, clock.started(), &id_prefix);
    let engine_task = tokio::spawn(run_engine(engine, in_rx, out_tx, shared.clone()));

    let mut sources = JoinSet::new();
    for port in &config.serial {
        let src = SerialSource::new(port.clone(), in_tx.clone(), shared.clone());
        sources.spawn(src.run(stop_rx.clone()));
    }
    sources.spawn(MqttSource::new(link.clone(), in_tx, shared.clone()).run(stop_rx.clone()));
    let stats = tokio::spawn(log_stats(shared.clone(), stop_rx.clone()));

    shutdown.await;
    info!("shutting down: stopping sources");
    let _ = stop_tx.send(true);
    while sources.join_next().await.is_some() {}
    // The sources held the last inbound senders: the engine now drains and ends.
    if engine_task.await.is_err() {
        warn!("engine task ended abnormally");
    }
    if sink.await.is_err() {
        warn!("sink task ended abnormally");
    }
    let _ = stats.await;
    let counters = shared.counters.snapshot();
    info!(counters = ?counters, "rampart stopped");
    Ok(counters)
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
                Some(inbound) => match engine.on_sentence(&inbound.sentence, inbound.received) {
                    Ok(outs) => outs,
                    Err(reject) => {
                        let line = inbound.sentence.encode();
                        shared.reject("engine", reject.reason(), &reject.to_string(), line.trim_end().as_bytes());
                        continue;
                    }
                },
                None => break,
            },
            _ = tick.tick() => {
                let seq = engine.seq_stats();
                shared.counters.set("sentences.lost_by_seq_gap", seq.lost);
                shared.counters.set("sentences.out_of_order", seq.out_of_order);
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

async fn log_stats(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(STATS_INTERVAL);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => info!(counters = ?shared.counters.snapshot(), "counters"),
            _ = stop.changed() => return,
        }
    }
}

/// `<instance>-<start time in ms, hex><16 random bits, hex>`: unique across
/// restarts even if the clock is set back, as long as two starts do not
/// also draw the same random bits.
fn incident_id_prefix(instance: &str, clock: Clock) -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!(
        "{instance}-{:x}{:04x}",
        clock.started().millis(),
        random & 0xffff
    )
}
