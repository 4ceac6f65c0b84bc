//! `rnnlab`: validate, plan, sweep and report on recurrent-network experiments.
//!
//! The binary is thin: it parses flags, loads the spec through `rnnlab-spec`, runs the sweep
//! through `rnnlab-sweep`, shows progress, and prints the summary from `rnnlab-report`.

mod args;
mod bench;
mod folder;
mod forward;
mod predict;
mod progress;
mod reference;
mod reproduce;
mod summary;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use rnnlab_spec::Plan;

use args::{exit, load, SpecArgs};
use summary::print_report;

#[derive(Parser)]
#[command(
    name = "rnnlab",
    version,
    about = "Declarative experiments with recurrent neural networks",
    after_help = "Docs: README.md (start here); docs/spec.md (every spec key, also `rnnlab reference`), \
                  docs/results.md (the results folder, exit codes, checkpoints), docs/cluster.md (workers, \
                  Slurm), docs/performance.md, docs/reproductions.md, docs/cuda.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a spec (every trial of its grid) without running anything.
    #[command(after_help = SPEC_DOCS)]
    Validate(SpecArgs),
    /// List the trials a spec expands to, without running them.
    #[command(after_help = SPEC_DOCS)]
    Plan(SpecArgs),
    /// Run every trial of a spec that has no result yet (joining any other workers on its
    /// results folder), then print the summary; `--slurm` submits them as Slurm job arrays.
    #[command(after_help = "The results folder, its files and exit codes: docs/results.md. Several workers, \
                            hosts and Slurm: docs/cluster.md.")]
    Sweep(sweep::SweepArgs),
    /// Show a results folder's trials: done, running (where, how long, which step), pending,
    /// failed, stale claims.
    #[command(after_help = CLUSTER_DOCS)]
    Status(folder::StatusArgs),
    /// Rebuild runs.csv and the report of a results folder from its trial folders.
    #[command(after_help = CLUSTER_DOCS)]
    Collect { dir: PathBuf },
    /// Sweep every experiment in experiments/ with `[[published]]` figures that has trials
    /// without results, one after the other, then rebuild results/index.md (`just reproduce`).
    #[command(after_help = "The published figures and how they were reproduced: docs/reproductions.md.")]
    Reproduce(reproduce::ReproduceArgs),
    /// Run one trial of a Slurm manifest (what `--slurm`'s job script runs).
    #[command(after_help = CLUSTER_DOCS)]
    Worker(sweep::WorkerArgs),
    /// Write report.md, report.html and plots/ for a results folder (e.g. results/parity) and
    /// print its summary table; on a folder of results folders (e.g. results/), write each one's
    /// report and index.md/index.html, the table of published figures across experiments.
    #[command(after_help = RESULTS_DOCS)]
    Report { dir: PathBuf },
    /// Compare the final metrics of two results folders (e.g. before and after a change).
    #[command(after_help = RESULTS_DOCS)]
    Compare {
        a: PathBuf,
        b: PathBuf,
        /// Print a Markdown table instead of aligned text.
        #[arg(long)]
        markdown: bool,
    },
    /// List the dataset plugins and their keys (docs/spec.md has the same, and every other key).
    #[command(after_help = SPEC_DOCS)]
    Plugins,
    /// Print the spec reference (every section and key, generated from this build: what
    /// docs/spec.md holds), or write it to a file with `--out`.
    #[command(after_help = SPEC_DOCS)]
    Reference {
        /// Write the page here instead of printing it (atomically, unless it is a device or FIFO).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a model's output at every step for every test sequence (e.g. the `manual` plugin).
    #[command(after_help = "The `manual` plugin, whose sequences are written in the spec: docs/spec.md.")]
    Forward {
        #[command(flatten)]
        spec: SpecArgs,
        /// Use the first trial with this seed [default: the plan's first trial].
        #[arg(long)]
        seed: Option<u64>,
        /// Use the trial with this id (see `rnnlab plan`).
        #[arg(long)]
        trial: Option<String>,
        /// Train the trial first (as a sweep would), then run forward.
        #[arg(long)]
        train: bool,
    },
    /// Time training steps on the benchmark workloads (see `just bench`).
    #[command(after_help = "How to benchmark, and the current numbers beside PyTorch: docs/performance.md.")]
    Bench(bench::BenchArgs),
    /// Run a saved trial's model (`[train] save_checkpoint = true`) on a file of sequences.
    #[command(after_help = "Checkpoints, `predict` and loading a model into PyTorch: docs/results.md.")]
    Predict(predict::PredictArgs),
}

const SPEC_DOCS: &str = "Every section and key of a spec: docs/spec.md (or `rnnlab reference`).";
const CLUSTER_DOCS: &str = "Workers, claims, status and Slurm: docs/cluster.md.";
const RESULTS_DOCS: &str = "The results folder, runs.csv, the report and its statistics: docs/results.md.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit code for an error that stopped a command.
fn exit_code(e: &anyhow::Error) -> u8 {
    use rnnlab_sweep::slurm::SlurmError;
    use rnnlab_sweep::{ResultsError, SweepError};
    let results = e.downcast_ref::<ResultsError>().or_else(|| match e.downcast_ref::<SweepError>() {
        Some(SweepError::Results(r)) => Some(r),
        _ => None,
    });
    let results = results.or_else(|| match e.downcast_ref::<SlurmError>() {
        Some(SlurmError::Results(r)) => Some(r),
        _ => None,
    });
    match results {
        Some(ResultsError::Busy { .. } | ResultsError::SpecChanged { .. }) => exit::BUSY,
        Some(_) => exit::RESULTS_IO,
        None if e.downcast_ref::<SlurmError>().is_some() => exit::SLURM,
        None => exit::INVALID,
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => {
            let Some(plan) = load(&args)? else { return Ok(ExitCode::from(exit::INVALID)) };
            println!("{}: ok — {}", args.spec.display(), plan_size(&plan).replace(": ", " (") + ")");
            warn_few_seeds(&plan);
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(args) => {
            let Some(mut plan) = load(&args)? else { return Ok(ExitCode::from(exit::INVALID)) };
            // A TPE search lists the points drawn so far in its results folder.
            let folder = Path::new("results").join(&plan.experiment.name);
            if plan.tpe.is_some() && folder.join(rnnlab_spec::vocab::layout::SPEC).is_file() {
                rnnlab_sweep::tpe::extend(&mut plan, &rnnlab_sweep::ResultsDir::new(folder))?;
            }
            print_plan(&plan);
            warn_few_seeds(&plan);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep(args) => sweep::sweep(&args),
        Command::Status(args) => folder::show_status(&args),
        Command::Collect { dir } => folder::collect(&dir),
        Command::Worker(args) => sweep::worker(&args),
        Command::Report { dir } if rnnlab_report::index::is_collection(&dir) => {
            summary::report_collection(&dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reproduce(args) => reproduce::run(&args),
        Command::Report { dir } => {
            let config = rnnlab_report::report_config(&dir)?;
            // Workers may be writing it too.
            let _lock = rnnlab_sweep::ResultsDir::new(dir.clone()).lock()?;
            let report = rnnlab_report::write_report(&dir, &config)?;
            print_report(&report);
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare { a, b, markdown } => {
            let table = rnnlab_report::compare::compare(&a, &b)?;
            print!("{}", if markdown { table.to_markdown() } else { table.to_text() });
            Ok(ExitCode::SUCCESS)
        }
        Command::Forward { spec, seed, trial, train } => forward::run(&spec, seed, trial, train),
        Command::Predict(args) => {
            predict::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            bench::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugins => {
            for p in rnnlab_data::PLUGINS {
                println!("{} — {}", p.name(), p.doc());
                for k in rnnlab_spec::reference::keys(&p.keys()) {
                    println!("    {:<14} {:<22} default {:<14} {}", k.name, k.kind, k.default, k.doc);
                }
                println!();
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reference { out } => {
            let page = reference::spec_page();
            match out {
                Some(path) => rnnlab_spec::files::write_output(&path, page.as_bytes())
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
                None => print!("{page}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_plan(plan: &Plan) {
    use std::io::Write;
    let hyperband = plan.prune.as_ref().filter(|p| p.method == rnnlab_spec::PruneMethod::Hyperband);
    let mut header = vec!["trial".to_string()];
    header.extend(plan.columns.iter().cloned());
    header.extend(["seed".into(), "params".into()]);
    if hyperband.is_some() {
        header.push("bracket (first rung)".into());
    }
    // Each trial's cells after its grid point.
    let tail = |t: &rnnlab_spec::Trial| {
        let mut cells = vec![t.config.seed.to_string(), t.params.map_or("?".to_string(), |p| p.to_string())];
        if let Some(h) = hyperband {
            cells.push(format!("{} ({})", h.bracket(&t.id), h.first_rung(&t.id)));
        }
        cells
    };
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for t in &plan.trials {
        let cells = std::iter::once(t.id.clone()).chain(t.point.iter().map(|(_, v)| v.clone())).chain(tail(t));
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.len());
        }
    }
    // One buffered writer: a plan of a million trials prints in a second, not a minute.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| {
        let text: Vec<String> = cells.zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        writeln!(out, "{}", text.join("  ").trim_end())
    };
    let mut ok = line(&mut out, &mut header.iter().map(String::as_str));
    for t in &plan.trials {
        let tail = tail(t);
        let mut cells = std::iter::once(t.id.as_str())
            .chain(t.point.iter().map(|(_, v)| v.as_str()))
            .chain(tail.iter().map(String::as_str));
        ok = ok.and_then(|_| line(&mut out, &mut cells));
    }
    let _ = ok.and_then(|_| out.flush());
    if let Some(h) = hyperband {
        println!(
            "hyperband: {} brackets, first rungs {}",
            h.brackets(),
            (0..h.brackets()).map(|k| h.bracket_rung(k).to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(tpe) = &plan.tpe {
        let left = rnnlab_sweep::tpe::remaining(plan, &plan.trials);
        println!(
            "tpe: {} search{} of {} points on `{}` ({} random start-up points each); {left} point{} left to draw as \
             trials finish (× {} seed{})",
            tpe.groups.len(),
            if tpe.groups.len() == 1 { "" } else { "es" },
            tpe.budget(),
            tpe.metric,
            tpe.startup,
            if left == 1 { "" } else { "s" },
            plan.experiment.seeds.len(),
            if plan.experiment.seeds.len() == 1 { "" } else { "s" },
        );
    }
    println!("{}; results in results/{}/", plan_size(plan), plan.experiment.name);
}

/// A note when the report's comparison cannot reach a verdict: with fewer seeds than a verdict
/// needs, every pair is "not separable" whatever the results.
fn warn_few_seeds(plan: &Plan) {
    use rnnlab_report::pairwise::{DEFAULT_AXIS, MIN_SEEDS};
    let axis = plan.report.compare.as_deref().unwrap_or(DEFAULT_AXIS);
    let seeds = plan.experiment.seeds.len();
    if plan.columns.iter().any(|c| c == axis) && seeds < MIN_SEEDS {
        eprintln!(
            "note: {seeds} seed{} per grid point: the report's comparison of `{axis}` needs at least {MIN_SEEDS} \
             seeds on each side for a verdict (with fewer, every pair reads \"not separable\"); set \
             `[experiment] seeds` to {MIN_SEEDS} or more",
            if seeds == 1 { "" } else { "s" }
        );
    }
}

/// "6 trials: 3 grid points × 2 seeds", singular where a count is 1.
fn plan_size(plan: &rnnlab_spec::Plan) -> String {
    let seeds = plan.experiment.seeds.len();
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}: {} × {}",
        count(plan.trials.len(), "trial"),
        count(plan.trials.len() / seeds, "grid point"),
        count(seeds, "seed")
    )
}
