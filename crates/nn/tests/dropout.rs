//! Dropout against PyTorch (`tests/golden/dropout.json`, from `scripts/golden.py`): a 2-layer
//! LSTM or GRU with a linear head and cross-entropy, dropped between the layers and on the
//! head's input with PyTorch's masks, gives PyTorch's loss and gradients on both kernels.

mod common;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

use common::{flat, golden};

use rnnlab_nn::dropout::Masks;
use rnnlab_nn::params::{param_infos, set_flat_values};
use rnnlab_nn::{Batch, Network, Targets, Task};
use rnnlab_spec::{KernelKind, ModelConfig};

fn f32s(v: &Value) -> Vec<f32> {
    flat(v).into_iter().map(|x| x as f32).collect()
}

fn check(case: &str, kernel: &str) {
    let all = golden("dropout.json");
    let c = &all["cases"][case];
    let classes = all["classes"].as_u64().unwrap() as usize;
    let per_step = c["per_step"].as_bool().unwrap();
    let model: ModelConfig =
        toml::from_str(&format!("{}\nkernel = '{kernel}'", c["model"].as_str().unwrap().replace(", ", "\n"))).unwrap();
    let task = Task::Classify { classes, per_step };
    let input = &c["input"];
    let (steps, size, input_size) =
        (input.as_array().unwrap().len(), input[0].as_array().unwrap().len(), input[0][0].as_array().unwrap().len());
    let mut net = Network::new(&Cpu::default(), &model, input_size, task, &mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(net.dropout.between as f64, model.dropout as f32 as f64);
    let infos = param_infos(&net);
    let values: Vec<f32> = infos.iter().flat_map(|p| f32s(&c["params"][&p.name])).collect();
    set_flat_values(&mut net, &values);
    let labels: Vec<u32> = flat(&c["labels"]).into_iter().map(|x| x as u32).collect();
    let batch = Batch { size, steps, input_size, inputs: f32s(input), targets: Targets::Classes(labels), mask: None };
    let masks = Masks { between: vec![Some(f32s(&c["mask_between"]))], head: Some(f32s(&c["mask_head"])) };

    let (loss, grads) = net.loss_and_grads_dropped(&batch, Some(&masks));
    let want = c["loss"].as_f64().unwrap();
    assert!((loss as f64 - want).abs() < 1e-5, "{case} {kernel}: loss {loss} vs PyTorch {want}");
    for p in &infos {
        let want = flat(&c["grad_params"][&p.name]);
        let got = &grads[p.offset..p.offset + p.len];
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 1e-5 + 1e-4 * w.abs(),
                "{case} {kernel}: d{}[{i}] = {g} vs PyTorch {w}",
                p.name
            );
        }
    }

    // Without masks the loss differs (the masks did something), and evaluation drops nothing.
    let (plain, _) = net.loss_and_grads(&batch);
    assert!((plain - loss).abs() > 1e-3, "{case}: dropout changed nothing ({plain} vs {loss})");
}

#[test]
fn lstm_dropout_between_layers_and_on_the_head_matches_pytorch() {
    check("lstm_per_step", "reference");
    check("lstm_per_step", "fused");
}

#[test]
fn gru_dropout_scored_at_the_last_step_matches_pytorch() {
    check("gru_last_step", "reference");
    check("gru_last_step", "fused");
}

/// The masks a network draws have the shapes its two kernels apply, and the same generator
/// state gives the same masks (dropout is deterministic per seed).
#[test]
fn drawn_masks_fit_the_network_and_repeat_with_the_seed() {
    let model: ModelConfig =
        toml::from_str("cell = 'lstm'\nhidden_size = 5\nproj_size = 3\nlayers = 3\ndropout = 0.2\nhead_dropout = 0.1")
            .unwrap();
    for per_step in [true, false] {
        let task = Task::Classify { classes: 3, per_step };
        let net = Network::new(&Cpu::default(), &model, 2, task, &mut StdRng::seed_from_u64(0)).unwrap();
        let batch = Batch {
            size: 4,
            steps: 6,
            input_size: 2,
            inputs: vec![0.5; 48],
            targets: Targets::Classes(vec![0; if per_step { 24 } else { 4 }]),
            mask: None,
        };
        let m = net.dropout_masks(&batch, &mut StdRng::seed_from_u64(9)).unwrap();
        assert_eq!(m.between.len(), 2);
        assert!(m.between.iter().all(|b| b.as_ref().unwrap().len() == 24 * 3));
        assert_eq!(m.head.as_ref().unwrap().len(), if per_step { 24 } else { 4 } * 3);
        assert_eq!(Some(m), net.dropout_masks(&batch, &mut StdRng::seed_from_u64(9)));
        for kernel in [KernelKind::Fused, KernelKind::Reference] {
            let mut net = net.clone();
            net.kernel = kernel;
            let masks = net.dropout_masks(&batch, &mut StdRng::seed_from_u64(9));
            assert!(net.loss_and_grads_dropped(&batch, masks.as_ref()).0.is_finite());
        }
    }
}
