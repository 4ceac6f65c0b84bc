//! The network as a trial uses it: compile-time shapes, gradients against finite differences,
//! and that training reduces the loss.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use rnnlab_nn::cells::LstmLayer;
use rnnlab_nn::optim;
use rnnlab_nn::params::{flat_values, set_flat_values};
use rnnlab_nn::{Batch, Network, Targets, Task};
use rnnlab_spec::{ModelConfig, OptimizerConfig};

fn model(src: &str) -> ModelConfig {
    toml::from_str(src).unwrap()
}

/// With `Const` sizes the layer's shapes are checked by the compiler: feeding a `[2, 3]` input
/// to a layer built for input 4 does not compile, and the output type is `[batch, proj]`.
#[test]
fn const_dims_give_compile_time_shapes() {
    let dev = Cpu::default();
    let layer: LstmLayer<Const<4>, Const<6>, Const<3>, Cpu> = LstmLayer::zeros(&dev, 0, Const, Const, Const, true);
    let xs: Vec<Tensor<Rank2<2, 4>, f32, Cpu>> = vec![dev.ones(), dev.ones()];
    let out = layer.forward(&xs, &mut NoneTape);
    let last: &Tensor<Rank2<2, 3>, f32, Cpu> = &out.h_n;
    let c: Tensor<Rank2<2, 6>, f32, Cpu> = out.c_n.unwrap();
    // All-zero weights: gates are sigmoid(0) = 0.5, g = tanh(0) = 0, so c and h stay 0.
    assert_eq!(last.array(), [[0.0; 3]; 2]);
    assert_eq!(c.array(), [[0.0; 6]; 2]);
}

fn batch(per_step: bool) -> Batch {
    // 3 sequences, 4 steps, 2 features.
    let inputs: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
    let targets = if per_step {
        Targets::Classes(vec![0, 1, 2, 1, 0, 2, 1, 1, 2, 0, 0, 1])
    } else {
        Targets::Classes(vec![2, 0, 1])
    };
    Batch { size: 3, steps: 4, input_size: 2, inputs, targets, mask: None }
}

/// Central differences in f32 with a generous tolerance: catches lost or doubled gradient paths
/// (errors of the size of the gradient), not rounding.
fn check_gradients(config: &str, per_step: bool) {
    let task = Task::Classify { classes: 3, per_step };
    let mut net = Network::new(&Cpu::default(), &model(config), 2, task, &mut StdRng::seed_from_u64(1)).unwrap();
    let b = batch(per_step);
    let (_, grads) = net.loss_and_grads(&b);
    let params = flat_values(&net);
    let eps = 1e-2f32;
    for i in (0..params.len()).step_by(7) {
        let mut at = |d: f32| {
            let mut p = params.clone();
            p[i] += d;
            set_flat_values(&mut net, &p);
            net.loss_and_grads(&b).0
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
        let tol = 2e-3 + 2e-2 * numeric.abs();
        assert!(
            (grads[i] - numeric).abs() <= tol,
            "{config} param {i}: backprop {} vs finite difference {numeric}",
            grads[i]
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    check_gradients("cell = 'lstm'\nhidden_size = 5\nlayers = 2\nproj_size = 3", true);
    check_gradients("cell = 'lstm'\nhidden_size = 5", false);
    check_gradients("cell = 'gru'\nhidden_size = 5\nlayers = 2", true);
    check_gradients("cell = 'rnn'\nhidden_size = 5\nnonlinearity = 'relu'", false);
}

#[test]
fn training_reduces_the_loss() {
    for cell in ["lstm", "gru", "rnn"] {
        let config = model(&format!("cell = '{cell}'\nhidden_size = 8"));
        let task = Task::Classify { classes: 3, per_step: true };
        let mut net = Network::new(&Cpu::default(), &config, 2, task, &mut StdRng::seed_from_u64(0)).unwrap();
        let opt_config: OptimizerConfig = toml::from_str("name = 'adam'\nlr = 0.05").unwrap();
        let mut params = flat_values(&net);
        let mut opt = optim::build(&opt_config, params.len());
        let b = batch(true);
        let first = net.loss_and_grads(&b).0;
        for _ in 0..60 {
            let (_, g) = net.loss_and_grads(&b);
            opt.step(&mut params, &g);
            set_flat_values(&mut net, &params);
        }
        let last = net.loss_and_grads(&b).0;
        assert!(last < first * 0.5, "{cell}: loss {first} -> {last}");
    }
}

#[test]
fn head_none_requires_matching_sizes() {
    let task = Task::Classify { classes: 2, per_step: true };
    let bad = model("cell = 'lstm'\nhidden_size = 8\nproj_size = 3\nhead = 'none'");
    let err = Network::zeros(&Cpu::default(), &bad, 1, task).unwrap_err();
    assert!(err.to_string().contains("(3) to equal the task's output size (2)"), "{err}");
    let good = model("cell = 'lstm'\nhidden_size = 8\nproj_size = 2\nhead = 'none'");
    assert!(Network::zeros(&Cpu::default(), &good, 1, task).unwrap().head.is_none());
}

/// A step at a flat parameter vector (the optimizer's buffer) computes what the network would
/// at those parameters, on both kernels; the fused path leaves the network's tensors alone.
#[test]
fn a_step_at_flat_parameters_equals_one_at_the_networks_own() {
    for kernel in ["fused", "reference"] {
        let config = model(&format!("cell = 'lstm'\nhidden_size = 5\nlayers = 2\nkernel = '{kernel}'"));
        let task = Task::Classify { classes: 3, per_step: true };
        let mut net = Network::new(&Cpu::default(), &config, 2, task, &mut StdRng::seed_from_u64(1)).unwrap();
        let before = flat_values(&net);
        let moved: Vec<f32> = before.iter().enumerate().map(|(i, v)| v + 0.01 * (i % 7) as f32).collect();
        let b = batch(true);
        let at = net.loss_and_grads_at(&moved, &b, None);
        if kernel == "fused" {
            assert_eq!(flat_values(&net), before, "the fused step wrote the network's tensors");
        }
        set_flat_values(&mut net, &moved);
        assert_eq!(at, net.loss_and_grads(&b), "{kernel}");
        set_flat_values(&mut net, &before);
        assert_ne!(at.0, net.loss_and_grads(&b).0, "{kernel}: the parameters made no difference");
    }
}
