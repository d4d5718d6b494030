//! The `rampart` command: run the daemon, run the demo, check a config.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[cfg(feature = "sim")]
mod demo;

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "Perimeter-intrusion detection daemon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon with a config file.
    Run {
        /// The config file (TOML).
        #[arg(short, long, default_value = "config/rampart.toml")]
        config: PathBuf,
    },
    /// Start an embedded broker, the daemon and the firmware simulator with
    /// a scripted scenario on the demo wall, and show the alerts.
    #[cfg(feature = "sim")]
    Demo(demo::DemoArgs),
    /// Check a config file and report every problem in it; optionally
    /// explain its effective thresholds or what changing to it would do.
    CheckConfig {
        /// The config file (TOML).
        file: PathBuf,
        /// Print the effective thresholds of every sensor, by segment, under
        /// every profile.
        #[arg(long)]
        explain: bool,
        /// Print which effective thresholds change from OLD to FILE, by
        /// segment and profile, and the devices added and removed.
        #[arg(long, value_name = "OLD")]
        against: Option<PathBuf>,
    },
    /// Print the commented default configuration.
    PrintDefaultConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::PrintDefaultConfig => {
            print!("{}", rampart::config::DEFAULT_TOML);
            ExitCode::SUCCESS
        }
        Command::CheckConfig {
            file,
            explain,
            against,
        } => check_config(&file, explain, against.as_deref()),
        Command::Run { config } => report(run(config)),
        #[cfg(feature = "sim")]
        Command::Demo(args) => report(demo::run(args)),
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `check-config`: 0 for a valid file, 1 for an invalid one (or an
/// `--against` file that does not load).
fn check_config(
    file: &std::path::Path,
    explain: bool,
    against: Option<&std::path::Path>,
) -> ExitCode {
    use rampart::config::explain;
    let print_problems = |file: &std::path::Path, problems: &[rampart::config::Diagnostic]| {
        for p in problems {
            eprintln!("{p}");
        }
        eprintln!("{}: {} problem(s)", file.display(), problems.len());
    };
    let loaded = match rampart::config::load(file) {
        Ok(loaded) => loaded,
        Err(problems) => {
            print_problems(file, &problems);
            return ExitCode::FAILURE;
        }
    };
    let c = &loaded.config;
    println!(
        "{}: ok — wall {:.1} km in {} segments of {} m; {} fence and {} trench controllers; {} serial ports; broker {}{}",
        file.display(),
        loaded.wall.length_m() / 1000.0,
        loaded.wall.segment_count(),
        c.segment_length_m,
        c.fence.len(),
        c.trench.len(),
        c.serial.len(),
        c.mqtt.url,
        if c.mqtt.embedded_broker { " (embedded)" } else { "" },
    );
    if explain {
        let now = rampart::time::Timestamp::now();
        println!("{}", explain::render_active(c, now));
        print!(
            "{}",
            explain::render_effective(&explain::effective(c, &loaded.wall))
        );
    }
    if let Some(old_file) = against {
        let old = match rampart::config::load(old_file) {
            Ok(old) => old,
            Err(problems) => {
                eprintln!("{}: cannot compare against it:", old_file.display());
                print_problems(old_file, &problems);
                return ExitCode::FAILURE;
            }
        };
        println!("changes from {}:", old_file.display());
        let diff = explain::diff(&old.config, &old.wall, c, &loaded.wall);
        print!("{}", explain::render_diff(&diff));
    }
    ExitCode::SUCCESS
}

/// Logs go to stderr: `RUST_LOG` filters them (default `info`).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(config: PathBuf) -> anyhow::Result<()> {
    init_logging();
    let loaded = rampart::config::load(&config).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid config:\n{}", lines.join("\n"))
    })?;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async {
        rampart::app::run(loaded, shutdown_signal())
            .await
            .map(|_| ())
            .context("daemon failed to start")
    })
}

/// Completes on the first SIGINT or SIGTERM; a second one exits at once.
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the daemon with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("signal received: shutting down gracefully (send another to exit at once)");
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("rampart: second signal, exiting now");
        std::process::exit(130);
    });
}
