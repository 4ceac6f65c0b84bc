//! `result.toml`: what a finished (or failed) trial left, and whether it is final.

use serde::{Deserialize, Serialize};

use rnnlab_spec::Status;
use rnnlab_train::TrialResult;

/// What a finished (or failed) trial left in `result.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// `ok`, `diverged`, `pruned` or `failed` (any other text reads as `Status::Unknown`).
    pub status: Status,
    #[serde(default)]
    pub message: String,
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub test_mse: Option<f64>,
    #[serde(default)]
    pub test_nll: Option<f64>,
    /// Validation metrics, when the dataset has a validation split (absent otherwise and in
    /// folders written before validation splits existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_mse: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_nll: Option<f64>,
    /// With `[train.early_stopping]`: the step whose evaluation the metrics above are (the best
    /// on the validation metric); absent: they are the last evaluation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_step: Option<usize>,
    /// Name of the metric `best_value` is about (`test_accuracy`, `test_mse` or `test_nll`).
    pub best_metric: Option<String>,
    pub best_value: Option<f64>,
    pub best_step: Option<usize>,
    pub steps: usize,
    /// The steps the trial would have run without early stopping or pruning (absent in folders
    /// written before it was recorded, and for trials that never ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_steps: Option<usize>,
    pub wall_seconds: f64,
    pub params: usize,
    /// Of `wall_seconds`, the time spent evaluating (absent in results folders written before
    /// it was recorded, and for trials that never ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_seconds: Option<f64>,
    /// The step the trial resumed from after an interruption (`[train] resumable`); absent
    /// when it ran in one go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<usize>,
}

impl TrialRecord {
    /// The record of a trial that ran to the end, stopped early or diverged: the metrics of its
    /// reported evaluation (early stopping's selection, else the last).
    pub fn from_result(r: &TrialResult) -> Self {
        let last = r.reported_point();
        let valid = last.and_then(|p| p.valid);
        let best = r.best_point();
        TrialRecord {
            status: r.status,
            message: r.message.clone(),
            train_loss: last.map(|p| p.train_loss).filter(|v| v.is_finite()),
            test_loss: last.map(|p| p.test.loss),
            test_accuracy: last.and_then(|p| p.test.accuracy),
            test_mse: last.and_then(|p| p.test.mse),
            test_nll: last.and_then(|p| p.test.nll),
            valid_loss: valid.map(|v| v.loss),
            valid_accuracy: valid.and_then(|v| v.accuracy),
            valid_mse: valid.and_then(|v| v.mse),
            valid_nll: valid.and_then(|v| v.nll),
            selected_step: r.selected_step,
            best_metric: best.map(|p| p.test.main_metric().name.to_string()),
            best_value: best.map(|p| p.test.main()),
            best_step: best.map(|p| p.step),
            steps: r.steps_done,
            planned_steps: Some(r.planned_steps),
            wall_seconds: r.wall_seconds,
            params: r.param_count,
            eval_seconds: Some(r.eval_seconds),
            resumed_from: r.resumed_from,
        }
    }

    /// The record of a trial that could not run or panicked.
    pub fn failed(message: String, wall_seconds: f64) -> Self {
        TrialRecord {
            status: Status::Failed,
            message,
            train_loss: None,
            test_loss: None,
            test_accuracy: None,
            test_mse: None,
            test_nll: None,
            valid_loss: None,
            valid_accuracy: None,
            valid_mse: None,
            valid_nll: None,
            selected_step: None,
            best_metric: None,
            best_value: None,
            best_step: None,
            steps: 0,
            planned_steps: None,
            wall_seconds,
            params: 0,
            eval_seconds: None,
            resumed_from: None,
        }
    }

    /// The recorded value of metric `name` (a `vocab::METRICS` name), if any.
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "test_accuracy" => self.test_accuracy,
            "test_mse" => self.test_mse,
            "test_nll" => self.test_nll,
            "test_loss" => self.test_loss,
            "valid_accuracy" => self.valid_accuracy,
            "valid_mse" => self.valid_mse,
            "valid_nll" => self.valid_nll,
            "valid_loss" => self.valid_loss,
            "train_loss" => self.train_loss,
            _ => None,
        }
    }

    /// Finished for good: a re-run skips it. Failed trials are retried, and so is a status
    /// this rnnlab does not know (a damaged or foreign file).
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }
}
