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
        Task::MultiLabel { labels, .. } => {
            Targets::Values((0..rows * labels).map(|_| f32::from(u8::from(rng.gen_bool(0.3)))).collect())
        }
    };
    Batch { size, steps, input_size, inputs, targets, mask: None }
}

fn compare(model: &str, task: Task, size: usize, steps: usize, seed: u64) {
    compare_masked(model, task, size, steps, seed, false);
}

/// With `masked`, sequence i of the batch is `steps - i % steps` long (padding masked out).
fn compare_masked(model: &str, task: Task, size: usize, steps: usize, seed: u64, masked: bool) {
    let what = format!("{model} | {task:?} batch {size} steps {steps} masked {masked}");
    let mut config: ModelConfig = toml::from_str(model).unwrap();
    let input_size = 3;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut batch = random_batch(&mut rng, task, size, steps, input_size);
    if masked {
        batch.mask =
            Some((0..steps * size).map(|r| f32::from(u8::from(r / size < steps - (r % size) % steps))).collect());
    }
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

/// Every cell of the registry (`rnnlab_spec::for_each_cell!`), so that a new cell's fused
/// kernel is checked against its reference layer without a line here.
#[test]
fn every_registered_cell_has_a_fused_kernel_that_matches_its_reference() {
    for (seed, cell) in (1000..).zip(rnnlab_spec::CellKind::ALL) {
        let model = format!("cell = '{}'\nhidden_size = 5\nlayers = 2", cell.name());
        compare(&model, Task::Classify { classes: 3, per_step: true }, 4, 5, seed);
        compare_masked(&model, Task::MultiLabel { labels: 3, per_step: true }, 4, 5, seed, true);
    }
}

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
                compare(m, Task::MultiLabel { labels: width, per_step: true }, size, steps, seed);
                for task in [
                    Task::Classify { classes: width, per_step: true },
                    Task::Regress { outputs: width, per_step: true },
                    Task::MultiLabel { labels: width, per_step: true },
                ] {
                    compare_masked(m, task, size, steps, seed, true);
                }
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

/// Masked rows change nothing: the loss of a batch with padding equals the loss of the same
/// sequences with the padded steps' targets changed arbitrarily.
#[test]
fn padded_targets_do_not_matter() {
    let config: ModelConfig = toml::from_str("cell = 'gru'\nhidden_size = 4").unwrap();
    let task = Task::MultiLabel { labels: 3, per_step: true };
    let mut rng = StdRng::seed_from_u64(9);
    let mut batch = random_batch(&mut rng, task, 2, 3, 3);
    // Sequence 1 is one step long: time-major rows 3 (t = 1) and 5 (t = 2) are padding.
    batch.mask = Some(vec![1.0, 1.0, 1.0, 0.0, 1.0, 0.0]);
    for kernel in [KernelKind::Fused, KernelKind::Reference] {
        let mut config = config.clone();
        config.kernel = kernel;
        let mut net = Network::new(&Cpu::default(), &config, 3, task, &mut StdRng::seed_from_u64(1)).unwrap();
        let (loss, grads) = net.loss_and_grads(&batch);
        let mut other = batch.clone();
        // Targets are batch-major [B, T, 3]: sequence 1, steps 1 and 2.
        if let Targets::Values(v) = &mut other.targets {
            v[12..18].iter_mut().for_each(|x| *x = 1.0 - *x);
        }
        let (loss2, grads2) = net.loss_and_grads(&other);
        assert_close(&format!("{kernel:?} loss"), &[loss2], &[loss]);
        assert_close(&format!("{kernel:?} gradients"), &grads2, &grads);
        // And the padding is really ignored, not everything: changing a real target matters.
        if let Targets::Values(v) = &mut other.targets {
            v[0] = 1.0 - v[0];
        }
        assert_ne!(net.loss_and_grads(&other).0, loss, "{kernel:?}");
    }
}

/// The inference path runs a large batch in blocks of rows: its predictions equal the
/// reference cells' for the whole batch and the fused path's for each sequence alone, at every
/// step and at the last, with and without a head.
#[test]
fn predictions_of_a_batch_run_in_blocks_match_the_reference_and_each_sequence_alone() {
    // Hidden 256: a block is ~157 rows, so 350 sequences run as three blocks.
    for (model, task) in [
        ("cell = 'lstm'\nhidden_size = 256", Task::Classify { classes: 3, per_step: false }),
        ("cell = 'gru'\nhidden_size = 256\nlayers = 2", Task::Regress { outputs: 2, per_step: true }),
        ("cell = 'rnn'\nhidden_size = 512\nhead = 'none'", Task::Classify { classes: 512, per_step: true }),
    ] {
        let mut rng = StdRng::seed_from_u64(4);
        let batch = random_batch(&mut rng, task, 350, 3, 2);
        let mut config: ModelConfig = toml::from_str(model).unwrap();
        let fused = Network::new(&Cpu::default(), &config, 2, task, &mut StdRng::seed_from_u64(1)).unwrap();
        config.kernel = KernelKind::Reference;
        let reference = Network::new(&Cpu::default(), &config, 2, task, &mut StdRng::seed_from_u64(1)).unwrap();
        let (all, want) = (fused.predict(&batch), reference.predict(&batch));
        assert_eq!(all.steps.len(), want.steps.len());
        for (t, (a, b)) in all.steps.iter().zip(&want.steps).enumerate() {
            assert_close(&format!("{model}: step {t}"), a, b);
        }
        for i in [0, 156, 157, 349] {
            let one = Batch {
                size: 1,
                steps: 3,
                input_size: 2,
                inputs: (0..3).flat_map(|t| batch.inputs[(t * 350 + i) * 2..(t * 350 + i + 1) * 2].to_vec()).collect(),
                targets: batch.targets.clone(),
                mask: None,
            };
            let alone = fused.predict(&one);
            let w = alone.width;
            for (t, step) in alone.steps.iter().enumerate() {
                assert_close(&format!("{model}: sequence {i} step {t}"), step, &all.steps[t][i * w..(i + 1) * w]);
            }
        }
    }
}

#[test]
fn rnnlab_simd_caps_the_level_the_kernels_run_at() {
    use rnnlab_nn::fused::blas::{level, Level};
    // `just test-kernels-baseline` (CI) runs these tests with RNNLAB_SIMD=baseline: the
    // generic code paths, whatever this CPU has.
    match std::env::var("RNNLAB_SIMD").as_deref() {
        Ok("baseline") => assert_eq!(level(), Level::Baseline),
        Ok("avx2") => assert_ne!(level(), Level::Avx512),
        _ => {}
    }
}
