//! `[optimizer]`: which optimizer and its hyperparameters (each checked against the keys
//! that optimizer uses).

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// The optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
    Adamw,
    Rmsprop,
    Adagrad,
}

/// RMSprop flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RmspropFlavor {
    /// `torch.optim.RMSprop`: square average starts at 0, eps added after the square root.
    #[default]
    Pytorch,
    /// TensorFlow 1.x `RMSPropOptimizer`: square average starts at 1, eps inside the square root.
    Tf1,
}

/// `[optimizer]`. Keys that an optimizer does not use are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub name: OptimizerKind,
    pub lr: f64,
    /// Global-norm gradient clipping; 0 = off.
    #[serde(default)]
    pub clip_grad_norm: f64,
    /// Defaults to 0.01 for adamw (PyTorch's default) and 0 otherwise.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// sgd, rmsprop.
    #[serde(default)]
    pub momentum: f64,
    /// sgd.
    #[serde(default)]
    pub nesterov: bool,
    /// adam, adamw.
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// adam, adamw.
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// Defaults to each optimizer's PyTorch default when not given.
    #[serde(default)]
    pub eps: Option<f64>,
    /// rmsprop: smoothing constant (PyTorch `alpha`, TF `decay`).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// rmsprop.
    #[serde(default)]
    pub flavor: RmspropFlavor,
    /// rmsprop (PyTorch flavour): normalise by the centred second moment.
    #[serde(default)]
    pub centered: bool,
    /// The learning rate over the steps (constant `lr` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<super::ScheduleConfig>,
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_alpha() -> f64 {
    0.99
}

impl OptimizerConfig {
    /// `eps` as given, or the optimizer's PyTorch/TensorFlow default.
    pub fn eps(&self) -> f64 {
        self.eps.unwrap_or(match (self.name, self.flavor) {
            (OptimizerKind::Rmsprop, RmspropFlavor::Tf1) => 1e-10,
            (OptimizerKind::Adagrad, _) => 1e-10,
            _ => 1e-8,
        })
    }

    /// `weight_decay` as given, or PyTorch's default for the optimizer.
    pub fn weight_decay(&self) -> f64 {
        self.weight_decay.unwrap_or(if self.name == OptimizerKind::Adamw { 0.01 } else { 0.0 })
    }

    pub(crate) fn check(&self) -> Result<(), FieldError> {
        use OptimizerKind::*;
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(FieldError::new(&["lr"], "must be a positive number").with_help("e.g. `lr = 0.001`"));
        }
        if self.clip_grad_norm.is_nan() || self.clip_grad_norm < 0.0 {
            return Err(FieldError::new(&["clip_grad_norm"], "must be ≥ 0 (0 turns clipping off)"));
        }
        if self.weight_decay().is_nan() || self.weight_decay() < 0.0 {
            return Err(FieldError::new(&["weight_decay"], "must be ≥ 0"));
        }
        let name = format!("{:?}", self.name).to_lowercase();
        let only = |key: &str, set: bool, allowed: &[OptimizerKind], who: &str| {
            if set && !allowed.contains(&self.name) {
                Err(FieldError::new(&[key], format!("`{key}` is not used by `{name}` (only by {who})"))
                    .with_help(format!("remove `{key}` or pick an optimizer that uses it")))
            } else {
                Ok(())
            }
        };
        only("momentum", self.momentum != 0.0, &[Sgd, Rmsprop], "sgd, rmsprop")?;
        only("nesterov", self.nesterov, &[Sgd], "sgd")?;
        only("beta1", self.beta1 != default_beta1(), &[Adam, Adamw], "adam, adamw")?;
        only("beta2", self.beta2 != default_beta2(), &[Adam, Adamw], "adam, adamw")?;
        only("alpha", self.alpha != default_alpha(), &[Rmsprop], "rmsprop")?;
        only("flavor", self.flavor != RmspropFlavor::Pytorch, &[Rmsprop], "rmsprop")?;
        only("centered", self.centered, &[Rmsprop], "rmsprop")?;
        if self.centered && self.flavor == RmspropFlavor::Tf1 {
            return Err(FieldError::new(
                &["centered"],
                "centered RMSprop is only available with `flavor = \"pytorch\"`",
            ));
        }
        only("eps", self.eps.is_some(), &[Adam, Adamw, Rmsprop, Adagrad], "adam, adamw, rmsprop, adagrad")?;
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(FieldError::new(&["momentum"], "must be in [0, 1]"));
        }
        if self.nesterov && self.momentum == 0.0 {
            return Err(FieldError::new(&["nesterov"], "Nesterov momentum needs `momentum` > 0"));
        }
        for (key, v) in [("beta1", self.beta1), ("beta2", self.beta2), ("alpha", self.alpha)] {
            if !(0.0..1.0).contains(&v) {
                return Err(FieldError::new(&[key], "must be in [0, 1)"));
            }
        }
        if self.eps().is_nan() || self.eps() <= 0.0 {
            return Err(FieldError::new(&["eps"], "must be > 0"));
        }
        if let Some(schedule) = &self.schedule {
            schedule.check(self.lr).map_err(|e| e.within(&["schedule"]))?;
        }
        Ok(())
    }
}
