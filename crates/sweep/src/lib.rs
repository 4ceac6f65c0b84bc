//! Running a plan: trials in parallel on a rayon pool, results written as they finish, resume
//! by skipping trials that already have a result.
//!
//! Architecture invariant: a trial's files appear whole or not at all, and `runs.csv` is
//! rewritten atomically after every trial, so a crash or Ctrl-C loses at most the trials
//! that were running.

pub mod catalog;
mod meta;
pub mod results;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

use rnnlab_spec::vocab::layout;
use rnnlab_spec::{Plan, Status, Trial};
use rnnlab_train::{run_trial, TrainError};

pub use catalog::Builtin;
pub use results::{ResultsDir, ResultsError, TrialRecord};
pub use rnnlab_spec::vocab::Meta;
pub use rnnlab_train::CurvePoint;

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Results go to `<out_root>/<experiment name>/`.
    pub out_root: PathBuf,
    /// Trials at once (default: the number of cores).
    pub jobs: usize,
    /// Forget earlier results of this experiment.
    pub fresh: bool,
    /// Wait for another sweep holding the results folder instead of failing.
    pub wait: bool,
    /// The command line, recorded in meta.toml.
    pub command: String,
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
    pub ran: usize,
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
    /// Stopped by Ctrl-C before every trial ran.
    pub interrupted: bool,
    pub wall_seconds: f64,
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

/// Runs every trial of `plan` that has no result yet.
pub fn run(
    plan: &Plan,
    opts: &SweepOptions,
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Result<SweepOutcome, SweepError> {
    let started = Instant::now();
    let dir = ResultsDir::new(opts.out_root.join(&plan.experiment.name));
    // Held until this function returns: no other sweep runs, clears or rewrites this folder.
    let _lock = dir.lock(opts.wait)?;
    if opts.fresh {
        dir.clear()?;
    }
    dir.create()?;
    dir.write_file(layout::SPEC, &plan.effective_spec)?;
    // Each result file is read once here; runs.csv is rebuilt from this map after every trial.
    let mut records = HashMap::new();
    let mut pending = Vec::new();
    for trial in &plan.trials {
        let record = dir.record(&trial.id)?;
        if !record.as_ref().is_some_and(TrialRecord::is_final) {
            pending.push(trial);
        }
        if let Some(r) = record {
            records.insert(trial.id.clone(), r);
        }
    }
    let skipped = plan.trials.len() - pending.len();
    progress.start(plan.trials.len(), skipped, pending.len());
    if pending.is_empty() {
        // Nothing to run: keep meta.toml as the run that produced these results left it.
        dir.write_runs(&plan.columns, &plan.trials, &records)?;
        return Ok(SweepOutcome {
            dir: dir.root,
            total: plan.trials.len(),
            skipped,
            ran: 0,
            ok: 0,
            diverged: 0,
            failed: 0,
            interrupted: false,
            wall_seconds: started.elapsed().as_secs_f64(),
        });
    }
    let mut meta = meta::start(plan, opts);
    dir.write_file(layout::META, &meta.to_toml())?;

    let jobs = opts.jobs.max(1);
    // Trials fill the pool's threads; when fewer trials than threads are pending, each trial's
    // matrix products share the spare ones.
    rnnlab_train::set_threads(threads_per_trial(jobs, pending.len()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| SweepError::Pool { jobs, message: e.to_string() })?;
    let records = Mutex::new(records);
    let counts = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];
    let first_error: Mutex<Option<ResultsError>> = Mutex::new(None);
    let run_one = |trial: &&Trial| {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let t0 = Instant::now();
        let on_eval = |p: &CurvePoint, total: usize| progress.trial_eval(trial, p, total);
        let outcome = catch_unwind(AssertUnwindSafe(|| run_trial(&trial.config, stop, &on_eval)));
        let (record, curve, checkpoint) = match outcome {
            Ok(Ok(result)) => (TrialRecord::from_result(&result), result.curve, result.checkpoint),
            Ok(Err(TrainError::Interrupted)) => return,
            Ok(Err(e)) => (TrialRecord::failed(e.to_string(), t0.elapsed().as_secs_f64()), Vec::new(), None),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                (TrialRecord::failed(format!("panicked: {msg}"), t0.elapsed().as_secs_f64()), Vec::new(), None)
            }
        };
        let slot = match record.status {
            Status::Ok => 0,
            Status::Diverged => 1,
            _ => 2,
        };
        counts[slot].fetch_add(1, Ordering::Relaxed);
        let written = dir.write_trial(trial, &curve, &record, checkpoint.as_ref()).and_then(|_| {
            let mut records = records.lock().unwrap_or_else(|p| p.into_inner());
            records.insert(trial.id.clone(), record.clone());
            dir.write_runs(&plan.columns, &plan.trials, &records).map(|_| ())
        });
        if let Err(e) = written {
            first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
            stop.store(true, Ordering::Relaxed);
        }
        progress.trial_done(trial, &record);
    };
    pool.install(|| {
        if jobs.min(pending.len()) > 1 {
            pending.par_iter().for_each(run_one);
        } else {
            pending.iter().for_each(run_one);
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e.into());
    }
    let records = records.into_inner().unwrap_or_else(|p| p.into_inner());
    dir.write_runs(&plan.columns, &plan.trials, &records)?;
    let [ok, diverged, failed] = counts.map(|c| c.into_inner());
    let ran = ok + diverged + failed;
    meta::finish(&mut meta, ran);
    dir.write_file(layout::META, &meta.to_toml())?;
    Ok(SweepOutcome {
        dir: dir.root,
        total: plan.trials.len(),
        skipped,
        ran,
        ok,
        diverged,
        failed,
        interrupted: ran < pending.len(),
        wall_seconds: started.elapsed().as_secs_f64(),
    })
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
