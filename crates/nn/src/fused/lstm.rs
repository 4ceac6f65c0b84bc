//! Fused LSTM over a whole sequence (PyTorch's gates i, f, g, o; optional projection).
//!
//! Forward: per step the input projection and one recurrent product into the gate rows, then
//! one fused pass for activations and the cell update. Backward: BPTT through the saved
//! activations, writing the gate gradients over the activations (and summing them for the bias
//! gradient), then the weight and input gradients as single products over all steps.

use super::act::{map_in_place, sigmoid, tanh};
use dfdx::prelude::{Device, HasShape};

use super::blas::{gemm, simd_fn, Mat, Packed};
use super::pool;
use super::{
    add_input_grads, add_row_sums, chunk_sums, split_gates, sum_into, Kernel, NarrowInput, Pass, SeqDims, StepInput,
    Upstream, WeightProducts, SUM_ROWS,
};

/// Sizes of one LSTM layer; `output` is the projection size, or `hidden` without projection.
#[derive(Debug, Clone)]
pub struct Lstm {
    pub input: usize,
    pub hidden: usize,
    pub output: usize,
    pub proj: bool,
}

/// The kernel of a layer (`with_kernel!` calls this for `Layer::Lstm`).
pub(super) fn kernel<D: Device<f32>>(l: &crate::cells::lstm::Dynamic<D>) -> Lstm {
    let (input, hidden) = (l.w_ih[0].shape().1, l.w_ih[0].shape().0);
    Lstm { input, hidden, output: l.w_hh[0].shape().1, proj: l.w_hr.is_some() }
}

/// What the backward pass reads, all time-major.
#[derive(Debug)]
pub struct Saved {
    /// Gate activations `[T, B, 4H]` (i, f, g, o per row).
    gates: Vec<f32>,
    /// Cell states `[T, B, H]`.
    c: Vec<f32>,
    /// `tanh(c)` `[T, B, H]`.
    tanh_c: Vec<f32>,
    /// `o ⊙ tanh(c)` before the projection `[T, B, H]` (projection only).
    m: Vec<f32>,
}

/// The parameters of one layer, as slices of its flat vector (PyTorch's order).
struct Weights<'a> {
    w_ih: &'a [f32],
    w_hh: &'a [f32],
    b_ih: &'a [f32],
    b_hh: &'a [f32],
    w_hr: &'a [f32],
}

impl Lstm {
    fn weights<'a>(&self, p: &'a [f32]) -> Weights<'a> {
        let (h4, i, o) = (4 * self.hidden, self.input, self.output);
        let (w_ih, p) = p.split_at(h4 * i);
        let (w_hh, p) = p.split_at(h4 * o);
        let (b_ih, p) = p.split_at(h4);
        let (b_hh, w_hr) = p.split_at(h4);
        Weights { w_ih, w_hh, b_ih, b_hh, w_hr }
    }
}

simd_fn! {
    /// Activations and cell update for one step: `g` holds the products `[B, 4H]` in (without
    /// the bias, added here: no bias rows are written for the products to accumulate onto; a
    /// `narrow` input's projection is added here too, or written when there was no recurrent
    /// product, `!rec`) and activations out; `c` is the cell state (updated in place).
    #[allow(clippy::too_many_arguments)]
    fn cell_forward(
        g: &mut [f32],
        bias: &[f32],
        narrow: Option<NarrowInput<'_>>,
        rec: bool,
        c: &mut [f32],
        tanh_c: &mut [f32],
        m: &mut [f32],
        hidden: usize,
    ) {
        let bias = &bias[..4 * hidden];
        let rows = g
            .chunks_exact_mut(4 * hidden)
            .zip(c.chunks_exact_mut(hidden))
            .zip(tanh_c.chunks_exact_mut(hidden))
            .zip(m.chunks_exact_mut(hidden));
        for (r, (((row, c), tc), m)) in rows.enumerate() {
            if let Some(input) = &narrow {
                input.project(r, row, rec);
            }
            for (v, b) in row.iter_mut().zip(bias) {
                *v += b;
            }
            let (i, rest) = row.split_at_mut(hidden);
            let (f, rest) = rest.split_at_mut(hidden);
            let (gg, o) = rest.split_at_mut(hidden);
            map_in_place(i, sigmoid);
            map_in_place(f, sigmoid);
            map_in_place(gg, tanh);
            map_in_place(o, sigmoid);
            // Equal lengths stated up front let the compiler drop bounds checks and vectorise.
            let (o, c, tc, m) = (&o[..hidden], &mut c[..hidden], &mut tc[..hidden], &mut m[..hidden]);
            for j in 0..hidden {
                let cj = f[j] * c[j] + i[j] * gg[j];
                c[j] = cj;
                tc[j] = tanh(cj);
                m[j] = o[j] * tc[j];
            }
        }
    }
}

simd_fn! {
    /// Gate gradients for one step, written over the activations in `g`, and their column sums
    /// (the bias gradient) per [`SUM_ROWS`] rows added to `sums`; `dc` carries the cell
    /// gradient from step t+1 in and to step t-1 out.
    #[allow(clippy::too_many_arguments)]
    fn cell_backward(
        g: &mut [f32],
        dc: &mut [f32],
        c_prev: &[f32],
        tanh_c: &[f32],
        dm: &[f32],
        sums: &mut [f32],
        hidden: usize,
    ) {
        let rows = g
            .chunks_exact_mut(4 * hidden)
            .zip(dc.chunks_exact_mut(hidden))
            .zip(c_prev.chunks_exact(hidden))
            .zip(tanh_c.chunks_exact(hidden))
            .zip(dm.chunks_exact(hidden));
        for (r, ((((row, dc), cp), tc), dm)) in rows.enumerate() {
            let (dc, cp, tc, dm) = (&mut dc[..hidden], &cp[..hidden], &tc[..hidden], &dm[..hidden]);
            let [i, f, gg, o] = split_gates(row, hidden);
            let [si, sf, sg, so] = split_gates(&mut sums[(r / SUM_ROWS) * 4 * hidden..][..4 * hidden], hidden);
            row_backward(i, f, gg, o, dc, cp, tc, dm, si, sf, sg, so);
        }
    }
}

/// One row of [`cell_backward`]. Every slice is its own parameter so that the compiler knows
/// they do not overlap and vectorises the loop (slices split from one row inside a loop body
/// left it scalar).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row_backward(
    i: &mut [f32],
    f: &mut [f32],
    gg: &mut [f32],
    o: &mut [f32],
    dc: &mut [f32],
    cp: &[f32],
    tc: &[f32],
    dm: &[f32],
    si: &mut [f32],
    sf: &mut [f32],
    sg: &mut [f32],
    so: &mut [f32],
) {
    let n = dc.len();
    let (i, f, gg, o, cp, tc, dm) = (&mut i[..n], &mut f[..n], &mut gg[..n], &mut o[..n], &cp[..n], &tc[..n], &dm[..n]);
    let (si, sf, sg, so) = (&mut si[..n], &mut sf[..n], &mut sg[..n], &mut so[..n]);
    for j in 0..n {
        let (iv, fv, gv, ov, t) = (i[j], f[j], gg[j], o[j], tc[j]);
        let dcj = dc[j] + dm[j] * ov * (1.0 - t * t);
        o[j] = dm[j] * t * ov * (1.0 - ov);
        i[j] = dcj * gv * iv * (1.0 - iv);
        gg[j] = dcj * iv * (1.0 - gv * gv);
        f[j] = dcj * cp[j] * fv * (1.0 - fv);
        dc[j] = dcj * fv;
        si[j] += i[j];
        sf[j] += f[j];
        sg[j] += gg[j];
        so[j] += o[j];
    }
}

/// One forward step over a block of rows (from row `first` on, `c.len() / hidden` of them):
/// the recurrent product of the same rows' previous outputs `prev` (none at the first step)
/// into the gate rows `g`, onto the input projection (or, for a narrow input, before it:
/// [`StepInput`]), then [`cell_forward`].
#[allow(clippy::too_many_arguments)]
fn forward_rows(
    g: &mut [f32],
    first: usize,
    prev: Option<&[f32]>,
    input: StepInput<'_>,
    w_hh: &Packed<'_>,
    bias: &[f32],
    c: &mut [f32],
    tanh_c: &mut [f32],
    m: &mut [f32],
    hidden: usize,
) {
    let narrow = input.project_block(first, g);
    if let Some(prev) = prev {
        w_hh.product(g, narrow.is_none(), Mat::new(prev, c.len() / hidden, w_hh.rows()));
    }
    cell_forward(g, bias, narrow, prev.is_some(), c, tanh_c, m, hidden);
}

/// One backward step over a block of rows: [`cell_backward`] (with the gate gradients'
/// chunked column sums into `sums`), then (when there is an earlier step, `rec`) the gradient
/// flowing to the same rows' previous outputs, `dh_rec = dG · W_hh`.
#[allow(clippy::too_many_arguments)]
fn backward_rows(
    g: &mut [f32],
    dc: &mut [f32],
    sums: &mut [f32],
    c_prev: &[f32],
    tanh_c: &[f32],
    dm: &[f32],
    dh_rec: &mut [f32],
    w_hh: &Packed<'_>,
    rec: bool,
) {
    let hidden = w_hh.rows() / 4;
    cell_backward(g, dc, c_prev, tanh_c, dm, sums, hidden);
    if rec {
        w_hh.product(dh_rec, false, Mat::new(g, dc.len() / hidden, 4 * hidden));
    }
}

impl Kernel for Lstm {
    type Saved = Saved;

    fn output_size(&self) -> usize {
        self.output
    }

    fn forward(&self, p: &[f32], x: &[f32], d: SeqDims, train: bool) -> Pass<Saved> {
        let (b, h, o, inp) = (d.batch, self.hidden, self.output, self.input);
        let h4 = 4 * h;
        let w = self.weights(p);
        let bias: Vec<f32> = w.b_ih.iter().zip(w.b_hh).map(|(a, c)| a + c).collect();
        let w_ih = Packed::new(Mat::new(w.w_ih, h4, inp).t());
        let w_hh = Packed::new(Mat::new(w.w_hh, h4, o).t());
        // Training keeps every step's buffers; inference reuses one step's.
        let kept = if train { d.steps } else { 1 };
        let mut gates = pool::scratch(kept * b * h4);
        let state = b * h;
        let mut c_all = pool::scratch(kept * state);
        let mut tanh_c = pool::scratch(kept * state);
        let mut m_all = pool::scratch(if self.proj { kept * state } else { 0 });
        let mut out = pool::scratch(d.steps * b * o);
        let mut c = pool::zeros(state);
        let narrow_w = NarrowInput::weights(w.w_ih, h4, inp);
        let w_hr = self.proj.then(|| Packed::new(Mat::new(w.w_hr, o, h).t()));
        let parts = [
            (&mut gates[..], h4),
            (&mut c[..], h),
            (&mut tanh_c[..], h),
            (&mut m_all[..], h),
            (&mut out[..], o),
            (&mut c_all[..], h),
        ];
        super::over_sequence(b, parts, |first, [mut g, mut c, mut tc, mut m, mut out, mut c_all]| {
            let c = &mut *c[0];
            let rows = c.len() / h;
            for t in 0..d.steps {
                let s = if train { t } else { 0 };
                let x_t = &x[t * b * inp..(t + 1) * b * inp];
                let input = StepInput::new(x_t, inp, &w_ih, narrow_w.as_deref());
                let (done, rest) = out.split_at_mut(t);
                let (prev, out_t) = (done.last().map(|p| &**p), &mut *rest[0]);
                if self.proj {
                    let m = &mut *m[s];
                    forward_rows(g[s], first, prev, input, &w_hh, &bias, c, tc[s], m, h);
                    w_hr.as_ref().expect("a projection").product(out_t, false, Mat::new(m, rows, h));
                } else {
                    forward_rows(g[s], first, prev, input, &w_hh, &bias, c, tc[s], out_t, h);
                }
                if train {
                    c_all[t].copy_from_slice(c);
                }
            }
        });
        if !train {
            pool::recycle([gates, c_all, tanh_c, m_all]);
            return Pass { out, cell: c, saved: None };
        }
        let saved = Saved { gates, c: c_all, tanh_c, m: m_all };
        Pass { out, cell: c, saved: Some(saved) }
    }

    fn backward(
        &self,
        p: &[f32],
        x: &[f32],
        saved: Saved,
        up: Upstream<'_>,
        d: SeqDims,
        need_dx: bool,
    ) -> (Option<Vec<f32>>, Vec<f32>) {
        let (b, h, o, inp, steps) = (d.batch, self.hidden, self.output, self.input, d.steps);
        let h4 = 4 * h;
        let w = self.weights(p);
        let Saved { gates: mut dg, c: c_all, tanh_c, m: m_all } = saved;
        let state = b * h;
        let zeros = pool::zeros(state);
        let mut dh = pool::zeros(b * o);
        let mut dh_rec = pool::zeros(b * o);
        let mut dc = if up.dcell.is_empty() { pool::zeros(state) } else { pool::copy(up.dcell) };
        let mut dm = pool::scratch(if self.proj { state } else { 0 });
        let mut dh_all = pool::scratch(if self.proj { steps * b * o } else { 0 });
        let mut grads = vec![0.0; p.len()];
        let (g_ih, rest) = grads.split_at_mut(h4 * inp);
        let (g_hh, rest) = rest.split_at_mut(h4 * o);
        let (g_bih, rest) = rest.split_at_mut(h4);
        let (g_bhh, g_hr) = rest.split_at_mut(h4);
        let mut sums = chunk_sums(steps * b.next_multiple_of(SUM_ROWS), h4);
        let mut dy_buf = up.dy.step_buffer(b, o);
        let parts = [
            (&mut dg[..], h4),
            (&mut dh[..], o),
            (&mut dh_rec[..], o),
            (&mut dc[..], h),
            (&mut dm[..], h),
            (&mut dh_all[..], o),
            (&mut dy_buf[..], o),
        ];
        let w_hh = Packed::new(Mat::new(w.w_hh, h4, o));
        let w_hr = self.proj.then(|| Packed::new(Mat::new(w.w_hr, o, h)));
        let done = |t: usize, g: &[f32], sums_t: &[f32]| {
            add_row_sums(g_bih, sums_t);
            add_input_grads(g_ih, g, &x[t * b * inp..(t + 1) * b * inp], h4);
        };
        let order = (0..steps).rev();
        super::over_sequence_blocks(b, parts, (&mut sums, h4), order, done, |first, parts, mut sums, done| {
            let [mut g, mut dh, mut dh_rec, mut dc, mut dm, mut dh_all, mut dy_buf] = parts;
            let (dh, dh_rec, dc) = (&mut *dh[0], &mut *dh_rec[0], &mut *dc[0]);
            let rows = dc.len() / h;
            let at = first * h;
            for t in (0..steps).rev() {
                sum_into(dh, up.dy.rows(t, first, rows, dy_buf.first_mut().map(|b| &mut **b), b, o), dh_rec);
                let c_prev = if t > 0 { &c_all[(t - 1) * state + at..][..rows * h] } else { &zeros[..rows * h] };
                let tc = &tanh_c[t * state + at..][..rows * h];
                if self.proj {
                    dh_all[t].copy_from_slice(dh);
                    let dm = &mut *dm[0];
                    w_hr.as_ref().expect("a projection").product(dm, false, Mat::new(dh, rows, o));
                    backward_rows(g[t], dc, sums[t], c_prev, tc, dm, dh_rec, &w_hh, t > 0);
                } else {
                    backward_rows(g[t], dc, sums[t], c_prev, tc, dh, dh_rec, &w_hh, t > 0);
                }
                done(t, g[t], sums[t]);
            }
        });
        let rows = steps * b;
        let products =
            WeightProducts { d, gates: h4, input: inp, output: o, dg: &dg, dg_rec: &dg, x, out: up.y, w_ih: w.w_ih };
        let dx = products.compute(g_ih, g_hh, need_dx);
        g_bhh.copy_from_slice(g_bih);
        if self.proj {
            gemm(g_hr, false, Mat::new(&dh_all, rows, o).t(), Mat::new(&m_all, rows, h));
        }
        pool::recycle([dg, c_all, tanh_c, m_all, sums, dy_buf, dm, dh_all, zeros, dh, dh_rec, dc]);
        (dx, grads)
    }
}
