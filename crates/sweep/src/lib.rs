//! Running a plan: workers claim trials, run them and commit their results into the results
//! folder. Any number of workers (threads of one process, processes on one or many hosts,
//! Slurm array elements) share one sweep through that folder alone: see `claims` for the
//! protocol and ARCHITECTURE.md for its invariants.
//!
//! Architecture invariant: a trial's files appear whole or not at all, a trial that has a
//! final result is never written again, and `runs.csv` is rewritten atomically after every
//! trial, so a crash, kill or preemption loses at most the trials that were running.

pub mod catalog;
pub mod claims;
pub mod cost;
mod meta;
pub mod prune;
mod record;
pub mod results;
pub mod slurm;
pub mod status;
pub mod tpe;
mod worker;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rnnlab_spec::vocab::layout;
use rnnlab_spec::{Plan, Trial};

pub use catalog::{Builtin, WithData};
pub use claims::Claims;
pub use results::{ResultsDir, ResultsError, TrialRecord};
pub use rnnlab_spec::vocab::Meta;
pub use rnnlab_train::CurvePoint;
pub use worker::run;

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Results go to `<out_root>/<experiment name>/`.
    pub out_root: PathBuf,
    /// Trials at once (default: the number of cores).
    pub jobs: usize,
    /// Forget earlier results of this experiment.
    pub fresh: bool,
    /// When no trial is left to claim, wait for the trials other workers are running (and take
    /// over any whose worker dies) instead of returning.
    pub wait: bool,
    /// Run only these trial ids (a Slurm array element runs one); `None`: every trial.
    pub only: Option<HashSet<String>>,
    /// A TPE search's Slurm element (a `tpe:` line of a manifest): run one trial, a drawn
    /// point's that nobody runs, or else the first of a newly drawn point's; no start-up trial.
    pub tpe_element: bool,
    /// A claim without a heartbeat for this long is taken over.
    pub claim_timeout: Duration,
    /// The command line, recorded in meta.toml.
    pub command: String,
}

impl SweepOptions {
    /// Options with the defaults of `rnnlab sweep`: no `--fresh`, no `--wait`, every trial,
    /// the default claim timeout.
    pub fn new(out_root: PathBuf, jobs: usize, command: String) -> Self {
        SweepOptions {
            out_root,
            jobs,
            fresh: false,
            wait: false,
            only: None,
            tpe_element: false,
            claim_timeout: claims::DEFAULT_TIMEOUT,
            command,
        }
    }
}

/// Hooks for showing progress (the CLI draws a bar; tests record calls).
pub trait Progress: Sync {
    fn start(&self, _total: usize, _skipped: usize, _to_run: usize) {}
    fn trial_eval(&self, _trial: &Trial, _point: &CurvePoint, _total_steps: usize) {}
    fn trial_done(&self, _trial: &Trial, _record: &TrialRecord) {}
}

/// Progress hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl Progress for Quiet {}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    pub dir: PathBuf,
    pub total: usize,
    /// Trials that already had a result.
    pub skipped: usize,
    /// Trials this process ran.
    pub ran: usize,
    /// Trials other workers finished while this one ran.
    pub by_others: usize,
    /// Trials still without a final result when this worker stopped (running elsewhere,
    /// failed, or left by an interruption).
    pub missing: usize,
    /// Of those, trials that other live workers were running.
    pub running_elsewhere: usize,
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
    /// Stopped early by `[prune]` (final, like ok).
    pub pruned: usize,
    /// Stopped by a signal before every trial ran.
    pub interrupted: bool,
    pub wall_seconds: f64,
}

impl SweepOutcome {
    /// A sweep of `dir` that did nothing (yet).
    pub fn empty(dir: PathBuf) -> Self {
        SweepOutcome {
            dir,
            total: 0,
            skipped: 0,
            ran: 0,
            by_others: 0,
            missing: 0,
            running_elsewhere: 0,
            ok: 0,
            diverged: 0,
            failed: 0,
            pruned: 0,
            interrupted: false,
            wall_seconds: 0.0,
        }
    }
}

/// Errors that stop a sweep (a failing trial does not: it is recorded as failed).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error("cannot start {jobs} worker threads: {message}")]
    Pool { jobs: usize, message: String },
}

/// Threads each trial's matrix products get: the pool's threads shared among the trials that
/// run at once (one each when there are at least as many trials as threads).
pub fn threads_per_trial(jobs: usize, pending: usize) -> usize {
    (jobs / pending.clamp(1, jobs.max(1))).max(1)
}

/// Readies `plan`'s results folder for a worker, under the folder lock: `--fresh` clears it
/// (refused while other workers hold live claims), litter of dead processes is removed, and
/// `spec.toml` is written (refused if live workers run a plan with other trials).
pub fn prepare(plan: &Plan, opts: &SweepOptions) -> Result<Claims, SweepError> {
    let dir = ResultsDir::new(opts.out_root.join(&plan.experiment.name));
    let _lock = dir.lock()?;
    // First of all: the folder and trials/ are real folders (no links), litter removed.
    dir.create()?;
    let live: Vec<claims::ClaimView> =
        Claims::open(&dir, opts.claim_timeout)?.list().into_iter().filter(|c| !c.stale).collect();
    if opts.fresh {
        if !live.is_empty() {
            return Err(ResultsError::Busy { dir: dir.root.clone(), running: status::describe(&live) }.into());
        }
        dir.clear()?;
        dir.create()?;
    }
    let claims = Claims::open(&dir, opts.claim_timeout)?;
    let spec_path = dir.root.join(layout::SPEC);
    let current = std::fs::read_to_string(&spec_path).ok();
    if current.as_deref() == Some(plan.effective_spec.as_str()) {
        return Ok(claims);
    }
    if let (Some(_), false) = (&current, live.is_empty()) {
        // Live workers run the folder's spec: joining them needs the same trials.
        let theirs = rnnlab_spec::load(&spec_path, &[], &Builtin).ok();
        let same = theirs.is_some_and(|p| {
            p.trials.iter().map(|t| &t.id).collect::<HashSet<_>>() == plan.trials.iter().map(|t| &t.id).collect()
        });
        if !same {
            return Err(ResultsError::SpecChanged { dir: dir.root.clone(), running: status::describe(&live) }.into());
        }
    }
    dir.write_file(layout::SPEC, &plan.effective_spec)?;
    Ok(claims)
}

/// When the results folder holds another spec than `plan`'s: how many of its trial folders
/// with results are not `plan`'s (they stay cached, for a later sweep of that spec, and out of
/// this plan's report). `None` when the folder is new or holds this very spec.
pub fn earlier_spec_trials(plan: &Plan, out_root: &Path) -> Option<usize> {
    let dir = ResultsDir::new(out_root.join(&plan.experiment.name));
    let current = std::fs::read_to_string(dir.root.join(layout::SPEC)).ok()?;
    if current == plan.effective_spec {
        return None;
    }
    let ids: HashSet<&str> = plan.trials.iter().map(|t| t.id.as_str()).collect();
    let trials = std::fs::read_dir(dir.root.join(layout::TRIALS)).ok();
    let cached = trials
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().join(layout::RESULT).is_file() && !ids.contains(e.file_name().to_string_lossy().as_ref()))
        .count();
    Some(cached)
}

/// Rebuilds `runs.csv` from the trial folders (under the folder lock); returns its rows.
pub fn collect(plan: &Plan, dir: &ResultsDir) -> Result<usize, ResultsError> {
    let _lock = dir.lock()?;
    let mut records = HashMap::new();
    for trial in &plan.trials {
        if let Some(r) = dir.record(&trial.id)? {
            records.insert(trial.id.clone(), r);
        }
    }
    dir.write_runs(&plan.columns, &plan.trials, &records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_threads_go_to_trials_only_when_trials_are_fewer_than_threads() {
        assert_eq!(threads_per_trial(2, 30), 1);
        assert_eq!(threads_per_trial(2, 2), 1);
        assert_eq!(threads_per_trial(2, 1), 2);
        assert_eq!(threads_per_trial(16, 3), 5);
        assert_eq!(threads_per_trial(1, 0), 1);
    }
}
