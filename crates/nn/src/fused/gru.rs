//! Fused GRU over a whole sequence (PyTorch's gates r, z, n; `b_hn` inside the reset product).
//!
//! Forward: per step the input projection, one recurrent product and one fused pass. Backward:
//! BPTT through the saved activations, the bias gradients summed in the same pass; weight and
//! input gradients as single products over all steps.

use super::act::{map_in_place, sigmoid, tanh};
use super::blas::{simd_fn, Mat, Packed};
use super::pool;
use super::{
    add_col_sums, add_input_grads, chunk_sums, split_gates, Kernel, NarrowInput, Pass, SeqDims, StepInput, Upstream,
    WeightProducts, SUM_ROWS,
};
use dfdx::prelude::{Device, HasShape};

/// Sizes of one GRU layer.
#[derive(Debug, Clone)]
pub struct Gru {
    pub input: usize,
    pub hidden: usize,
}

/// The kernel of a layer (`with_kernel!` calls this for `Layer::Gru`).
pub(super) fn kernel<D: Device<f32>>(l: &crate::cells::gru::Dynamic<D>) -> Gru {
    Gru { input: l.w_ih[0].shape().1, hidden: l.w_ih[0].shape().0 }
}

/// What the backward pass reads, all time-major.
#[derive(Debug)]
pub struct Saved {
    /// Activations r, z, n per row, `[T, B, 3H]`.
    gates: Vec<f32>,
    /// The recurrent part of n before the reset gate, `W_hn h + b_hn`, `[T, B, H]`.
    hn: Vec<f32>,
}

struct Weights<'a> {
    w_ih: &'a [f32],
    w_hh: &'a [f32],
    b_ih: &'a [f32],
    b_hh: &'a [f32],
}

impl Gru {
    fn weights<'a>(&self, p: &'a [f32]) -> Weights<'a> {
        let (h3, i, h) = (3 * self.hidden, self.input, self.hidden);
        let (w_ih, p) = p.split_at(h3 * i);
        let (w_hh, p) = p.split_at(h3 * h);
        let (b_ih, b_hh) = p.split_at(h3);
        Weights { w_ih, w_hh, b_ih, b_hh }
    }
}

simd_fn! {
    /// One step: `xg` holds the input products `[B, 3H]` in (no bias) and activations r, z, n
    /// out; `hg` the recurrent products (no bias); the biases are added here, in the pass that
    /// reads both anyway (no bias rows are written for the products to accumulate onto). Writes
    /// `W_hn h + b_hn` to `hn` and the new state to `h_new`.
    #[allow(clippy::too_many_arguments)]
    fn cell_forward(
        xg: &mut [f32],
        hg: &[f32],
        narrow: Option<NarrowInput<'_>>,
        biases: (&[f32], &[f32]),
        hn: &mut [f32],
        h_prev: &[f32],
        h_new: &mut [f32],
        hidden: usize,
    ) {
        let h3 = 3 * hidden;
        let (b_ih, b_hh) = biases;
        let (bir, rest) = b_ih[..h3].split_at(hidden);
        let (biz, bin) = rest.split_at(hidden);
        let (bhr, rest) = b_hh[..h3].split_at(hidden);
        let (bhz, bhn) = rest.split_at(hidden);
        let rows = xg
            .chunks_exact_mut(h3)
            .zip(hg.chunks_exact(h3))
            .zip(hn.chunks_exact_mut(hidden))
            .zip(h_prev.chunks_exact(hidden))
            .zip(h_new.chunks_exact_mut(hidden));
        for (r, ((((xrow, hrow), hn), hp), hnew)) in rows.enumerate() {
            if let Some(input) = &narrow {
                input.project(r, xrow, false);
            }
            let (xr, rest) = xrow.split_at_mut(hidden);
            let (xz, xn) = rest.split_at_mut(hidden);
            let (hr, rest) = hrow.split_at(hidden);
            let (hz, hnn) = rest.split_at(hidden);
            row_forward(xr, xz, xn, [hr, hz, hnn], hn, hp, hnew, [bir, biz, bin, bhr, bhz, bhn]);
        }
    }
}

/// One row of [`cell_forward`]: simple passes over equal-length slices, each its own parameter
/// so that the compiler knows the written ones do not overlap and vectorises every pass
/// (slices split from one row inside a loop body left some passes scalar).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row_forward(
    xr: &mut [f32],
    xz: &mut [f32],
    xn: &mut [f32],
    hg: [&[f32]; 3],
    hn: &mut [f32],
    hp: &[f32],
    hnew: &mut [f32],
    biases: [&[f32]; 6],
) {
    let k = hn.len();
    let ([hr, hz, hnn], [bir, biz, bin, bhr, bhz, bhn]) = (hg, biases);
    let (xr, xz, xn, hp, hnew) = (&mut xr[..k], &mut xz[..k], &mut xn[..k], &hp[..k], &mut hnew[..k]);
    let (hr, hz, hnn) = (&hr[..k], &hz[..k], &hnn[..k]);
    let (bir, biz, bin, bhr, bhz, bhn) = (&bir[..k], &biz[..k], &bin[..k], &bhr[..k], &bhz[..k], &bhn[..k]);
    for j in 0..k {
        xr[j] += (bir[j] + bhr[j]) + hr[j];
        xz[j] += (biz[j] + bhz[j]) + hz[j];
        hn[j] = hnn[j] + bhn[j];
    }
    map_in_place(xr, sigmoid);
    map_in_place(xz, sigmoid);
    for j in 0..k {
        xn[j] += bin[j] + xr[j] * hn[j];
    }
    map_in_place(xn, tanh);
    for j in 0..k {
        hnew[j] = (1.0 - xz[j]) * xn[j] + xz[j] * hp[j];
    }
}

simd_fn! {
    /// Gradients of one step, from the output gradient `dh = dy + dh_rec` (`dh_rec` holds the
    /// gradient flowing back from step t+1 in): input-side gate gradients over the activations
    /// in `g`, recurrent-side ones into `dhg`, the direct path `dh ⊙ z` into `dh_rec` (out), and
    /// the column sums (the bias gradients: r, z, n, then the recurrent side's n) per
    /// [`SUM_ROWS`] rows added to `sums`.
    #[allow(clippy::too_many_arguments)]
    fn cell_backward(
        g: &mut [f32],
        dhg: &mut [f32],
        dh_rec: &mut [f32],
        hn: &[f32],
        h_prev: &[f32],
        dy: &[f32],
        sums: &mut [f32],
        hidden: usize,
    ) {
        let h3 = 3 * hidden;
        let rows = g
            .chunks_exact_mut(h3)
            .zip(dhg.chunks_exact_mut(h3))
            .zip(dh_rec.chunks_exact_mut(hidden))
            .zip(hn.chunks_exact(hidden))
            .zip(h_prev.chunks_exact(hidden))
            .zip(dy.chunks_exact(hidden));
        for (row_index, (((((row, drow), dhp), hn), hp), dy)) in rows.enumerate() {
            let (dhp, hn, hp, dy) = (&mut dhp[..hidden], &hn[..hidden], &hp[..hidden], &dy[..hidden]);
            let [sr, sz, sn, snr] = split_gates(&mut sums[(row_index / SUM_ROWS) * 4 * hidden..][..4 * hidden], hidden);
            let ([r, z, n], [dr, dz, dn]) = (split_gates(row, hidden), split_gates(drow, hidden));
            row_backward(r, z, n, dr, dz, dn, dhp, hn, hp, dy, sr, sz, sn, snr);
        }
    }
}

/// One row of [`cell_backward`]. Every slice is its own parameter so that the compiler knows
/// they do not overlap and vectorises the loop (slices split from one row inside a loop body
/// left it scalar).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row_backward(
    r: &mut [f32],
    z: &mut [f32],
    n: &mut [f32],
    dr: &mut [f32],
    dz: &mut [f32],
    dn: &mut [f32],
    dhp: &mut [f32],
    hn: &[f32],
    hp: &[f32],
    dy: &[f32],
    sr: &mut [f32],
    sz: &mut [f32],
    sn: &mut [f32],
    snr: &mut [f32],
) {
    let k = dy.len();
    let (r, z, n, dr, dz, dn) = (&mut r[..k], &mut z[..k], &mut n[..k], &mut dr[..k], &mut dz[..k], &mut dn[..k]);
    let (dhp, hn, hp) = (&mut dhp[..k], &hn[..k], &hp[..k]);
    let (sr, sz, sn, snr) = (&mut sr[..k], &mut sz[..k], &mut sn[..k], &mut snr[..k]);
    for j in 0..k {
        let (rv, zv, nv) = (r[j], z[j], n[j]);
        let dh = dy[j] + dhp[j];
        let dgn = dh * (1.0 - zv) * (1.0 - nv * nv);
        let dgr = dgn * hn[j] * rv * (1.0 - rv);
        let dgz = dh * (hp[j] - nv) * zv * (1.0 - zv);
        r[j] = dgr;
        z[j] = dgz;
        n[j] = dgn;
        dr[j] = dgr;
        dz[j] = dgz;
        dn[j] = dgn * rv;
        dhp[j] = dh * zv;
        sr[j] += dgr;
        sz[j] += dgz;
        sn[j] += dgn;
        snr[j] += dn[j];
    }
}

/// One forward step over a block of rows (from row `first` on): the recurrent product of the
/// same rows' previous outputs `h_prev` into `hg` (left at zero at the first step, `!rec`),
/// then [`cell_forward`].
#[allow(clippy::too_many_arguments)]
fn forward_rows(
    g: &mut [f32],
    first: usize,
    hg: &mut [f32],
    biases: (&[f32], &[f32]),
    hn: &mut [f32],
    h_prev: &[f32],
    h_new: &mut [f32],
    input: StepInput<'_>,
    w_hh: &Packed<'_>,
    rec: bool,
) {
    let hidden = w_hh.rows();
    let narrow = input.project_block(first, g);
    if rec {
        w_hh.product(hg, false, Mat::new(h_prev, h_new.len() / hidden, hidden));
    }
    cell_forward(g, hg, narrow, biases, hn, h_prev, h_new, hidden);
}

/// One backward step over a block of rows: [`cell_backward`] (its direct path into
/// `dh_rec`), then (when there is an earlier step, `rec`) `dh_rec += dG_rec · W_hh`.
#[allow(clippy::too_many_arguments)]
fn backward_rows(
    dxg: &mut [f32],
    dhg: &mut [f32],
    sums: &mut [f32],
    dh_rec: &mut [f32],
    dy: &[f32],
    hn: &[f32],
    h_prev: &[f32],
    w_hh: &Packed<'_>,
    rec: bool,
) {
    let hidden = w_hh.cols();
    let len = dh_rec.len();
    cell_backward(dxg, dhg, dh_rec, hn, h_prev, dy, sums, hidden);
    if rec {
        w_hh.product(dh_rec, true, Mat::new(dhg, len / hidden, 3 * hidden));
    }
}

impl Kernel for Gru {
    type Saved = Saved;

    fn output_size(&self) -> usize {
        self.hidden
    }

    fn forward(&self, p: &[f32], x: &[f32], d: SeqDims, train: bool) -> Pass<Saved> {
        let (b, h, inp) = (d.batch, self.hidden, self.input);
        let h3 = 3 * h;
        let w = self.weights(p);
        let w_ih = Packed::new(Mat::new(w.w_ih, h3, inp).t());
        let kept = if train { d.steps } else { 1 };
        let mut gates = pool::scratch(kept * b * h3);
        // Zero at the first step (no state yet); the recurrent product from then on.
        let mut hg = pool::zeros(b * h3);
        let mut hn = pool::scratch(kept * b * h);
        let zeros = pool::zeros(b * h);
        let mut out = pool::scratch(d.steps * b * h);
        let narrow_w = NarrowInput::weights(w.w_ih, h3, inp);
        let w_hh = Packed::new(Mat::new(w.w_hh, h3, h).t());
        let parts = [(&mut gates[..], h3), (&mut hg[..], h3), (&mut hn[..], h), (&mut out[..], h)];
        super::over_sequence(b, parts, |first, [mut g, mut hg, mut hn, mut out]| {
            let hg = &mut *hg[0];
            let rows = hg.len() / h3;
            for t in 0..d.steps {
                let s = if train { t } else { 0 };
                let x_t = &x[t * b * inp..(t + 1) * b * inp];
                let input = StepInput::new(x_t, inp, &w_ih, narrow_w.as_deref());
                let (done, rest) = out.split_at_mut(t);
                let h_prev = done.last().map_or(&zeros[..rows * h], |p| &**p);
                forward_rows(g[s], first, hg, (w.b_ih, w.b_hh), hn[s], h_prev, rest[0], input, &w_hh, t > 0);
            }
        });
        if !train {
            pool::recycle([gates, hn, hg, zeros]);
            return Pass { out, cell: Vec::new(), saved: None };
        }
        pool::recycle([hg, zeros]);
        let saved = Saved { gates, hn };
        Pass { out, cell: Vec::new(), saved: Some(saved) }
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
        let (b, h, inp, steps) = (d.batch, self.hidden, self.input, d.steps);
        let h3 = 3 * h;
        let w = self.weights(p);
        let Saved { gates: mut dxg, hn } = saved;
        let out = up.y;
        let mut dhg = pool::scratch(steps * b * h3);
        let zeros = pool::zeros(b * h);
        let mut dh_rec = pool::zeros(b * h);
        let mut grads = vec![0.0; p.len()];
        let (g_ih, rest) = grads.split_at_mut(h3 * inp);
        let (g_hh, rest) = rest.split_at_mut(h3 * h);
        let (g_bih, g_bhh) = rest.split_at_mut(h3);
        let mut sums = chunk_sums(steps * b.next_multiple_of(SUM_ROWS), 4 * h);
        let mut dy_buf = up.dy.step_buffer(b, h);
        let parts = [(&mut dxg[..], h3), (&mut dhg[..], h3), (&mut dh_rec[..], h), (&mut dy_buf[..], h)];
        let w_hh = Packed::new(Mat::new(w.w_hh, h3, h));
        let done = |t: usize, dxg_t: &[f32], sums_t: &[f32]| {
            // The recurrent side's bias gradient: its r and z parts are the input side's
            // ([`cell_backward`] writes the same values to both); only n's differ (scaled by r).
            add_col_sums(g_bih, sums_t, 4 * h, 0);
            add_col_sums(&mut g_bhh[2 * h..], sums_t, 4 * h, 3 * h);
            add_input_grads(g_ih, dxg_t, &x[t * b * inp..(t + 1) * b * inp], h3);
        };
        let order = (0..steps).rev();
        super::over_sequence_blocks(b, parts, (&mut sums, 4 * h), order, done, |first, parts, mut sums, done| {
            let [mut dxg, mut dhg, mut dh_rec, mut dy_buf] = parts;
            let dh_rec = &mut *dh_rec[0];
            let rows = dh_rec.len() / h;
            let at = first * h;
            for t in (0..steps).rev() {
                let h_prev = if t > 0 { &out[(t - 1) * b * h + at..][..rows * h] } else { &zeros[..rows * h] };
                let dy = up.dy.rows(t, first, rows, dy_buf.first_mut().map(|b| &mut **b), b, h);
                let hn_t = &hn[t * b * h + at..][..rows * h];
                backward_rows(dxg[t], dhg[t], sums[t], dh_rec, dy, hn_t, h_prev, &w_hh, t > 0);
                done(t, dxg[t], sums[t]);
            }
        });
        g_bhh[..2 * h].copy_from_slice(&g_bih[..2 * h]);
        let products =
            WeightProducts { d, gates: h3, input: inp, output: h, dg: &dxg, dg_rec: &dhg, x, out, w_ih: w.w_ih };
        let dx = products.compute(g_ih, g_hh, need_dx);
        pool::recycle([dxg, hn, dhg, zeros, dh_rec, sums, dy_buf]);
        (dx, grads)
    }
}
