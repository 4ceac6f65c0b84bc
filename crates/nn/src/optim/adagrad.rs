//! Adagrad as `torch.optim.Adagrad` (no learning-rate decay, accumulator from 0).

use rnnlab_spec::OptimizerConfig;

use super::Optimizer;

pub struct Adagrad {
    lr: f32,
    eps: f32,
    weight_decay: f32,
    sum: Vec<f32>,
}

impl Adagrad {
    pub fn new(c: &OptimizerConfig, n: usize) -> Self {
        Adagrad { lr: c.lr as f32, eps: c.eps() as f32, weight_decay: c.weight_decay() as f32, sum: vec![0.0; n] }
    }
}

impl Optimizer for Adagrad {
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
    }

    fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        for ((p, &g), s) in params.iter_mut().zip(grads).zip(&mut self.sum) {
            let g = g + self.weight_decay * *p;
            *s += g * g;
            *p -= self.lr * g / (s.sqrt() + self.eps);
        }
    }
}
