//! Weight noise against PyTorch (`crates/nn/tests/golden/weight_noise.json`, from
//! `scripts/golden.py`): a GRU with a linear head, three RMSprop steps, each taken at the
//! parameters plus PyTorch's noise draws and applied to the clean ones, ends where PyTorch's
//! does, on both kernels.

use std::path::PathBuf;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

use rnnlab_nn::params::{param_infos, set_flat_values};
use rnnlab_nn::{optim, Batch, Network, Targets, Task};
use rnnlab_spec::{ModelConfig, OptimizerConfig};
use rnnlab_train::noise::perturb;

fn golden() -> Value {
    let dir = std::env::var("RNNLAB_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../nn/tests/golden"));
    serde_json::from_str(&std::fs::read_to_string(dir.join("weight_noise.json")).unwrap()).unwrap()
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not numeric: {other}"),
    }
}

fn check(kernel: &str) {
    let all = golden();
    let c = &all["cases"]["gru_rmsprop"];
    let classes = all["classes"].as_u64().unwrap() as usize;
    let model: ModelConfig =
        toml::from_str(&format!("{}\nkernel = '{kernel}'", c["model"].as_str().unwrap().replace(", ", "\n"))).unwrap();
    let input = &c["input"];
    let (steps, size, input_size) =
        (input.as_array().unwrap().len(), input[0].as_array().unwrap().len(), input[0][0].as_array().unwrap().len());
    let task = Task::Classify { classes, per_step: true };
    let mut net = Network::new(&Cpu::default(), &model, input_size, task, &mut StdRng::seed_from_u64(0)).unwrap();
    let infos = param_infos(&net);
    let by_name = |v: &Value| -> Vec<f32> { infos.iter().flat_map(|p| flat(&v[&p.name])).map(|x| x as f32).collect() };
    let mut clean = by_name(&c["params"]);
    set_flat_values(&mut net, &clean);
    let labels: Vec<u32> = flat(&c["labels"]).into_iter().map(|x| x as u32).collect();
    let inputs: Vec<f32> = flat(input).into_iter().map(|x| x as f32).collect();
    let batch = Batch { size, steps, input_size, inputs, targets: Targets::Classes(labels), mask: None };
    let optimizer: OptimizerConfig = toml::from_str("name = 'rmsprop'\nlr = 0.01\nalpha = 0.99\neps = 1e-8").unwrap();
    let mut opt = optim::build(&optimizer, clean.len());
    let sigma = c["sigma"].as_f64().unwrap() as f32;
    let mut noisy = Vec::new();
    for (step, eps) in c["noise"].as_array().unwrap().iter().enumerate() {
        perturb(&clean, sigma, &by_name(eps), &mut noisy);
        let (loss, grads) = net.loss_and_grads_at(&noisy, &batch, None);
        let want = c["loss"][step].as_f64().unwrap();
        assert!((loss as f64 - want).abs() < 1e-5, "{kernel} step {step}: loss {loss} vs PyTorch {want}");
        opt.step(&mut clean, &grads);
        for (i, (&got, want)) in clean.iter().zip(by_name(&c["params_after"][step])).enumerate() {
            assert!(
                (got - want).abs() <= 1e-5 + 1e-4 * want.abs(),
                "{kernel} step {step}: param {i} = {got} vs PyTorch {want}"
            );
        }
    }
    // The noise mattered: the same steps without it end elsewhere.
    let mut plain = by_name(&c["params"]);
    let mut opt = optim::build(&optimizer, plain.len());
    for _ in 0..3 {
        let (_, grads) = net.loss_and_grads_at(&plain.clone(), &batch, None);
        opt.step(&mut plain, &grads);
    }
    assert!(plain.iter().zip(&clean).any(|(a, b)| (a - b).abs() > 1e-4), "the noise changed nothing");
}

#[test]
fn weight_noise_steps_match_pytorch_on_both_kernels() {
    check("fused");
    check("reference");
}
