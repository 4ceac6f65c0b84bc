//! The one way this crate handles dfdx's tape.
//!
//! dfdx records backward ops on the tape of an op's left operand and merges tapes in binary
//! ops; a tensor used twice needs its tape split off first.
//! We sidestep every trap with one rule: stored tensors never carry a tape. Each use takes a
//! fresh empty tape (`use_`), and every result's tape is moved into one accumulator (`keep`)
//! that is merged into the loss before `backward()`. Gradients accumulate by tensor id, so a
//! tensor used at many steps gets the sum of its gradients.

use dfdx::prelude::*;

/// A tape-free copy of `t` that records ops on a fresh tape of type `T`.
pub fn use_<S: Shape, D: Device<f32>, T: Tape<f32, D>>(t: &Tensor<S, f32, D>) -> Tensor<S, f32, D, T> {
    t.retaped::<T>()
}

/// Moves `t`'s tape into `acc` and returns the tape-free tensor.
pub fn keep<S: Shape, D: Device<f32>, T: Tape<f32, D>>(t: Tensor<S, f32, D, T>, acc: &mut T) -> Tensor<S, f32, D> {
    let (t, tape) = t.split_tape();
    *acc = std::mem::take(acc).merge(tape);
    t
}

/// `x · wᵀ + b` for a batch `x` [B, In], weight `w` [Out, In] and bias `b` [Out] (PyTorch layout).
pub fn affine<B: Dim, In: Dim, Out: Dim, D: Device<f32>, T: Tape<f32, D> + Merge<T>>(
    x: &Tensor<(B, In), f32, D>,
    w: &Tensor<(Out, In), f32, D>,
    b: &Tensor<(Out,), f32, D>,
) -> Tensor<(B, Out), f32, D, T> {
    let xw = matmul_t::<B, In, Out, D, T>(x, w);
    let shape = *xw.shape();
    xw + use_::<_, D, T>(b).broadcast_like::<_, Axis<0>>(&shape)
}

/// `x · wᵀ` for `x` [B, In] and `w` [Out, In].
pub fn matmul_t<B: Dim, In: Dim, Out: Dim, D: Device<f32>, T: Tape<f32, D> + Merge<T>>(
    x: &Tensor<(B, In), f32, D>,
    w: &Tensor<(Out, In), f32, D>,
) -> Tensor<(B, Out), f32, D, T> {
    use_::<_, D, T>(x).matmul(use_::<_, D, T>(w).permute::<(In, Out), Axes2<1, 0>>())
}
