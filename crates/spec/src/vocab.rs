//! The results vocabulary every crate shares: what a trial's status can be, which metrics exist
//! and which way is better, how a success rule compares, and the file names of a results
//! folder. One definition here, used by train (metrics), sweep (writing) and report (reading).

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a trial ended, as `result.toml` and `runs.csv` spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ran to the end.
    Ok,
    /// The loss or a gradient became NaN or infinite; training stopped there.
    Diverged,
    /// An error or a panic; retried by the next run.
    Failed,
    /// Stopped early by a pruning rule (counts as final).
    Pruned,
    /// Stopped by a signal before the end (not final: it runs again).
    Interrupted,
    /// A status this rnnlab does not know (a damaged or newer file): not final.
    #[serde(other)]
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Diverged => "diverged",
            Status::Failed => "failed",
            Status::Pruned => "pruned",
            Status::Interrupted => "interrupted",
            Status::Unknown => "unknown",
        }
    }

    /// Reads a `runs.csv` cell (anything unrecognised is `Unknown`).
    pub fn parse(text: &str) -> Status {
        [Status::Ok, Status::Diverged, Status::Failed, Status::Pruned, Status::Interrupted]
            .into_iter()
            .find(|s| s.as_str() == text)
            .unwrap_or(Status::Unknown)
    }

    /// Finished for good: a re-run skips the trial.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Ok | Status::Diverged | Status::Pruned)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Higher,
    Lower,
}

/// What a metric measures (decides axis ranges and scales in plots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A fraction in [0, 1].
    Accuracy,
    /// A loss, error or negative log-likelihood: ≥ 0, may span decades.
    Loss,
}

/// A metric rnnlab records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub direction: Direction,
    pub kind: MetricKind,
}

impl Metric {
    pub fn higher_is_better(&self) -> bool {
        self.direction == Direction::Higher
    }

    /// Whether `a` is better than `b` on this metric.
    pub fn better(&self, a: f64, b: f64) -> bool {
        match self.direction {
            Direction::Higher => a > b,
            Direction::Lower => a < b,
        }
    }
}

const fn metric(name: &'static str, direction: Direction, kind: MetricKind) -> Metric {
    Metric { name, direction, kind }
}

/// Every metric of `runs.csv` and `curve.csv`, in the order tables show them.
pub const METRICS: &[Metric] = &[
    metric("test_accuracy", Direction::Higher, MetricKind::Accuracy),
    metric("test_mse", Direction::Lower, MetricKind::Loss),
    metric("test_nll", Direction::Lower, MetricKind::Loss),
    metric("test_loss", Direction::Lower, MetricKind::Loss),
    metric("valid_accuracy", Direction::Higher, MetricKind::Accuracy),
    metric("valid_mse", Direction::Lower, MetricKind::Loss),
    metric("valid_nll", Direction::Lower, MetricKind::Loss),
    metric("valid_loss", Direction::Lower, MetricKind::Loss),
    metric("train_loss", Direction::Lower, MetricKind::Loss),
];

/// The metrics of the validation split: what early stopping, the plateau schedule and pruning
/// may watch.
pub fn validation_metrics() -> Vec<&'static str> {
    METRICS.iter().map(|m| m.name).filter(|m| m.starts_with("valid_")).collect()
}

/// The metric called `name`, if rnnlab records it.
pub fn find_metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// The range values (and intervals) of `name` live in: [0, 1] for accuracies, [0, ∞) for
/// losses, unbounded for names rnnlab does not record.
pub fn metric_range(name: &str) -> (f64, f64) {
    match find_metric(name).map(|m| m.kind) {
        Some(MetricKind::Accuracy) => (0.0, 1.0),
        Some(MetricKind::Loss) => (0.0, f64::INFINITY),
        None => (f64::NEG_INFINITY, f64::INFINITY),
    }
}

/// Whether larger values of `name` are better (false for unknown names: errors are the norm).
pub fn higher_is_better(name: &str) -> bool {
    find_metric(name).is_some_and(Metric::higher_is_better)
}

/// A comparison in a success rule (`test_accuracy >= 0.99`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Ge,
    Gt,
    Le,
    Lt,
}

impl Comparison {
    pub const ALL: [Comparison; 4] = [Comparison::Ge, Comparison::Gt, Comparison::Le, Comparison::Lt];

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Ge => ">=",
            Comparison::Gt => ">",
            Comparison::Le => "<=",
            Comparison::Lt => "<",
        }
    }

    pub fn parse(text: &str) -> Option<Comparison> {
        Comparison::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// `value OP threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Ge => value >= threshold,
            Comparison::Gt => value > threshold,
            Comparison::Le => value <= threshold,
            Comparison::Lt => value < threshold,
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `meta.toml`: what produced a results folder (written by sweep, read by report). Every field
/// defaults, so folders written by older versions still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub rnnlab_version: String,
    pub dfdx_version: String,
    pub git_revision: String,
    pub host: String,
    pub cores: usize,
    pub cpu: String,
    pub jobs: usize,
    pub command: String,
    pub spec: String,
    pub spec_hash: String,
    pub trials: usize,
    pub started: String,
    pub finished: String,
    pub trials_run: usize,
}

impl Meta {
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("meta serialises")
    }
}

/// The names in a results folder (see docs/results.md).
pub mod layout {
    pub const SPEC: &str = "spec.toml";
    pub const META: &str = "meta.toml";
    pub const RUNS: &str = "runs.csv";
    pub const REPORT_MD: &str = "report.md";
    pub const REPORT_HTML: &str = "report.html";
    pub const PLOTS: &str = "plots";
    pub const TRIALS: &str = "trials";
    pub const LOCK: &str = ".lock";
    /// `claims/<id>.toml`: the worker running trial `<id>` (see `rnnlab_sweep::claims`).
    pub const CLAIMS: &str = "claims";
    /// How long a claim may go without a heartbeat before it counts as abandoned (workers'
    /// default `--claim-timeout`; the report counts younger claims as running).
    pub const CLAIM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
    /// `prune/<id>.csv`: a trial's values of the `[prune]` metric so far (`rnnlab_sweep::prune`).
    pub const PRUNE: &str = "prune";
    /// `resume/<id>.safetensors`: a running trial's snapshot (`[train] resumable`), removed
    /// when the trial ends (`rnnlab_train::Snapshot`).
    pub const RESUME: &str = "resume";
    /// `tpe/<group>-<k>.toml`: point `k` of a TPE search's group, drawn by the sweep when a
    /// worker claimed it (`rnnlab_sweep::tpe`).
    pub const TPE: &str = "tpe";
    /// `slurm/`: job script, manifests, submissions and logs of `rnnlab sweep --slurm`.
    pub const SLURM: &str = "slurm";
    /// In `trials/<id>/`:
    pub const TRIAL: &str = "trial.toml";
    pub const CURVE: &str = "curve.csv";
    pub const RESULT: &str = "result.toml";
    pub const MODEL_TENSORS: &str = "model.safetensors";
    pub const MODEL_CARD: &str = "model.toml";

    /// Why a trial's `curve.csv` text is damaged (`line N: what`), or `None` when it is whole:
    /// a header starting with `step`, then rows of as many fields, each a number or empty.
    /// A trial whose curve is damaged is not done (the sweep runs it again) and the report
    /// refuses it, naming the file and line.
    pub fn curve_damage(text: &str) -> Option<String> {
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        if header.first() != Some(&"step") {
            return Some("line 1: the header does not start with `step`".into());
        }
        for (i, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != header.len() {
                return Some(format!("line {}: {} fields, the header has {}", i + 2, fields.len(), header.len()));
            }
            if let Some((f, name)) =
                fields.iter().zip(&header).find(|(f, _)| !f.is_empty() && f.parse::<f64>().is_err())
            {
                return Some(format!("line {}: `{name}` is `{f}`, not a number", i + 2));
            }
        }
        if !text.ends_with('\n') {
            return Some(format!("line {}: cut short (no final newline)", text.lines().count()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_curves_are_named_by_line() {
        let whole = "step,epoch,train_loss\n1,0,0.5\n2,0,\n";
        assert_eq!(layout::curve_damage(whole), None);
        assert_eq!(layout::curve_damage("").as_deref(), Some("line 1: the header does not start with `step`"));
        assert_eq!(
            layout::curve_damage("step,epoch,train_loss\n1,0,0.5\n2,0,oops\n").as_deref(),
            Some("line 3: `train_loss` is `oops`, not a number")
        );
        assert_eq!(layout::curve_damage("step,epoch\n1\n").as_deref(), Some("line 2: 1 fields, the header has 2"));
        assert!(layout::curve_damage("step,epoch\n1,0\n2,").unwrap().contains("line 3"));
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_not_final() {
        for s in [Status::Ok, Status::Diverged, Status::Failed, Status::Pruned, Status::Interrupted] {
            assert_eq!(Status::parse(s.as_str()), s);
            #[derive(Serialize, Deserialize)]
            struct R {
                status: Status,
            }
            let text = toml::to_string(&R { status: s }).unwrap();
            assert_eq!(toml::from_str::<R>(&text).unwrap().status, s);
        }
        #[derive(Deserialize)]
        struct R {
            status: Status,
        }
        assert_eq!(toml::from_str::<R>("status = \"exploded\"").unwrap().status, Status::Unknown);
        assert!(!Status::Unknown.is_final() && !Status::Failed.is_final() && Status::Pruned.is_final());
    }

    #[test]
    fn metric_directions() {
        assert!(higher_is_better("test_accuracy"));
        assert!(!higher_is_better("test_nll") && !higher_is_better("no_such_metric"));
        assert!(find_metric("test_mse").unwrap().better(0.1, 0.2));
        assert!(Comparison::parse(">=").unwrap().holds(0.9, 0.9));
        assert!(!Comparison::parse("<").unwrap().holds(0.9, 0.9));
        assert_eq!(Comparison::parse("=>"), None);
    }
}
