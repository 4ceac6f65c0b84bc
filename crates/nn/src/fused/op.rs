//! One layer as a custom dfdx op: the kernel's forward pass, and its backward pass recorded as
//! one closure on the tape. The network's own paths ([`super::network`]) need no tape; this
//! is for callers that hold dfdx tensors, such as the layer-level golden tests (which also
//! differentiate the final hidden and cell states).

use dfdx::prelude::*;

use super::{pool, with_kernel, with_kernel_arms, Kernel, OutputGrad, Pass, SeqDims, Upstream};
use crate::layer::Layer;
use crate::params::{HasParams, Visitor};

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
    // The backward pass reads the outputs; the tensor below takes the buffer.
    let ys = saved.as_ref().map(|_| pool::copy(&out));
    let y = if last_only {
        dev.tensor_from_vec(out.split_off(tail), (d.batch, p))
    } else {
        dev.tensor_from_vec(out, (rows, p))
    };
    let c_n = (!cell.is_empty()).then(|| {
        let width = cell.len() / d.batch;
        dev.tensor_from_vec(cell, (d.batch, width))
    });
    if let (Some(saved), Some(ys)) = (saved, ys) {
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
            let (dx, dp) = kernel.backward(
                &values,
                &xs,
                saved,
                Upstream { y: &ys, dy: OutputGrad::Dense(&dy), dcell: &dcell },
                d,
                need_dx,
            );
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
            pool::recycle([xs, ys]);
            for sink in sinks {
                sink(grads, &dp)?;
            }
            Ok(())
        });
        *acc = std::mem::take(acc).merge(tape);
    }
    FusedOutput { y, c_n }
}
