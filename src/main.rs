//! The `rampart` command: run the daemon (and record its input), replay a
//! recording, run the demo, query the alert history, check a config.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{ArgAction, Parser, Subcommand};
use rampart::app::RunOptions;
use rampart::exit;
use rampart::record::format::Reader;
use rampart::record::recorder::RecordOptions;
use rampart::replay::{compare, report as show, Replay, Start};

mod alerts_cmd;
#[cfg(feature = "sim")]
mod demo;
#[cfg(feature = "sim")]
mod score_cmd;

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "Perimeter-intrusion detection daemon",
    after_help = rampart::exit::TABLE
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
        #[command(flatten)]
        record: RecordArgs,
    },
    /// Run detection on a recording with a config, as fast as the CPU
    /// allows, and print the incidents it raises (exit 1 if the recording
    /// is damaged before its end).
    Replay(ReplayArgs),
    /// Run firmware-sim scenarios (files or folders) through the detection
    /// in virtual time and score it against their ground truth: Pd with its
    /// 95% interval, nuisance alarms per 100 km per day, time to alert,
    /// location error.
    #[cfg(feature = "sim")]
    Score(score_cmd::ScoreArgs),
    /// Start an embedded broker, the daemon and the firmware simulator with
    /// a scripted scenario on the demo wall, and show the alerts.
    #[cfg(feature = "sim")]
    Demo(demo::DemoArgs),
    /// Show the alert history kept in the store (`--segment S042 --since
    /// 2h`, `--state open`, `--state unsent`, ...).
    Alerts(alerts_cmd::AlertsArgs),
    /// Check a config file and report every problem in it.
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
    /// Print a Mosquitto ACL for the deployment of a config file: the
    /// daemon's account, the control-room account, and one account per
    /// controller and camera that may publish only on its own topic.
    PrintAcl {
        /// The config file (TOML); it is loaded and checked as by
        /// `check-config`.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct RecordArgs {
    /// Record every raw input (sentence bytes, thermal frames, operator
    /// acknowledgements) with its receipt time to FILE, for `rampart
    /// replay`. The file is replaced if it exists.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// With --record: record thermal frames too (they are most of the bytes).
    #[arg(
        long,
        value_name = "BOOL",
        requires = "record",
        action = ArgAction::Set,
        num_args = 0..=1,
        default_value_t = true,
        default_missing_value = "true"
    )]
    record_frames: bool,
    /// With --record: stop recording once the file reaches SIZE (bytes, or
    /// with a K, M or G suffix, binary). Detection carries on.
    #[arg(long, value_name = "SIZE", requires = "record", value_parser = parse_size)]
    record_max_bytes: Option<u64>,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The config to replay with (NEW).
    #[arg(short, long, value_name = "NEW.toml")]
    config: PathBuf,
    /// The recording, from `rampart run --record`.
    recording: PathBuf,
    /// Also replay with this config (OLD) and show which incidents appear
    /// (only with NEW), disappear (only with OLD) or change.
    #[arg(long, value_name = "OLD.toml")]
    compare: Option<PathBuf>,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    json: bool,
}

/// `1048576`, `512K`, `100M`, `2G` (binary multiples; `KiB`, `MB`... too).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 1048576, 512K, 100M or 2G"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err(format!("`{s}`: the unit must be K, M or G")),
    };
    n.checked_mul(1 << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}` is not a usable size"))
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
        Command::PrintAcl { file } => print_acl(&file),
        Command::Run { config, record } => {
            let options = RunOptions {
                record: record.record.map(|path| RecordOptions {
                    path,
                    frames: record.record_frames,
                    max_bytes: record.record_max_bytes,
                }),
            };
            run(config, options)
        }
        Command::Replay(args) => replay(args),
        Command::Alerts(args) => alerts_cmd::run(args),
        #[cfg(feature = "sim")]
        Command::Score(args) => score_cmd::run(args),
        #[cfg(feature = "sim")]
        Command::Demo(args) => report(demo::run(args), exit::CANNOT_START),
    }
}

/// 0, or the error printed and `code` (see [`rampart::exit`]).
fn report(result: anyhow::Result<()>, code: u8) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: {e:#}");
            ExitCode::from(code)
        }
    }
}

/// `check-config`: 0 for a valid file, 1 for an invalid one (or an
/// `--against` file that does not load).
fn check_config(file: &Path, explain: bool, against: Option<&Path>) -> ExitCode {
    use rampart::config::explain;
    let loaded = match rampart::config::load(file) {
        Ok(loaded) => loaded,
        Err(problems) => {
            print_problems(file, &problems);
            return ExitCode::from(exit::CHECK_FAILED);
        }
    };
    let c = &loaded.config;
    let now_s = rampart::time::Timestamp::now().millis() / 1000;
    let security = rampart::config::security::summary(c, now_s);
    if !security.errors.is_empty() {
        // Valid, but it cannot work: the handshake will fail.
        for e in &security.errors {
            eprintln!(
                "{}: error: TLS {e}: the connection will fail",
                file.display()
            );
        }
        return ExitCode::from(exit::CHECK_FAILED);
    }
    println!(
        "{}: ok — wall {:.1} km in {} segments of {} m; {} fence and {} trench controllers; {} serial ports; broker {} ({}); {}",
        file.display(),
        loaded.wall.length_m() / 1000.0,
        loaded.wall.segment_count(),
        c.segment_length_m,
        c.fence.len(),
        c.trench.len(),
        c.serial.len(),
        c.mqtt.url,
        security.transport,
        security.sentences,
    );
    for w in &security.warnings {
        eprintln!("{}: warning: TLS {w}", file.display());
    }
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
                return ExitCode::from(exit::CHECK_FAILED);
            }
        };
        println!("changes from {}:", old_file.display());
        let diff = explain::diff(&old.config, &old.wall, c, &loaded.wall);
        print!("{}", explain::render_diff(&diff));
    }
    ExitCode::SUCCESS
}

/// `print-acl`: 0 with the ACL on stdout, 3 if the config does not load or
/// cannot be expressed as an ACL.
fn print_acl(file: &Path) -> ExitCode {
    let loaded = match rampart::config::load(file) {
        Ok(loaded) => loaded,
        Err(problems) => {
            print_problems(file, &problems);
            return ExitCode::from(exit::CONFIG);
        }
    };
    match rampart::acl::Acl::for_config(&loaded.config) {
        Ok(acl) => {
            print!("{}", acl.render(&file.display().to_string()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            ExitCode::from(exit::CONFIG)
        }
    }
}

fn print_problems(file: &Path, problems: &[rampart::config::Diagnostic]) {
    for p in problems {
        eprintln!("{p}");
    }
    eprintln!("{}: {} problem(s)", file.display(), problems.len());
}

/// `rampart replay`: one pass over the recording, through one config or two.
fn replay(args: ReplayArgs) -> ExitCode {
    let load = |file: &Path| {
        rampart::config::load(file)
            .map_err(|problems| print_problems(file, &problems))
            .ok()
    };
    let Some(new) = load(&args.config) else {
        return ExitCode::from(exit::CONFIG);
    };
    let old = match &args.compare {
        Some(file) => match load(file) {
            Some(old) => Some(old),
            None => return ExitCode::from(exit::CONFIG),
        },
        None => None,
    };
    let mut reader = match Reader::open(&args.recording) {
        Ok(r) => r,
        Err(e) => {
            // A file named on the command line.
            eprintln!("rampart: {}: {e}", args.recording.display());
            return ExitCode::from(exit::USAGE);
        }
    };
    let header = reader.header().clone();
    let start = Start::from_header(&header);
    let mut warnings = Vec::new();
    let cameras = new.config.camera.len() + old.as_ref().map_or(0, |o| o.config.camera.len());
    if !header.recorded.frames && cameras > 0 {
        warnings.push(
            "the recording holds no thermal frames (recorded with --record-frames=false): the cameras see nothing"
                .to_owned(),
        );
    }
    let mut replays: Vec<Replay> = std::iter::once(new)
        .chain(old)
        .map(|l| Replay::new(&l.config, Arc::new(l.wall), start.clone()))
        .collect();

    let began = Instant::now();
    let mut damaged = false;
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                for r in &mut replays {
                    r.push(&record);
                }
            }
            Ok(None) => break,
            Err(e) => {
                damaged = !e.is_truncated_tail();
                warnings.push(format!("{e}; the records before it were replayed"));
                break;
            }
        }
    }
    let mut results = replays.into_iter().map(Replay::finish);
    let (Some(new), old) = (results.next(), results.next()) else {
        unreachable!("one replay at least");
    };
    let elapsed = began.elapsed();
    for path in &new.unmatched_serial {
        warnings.push(format!(
            "serial line {path} is not in {}: any configured device was accepted on it",
            args.config.display()
        ));
    }
    if new.counts.long_gaps > 0 {
        warnings.push(format!(
            "{} gap(s) longer than {} s between records: ticking skipped to the next record after the first {} s",
            new.counts.long_gaps,
            rampart::replay::MAX_TICKED_GAP.as_secs(),
            rampart::replay::MAX_TICKED_GAP.as_secs()
        ));
    }
    for w in &warnings {
        eprintln!("rampart: warning: {w}");
    }

    let new_config = args.config.display().to_string();
    let old_config = args
        .compare
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let new_run = show::Run {
        config: &new_config,
        result: &new,
    };
    let old_run = old.as_ref().map(|result| show::Run {
        config: &old_config,
        result,
    });
    let comparison = old.as_ref().map(|old| compare::compare(old, &new));
    // Built whole and written once: a closed pipe (`| head`) is no error.
    let mut out = String::new();
    if args.json {
        let recording = args.recording.display().to_string();
        let meta = show::Meta {
            recording: &recording,
            header: &header,
            elapsed,
            warnings: &warnings,
        };
        let doc = show::json(&meta, new_run, old_run.zip(comparison.as_ref()));
        out = format!("{doc:#}\n");
    } else {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "{}: instance {}, started {}, recorded by rampart {}\n",
            args.recording.display(),
            header.instance,
            start.started,
            header.rampart_version
        );
        let _ = writeln!(out, "incidents with {new_config}:");
        out.push_str(&show::table(&new, None));
        if let (Some(old_run), Some(c)) = (old_run, &comparison) {
            out.push('\n');
            out.push_str(&show::comparison(old_run, new_run, c));
        }
        let _ = writeln!(out, "\n{}", show::summary(&new, elapsed));
    }
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush());
    }
    if damaged {
        ExitCode::from(exit::CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    }
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

/// `rampart run`: 0 after a graceful stop, 3 for a bad config, 4 if the
/// daemon cannot start, 70 (at once) when a component dies.
fn run(config: PathBuf, options: RunOptions) -> ExitCode {
    init_logging();
    let loaded = match rampart::config::load(&config) {
        Ok(loaded) => loaded,
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            eprintln!("rampart: invalid config:\n{}", lines.join("\n"));
            return ExitCode::from(exit::CONFIG);
        }
    };
    rampart::supervise::install_panic_hook();
    let started = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|rt| {
            rt.block_on(async {
                match rampart::app::run_with(loaded, options, shutdown_signal()).await {
                    Ok(_) => Ok(()),
                    // Logged already; at once, without waiting for anything.
                    Err(rampart::app::StartError::Died(_)) => {
                        std::process::exit(exit::COMPONENT_DIED.into())
                    }
                    Err(e) => Err(anyhow::Error::new(e).context("daemon failed to start")),
                }
            })
        });
    report(started, exit::CANNOT_START)
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
        std::process::exit(exit::SECOND_SIGNAL.into());
    });
}
