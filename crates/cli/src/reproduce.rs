//! `rnnlab reproduce` (`just reproduce`): every experiment with `[[published]]` figures that has
//! trials without results, swept one after the other, then the index of published figures
//! rebuilt (results/index.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use rnnlab_sweep::{status, ResultsDir};

use crate::args::{exit, load, SpecArgs};
use crate::sweep::{sweep, SweepArgs};

#[derive(Args)]
pub struct ReproduceArgs {
    /// The folder of experiment specs.
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
    /// Only list the experiments and how many of their trials lack results.
    #[arg(long)]
    dry_run: bool,
    /// Override a key of every spec (as `sweep --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Trials to run at once [default: number of cores].
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Results under this folder instead of `results/`.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Submit each experiment's trials as Slurm job arrays instead of running them here (the
    /// index is rebuilt from what has finished; run `rnnlab report results/` again later).
    #[arg(long)]
    slurm: bool,
}

/// The specs in `dir` (sorted by name) that have `[[published]]` entries.
fn published_specs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
    let mut specs: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|s| s.lines().any(|l| l.trim() == "[[published]]")))
        .collect();
    specs.sort();
    Ok(specs)
}

pub fn run(args: &ReproduceArgs) -> anyhow::Result<ExitCode> {
    let mut failed = Vec::new();
    for spec in published_specs(&args.experiments)? {
        let spec_args = SpecArgs { spec: spec.clone(), set: args.set.clone() };
        // A spec that does not load (its data not fetched, say) is reported and skipped.
        let Some(plan) = load(&spec_args)? else {
            failed.push(format!("{}: does not load (above)", spec.display()));
            continue;
        };
        let dir = ResultsDir::new(args.out.join(&plan.experiment.name));
        let state = status::read(&dir, &plan, rnnlab_sweep::claims::DEFAULT_TIMEOUT)?;
        let left = state.total - state.done();
        println!(
            "{}: {left} of {} trials without results{}",
            spec.display(),
            state.total,
            if state.running.is_empty() {
                String::new()
            } else {
                format!(" ({} running elsewhere)", state.running.len())
            }
        );
        if left == 0 || args.dry_run {
            continue;
        }
        let code = sweep(&SweepArgs::new(spec_args, args.jobs, args.out.clone(), args.slurm))?;
        if code != ExitCode::SUCCESS {
            failed.push(format!("{}: the sweep did not finish cleanly", spec.display()));
            if crate::sweep::STOP.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(code);
            }
        }
    }
    if !args.dry_run {
        crate::summary::report_collection(&args.out)?;
    }
    for f in &failed {
        eprintln!("error: {f}");
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(exit::TRIAL_FAILED) })
}
