//! Sweep progress: a bar (trials done/total, ETA, latest metric) on a terminal, plain log lines
//! otherwise.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use rnnlab_spec::Trial;
use rnnlab_sweep::CurvePoint;
use rnnlab_sweep::{Progress, TrialRecord};

/// Progress display for `rnnlab sweep`.
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    pub fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials, ETA {eta}  {msg}",
                )
                .expect("valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Bar { bar }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn label(trial: &Trial) -> String {
    let point = trial.point_label();
    if point.is_empty() {
        format!("seed={}", trial.config.seed)
    } else {
        format!("{point}, seed={}", trial.config.seed)
    }
}

/// The evaluation's main test metric (`Metrics::main_metric`: accuracy, MSE, NLL, else loss).
fn metric(p: &CurvePoint) -> String {
    format!("{}={:.4}", p.test.main_metric().name, p.test.main())
}

impl Progress for Bar {
    fn start(&self, total: usize, skipped: usize, to_run: usize) {
        match &self.bar {
            Some(b) => {
                b.set_length(total as u64);
                b.set_position(skipped as u64);
                b.reset_eta();
            }
            None => eprintln!("{total} trials: {skipped} already done, {to_run} to run"),
        }
    }

    fn trial_eval(&self, trial: &Trial, p: &CurvePoint, total_steps: usize) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{} step {}/{total_steps} {}", label(trial), p.step, metric(p)));
        }
    }

    fn trial_done(&self, trial: &Trial, r: &TrialRecord) {
        // The same main metric as the evaluations' (the record names it `best_metric`).
        let what =
            r.best_metric.as_deref().and_then(|m| r.metric(m).map(|v| format!("{m}={v:.4}"))).unwrap_or_default();
        let resumed = r.resumed_from.map_or(String::new(), |s| format!(" (resumed from step {s})"));
        let line = format!(
            "trial {} ({}): {} {what} {}{resumed} [{:.1} s]",
            trial.id,
            label(trial),
            r.status,
            r.message,
            r.wall_seconds
        );
        match &self.bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }
}

/// Progress that also rewrites the report (marked partial) while a sweep runs: at most every
/// [`Live::EVERY`], on its own thread, after a trial finished.
pub struct Live<'a> {
    pub inner: &'a Bar,
    dirty: std::sync::atomic::AtomicBool,
    done: std::sync::atomic::AtomicBool,
}

impl<'a> Live<'a> {
    pub const EVERY: Duration = Duration::from_secs(5);

    pub fn new(inner: &'a Bar) -> Self {
        Live { inner, dirty: false.into(), done: false.into() }
    }

    /// Runs until [`Live::stop`]: writes the report through `write` whenever a trial finished
    /// since the last write and `EVERY` has passed.
    pub fn refresh_loop(&self, write: impl Fn()) {
        use std::sync::atomic::Ordering;
        let mut last = std::time::Instant::now();
        while !self.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if last.elapsed() >= Self::EVERY && self.dirty.swap(false, Ordering::Relaxed) {
                write();
                last = std::time::Instant::now();
            }
        }
    }

    pub fn stop(&self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Progress for Live<'_> {
    fn start(&self, total: usize, skipped: usize, to_run: usize) {
        self.inner.start(total, skipped, to_run)
    }

    fn trial_eval(&self, trial: &Trial, p: &CurvePoint, total_steps: usize) {
        self.inner.trial_eval(trial, p, total_steps)
    }

    fn trial_done(&self, trial: &Trial, r: &TrialRecord) {
        self.inner.trial_done(trial, r);
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
