//! RMSprop in two flavours: PyTorch's (square average from 0, eps outside the square root,
//! optional centring) and TensorFlow 1's `RMSPropOptimizer` (from 1, eps inside).

use rnnlab_spec::{OptimizerConfig, RmspropFlavor};

use super::Optimizer;

pub struct Rmsprop {
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

impl Rmsprop {
    pub fn new(c: &OptimizerConfig, n: usize) -> Self {
        let tf1 = c.flavor == RmspropFlavor::Tf1;
        Rmsprop {
            lr: c.lr as f32,
            alpha: c.alpha as f32,
            eps: c.eps() as f32,
            momentum: c.momentum as f32,
            weight_decay: c.weight_decay() as f32,
            centered: c.centered,
            tf1,
            square_avg: vec![if tf1 { 1.0 } else { 0.0 }; n],
            grad_avg: vec![0.0; if c.centered { n } else { 0 }],
            buf: vec![0.0; n],
        }
    }
}

impl Optimizer for Rmsprop {
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
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
