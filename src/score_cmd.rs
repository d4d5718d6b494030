//! `rampart score`: runs scenario files through the detection and reports
//! Pd, NAR, time to alert and location error against their ground truth.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use rampart::score::runner::{self, ScenarioRun};
use rampart::score::{report, summarize};

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// The deployment config every scenario runs against (the same for all).
    #[arg(short, long, default_value = "config/reference-site.toml")]
    config: PathBuf,
    /// Scenario files or folders of them.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// Exit 1 if a target is not met.
    #[arg(long)]
    check: bool,
    /// Scenarios run at once (default: the number of cores).
    #[arg(short, long)]
    jobs: Option<usize>,
}

use rampart::exit;

pub fn run(args: ScoreArgs) -> ExitCode {
    let loaded = match rampart::config::load(&args.config) {
        Ok(l) => l,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            return ExitCode::from(exit::CONFIG);
        }
    };
    let files = match runner::scenario_files(&args.scenarios) {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => {
            eprintln!("rampart score: no scenario files found");
            return ExitCode::from(exit::USAGE);
        }
        Err(e) => {
            eprintln!("rampart score: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let started = std::time::Instant::now();
    let config = &loaded.config;
    let wall = Arc::new(loaded.wall);
    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .clamp(1, files.len());
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<ScenarioRun, String>>>> =
        Mutex::new(vec![None; files.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(file) = files.get(i) else { return };
                let r = runner::run_scenario(config, &wall, file).map_err(|e| e.to_string());
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    let mut scores = Vec::new();
    let mut failed = false;
    let (mut sentences, mut frames) = (0, 0);
    for (file, r) in files.iter().zip(results.into_inner().unwrap_or_default()) {
        match r {
            Some(Ok(run)) => {
                sentences += run.sentences;
                frames += run.frames;
                if !args.json {
                    println!("{}", report::scenario_line(&run.score));
                }
                scores.push(run.score);
            }
            Some(Err(e)) => {
                eprintln!("{}: {e}", file.display());
                failed = true;
            }
            None => failed = true,
        }
    }
    let summary = summarize(&scores);
    let targets = report::targets(&summary);
    if args.json {
        let doc = serde_json::json!({
            "config": args.config,
            "scenarios": scores,
            "summary": summary,
            "targets": targets,
        });
        println!("{doc:#}");
    } else {
        println!();
        print!("{}", report::summary_text(&summary));
        println!(
            "{} scenarios, {sentences} sentences and {frames} frames in {:.1} s on {jobs} thread(s)",
            scores.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if failed || (args.check && targets.iter().any(|t| !t.met)) {
        ExitCode::from(exit::CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
