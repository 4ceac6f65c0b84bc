//! Fused whole-sequence kernels for the CPU.
//!
//! A [`Kernel`] runs a layer's whole sequence on raw buffers ([`Kernel::forward`]) and its
//! backward pass ([`Kernel::backward`]), as cuDNN does: per step the input projection (inside
//! the element-wise pass for a narrow input, [`NarrowInput`]) and one recurrent product
//! straight into preallocated gate rows, activations and state updates fused in one pass, and
//! the weight and input gradients as a few large products over all steps. [`network_loss_and_grads`] chains them with the head and
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
mod network;
mod op;
mod pool;
mod rnn;

pub use network::{network_loss_and_grads, network_predict};
pub use op::{layer_op, FusedOutput};

use blas::{gemm, Mat, Packed};

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

    /// Given the gradients flowing in and the layer's outputs (`up`): the input gradient (when
    /// `need_dx`) and the parameter gradient (flat, the layout of `p`).
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

/// What a layer's backward pass reads besides its own saved state: the gradients flowing in,
/// and the layer's outputs, which the caller keeps (they are the next layer's input, so a
/// kernel does not keep a copy of its own).
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    /// The layer's outputs `[T, B, P]`, as its forward pass returned them.
    pub y: &'a [f32],
    /// Of the outputs, `[T, B, P]`.
    pub dy: OutputGrad<'a>,
    /// Of the final cell state, `[B, H]`, or empty.
    pub dcell: &'a [f32],
}

/// The gradient of a layer's outputs `[T, B, P]`, as its backward pass reads it: step by step,
/// a block of rows at a time ([`OutputGrad::rows`]).
#[derive(Debug, Clone, Copy)]
pub enum OutputGrad<'a> {
    /// Every step's, stored.
    Dense(&'a [f32]),
    /// Through a linear head at every step: `dz · W`, from the head's output gradient `dz`
    /// `[T·B, C]` and weight `W` `[C, P]`. Each step's is formed when the backward pass reaches
    /// it, in a buffer that stays in cache, so the `[T, B, P]` gradient is never written out.
    Head { dz: &'a [f32], w: &'a [f32] },
}

impl OutputGrad<'_> {
    /// A buffer for [`Self::rows`] over `rows` rows of `width` (empty when stored), to be
    /// returned to the pool after the pass.
    fn step_buffer(&self, rows: usize, width: usize) -> Vec<f32> {
        match self {
            OutputGrad::Dense(_) => Vec::new(),
            OutputGrad::Head { .. } => pool::scratch(rows * width),
        }
    }

    /// Rows `first..first + rows` of step `t`'s gradient (of a batch of `batch` rows of
    /// `width`): stored, or formed in `buf` (`[rows, P]`, from [`Self::step_buffer`]).
    fn rows<'b>(
        &'b self,
        t: usize,
        first: usize,
        rows: usize,
        buf: Option<&'b mut [f32]>,
        batch: usize,
        width: usize,
    ) -> &'b [f32] {
        match *self {
            OutputGrad::Dense(dy) => &dy[(t * batch + first) * width..(t * batch + first + rows) * width],
            OutputGrad::Head { dz, w } => {
                let classes = w.len() / width;
                let at = (t * batch + first) * classes;
                let buf = buf.expect("a step buffer for a head's gradient");
                gemm(buf, false, Mat::new(&dz[at..at + rows * classes], rows, classes), Mat::new(w, classes, width));
                buf
            }
        }
    }
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

/// Rows per chunk of a step's column sums ([`over_sequence_blocks`]): blocks of rows start at
/// multiples of it, so every chunk lies in one block whatever the number of threads.
const SUM_ROWS: usize = blas::BAND_ROWS;

/// The blocks `(first_row, rows)` that a pass over `rows` rows is split into on the trial's
/// threads ([`blas::row_bands`]: they start at multiples of [`SUM_ROWS`]); `None` (one pass on
/// this thread) with one thread or too few rows to be worth a fork.
fn row_blocks(rows: usize) -> Option<Vec<(usize, usize)>> {
    blas::row_bands(rows, blas::threads())
}

/// Each block's rows of each step of the time-major `buf` (`step` values per step, `width` per
/// row; a buffer of one step is a state buffer): one list of step slices per block. An empty
/// buffer gives every block an empty list.
fn split_steps<'a>(
    buf: &'a mut [f32],
    step: usize,
    width: usize,
    blocks: &[(usize, usize)],
) -> Vec<Vec<&'a mut [f32]>> {
    let mut per_block: Vec<Vec<&mut [f32]>> = blocks.iter().map(|_| Vec::new()).collect();
    if step == 0 || buf.is_empty() {
        return per_block;
    }
    for mut rest in buf.chunks_mut(step) {
        for (list, &(_, n)) in per_block.iter_mut().zip(blocks) {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n * width);
            list.push(head);
            rest = tail;
        }
    }
    per_block
}

/// [`over_sequence_blocks`] for a pass with no reductions over rows (the forward passes):
/// `body(first, parts)` gets its block's rows of every step of each of `parts`.
fn over_sequence<const N: usize>(
    rows: usize,
    parts: [(&mut [f32], usize); N],
    body: impl Fn(usize, [Vec<&mut [f32]>; N]) + Sync,
) {
    over_sequence_blocks(rows, parts, (&mut [], 0), 0..0, |_, _, _| {}, |first, parts, _, _| body(first, parts));
}

/// A step's reduction over all rows (bias and narrow-input weight gradients), in the order the
/// steps are visited: given the step, its gradient rows `[B, W]` and its chunked column sums.
type StepDone<'a> = dyn FnMut(usize, &[f32], &[f32]) + 'a;

/// Runs a layer's whole sequence over blocks of batch rows, each block on one thread for every
/// step (rows are independent through time, so there is one fork per pass, not one per step,
/// and each thread keeps its rows' state in its own cache). `body(first, parts, sums, done)`
/// gets its block's rows of every step of each of `parts` (time-major buffers of `rows` rows
/// per step with their row widths, [`split_steps`]) and of the chunked column sums `sums`
/// (`(buffer, width)`, one row per [`SUM_ROWS`] rows of each step). It calls `done(t, rows,
/// sums)` after each step with that step's rows of `parts[0]` and its sums: with one block
/// that is `step_done` itself, while the step is in cache; with several a no-op, and
/// `step_done` runs afterwards for every step in `order`. Either way each reduction sees the
/// same values in the same order, so the result does not depend on the number of threads.
fn over_sequence_blocks<const N: usize>(
    rows: usize,
    mut parts: [(&mut [f32], usize); N],
    sums: (&mut [f32], usize),
    order: impl Iterator<Item = usize>,
    mut step_done: impl FnMut(usize, &[f32], &[f32]),
    body: impl Fn(usize, [Vec<&mut [f32]>; N], Vec<&mut [f32]>, &mut StepDone<'_>) + Sync,
) {
    let blocks = row_blocks(rows).unwrap_or_else(|| vec![(0, rows)]);
    let (sums, sum_width) = sums;
    let sum_step = rows.div_ceil(SUM_ROWS) * sum_width;
    let sum_blocks: Vec<(usize, usize)> = blocks.iter().map(|&(f, n)| (f / SUM_ROWS, n.div_ceil(SUM_ROWS))).collect();
    let mut split = parts.each_mut().map(|(buf, width)| split_steps(buf, rows * *width, *width, &blocks).into_iter());
    let mut sum_split = split_steps(&mut *sums, sum_step, sum_width, &sum_blocks).into_iter();
    let mut work = blocks.iter().map(|&(first, _)| {
        let parts = std::array::from_fn(|k| split[k].next().unwrap_or_default());
        (first, parts, sum_split.next().unwrap_or_default())
    });
    if blocks.len() == 1 {
        let (first, parts, sums) = work.next().expect("one block");
        return body(first, parts, sums, &mut step_done);
    }
    let work: Vec<_> = work.collect();
    use rayon::prelude::*;
    work.into_par_iter().for_each(|(first, parts, sums)| blas::serial(|| body(first, parts, sums, &mut |_, _, _| {})));
    let (first, width) = (&parts[0].0, parts[0].1);
    for t in order {
        let step_sums = if sum_step == 0 { &[][..] } else { &sums[t * sum_step..(t + 1) * sum_step] };
        step_done(t, &first[t * rows * width..(t + 1) * rows * width], step_sums);
    }
}

/// A zeroed buffer for a step's chunked column sums of `width` values over `rows` rows
/// ([`over_sequence_blocks`]).
fn chunk_sums(rows: usize, width: usize) -> Vec<f32> {
    pool::zeros(rows.div_ceil(SUM_ROWS) * width)
}

/// Sets every row of the row-major `dst` to `row`: the first row, then copies of what is
/// filled so far, doubling, so a bias of two values over 49,152 rows is 17 copies rather than
/// 49,152 calls of `memcpy`.
fn fill_rows(dst: &mut [f32], row: &[f32]) {
    let total = dst.len() - dst.len() % row.len().max(1);
    if total == 0 {
        return;
    }
    dst[..row.len()].copy_from_slice(row);
    let mut filled = row.len();
    while filled < total {
        let n = filled.min(total - filled);
        dst.copy_within(..n, filled);
        filled += n;
    }
}

/// Adds the column sums of the row-major `src` (rows of `dst.len()`) to `dst`.
fn add_row_sums(dst: &mut [f32], src: &[f32]) {
    add_col_sums(dst, src, dst.len(), 0);
}

blas::simd_fn! {
    /// Adds to `dst` the sums of the columns `from..from + dst.len()` of the row-major `src`
    /// (rows of `width`).
    fn add_col_sums(dst: &mut [f32], src: &[f32], width: usize, from: usize) {
        let n = dst.len();
        for row in src.chunks_exact(width) {
            for (d, s) in dst.iter_mut().zip(&row[from..from + n]) {
                *d += s;
            }
        }
    }
}

/// Whether an input of `input` features is narrow: at most [`blas::NARROW`], so that its
/// products are streaming passes. A narrow input is projected inside the cells' element-wise
/// pass ([`NarrowInput`]) and its weights' gradient is summed step by step
/// ([`add_input_grads`]) rather than by one product over all steps ([`WeightProducts`]).
fn is_narrow(input: usize) -> bool {
    input <= blas::NARROW
}

/// `row` `[N·H]` as its `N` gates' `[H]` slices.
#[inline(always)]
fn split_gates<const N: usize>(row: &mut [f32], hidden: usize) -> [&mut [f32]; N] {
    let mut gates = row.chunks_exact_mut(hidden);
    std::array::from_fn(|_| gates.next().expect("a row holds N gates"))
}

/// A step's inputs when they have at most [`blas::NARROW`] features (one for parity and
/// counting ones): the cells add their projection `x·W_ihᵀ` to each gate row inside their
/// element-wise pass, instead of a separate product that writes every gate row first and a
/// recurrent product that then reads it back to add to it.
#[derive(Clone, Copy)]
struct NarrowInput<'a> {
    /// The inputs `[B, I]` (of a block: from its first row on).
    x: &'a [f32],
    /// `W_ihᵀ` `[I, G]`.
    w_t: &'a [f32],
    input: usize,
}

impl<'a> NarrowInput<'a> {
    /// `W_ihᵀ` `[I, G]` of `w_ih` `[G, I]` when the input is narrow; `None` for a wider one
    /// (projected by a product per block of rows, [`StepInput`]).
    fn weights(w_ih: &[f32], gates: usize, input: usize) -> Option<Vec<f32>> {
        is_narrow(input).then(|| (0..input * gates).map(|n| w_ih[(n % gates) * input + n / gates]).collect())
    }

    /// The inputs of a block of rows from row `first` on.
    fn rows_from(self, first: usize) -> Self {
        NarrowInput { x: &self.x[first * self.input..], ..self }
    }

    /// Adds row `r`'s projection to the gate row `row` `[G]`, or writes it there when
    /// `!accumulate` (nothing was written to the row before).
    #[inline(always)]
    fn project(&self, r: usize, row: &mut [f32], accumulate: bool) {
        let g = row.len();
        for (k, &xk) in self.x[r * self.input..(r + 1) * self.input].iter().enumerate() {
            let w = &self.w_t[k * g..(k + 1) * g];
            if k == 0 && !accumulate {
                row.iter_mut().zip(w).for_each(|(v, w)| *v = xk * w);
            } else {
                row.iter_mut().zip(w).for_each(|(v, w)| *v += xk * w);
            }
        }
    }
}

/// A step's inputs `[B, I]` as a forward step projects them: a narrow input inside the
/// element-wise pass ([`NarrowInput`]), a wider one by a product over each block of rows just
/// before the block's recurrent product, so that with threads the projection is split over
/// them with the rest of the step.
#[derive(Clone, Copy)]
enum StepInput<'a> {
    Narrow(NarrowInput<'a>),
    Wide { x: &'a [f32], input: usize, w_ih: &'a Packed<'a> },
}

impl<'a> StepInput<'a> {
    /// The step's inputs `x` `[B, I]` and `W_ih` as a product's right side `[I, G]` (packed
    /// once per pass), with `narrow` its stored transpose when the input is narrow
    /// ([`NarrowInput::weights`]).
    fn new(x: &'a [f32], input: usize, w_ih: &'a Packed<'a>, narrow: Option<&'a [f32]>) -> Self {
        match narrow {
            Some(w_t) => StepInput::Narrow(NarrowInput { x, w_t, input }),
            None => StepInput::Wide { x, input, w_ih },
        }
    }

    /// For the block of rows from `first` on with gate rows `g` `[n, G]`: writes a wide
    /// input's projection to `g` and returns `None`, or returns the narrow input for the pass.
    fn project_block(self, first: usize, g: &mut [f32]) -> Option<NarrowInput<'a>> {
        match self {
            StepInput::Narrow(narrow) => Some(narrow.rows_from(first)),
            StepInput::Wide { x, input, w_ih } => {
                let rows = g.len() / w_ih.cols();
                w_ih.product(g, false, Mat::new(&x[first * input..(first + rows) * input], rows, input));
                None
            }
        }
    }
}

/// For an input `x` `[B, I]` of at most [`blas::NARROW`] features (a streaming product), adds
/// one step's `dgᵀ·x` to the input weights' gradient `g_ih` while the step's pre-activation
/// gradients `dg` `[B, gates]` are still in cache ([`WeightProducts`] leaves it out then); for
/// wider inputs, nothing. Steps are added in the order the backward pass visits them, on the
/// calling thread, so the sums do not depend on the number of threads.
fn add_input_grads(g_ih: &mut [f32], dg: &[f32], x: &[f32], gates: usize) {
    let rows = dg.len() / gates;
    let input = x.len() / rows.max(1);
    if is_narrow(input) {
        gemm(g_ih, true, Mat::new(dg, rows, gates).t(), Mat::new(x, rows, input));
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
    /// Writes `dW_ih` to `g_ih` (unless [`add_input_grads`] added it step by step) and `dW_hh`
    /// to `g_hh`; returns `dX` when `need_dx`.
    fn compute(&self, g_ih: &mut [f32], g_hh: &mut [f32], need_dx: bool) -> Option<Vec<f32>> {
        let (b, rows) = (self.d.batch, self.d.steps * self.d.batch);
        let dg = Mat::new(self.dg, rows, self.gates);
        if !is_narrow(self.input) {
            gemm(g_ih, false, dg.t(), Mat::new(self.x, rows, self.input));
        }
        let dg_rec = Mat::new(&self.dg_rec[b * self.gates..], rows - b, self.gates);
        gemm(g_hh, false, dg_rec.t(), Mat::new(self.out, rows - b, self.output));
        need_dx.then(|| {
            let mut dx = pool::scratch(rows * self.input);
            gemm(&mut dx, false, dg, Mat::new(self.w_ih, self.gates, self.input));
            dx
        })
    }
}

/// Runs `$body` with `$k` bound to the fused kernel of `$layer` (the one place a layer's cell
/// picks its kernel: `fused::<name>::kernel` for each line of `rnnlab_spec::for_each_cell!`).
/// Its users import `with_kernel_arms` beside it (the registry calls it back by name).
macro_rules! with_kernel {
    ($layer:expr, $k:ident => $body:expr) => {
        rnnlab_spec::for_each_cell!(with_kernel_arms! $layer, $k, $body)
    };
}
use with_kernel;

macro_rules! with_kernel_arms {
    ({$layer:expr, $k:ident, $body:expr} $(($variant:ident, $name:ident, $gates:literal),)*) => {
        match $layer {
            $($crate::layer::Layer::$variant(l) => {
                let $k = $crate::fused::$name::kernel(l);
                $body
            })*
        }
    };
}
use with_kernel_arms;

#[cfg(test)]
mod tests {
    #[test]
    fn fill_rows_sets_every_whole_row_and_nothing_past_them() {
        for rows in [0, 1, 2, 3, 5, 8, 13] {
            let row = [1.5, -2.0, 3.25];
            let mut dst = vec![9.0; rows * 3 + 2];
            super::fill_rows(&mut dst, &row);
            let want: Vec<f32> = row.iter().copied().cycle().take(rows * 3).chain([9.0, 9.0]).collect();
            assert_eq!(dst, want, "{rows} rows");
        }
    }
}
