//! The optimizers (`rnnlab-optim`: one file each, owning its keys and update rule) as a
//! trial uses them (the learning-rate schedules are train's, `rnnlab_train::schedule`).

pub use rnnlab_optim::{clip_grad_norm, Optimizer, State};
use rnnlab_spec::OptimizerConfig;

/// The optimizer `config` names, for `n` parameters. `config` has passed the spec's checks.
pub fn build(config: &OptimizerConfig, n: usize) -> Box<dyn Optimizer> {
    config.settings().expect("a checked spec's optimizer keys decode").build(config.lr, n)
}
