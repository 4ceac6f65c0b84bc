//! RMSprop in two flavours: PyTorch's (square average from 0, eps outside the square root,
//! optional centring) and TensorFlow 1's `RMSPropOptimizer` (from 1, eps inside).

use serde::{Deserialize, Serialize};

use crate::{non_negative, unit_interval, KeyError, Optimizer, Settings, State};

/// RMSprop flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// `torch.optim.RMSprop`: square average starts at 0, eps added after the square root.
    #[default]
    Pytorch,
    /// TensorFlow 1.x `RMSPropOptimizer`: square average starts at 1, eps inside the square root.
    Tf1,
}

/// `name = "rmsprop"`: its keys, with PyTorch's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// L2 penalty added to the gradient (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Momentum factor in [0, 1] (default 0).
    #[serde(default)]
    pub momentum: f64,
    /// Added to the denominator; defaults to 1e-8 (`pytorch`) or 1e-10 (`tf1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    /// Smoothing constant of the square average, in [0, 1) (PyTorch `alpha`, TF `decay`;
    /// default 0.99).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Whose update rule.
    #[serde(default)]
    pub flavor: Flavor,
    /// Normalise by the centred second moment (PyTorch flavour only).
    #[serde(default)]
    pub centered: bool,
}

fn default_alpha() -> f64 {
    0.99
}

impl Config {
    fn eps(&self) -> f64 {
        self.eps.unwrap_or(if self.flavor == Flavor::Tf1 { 1e-10 } else { 1e-8 })
    }
}

impl Settings for Config {
    fn check(&self) -> Result<(), KeyError> {
        non_negative("weight_decay", self.weight_decay.unwrap_or(0.0), false)?;
        if self.centered && self.flavor == Flavor::Tf1 {
            return Err(KeyError::new("centered", "centered RMSprop is only available with `flavor = \"pytorch\"`")
                .with_help("remove `centered` or use `flavor = \"pytorch\"`"));
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(KeyError::new("momentum", "must be in [0, 1]"));
        }
        unit_interval("alpha", self.alpha)?;
        non_negative("eps", self.eps(), true)
    }

    fn build(&self, lr: f64, n: usize) -> Box<dyn Optimizer> {
        let tf1 = self.flavor == Flavor::Tf1;
        Box::new(Rmsprop {
            lr: lr as f32,
            alpha: self.alpha as f32,
            eps: self.eps() as f32,
            momentum: self.momentum as f32,
            weight_decay: self.weight_decay.unwrap_or(0.0) as f32,
            centered: self.centered,
            tf1,
            square_avg: vec![if tf1 { 1.0 } else { 0.0 }; n],
            grad_avg: vec![0.0; if self.centered { n } else { 0 }],
            buf: vec![0.0; n],
        })
    }

    fn state_buffers(&self) -> usize {
        2 + usize::from(self.centered)
    }
}

struct Rmsprop {
    lr: f32,
    alpha: f32,
    eps: f32,
    momentum: f32,
    weight_decay: f32,
    centered: bool,
    tf1: bool,
    square_avg: Vec<f32>,
    grad_avg: Vec<f32>,
    buf: Vec<f32>,
}

impl Optimizer for Rmsprop {
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
    }

    fn state(&self) -> State {
        State { buffers: vec![self.square_avg.clone(), self.grad_avg.clone(), self.buf.clone()], steps: 0 }
    }

    fn restore(&mut self, state: State, n: usize) -> Result<(), String> {
        [self.square_avg, self.grad_avg, self.buf] =
            state.buffers(n, [&self.square_avg[..], &self.grad_avg[..], &self.buf[..]])?;
        Ok(())
    }

    fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        let a = self.alpha;
        for i in 0..params.len() {
            let g = grads[i] + self.weight_decay * params[i];
            let sq = &mut self.square_avg[i];
            *sq = a * *sq + (1.0 - a) * g * g;
            if self.tf1 {
                // mom = momentum * mom + lr * g / sqrt(ms + eps); p -= mom
                self.buf[i] = self.momentum * self.buf[i] + self.lr * g / (*sq + self.eps).sqrt();
                params[i] -= self.buf[i];
                continue;
            }
            let var = if self.centered {
                let ga = &mut self.grad_avg[i];
                *ga = a * *ga + (1.0 - a) * g;
                *sq - *ga * *ga
            } else {
                *sq
            };
            let denom = var.sqrt() + self.eps;
            if self.momentum > 0.0 {
                self.buf[i] = self.momentum * self.buf[i] + g / denom;
                params[i] -= self.lr * self.buf[i];
            } else {
                params[i] -= self.lr * g / denom;
            }
        }
    }
}
