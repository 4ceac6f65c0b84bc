//! One worker's loop: claim the next trial (longest first), run it, commit its result under
//! the folder lock, until no trial is left to claim. [`run`] sets up what the worker threads
//! share ([`Shared`]: the queue, the counts, the first error) and accounts for what they did.
//!
//! (Over 300 lines: the loop, its thread rebalancing and its stop handling share the state of
//! one worker and read top to bottom.)

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use rnnlab_spec::vocab::layout;
use rnnlab_spec::{Plan, Status, Trial};
use rnnlab_train::{run_resumable_trial, Resume, TrainError};

use crate::{cost, meta, prepare, threads_per_trial, Claims, CurvePoint, Progress, ResultsDir, ResultsError};
use crate::{SweepError, SweepOptions, SweepOutcome, TrialRecord};

/// Runs, as one worker, the trials of `plan` that have no result and no live claim, longest
/// first, until none is left (or `stop` is set).
pub fn run(
    plan: &Plan,
    opts: &SweepOptions,
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Result<SweepOutcome, SweepError> {
    let started = Instant::now();
    let dir = ResultsDir::new(opts.out_root.join(&plan.experiment.name));
    let claims = prepare(plan, opts)?;
    let (plan, start_up) = with_drawn_points(plan, opts, &dir)?;
    let plan = plan.as_ref();
    let wanted = |t: &Trial| opts.only.as_ref().is_none_or(|only| only.contains(&t.id)) && !start_up.contains(&t.id);
    // Every result file is read once here, then only those of trials not yet final.
    let mut records = HashMap::new();
    for trial in &plan.trials {
        if let Some(r) = dir.record(&trial.id)? {
            records.insert(trial.id.clone(), r);
        }
    }
    let order: Vec<&Trial> = cost::longest_first(plan.trials.iter().map(|t| &t.config))
        .into_iter()
        .map(|i| &plan.trials[i])
        .filter(|t| wanted(t))
        .collect();
    let pending: Vec<&Trial> = order.iter().copied().filter(|t| !is_final(&records, &t.id)).collect();
    // TPE points not drawn yet, each with a trial per seed.
    let to_draw =
        if opts.only.is_none() { crate::tpe::remaining(plan, &plan.trials) * plan.experiment.seeds.len() } else { 0 };
    let (total, skipped) = (order.len() + to_draw, order.len() - pending.len());
    progress.start(total, skipped, pending.len() + to_draw);
    if pending.is_empty() && to_draw == 0 {
        // Nothing to run: keep meta.toml as the run that produced these results left it.
        let _lock = dir.lock()?;
        dir.write_runs(&plan.columns, &plan.trials, &records)?;
        let idle = SweepOutcome { total, skipped, ..SweepOutcome::empty(dir.root.clone()) };
        return Ok(SweepOutcome { wall_seconds: started.elapsed().as_secs_f64(), ..idle });
    }
    let mut meta = meta::start(plan, opts);
    dir.write_file(layout::META, &meta.to_toml())?;
    let jobs = opts.jobs.max(1);
    // Trials fill the pool's threads; when fewer trials than threads are running or left to
    // start, the running trials' matrix products share the spare ones. Rebalanced whenever a
    // trial starts or ends (products read the count as they start; results do not depend on it).
    rnnlab_train::set_threads(threads_per_trial(jobs, pending.len() + to_draw));
    let shared = Shared {
        plan,
        opts,
        dir: &dir,
        claims: &claims,
        pruner: plan.prune.as_ref().map(|c| crate::prune::Pruner::open(&dir, c, plan)).transpose()?,
        progress,
        stop,
        queue: Queue {
            plan,
            order: &pending,
            drawn: Mutex::new(Vec::new()),
            draws: opts.only.is_none(),
            records: Mutex::new(records),
            tried: Mutex::new(HashSet::new()),
            since: SystemTime::now(),
        },
        counts: Default::default(),
        first_error: Mutex::new(None),
        running: AtomicUsize::new(0),
        started_trials: AtomicUsize::new(0),
    };
    // Trials run on this pool (each worker thread hands its trial to it), so a trial's
    // multi-threaded products use the sweep's threads, not rayon's global pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| SweepError::Pool { jobs, message: e.to_string() })?;
    let threads = if opts.tpe_element { 1 } else { jobs.min(pending.len() + to_draw) };
    shared.run_workers(&pool, threads);
    claims.release_all();
    if let Some(e) = shared.first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e.into());
    }
    let drawn = shared.queue.drawn.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut records = shared.queue.records.into_inner().unwrap_or_else(|p| p.into_inner());
    let (missing, running_elsewhere) = {
        let _lock = dir.lock()?;
        let mine: Vec<&Trial> = pending.iter().copied().chain(&drawn).collect();
        refresh(&dir, &mine, &mut records)?;
        dir.write_runs(&plan.columns, &[&plan.trials[..], &drawn[..]].concat(), &records)?;
        let missing: Vec<&&Trial> = mine.iter().filter(|t| !is_final(&records, &t.id)).collect();
        let live = missing.iter().filter(|t| claims.view(&t.id).is_some_and(|c| !c.stale)).count();
        (missing.len(), live)
    };
    let [ok, diverged, failed, pruned] = shared.counts.map(|c| c.into_inner());
    let ran = ok + diverged + failed + pruned;
    meta::finish(&mut meta, ran);
    dir.write_file(layout::META, &meta.to_toml())?;
    let finished_now = pending.len() + drawn.len() - missing;
    Ok(SweepOutcome {
        total,
        skipped,
        ran,
        by_others: finished_now.saturating_sub(ok + diverged + pruned),
        missing,
        running_elsewhere,
        ok,
        diverged,
        failed,
        pruned,
        interrupted: stop.load(Ordering::Relaxed) && missing > 0,
        wall_seconds: started.elapsed().as_secs_f64(),
        ..SweepOutcome::empty(dir.root)
    })
}

fn is_final(records: &HashMap<String, TrialRecord>, id: &str) -> bool {
    records.get(id).is_some_and(TrialRecord::is_final)
}

/// The plan with a TPE search's points drawn so far (by earlier runs and other workers), and
/// the trials a TPE element leaves alone (the start-up ones).
fn with_drawn_points<'a>(
    plan: &'a Plan,
    opts: &SweepOptions,
    dir: &ResultsDir,
) -> Result<(Cow<'a, Plan>, HashSet<String>), ResultsError> {
    if plan.tpe.is_none() {
        return Ok((Cow::Borrowed(plan), HashSet::new()));
    }
    let drawn = crate::tpe::drawn_trials(dir, plan)?;
    // The plan given may already hold drawn points' trials (`status`, the Slurm worker).
    let start_up = if opts.tpe_element {
        let ids: HashSet<&str> = drawn.iter().map(|t| t.id.as_str()).collect();
        plan.trials.iter().map(|t| t.id.clone()).filter(|id| !ids.contains(id.as_str())).collect()
    } else {
        HashSet::new()
    };
    let mut extended = plan.clone();
    crate::tpe::add_new(&mut extended.trials, drawn);
    Ok((Cow::Owned(extended), start_up))
}

/// What the worker threads of one process share.
struct Shared<'a> {
    plan: &'a Plan,
    opts: &'a SweepOptions,
    dir: &'a ResultsDir,
    claims: &'a Claims,
    pruner: Option<crate::prune::Pruner>,
    progress: &'a dyn Progress,
    stop: &'a AtomicBool,
    queue: Queue<'a>,
    /// Trials committed ok, diverged, failed, pruned.
    counts: [AtomicUsize; 4],
    first_error: Mutex<Option<ResultsError>>,
    /// Trials running in this process now.
    running: AtomicUsize,
    /// Trials this process has started.
    started_trials: AtomicUsize,
}

impl Shared<'_> {
    /// Records the first folder error and stops every worker.
    fn fail(&self, e: ResultsError) {
        self.first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
        self.stop.store(true, Ordering::Relaxed);
    }

    /// `threads` workers, each claiming and running trials on `pool` until none is left, and
    /// the heartbeat that keeps their claims alive.
    fn run_workers(&self, pool: &rayon::ThreadPool, threads: usize) {
        let jobs = self.opts.jobs.max(1);
        let worker = || loop {
            let one_done = self.opts.tpe_element && self.started_trials.load(Ordering::Relaxed) > 0;
            if self.stop.load(Ordering::Relaxed) || one_done {
                return;
            }
            match self.queue.next(self.dir, self.claims, self.opts.wait) {
                Ok(Next::Run(trial)) => {
                    self.started_trials.fetch_add(1, Ordering::Relaxed);
                    let rebalance =
                        |now: usize| rnnlab_train::set_threads(threads_per_trial(jobs, now + self.queue.untried()));
                    rebalance(self.running.fetch_add(1, Ordering::Relaxed) + 1);
                    pool.install(|| self.run_one(&trial));
                    rebalance(self.running.fetch_sub(1, Ordering::Relaxed) - 1);
                }
                Ok(Next::Wait) => std::thread::sleep(Duration::from_millis(500)),
                Ok(Next::Done) => return,
                Err(e) => self.fail(e),
            }
        };
        let beating = AtomicBool::new(true);
        std::thread::scope(|s| {
            // The heartbeat: every held claim rewritten while its trial runs.
            s.spawn(|| {
                let mut last = Instant::now();
                while beating.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    if last.elapsed() >= self.claims.beat_every() {
                        self.claims.beat();
                        last = Instant::now();
                    }
                }
            });
            let workers: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
            for w in workers {
                let _ = w.join();
            }
            beating.store(false, Ordering::Relaxed);
        });
    }

    /// Runs one claimed trial (resuming its snapshot if it has one) and commits its result.
    fn run_one(&self, trial: &Trial) {
        let (dir, claims) = (self.dir, self.claims);
        let t0 = Instant::now();
        let on_eval = |p: &CurvePoint, total: usize| {
            claims.progress(&trial.id, p.step, total);
            self.progress.trial_eval(trial, p, total)
        };
        let judge = |curve: &[CurvePoint]| self.pruner.as_ref().and_then(|p| p.judge(&trial.id, curve));
        // A snapshot left by an interrupted run of this trial continues it; each evaluation
        // writes the next (a snapshot that cannot be written only costs the resume).
        let save = |s: &rnnlab_train::Snapshot| {
            let _ = dir.write_snapshot(&trial.id, s);
        };
        let resume = Resume { from: dir.snapshot(&trial.id), save: &save };
        let outcome =
            catch_unwind(AssertUnwindSafe(|| run_resumable_trial(&trial.config, self.stop, &on_eval, &judge, resume)));
        let (record, curve, checkpoint) = match outcome {
            Ok(Ok(result)) => (TrialRecord::from_result(&result), result.curve, result.checkpoint),
            Ok(Err(TrainError::Interrupted)) => {
                claims.release(&trial.id);
                return;
            }
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
        let committed = self.queue.commit(dir, claims, self.plan, trial, &curve, &record, checkpoint.as_ref());
        if committed.is_ok() {
            dir.remove_snapshot(&trial.id);
        }
        match committed {
            Ok(true) => {
                let slot = match record.status {
                    Status::Ok => 0,
                    Status::Diverged => 1,
                    Status::Pruned => 3,
                    _ => 2,
                };
                self.counts[slot].fetch_add(1, Ordering::Relaxed);
                self.progress.trial_done(trial, &record);
            }
            Ok(false) => {}
            Err(e) => self.fail(e),
        }
    }
}

/// Reads the results of `trials` that are not final in `records` (other workers may have
/// committed them).
fn refresh(
    dir: &ResultsDir,
    trials: &[&Trial],
    records: &mut HashMap<String, TrialRecord>,
) -> Result<(), ResultsError> {
    for t in trials {
        if !records.get(&t.id).is_some_and(TrialRecord::is_final) {
            if let Some(r) = dir.record(&t.id)? {
                records.insert(t.id.clone(), r);
            }
        }
    }
    Ok(())
}

enum Next {
    Run(Box<Trial>),
    /// Nothing to claim now, but other workers run trials that may yet be left to us.
    Wait,
    Done,
}

/// The trials a worker may run, longest first, and what it knows of their results.
struct Queue<'a> {
    plan: &'a Plan,
    order: &'a [&'a Trial],
    /// The trials of the TPE points this process drew.
    drawn: Mutex<Vec<Trial>>,
    /// Whether this worker draws TPE points (not when it runs given trials only).
    draws: bool,
    records: Mutex<HashMap<String, TrialRecord>>,
    /// Trials this process has run (or seen finished): not tried again in this run, even if
    /// they failed.
    tried: Mutex<HashSet<String>>,
    /// When this worker started: a trial that another worker's run of this sweep recorded
    /// `failed` after it is not retried by this one (failed trials are retried by the next
    /// sweep, not by every worker of this one).
    since: SystemTime,
}

impl<'a> Queue<'a> {
    /// The next trial this worker claims.
    fn next(&self, dir: &ResultsDir, claims: &Claims, wait: bool) -> Result<Next, ResultsError> {
        let mut tried = self.tried.lock().unwrap_or_else(|p| p.into_inner());
        let mut others = false;
        let drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for trial in self.order.iter().copied().chain(&drawn) {
            if tried.contains(&trial.id) {
                continue;
            }
            if self.final_on_disk(dir, &trial.id)? || self.failed_since_start(dir, &trial.id) {
                tried.insert(trial.id.clone());
                continue;
            }
            if !claims.try_claim(&trial.id, dir)? {
                others = true;
                continue;
            }
            // Committed by another worker between the look above and the claim.
            if self.final_on_disk(dir, &trial.id)? {
                claims.release(&trial.id);
                tried.insert(trial.id.clone());
                continue;
            }
            tried.insert(trial.id.clone());
            return Ok(Next::Run(Box::new(trial.clone())));
        }
        // A TPE search: the next point, drawn from what has finished by now (by a worker of
        // the whole sweep or a TPE element; not by a worker of given trials).
        let may_draw = self.draws && self.plan.tpe.is_some();
        let new = match may_draw {
            // A copy of the records: draw_next takes the folder lock, which a commit holds
            // while it locks the records.
            true => {
                let records = self.records.lock().unwrap_or_else(|p| p.into_inner()).clone();
                crate::tpe::draw_next(dir, self.plan, &records)?
            }
            false => None,
        };
        if let Some(new) = new {
            self.drawn.lock().unwrap_or_else(|p| p.into_inner()).extend(new.iter().cloned());
            for trial in new {
                if claims.try_claim(&trial.id, dir)? {
                    tried.insert(trial.id.clone());
                    return Ok(Next::Run(Box::new(trial)));
                }
            }
            return Ok(Next::Wait);
        }
        // Nothing left to draw: a point drawn by another process (or Slurm element) after this
        // one started may still have a trial nobody runs (another seed of it).
        if may_draw {
            for trial in crate::tpe::drawn_trials(dir, self.plan)? {
                if tried.contains(&trial.id) || self.final_on_disk(dir, &trial.id)? {
                    continue;
                }
                if claims.try_claim(&trial.id, dir)? {
                    tried.insert(trial.id.clone());
                    let mut drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
                    if !drawn.iter().any(|t| t.id == trial.id) {
                        drawn.push(trial.clone());
                    }
                    return Ok(Next::Run(Box::new(trial)));
                }
                others = true;
            }
        }
        Ok(if others && wait { Next::Wait } else { Next::Done })
    }

    /// Trials of the plan this worker has not handed out yet (some may end up run by others).
    fn untried(&self) -> usize {
        let drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner()).len();
        (self.order.len() + drawn).saturating_sub(self.tried.lock().unwrap_or_else(|p| p.into_inner()).len())
    }

    /// Whether another worker recorded trial `id` `failed` after this one started (the record
    /// was just read by [`Queue::final_on_disk`]).
    fn failed_since_start(&self, dir: &ResultsDir, id: &str) -> bool {
        let failed =
            self.records.lock().unwrap_or_else(|p| p.into_inner()).get(id).is_some_and(|r| r.status == Status::Failed);
        failed && dir.result_written(id).is_some_and(|t| t >= self.since)
    }

    fn final_on_disk(&self, dir: &ResultsDir, id: &str) -> Result<bool, ResultsError> {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.get(id).is_some_and(TrialRecord::is_final) {
            return Ok(true);
        }
        match dir.record(id)? {
            Some(r) => {
                let done = r.is_final();
                records.insert(id.to_string(), r);
                Ok(done)
            }
            None => Ok(false),
        }
    }

    /// Writes a trial's result under the folder lock unless another worker committed a final
    /// one first (then this one is dropped: a result is never written twice); releases the
    /// claim and rebuilds runs.csv. `Ok(false)`: dropped.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        dir: &ResultsDir,
        claims: &Claims,
        plan: &Plan,
        trial: &Trial,
        curve: &[CurvePoint],
        record: &TrialRecord,
        checkpoint: Option<&rnnlab_train::checkpoint::Checkpoint>,
    ) -> Result<bool, ResultsError> {
        let _lock = dir.lock()?;
        let kept = !self.final_on_disk(dir, &trial.id)?;
        if kept {
            dir.write_trial(trial, curve, record, checkpoint)?;
        }
        claims.release(&trial.id);
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if kept {
            records.insert(trial.id.clone(), record.clone());
        }
        let drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mine: Vec<&Trial> = self.order.iter().copied().chain(&drawn).collect();
        refresh(dir, &mine, &mut records)?;
        dir.write_runs(&plan.columns, &[&plan.trials[..], &drawn[..]].concat(), &records)?;
        Ok(kept)
    }
}
