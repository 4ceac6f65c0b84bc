//! Products with a side of at most [`MAX`]: an input of one feature (parity, counting ones), a
//! projection to two values (`experiments/parity.toml`'s LSTM has `proj_size = 2`, so its
//! recurrent product has an inner side of 2), a head of two classes. The `gemm` crate packs
//! both operands and runs tiles that are mostly padding there (its `gemm_basic` path and 16×6
//! microkernel took 39% of a parity LSTM trial's time at a few GFLOP/s). Each case here is one
//! streaming pass of simple loops over contiguous rows that the compiler vectorises
//! ([`simd_fn`]).
//!
//! Sums over a long side are accumulated in blocks of [`BLOCK`] terms and the partial sums then
//! added, so their rounding grows with the number of blocks, not of terms. Every output row is
//! computed the same way whichever rows surround it, so splitting a product by rows (threads)
//! does not change it.

use super::{simd_fn, Mat};

/// The largest side handled here.
pub(super) const MAX: usize = 4;

/// Terms summed into a partial sum before it is added to the total.
const BLOCK: usize = 256;

/// `dst (+)= a · b` when one side is at most [`MAX`] and the layout allows a streaming pass;
/// false (nothing written) for the `gemm` crate to do it.
pub(super) fn product(dst: &mut [f32], accumulate: bool, a: Mat<'_>, b: Mat<'_>) -> bool {
    let (m, k) = a.shape();
    let n = b.shape().1;
    let dst = &mut dst[..m * n];
    if k <= MAX {
        // Each output row is a combination of b's k rows.
        outer_rows(dst, accumulate, &dense(a), &dense(b), k, n);
        true
    } else if n <= MAX && !a.transposed {
        // Each output is a dot product of a row of a with a column of b.
        dot_rows(dst, accumulate, &a.data[..m * k], &dense(b.t()), k, n);
        true
    } else if (m <= MAX || n <= MAX) && a.transposed && !b.transposed {
        // A sum over k of outer products of a's and b's stored rows (weight gradients), along
        // the longer of the two rows.
        let mut acc = vec![0.0; m * n];
        if n >= m {
            outer_sums(&mut acc, a.data, b.data, k, m, n);
        } else {
            let mut acc_t = vec![0.0; m * n];
            outer_sums(&mut acc_t, b.data, a.data, k, n, m);
            for (i, row) in acc.chunks_exact_mut(n).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = acc_t[j * m + i];
                }
            }
        }
        for (d, v) in dst.iter_mut().zip(&acc) {
            *d = if accumulate { *d + v } else { *v };
        }
        true
    } else {
        false
    }
}

/// The logical matrix row-major: its slice when stored that way, else a transposed copy.
fn dense(mat: Mat<'_>) -> std::borrow::Cow<'_, [f32]> {
    let (rows, cols) = mat.shape();
    if !mat.transposed {
        return std::borrow::Cow::Borrowed(&mat.data[..rows * cols]);
    }
    // Stored [cols, rows]: element (i, j) is at j * rows + i.
    let copy = (0..rows * cols).map(|v| mat.data[(v % cols) * rows + v / cols]).collect();
    std::borrow::Cow::Owned(copy)
}

/// `dst[i, :] (+)= Σ_l a[i, l] · b[l, :]` for `a` `[m, k]` and `b` `[k, n]`, k ≤ [`MAX`].
fn outer_rows(dst: &mut [f32], accumulate: bool, a: &[f32], b: &[f32], k: usize, n: usize) {
    match k {
        1 => outer_rows_k::<1>(dst, accumulate, a, b, n),
        2 => outer_rows_k::<2>(dst, accumulate, a, b, n),
        3 => outer_rows_k::<3>(dst, accumulate, a, b, n),
        _ => outer_rows_k::<4>(dst, accumulate, a, b, n),
    }
}

simd_fn! {
    /// [`outer_rows`] for `K` ≤ [`MAX`] known at compile time: one pass over each output row,
    /// every element summed over the `K` terms in registers.
    fn outer_rows_k<const K: usize>(dst: &mut [f32], accumulate: bool, a: &[f32], b: &[f32], n: usize) {
        let cols: [&[f32]; K] = std::array::from_fn(|l| &b[l * n..(l + 1) * n]);
        for (row, coefs) in dst.chunks_exact_mut(n).zip(a.chunks_exact(K)) {
            let row = &mut row[..n];
            for j in 0..n {
                let mut v = if accumulate { row[j] } else { 0.0 };
                for l in 0..K {
                    v += coefs[l] * cols[l][j];
                }
                row[j] = v;
            }
        }
    }
}

/// `dst[i, j] (+)= a[i, :] · bt[j, :]` for `a` `[m, k]` and `bt` `[n, k]`, n ≤ [`MAX`].
fn dot_rows(dst: &mut [f32], accumulate: bool, a: &[f32], bt: &[f32], k: usize, n: usize) {
    match n {
        1 => dot_rows_n::<1>(dst, accumulate, a, bt, k),
        2 => dot_rows_n::<2>(dst, accumulate, a, bt, k),
        3 => dot_rows_n::<3>(dst, accumulate, a, bt, k),
        _ => dot_rows_n::<4>(dst, accumulate, a, bt, k),
    }
}

simd_fn! {
    /// [`dot_rows`] for `N` known at compile time: each row of `a` read once for its `N` dot
    /// products ([`dots`]).
    fn dot_rows_n<const N: usize>(dst: &mut [f32], accumulate: bool, a: &[f32], bt: &[f32], k: usize) {
        let cols: [&[f32]; N] = std::array::from_fn(|c| &bt[c * k..(c + 1) * k]);
        for (row, a_row) in dst.chunks_exact_mut(N).zip(a.chunks_exact(k)) {
            let v = dots(a_row, cols);
            for (d, v) in row.iter_mut().zip(v) {
                *d = if accumulate { *d + v } else { v };
            }
        }
    }
}

/// The dot products of `x` with each of the `N` equal-length slices `ys`, each in eight lanes
/// (a fixed order, so the same result at every vector width) and in partial sums of
/// [`BLOCK`] terms.
#[inline(always)]
fn dots<const N: usize>(x: &[f32], ys: [&[f32]; N]) -> [f32; N] {
    let mut total = [0.0f32; N];
    for start in (0..x.len()).step_by(BLOCK) {
        let end = (start + BLOCK).min(x.len());
        let xs = x[start..end].chunks_exact(8);
        let rem = xs.remainder();
        let mut lanes = [[0.0f32; 8]; N];
        // One chunk iterator per slice (indexing them defeats the vectoriser).
        let mut y_chunks: [_; N] = std::array::from_fn(|c| ys[c][start..end].chunks_exact(8));
        for xv in xs {
            for (lane, y_chunk) in lanes.iter_mut().zip(&mut y_chunks) {
                let yv = y_chunk.next().expect("as many chunks as x");
                lane.iter_mut().zip(xv).zip(yv).for_each(|((l, x), y)| *l += x * y);
            }
        }
        for ((t, l), y) in total.iter_mut().zip(lanes).zip(ys) {
            let tail: f32 = rem.iter().zip(&y[end - rem.len()..end]).map(|(a, b)| a * b).sum();
            *t += (((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))) + tail;
        }
    }
    total
}

/// `acc[i, j] += Σ_l u[l, i] · v[l, j]` for `u` `[k, p]` and `v` `[k, q]`, p ≤ [`MAX`].
fn outer_sums(acc: &mut [f32], u: &[f32], v: &[f32], k: usize, p: usize, q: usize) {
    match p {
        1 => outer_sums_p::<1>(acc, u, v, k, q),
        2 => outer_sums_p::<2>(acc, u, v, k, q),
        3 => outer_sums_p::<3>(acc, u, v, k, q),
        _ => outer_sums_p::<4>(acc, u, v, k, q),
    }
}

/// Columns of `v` per register strip in [`outer_sums_p`]: two 8-lane vectors.
const STRIP: usize = 16;

simd_fn! {
    /// [`outer_sums`] for `P` known at compile time: per block of [`BLOCK`] rows, strips of
    /// [`STRIP`] columns of `v` summed in registers (a partial sum, then added to `acc`), then
    /// the remaining columns one at a time the same way.
    fn outer_sums_p<const P: usize>(acc: &mut [f32], u: &[f32], v: &[f32], k: usize, q: usize) {
        for (ub, vb) in u[..k * P].chunks(BLOCK * P).zip(v[..k * q].chunks(BLOCK * q)) {
            let mut j = 0;
            while j + STRIP <= q {
                strip::<P, STRIP>(acc, ub, vb, q, j);
                j += STRIP;
            }
            while j < q {
                strip::<P, 1>(acc, ub, vb, q, j);
                j += 1;
            }
        }
    }
}

/// Columns `j..j + C` of one block of [`outer_sums_p`]'s sums.
#[inline(always)]
fn strip<const P: usize, const C: usize>(acc: &mut [f32], ub: &[f32], vb: &[f32], q: usize, j: usize) {
    let mut part = [[0.0f32; C]; P];
    for (u_row, v_row) in ub.chunks_exact(P).zip(vb.chunks_exact(q)) {
        let w: &[f32; C] = v_row[j..j + C].try_into().expect("C columns");
        for (part_row, &c) in part.iter_mut().zip(u_row) {
            for (d, &w) in part_row.iter_mut().zip(w) {
                *d += c * w;
            }
        }
    }
    for (i, part_row) in part.iter().enumerate() {
        for (a, s) in acc[i * q + j..][..C].iter_mut().zip(part_row) {
            *a += s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::gemm;
    use super::*;

    /// Every shape with sides from 1 to 9 and a long one (at most one long side), every
    /// transpose, both modes, against a naive f64 loop: the skinny cases and the fall-back to
    /// the `gemm` crate agree, and nothing is written past the destination.
    #[test]
    fn skinny_products_match_a_naive_loop() {
        let sizes = [1, 2, 3, 4, 5, 9, 600];
        for &m in &sizes {
            for &n in &sizes {
                for &k in &sizes {
                    if [m, n, k].iter().filter(|&&s| s == 600).count() <= 1 {
                        check(m, n, k);
                    }
                }
            }
        }
    }

    fn check(m: usize, n: usize, k: usize) {
        let a: Vec<f32> = (0..m * k).map(|v| (v as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|v| (v as f32 * 0.11).cos()).collect();
        let want: Vec<f64> =
            (0..m * n).map(|v| (0..k).map(|l| a[(v / n) * k + l] as f64 * b[l * n + v % n] as f64).sum()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a_store: Vec<f32> = if ta { (0..k * m).map(|v| a[(v % m) * k + v / m]).collect() } else { a.clone() };
            let b_store: Vec<f32> = if tb { (0..n * k).map(|v| b[(v % k) * n + v / k]).collect() } else { b.clone() };
            let a_mat = if ta { Mat::new(&a_store, k, m).t() } else { Mat::new(&a_store, m, k) };
            let b_mat = if tb { Mat::new(&b_store, n, k).t() } else { Mat::new(&b_store, k, n) };
            let case = format!("[{m},{k}]·[{k},{n}] transposed {ta},{tb}");
            let mut got = vec![1.0; m * n + 1];
            gemm(&mut got, false, a_mat, b_mat);
            let tol = 1e-4 * (k as f64).sqrt();
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((*g as f64 - w).abs() < tol, "{case} at {i}: {g} vs {w}");
            }
            assert_eq!(got[m * n], 1.0, "{case} wrote past its destination");
            gemm(&mut got, true, a_mat, b_mat);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((*g as f64 - 2.0 * w).abs() < 2.0 * tol, "{case}, accumulating, at {i}: {g} vs {}", 2.0 * w);
            }
        }
    }
}
