//! `firmware-sim`: simulated fence and trench controllers for Rampart.
//!
//! Reads the daemon's config to learn the controllers and where their zones
//! and channels lie, and a scenario file for transports and scripted events.
//! Serial devices get a pseudo-terminal each, linked as `<pty-dir>/<device>`;
//! point the daemon's `[[serial]] path` at those links. Every configured
//! `[[camera]]` (or those the scenario's `cameras` names) publishes
//! synthetic thermal frames on `<root>/v1/camera/<id>/frame`.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tokio::sync::watch;

use rampart::sim::scenario::Scenario;
use rampart::sim::{SimOptions, Simulator};

#[derive(Parser)]
#[command(
    name = "firmware-sim",
    version,
    about = "Simulated Rampart field controllers"
)]
struct Args {
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
    /// Write the ground truth (one JSON line per event) here.
    #[arg(long)]
    truth: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let loaded = rampart::config::load(&args.config).map_err(|p| {
        let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid rampart config:\n{}", lines.join("\n"))
    })?;
    let devices: HashSet<String> = loaded
        .config
        .fence
        .iter()
        .map(|d| d.id.clone())
        .chain(loaded.config.trench.iter().map(|d| d.id.clone()))
        .collect();
    let cameras: HashSet<String> = loaded.config.camera.iter().map(|c| c.id.clone()).collect();
    let mut scenario =
        Scenario::load_with_cameras(&args.scenario, &devices, &cameras).map_err(|p| {
            let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("invalid scenario:\n{}", lines.join("\n"))
        })?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let sim = Simulator::with_wall(
            &loaded.config,
            std::sync::Arc::new(loaded.wall),
            scenario,
            SimOptions {
                pty_dir: args.pty_dir.clone(),
                truth: args.truth,
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
