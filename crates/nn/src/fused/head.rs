//! The linear head and the loss as one fused op over all rows at once: logits by one matrix
//! product, then softmax cross-entropy (or squared error) per row; backward writes the logits'
//! gradient in place and forms the head's and the input's gradients by two products.
//! Numerically PyTorch's `CrossEntropyLoss` / `MSELoss` (mean over rows / elements).

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
    // Leaves in `z` what the backward pass scales: softmax probabilities minus the one-hot
    // target, or the residuals.
    let weight = |r: usize| weights.map_or(1.0, |w| w[r]);
    let rows_counted: f64 = weights.map_or(rows as f64, |w| w.iter().map(|&v| v as f64).sum());
    let (total, scale) = match &targets {
        RowTargets::Classes(labels) => {
            assert_eq!(labels.len(), rows, "one class per row");
            // Three passes, the exponentials over the whole buffer so they vectorise:
            // shift each row by its max, exponentiate, then normalise per row.
            let mut total = 0.0f64;
            for (r, (row, &label)) in z.chunks_exact_mut(width).zip(labels).enumerate() {
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
                row.iter_mut().for_each(|v| *v -= max);
                total -= (weight(r) * row[label as usize]) as f64;
            }
            exp_in_place(&mut z);
            for (r, (row, &label)) in z.chunks_exact_mut(width).zip(labels).enumerate() {
                let sum: f32 = row.iter().sum();
                let w = weight(r);
                total += (w * sum.ln()) as f64;
                let inv = w / sum;
                row.iter_mut().for_each(|v| *v *= inv);
                row[label as usize] -= w;
            }
            (total / rows_counted, 1.0 / rows_counted as f32)
        }
        RowTargets::Values(values) => {
            assert_eq!(values.len(), z.len(), "one target value per output");
            let mut total = 0.0f64;
            for (r, (row, target)) in z.chunks_exact_mut(width).zip(values.chunks_exact(width)).enumerate() {
                let w = weight(r);
                for (v, t) in row.iter_mut().zip(target) {
                    *v = (*v - t) * w;
                    total += (*v as f64) * (*v as f64);
                }
            }
            let n = rows_counted * width as f64;
            (total / n, 2.0 / n as f32)
        }
        RowTargets::Labels(labels) => {
            assert_eq!(labels.len(), z.len(), "one label per output");
            let mut total = 0.0f64;
            for (r, (row, target)) in z.chunks_exact_mut(width).zip(labels.chunks_exact(width)).enumerate() {
                let w = weight(r);
                for (v, &t) in row.iter_mut().zip(target) {
                    let x = *v;
                    // max(x, 0) − x·t + ln(1 + e^−|x|), and its gradient σ(x) − t.
                    total += (w * (x.max(0.0) - x * t + (-x.abs()).exp().ln_1p())) as f64;
                    *v = w * (1.0 / (1.0 + (-x).exp()) - t);
                }
            }
            let n = rows_counted * width as f64;
            (total / n, 1.0 / n as f32)
        }
    };
    // The loss's own gradient is 1: scale once here.
    z.iter_mut().for_each(|v| *v *= scale);
    (total, z)
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
