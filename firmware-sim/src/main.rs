//! `firmware-sim`: simulated fence and trench controllers for Rampart.
//!
//! Reads the daemon's config to learn the controllers and where their zones
//! and channels lie, and a scenario file for transports and scripted events.
//! Serial devices get a pseudo-terminal each, linked as `<pty-dir>/<device>`;
//! point the daemon's `[[serial]] path` at those links. Every configured
//! `[[camera]]` (or those the scenario's `cameras` names) publishes
//! synthetic thermal frames on `<root>/v1/camera/<id>/frame`.
//!
//! Controllers with a key sign their sentences (`m=`): the keys come from
//! the config's `[auth] keys_file`, or from `--keys FILE` (same format),
//! which replaces them.
//!
//! Over MQTT the devices share one connection with the config's `[mqtt]`
//! settings, or, with `--mqtt-identities DIR`, each connects with its own
//! client certificate, so a TLS broker with the ACL of `config/mosquitto/`
//! can be simulated end to end.
//!
//! Two subcommands work without real time or a broker:
//! - `firmware-sim truth SCENARIO [--config C]` prints the scenario's ground
//!   truth, one JSON object per line (the same lines the live `--truth`
//!   file gets);
//! - `firmware-sim offline SCENARIO [--config C]` runs the scenario in
//!   virtual time and prints every input it makes, one per line: the time
//!   in seconds, the device or camera, then the sentence (CRLF left out,
//!   odd bytes escaped) or the frame's size.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use rampart::config::Loaded;
use rampart::sim::offline::{OfflineSim, SimInput};
use rampart::sim::scenario::Scenario;
use rampart::sim::{SimOptions, Simulator};

#[derive(Parser)]
#[command(
    name = "firmware-sim",
    version,
    about = "Simulated Rampart field controllers",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The rampart config whose controllers to simulate.
    #[arg(long, default_value = "config/rampart.toml")]
    config: PathBuf,
    /// The scenario (TOML).
    #[arg(long, default_value = "config/scenario-demo.toml")]
    scenario: PathBuf,
    /// Directory for the pseudo-terminal links.
    #[arg(long, default_value = "/tmp/rampart-sim")]
    pty_dir: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Write the ground truth here: one JSON object per scenario item
    /// (object or event) as it begins, as `firmware-sim truth` prints them.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Sign the sentences of the devices in this key file (one
    /// `device = "<64 hex digits>"` per line, mode 0600) instead of those
    /// of the config's `[auth] keys_file`.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Connect each MQTT device and camera on its own, with the client
    /// certificate `<DIR>/<id>.pem` and key `<DIR>/<id>.key` (mode 0600),
    /// trusting the config's `[mqtt.tls] ca_file`: as real devices do
    /// under the broker's ACL. Needs an `mqtts://` broker.
    #[arg(long, value_name = "DIR")]
    mqtt_identities: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the scenario's ground truth, one JSON object per line.
    Truth(Offline),
    /// Run the scenario in virtual time and print every input it makes.
    Offline(Offline),
}

#[derive(clap::Args)]
struct Offline {
    /// The scenario (TOML).
    scenario: PathBuf,
    /// The rampart config whose controllers and cameras to simulate.
    #[arg(long, default_value = "config/rampart.toml")]
    config: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Sign with the keys of this file instead of the config's.
    #[arg(long)]
    keys: Option<PathBuf>,
}

/// The config (with the keys of `keys`, if given) and a scenario checked
/// against it.
fn load(
    config: &Path,
    scenario: &Path,
    seed: Option<u64>,
    keys: Option<&Path>,
) -> anyhow::Result<(Loaded, Scenario)> {
    let mut loaded = rampart::config::load(config).map_err(|p| {
        let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid rampart config:\n{}", lines.join("\n"))
    })?;
    if let Some(file) = keys {
        let keys = rampart::auth::Keys::load(file)?;
        loaded.config.auth.keys = std::sync::Arc::new(keys);
    }
    let devices: HashSet<String> = loaded
        .config
        .fence
        .iter()
        .map(|d| d.id.clone())
        .chain(loaded.config.trench.iter().map(|d| d.id.clone()))
        .collect();
    let cameras: HashSet<String> = loaded.config.camera.iter().map(|c| c.id.clone()).collect();
    let mut scenario = Scenario::load_with_cameras(scenario, &devices, &cameras).map_err(|p| {
        let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid scenario:\n{}", lines.join("\n"))
    })?;
    if let Some(seed) = seed {
        scenario.seed = seed;
    }
    Ok((loaded, scenario))
}

/// `truth` and `offline`: print to stdout.
fn offline(args: &Offline, truth_only: bool) -> anyhow::Result<()> {
    let (loaded, scenario) = load(
        &args.config,
        &args.scenario,
        args.seed,
        args.keys.as_deref(),
    )?;
    let sim = OfflineSim::new(&loaded.config, std::sync::Arc::new(loaded.wall), scenario)
        .context("cannot prepare the scenario")?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if truth_only {
        for item in sim.truth() {
            writeln!(out, "{}", item.to_json_line())?;
        }
    } else {
        for input in sim {
            let t = input.at.as_secs_f64();
            match input.input {
                SimInput::Line { device, line } => {
                    let text = line
                        .trim_end_matches(['\r', '\n'])
                        .escape_debug()
                        .to_string();
                    writeln!(out, "{t:.3} {device} {text}")?;
                }
                SimInput::Frame { camera, payload } => {
                    writeln!(out, "{t:.3} {camera} frame of {} bytes", payload.len())?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match &args.command {
        Some(Command::Truth(a)) => return offline(a, true),
        Some(Command::Offline(a)) => return offline(a, false),
        None => {}
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let (loaded, scenario) = load(
        &args.config,
        &args.scenario,
        args.seed,
        args.keys.as_deref(),
    )?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let sim = Simulator::with_wall(
            &loaded.config,
            std::sync::Arc::new(loaded.wall),
            scenario,
            SimOptions {
                pty_dir: args.pty_dir.clone(),
                truth: args.truth,
                identities: args.mqtt_identities,
            },
        )
        .context("cannot create the simulated serial lines")?;
        for dev in sim.serial_links() {
            println!("{}", dev.display());
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let run = tokio::spawn(sim.run(stop_rx));
        tokio::select! {
            _ = run => {}
            _ = tokio::signal::ctrl_c() => { let _ = stop_tx.send(true); }
        }
        anyhow::Ok(())
    })
}
