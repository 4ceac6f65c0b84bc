//! Fused whole-sequence kernels for the CPU.
//!
//! A [`Kernel`] runs a layer's whole sequence on raw buffers ([`Kernel::forward`]) and its
//! backward pass ([`Kernel::backward`]), as cuDNN does: input projections of all steps in one
//! matrix product, one recurrent product per step straight into preallocated gate rows,
//! activations and state updates fused in one pass, and the weight and input gradients as a
//! few large products over all steps. [`network_loss_and_grads`] chains them with the head and
//! the loss into a training step without a dfdx tape; [`network_predict`] is the inference
//! path; [`layer_op`] wraps one layer as a custom dfdx op (used by the layer-level golden tests).
//! The composite cells in [`crate::cells`] are the reference these kernels are tested against
//! (`tests/fused.rs`).
//!
//! A kernel reads its layer's parameters as one flat vector in the layer's visiting order
//! (PyTorch's layout, e.g. `weight_ih_l0` `[4H, I]` then `weight_hh_l0` ...) and returns its
//! gradient in the same layout, so a network's gradient is its layers' gradients in order,
//! then the head's.

mod act;
pub mod blas;
mod gru;
mod head;
mod lstm;
mod pool;
mod rnn;

use dfdx::prelude::*;

use crate::batch::{row_targets, Batch};
use crate::dropout::Masks;
use crate::layer::Layer;
use crate::network::{Backend, Network};
use crate::params::{HasParams, Visitor};
use blas::{gemm, Mat};

/// The time-major sequence a layer runs over: `steps` × `batch` rows.
#[derive(Debug, Clone, Copy)]
pub struct SeqDims {
    pub steps: usize,
    pub batch: usize,
}

/// A cell's fused forward and backward passes over raw time-major buffers.
pub trait Kernel: Send + 'static {
    /// What the forward pass keeps for the backward pass.
    type Saved: Send + 'static;

    /// Width of the layer's output rows.
    fn output_size(&self) -> usize;

    /// Runs the sequence `x` `[T, B, I]` from zero state with parameters `p`; keeps what the
    /// backward pass needs when `train`.
    fn forward(&self, p: &[f32], x: &[f32], d: SeqDims, train: bool) -> Pass<Self::Saved>;

    /// Given the gradients flowing in (`up`): the input gradient (when `need_dx`) and the
    /// parameter gradient (flat, the layout of `p`).
    fn backward(
        &self,
        p: &[f32],
        x: &[f32],
        saved: Self::Saved,
        up: Upstream<'_>,
        d: SeqDims,
        need_dx: bool,
    ) -> (Option<Vec<f32>>, Vec<f32>);
}

/// The gradients flowing into a layer's backward pass.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    /// Of the outputs, `[T, B, P]`.
    pub dy: &'a [f32],
    /// Of the final cell state, `[B, H]`, or empty.
    pub dcell: &'a [f32],
}

/// What a kernel's forward pass produces.
#[derive(Debug)]
pub struct Pass<S> {
    /// Outputs `[T, B, P]`.
    pub out: Vec<f32>,
    /// Final cell state `[B, H]` (LSTM; empty for cells without one).
    pub cell: Vec<f32>,
    /// What the backward pass reads (training only).
    pub saved: Option<S>,
}

/// Sets every row of the row-major `dst` to `row`.
fn fill_rows(dst: &mut [f32], row: &[f32]) {
    for chunk in dst.chunks_exact_mut(row.len()) {
        chunk.copy_from_slice(row);
    }
}

/// Adds the column sums of the row-major `src` (rows of `dst.len()`) to `dst`.
fn add_row_sums(dst: &mut [f32], src: &[f32]) {
    for row in src.chunks_exact(dst.len()) {
        for (d, s) in dst.iter_mut().zip(row) {
            *d += s;
        }
    }
}

/// `dst = a + b` elementwise (a step's output gradient plus the one flowing back in time).
fn sum_into(dst: &mut [f32], a: &[f32], b: &[f32]) {
    for ((d, x), y) in dst.iter_mut().zip(a).zip(b) {
        *d = x + y;
    }
}

/// The products every cell's backward ends with, from its pre-activation gradients over all
/// T·B rows: `dW_ih = dGᵀ·X`, `dW_hh = dG_rec[B..]ᵀ·Y[..(T-1)·B]` (step t's recurrent input is
/// step t-1's output; step 0's is zero) and, when asked, `dX = dG·W_ih`.
struct WeightProducts<'a> {
    d: SeqDims,
    /// Rows of `dg`/`dg_rec` (G·H gate pre-activations), of `x` and of `out`.
    gates: usize,
    input: usize,
    output: usize,
    /// Gradient of the input-side pre-activations `[T·B, gates]`.
    dg: &'a [f32],
    /// Gradient of the recurrent-side pre-activations (`dg` itself except for the GRU).
    dg_rec: &'a [f32],
    x: &'a [f32],
    out: &'a [f32],
    w_ih: &'a [f32],
}

impl WeightProducts<'_> {
    /// Writes `dW_ih` to `g_ih` and `dW_hh` to `g_hh`; returns `dX` when `need_dx`.
    fn compute(&self, g_ih: &mut [f32], g_hh: &mut [f32], need_dx: bool) -> Option<Vec<f32>> {
        let (b, rows) = (self.d.batch, self.d.steps * self.d.batch);
        let dg = Mat::new(self.dg, rows, self.gates);
        gemm(g_ih, false, dg.t(), Mat::new(self.x, rows, self.input));
        let dg_rec = Mat::new(&self.dg_rec[b * self.gates..], rows - b, self.gates);
        gemm(g_hh, false, dg_rec.t(), Mat::new(self.out, rows - b, self.output));
        need_dx.then(|| {
            let mut dx = pool::scratch(rows * self.input);
            gemm(&mut dx, false, dg, Mat::new(self.w_ih, self.gates, self.input));
            dx
        })
    }
}

type Grads = Gradients<f32, Cpu>;
type CpuErr = <Cpu as HasErr>::Err;

/// Adds a slice of a flat gradient to one parameter tensor's gradient.
type Sink = Box<dyn FnOnce(&mut Grads, &[f32]) -> Result<(), CpuErr>>;

/// A layer's parameters as one flat vector, and where each tensor's gradient goes.
struct Flat {
    values: Vec<f32>,
    sinks: Vec<Sink>,
}

impl Visitor<Cpu> for Flat {
    fn visit<S: Shape>(&mut self, _: &str, t: &Tensor<S, f32, Cpu>) {
        let start = self.values.len();
        self.values.extend(t.as_vec());
        let range = start..self.values.len();
        let ghost = t.ghost();
        self.sinks.push(Box::new(move |grads: &mut Grads, flat: &[f32]| {
            let dst = grads.get_or_alloc_mut(&ghost)?;
            for (d, s) in dst.iter_mut().zip(&flat[range]) {
                *d += s;
            }
            Ok(())
        }));
    }
}

/// What [`layer_op`] returns: tape-free tensors whose backward is in the caller's accumulator.
#[derive(Debug, Clone)]
pub struct FusedOutput {
    /// Outputs `[T·B, P]`, or only the last step's `[B, P]`.
    pub y: Tensor<(usize, usize), f32, Cpu>,
    /// The final cell state `[B, H]` (LSTM only).
    pub c_n: Option<Tensor<(usize, usize), f32, Cpu>>,
}

/// Runs `layer` over the time-major sequence `x` `[T·B, I]` with a fused kernel. Returns the
/// outputs `[T·B, P]`, or only the last step's `[B, P]` when `last_only`. With a recording tape
/// the backward closure goes into `acc`; it computes the input's gradient only when
/// `need_dx` (the first layer's input is data).
pub fn layer_op<T: Tape<f32, Cpu> + Merge<T>>(
    layer: &Layer<Cpu>,
    x: &Tensor<(usize, usize), f32, Cpu>,
    d: SeqDims,
    last_only: bool,
    need_dx: bool,
    acc: &mut T,
) -> FusedOutput {
    let mut flat = Flat { values: Vec::new(), sinks: Vec::new() };
    layer.visit_params("", &mut flat);
    with_kernel!(layer, k => run(k, flat, x, d, last_only, need_dx, acc))
}

/// Runs `$body` with `$k` bound to the fused kernel of `$layer` (the one place a layer's cell
/// picks its kernel).
macro_rules! with_kernel {
    ($layer:expr, $k:ident => $body:expr) => {
        match $layer {
            Layer::Lstm(l) => {
                let (input, hidden) = (l.w_ih[0].shape().1, l.w_ih[0].shape().0);
                let $k = lstm::Lstm { input, hidden, output: l.w_hh[0].shape().1, proj: l.w_hr.is_some() };
                $body
            }
            Layer::Gru(l) => {
                let $k = gru::Gru { input: l.w_ih[0].shape().1, hidden: l.w_ih[0].shape().0 };
                $body
            }
            Layer::Rnn(l) => {
                let $k = rnn::Rnn { input: l.w_ih.shape().1, hidden: l.w_ih.shape().0, relu: l.relu };
                $body
            }
        }
    };
}
use with_kernel;

fn run<K: Kernel, T: Tape<f32, Cpu> + Merge<T>>(
    kernel: K,
    flat: Flat,
    x: &Tensor<(usize, usize), f32, Cpu>,
    d: SeqDims,
    last_only: bool,
    need_dx: bool,
    acc: &mut T,
) -> FusedOutput {
    let dev = x.device().clone();
    let rows = d.steps * d.batch;
    assert_eq!(x.shape().0, rows, "fused layer: input rows differ from steps × batch");
    let xs = pool::of_tensor(x);
    let p = kernel.output_size();
    let Pass { mut out, cell, saved } = kernel.forward(&flat.values, &xs, d, T::OWNS_TAPE);
    let tail = (d.steps - 1) * d.batch * p;
    let y = if last_only {
        dev.tensor_from_vec(out.split_off(tail), (d.batch, p))
    } else {
        dev.tensor_from_vec(out, (rows, p))
    };
    let c_n = (!cell.is_empty()).then(|| {
        let width = cell.len() / d.batch;
        dev.tensor_from_vec(cell, (d.batch, width))
    });
    if let Some(saved) = saved {
        let (y_ghost, x_ghost) = (y.ghost(), x.ghost());
        let c_ghost = c_n.as_ref().map(|c| c.ghost());
        let Flat { values, sinks } = flat;
        let mut tape = T::default();
        tape.add_backward_op(move |grads: &mut Grads| {
            let dy_slot = grads.get_or_alloc_mut(&y_ghost)?;
            let dy_taken = std::mem::take(&mut **dy_slot);
            let dy = if last_only {
                let mut full = pool::zeros(rows * p);
                full[tail..].copy_from_slice(&dy_taken);
                std::borrow::Cow::Owned(full)
            } else {
                std::borrow::Cow::Borrowed(&dy_taken[..])
            };
            let dcell = match &c_ghost {
                Some(c) => grads.get_or_alloc_mut(c)?.to_vec(),
                None => Vec::new(),
            };
            let (dx, dp) = kernel.backward(&values, &xs, saved, Upstream { dy: &dy, dcell: &dcell }, d, need_dx);
            if let std::borrow::Cow::Owned(full) = dy {
                pool::recycle([full]);
            }
            **grads.get_or_alloc_mut(&y_ghost)? = dy_taken;
            if let Some(dx) = dx {
                let gx = grads.get_or_alloc_mut(&x_ghost)?;
                for (g, v) in gx.iter_mut().zip(&dx) {
                    *g += v;
                }
                pool::recycle([dx]);
            }
            pool::recycle([xs]);
            for sink in sinks {
                sink(grads, &dp)?;
            }
            Ok(())
        });
        *acc = std::mem::take(acc).merge(tape);
    }
    FusedOutput { y, c_n }
}

/// A layer's backward pass, waiting for the gradient of its outputs `[T·B, P]`: returns the
/// input's gradient (when the layer below needs it) and the layer's parameter gradient.
type LayerBackward = Box<dyn FnOnce(&[f32]) -> (Option<Vec<f32>>, Vec<f32>)>;

/// Multiplies `x` by a dropout mask in place (the forward and the backward of dropout).
fn drop_in_place(x: &mut [f32], mask: Option<&Vec<f32>>) {
    if let Some(mask) = mask {
        assert_eq!(x.len(), mask.len(), "dropout mask size differs from its rows");
        x.iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
    }
}

/// The training loss of `batch` (with `masks`' dropout) and the gradient of every parameter,
/// flat in the network's visiting order: the fused layers, head and loss on this thread's
/// pooled buffers, each layer's backward pass run in reverse from the loss, no dfdx tape.
pub fn network_loss_and_grads(net: &Network<Cpu>, batch: &Batch, masks: Option<&Masks>) -> (f32, Vec<f32>) {
    let d = SeqDims { steps: batch.steps, batch: batch.size };
    let top = net.layers.len() - 1;
    let last_only = !net.task.per_step();
    let mut x = pool::copy(&batch.inputs);
    let mut backs: Vec<(LayerBackward, usize)> = Vec::with_capacity(net.layers.len());
    for (l, layer) in net.layers.iter().enumerate() {
        let params = crate::params::flat_values(layer);
        let need_dx = l > 0;
        let (mut out, back): (Vec<f32>, LayerBackward) = with_kernel!(layer, k => {
            let pass = k.forward(&params, &x, d, true);
            pool::recycle([pass.cell]);
            let saved = pass.saved.expect("a training pass keeps what its backward needs");
            let input = std::mem::take(&mut x);
            let back: LayerBackward = Box::new(move |dy: &[f32]| {
                let r = k.backward(&params, &input, saved, Upstream { dy, dcell: &[] }, d, need_dx);
                pool::recycle([input]);
                r
            });
            (pass.out, back)
        });
        let width = out.len() / (d.steps * d.batch);
        if l < top {
            drop_in_place(&mut out, masks.and_then(|m| m.between.get(l)).and_then(Option::as_ref));
        } else if last_only {
            let last = pool::copy(&out[(d.steps - 1) * d.batch * width..]);
            pool::recycle([std::mem::replace(&mut out, last)]);
        }
        backs.push((back, width));
        x = out;
    }
    let head_mask = masks.and_then(|m| m.head.as_ref());
    drop_in_place(&mut x, head_mask);
    let width = backs.last().map_or(1, |b| b.1);
    let rows = x.len() / width;
    let head = head::HeadValues::of(net.head.as_ref());
    let (loss, dz) = head::loss_forward(&x, rows, width, &head, row_targets(batch, net.task), batch.mask.as_deref());
    let (mut dy, head_grads) = head::head_backward(dz, &x, rows, width, head);
    pool::recycle([x]);
    drop_in_place(&mut dy, head_mask);
    let mut layer_grads = Vec::with_capacity(backs.len());
    for (l, (back, width)) in backs.into_iter().enumerate().rev() {
        if l == top && last_only {
            // Only the last step was scored: the other steps' outputs get no gradient.
            let mut full = pool::zeros(d.steps * d.batch * width);
            full[(d.steps - 1) * d.batch * width..].copy_from_slice(&dy);
            pool::recycle([std::mem::replace(&mut dy, full)]);
        }
        if l < top {
            drop_in_place(&mut dy, masks.and_then(|m| m.between.get(l)).and_then(Option::as_ref));
        }
        let (dx, dp) = back(&dy);
        pool::recycle([std::mem::replace(&mut dy, dx.unwrap_or_default())]);
        layer_grads.push(dp);
    }
    pool::recycle([dy]);
    let mut grads: Vec<f32> = layer_grads.into_iter().rev().flatten().collect();
    if let Some((dw, db)) = head_grads {
        grads.extend(dw);
        grads.extend(db);
    }
    (loss as f32, grads)
}

/// The stacked predictions `[S·B, outputs]` of `batch`: the inference path. Forward only, on
/// this thread's pooled buffers (no tensors, no tape, nothing saved for a backward pass), in
/// blocks of rows small enough that a step's buffers stay in cache (sequences are independent,
/// so the blocks' predictions are the batch's), so evaluating a large test set neither maps
/// fresh memory per batch nor streams every step's gates through main memory.
pub fn network_predict(net: &Network<Cpu>, batch: &Batch) -> Vec<f32> {
    let (steps, size, input) = (batch.steps, batch.size, batch.input_size);
    let block = block_rows(net);
    if size <= block {
        return predict_block(net, pool::copy(&batch.inputs), steps, size);
    }
    let scored = if net.task.per_step() { steps } else { 1 };
    let c = net.task.output_size();
    let mut out = vec![0.0; scored * size * c];
    for start in (0..size).step_by(block) {
        let b = block.min(size - start);
        let mut x = pool::scratch(steps * b * input);
        for t in 0..steps {
            let from = (t * size + start) * input;
            x[t * b * input..(t + 1) * b * input].copy_from_slice(&batch.inputs[from..from + b * input]);
        }
        let part = predict_block(net, x, steps, b);
        for s in 0..scored {
            out[(s * size + start) * c..(s * size + start + b) * c].copy_from_slice(&part[s * b * c..(s + 1) * b * c]);
        }
        pool::recycle([part]);
    }
    out
}

/// Rows per inference block: about 2 MB of a step's gate, state and output buffers.
fn block_rows(net: &Network<Cpu>) -> usize {
    let per_row: usize = net.layers.iter().map(|l| 4 * (3 * l.gate_rows() + l.output_size())).max().unwrap_or(1);
    ((2 << 20) / per_row.max(1)).max(64)
}

/// The predictions `[S·b, outputs]` of the `b` time-major sequences `x` `[T·b, I]` (which it
/// returns to the pool).
fn predict_block(net: &Network<Cpu>, mut x: Vec<f32>, steps: usize, b: usize) -> Vec<f32> {
    let d = SeqDims { steps, batch: b };
    let top = net.layers.len() - 1;
    let mut width = x.len() / (steps * b);
    for (l, layer) in net.layers.iter().enumerate() {
        let params = crate::params::flat_values(layer);
        let (mut out, cell) = with_kernel!(layer, k => {
            let pass = k.forward(&params, &x, d, false);
            (pass.out, pass.cell)
        });
        width = out.len() / (steps * b);
        if l == top && !net.task.per_step() {
            let last = pool::copy(&out[(steps - 1) * b * width..]);
            pool::recycle([std::mem::replace(&mut out, last)]);
        }
        pool::recycle([std::mem::replace(&mut x, out), cell]);
    }
    let logits = head::logits_of(&x, x.len() / width, width, net.head.as_ref());
    pool::recycle([x]);
    logits
}

/// The CPU runs whole networks through the fused kernels.
impl Backend for Cpu {
    fn fused_loss_and_grads(net: &Network<Self>, batch: &Batch, masks: Option<&Masks>) -> Option<(f32, Vec<f32>)> {
        Some(network_loss_and_grads(net, batch, masks))
    }

    fn fused_predict(net: &Network<Self>, batch: &Batch) -> Option<Vec<f32>> {
        Some(network_predict(net, batch))
    }
}
