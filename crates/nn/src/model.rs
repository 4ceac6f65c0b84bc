//! The network a trial trains: stacked recurrent layers, a linear head, and its losses.
//!
//! Sizes are runtime `usize`s from the spec. Inputs arrive time-major as host buffers and are
//! turned into per-step tensors here; losses follow PyTorch (`CrossEntropyLoss`/`MSELoss`,
//! mean over the batch, averaged over the steps that have targets).

use dfdx::prelude::*;
use rand::rngs::StdRng;

use rnnlab_spec::{CellKind, HeadKind, ModelConfig, Nonlinearity};

use crate::cells::{GruLayer, LayerOutput, LstmLayer, RnnLayer};
use crate::params::{HasParams, Visitor};
use crate::tape::{affine, keep};
pub use rnnlab_data::{Targets, Task};

type Seq<D> = Vec<Tensor<(usize, usize), f32, D>>;

/// A batch on the host: inputs time-major `[T, B, I]`, targets batch-major (as in the dataset).
#[derive(Debug, Clone)]
pub struct Batch {
    pub size: usize,
    pub steps: usize,
    pub input_size: usize,
    pub inputs: Vec<f32>,
    pub targets: Targets,
}

/// One layer of the stack, whichever cell it is (a few per network, so size does not matter).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Layer<D: Device<f32>> {
    Lstm(LstmLayer<usize, usize, usize, D>),
    Gru(GruLayer<usize, usize, D>),
    Rnn(RnnLayer<usize, usize, D>),
}

impl<D: Device<f32>> Layer<D> {
    /// Runs one layer over a sequence (see the cell types).
    pub fn forward<T: Tape<f32, D> + Merge<T>>(
        &self,
        xs: &[Tensor<(usize, usize), f32, D>],
        acc: &mut T,
    ) -> LayerOutput<usize, usize, usize, D> {
        match self {
            Layer::Lstm(l) => l.forward(xs, acc),
            Layer::Gru(l) => l.forward(xs, acc),
            Layer::Rnn(l) => l.forward(xs, acc),
        }
    }
}

impl<D: Device<f32>> HasParams<D> for Layer<D> {
    fn visit_params<V: Visitor<D>>(&mut self, prefix: &str, v: &mut V) {
        match self {
            Layer::Lstm(l) => l.visit_params(prefix, v),
            Layer::Gru(l) => l.visit_params(prefix, v),
            Layer::Rnn(l) => l.visit_params(prefix, v),
        }
    }
}

/// The linear head `head.weight` [outputs, features], `head.bias` [outputs].
#[derive(Debug, Clone)]
pub struct Head<D: Device<f32>> {
    pub weight: Tensor<(usize, usize), f32, D>,
    pub bias: Tensor<(usize,), f32, D>,
}

/// Predictions per step that has a target: `[B, outputs]` each (host copies).
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    pub steps: Vec<Vec<f32>>,
    pub width: usize,
}

/// Why a network cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("model: {0}")]
    Config(String),
}

/// Stacked recurrent layers plus an optional linear head.
#[derive(Debug, Clone)]
pub struct Network<D: Device<f32>> {
    pub dev: D,
    pub layers: Vec<Layer<D>>,
    pub head: Option<Head<D>>,
    pub task: Task,
    pub input_size: usize,
}

impl<D: Device<f32>> Network<D> {
    /// Builds the network for `config` and initialises it from `rng`.
    pub fn new(
        dev: &D,
        config: &ModelConfig,
        input_size: usize,
        task: Task,
        rng: &mut StdRng,
    ) -> Result<Self, NnError> {
        let mut net = Self::zeros(dev, config, input_size, task)?;
        crate::init::initialize(&mut net, config, rng);
        Ok(net)
    }

    /// The architecture with every parameter zero.
    pub fn zeros(dev: &D, config: &ModelConfig, input_size: usize, task: Task) -> Result<Self, NnError> {
        let (h, p) = (config.hidden_size, config.output_size());
        let layers = (0..config.layers)
            .map(|l| {
                let input = if l == 0 { input_size } else { p };
                match config.cell {
                    CellKind::Lstm => Layer::Lstm(LstmLayer::zeros(dev, l, input, h, p, config.proj_size > 0)),
                    CellKind::Gru => Layer::Gru(GruLayer::zeros(dev, l, input, h)),
                    CellKind::Rnn => {
                        Layer::Rnn(RnnLayer::zeros(dev, l, input, h, config.nonlinearity == Nonlinearity::Relu))
                    }
                }
            })
            .collect();
        let head = match config.head {
            HeadKind::Linear => Some(Head {
                weight: dev.zeros_like(&(task.output_size(), p)),
                bias: dev.zeros_like(&(task.output_size(),)),
            }),
            HeadKind::None if p == task.output_size() => None,
            HeadKind::None => {
                return Err(NnError::Config(format!(
                    "`head = \"none\"` needs the recurrent output size ({p}) to equal the task's output size ({})",
                    task.output_size()
                )))
            }
        };
        Ok(Network { dev: dev.clone(), layers, head, task, input_size })
    }

    /// Per-step input tensors of a batch.
    fn inputs(&self, batch: &Batch) -> Seq<D> {
        let n = batch.size * batch.input_size;
        (0..batch.steps)
            .map(|t| {
                self.dev.tensor_from_vec(batch.inputs[t * n..(t + 1) * n].to_vec(), (batch.size, batch.input_size))
            })
            .collect()
    }

    /// Head outputs at the steps that have targets (all steps, or only the last).
    fn forward<T: Tape<f32, D> + Merge<T>>(&self, xs: &[Tensor<(usize, usize), f32, D>], acc: &mut T) -> Seq<D> {
        let mut seq = xs.to_vec();
        for layer in &self.layers {
            seq = layer.forward(&seq, acc).outputs;
        }
        if !self.task.per_step() {
            seq.drain(..seq.len() - 1);
        }
        match &self.head {
            Some(head) => seq
                .iter()
                .map(|h| keep(affine::<usize, usize, usize, D, T>(h, &head.weight, &head.bias), acc))
                .collect(),
            None => seq,
        }
    }

    /// The training loss of a batch and the gradient of every parameter (flat, visiting order).
    pub fn loss_and_grads(&mut self, batch: &Batch) -> (f32, Vec<f32>) {
        let xs = self.inputs(batch);
        let mut acc = OwnedTape::<f32, D>::default();
        let outputs = self.forward(&xs, &mut acc);
        let mut total: Option<Tensor<Rank0, f32, D, OwnedTape<f32, D>>> = None;
        for (t, out) in outputs.iter().enumerate() {
            let step_loss = self.step_loss(out.retaped::<OwnedTape<f32, D>>(), batch, t);
            total = Some(match total {
                None => step_loss,
                Some(acc_loss) => acc_loss + step_loss,
            });
        }
        let loss = total.expect("at least one step") / outputs.len() as f32;
        let (loss, tape) = loss.split_tape();
        let value = loss.as_vec()[0];
        let mut grads = loss.put_tape(tape.merge(acc)).backward();
        (value, crate::params::flat_grads(self, &mut grads))
    }

    /// PyTorch's loss for output `t` (mean over the batch). Per-step tasks have one output per
    /// step; last-step tasks one output, whose target index ignores `t`.
    fn step_loss(
        &self,
        out: Tensor<(usize, usize), f32, D, OwnedTape<f32, D>>,
        batch: &Batch,
        t: usize,
    ) -> Tensor<Rank0, f32, D, OwnedTape<f32, D>> {
        let (b, width) = *out.shape();
        match &batch.targets {
            Targets::Classes(labels) => {
                let mut onehot = vec![0.0f32; b * width];
                for i in 0..b {
                    onehot[i * width + labels[target_row(batch, i, t, self.task.per_step())] as usize] = 1.0;
                }
                let onehot = self.dev.tensor_from_vec(onehot, (b, width));
                dfdx::losses::cross_entropy_with_logits_loss(out, onehot)
            }
            Targets::Values(values) => {
                let mut target = vec![0.0f32; b * width];
                for i in 0..b {
                    let row = target_row(batch, i, t, self.task.per_step());
                    target[i * width..(i + 1) * width].copy_from_slice(&values[row * width..(row + 1) * width]);
                }
                dfdx::losses::mse_loss(out, self.dev.tensor_from_vec(target, (b, width)))
            }
        }
    }

    /// Predictions without a tape, at the steps that have targets.
    pub fn predict(&self, batch: &Batch) -> Outputs {
        let xs = self.inputs(batch);
        let outputs = self.forward(&xs, &mut NoneTape);
        Outputs { width: self.task.output_size(), steps: outputs.iter().map(|o| o.as_vec()).collect() }
    }
}

/// Where the target of sequence `i` at step `t` sits: `[N, T]` per step, `[N]` last step only.
fn target_row(batch: &Batch, i: usize, t: usize, per_step: bool) -> usize {
    if per_step {
        i * batch.steps + t
    } else {
        i
    }
}

impl<D: Device<f32>> HasParams<D> for Network<D> {
    fn visit_params<V: Visitor<D>>(&mut self, _prefix: &str, v: &mut V) {
        for layer in &mut self.layers {
            layer.visit_params("rnn.", v);
        }
        if let Some(head) = &mut self.head {
            v.visit("head.weight", &mut head.weight);
            v.visit("head.bias", &mut head.bias);
        }
    }
}
