//! `rampart demo`: the embedded broker, the daemon and the firmware
//! simulator in one process, running the demo scenario on the demo wall,
//! with a console that prints every alert as it arrives.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::watch;

use rampart::sim::scenario::Scenario;
use rampart::sim::{pty_link, SimOptions, Simulator};

const DEMO_CONFIG: &str = include_str!("../config/rampart.toml");
const DEMO_SCENARIO: &str = include_str!("../config/scenario-demo.toml");
const DEMO_WALL: &str = include_str!("../config/wall-iraq-syria-approx.geojson");

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Port of the embedded broker (on 127.0.0.1).
    #[arg(long, default_value_t = 1883)]
    port: u16,
    /// Where the demo writes its config copy, alert store and ground truth.
    /// Default: a new directory under the system's temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Shorten the scenario to this many seconds (for a quick look).
    #[arg(long)]
    seconds: Option<u64>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_none() {
        // The console below shows the alerts; logs only for problems.
        std::env::set_var("RUST_LOG", "warn,rampart::sink=error,rumqttd=off");
    }
    crate::init_logging();
    if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", args.port)) {
        anyhow::bail!(
            "the demo's broker cannot listen on 127.0.0.1:{}: {e}; is another broker (a Mosquitto service?) using it? \
             Pick another port with `cargo run --release -- demo --port 18830`",
            args.port
        );
    }
    let dir = args.dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("rampart-demo-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join("wall-iraq-syria-approx.geojson"), DEMO_WALL)?;
    let (mut config, wall) =
        rampart::config::load_str("config/rampart.toml (built in)", DEMO_CONFIG, &dir)
            .map_err(|p| anyhow::anyhow!("built-in demo config is invalid: {p:?}"))?;
    let pty_dir = dir.join("tty");
    for port in &mut config.serial {
        if let Some(dev) = port.devices.first() {
            port.path = pty_link(&pty_dir, dev);
        }
    }
    config.data_dir = dir.join("data");
    config.mqtt.url = format!("mqtt://127.0.0.1:{}", args.port);
    config.mqtt.embedded_broker = true;
    let devices: HashSet<String> = config
        .fence
        .iter()
        .map(|d| d.id.clone())
        .chain(config.trench.iter().map(|d| d.id.clone()))
        .collect();
    let mut scenario = Scenario::parse(
        "config/scenario-demo.toml (built in)",
        DEMO_SCENARIO,
        &devices,
    )
    .map_err(|p| anyhow::anyhow!("built-in demo scenario is invalid: {p:?}"))?;
    if let Some(s) = args.seconds {
        scenario.duration = Duration::from_secs(s);
    }
    let truth = dir.join("ground-truth.jsonl");
    let data_dir = config.data_dir.clone();
    let store = data_dir.join(rampart::store::FILE_NAME);

    println!(
        "Rampart demo: {:.0} km wall, {} segments of {:.0} m; broker on 127.0.0.1:{}",
        wall.length_m() / 1000.0,
        wall.segment_count(),
        config.segment_length_m,
        args.port
    );
    println!(
        "  serial (pseudo-terminals): {}",
        scenario.serial.join(", ")
    );
    println!(
        "  over MQTT: the other controllers; scenario of {} s:",
        scenario.duration.as_secs()
    );
    for ev in &scenario.events {
        println!(
            "    t+{:>4.1}s {:?}{}{}",
            ev.at.as_secs_f64(),
            ev.kind,
            ev.chainage_m
                .map(|c| format!(
                    " at {c:.0} m (segment S{:03})",
                    (c / config.segment_length_m) as u32
                ))
                .unwrap_or_default(),
            ev.device
                .as_ref()
                .map(|d| format!(" on {d}"))
                .unwrap_or_default()
        );
    }
    println!();

    let rt = tokio::runtime::Runtime::new()?;
    let truth_path = truth.clone();
    let counters = rt.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        let loaded = rampart::config::Loaded {
            path: dir.join("rampart.toml"),
            config: config.clone(),
            wall,
        };
        let sim = Simulator::new(
            &config,
            scenario.clone(),
            SimOptions {
                pty_dir,
                truth: Some(truth.clone()),
                identities: None,
            },
        )
        .context("cannot create the simulated serial lines")?;
        let mut daemon_stop = stop_rx.clone();
        let daemon = tokio::spawn(rampart::app::run(loaded, async move {
            let _ = daemon_stop.changed().await;
        }));
        // Let the broker come up before the console and the simulator connect.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let console = tokio::spawn(console(
            args.port,
            config.mqtt.root.clone(),
            stop_rx.clone(),
        ));
        let sim_task = tokio::spawn(sim.run(stop_rx.clone()));
        // The finished simulator keeps its serial lines open until the daemon stops.
        let finished_sim = tokio::select! {
            sim = sim_task => sim.ok(),
            _ = crate::shutdown_signal() => None,
        };
        // Leave time for the last alerts to arrive.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = stop_tx.send(true);
        let counters = daemon
            .await
            .context("daemon task failed")?
            .context("daemon failed")?;
        let alerts = console.await.unwrap_or_default();
        drop(finished_sim);
        anyhow::Ok((counters, alerts))
    })?;
    let (counters, alerts) = counters;
    println!();
    println!("Summary: {} alert messages", alerts.values().sum::<u32>());
    for (k, n) in &alerts {
        println!("  {k:<28} {n}");
    }
    let rejected: u64 = counters
        .iter()
        .filter(|(k, _)| k.starts_with("rejected."))
        .map(|(_, v)| v)
        .sum();
    println!(
        "  sentences accepted           {}",
        counters.get("sentences.accepted").copied().unwrap_or(0)
    );
    println!("  malformed lines rejected     {rejected}");
    for (k, v) in counters.iter().filter(|(k, _)| k.starts_with("rejected.")) {
        println!("    {k:<26} {v}");
    }
    println!(
        "Alert store: {} (query it with `rampart alerts --data-dir {}`)",
        store.display(),
        data_dir.display()
    );
    println!("Ground truth:  {}", truth_path.display());
    Ok(())
}

/// Subscribes to every alert and prints one line per message; returns counts
/// by kind and state.
async fn console(
    port: u16,
    root: String,
    mut stop: watch::Receiver<bool>,
) -> BTreeMap<String, u32> {
    let topics = rampart::topics::Topics::new(&root);
    let mut options = MqttOptions::new(
        format!("rampart-demo-console-{}", std::process::id()),
        "127.0.0.1",
        port,
    );
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let start = tokio::time::Instant::now();
    let mut counts = BTreeMap::new();
    println!("  time  state     seg   kind            priority  where                          conf  sensors");
    loop {
        let ev = tokio::select! {
            ev = eventloop.poll() => ev,
            _ = stop.changed() => break,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let _ = client.try_subscribe(topics.alert_filter(), QoS::AtLeastOnce);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&p.payload) else {
                    continue;
                };
                let s = |k: &str| v[k].as_str().unwrap_or("?").to_owned();
                let kind = s("kind");
                let state = s("state");
                *counts.entry(format!("{kind} {state}")).or_insert(0) += 1;
                let sensors: Vec<String> = v["sensors"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                println!(
                    "{:>5.1}s  {:<8}  {:<5} {:<15} {:<8}  {:>8.0} m ({:.4}, {:.4})  {:.2}  {}",
                    start.elapsed().as_secs_f64(),
                    state.to_uppercase(),
                    s("segment_id"),
                    kind,
                    s("priority"),
                    v["chainage_m"].as_f64().unwrap_or(f64::NAN),
                    v["lat"].as_f64().unwrap_or(f64::NAN),
                    v["lon"].as_f64().unwrap_or(f64::NAN),
                    v["confidence"].as_f64().unwrap_or(f64::NAN),
                    sensors.join(" ")
                );
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    counts
}
