//! Weight noise (Graves 2011; the regulariser Chung et al. 2014 train with): each training step
//! takes its gradient at the parameters plus Gaussian noise, and the optimizer updates the
//! clean parameters. The noise comes from its own stream per seed, so turning it on leaves the
//! batch order and the dropout masks as they were. Checked against PyTorch with the same draws
//! (`tests/weight_noise.rs`, `scripts/golden.py`).

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rand_distr::{Distribution, StandardNormal};

/// The noisy copy of the parameters a step is taken at.
pub struct WeightNoise {
    sigma: f32,
    rng: ChaCha12Rng,
    noise: Vec<f32>,
    noisy: Vec<f32>,
}

impl WeightNoise {
    /// Noise of standard deviation `sigma` for the trial with `seed` (`sigma = 0`: none).
    pub fn new(sigma: f64, seed: u64) -> Self {
        WeightNoise {
            sigma: sigma as f32,
            rng: ChaCha12Rng::seed_from_u64(seed ^ 0x776e_6f69_7365), // "wnoise"
            noise: Vec::new(),
            noisy: Vec::new(),
        }
    }

    /// How far the stream has been drawn (a snapshot's position).
    pub fn words(&self) -> u128 {
        self.rng.get_word_pos()
    }

    /// Continues the stream at a snapshot's position.
    pub fn seek(&mut self, words: u128) {
        self.rng.set_word_pos(words);
    }

    /// The parameters this step's gradient is taken at: `clean` itself without noise, else
    /// `clean + sigma · eps` with a fresh `eps ~ N(0, 1)` per parameter, drawn in `clean`'s order.
    pub fn weights<'a>(&'a mut self, clean: &'a [f32]) -> &'a [f32] {
        if self.sigma == 0.0 {
            return clean;
        }
        self.noise.clear();
        let rng = &mut self.rng;
        self.noise.extend((0..clean.len()).map(|_| -> f32 { StandardNormal.sample(rng) }));
        perturb(clean, self.sigma, &self.noise, &mut self.noisy);
        &self.noisy
    }
}

/// `out = clean + sigma · eps`, element by element.
pub fn perturb(clean: &[f32], sigma: f32, eps: &[f32], out: &mut Vec<f32>) {
    out.clear();
    out.extend(clean.iter().zip(eps).map(|(&w, &e)| w + sigma * e));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_noise_is_the_clean_weights_and_noise_repeats_with_the_seed() {
        let clean = vec![1.0f32; 1000];
        let mut off = WeightNoise::new(0.0, 3);
        assert!(std::ptr::eq(off.weights(&clean), clean.as_slice()));
        let draw = |seed| WeightNoise::new(0.075, seed).weights(&clean).to_vec();
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        let noisy = draw(3);
        let (mean, var) = {
            let d: Vec<f64> = noisy.iter().map(|&w| (w - 1.0) as f64).collect();
            let m = d.iter().sum::<f64>() / d.len() as f64;
            (m, d.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / d.len() as f64)
        };
        assert!(mean.abs() < 0.01 && (var.sqrt() - 0.075).abs() < 0.01, "mean {mean}, std {}", var.sqrt());
    }

    #[test]
    fn the_chacha_streams_are_the_std_rng_streams_they_replaced() {
        // Dropout masks and weight noise moved from `StdRng` to `ChaCha12Rng` (whose position a
        // snapshot can record): the same generator, so every trial keeps its numbers.
        use rand::RngCore;
        for seed in [0, 7, u64::MAX] {
            let (mut a, mut b) = (rand::rngs::StdRng::seed_from_u64(seed), ChaCha12Rng::seed_from_u64(seed));
            for _ in 0..1000 {
                assert_eq!(a.next_u64(), b.next_u64());
            }
        }
    }
}
