//! PyTorch's golden modules loaded from safetensors files, written under PyTorch's
//! `state_dict` names as `safetensors.torch.save_file` would, reproduce PyTorch's outputs.

mod common;

use std::collections::HashMap;

use dfdx::prelude::*;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::Value;

use common::{flat, golden};

use rnnlab_data::{Targets, Task};
use rnnlab_nn::checkpoint::{load_safetensors, to_safetensors};
use rnnlab_nn::{Batch, Network};
use rnnlab_spec::ModelConfig;

fn shape(v: &Value) -> Vec<usize> {
    match v {
        Value::Array(a) => std::iter::once(a.len()).chain(shape(&a[0])).collect(),
        _ => vec![],
    }
}

fn check(file: &str, model: &str) {
    let g = golden(file);
    let params = g["params"].as_object().unwrap();
    // The file PyTorch would write for `nn.Module` with the RNN under `rnn`.
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = params
        .iter()
        .map(|(k, v)| (format!("rnn.{k}"), shape(v), flat(v).iter().flat_map(|&x| (x as f32).to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, TensorView<'_>)> =
        data.iter().map(|(k, s, b)| (k.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap())).collect();
    let bytes = safetensors::serialize(views, None).unwrap();

    let (steps, batch, input) = {
        let s = shape(&g["input"]);
        (s[0], s[1], s[2])
    };
    let out_shape = shape(&g["output"]);
    let width = out_shape[2];
    let config: ModelConfig = toml::from_str(&format!("{model}\nhead = 'none'")).unwrap();
    let task = Task::Regress { outputs: width, per_step: true };
    let mut net = Network::zeros(&Cpu::default(), &config, input, task).unwrap();
    load_safetensors(&mut net, &bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
    let x: Vec<f32> = flat(&g["input"]).iter().map(|&v| v as f32).collect();
    let b = Batch {
        size: batch,
        steps,
        input_size: input,
        inputs: x,
        targets: Targets::Values(vec![0.0; batch * steps * width]),
        mask: None,
    };
    let got: Vec<f32> = net.predict(&b).steps.concat();
    let want = flat(&g["output"]);
    assert_eq!(got.len(), want.len(), "{file}");
    for (i, (a, w)) in got.iter().zip(&want).enumerate() {
        assert!((*a as f64 - w).abs() < 1e-5, "{file}: output {i}: {a} vs PyTorch {w}");
    }
    // Written back out, the tensors are the ones read in, under the same names.
    let again = to_safetensors(&net, HashMap::new());
    let file2 = safetensors::SafeTensors::deserialize(&again).unwrap();
    for (k, s, b) in &data {
        let t = file2.tensor(k).unwrap();
        assert_eq!((t.shape(), t.data()), (s.as_slice(), b.as_slice()), "{file}: {k}");
    }
}

#[test]
fn golden_lstm_from_safetensors() {
    check("lstm_1layer.json", "cell = 'lstm'\nhidden_size = 6");
    check("lstm_2layer.json", "cell = 'lstm'\nhidden_size = 6\nlayers = 2");
    check("lstm_proj.json", "cell = 'lstm'\nhidden_size = 6\nproj_size = 3");
}

#[test]
fn golden_gru_and_rnn_from_safetensors() {
    check("gru_1layer.json", "cell = 'gru'\nhidden_size = 6");
    check("gru_2layer.json", "cell = 'gru'\nhidden_size = 6\nlayers = 2");
    check("rnn_tanh.json", "cell = 'rnn'\nhidden_size = 6");
    check("rnn_tanh_2layer.json", "cell = 'rnn'\nhidden_size = 6\nlayers = 2");
    check("rnn_relu.json", "cell = 'rnn'\nhidden_size = 6\nnonlinearity = 'relu'");
}
