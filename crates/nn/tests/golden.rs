//! The layers and optimizers against PyTorch: tests/golden holds PyTorch 2.15's outputs,
//! final states and gradients (float64) for every cell variant, and optimizer trajectories.
//! Tolerances as its README: 1e-5 absolute on values, 1e-4 relative on gradients.
//!
//! (Over 300 lines: one case per cell variant and optimizer against one set of fixtures, sharing
//! the loaders at the top.)

mod common;

use std::collections::HashMap;

use dfdx::prelude::*;
use rnnlab_nn::cells::{GruLayer, LstmLayer, RnnLayer};
use rnnlab_nn::fused::{self, SeqDims};
use rnnlab_nn::params::{HasParams, Mapper, Visitor};
use rnnlab_nn::tape::use_;
use rnnlab_nn::Layer;
use serde_json::Value;

use common::{flat, golden};

/// Copies PyTorch tensors into the layer, gate chunk by gate chunk.
struct Load<'a>(&'a HashMap<String, Vec<f64>>, HashMap<String, usize>);
impl<D: Device<f32>> Mapper<D> for Load<'_> {
    fn map<S: Shape>(&mut self, name: &str, t: &mut Tensor<S, f32, D>) {
        let data = &self.0[name];
        let off = self.1.entry(name.to_string()).or_insert(0);
        let n = t.shape().num_elements();
        t.copy_from(&data[*off..*off + n].iter().map(|&x| x as f32).collect::<Vec<_>>());
        *off += n;
    }
}

/// Gradients per PyTorch name (gate chunks concatenated).
struct Grads<'a, D: Device<f32>>(&'a mut Gradients<f32, D>, HashMap<String, Vec<f32>>);
impl<D: Device<f32>> Visitor<D> for Grads<'_, D> {
    fn visit<S: Shape>(&mut self, name: &str, t: &Tensor<S, f32, D>) {
        self.0.try_alloc_for(t).unwrap();
        self.1.entry(name.to_string()).or_default().extend(self.0.get(t).as_vec());
    }
}

fn assert_close(what: &str, got: &[f32], want: &[f64], abs: f64, rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = abs.max(rel * w.abs());
        assert!((g as f64 - w).abs() <= tol, "{what}[{i}]: got {g}, PyTorch {w} (tolerance {tol:e})");
    }
}

/// What a path computes for a golden case: the top layer's outputs, the final states of every
/// layer, and the gradients of PyTorch's test loss
/// `sum(output * output_weight) + 0.5 sum(h_n) + 0.25 sum(c_n)`.
struct Run<D: Device<f32>> {
    outputs: Vec<f32>,
    h_n: Vec<f32>,
    c_n: Vec<f32>,
    grad_input: Vec<f32>,
    grads: Gradients<f32, D>,
}

type Traced<S, D = Cpu> = Tensor<S, f32, D, OwnedTape<f32, D>>;

fn finish<D: Device<f32>>(loss: Traced<Rank0, D>, acc: OwnedTape<f32, D>) -> Gradients<f32, D> {
    let (loss, tape) = loss.split_tape();
    assert!(loss.as_vec()[0].is_finite());
    loss.put_tape(tape.merge(acc)).backward()
}

/// The composite per-step cells.
fn run_reference<D: Device<f32>>(
    dev: &D,
    layers: &[Layer<D>],
    x: &[f32],
    steps: usize,
    batch: usize,
    input: usize,
    w: &[f32],
) -> Run<D> {
    let xs: Vec<Tensor<(usize, usize), f32, D>> = (0..steps)
        .map(|t| dev.tensor_from_vec(x[t * batch * input..(t + 1) * batch * input].to_vec(), (batch, input)))
        .collect();
    let mut acc = OwnedTape::<f32, D>::default();
    let mut seq = xs.clone();
    let mut h_n = Vec::new();
    let mut c_n = Vec::new();
    for layer in layers {
        let o = layer.forward(&seq, &mut acc);
        h_n.push(o.h_n.clone());
        c_n.extend(o.c_n.clone());
        seq = o.outputs;
    }
    let step = w.len() / steps;
    let out = step / batch;
    let mut loss: Traced<Rank0, D> = dev.zeros::<Rank0>().retaped();
    for (t, o) in seq.iter().enumerate() {
        let wt = dev.tensor_from_vec(w[t * step..(t + 1) * step].to_vec(), (batch, out));
        loss = loss + (use_::<_, D, OwnedTape<f32, D>>(o) * wt).sum();
    }
    for h in &h_n {
        loss = loss + use_::<_, D, OwnedTape<f32, D>>(h).sum() * 0.5;
    }
    for c in &c_n {
        loss = loss + use_::<_, D, OwnedTape<f32, D>>(c).sum() * 0.25;
    }
    let grads = finish(loss, acc);
    Run {
        outputs: seq.iter().flat_map(|o| o.as_vec()).collect(),
        h_n: h_n.iter().flat_map(|h| h.as_vec()).collect(),
        c_n: c_n.iter().flat_map(|c| c.as_vec()).collect(),
        grad_input: xs.iter().flat_map(|x| grads.get(x).as_vec()).collect(),
        grads,
    }
}

/// The fused whole-sequence kernels; `h_n` is the last step's rows of each layer's output.
fn run_fused(
    dev: &Cpu,
    layers: &[Layer<Cpu>],
    x: &[f32],
    steps: usize,
    batch: usize,
    input: usize,
    w: &[f32],
) -> Run<Cpu> {
    let d = SeqDims { steps, batch };
    let x0 = dev.tensor_from_vec(x.to_vec(), (steps * batch, input));
    let mut acc = OwnedTape::<f32, Cpu>::default();
    let mut seq = x0.clone();
    let mut loss: Traced<Rank0> = dev.zeros::<Rank0>().retaped();
    let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
    for layer in layers {
        let o = fused::layer_op(layer, &seq, d, false, true, &mut acc);
        let y = o.y.as_vec();
        let width = y.len() / (steps * batch);
        // 0.5 sum(h_n) as a weight on the last step's rows.
        let mut last = vec![0.0f32; y.len()];
        last[(steps - 1) * batch * width..].fill(0.5);
        h_n.extend_from_slice(&y[(steps - 1) * batch * width..]);
        loss = loss
            + (use_::<_, Cpu, OwnedTape<f32, Cpu>>(&o.y) * dev.tensor_from_vec(last, (steps * batch, width))).sum();
        if let Some(c) = &o.c_n {
            c_n.extend(c.as_vec());
            loss = loss + use_::<_, Cpu, OwnedTape<f32, Cpu>>(c).sum() * 0.25;
        }
        seq = o.y;
    }
    let shape = *seq.shape();
    loss = loss + (use_::<_, Cpu, OwnedTape<f32, Cpu>>(&seq) * dev.tensor_from_vec(w.to_vec(), shape)).sum();
    let grads = finish(loss, acc);
    Run { outputs: seq.as_vec(), h_n, c_n, grad_input: grads.get(&x0).as_vec(), grads }
}

/// Which implementation a golden case runs on.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    Reference,
    Fused,
    /// The reference cells on dfdx's CUDA device (GPU 0).
    #[cfg(feature = "cuda")]
    Cuda,
}

fn check_layer_case(file: &str, fused: bool) {
    check_case_on(file, if fused { Path::Fused } else { Path::Reference });
}

fn check_case_on(file: &str, path: Path) {
    match path {
        Path::Reference => check_case(file, &Cpu::default(), run_reference),
        Path::Fused => check_case(file, &Cpu::default(), run_fused),
        #[cfg(feature = "cuda")]
        Path::Cuda => check_case(file, &Cuda::default(), run_reference),
    }
}

type Runner<D> = fn(&D, &[Layer<D>], &[f32], usize, usize, usize, &[f32]) -> Run<D>;

fn check_case<D: Device<f32>>(file: &str, dev: &D, run: Runner<D>) {
    let g = golden(file);
    let module = g["module"].as_str().unwrap().to_string();
    let params: HashMap<String, Vec<f64>> =
        g["params"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), flat(v))).collect();
    let shape = |v: &Value| -> Vec<usize> {
        let mut s = Vec::new();
        let mut cur = v;
        while let Value::Array(a) = cur {
            s.push(a.len());
            cur = &a[0];
        }
        s
    };
    let in_shape = shape(&g["input"]);
    let (steps, batch, input) = (in_shape[0], in_shape[1], in_shape[2]);
    let n_layers = (0..).take_while(|l| params.contains_key(&format!("weight_ih_l{l}"))).count();
    let has_proj = params.contains_key("weight_hr_l0");
    let gates = |cell: &str| match cell {
        "LSTM" => 4,
        "GRU" => 3,
        _ => 1,
    };
    let cell = module.split('(').next().unwrap();
    let hidden = shape(&g["params"]["weight_hh_l0"])[0] / gates(cell);
    let out = if has_proj { shape(&g["params"]["weight_hr_l0"])[0] } else { hidden };

    // The module string omits the nonlinearity (`RNN(4, 6)`); the case name says relu.
    let mut layers: Vec<Layer<D>> = (0..n_layers)
        .map(|l| {
            let i = if l == 0 { input } else { out };
            match cell {
                "LSTM" => Layer::Lstm(LstmLayer::zeros(dev, l, i, hidden, out, has_proj)),
                "GRU" => Layer::Gru(GruLayer::zeros(dev, l, i, hidden)),
                "RNN" => Layer::Rnn(RnnLayer::zeros(dev, l, i, hidden, file.contains("relu"))),
                other => panic!("unknown module {other}"),
            }
        })
        .collect();
    let mut loader = Load(&params, HashMap::new());
    layers.iter_mut().for_each(|l| l.map_params("", &mut loader));

    let x: Vec<f32> = flat(&g["input"]).iter().map(|&v| v as f32).collect();
    let w: Vec<f32> = flat(&g["output_weight"]).iter().map(|&v| v as f32).collect();
    let Run { outputs, h_n, c_n, grad_input, mut grads } = run(dev, &layers, &x, steps, batch, input, &w);

    assert_close(&format!("{file} output"), &outputs, &flat(&g["output"]), 1e-5, 0.0);
    assert_close(&format!("{file} h_n"), &h_n, &flat(&g["h_n"]), 1e-5, 0.0);
    if cell == "LSTM" {
        assert_close(&format!("{file} c_n"), &c_n, &flat(&g["c_n"]), 1e-5, 0.0);
    }
    assert_close(&format!("{file} grad_input"), &grad_input, &flat(&g["grad_input"]), 1e-5, 1e-4);
    let mut gv = Grads(&mut grads, HashMap::new());
    layers.iter_mut().for_each(|l| l.visit_params("", &mut gv));
    let want = g["grad_params"].as_object().unwrap();
    assert_eq!(gv.1.len(), want.len(), "{file}: parameter names {:?}", gv.1.keys());
    for (name, v) in want {
        assert_close(&format!("{file} grad {name}"), &gv.1[name], &flat(v), 1e-5, 1e-4);
    }
}

#[test]
fn lstm_1layer_matches_pytorch() {
    check_layer_case("lstm_1layer.json", false);
}
#[test]
fn fused_lstm_1layer_matches_pytorch() {
    check_layer_case("lstm_1layer.json", true);
}
#[test]
fn lstm_2layer_matches_pytorch() {
    check_layer_case("lstm_2layer.json", false);
}
#[test]
fn fused_lstm_2layer_matches_pytorch() {
    check_layer_case("lstm_2layer.json", true);
}
#[test]
fn lstm_proj_matches_pytorch() {
    check_layer_case("lstm_proj.json", false);
}
#[test]
fn fused_lstm_proj_matches_pytorch() {
    check_layer_case("lstm_proj.json", true);
}
#[test]
fn gru_1layer_matches_pytorch() {
    check_layer_case("gru_1layer.json", false);
}
#[test]
fn fused_gru_1layer_matches_pytorch() {
    check_layer_case("gru_1layer.json", true);
}
#[test]
fn gru_2layer_matches_pytorch() {
    check_layer_case("gru_2layer.json", false);
}
#[test]
fn fused_gru_2layer_matches_pytorch() {
    check_layer_case("gru_2layer.json", true);
}
#[test]
fn rnn_tanh_matches_pytorch() {
    check_layer_case("rnn_tanh.json", false);
}
#[test]
fn fused_rnn_tanh_matches_pytorch() {
    check_layer_case("rnn_tanh.json", true);
}
#[test]
fn rnn_tanh_2layer_matches_pytorch() {
    check_layer_case("rnn_tanh_2layer.json", false);
}
#[test]
fn fused_rnn_tanh_2layer_matches_pytorch() {
    check_layer_case("rnn_tanh_2layer.json", true);
}
#[test]
fn rnn_relu_matches_pytorch() {
    check_layer_case("rnn_relu.json", false);
}
#[test]
fn fused_rnn_relu_matches_pytorch() {
    check_layer_case("rnn_relu.json", true);
}

/// Every layer case on the GPU (`cargo test -p rnnlab-nn --features cuda`), same tolerances.
#[cfg(feature = "cuda")]
#[test]
fn cuda_layers_match_pytorch() {
    for file in [
        "lstm_1layer.json",
        "lstm_2layer.json",
        "lstm_proj.json",
        "gru_1layer.json",
        "gru_2layer.json",
        "rnn_tanh.json",
        "rnn_tanh_2layer.json",
        "rnn_relu.json",
    ] {
        check_case_on(file, Path::Cuda);
    }
}

#[test]
fn optimizers_follow_pytorch_trajectories() {
    let g = golden("optimizers.json");
    let init: Vec<f32> = flat(&g["initial_params"]).iter().map(|&v| v as f32).collect();
    let grads: Vec<Vec<f32>> =
        g["grads_per_step"].as_array().unwrap().iter().map(|s| flat(s).iter().map(|&v| v as f32).collect()).collect();
    let cases = g["cases"].as_object().unwrap();
    let configs = [
        ("sgd", "name = 'sgd'\nlr = 0.1"),
        ("sgd_momentum_nesterov_wd", "name = 'sgd'\nlr = 0.1\nmomentum = 0.9\nnesterov = true\nweight_decay = 0.01"),
        ("adam", "name = 'adam'\nlr = 0.01"),
        ("adamw", "name = 'adamw'\nlr = 0.01\nweight_decay = 0.1"),
        ("rmsprop_pytorch", "name = 'rmsprop'\nlr = 0.01"),
        (
            "rmsprop_pytorch_momentum_centered",
            "name = 'rmsprop'\nlr = 0.01\nalpha = 0.9\neps = 1e-6\nmomentum = 0.5\ncentered = true",
        ),
        ("adagrad", "name = 'adagrad'\nlr = 0.1"),
        ("rmsprop_tf1", "name = 'rmsprop'\nflavor = 'tf1'\nlr = 0.001\nalpha = 0.9\neps = 1e-10"),
    ];
    assert_eq!(configs.len(), cases.len(), "every golden optimizer case is tested");
    for (case, spec) in configs {
        let config: rnnlab_spec::OptimizerConfig = toml::from_str(spec).unwrap();
        let mut opt = rnnlab_nn::optim::build(&config, init.len());
        let mut p = init.clone();
        for (step, (g, want)) in grads.iter().zip(cases[case]["after_each_step"].as_array().unwrap()).enumerate() {
            opt.step(&mut p, g);
            assert_close(&format!("{case} step {}", step + 1), &p, &flat(want), 1e-5, 1e-5);
        }
    }
}
