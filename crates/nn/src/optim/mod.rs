//! Optimizers over flat parameter and gradient buffers, with PyTorch's (or TensorFlow 1's)
//! update rules, and global-norm gradient clipping.
//!
//! One file per optimizer; [`build`] is the registry. Each is checked step by step against
//! PyTorch's trajectories in `tests/golden.rs`.

mod adagrad;
mod adam;
mod rmsprop;
pub mod schedule;
mod sgd;

use rnnlab_spec::{OptimizerConfig, OptimizerKind};

/// An optimizer holding its own state for `n` parameters.
pub trait Optimizer: Send {
    /// One update of `params` given their gradients.
    fn step(&mut self, params: &mut [f32], grads: &[f32]);

    /// The learning rate of the next steps (a schedule sets it before each step).
    fn set_lr(&mut self, lr: f64);
}

/// The optimizer named in `config`, for `n` parameters.
pub fn build(config: &OptimizerConfig, n: usize) -> Box<dyn Optimizer> {
    match config.name {
        OptimizerKind::Sgd => Box::new(sgd::Sgd::new(config, n)),
        OptimizerKind::Adam | OptimizerKind::Adamw => Box::new(adam::Adam::new(config, n)),
        OptimizerKind::Rmsprop => Box::new(rmsprop::Rmsprop::new(config, n)),
        OptimizerKind::Adagrad => Box::new(adagrad::Adagrad::new(config, n)),
    }
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (PyTorch's `clip_grad_norm_`).
/// Returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f64) -> f64 {
    let norm = grads.iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt();
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        grads.iter_mut().for_each(|g| *g = (*g as f64 * scale) as f32);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_scales_to_the_max_norm_and_leaves_small_gradients() {
        let mut g = vec![3.0, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6, "{g:?}");
        let mut small = vec![0.3, 0.4];
        clip_grad_norm(&mut small, 1.0);
        assert_eq!(small, [0.3, 0.4]);
    }
}
