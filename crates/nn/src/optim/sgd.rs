//! SGD with momentum, Nesterov and L2 weight decay, as `torch.optim.SGD` (dampening 0).

use rnnlab_spec::OptimizerConfig;

use super::Optimizer;

pub struct Sgd {
    lr: f32,
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
    /// Momentum buffer; empty until the first step (PyTorch starts it at the first gradient).
    buf: Vec<f32>,
}

impl Sgd {
    pub fn new(c: &OptimizerConfig, _n: usize) -> Self {
        Sgd {
            lr: c.lr as f32,
            momentum: c.momentum as f32,
            nesterov: c.nesterov,
            weight_decay: c.weight_decay() as f32,
            buf: Vec::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
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
