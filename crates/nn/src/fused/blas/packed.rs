//! Products `a · b` where `b` is the same for many `a`: the weights a recurrent layer applies at
//! every step of a pass (`W_hh`, a wide input's `W_ih`, a projection's `W_hr`).
//!
//! The `gemm` crate repacks its weight operand on every call, so a 128-unit LSTM repacked its
//! 256 KB `W_hh` at every step of the forward and the backward pass, on each thread that ran a
//! block of rows (8–9% of a 2-thread MNIST-row step). [`Packed`] packs `b` once per pass into
//! panels of [`NR`] columns (`[k, NR]` each, the last zero-padded) that every step and every
//! thread reads; [`Packed::product`] runs tiles of [`MR`] rows × [`NR`] columns over them, the
//! rows of `a` read in place (one or two rows, a batch of one, run several panels at once,
//! [`few_rows`]).
//!
//! Every output is `Σ_l a[i, l] · b[l, j]` accumulated from zero in the order of `l` by fused
//! multiply-adds, then added to `dst` when accumulating: the same operations whatever rows
//! surround it (the tests check the tiles against a scalar loop in that order, bit for bit), so
//! splitting a product by rows (threads) does not change it. A CPU without AVX2 and FMA uses
//! the `gemm` crate instead.

use super::{skinny, Mat};

/// Columns per panel: two 8-lane vectors.
const NR: usize = 16;

/// Rows per tile: 6 × 2 accumulators leave registers for the two panel vectors and a row value.
const MR: usize = 6;

/// A right-hand side `[k, n]` packed for [`Packed::product`].
#[derive(Debug)]
pub struct Packed<'a> {
    /// The matrix itself: a product with a side of at most [`skinny::MAX`] is a streaming pass
    /// over it instead.
    b: Mat<'a>,
    /// `⌈n / NR⌉` panels of `[k, NR]` (empty when `b` is used as is).
    panels: Vec<f32>,
}

impl<'a> Packed<'a> {
    /// Packs `b` (unless a product with it is a streaming pass, `skinny.rs`).
    pub fn new(b: Mat<'a>) -> Self {
        let (k, n) = b.shape();
        if k <= skinny::MAX || n <= skinny::MAX {
            return Packed { b, panels: Vec::new() };
        }
        let (cs, rs) = b.strides();
        let (cs, rs) = (cs as usize, rs as usize);
        let mut panels = vec![0.0; n.div_ceil(NR) * k * NR];
        for (p, panel) in panels.chunks_exact_mut(k * NR).enumerate() {
            let (first, cols) = (p * NR, NR.min(n - p * NR));
            if cs == 1 {
                // Stored row-major: each panel row is a slice of a stored row.
                for (l, row) in panel.chunks_exact_mut(NR).enumerate() {
                    row[..cols].copy_from_slice(&b.data[l * rs + first..][..cols]);
                }
            } else {
                // Stored transposed: each panel column is a stored row, read in order.
                for c in 0..cols {
                    let src = &b.data[(first + c) * cs..][..k];
                    for (row, &v) in panel.chunks_exact_mut(NR).zip(src) {
                        row[c] = v;
                    }
                }
            }
        }
        Packed { b, panels }
    }

    /// Rows of `b` (the inner size of a product).
    pub fn rows(&self) -> usize {
        self.b.rows()
    }

    /// Columns of `b` (of a product's rows).
    pub fn cols(&self) -> usize {
        self.b.cols()
    }

    /// `dst (+)= a · b`, `dst` row-major `[m, n]`, with `a` `[m, k]` stored row-major.
    pub fn product(&self, dst: &mut [f32], accumulate: bool, a: Mat<'_>) {
        if self.panels.is_empty() || a.transposed {
            return super::gemm(dst, accumulate, a, self.b);
        }
        let (m, k) = a.shape();
        let n = self.b.cols();
        assert_eq!(k, self.b.rows(), "matrix product: inner sizes differ ([{m}, {k}] · [{}, {n}])", self.b.rows());
        self.product_on(&mut dst[..m * n], accumulate, &a.data[..m * k], super::threads());
    }

    /// [`Self::product`] of the rows `a` (`[m, k]`) on `threads` threads of the current rayon
    /// pool, as bands of rows ([`super::row_bands`]).
    fn product_on(&self, dst: &mut [f32], accumulate: bool, a: &[f32], threads: usize) {
        let (k, n) = self.b.shape();
        super::over_row_bands(dst, n, threads, |(first, rows), dst| {
            self.rows_on_this_thread(dst, accumulate, &a[first * k..(first + rows) * k]);
        });
    }

    /// [`Self::product`] of the rows `a` (`[m, k]`, exactly) into `dst` (`[m, n]`, exactly);
    /// by the `gemm` crate on a CPU without AVX2 and FMA (where `f32::mul_add` would be a
    /// library call per term).
    fn rows_on_this_thread(&self, dst: &mut [f32], accumulate: bool, a: &[f32]) {
        let (k, n) = self.b.shape();
        #[cfg(target_arch = "x86_64")]
        if super::level() != super::Level::Baseline {
            // SAFETY: `level` detected AVX2 and FMA.
            return unsafe { tiles_avx2(dst, accumulate, a, &self.panels, k, n) };
        }
        let rows = a.len() / k;
        super::crate_gemm(dst, accumulate, Mat::new(a, rows, k), (0, rows), self.b);
    }
}

/// The reference for [`tiles_avx2`]: every element by the same operations in the same order.
#[cfg(test)]
fn tiles_scalar(dst: &mut [f32], accumulate: bool, a: &[f32], panels: &[f32], k: usize, n: usize) {
    for (row, a_row) in dst.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
        for (j, d) in row.iter_mut().enumerate() {
            let panel = &panels[(j / NR) * k * NR..][..k * NR];
            let v = a_row.iter().zip(panel.chunks_exact(NR)).fold(0.0f32, |acc, (x, b)| x.mul_add(b[j % NR], acc));
            *d = if accumulate { *d + v } else { v };
        }
    }
}

/// Bytes of `a` a block of rows may span, so that it stays in the L2 cache while every panel
/// runs over it (a 4096-row batch is 1 MB and would stream from L3 once per panel).
const BLOCK_BYTES: usize = 96 * 1024;

/// `dst (+)= a · b` by blocks of rows of `a` ([`BLOCK_BYTES`]), in each every panel and every
/// tile of [`MR`] rows (the last one shorter).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tiles_avx2(dst: &mut [f32], accumulate: bool, a: &[f32], panels: &[f32], k: usize, n: usize) {
    let m = a.len() / k;
    assert!(a.len() == m * k && dst.len() == m * n && panels.len() == n.div_ceil(NR) * k * NR, "packed product sizes");
    // One row (a batch of one): four full panels at a time; two rows: two ([`few_rows`]).
    let step = if m == 1 { 4 } else { 2 };
    let wide = if m <= 2 { n / NR / step * step } else { 0 };
    for p in (0..wide).step_by(step) {
        let panels = &panels[p * k * NR..(p + step) * k * NR];
        match m {
            1 => few_rows::<1, 8>(dst, accumulate, a, panels, k, n, p * NR),
            _ => few_rows::<2, 4>(dst, accumulate, a, panels, k, n, p * NR),
        }
    }
    let block = (BLOCK_BYTES / 4 / k).max(MR) / MR * MR;
    for start in (0..m).step_by(block) {
        let end = (start + block).min(m);
        for (p, panel) in panels.chunks_exact(k * NR).enumerate().skip(wide) {
            let mut tile = Tile { dst: &mut *dst, accumulate, a, panel, k, n, col: p * NR, width: NR.min(n - p * NR) };
            // A last panel of at most 8 columns runs one vector per row, not two.
            if tile.width <= NR / 2 {
                tile.rows::<1>(start, end);
            } else {
                tile.rows::<2>(start, end);
            }
        }
    }
}

/// All `R` ≤ 2 rows of `a` against the `V / 2` full panels `panels`, whose first column is
/// `col`: `V` vectors of sums per row, so that one or two rows have enough independent chains
/// of fused multiply-adds to keep both FMA units busy (a [`Tile`] of one row has two, and waits
/// on their latency). Each sum runs in the same order as in a [`Tile`].
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
fn few_rows<const R: usize, const V: usize>(
    dst: &mut [f32],
    accumulate: bool,
    a: &[f32],
    panels: &[f32],
    k: usize,
    n: usize,
    col: usize,
) {
    use std::arch::x86_64::*;
    assert!(a.len() == R * k && dst.len() == R * n && panels.len() == V / 2 * k * NR && col + V / 2 * NR <= n);
    let mut acc = [[_mm256_setzero_ps(); V]; R];
    let (a, b) = (a.as_ptr(), panels.as_ptr());
    for l in 0..k {
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: the assert above: `a` holds R rows of `k`.
            let x = _mm256_set1_ps(unsafe { *a.add(r * k + l) });
            for (v, acc) in acc.iter_mut().enumerate() {
                // SAFETY: the assert above: panel `v / 2` holds `k` rows of NR values.
                let bv = unsafe { _mm256_loadu_ps(b.add((v / 2) * k * NR + l * NR + (v % 2) * 8)) };
                *acc = _mm256_fmadd_ps(x, bv, *acc);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let row = &mut dst[r * n + col..r * n + col + V / 2 * NR];
        for (out, &acc) in row.chunks_exact_mut(8).zip(acc) {
            // SAFETY: `out` holds 8 values.
            unsafe {
                let sum = if accumulate { _mm256_add_ps(_mm256_loadu_ps(out.as_ptr()), acc) } else { acc };
                _mm256_storeu_ps(out.as_mut_ptr(), sum);
            }
        }
    }
}

/// One panel's share of [`tiles_avx2`]: the columns `col..col + width` of `dst`.
#[cfg(target_arch = "x86_64")]
struct Tile<'d, 'a> {
    dst: &'d mut [f32],
    accumulate: bool,
    a: &'a [f32],
    panel: &'a [f32],
    k: usize,
    n: usize,
    col: usize,
    width: usize,
}

#[cfg(target_arch = "x86_64")]
impl Tile<'_, '_> {
    /// Rows `start..end` of the panel's columns, by tiles of [`MR`] rows × `V` vectors.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn rows<const V: usize>(&mut self, start: usize, end: usize) {
        let mut first = start;
        while first < end {
            let rows = MR.min(end - first);
            match rows {
                6 => self.run::<6, V>(first),
                5 => self.run::<5, V>(first),
                4 => self.run::<4, V>(first),
                3 => self.run::<3, V>(first),
                2 => self.run::<2, V>(first),
                _ => self.run::<1, V>(first),
            }
            first += rows;
        }
    }

    /// Rows `first..first + R` of the panel's first `8V` columns: `R·V` accumulators summed
    /// over `k`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn run<const R: usize, const V: usize>(&mut self, first: usize) {
        use std::arch::x86_64::*;
        let (k, n) = (self.k, self.n);
        assert!((first + R) * k <= self.a.len() && (first + R - 1) * n + self.col + self.width <= self.dst.len());
        assert!(self.panel.len() == k * NR && self.width <= 8 * V && V <= 2);
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        let a = self.a[first * k..].as_ptr();
        let b = self.panel.as_ptr();
        for l in 0..k {
            // SAFETY: the asserts above: panel rows `l < k` hold NR ≥ 8V values, and rows
            // `first..first + R` of `a` hold `k` values each.
            let bv: [__m256; V] = std::array::from_fn(|v| unsafe { _mm256_loadu_ps(b.add(l * NR + 8 * v)) });
            for (r, acc) in acc.iter_mut().enumerate() {
                // SAFETY: as above.
                let x = _mm256_set1_ps(unsafe { *a.add(r * k + l) });
                for (acc, bv) in acc.iter_mut().zip(bv) {
                    *acc = _mm256_fmadd_ps(x, bv, *acc);
                }
            }
        }
        let out = self.dst.as_mut_ptr();
        for (r, acc) in acc.iter().enumerate() {
            let at = (first + r) * n + self.col;
            if self.width == 8 * V {
                for (v, &acc) in acc.iter().enumerate() {
                    // SAFETY: the assert above: `at + 8V` is within `dst`, which `self` borrows
                    // mutably (the pointer is derived from that borrow).
                    unsafe {
                        let to = out.add(at + 8 * v);
                        let sum = if self.accumulate { _mm256_add_ps(_mm256_loadu_ps(to), acc) } else { acc };
                        _mm256_storeu_ps(to, sum);
                    }
                }
                continue;
            }
            let mut vals = [0.0f32; NR];
            for (v, &acc) in acc.iter().enumerate() {
                // SAFETY: `vals` holds NR ≥ 8V values.
                unsafe { _mm256_storeu_ps(vals.as_mut_ptr().add(8 * v), acc) };
            }
            for (d, v) in self.dst[at..at + self.width].iter_mut().zip(vals) {
                *d = if self.accumulate { *d + v } else { v };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len).map(|v| ((v as f32 + seed) * 0.37).sin()).collect()
    }

    /// The AVX2 tiles equal the scalar order bit for bit, and both equal the naive product to
    /// rounding, over shapes with partial panels and partial tiles, both layouts of `b`, and
    /// with and without accumulating; bands over threads change nothing.
    #[test]
    fn packed_products_match_the_scalar_order_and_the_naive_product() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for (m, k, n) in [
            (1, 5, 5),
            (7, 128, 512),
            (13, 28, 40),
            (64, 512, 128),
            (200, 33, 17),
            (30, 24, 24),
            (9, 7, 8),
            (1, 37, 150),
            (2, 20, 64),
            (1, 9, 70),
        ] {
            let a = values(m * k, 1.0);
            let b = values(k * n, 2.0);
            for tb in [false, true] {
                let b_store: Vec<f32> =
                    if tb { (0..n * k).map(|v| b[(v % k) * n + v / k]).collect() } else { b.clone() };
                let b_mat = if tb { Mat::new(&b_store, n, k).t() } else { Mat::new(&b_store, k, n) };
                let packed = Packed::new(b_mat);
                for accumulate in [false, true] {
                    let start = values(m * n, 3.0);
                    let mut got = start.clone();
                    packed.product(&mut got, accumulate, Mat::new(&a, m, k));
                    let mut scalar = start.clone();
                    tiles_scalar(&mut scalar, accumulate, &a, &packed.panels, k, n);
                    let tiles = super::super::level() != super::super::Level::Baseline;
                    assert!(
                        !tiles || got == scalar,
                        "[{m},{k}]·[{k},{n}] transposed {tb}: AVX2 and scalar orders differ"
                    );
                    for threads in [2, 3] {
                        let mut banded = start.clone();
                        pool.install(|| packed.product_on(&mut banded, accumulate, &a, threads));
                        assert!(got == banded, "[{m},{k}]·[{k},{n}] on {threads} threads");
                    }
                    for i in 0..m {
                        for j in 0..n {
                            let want: f32 = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum::<f32>()
                                + if accumulate { start[i * n + j] } else { 0.0 };
                            let g = got[i * n + j];
                            assert!(
                                (g - want).abs() < 1e-4 * (1.0 + want.abs()),
                                "({i},{j}) of [{m},{k}]·[{k},{n}]: {g} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
