//! `[optimizer.schedule]`: the learning rate over the optimizer's steps, as PyTorch's
//! schedulers define it (`StepLR`, `ExponentialLR`, `CosineAnnealingLR`, and a `LinearLR`
//! warm-up before any of them, chained as `SequentialLR` chains them), or over the
//! evaluations of a validation metric (`ReduceLROnPlateau`). The rates themselves are
//! computed by `rnnlab_nn::optim::schedule` and checked there against PyTorch's.
//!
//! Not serialised when absent, so trials without a schedule keep their ids.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Which schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// The rate stays at `lr` (after any warm-up).
    Constant,
    /// `lr · gamma^⌊t / step_size⌋` (`torch.optim.lr_scheduler.StepLR`).
    Step,
    /// `lr · gamma^t` (`ExponentialLR`).
    Exponential,
    /// `min_lr + (lr − min_lr)(1 + cos(π t / t_max)) / 2` (`CosineAnnealingLR`).
    Cosine,
    /// The rate times `gamma` when a validation metric has not improved for `patience`
    /// evaluations (`ReduceLROnPlateau`, stepped once per evaluation).
    Plateau,
}

/// How `plateau` measures an improvement (PyTorch's `threshold_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// Better than the best by a fraction `threshold` of it.
    Rel,
    /// Better than the best by `threshold`.
    Abs,
}

/// `[optimizer.schedule]` (or `schedule = { kind = "cosine", … }` in `[optimizer]`): the
/// learning rate over the steps; absent = constant `lr`. Not serialised when absent, so trials
/// without a schedule keep their ids. PyTorch's `StepLR`, `ExponentialLR`
/// and `CosineAnnealingLR` after a `LinearLR` warm-up (`SequentialLR`), stepped once per
/// optimizer step, and `ReduceLROnPlateau`, stepped once per evaluation with a validation
/// metric; checked against PyTorch's rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Which schedule.
    pub kind: ScheduleKind,
    /// step: decay every this many steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_size: Option<usize>,
    /// step, exponential: the decay factor (step: default 0.1, as PyTorch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// cosine: steps from `lr` down to `min_lr` (default: the steps after the warm-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_max: Option<usize>,
    /// cosine, plateau: the lowest rate (PyTorch's `eta_min` and `min_lr`).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(extend("default" = 0.0))]
    pub min_lr: f64,
    /// plateau: the validation metric watched (a `valid_*` metric; its direction decides
    /// PyTorch's `mode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// plateau: evaluations without improvement before the rate drops (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// plateau: the improvement that counts (default 1e-4, relative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// plateau: how `threshold` is applied (default `rel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_mode: Option<ThresholdMode>,
    /// plateau: evaluations after a drop before counting resumes.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    #[schemars(extend("default" = 0))]
    pub cooldown: usize,
    /// Steps of linear warm-up before the schedule (PyTorch's `LinearLR` then `SequentialLR`);
    /// not with `plateau`.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    #[schemars(extend("default" = 0))]
    pub warmup_steps: usize,
    /// The warm-up starts at this fraction of `lr` (PyTorch's `start_factor`, default 1/3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_start_factor: Option<f64>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

impl ScheduleConfig {
    /// `gamma` as given, or StepLR's default (0.1).
    pub fn gamma(&self) -> f64 {
        self.gamma.unwrap_or(0.1)
    }

    /// plateau: `patience` as given, or PyTorch's default (10).
    pub fn patience(&self) -> usize {
        self.patience.unwrap_or(10)
    }

    /// plateau: `threshold` as given, or PyTorch's default (1e-4).
    pub fn threshold(&self) -> f64 {
        self.threshold.unwrap_or(1e-4)
    }

    /// plateau: `threshold_mode` as given, or PyTorch's default (relative).
    pub fn threshold_mode(&self) -> ThresholdMode {
        self.threshold_mode.unwrap_or(ThresholdMode::Rel)
    }

    /// `warmup_start_factor` as given, or LinearLR's default (1/3).
    pub fn warmup_start_factor(&self) -> f64 {
        self.warmup_start_factor.unwrap_or(1.0 / 3.0)
    }

    /// Range checks and keys the kind does not use; paths are relative to the schedule table.
    pub(crate) fn check(&self, lr: f64) -> Result<(), FieldError> {
        use ScheduleKind::*;
        let name = format!("{:?}", self.kind).to_lowercase();
        let only = |key: &str, set: bool, allowed: &[ScheduleKind], who: &str| {
            if set && !allowed.contains(&self.kind) {
                Err(FieldError::new(&[key], format!("`{key}` is not used by the `{name}` schedule (only by {who})"))
                    .with_help(format!("remove `{key}`")))
            } else {
                Ok(())
            }
        };
        only("step_size", self.step_size.is_some(), &[Step], "step")?;
        only("gamma", self.gamma.is_some(), &[Step, Exponential, Plateau], "step, exponential, plateau")?;
        only("t_max", self.t_max.is_some(), &[Cosine], "cosine")?;
        only("min_lr", self.min_lr != 0.0, &[Cosine, Plateau], "cosine, plateau")?;
        only("metric", self.metric.is_some(), &[Plateau], "plateau")?;
        only("patience", self.patience.is_some(), &[Plateau], "plateau")?;
        only("threshold", self.threshold.is_some(), &[Plateau], "plateau")?;
        only("threshold_mode", self.threshold_mode.is_some(), &[Plateau], "plateau")?;
        only("cooldown", self.cooldown != 0, &[Plateau], "plateau")?;
        if self.kind == Plateau {
            let valid = crate::vocab::validation_metrics();
            match &self.metric {
                None => {
                    return Err(FieldError::new(
                        &["metric"],
                        "the plateau schedule needs the validation `metric` it watches",
                    )
                    .with_help(format!("e.g. `metric = \"valid_loss\"` (one of {})", valid.join(", "))))
                }
                Some(m) if !valid.contains(&m.as_str()) => {
                    return Err(FieldError::new(&["metric"], format!("`{m}` is not a validation metric"))
                        .with_help(format!("one of {}", valid.join(", "))))
                }
                Some(_) => {}
            }
            if self.warmup_steps > 0 {
                return Err(FieldError::new(&["warmup_steps"], "the plateau schedule has no warm-up (as in PyTorch)")
                    .with_help("remove `warmup_steps`"));
            }
            if self.gamma() >= 1.0 {
                return Err(FieldError::new(&["gamma"], "the plateau schedule's factor must be below 1"));
            }
            if !(self.threshold().is_finite() && self.threshold() >= 0.0) {
                return Err(FieldError::new(&["threshold"], "must be a finite number ≥ 0"));
            }
        }
        if self.kind == Step && self.step_size.is_none_or(|s| s == 0) {
            return Err(FieldError::new(&["step_size"], "the step schedule needs `step_size` ≥ 1")
                .with_help("e.g. `step_size = 1000` to multiply the rate by `gamma` every 1000 steps"));
        }
        if !(self.gamma() > 0.0 && self.gamma().is_finite()) {
            return Err(FieldError::new(&["gamma"], "must be a positive number"));
        }
        if self.t_max == Some(0) {
            return Err(FieldError::new(&["t_max"], "must be at least 1"));
        }
        if !(0.0..lr).contains(&self.min_lr) {
            return Err(FieldError::new(&["min_lr"], format!("must be ≥ 0 and below `lr` ({lr})")));
        }
        let f = self.warmup_start_factor();
        if self.warmup_start_factor.is_some() && self.warmup_steps == 0 {
            return Err(FieldError::new(&["warmup_start_factor"], "is only used with `warmup_steps` > 0"));
        }
        if !(f > 0.0 && f <= 1.0) {
            return Err(FieldError::new(&["warmup_start_factor"], "must be in (0, 1]"));
        }
        Ok(())
    }
}
