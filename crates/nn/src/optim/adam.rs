//! Adam (L2 weight decay added to the gradient) and AdamW (decoupled decay), as
//! `torch.optim.Adam` / `AdamW`.

use rnnlab_spec::{OptimizerConfig, OptimizerKind};

use super::Optimizer;

pub struct Adam {
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

impl Adam {
    pub fn new(c: &OptimizerConfig, n: usize) -> Self {
        Adam {
            lr: c.lr as f32,
            beta1: c.beta1 as f32,
            beta2: c.beta2 as f32,
            eps: c.eps() as f32,
            weight_decay: c.weight_decay() as f32,
            decoupled: c.name == OptimizerKind::Adamw,
            t: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }
}

impl Optimizer for Adam {
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
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
