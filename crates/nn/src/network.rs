//! The network a trial trains: stacked recurrent layers, a linear head, and its losses.
//!
//! Sizes are runtime `usize`s from the spec. Inputs arrive time-major as host buffers; on a
//! [`Backend`] with fused kernels (the CPU, whose implementation sits with the kernels in
//! `crate::fused`) the whole network runs there, otherwise (or with `kernel = "reference"`)
//! through per-step tensors and the composite cells below. Losses follow PyTorch
//! (`CrossEntropyLoss` / `MSELoss` / `BCEWithLogitsLoss`, mean over the rows that have targets,
//! padded rows of a masked batch excluded).

use dfdx::prelude::*;
use rand::rngs::StdRng;

use rnnlab_spec::{HeadKind, KernelKind, ModelConfig};

use crate::batch::{row_targets, Batch, RowTargets};
use crate::dropout::{self, Masks, Rates};
use crate::layer::{Head, Layer};
use crate::params::{HasParams, Mapper, Visitor};
use crate::tape::{affine, keep, use_};
use crate::Task;

type Seq<D> = Vec<Tensor<(usize, usize), f32, D>>;

/// Predictions per step that has a target: `[B, outputs]` each (host copies).
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    pub steps: Vec<Vec<f32>>,
    pub width: usize,
}

/// A device the network runs on, and whether it has fused kernels for the whole network.
pub trait Backend: Device<f32> + 'static {
    /// The training loss of `batch` through fused layers, head and loss (with `masks`'
    /// dropout) and every parameter's gradient (flat, visiting order), with the parameters
    /// read from `params` (flat) when given, else from the network; `None` when this device has
    /// no fused kernels.
    fn fused_loss_and_grads(
        _net: &Network<Self>,
        _params: Option<&[f32]>,
        _batch: &Batch,
        _masks: Option<&Masks>,
    ) -> Option<(f32, Vec<f32>)> {
        None
    }

    /// The stacked predictions `[S·B, outputs]` of `batch` through the fused kernels.
    fn fused_predict(_net: &Network<Self>, _batch: &Batch) -> Option<Vec<f32>> {
        None
    }
}

/// CUDA runs the reference (composite-op) cells, heads and losses.
#[cfg(feature = "cuda")]
impl Backend for Cuda {}

/// Why a network cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("model: {0}")]
    Config(String),
}

/// Stacked recurrent layers plus an optional linear head.
#[derive(Debug, Clone)]
pub struct Network<D: Backend> {
    pub dev: D,
    pub layers: Vec<Layer<D>>,
    pub head: Option<Head<D>>,
    pub task: Task,
    pub input_size: usize,
    /// Fused kernels where the device has them, else the reference cells.
    pub kernel: KernelKind,
    /// Dropout in training (`[model] dropout`, `head_dropout`).
    pub dropout: Rates,
}

impl<D: Backend> Network<D> {
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
        let p = config.output_size();
        let layers = (0..config.layers)
            .map(|l| {
                let input = if l == 0 { input_size } else { p };
                Layer::zeros(dev, config, l, input)
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
        let dropout = Rates { between: config.dropout as f32, head: config.head_dropout as f32 };
        Ok(Network { dev: dev.clone(), layers, head, task, input_size, kernel: config.kernel, dropout })
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

    /// The reference path's predictions at the steps that have targets, stacked time-major:
    /// `[S·B, outputs]` with S the number of such steps (all, or only the last).
    fn forward<T: Tape<f32, D> + Merge<T>>(
        &self,
        batch: &Batch,
        masks: Option<&Masks>,
        acc: &mut T,
    ) -> Tensor<(usize, usize), f32, D> {
        let mut seq = self.inputs(batch);
        for (l, layer) in self.layers.iter().enumerate() {
            seq = layer.forward(&seq, acc).outputs;
            if let Some(mask) = masks.and_then(|m| m.between.get(l)).and_then(Option::as_ref) {
                let rows = seq[0].shape().0 * seq[0].shape().1;
                seq = seq.iter().zip(mask.chunks(rows)).map(|(x, m)| dropout::apply(x, m, acc)).collect();
            }
        }
        if !self.task.per_step() {
            seq.drain(..seq.len() - 1);
        }
        let mut top = keep(stack::<D, T>(&seq), acc);
        if let Some(mask) = masks.and_then(|m| m.head.as_ref()) {
            top = dropout::apply(&top, mask, acc);
        }
        match &self.head {
            Some(head) => keep(affine::<usize, usize, usize, D, T>(&top, &head.weight, &head.bias), acc),
            None => top,
        }
    }

    fn fused(&self) -> bool {
        self.kernel == KernelKind::Fused
    }

    /// The training loss of a batch and the gradient of every parameter (flat, visiting order),
    /// without dropout.
    pub fn loss_and_grads(&mut self, batch: &Batch) -> (f32, Vec<f32>) {
        self.loss_and_grads_dropped(batch, None)
    }

    /// The dropout masks of one training step on `batch` (`None` when the network drops
    /// nothing), drawn from `rng`.
    pub fn dropout_masks<R: rand::Rng>(&self, batch: &Batch, rng: &mut R) -> Option<Masks> {
        let rows = batch.steps * batch.size;
        let head_rows = if self.task.per_step() { rows } else { batch.size };
        let width = self.layers.last().map_or(0, |l| l.output_size());
        Masks::sample(self.dropout, self.layers.len(), width, rows, head_rows, rng)
    }

    /// [`Self::loss_and_grads`] with `masks`' dropout (see [`Self::dropout_masks`]).
    pub fn loss_and_grads_dropped(&mut self, batch: &Batch, masks: Option<&Masks>) -> (f32, Vec<f32>) {
        if self.fused() {
            if let Some(fused) = D::fused_loss_and_grads(self, None, batch, masks) {
                return fused;
            }
        }
        self.reference_loss_and_grads(batch, masks)
    }

    /// [`Self::loss_and_grads_dropped`] at the parameters `params` (flat, visiting order: an
    /// optimizer's buffer). The fused path reads them where they are and leaves the network's
    /// tensors as they were (write them with `params::set_flat_values` before predicting); the
    /// reference path writes them into the tensors first. A training loop calls this every
    /// step and copies its parameters into the network only when it evaluates.
    pub fn loss_and_grads_at(&mut self, params: &[f32], batch: &Batch, masks: Option<&Masks>) -> (f32, Vec<f32>) {
        if self.fused() {
            if let Some(fused) = D::fused_loss_and_grads(self, Some(params), batch, masks) {
                return fused;
            }
        }
        crate::params::set_flat_values(self, params);
        self.reference_loss_and_grads(batch, masks)
    }

    fn reference_loss_and_grads(&mut self, batch: &Batch, masks: Option<&Masks>) -> (f32, Vec<f32>) {
        let mut acc = OwnedTape::<f32, D>::default();
        let out = self.forward(batch, masks, &mut acc);
        let loss = self.loss(out.retaped::<OwnedTape<f32, D>>(), batch);
        let (loss, tape) = loss.split_tape();
        let (value, mut grads) = (loss.as_vec()[0], loss.put_tape(tape.merge(acc)).backward());
        (value, crate::params::flat_grads(self, &mut grads))
    }

    /// PyTorch's loss (`CrossEntropyLoss` / `MSELoss` / `BCEWithLogitsLoss`, mean over rows and
    /// outputs) of the stacked outputs `[S·B, width]`: with equal batches per step this is the
    /// mean over steps of the per-step batch means. With a mask, the mean over real rows.
    fn loss(
        &self,
        out: Tensor<(usize, usize), f32, D, OwnedTape<f32, D>>,
        batch: &Batch,
    ) -> Tensor<Rank0, f32, D, OwnedTape<f32, D>> {
        let (rows, width) = *out.shape();
        let w = |r: usize| batch.mask.as_ref().map_or(1.0, |m| m[r]);
        let real: f32 = (0..rows).map(w).sum();
        // Every loss below is a mean over all rows; scaling by rows / real turns it into the
        // mean over real rows once padded rows contribute nothing (the mask multiplies them out).
        let scale = rows as f32 / real;
        let mask = || self.dev.tensor_from_vec((0..rows * width).map(|i| w(i / width)).collect(), (rows, width));
        match row_targets(batch, self.task) {
            RowTargets::Classes(labels) => {
                let mut onehot = vec![0.0f32; rows * width];
                for (r, &label) in labels.iter().enumerate() {
                    onehot[r * width + label as usize] = w(r) * scale;
                }
                let onehot = self.dev.tensor_from_vec(onehot, (rows, width));
                dfdx::losses::cross_entropy_with_logits_loss(out, onehot)
            }
            RowTargets::Values(target) => {
                let target = self.dev.tensor_from_vec(target, (rows, width)) * mask();
                dfdx::losses::mse_loss(out * mask(), target) * scale
            }
            RowTargets::Labels(target) => {
                // A padded element (logit 0, label 0 after masking) costs ln 2 with zero gradient.
                let target = self.dev.tensor_from_vec(target, (rows, width)) * mask();
                let padded = rows as f32 - real;
                dfdx::losses::binary_cross_entropy_with_logits_loss(out * mask(), target) * scale
                    - padded * std::f32::consts::LN_2 / real
            }
        }
    }

    /// Predictions without a tape, at the steps that have targets.
    pub fn predict(&self, batch: &Batch) -> Outputs {
        let fused = if self.fused() { D::fused_predict(self, batch) } else { None };
        let out = fused.unwrap_or_else(|| self.forward(batch, None, &mut NoneTape).as_vec());
        let width = self.task.output_size();
        Outputs { width, steps: out.chunks(batch.size * width).map(<[f32]>::to_vec).collect() }
    }
}

/// Per-step `[B, F]` tensors stacked time-major into `[S·B, F]`, as a balanced tree of
/// concatenations (dfdx's concat backward adds into each part's gradient).
fn stack<D: Device<f32>, T: Tape<f32, D> + Merge<T>>(
    seq: &[Tensor<(usize, usize), f32, D>],
) -> Tensor<(usize, usize), f32, D, T> {
    if let [one] = seq {
        return use_::<_, D, T>(one);
    }
    let (left, right) = seq.split_at(seq.len() / 2);
    (stack::<D, T>(left), stack::<D, T>(right)).concat_along(Axis::<0>)
}

impl<D: Backend> HasParams<D> for Network<D> {
    fn visit_params<V: Visitor<D>>(&self, _prefix: &str, v: &mut V) {
        for layer in &self.layers {
            layer.visit_params("rnn.", v);
        }
        if let Some(head) = &self.head {
            v.visit("head.weight", &head.weight);
            v.visit("head.bias", &head.bias);
        }
    }

    fn map_params<M: Mapper<D>>(&mut self, _prefix: &str, m: &mut M) {
        for layer in &mut self.layers {
            layer.map_params("rnn.", m);
        }
        if let Some(head) = &mut self.head {
            m.map("head.weight", &mut head.weight);
            m.map("head.bias", &mut head.bias);
        }
    }
}
