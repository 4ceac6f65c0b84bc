//! Fused Elman RNN (`tanh` or `relu`) over a whole sequence.
//!
//! The pre-activations are computed straight into the output buffer: per step the input
//! projection, the recurrent product, then the bias and the activation in one pass in place
//! (inputs of a few features are projected in that pass too, [`super::NarrowInput`]).

use super::act::tanh;
use super::blas::{simd_fn, Mat, Packed};
use super::pool;
use super::{
    add_input_grads, add_row_sums, chunk_sums, Kernel, NarrowInput, Pass, SeqDims, StepInput, Upstream, WeightProducts,
    SUM_ROWS,
};
use dfdx::prelude::{Device, HasShape};

/// Sizes of one RNN layer.
#[derive(Debug, Clone)]
pub struct Rnn {
    pub input: usize,
    pub hidden: usize,
    pub relu: bool,
}

/// The kernel of a layer (`with_kernel!` calls this for `Layer::Rnn`).
pub(super) fn kernel<D: Device<f32>>(l: &crate::cells::rnn::Dynamic<D>) -> Rnn {
    Rnn { input: l.w_ih.shape().1, hidden: l.w_ih.shape().0, relu: l.relu }
}

/// Nothing: the activation's derivative is a function of the layer's outputs, which the
/// backward pass gets from its caller ([`Upstream::y`]).
#[derive(Debug)]
pub struct Saved;

impl Rnn {
    fn weights<'a>(&self, p: &'a [f32]) -> (&'a [f32], &'a [f32], &'a [f32], &'a [f32]) {
        let (h, i) = (self.hidden, self.input);
        let (w_ih, p) = p.split_at(h * i);
        let (w_hh, p) = p.split_at(h * h);
        let (b_ih, b_hh) = p.split_at(h);
        (w_ih, w_hh, b_ih, b_hh)
    }
}

simd_fn! {
    /// One step's activation in place over its rows `a` `[B, H]`, with the bias (and a narrow
    /// input's projection: added to the recurrent product when `rec`, else written) added in
    /// the same pass: `a = act(a + x·W_ihᵀ + bias)`.
    fn activate(a: &mut [f32], bias: &[f32], narrow: Option<NarrowInput<'_>>, rec: bool, relu: bool) {
        for (r, row) in a.chunks_exact_mut(bias.len()).enumerate() {
            if let Some(input) = &narrow {
                input.project(r, row, rec);
            }
            if relu {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v = (*v + b).max(0.0));
            } else {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v = tanh(*v + b));
            }
        }
    }
}

simd_fn! {
    /// One step's pre-activation gradient `(dy + dh_rec) ⊙ act'(h)` `[B, H]`, from the outputs
    /// `h`, and its column sums (the bias gradient) per [`SUM_ROWS`] rows added to `sums`.
    fn grad_step(da: &mut [f32], dy: &[f32], dh_rec: &[f32], h: &[f32], relu: bool, sums: &mut [f32], hidden: usize) {
        let rows = da
            .chunks_exact_mut(hidden)
            .zip(dy.chunks_exact(hidden))
            .zip(dh_rec.chunks_exact(hidden))
            .zip(h.chunks_exact(hidden));
        for (r, (((da, dy), dr), h)) in rows.enumerate() {
            let s = &mut sums[(r / SUM_ROWS) * hidden..][..hidden];
            let (da, dy, dr, h) = (&mut da[..hidden], &dy[..hidden], &dr[..hidden], &h[..hidden]);
            for j in 0..hidden {
                let slope = if relu { if h[j] > 0.0 { 1.0 } else { 0.0 } } else { 1.0 - h[j] * h[j] };
                da[j] = (dy[j] + dr[j]) * slope;
                s[j] += da[j];
            }
        }
    }
}

/// One forward step in place over the rows `a` (`[n, H]`, the block of rows from `first` on):
/// the input projection (unless the input is narrow, [`StepInput`]), the recurrent product of
/// the same rows' previous outputs `prev` (none at the first step), then the bias and the
/// activation ([`activate`]).
fn forward_rows(
    a: &mut [f32],
    first: usize,
    prev: Option<&[f32]>,
    input: StepInput<'_>,
    w_hh: &Packed<'_>,
    bias: &[f32],
    relu: bool,
) {
    let hidden = bias.len();
    let narrow = input.project_block(first, a);
    if let Some(prev) = prev {
        w_hh.product(a, narrow.is_none(), Mat::new(prev, a.len() / hidden, hidden));
    }
    activate(a, bias, narrow, prev.is_some(), relu);
}

impl Kernel for Rnn {
    type Saved = Saved;

    fn output_size(&self) -> usize {
        self.hidden
    }

    fn forward(&self, p: &[f32], x: &[f32], d: SeqDims, train: bool) -> Pass<Saved> {
        let (b, h, inp) = (d.batch, self.hidden, self.input);
        let (w_ih, w_hh, b_ih, b_hh) = self.weights(p);
        let bias: Vec<f32> = b_ih.iter().zip(b_hh).map(|(a, c)| a + c).collect();
        let mut out = pool::scratch(d.steps * b * h);
        let narrow_w = NarrowInput::weights(w_ih, h, inp);
        let (w_ih, w_hh) = (Packed::new(Mat::new(w_ih, h, inp).t()), Packed::new(Mat::new(w_hh, h, h).t()));
        let parts = [(&mut out[..], h)];
        super::over_sequence(b, parts, |first, [mut outs]| {
            for t in 0..d.steps {
                let (done, rest) = outs.split_at_mut(t);
                let x_t = &x[t * b * inp..(t + 1) * b * inp];
                let input = StepInput::new(x_t, inp, &w_ih, narrow_w.as_deref());
                forward_rows(rest[0], first, done.last().map(|p| &**p), input, &w_hh, &bias, self.relu);
            }
        });
        let saved = train.then_some(Saved);
        Pass { out, cell: Vec::new(), saved }
    }

    fn backward(
        &self,
        p: &[f32],
        x: &[f32],
        _saved: Saved,
        up: Upstream<'_>,
        d: SeqDims,
        need_dx: bool,
    ) -> (Option<Vec<f32>>, Vec<f32>) {
        let (b, h, inp, steps) = (d.batch, self.hidden, self.input, d.steps);
        let (w_ih, w_hh, ..) = self.weights(p);
        let out = up.y;
        let mut da = pool::scratch(steps * b * h);
        let mut dh_rec = pool::zeros(b * h);
        let mut grads = vec![0.0; p.len()];
        let (g_ih, rest) = grads.split_at_mut(h * inp);
        let (g_hh, rest) = rest.split_at_mut(h * h);
        let (g_bih, g_bhh) = rest.split_at_mut(h);
        let mut sums = chunk_sums(steps * b.next_multiple_of(SUM_ROWS), h);
        let mut dy_buf = up.dy.step_buffer(b, h);
        let parts = [(&mut da[..], h), (&mut dh_rec[..], h), (&mut dy_buf[..], h)];
        let order = (0..steps).rev();
        let w_hh_mat = Packed::new(Mat::new(w_hh, h, h));
        let done = |t: usize, da_t: &[f32], sums_t: &[f32]| {
            add_row_sums(g_bih, sums_t);
            add_input_grads(g_ih, da_t, &x[t * b * inp..(t + 1) * b * inp], h);
        };
        super::over_sequence_blocks(
            b,
            parts,
            (&mut sums, h),
            order,
            done,
            |first, [mut da, mut dh_rec, mut dy_buf], mut sums, done| {
                let rows = dh_rec[0].len() / h;
                let dh_rec = &mut *dh_rec[0];
                for t in (0..steps).rev() {
                    let dy = up.dy.rows(t, first, rows, dy_buf.first_mut().map(|b| &mut **b), b, h);
                    let at = (t * b + first) * h;
                    grad_step(da[t], dy, dh_rec, &out[at..at + rows * h], self.relu, sums[t], h);
                    if t > 0 {
                        w_hh_mat.product(dh_rec, false, Mat::new(da[t], rows, h));
                    }
                    done(t, da[t], sums[t]);
                }
            },
        );
        let products = WeightProducts { d, gates: h, input: inp, output: h, dg: &da, dg_rec: &da, x, out, w_ih };
        let dx = products.compute(g_ih, g_hh, need_dx);
        g_bhh.copy_from_slice(g_bih);
        pool::recycle([da, dh_rec, sums, dy_buf]);
        (dx, grads)
    }
}
