//! The typed sections of a spec and their range checks.
//!
//! One resolved trial is a [`TrialConfig`]: every section with defaults filled in and one
//! value per grid axis. Its canonical TOML form is what the trial id hashes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

mod model;
mod optimizer;
mod run;
mod schedule;

pub use model::*;
pub use optimizer::*;
pub use run::*;
pub use schedule::*;

/// `[experiment]`: names the results folder and lists the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Results go to `results/<name>/` (or `<--out>/<name>/`).
    pub name: String,
    /// Free text, shown at the top of the report.
    #[serde(default)]
    pub description: String,
    /// Every grid point runs once per seed; the seed sets the initialisation, the minibatch
    /// order, dropout masks and any seeded data split. A comparison of cells needs at least 4
    /// seeds per cell for a verdict.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// `[train]`: how long to train, in batches of what size, and when to evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimizer steps; give this or `epochs`.
    #[serde(default)]
    pub steps: Option<usize>,
    /// Passes over the training set; give this or `steps`.
    #[serde(default)]
    pub epochs: Option<usize>,
    /// Sequences per optimizer step (the last batch of an epoch may be smaller); at least 1.
    pub batch_size: usize,
    /// Evaluate on the test set every this many steps (and always at the end); 0 = only at the end.
    #[serde(default)]
    pub eval_every: usize,
    /// Batch size for evaluation (memory only; results do not depend on it).
    #[serde(default = "default_eval_batch")]
    pub eval_batch_size: usize,
    /// Write the trained parameters (`model.safetensors`, PyTorch names) and `model.toml` into
    /// the trial's folder, for `rnnlab predict` and for loading into PyTorch. No part of the
    /// trial id (it changes no number): turning it on for a finished sweep does not run its
    /// trials again; the sweep says which ok trials have no checkpoint (`--fresh` or a new
    /// `--out` runs them).
    #[serde(default, skip_serializing_if = "is_false")]
    #[schemars(extend("default" = false))]
    pub save_checkpoint: bool,
    /// Write a snapshot at every evaluation (`resume/<trial id>.safetensors` in the results
    /// folder: parameters, optimizer state, random streams' positions, the curve so far), so
    /// that a trial stopped by Ctrl-C, SIGTERM, a Slurm preemption or a crash continues from
    /// its last evaluation, ending bit for bit as an uninterrupted run; removed when the trial
    /// ends. No part of the trial id.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    #[schemars(extend("default" = true))]
    pub resumable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
    /// Weight noise (Graves 2011, as Chung et al. 2014 train): each training step adds
    /// Gaussian noise of this standard deviation to every parameter for its forward and
    /// backward pass, and the optimizer updates the clean parameters; evaluation and the
    /// checkpoint use the clean ones. Drawn from its own per-seed stream (turning it on leaves
    /// the batch order and dropout masks as they were); ≥ 0, 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(extend("default" = 0.0))]
    pub weight_noise: f64,
}

/// `[train.early_stopping]`: model selection on a validation metric, and early stopping. The
/// trial reports (result.toml, runs.csv, the report) its test and validation metrics at the
/// evaluation with the best validation metric (`selected_step`), its checkpoint holds that
/// evaluation's parameters, and curve.csv keeps every evaluation. Needs the dataset's
/// validation split. Absent: no selection; not serialised then, so trial ids from before it
/// existed hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// A `valid_*` metric, e.g. `valid_nll` or `valid_accuracy` (its direction is the vocabulary's).
    pub metric: String,
    /// Evaluations in a row without an improvement after which training stops; absent: train to
    /// the end and only select the best evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// An evaluation improves when it beats the best so far by more than this (≥ 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(extend("default" = 0.0))]
    pub min_delta: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl EarlyStopping {
    fn check(&self) -> Result<(), FieldError> {
        let at = |key: &str, message: String| FieldError::new(&["early_stopping", key], message);
        let valid = crate::vocab::validation_metrics();
        if !valid.contains(&self.metric.as_str()) {
            let help = if self.metric.starts_with("test_") {
                "selecting on the test set leaks it into the result: give the dataset a validation split and \
                 select on its metric"
                    .to_string()
            } else {
                format!("one of {}", valid.join(", "))
            };
            return Err(at("metric", format!("`{}` is not a validation metric", self.metric)).with_help(help));
        }
        if self.patience == Some(0) {
            return Err(at("patience", "must be at least 1 (leave it out to never stop early)".into()));
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(at("min_delta", "must be a finite number ≥ 0".into()));
        }
        Ok(())
    }

    /// Whether `value` improves on `best` (the metric's direction, by more than `min_delta`).
    pub fn improves(&self, value: f64, best: Option<f64>) -> bool {
        let Some(metric) = crate::vocab::find_metric(&self.metric) else { return false };
        value.is_finite()
            && best.is_none_or(|b| match metric.direction {
                crate::vocab::Direction::Higher => value > b + self.min_delta,
                crate::vocab::Direction::Lower => value < b - self.min_delta,
            })
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

fn default_true() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !b
}

fn default_eval_batch() -> usize {
    8192
}

impl TrainConfig {
    fn check(&self) -> Result<(), FieldError> {
        match (self.steps, self.epochs) {
            (None, None) => {
                return Err(
                    FieldError::new(&[], "no training length").with_help("add `steps = N` or `epochs = N` to [train]")
                )
            }
            (Some(_), Some(_)) => return Err(FieldError::new(&["epochs"], "give `steps` or `epochs`, not both")),
            (Some(0), _) => return Err(FieldError::new(&["steps"], "must be at least 1")),
            (_, Some(0)) => return Err(FieldError::new(&["epochs"], "must be at least 1")),
            _ => {}
        }
        if self.batch_size == 0 {
            return Err(FieldError::new(&["batch_size"], "must be at least 1"));
        }
        if self.eval_batch_size == 0 {
            return Err(FieldError::new(&["eval_batch_size"], "must be at least 1"));
        }
        if let Some(e) = &self.early_stopping {
            e.check()?;
        }
        if !(self.weight_noise.is_finite() && self.weight_noise >= 0.0) {
            return Err(FieldError::new(&["weight_noise"], "must be a finite number ≥ 0 (0 = off)"));
        }
        Ok(())
    }
}

/// `[report]`: how results are summarised. No trial depends on it: changing it and running
/// `rnnlab report` rewrites the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Metric the summary is sorted by (default: test_accuracy, else test_mse, else test_loss).
    #[serde(default)]
    pub primary: Option<String>,
    /// A seed succeeds when this holds for its final metrics, e.g. `test_accuracy >= 0.99`.
    #[serde(default)]
    pub success: Option<String>,
    /// The grid axis whose values the report compares pairwise (default `model.cell`).
    #[serde(default)]
    pub compare: Option<String>,
    /// Metric that ranks grid points, and so picks each compared value's best one (default:
    /// `primary`); e.g. `valid_nll`, to select on the validation split and compare on test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<String>,
}

/// A success rule parsed from `[report] success`.
#[derive(Debug, Clone, PartialEq)]
pub struct SuccessRule {
    pub metric: String,
    pub op: crate::vocab::Comparison,
    pub threshold: f64,
}

impl ReportConfig {
    /// `select`, when given, must be a metric rnnlab records.
    pub fn check(&self) -> Result<(), FieldError> {
        match &self.select {
            Some(m) if crate::vocab::find_metric(m).is_none() => {
                let names: Vec<&str> = crate::vocab::METRICS.iter().map(|m| m.name).collect();
                Err(FieldError::new(&["select"], format!("`{m}` is not a metric rnnlab records"))
                    .with_help(format!("one of {}", names.join(", "))))
            }
            _ => self.success_rule().map(|_| ()),
        }
    }

    /// Parses `success`, e.g. `test_accuracy >= 0.99`.
    pub fn success_rule(&self) -> Result<Option<SuccessRule>, FieldError> {
        let Some(text) = &self.success else {
            return Ok(None);
        };
        let bad = || {
            FieldError::new(&["success"], format!("cannot read `{text}`"))
                .with_help("write `METRIC OP VALUE`, e.g. `test_accuracy >= 0.99` (OP: >=, >, <=, <)")
        };
        let mut parts = text.split_whitespace();
        let (Some(metric), Some(op), Some(value), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let op = crate::vocab::Comparison::parse(op).ok_or_else(bad)?;
        let threshold: f64 = value.parse().map_err(|_| bad())?;
        Ok(Some(SuccessRule { metric: metric.into(), op, threshold }))
    }
}

/// A `[[published]]` figure the experiment tries to reproduce (any number of entries). The
/// report compares it with the mean at its grid point: **reproduced** when the published value
/// is within `tolerance` of our mean or inside our 95% confidence interval (Student t over
/// seeds), otherwise **better** or **worse** (by the metric's direction), or **no data**.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// Where the figure comes from: paper, table, row.
    pub source: String,
    /// A metric of runs.csv, e.g. `test_accuracy` or `test_nll`.
    pub metric: String,
    /// The published value.
    pub value: f64,
    /// How far our mean may be from `value` and still reproduce it.
    #[serde(default)]
    pub tolerance: f64,
    /// Grid values that pick the matching grid point, e.g. `{ "model.cell" = "lstm" }`
    /// (default: the only grid point).
    #[serde(default, rename = "where")]
    #[schemars(with = "crate::reference::AnyTable")]
    pub at: toml::Table,
}

/// Everything one trial needs: the resolved sections and its seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialConfig {
    pub seed: u64,
    /// Dataset plugin name and its keys (validated by the plugin).
    pub dataset: DatasetConfig,
    pub model: ModelConfig,
    pub optimizer: OptimizerConfig,
    pub train: TrainConfig,
    pub run: RunConfig,
}

/// `[dataset]`: a plugin name plus the plugin's own keys (`rnnlab plugins` lists them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatasetConfig {
    /// The dataset plugin (below), whose keys the rest of the section holds.
    pub plugin: String,
    #[serde(flatten)]
    #[schemars(skip)]
    pub keys: toml::Table,
}

impl TrialConfig {
    /// Range checks that serde cannot express; the path names the failing key.
    pub fn check(&self) -> Result<(), FieldError> {
        self.model.check().map_err(|e| e.within(&["model"]))?;
        self.optimizer.check().map_err(|e| e.within(&["optimizer"]))?;
        self.train.check().map_err(|e| e.within(&["train"]))?;
        Ok(())
    }
}
