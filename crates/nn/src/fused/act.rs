//! Branch-free `tanh`, `sigmoid` and `exp` that the compiler vectorises, within 1e-6 relative
//! error of the exact functions (tested below against `f64`).

use super::blas::simd_fn;

/// `tanh`, Eigen's rational approximation (`generic_fast_tanh_float`): odd 13/6 polynomial
/// ratio on `[-7.9, 7.9]` (clamped to it, then exactly `±1` where `f32`'s `tanh` is). The
/// polynomials use fused multiply-adds (one instruction each with FMA, which the kernels'
/// vector levels have).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_7e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    let tiny = x.abs() < 4e-4;
    // `tanh` rounds to ±1 in f32 from |x| ≈ 9.02 on; the ratio at the clamp is 1 − 2.4e-7.
    let saturated = x.abs() >= 9.1;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = x2.mul_add(A13, A11);
    p = x2.mul_add(p, A9);
    p = x2.mul_add(p, A7);
    p = x2.mul_add(p, A5);
    p = x2.mul_add(p, A3);
    p = x2.mul_add(p, A1);
    let p = x * p;
    let mut q = x2.mul_add(B6, B4);
    q = x2.mul_add(q, B2);
    q = x2.mul_add(q, B0);
    if tiny {
        x
    } else if saturated {
        1.0f32.copysign(x)
    } else {
        p / q
    }
}

/// `exp`, Cephes' `expf`: `2^n · p(r)` with `r` in `[-ln2/2, ln2/2]`; inputs clamped to
/// `[-87.3, 88.7]` (the normal `f32` range). Fused multiply-adds, as in [`tanh`].
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.7);
    let shifted = x.mul_add(LOG2E, MAGIC);
    let n = shifted - MAGIC;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let e = (p * r).mul_add(r, r) + 1.0;
    let k = (shifted.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    e * f32::from_bits(((k + 127) as u32) << 23)
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Applies `f` to every element (a plain loop the compiler vectorises once `f` is inlined).
#[inline(always)]
pub fn map_in_place(xs: &mut [f32], f: impl Fn(f32) -> f32) {
    for x in xs {
        *x = f(*x);
    }
}

simd_fn! {
    /// `tanh` of every element, in place, at the CPU's vector width (the kernels inline `tanh`
    /// into their own passes; this checks that its wide build equals the scalar one).
    #[cfg(test)]
    pub fn tanh_in_place(xs: &mut [f32]) {
        map_in_place(xs, tanh)
    }
}

simd_fn! {
    /// `max(x, 0)` of every element, in place, at the CPU's vector width (tests, as above).
    #[cfg(test)]
    pub fn relu_in_place(xs: &mut [f32]) {
        map_in_place(xs, |x| x.max(0.0))
    }
}

simd_fn! {
    /// `exp` of every element, in place, at the CPU's vector width.
    pub fn exp_in_place(xs: &mut [f32]) {
        map_in_place(xs, exp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest relative error of `f` against `exact` over `n` points of `[lo, hi]`, ignoring
    /// points whose exact value is below `floor` in magnitude (compared absolutely there).
    fn worst(f: fn(f32) -> f32, exact: fn(f64) -> f64, lo: f32, hi: f32) -> (f64, f32) {
        let n = 2_000_000;
        let mut worst = (0.0f64, 0.0f32);
        for i in 0..=n {
            let x = lo + (hi - lo) * i as f32 / n as f32;
            let want = exact(x as f64);
            let err = if want.abs() > 1e-30 { ((f(x) as f64 - want) / want).abs() } else { 0.0 };
            if err > worst.0 {
                worst = (err, x);
            }
        }
        worst
    }

    #[test]
    fn wide_in_place_versions_equal_the_scalar_functions_bit_for_bit() {
        let xs: Vec<f32> = (0..1003).map(|i| (i as f32 - 501.0) * 0.037).collect();
        for (wide, scalar) in [
            (tanh_in_place as fn(&mut [f32]), tanh as fn(f32) -> f32),
            (exp_in_place, exp),
            (relu_in_place, |x: f32| x.max(0.0)),
        ] {
            let mut got = xs.clone();
            wide(&mut got);
            for (g, &x) in got.iter().zip(&xs) {
                assert_eq!(g.to_bits(), scalar(x).to_bits(), "at {x}");
            }
        }
    }

    #[test]
    fn tanh_is_within_1e6_relative_everywhere() {
        let (err, at) = worst(tanh, f64::tanh, -12.0, 12.0);
        assert!(err < 1e-6, "tanh relative error {err:e} at {at}");
        let (err, at) = worst(tanh, f64::tanh, -1e-3, 1e-3);
        assert!(err < 1e-6, "tanh relative error {err:e} at {at} (near 0)");
        assert_eq!(tanh(100.0), 1.0);
        assert_eq!(tanh(-100.0), -1.0);
    }

    #[test]
    fn sigmoid_and_exp_are_within_1e6_relative() {
        let (err, at) = worst(sigmoid, |x| 1.0 / (1.0 + (-x).exp()), -80.0, 80.0);
        assert!(err < 1e-6, "sigmoid relative error {err:e} at {at}");
        let (err, at) = worst(exp, f64::exp, -80.0, 80.0);
        assert!(err < 1e-6, "exp relative error {err:e} at {at}");
        assert_eq!(sigmoid(200.0), 1.0);
        assert!(sigmoid(-200.0) < 1e-37);
    }
}
