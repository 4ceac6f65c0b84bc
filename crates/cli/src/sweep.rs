//! The commands that run sweeps: `sweep` (here, or `--slurm`, following the arrays with
//! `--wait`) and `worker` (one trial of a Slurm manifest). Stop signals are handled here too.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use rnnlab_spec::Plan;
use rnnlab_sweep::status;
use rnnlab_sweep::{slurm, ResultsDir, SweepOptions};

use crate::args::{exit, load, ClaimArgs, SpecArgs};
use crate::folder::{folder_plan, one_line};
use crate::summary::print_summary;

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// Trials to run at once [default: number of cores].
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Write results under this folder instead of `results/`.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Delete this experiment's earlier results and run every trial again (refused while
    /// other workers run trials in the folder).
    #[arg(long)]
    fresh: bool,
    /// Here: when no trial is left to claim, wait for the trials other workers run (taking over
    /// any whose worker dies). With --slurm: wait until the job arrays have finished.
    #[arg(long)]
    wait: bool,
    /// Submit the trials as Slurm job arrays (options from the spec's `[slurm]` section) instead
    /// of running them here.
    #[arg(long)]
    slurm: bool,
    #[command(flatten)]
    claims: ClaimArgs,
}

impl SweepArgs {
    /// A plain sweep of `spec` (what `rnnlab reproduce` runs for each experiment).
    pub(crate) fn new(spec: SpecArgs, jobs: Option<usize>, out: PathBuf, slurm: bool) -> Self {
        let claims = ClaimArgs { claim_timeout: rnnlab_sweep::claims::DEFAULT_TIMEOUT.as_secs() };
        SweepArgs { spec, jobs, out, fresh: false, wait: false, slurm, claims }
    }
}

#[derive(Args)]
pub struct WorkerArgs {
    /// The results folder (e.g. results/parity).
    dir: PathBuf,
    /// A manifest in the folder's `slurm/` (trial ids, one per line).
    #[arg(long)]
    manifest: String,
    /// The line of the manifest to run (the array index, from 0).
    #[arg(long)]
    index: usize,
    /// Threads for the trial.
    #[arg(long, short, default_value_t = 1)]
    jobs: usize,
    #[command(flatten)]
    claims: ClaimArgs,
}

pub static STOP: AtomicBool = AtomicBool::new(false);
/// The first stop signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// SIGUSR1 (Slurm's warning before the time limit): stop, then requeue this array element.
static REQUEUE: AtomicBool = AtomicBool::new(false);

/// SIGINT (Ctrl-C), SIGTERM (Slurm's preemption and scancel, `kill`), SIGHUP (a closed
/// terminal) and SIGUSR1 (Slurm's `--signal` before the time limit) all stop a sweep the same
/// way: no new trials, running ones dropped and their claims released, finished ones kept, the
/// report written, exit 128 + the signal. A second signal exits at once.
pub fn handle_stop_signals() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1])
        .context("installing the signal handlers")?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let name = match sig {
                SIGINT => "Ctrl-C",
                SIGTERM => "SIGTERM",
                SIGUSR1 => "SIGUSR1 (time limit near)",
                _ => "SIGHUP",
            };
            if sig == SIGUSR1 {
                REQUEUE.store(true, Ordering::SeqCst);
            }
            if STOP.swap(true, Ordering::SeqCst) {
                eprintln!("\nsecond stop signal ({name}): exiting now");
                std::process::exit(128 + SIGNAL.load(Ordering::SeqCst).max(sig));
            }
            SIGNAL.store(sig, Ordering::SeqCst);
            eprintln!(
                "\n{name}: starting no further trials; running trials are dropped, finished ones kept (again to exit now)"
            );
        }
    });
    Ok(())
}

fn interrupted_code() -> ExitCode {
    let sig = SIGNAL.load(Ordering::SeqCst);
    ExitCode::from(128 + if sig > 0 { sig as u8 } else { 2 })
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

pub fn sweep(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let Some(plan) = load(&args.spec)? else { return Ok(ExitCode::from(exit::INVALID)) };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = SweepOptions {
        fresh: args.fresh,
        wait: args.wait,
        claim_timeout: args.claims.timeout(),
        ..SweepOptions::new(args.out.clone(), args.jobs.unwrap_or(cores).max(1), command_line())
    };
    if let (false, Some(cached)) = (args.fresh, rnnlab_sweep::earlier_spec_trials(&plan, &opts.out_root)) {
        let dir = opts.out_root.join(&plan.experiment.name);
        eprintln!(
            "note: {} held another spec; this sweep's replaces it, and the {cached} trials of the earlier spec stay \
             cached in {} but out of the report (--fresh deletes them)",
            dir.join(rnnlab_spec::vocab::layout::SPEC).display(),
            dir.join(rnnlab_spec::vocab::layout::TRIALS).display()
        );
    }
    if args.slurm {
        return submit(&plan, &opts);
    }
    handle_stop_signals()?;
    let bar = crate::progress::Bar::new(std::io::stderr().is_terminal());
    let live = crate::progress::Live::new(&bar);
    let dir = opts.out_root.join(&plan.experiment.name);
    let outcome = std::thread::scope(|s| {
        // report.md/html follow the sweep (marked partial), for a browser tab or a colleague.
        s.spawn(|| {
            live.refresh_loop(|| {
                if let Ok(_lock) = ResultsDir::new(dir.clone()).lock() {
                    let _ = rnnlab_report::write_report(&dir, &plan.report);
                }
            })
        });
        let outcome = rnnlab_sweep::run(&plan, &opts, &STOP, &live);
        live.stop();
        outcome
    })?;
    bar.finish();
    let dir = outcome.dir.display();
    if outcome.ran == 0 && outcome.missing == 0 && outcome.skipped == outcome.total {
        println!(
            "nothing to do: all {} trials already have results in {dir} (use --fresh to run them again)",
            outcome.total
        );
    } else {
        let others =
            if outcome.by_others > 0 { format!("; {} by other workers", outcome.by_others) } else { String::new() };
        let pruned = if outcome.pruned > 0 { format!(", {} pruned", outcome.pruned) } else { String::new() };
        println!(
            "ran {} trials in {:.1} s ({} ok{pruned}, {} diverged, {} failed; {} already done{others}) → {dir}",
            outcome.ran, outcome.wall_seconds, outcome.ok, outcome.diverged, outcome.failed, outcome.skipped
        );
    }
    print_summary(&outcome.dir, &plan)?;
    note_missing_checkpoints(&outcome.dir, &plan);
    if outcome.interrupted {
        eprintln!(
            "interrupted: {} of {} trials have results; run the same command again to finish",
            outcome.total - outcome.missing,
            outcome.total
        );
        return Ok(interrupted_code());
    }
    if outcome.running_elsewhere > 0 {
        println!(
            "{} trials are running in other workers (`rnnlab status {dir}`); the report is complete once the last of them finishes",
            outcome.running_elsewhere
        );
    }
    if outcome.failed > 0 {
        eprintln!("{} trials failed; their messages are in {dir}/runs.csv", outcome.failed);
        return Ok(ExitCode::from(exit::TRIAL_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// `save_checkpoint` is no part of a trial id, so turning it on for a finished sweep does not
/// run its trials again: say which ok trials have no checkpoint, and how to get them.
fn note_missing_checkpoints(dir: &std::path::Path, plan: &Plan) {
    use rnnlab_spec::vocab::layout;
    let results = ResultsDir::new(dir.to_path_buf());
    let without = plan
        .trials
        .iter()
        .filter(|t| t.config.train.save_checkpoint)
        .filter(|t| !results.trial_dir(&t.id).join(layout::MODEL_TENSORS).exists())
        .filter(|t| results.record(&t.id).ok().flatten().is_some_and(|r| r.status == rnnlab_spec::Status::Ok))
        .count();
    if without > 0 {
        println!(
            "note: {without} ok trials have no checkpoint: they ran before `save_checkpoint = true` (it is no part \
             of a trial id, so finished trials are not run again); `--fresh` runs every trial again, `--out DIR` \
             runs them into a new folder"
        );
    }
}

/// `--slurm`: submits what is missing, then returns or (with `--wait`) follows the arrays.
fn submit(plan: &Plan, opts: &SweepOptions) -> anyhow::Result<ExitCode> {
    let dir = ResultsDir::new(opts.out_root.join(&plan.experiment.name));
    let name = slurm::job_name(&dir.root);
    if opts.fresh && !slurm::queued_elements(&name)?.is_empty() {
        anyhow::bail!(
            "{} still has Slurm elements queued or running (job name {name}); --fresh would delete their work: scancel them first",
            dir.root.display()
        );
    }
    let claims = rnnlab_sweep::prepare(plan, opts)?;
    // A TPE search: its drawn points' trials are submitted by id, the rest as draws.
    let mut plan = plan.clone();
    rnnlab_sweep::tpe::extend(&mut plan, &dir)?;
    let exe = std::env::current_exe().context("finding the rnnlab binary for the job script")?;
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let submitted = {
        let _lock = dir.lock()?;
        slurm::submit(&plan, &dir, &claims, &exe, &cwd)?
    };
    let shown = dir.root.display();
    for (job, manifest, n) in &submitted.arrays {
        println!("submitted {n} trials as job array {job} (slurm/{manifest})");
    }
    match &submitted.collect {
        Some(job) => println!("collection job {job} rebuilds runs.csv and the report after them"),
        None if submitted.queued > 0 => {
            println!("nothing to submit: {} trials are queued or running, {} done", submitted.queued, submitted.done)
        }
        None => println!("nothing to submit: all {} trials have results in {shown}", submitted.done),
    }
    if !opts.wait {
        if submitted.collect.is_some() || submitted.queued > 0 {
            println!("watch with `rnnlab status {shown} --watch`; logs in {shown}/slurm/logs/");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let collect = format!("{name}-collect");
    let mut last = String::new();
    loop {
        let queued = slurm::queued_elements(&name)?.len() + slurm::queued_elements(&collect)?.len();
        // A TPE search's elements draw points as they run.
        rnnlab_sweep::tpe::extend(&mut plan, &dir)?;
        let s = status::read(&dir, &plan, opts.claim_timeout)?;
        let line = format!("{}; {queued} Slurm jobs queued or running", one_line(&s));
        if line != last {
            println!("{line}");
            last = line;
        }
        if queued == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    rnnlab_sweep::collect(&plan, &dir)?;
    print_summary(&dir.root, &plan)?;
    let s = status::read(&dir, &plan, opts.claim_timeout)?;
    let missing =
        s.total - s.done() - s.failed + rnnlab_sweep::tpe::remaining(&plan, &plan.trials) * plan.experiment.seeds.len();
    if missing > 0 {
        eprintln!(
            "{missing} trials have no result (cancelled or preempted): run the same command again to submit them"
        );
        return Ok(ExitCode::from(exit::TRIAL_FAILED));
    }
    if s.failed > 0 {
        eprintln!("{} trials failed; their messages are in {shown}/runs.csv", s.failed);
        return Ok(ExitCode::from(exit::TRIAL_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// `rnnlab worker`: one trial of a manifest, as a Slurm array element runs it.
pub fn worker(args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let (plan, root) = folder_plan(&args.dir)?;
    let dir = ResultsDir::new(args.dir.clone());
    let id = slurm::manifest_trial(&dir, &args.manifest, args.index)?;
    let draw = id.starts_with(slurm::TPE_LINE);
    let opts = SweepOptions {
        only: (!draw).then(|| HashSet::from([id.clone()])),
        tpe_element: draw,
        // An element exists to see its trial done: if another process still holds the claim
        // (say the previous run of this very element, requeued before it has exited), wait for
        // it to finish or to die, then take over.
        wait: true,
        claim_timeout: args.claims.timeout(),
        ..SweepOptions::new(root, args.jobs.max(1), command_line())
    };
    handle_stop_signals()?;
    let restart = std::env::var("SLURM_RESTART_COUNT").unwrap_or_else(|_| "0".into());
    println!(
        "trial {id} ({} line {}; restart {restart}) on {}",
        args.manifest,
        args.index,
        rnnlab_spec::files::hostname()
    );
    let outcome = rnnlab_sweep::run(&plan, &opts, &STOP, &rnnlab_sweep::Quiet)?;
    if outcome.interrupted {
        if REQUEUE.load(Ordering::SeqCst) {
            // Said first: the requeue sends this process SIGTERM.
            println!("trial {id}: stopped before the time limit; its claim is released; requeued");
            slurm::requeue_self()?;
        } else {
            println!("trial {id}: stopped by a signal; its claim is released");
        }
        return Ok(interrupted_code());
    }
    let line = match (outcome.ran, outcome.skipped, outcome.by_others) {
        (1, _, _) if outcome.failed > 0 => "failed (see runs.csv)",
        (1, _, _) => "done",
        (_, 1, _) => "already has a result",
        (_, _, 1) => "finished by another worker",
        _ => "left without a result (failed in another worker)",
    };
    println!("trial {id}: {line}");
    Ok(if outcome.failed > 0 { ExitCode::from(exit::TRIAL_FAILED) } else { ExitCode::SUCCESS })
}
