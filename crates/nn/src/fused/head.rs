//! The linear head and the loss as one fused op: logits by a matrix product, then softmax
//! cross-entropy (or squared error) per row; backward writes the logits' gradient in place and
//! forms the head's and the input's gradients by two products. The training step runs all of
//! it over blocks of rows ([`loss_and_backward`]), so each block of the head's input is read
//! once. Numerically PyTorch's `CrossEntropyLoss` / `MSELoss` (mean over rows / elements).

use dfdx::prelude::*;

use super::act::exp_in_place;
use super::blas::{gemm, Mat};
use super::{add_row_sums, fill_rows, pool};
use crate::batch::RowTargets;
use crate::layer::Head;

/// Head outputs (logits or values) `[R, C]` of the rows `ys` `[R, F]`.
fn logits(ys: &[f32], rows: usize, features: usize, head: Option<(&[f32], &[f32])>) -> Vec<f32> {
    match head {
        Some((w, b)) => {
            let mut out = pool::scratch(rows * b.len());
            fill_rows(&mut out, b);
            gemm(&mut out, true, Mat::new(ys, rows, features), Mat::new(w, b.len(), features).t());
            out
        }
        None => pool::copy(ys),
    }
}

fn head_values(head: Option<&Head<Cpu>>) -> Option<(Vec<f32>, Vec<f32>)> {
    head.map(|h| (pool::of_tensor(&h.weight), pool::of_tensor(&h.bias)))
}

/// Predictions `[R, C]` for the rows `ys` `[R, F]` (no tape).
pub fn logits_of(ys: &[f32], rows: usize, features: usize, head: Option<&Head<Cpu>>) -> Vec<f32> {
    let hv = head_values(head);
    let out = logits(ys, rows, features, hv.as_ref().map(|(w, b)| (&w[..], &b[..])));
    if let Some((w, b)) = hv {
        pool::recycle([w, b]);
    }
    out
}

/// The head's parameters on the host (weight `[C, F]`, bias `[C]`), read once per batch.
pub(super) struct HeadValues(Option<(Vec<f32>, Vec<f32>)>);

impl HeadValues {
    /// From the tail of a flat parameter vector: `head.weight` `[C, F]` then `head.bias` `[C]`
    /// (`None`: no head).
    pub(super) fn of_flat(tail: Option<&[f32]>, features: usize) -> Self {
        HeadValues(tail.map(|t| {
            let classes = t.len() / (features + 1);
            assert_eq!(t.len(), classes * (features + 1), "head parameters do not fit [C, F] + [C]");
            (pool::copy(&t[..classes * features]), pool::copy(&t[classes * features..]))
        }))
    }

    fn slices(&self) -> Option<(&[f32], &[f32])> {
        self.0.as_ref().map(|(w, b)| (&w[..], &b[..]))
    }
}

/// Bytes of a block of head input rows ([`loss_and_backward`]): small enough to stay in cache
/// from the logits to the weight gradient and the rows' gradient.
const BLOCK_BYTES: usize = 128 << 10;

/// The scale of a row's loss gradient: the loss is a mean over the counted rows (and, for
/// values and labels, over each row's outputs); squared error's derivative brings a 2.
fn loss_scale(targets: &RowTargets, rows_counted: f64, width: usize) -> (f64, f32) {
    match targets {
        RowTargets::Classes(_) => (rows_counted, 1.0 / rows_counted as f32),
        RowTargets::Values(_) => {
            let n = rows_counted * width as f64;
            (n, 2.0 / n as f32)
        }
        RowTargets::Labels(_) => {
            let n = rows_counted * width as f64;
            (n, 1.0 / n as f32)
        }
    }
}

/// The summed (unnormalised) loss of the head outputs `z` `[n, C]`, rows `first..first + n` of
/// the batch's, leaving in `z` the loss's gradient before the mean's scale: softmax
/// probabilities minus the one-hot target, or the residuals.
fn loss_rows(z: &mut [f32], width: usize, targets: &RowTargets, first: usize, weights: Option<&[f32]>) -> f64 {
    let n = z.len() / width.max(1);
    let weight = |r: usize| weights.map_or(1.0, |w| w[first + r]);
    let mut total = 0.0f64;
    match targets {
        RowTargets::Classes(labels) => {
            let labels = &labels[first..first + n];
            // Three passes, the exponentials over the whole block so they vectorise:
            // shift each row by its max, exponentiate, then normalise per row.
            for (r, (row, &label)) in z.chunks_exact_mut(width).zip(labels).enumerate() {
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
                row.iter_mut().for_each(|v| *v -= max);
                total -= (weight(r) * row[label as usize]) as f64;
            }
            exp_in_place(z);
            for (r, (row, &label)) in z.chunks_exact_mut(width).zip(labels).enumerate() {
                let sum: f32 = row.iter().sum();
                let w = weight(r);
                total += (w * sum.ln()) as f64;
                let inv = w / sum;
                row.iter_mut().for_each(|v| *v *= inv);
                row[label as usize] -= w;
            }
        }
        RowTargets::Values(values) => {
            let values = &values[first * width..(first + n) * width];
            for (r, (row, target)) in z.chunks_exact_mut(width).zip(values.chunks_exact(width)).enumerate() {
                let w = weight(r);
                for (v, t) in row.iter_mut().zip(target) {
                    *v = (*v - t) * w;
                    total += (*v as f64) * (*v as f64);
                }
            }
        }
        RowTargets::Labels(labels) => {
            let labels = &labels[first * width..(first + n) * width];
            for (r, (row, target)) in z.chunks_exact_mut(width).zip(labels.chunks_exact(width)).enumerate() {
                let w = weight(r);
                for (v, &t) in row.iter_mut().zip(target) {
                    let x = *v;
                    // max(x, 0) − x·t + ln(1 + e^−|x|), and its gradient σ(x) − t.
                    total += (w * (x.max(0.0) - x * t + (-x.abs()).exp().ln_1p())) as f64;
                    *v = w * (1.0 / (1.0 + (-x).exp()) - t);
                }
            }
        }
    }
    total
}

/// Checks that `targets` fit `rows` rows of `width` outputs.
fn check_targets(targets: &RowTargets, rows: usize, width: usize) {
    match targets {
        RowTargets::Classes(labels) => assert_eq!(labels.len(), rows, "one class per row"),
        RowTargets::Values(values) => assert_eq!(values.len(), rows * width, "one target value per output"),
        RowTargets::Labels(labels) => assert_eq!(labels.len(), rows * width, "one label per output"),
    }
}

/// The mean loss of the rows `ys` `[R, F]` through `head`, over the rows whose `weights` are 1
/// (all rows without weights), and the gradient of that loss with respect to the head's
/// outputs `[R, C]`.
pub(super) fn loss_forward(
    ys: &[f32],
    rows: usize,
    features: usize,
    head: &HeadValues,
    targets: RowTargets,
    weights: Option<&[f32]>,
) -> (f64, Vec<f32>) {
    let mut z = logits(ys, rows, features, head.slices());
    let width = z.len() / rows.max(1);
    check_targets(&targets, rows, width);
    let rows_counted: f64 = weights.map_or(rows as f64, |w| w.iter().map(|&v| v as f64).sum());
    let (count, scale) = loss_scale(&targets, rows_counted, width);
    let total = loss_rows(&mut z, width, &targets, 0, weights);
    // The loss's own gradient is 1: scale once here.
    z.iter_mut().for_each(|v| *v *= scale);
    (total / count, z)
}

/// The training step's head: the mean loss of the rows `ys` `[R, F]` (as [`loss_forward`]),
/// the gradient of the rows `[R, F]` and the head's gradients (as [`head_backward`]), in one
/// pass over blocks of rows, so each block of `ys` is read from memory once for its logits and
/// its weight gradient. With `rows_grad = false` (and a head) it returns the gradient of the
/// head's outputs `dz` `[R, C]` instead of the rows', for the layer below to form each step's
/// `dz · W` when it needs it ([`super::OutputGrad::Head`]).
pub(super) fn loss_and_backward(
    ys: &[f32],
    rows: usize,
    features: usize,
    head: HeadValues,
    targets: RowTargets,
    weights: Option<&[f32]>,
    rows_grad: bool,
) -> (f64, Vec<f32>, Option<HeadGrads>) {
    let Some((w, b)) = head.0.as_ref() else {
        let (loss, dz) = loss_forward(ys, rows, features, &head, targets, weights);
        let (dys, grads) = head_backward(dz, ys, rows, features, head);
        return (loss, dys, grads);
    };
    let classes = b.len();
    check_targets(&targets, rows, classes);
    let rows_counted: f64 = weights.map_or(rows as f64, |w| w.iter().map(|&v| v as f64).sum());
    let (count, scale) = loss_scale(&targets, rows_counted, classes);
    let block = (BLOCK_BYTES / (4 * features.max(1))).max(16);
    let (mut dw, mut db) = (vec![0.0; w.len()], vec![0.0; classes]);
    let mut dys = pool::scratch(rows * if rows_grad { features } else { classes });
    let mut total = 0.0f64;
    for first in (0..rows).step_by(block) {
        let n = block.min(rows - first);
        let x = &ys[first * features..(first + n) * features];
        let mut z = logits(x, n, features, Some((w, b)));
        total += loss_rows(&mut z, classes, &targets, first, weights);
        z.iter_mut().for_each(|v| *v *= scale);
        gemm(&mut dw, true, Mat::new(&z, n, classes).t(), Mat::new(x, n, features));
        add_row_sums(&mut db, &z);
        if rows_grad {
            let dx = &mut dys[first * features..(first + n) * features];
            gemm(dx, false, Mat::new(&z, n, classes), Mat::new(w, classes, features));
        } else {
            dys[first * classes..(first + n) * classes].copy_from_slice(&z);
        }
        pool::recycle([z]);
    }
    if let Some((w, b)) = head.0 {
        pool::recycle([w, b]);
    }
    (total / count, dys, Some((dw, db)))
}

/// The head's `(weight, bias)` gradients.
pub(super) type HeadGrads = (Vec<f32>, Vec<f32>);

/// Backward through the head from the outputs' gradient `dz` `[R, C]`: the gradient of the
/// rows `ys` `[R, F]`, and the head's `(weight, bias)` gradients (none without a head).
pub(super) fn head_backward(
    dz: Vec<f32>,
    ys: &[f32],
    rows: usize,
    features: usize,
    head: HeadValues,
) -> (Vec<f32>, Option<HeadGrads>) {
    match head.0 {
        Some((w, b)) => {
            let classes = b.len();
            let mut dw = vec![0.0; w.len()];
            gemm(&mut dw, false, Mat::new(&dz, rows, classes).t(), Mat::new(ys, rows, features));
            let mut db = vec![0.0; classes];
            add_row_sums(&mut db, &dz);
            let mut dys = pool::scratch(rows * features);
            gemm(&mut dys, false, Mat::new(&dz, rows, classes), Mat::new(&w, classes, features));
            pool::recycle([w, b, dz]);
            (dys, Some((dw, db)))
        }
        None => (dz, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// The blocked training pass equals the whole-batch loss and backward, for every kind of
    /// target, with row weights, over rows spanning many blocks.
    #[test]
    fn blocked_pass_equals_the_whole_batch_one() {
        let mut rng = StdRng::seed_from_u64(3);
        let (rows, features, classes) = (1000, 256, 3);
        let block = BLOCK_BYTES / (4 * features);
        assert!(rows > 5 * block, "the test spans several blocks");
        let ys: Vec<f32> = (0..rows * features).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let w: Vec<f32> = (0..classes * features).map(|_| rng.gen_range(-0.2..0.2)).collect();
        let b: Vec<f32> = (0..classes).map(|_| rng.gen_range(-0.5..0.5)).collect();
        let weights: Vec<f32> = (0..rows).map(|r| (r % 7 != 0) as u8 as f32).collect();
        let targets = [
            RowTargets::Classes((0..rows).map(|_| rng.gen_range(0..classes as u32)).collect()),
            RowTargets::Values((0..rows * classes).map(|_| rng.gen_range(-1.0..1.0)).collect()),
            RowTargets::Labels((0..rows * classes).map(|_| rng.gen_range(0..2) as f32).collect()),
        ];
        let head = || HeadValues(Some((w.clone(), b.clone())));
        for t in targets {
            let (loss, dz) = loss_forward(&ys, rows, features, &head(), t.clone(), Some(&weights));
            let (dys, grads) = head_backward(dz, &ys, rows, features, head());
            let (loss2, dys2, grads2) = loss_and_backward(&ys, rows, features, head(), t.clone(), Some(&weights), true);
            let (loss3, dz3, grads3) = loss_and_backward(&ys, rows, features, head(), t, Some(&weights), false);
            assert_eq!((loss2, &grads2), (loss3, &grads3), "the rows' gradient does not change the rest");
            let mut dys3 = vec![0.0; rows * features];
            gemm(&mut dys3, false, Mat::new(&dz3, rows, classes), Mat::new(&w, classes, features));
            assert_eq!(dys2, dys3, "dz · W is the rows' gradient");
            // Summed in f64 in another order (block by block).
            assert!((loss - loss2).abs() <= 1e-12 * loss.abs(), "loss {loss} vs {loss2}");
            assert_eq!(dys, dys2, "each row's gradient does not depend on its block");
            let ((dw, db), (dw2, db2)) = (grads.unwrap(), grads2.unwrap());
            for (x, y) in dw.iter().chain(&db).zip(dw2.iter().chain(&db2)) {
                assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "head gradient {x} vs {y}");
            }
        }
    }
}
