//! What a trial will allocate, estimated before anything is allocated, so that a spec asking
//! for more than the machine has is refused with the estimate instead of aborting the process
//! ("memory allocation of … failed" cannot be caught).
//!
//! The estimate counts f32 buffers: the parameters and their copies (network, flat buffer,
//! gradients, optimizer state), the activations a training batch saves for backpropagation,
//! an evaluation batch, and the dataset. It is a lower bound on the dominant terms, not an
//! exact figure.

use rnnlab_spec::{ModelConfig, OptimizerConfig, TrainConfig};

/// Learnable parameters of a network of `model` on inputs of `input_size` features with a head
/// of `output_size` outputs, counted as PyTorch counts them (`ModelConfig::param_count`).
pub fn param_count(model: &ModelConfig, input_size: usize, output_size: usize) -> u128 {
    model.param_count(input_size, output_size)
}

/// f32 buffers of optimizer state per parameter (3, the most any keeps, for keys that do not
/// decode: checked specs always do).
fn optimizer_slots(opt: &OptimizerConfig) -> u128 {
    opt.settings().map_or(3, |s| s.state_buffers() as u128)
}

/// The shapes a trial's data has (known once the dataset is built).
#[derive(Debug, Clone, Copy)]
pub struct DataShape {
    pub input_size: usize,
    pub output_size: usize,
    /// Steps of the longest sequence.
    pub steps: usize,
    pub train_len: usize,
    pub test_len: usize,
}

/// Estimated bytes a trial allocates at its peak. With `data = None` (when a spec is checked,
/// before any data is read) only the parameter terms are counted, with one input feature.
pub fn trial_bytes(
    model: &ModelConfig,
    optimizer: &OptimizerConfig,
    train: &TrainConfig,
    output_size: usize,
    data: Option<DataShape>,
) -> u128 {
    let input_size = data.map_or(1, |d| d.input_size);
    let params = param_count(model, input_size, output_size);
    // Network tensors, the flat copy, gradients (dfdx's and the flat ones), optimizer state.
    let mut floats = params * (4 + optimizer_slots(optimizer));
    if let Some(d) = data {
        let width = (model.cell.gates() + 4) as u128 * model.hidden_size as u128 * model.layers as u128;
        let rows = |batch: usize, len: usize| batch.min(len.max(1)) as u128 * d.steps as u128;
        // Saved activations of a training batch (and their gradients), an evaluation batch.
        floats += 2 * rows(train.batch_size, d.train_len) * width;
        if model.dropout > 0.0 || model.head_dropout > 0.0 {
            // A mask, the dropped rows and their gradient per layer.
            floats += 3 * rows(train.batch_size, d.train_len) * model.output_size() as u128 * model.layers as u128;
        }
        floats += rows(train.eval_batch_size, d.test_len) * (width + d.output_size as u128);
        floats += ((d.train_len + d.test_len) as u128) * d.steps as u128 * (d.input_size + d.output_size) as u128;
    }
    floats * 4
}

/// `bytes` as `12.3 GiB` (or MiB).
pub fn human(bytes: u128) -> String {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// Refuses an estimate above the machine's memory, saying both.
pub fn check_fits(bytes: u128, what: &str) -> Result<(), String> {
    let Some(total) = rnnlab_data::files::memory_total() else { return Ok(()) };
    if bytes > total as u128 {
        return Err(format!(
            "{what} needs at least {} of memory by rnnlab's estimate, more than this machine's {}; \
             use a smaller hidden_size, layers, batch_size or eval_batch_size",
            human(bytes),
            human(total as u128)
        ));
    }
    Ok(())
}

/// Asks the allocator for `bytes` without touching them (and gives them back): `false` when
/// the request would fail, so a trial can be recorded failed instead of aborting the process.
pub fn can_allocate(bytes: u128) -> bool {
    let Ok(n) = usize::try_from(bytes) else { return false };
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(n).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_sizes_are_refused_with_the_estimate() {
        let model: ModelConfig = toml::from_str("cell = 'lstm'\nhidden_size = 20000").unwrap();
        let opt: OptimizerConfig = toml::from_str("name = 'adam'\nlr = 0.1").unwrap();
        let train: TrainConfig = toml::from_str("steps = 1\nbatch_size = 8").unwrap();
        let bytes = trial_bytes(&model, &opt, &train, 2, None);
        // 4 gates × 20000 × (1 + 20000) weights alone are 1.6e9 parameters.
        assert!(bytes > 1_600_000_000 * 4 * 6, "{bytes}");
        if rnnlab_data::files::memory_total().is_some_and(|t| (t as u128) < bytes) {
            let e = check_fits(bytes, "this trial").unwrap_err();
            assert!(e.contains("GiB") && e.contains("hidden_size"), "{e}");
        }
        assert!(!can_allocate(u128::MAX));
        assert!(!can_allocate(1 << 62), "4 EiB cannot be reserved");
        assert!(can_allocate(1 << 20));
    }

    #[test]
    fn the_parameter_formula_counts_what_the_network_allocates() {
        use rand::SeedableRng;
        let task = rnnlab_data::Task::Classify { classes: 3, per_step: true };
        for spec in [
            "cell = 'lstm'\nhidden_size = 5\nlayers = 2\nproj_size = 2",
            "cell = 'lstm'\nhidden_size = 4",
            "cell = 'gru'\nhidden_size = 6\nlayers = 3",
            "cell = 'rnn'\nhidden_size = 7\nhead = 'linear'",
            "cell = 'rnn'\nhidden_size = 3\nhead = 'none'",
        ] {
            let model: ModelConfig = toml::from_str(spec).unwrap();
            let dev = dfdx::prelude::Cpu::default();
            let net =
                rnnlab_nn::Network::new(&dev, &model, 4, task, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
            assert_eq!(param_count(&model, 4, 3), rnnlab_nn::params::count(&net) as u128, "{spec}");
        }
    }
}
