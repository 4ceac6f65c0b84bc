//! Dropout in training: PyTorch's inverted dropout (a kept value is scaled by 1/(1-p), so
//! evaluation, which drops nothing, needs no rescaling), on the outputs of every layer but the
//! top one (`[model] dropout`, as `nn.LSTM(dropout=p)`) and on the head's input
//! (`[model] head_dropout`, as an `nn.Dropout` before the `nn.Linear`).
//!
//! A step's masks are drawn by the caller ([`Masks::sample`], from the trial's own dropout
//! generator) and applied by both kernels the same way, as one element-wise product each, so
//! the fused and the reference path compute the same function for the same masks and tests
//! can hand in PyTorch's.

use dfdx::prelude::*;
use rand::Rng;

use crate::tape::{keep, use_};

/// The dropout masks of one training step, time-major like the rows they multiply.
#[derive(Debug, Clone, PartialEq)]
pub struct Masks {
    /// For the outputs of layer l (every layer but the top one): `[T·B, width]`, or `None` for
    /// no dropout there.
    pub between: Vec<Option<Vec<f32>>>,
    /// For the head's input: `[S·B, width]`, S = T or 1 when only the last step is scored.
    pub head: Option<Vec<f32>>,
}

/// Where a network drops values, and with which probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rates {
    /// Between stacked layers.
    pub between: f32,
    /// On the head's input.
    pub head: f32,
}

impl Rates {
    /// Whether anything is dropped.
    pub fn any(&self) -> bool {
        self.between > 0.0 || self.head > 0.0
    }
}

impl Masks {
    /// Masks for a network of `layers` layers emitting `width` values per row, over `rows`
    /// rows per layer (T·B) and `head_rows` at the head (T·B, or B when only the last step is
    /// scored). `None` when `rates` drops nothing.
    pub fn sample<R: Rng>(
        rates: Rates,
        layers: usize,
        width: usize,
        rows: usize,
        head_rows: usize,
        rng: &mut R,
    ) -> Option<Masks> {
        if !rates.any() {
            return None;
        }
        let draw = |p: f32, n: usize, rng: &mut R| -> Option<Vec<f32>> {
            (p > 0.0).then(|| {
                let keep = 1.0 / (1.0 - p);
                (0..n).map(|_| if rng.gen::<f32>() < p { 0.0 } else { keep }).collect()
            })
        };
        let between = (1..layers).map(|_| draw(rates.between, rows * width, rng)).collect();
        let head = draw(rates.head, head_rows * width, rng);
        Some(Masks { between, head })
    }
}

/// `x ⊙ mask`, recorded on a fresh tape merged into `acc` (the mask is a constant).
pub fn apply<D: Device<f32>, T: Tape<f32, D> + Merge<T>>(
    x: &Tensor<(usize, usize), f32, D>,
    mask: &[f32],
    acc: &mut T,
) -> Tensor<(usize, usize), f32, D> {
    assert_eq!(x.shape().0 * x.shape().1, mask.len(), "dropout mask size differs from its rows");
    let m = x.device().tensor_from_vec(mask.to_vec(), *x.shape());
    keep(use_::<_, D, T>(x) * m, acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn masks_keep_about_1_minus_p_scaled_and_nothing_when_off() {
        let mut rng = StdRng::seed_from_u64(3);
        let rates = Rates { between: 0.25, head: 0.0 };
        let m = Masks::sample(rates, 3, 10, 1000, 100, &mut rng).unwrap();
        assert_eq!(m.between.len(), 2);
        assert!(m.head.is_none());
        let mask = m.between[0].as_ref().unwrap();
        assert_eq!(mask.len(), 10_000);
        let kept = mask.iter().filter(|&&v| v != 0.0).count() as f64 / mask.len() as f64;
        assert!((kept - 0.75).abs() < 0.02, "{kept}");
        assert!(mask.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        assert_ne!(m.between[0], m.between[1], "each layer draws its own mask");
        assert_eq!(Masks::sample(Rates::default(), 3, 10, 1000, 100, &mut rng), None);
    }
}
