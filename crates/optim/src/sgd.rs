//! SGD with momentum, Nesterov and L2 weight decay, as `torch.optim.SGD` (dampening 0).

use serde::{Deserialize, Serialize};

use crate::{non_negative, KeyError, Optimizer, Settings, State};

/// `name = "sgd"`: its keys, with PyTorch's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// L2 penalty added to the gradient (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Momentum factor in [0, 1] (default 0: plain SGD).
    #[serde(default)]
    pub momentum: f64,
    /// Nesterov momentum (needs `momentum` > 0).
    #[serde(default)]
    pub nesterov: bool,
}

impl Settings for Config {
    fn check(&self) -> Result<(), KeyError> {
        non_negative("weight_decay", self.weight_decay.unwrap_or(0.0), false)?;
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(KeyError::new("momentum", "must be in [0, 1]"));
        }
        if self.nesterov && self.momentum == 0.0 {
            return Err(KeyError::new("nesterov", "Nesterov momentum needs `momentum` > 0"));
        }
        Ok(())
    }

    fn build(&self, lr: f64, _n: usize) -> Box<dyn Optimizer> {
        Box::new(Sgd {
            lr: lr as f32,
            momentum: self.momentum as f32,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay.unwrap_or(0.0) as f32,
            buf: Vec::new(),
        })
    }

    fn state_buffers(&self) -> usize {
        usize::from(self.momentum != 0.0)
    }
}

struct Sgd {
    lr: f32,
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
    /// Momentum buffer; empty until the first step (PyTorch starts it at the first gradient).
    buf: Vec<f32>,
}

impl Optimizer for Sgd {
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
    }

    fn state(&self) -> State {
        State { buffers: vec![self.buf.clone()], steps: 0 }
    }

    fn restore(&mut self, state: State, n: usize) -> Result<(), String> {
        [self.buf] = state.buffers(n, [&self.buf[..]])?;
        Ok(())
    }

    fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        let first = self.buf.is_empty();
        if first && self.momentum != 0.0 {
            self.buf = vec![0.0; params.len()];
        }
        for i in 0..params.len() {
            let mut g = grads[i] + self.weight_decay * params[i];
            if self.momentum != 0.0 {
                let b = &mut self.buf[i];
                *b = if first { g } else { self.momentum * *b + g };
                g = if self.nesterov { g + self.momentum * *b } else { *b };
            }
            params[i] -= self.lr * g;
        }
    }
}
