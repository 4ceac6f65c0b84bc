//! Adam (L2 weight decay added to the gradient) and AdamW (decoupled decay), as
//! `torch.optim.Adam` / `AdamW`: one `Config`, `DECOUPLED` telling them apart.

use serde::{Deserialize, Serialize};

use crate::{non_negative, unit_interval, KeyError, Optimizer, Settings, State};

/// `name = "adam"` (`torch.optim.Adam`, weight decay added to the gradient) and `name =
/// "adamw"` (`torch.optim.AdamW`, decoupled decay): their keys, with PyTorch's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config<const DECOUPLED: bool> {
    /// L2 penalty (adam) or decoupled decay (adamw); defaults 0 and 0.01 (PyTorch's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Decay of the first moment, in [0, 1) (default 0.9).
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// Decay of the second moment, in [0, 1) (default 0.999).
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// Added to the denominator (default 1e-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}

impl<const DECOUPLED: bool> Config<DECOUPLED> {
    fn weight_decay(&self) -> f64 {
        self.weight_decay.unwrap_or(if DECOUPLED { 0.01 } else { 0.0 })
    }

    fn eps(&self) -> f64 {
        self.eps.unwrap_or(1e-8)
    }
}

impl<const DECOUPLED: bool> Settings for Config<DECOUPLED> {
    fn check(&self) -> Result<(), KeyError> {
        non_negative("weight_decay", self.weight_decay(), false)?;
        unit_interval("beta1", self.beta1)?;
        unit_interval("beta2", self.beta2)?;
        non_negative("eps", self.eps(), true)
    }

    fn build(&self, lr: f64, n: usize) -> Box<dyn Optimizer> {
        Box::new(Adam {
            lr: lr as f32,
            beta1: self.beta1 as f32,
            beta2: self.beta2 as f32,
            eps: self.eps() as f32,
            weight_decay: self.weight_decay() as f32,
            decoupled: DECOUPLED,
            t: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        })
    }

    fn state_buffers(&self) -> usize {
        2
    }
}

struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: bool,
    t: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Optimizer for Adam {
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
    }

    fn state(&self) -> State {
        State { buffers: vec![self.m.clone(), self.v.clone()], steps: self.t as u64 }
    }

    fn restore(&mut self, state: State, n: usize) -> Result<(), String> {
        let t = i32::try_from(state.steps).map_err(|_| format!("{} Adam steps", state.steps))?;
        [self.m, self.v] = state.buffers(n, [&self.m[..], &self.v[..]])?;
        self.t = t;
        Ok(())
    }

    fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let step_size = self.lr / (1.0 - b1.powi(self.t));
        let bc2_sqrt = (1.0 - b2.powi(self.t)).sqrt();
        let (wd_l2, decay) =
            if self.decoupled { (0.0, 1.0 - self.lr * self.weight_decay) } else { (self.weight_decay, 1.0) };
        for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(&mut self.m).zip(&mut self.v) {
            let g = g + wd_l2 * *p;
            *p *= decay;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= step_size * *m / (v.sqrt() / bc2_sqrt + self.eps);
        }
    }
}
