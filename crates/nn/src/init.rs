//! Parameter initialisation from `[model] init`, drawn from the trial's seeded generator in
//! visiting order, so a trial's initial weights depend only on its config and seed.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use rnnlab_spec::{CellKind, Init, ModelConfig};

use crate::params::{HasParams, Mapper};

/// Fills every parameter of `net` according to `config`.
pub fn initialize<D: Device<f32>, M: HasParams<D>>(net: &mut M, config: &ModelConfig, rng: &mut StdRng) {
    let mut v = InitVisitor { config, rng, last_name: String::new(), chunk: 0 };
    net.map_params("", &mut v);
}

struct InitVisitor<'a> {
    config: &'a ModelConfig,
    rng: &'a mut StdRng,
    /// Gate chunk index within the current PyTorch parameter.
    last_name: String,
    chunk: usize,
}

impl<D: Device<f32>> Mapper<D> for InitVisitor<'_> {
    fn map<S: Shape>(&mut self, name: &str, t: &mut Tensor<S, f32, D>) {
        if name == self.last_name {
            self.chunk += 1;
        } else {
            self.last_name = name.to_string();
            self.chunk = 0;
        }
        let dims: Vec<usize> = t.shape().concrete().into_iter().collect();
        let n = t.shape().num_elements();
        let is_bias = name.contains("bias");
        let values: Vec<f32> = if name.starts_with("head.") {
            // nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
            let fan_in = self.config.output_size();
            uniform(self.rng, n, 1.0 / (fan_in as f64).sqrt())
        } else {
            match self.config.init {
                Init::Pytorch => uniform(self.rng, n, 1.0 / (self.config.hidden_size as f64).sqrt()),
                Init::Zeros => vec![0.0; n],
                Init::Xavier if is_bias => vec![0.0; n],
                Init::Xavier => uniform(self.rng, n, (6.0 / (dims[0] + dims[1]) as f64).sqrt()),
                Init::Normal if is_bias => vec![0.0; n],
                Init::Normal => {
                    let normal = Normal::new(0.0, self.config.init_std).expect("init_std checked > 0");
                    (0..n).map(|_| normal.sample(self.rng) as f32).collect()
                }
            }
        };
        let forget_gate = self.config.cell == CellKind::Lstm && name.starts_with("rnn.bias_ih") && self.chunk == 1;
        let shift = if forget_gate { self.config.forget_bias as f32 } else { 0.0 };
        let values: Vec<f32> = values.into_iter().map(|v| v + shift).collect();
        t.copy_from(&values);
    }
}

fn uniform(rng: &mut StdRng, n: usize, bound: f64) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-bound..=bound) as f32).collect()
}
