//! Adagrad as `torch.optim.Adagrad` (no learning-rate decay, accumulator from 0).

use serde::{Deserialize, Serialize};

use crate::{non_negative, KeyError, Optimizer, Settings, State};

/// `name = "adagrad"`: its keys, with PyTorch's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// L2 penalty added to the gradient (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Added to the denominator (default 1e-10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
}

impl Settings for Config {
    fn check(&self) -> Result<(), KeyError> {
        non_negative("weight_decay", self.weight_decay.unwrap_or(0.0), false)?;
        non_negative("eps", self.eps.unwrap_or(1e-10), true)
    }

    fn build(&self, lr: f64, n: usize) -> Box<dyn Optimizer> {
        Box::new(Adagrad {
            lr: lr as f32,
            eps: self.eps.unwrap_or(1e-10) as f32,
            weight_decay: self.weight_decay.unwrap_or(0.0) as f32,
            sum: vec![0.0; n],
        })
    }

    fn state_buffers(&self) -> usize {
        1
    }
}

struct Adagrad {
    lr: f32,
    eps: f32,
    weight_decay: f32,
    sum: Vec<f32>,
}

impl Optimizer for Adagrad {
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
    }

    fn state(&self) -> State {
        State { buffers: vec![self.sum.clone()], steps: 0 }
    }

    fn restore(&mut self, state: State, n: usize) -> Result<(), String> {
        [self.sum] = state.buffers(n, [&self.sum[..]])?;
        Ok(())
    }

    fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        for ((p, &g), s) in params.iter_mut().zip(grads).zip(&mut self.sum) {
            let g = g + self.weight_decay * *p;
            *s += g * g;
            *p -= self.lr * g / (s.sqrt() + self.eps);
        }
    }
}
