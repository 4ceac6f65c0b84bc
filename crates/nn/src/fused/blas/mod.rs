//! Safe matrix products over row-major `f32` slices, on the `gemm` crate dfdx itself uses.
//!
//! This is the only `unsafe` in the workspace: `gemm::gemm` takes raw pointers and strides, and
//! [`Packed`]'s tiles load and store vectors by pointer.
//! [`gemm`] checks every operand's extent against its slice before the call, so a wrong size is
//! a panic with a message, never an out-of-bounds access. `simd_fn!` compiles the kernels'
//! element-wise passes for the vector instructions the CPU has (AVX-512 or AVX2), detected at
//! run time, since the default x86-64 target only assumes SSE2; calling the wider versions is
//! `unsafe` only because the compiler cannot see the detection.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

mod packed;
mod skinny;

pub use packed::Packed;

/// The widest side of a product that is a streaming pass rather than a `gemm` crate call.
pub const NARROW: usize = skinny::MAX;

/// Threads one matrix product may use (1: run on the calling thread).
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Sets how many threads each fused-kernel matrix product may use, process-wide. Products with
/// more than one thread run on the current rayon pool. The sweep sets this once before trials
/// start (see docs/performance.md, "Threads").
pub fn set_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

thread_local! {
    /// Set while this thread runs one block of a split over rows ([`serial`]).
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The current per-product thread count (1 inside [`serial`]).
pub fn threads() -> usize {
    if SERIAL.with(|s| s.get()) {
        1
    } else {
        THREADS.load(Ordering::Relaxed)
    }
}

/// Runs `f` with this thread's products and passes on this thread alone: for the blocks of a
/// split that already runs on every thread.
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the flag even if `f` unwinds.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SERIAL.with(|s| s.replace(true)));
    f()
}

/// The widest vector instructions this CPU has, of those the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Avx512,
    Avx2,
    Baseline,
}

/// Which [`Level`] rnnlab's own kernels run at (element-wise passes and the packed recurrent
/// product): the widest this CPU has, capped by `RNNLAB_SIMD` (`baseline` or `avx2`; read
/// once), which forces the generic code paths on a machine that would not take them (CI runs
/// the kernel tests so). The element-wise passes give the same bits at every level; the
/// recurrent product falls back to the `gemm` crate at `baseline`, which sums in another
/// order, so results differ at the rounding level.
#[inline]
pub fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let detected = detected_level();
        match std::env::var("RNNLAB_SIMD").as_deref() {
            Ok("baseline") => Level::Baseline,
            Ok("avx2") if detected != Level::Baseline => Level::Avx2,
            _ => detected,
        }
    })
}

/// The widest [`Level`] this CPU has (`std` caches the detection).
fn detected_level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512vl") && has!("avx2") && has!("fma") {
            return Level::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// Defines an element-wise function compiled three times (AVX-512, AVX2+FMA, baseline) and
/// dispatched on [`level`] at run time: the default x86-64 target only assumes SSE2, and
/// plain loops over slices vectorise to 16 or 8 lanes instead of 4 when the body is compiled
/// with the wider features. Each element is computed by the same operations in the same order
/// at every level, so results do not depend on the level. Const generic parameters are passed
/// through (`fn f<const K: usize>(…)`).
macro_rules! simd_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident $(<$(const $g:ident: $gt:ty),+>)? ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(unsafe_code)]
        $vis fn $name $(<$(const $g: $gt),+>)? ($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic $(<$(const $g: $gt),+>)? ($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            fn avx512 $(<$(const $g: $gt),+>)? ($($arg: $ty),*) $(-> $ret)? {
                generic $(::<$($g),+>)? ($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2 $(<$(const $g: $gt),+>)? ($($arg: $ty),*) $(-> $ret)? {
                generic $(::<$($g),+>)? ($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            match $crate::fused::blas::level() {
                // SAFETY: `level` detected the features these functions are compiled for.
                $crate::fused::blas::Level::Avx512 => return unsafe { avx512 $(::<$($g),+>)? ($($arg),*) },
                // SAFETY: as above.
                $crate::fused::blas::Level::Avx2 => return unsafe { avx2 $(::<$($g),+>)? ($($arg),*) },
                $crate::fused::blas::Level::Baseline => {}
            }
            generic $(::<$($g),+>)? ($($arg),*)
        }
    };
}
pub(crate) use simd_fn;

/// A row-major matrix `[rows, cols]` in a slice, used as is or transposed.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a> Mat<'a> {
    /// The matrix stored row-major as `[rows, cols]` in `data` (which may be longer).
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "matrix [{rows}, {cols}] needs {} values, slice has {}",
            rows * cols,
            data.len()
        );
        Mat { data, rows, cols, transposed: false }
    }

    /// The transpose, without moving data.
    pub fn t(self) -> Self {
        Mat { transposed: !self.transposed, ..self }
    }

    /// Rows of the logical matrix (after any transpose).
    pub fn rows(&self) -> usize {
        self.shape().0
    }

    /// Columns of the logical matrix (after any transpose).
    pub fn cols(&self) -> usize {
        self.shape().1
    }

    /// Logical shape `[rows, cols]` after any transpose.
    fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// Column and row strides of the logical matrix, in elements.
    fn strides(&self) -> (isize, isize) {
        if self.transposed {
            (self.cols as isize, 1)
        } else {
            (1, self.cols as isize)
        }
    }
}

/// `dst = a · b` (or `dst += a · b` when `accumulate`), `dst` row-major `[m, n]`.
pub fn gemm(dst: &mut [f32], accumulate: bool, a: Mat<'_>, b: Mat<'_>) {
    let (m, k) = a.shape();
    let (k2, n) = b.shape();
    assert_eq!(k, k2, "matrix product: inner sizes differ ([{m}, {k}] · [{k2}, {n}])");
    assert!(dst.len() >= m * n, "matrix product: destination [{m}, {n}] does not fit {} values", dst.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    if skinny::product(dst, accumulate, a, b) {
        return;
    }
    over_bands(&mut dst[..m * n], accumulate, a, b, threads());
}

/// Rows of a band per thread start at multiples of this.
pub const BAND_ROWS: usize = 32;

/// The bands `(first_row, rows)` that `rows` rows are split into for `threads` threads: one
/// per thread, starting at multiples of [`BAND_ROWS`]; a last band of fewer than
/// [`BAND_ROWS`] rows joins the one before it, because the `gemm` crate computes products of
/// at most 16 rows by another path that rounds differently (a row's result would depend on the
/// thread count). `None` (one band on this thread) with one thread or too few rows to be worth
/// a fork.
pub fn row_bands(rows: usize, threads: usize) -> Option<Vec<(usize, usize)>> {
    if threads <= 1 || rows < 2 * BAND_ROWS {
        return None;
    }
    let band = rows.div_ceil(threads).next_multiple_of(BAND_ROWS);
    let mut bands: Vec<(usize, usize)> = (0..rows).step_by(band).map(|f| (f, band.min(rows - f))).collect();
    if let [.., (_, prev), (_, last)] = bands[..] {
        if last < BAND_ROWS {
            bands.pop();
            bands.last_mut().expect("two bands").1 = prev + last;
        }
    }
    Some(bands)
}

/// `dst (+)= a · b` by the `gemm` crate, on `threads` threads of the current rayon pool as
/// bands of `dst`'s rows ([`over_row_bands`]), each band one single-threaded product: one fork
/// per product (the crate's own parallel mode forks inside its loops, many times per product),
/// and every row computed as on one thread.
fn over_bands(dst: &mut [f32], accumulate: bool, a: Mat<'_>, b: Mat<'_>, threads: usize) {
    over_row_bands(dst, b.cols(), threads, |band, dst| crate_gemm(dst, accumulate, a, band, b));
}

/// Runs `band((first, rows), dst_rows)` for each band of the rows of `dst` (rows of `n > 0`
/// values, [`row_bands`]) on `threads` threads of the current rayon pool, or once for all rows
/// on this thread when there is one band.
fn over_row_bands(dst: &mut [f32], n: usize, threads: usize, band: impl Fn((usize, usize), &mut [f32]) + Sync) {
    let rows = dst.len() / n;
    let Some(bands) = row_bands(rows, threads) else {
        return band((0, rows), dst);
    };
    let band = &band;
    rayon::scope(|s| {
        let mut rest = dst;
        for b in bands {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(b.1 * n);
            rest = tail;
            s.spawn(move |_| band(b, head));
        }
    });
}

/// `dst (+)= a[first..first + rows, :] · b` by the `gemm` crate on this thread, `dst`
/// `[rows, n]`.
fn crate_gemm(dst: &mut [f32], accumulate: bool, a: Mat<'_>, (first, rows): (usize, usize), b: Mat<'_>) {
    let (m, k) = a.shape();
    let n = b.cols();
    assert!(first + rows <= m && dst.len() == rows * n, "band {first}+{rows} of [{m}, {n}]");
    let (a_cs, a_rs) = a.strides();
    let (b_cs, b_rs) = b.strides();
    // The band's first element: row `first` of the logical matrix.
    let a_data = &a.data[first * a_rs as usize..];
    // SAFETY: `Mat::new` checked that each operand's slice holds `rows * cols` values; the
    // strides above address exactly that row-major block (or its transpose), of which rows
    // `first..first + rows` start at `a_data` (bounds-checked by the slicing), `dst` holds
    // `rows * n` values addressed with strides (1, n), and `dst` cannot alias `a` or `b` (it is
    // borrowed mutably while they are borrowed shared).
    unsafe {
        gemm::gemm(
            rows,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a_data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive reference product of logical matrices given as closures.
    fn naive(
        m: usize,
        n: usize,
        k: usize,
        a: impl Fn(usize, usize) -> f32,
        b: impl Fn(usize, usize) -> f32,
    ) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|l| a(i, l) * b(l, j)).sum();
            }
        }
        out
    }

    #[test]
    fn products_match_the_naive_loop_for_every_transpose() {
        let (m, n, k) = (5, 3, 7);
        let a: Vec<f32> = (0..m * k).map(|v| (v as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|v| (v as f32 * 0.11).cos()).collect();
        let want = naive(m, n, k, |i, l| a[i * k + l], |l, j| b[l * n + j]);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            // Store each operand so that the (possibly transposed) view is the same logical matrix.
            let a_store: Vec<f32> = if ta { (0..k * m).map(|v| a[(v % m) * k + v / m]).collect() } else { a.clone() };
            let b_store: Vec<f32> = if tb { (0..n * k).map(|v| b[(v % k) * n + v / k]).collect() } else { b.clone() };
            let a_mat = if ta { Mat::new(&a_store, k, m).t() } else { Mat::new(&a_store, m, k) };
            let b_mat = if tb { Mat::new(&b_store, n, k).t() } else { Mat::new(&b_store, k, n) };
            let mut got = vec![1.0; m * n];
            gemm(&mut got, false, a_mat, b_mat);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "transposes {ta},{tb}: {g} vs {w}");
            }
            gemm(&mut got, true, a_mat, b_mat);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - 2.0 * w).abs() < 1e-5, "accumulate {ta},{tb}: {g} vs {}", 2.0 * w);
            }
        }
    }

    /// Products split into bands of rows over threads equal the one-thread product bit for
    /// bit, for every transpose, including the long weight-gradient shapes of a MNIST-row LSTM
    /// and a last band the split leaves small.
    #[test]
    fn banded_products_equal_the_one_thread_product() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for (m, k, n) in [(200, 16, 16), (512, 6912, 128), (7168, 512, 28), (330, 64, 45), (64, 9, 70)] {
            let a: Vec<f32> = (0..m * k).map(|v| (v as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|v| (v as f32 * 0.11).cos()).collect();
            for (ta, tb) in [(false, false), (true, false), (false, true)] {
                let a_mat = if ta { Mat::new(&a, k, m).t() } else { Mat::new(&a, m, k) };
                let b_mat = if tb { Mat::new(&b, n, k).t() } else { Mat::new(&b, k, n) };
                let start: Vec<f32> = (0..m * n).map(|v| (v % 7) as f32).collect();
                let mut one = start.clone();
                over_bands(&mut one, true, a_mat, b_mat, 1);
                for threads in [2, 3] {
                    let mut more = start.clone();
                    pool.install(|| over_bands(&mut more, true, a_mat, b_mat, threads));
                    assert!(one == more, "[{m},{k}]·[{k},{n}] transposed {ta},{tb} on {threads} threads");
                }
            }
        }
        assert_eq!(row_bands(200, 3), Some(vec![(0, 96), (96, 104)]), "a small last band joins the one before");
        assert_eq!(row_bands(63, 2), None);
    }

    #[test]
    #[should_panic(expected = "inner sizes differ")]
    fn mismatched_inner_sizes_panic_before_touching_memory() {
        let a = [0.0f32; 6];
        gemm(&mut [0.0; 4], false, Mat::new(&a, 2, 3), Mat::new(&a, 2, 3));
    }
}
