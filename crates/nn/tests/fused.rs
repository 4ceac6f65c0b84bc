//! The fused kernels against the reference cells, through the whole network (layers, head and
//! loss): same loss, parameter gradients and predictions to 1e-5, over every cell variant,
//! one and two layers, with and without projection and head, batch and length down to 1,
//! per-step and last-step classification and per-step regression.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use rnnlab_nn::{Batch, Network, Targets, Task};
use rnnlab_spec::{KernelKind, ModelConfig};

/// `|a - b| <= 1e-5 + 1e-5 |b|` elementwise.
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 + 1e-5 * w.abs();
        assert!((g - w).abs() <= tol, "{what}[{i}]: fused {g}, reference {w}");
    }
}

fn random_batch(rng: &mut StdRng, task: Task, size: usize, steps: usize, input_size: usize) -> Batch {
    let inputs = (0..size * steps * input_size).map(|_| rng.gen_range(-2.0..2.0)).collect();
    let rows = if task.per_step() { size * steps } else { size };
    let targets = match task {
        Task::Classify { classes, .. } => {
            Targets::Classes((0..rows).map(|_| rng.gen_range(0..classes as u32)).collect())
        }
        Task::Regress { outputs, .. } => {
            Targets::Values((0..rows * outputs).map(|_| rng.gen_range(-1.0..1.0)).collect())
        }
    };
    Batch { size, steps, input_size, inputs, targets }
}

fn compare(model: &str, task: Task, size: usize, steps: usize, seed: u64) {
    let what = format!("{model} | {task:?} batch {size} steps {steps}");
    let mut config: ModelConfig = toml::from_str(model).unwrap();
    let input_size = 3;
    let mut rng = StdRng::seed_from_u64(seed);
    let batch = random_batch(&mut rng, task, size, steps, input_size);
    let dev = Cpu::default();
    let mut nets = [KernelKind::Fused, KernelKind::Reference].map(|kernel| {
        config.kernel = kernel;
        Network::new(&dev, &config, input_size, task, &mut StdRng::seed_from_u64(seed)).unwrap()
    });
    let [fused, reference] = &mut nets;
    let (loss_f, grads_f) = fused.loss_and_grads(&batch);
    let (loss_r, grads_r) = reference.loss_and_grads(&batch);
    assert_close(&format!("{what}: loss"), &[loss_f], &[loss_r]);
    assert_close(&format!("{what}: gradients"), &grads_f, &grads_r);
    assert!(grads_r.iter().any(|&g| g != 0.0), "{what}: reference gradient is all zero");
    let (pf, pr) = (fused.predict(&batch), reference.predict(&batch));
    assert_eq!(pf.steps.len(), pr.steps.len(), "{what}: predicted steps");
    for (t, (a, b)) in pf.steps.iter().zip(&pr.steps).enumerate() {
        assert_close(&format!("{what}: prediction at step {t}"), a, b);
    }
}

const MODELS: [&str; 7] = [
    "cell = 'lstm'\nhidden_size = 5",
    "cell = 'lstm'\nhidden_size = 6\nproj_size = 3\nforget_bias = 1.0",
    "cell = 'gru'\nhidden_size = 5",
    "cell = 'rnn'\nhidden_size = 4",
    "cell = 'rnn'\nhidden_size = 4\nnonlinearity = 'relu'\ninit = 'xavier'",
    "cell = 'lstm'\nhidden_size = 4\nlayers = 2\nproj_size = 2\nhead = 'none'",
    "cell = 'gru'\nhidden_size = 3\nlayers = 2\nhead = 'none'",
];

#[test]
fn fused_matches_reference_over_cells_shapes_and_tasks() {
    let shapes = [(1, 1), (3, 1), (1, 4), (4, 5), (7, 9)];
    let mut seed = 0;
    for model in MODELS {
        let layers2 = format!("{model}\nlayers = 2");
        let variants =
            if model.contains("layers") { vec![model.to_string()] } else { vec![model.to_string(), layers2] };
        for m in &variants {
            // Models without a head output their hidden size: give the task that many classes.
            let width: usize = if m.contains("head = 'none'") {
                let key = if m.contains("proj_size") { "proj_size" } else { "hidden_size" };
                toml::from_str::<toml::Table>(m).unwrap()[key].as_integer().unwrap() as usize
            } else {
                3
            };
            for &(size, steps) in &shapes {
                seed += 1;
                compare(m, Task::Classify { classes: width, per_step: true }, size, steps, seed);
                compare(m, Task::Classify { classes: width, per_step: false }, size, steps, seed);
                compare(m, Task::Regress { outputs: width, per_step: true }, size, steps, seed);
            }
        }
    }
}

#[test]
fn reference_kernel_is_selectable_and_the_default_is_fused() {
    let config: ModelConfig = toml::from_str("cell = 'gru'\nhidden_size = 4").unwrap();
    assert_eq!(config.kernel, KernelKind::Fused);
    let config: ModelConfig = toml::from_str("cell = 'gru'\nhidden_size = 4\nkernel = 'reference'").unwrap();
    assert_eq!(config.kernel, KernelKind::Reference);
}
