//! Minibatches: a seeded shuffle per epoch, and gathering sequences into time-major batches.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use rnnlab_data::{SequenceSet, Targets};
use rnnlab_nn::Batch;

/// Which sequences each step trains on: a fresh seeded permutation every epoch, cut into
/// batches in order; the last batch of an epoch may be smaller (PyTorch's `drop_last=False`).
pub struct Order {
    indices: Vec<usize>,
    batch_size: usize,
    pos: usize,
    rng: StdRng,
}

impl Order {
    pub fn new(n: usize, batch_size: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x0062_6174_6368_6573); // "batches"
        let mut indices: Vec<usize> = (0..n).collect();
        // A full batch needs no shuffle (the loss is a mean).
        if batch_size < n {
            indices.shuffle(&mut rng);
        }
        Order { indices, batch_size, pos: 0, rng }
    }

    /// The indices of the next batch.
    pub fn next_indices(&mut self) -> &[usize] {
        if self.pos >= self.indices.len() {
            self.pos = 0;
            if self.batch_size < self.indices.len() {
                self.indices.shuffle(&mut self.rng);
            }
        }
        let start = self.pos;
        self.pos = (start + self.batch_size).min(self.indices.len());
        &self.indices[start..self.pos]
    }
}

/// Sequences `indices` of `set` as a batch: inputs time-major `[T, B, I]`, targets batch-major.
pub fn gather(set: &SequenceSet, indices: &[usize]) -> Batch {
    let (b, t_len, width) = (indices.len(), set.steps, set.input_size);
    let mut inputs = vec![0.0f32; t_len * b * width];
    for (bi, &n) in indices.iter().enumerate() {
        for t in 0..t_len {
            let src = (n * t_len + t) * width;
            let dst = (t * b + bi) * width;
            inputs[dst..dst + width].copy_from_slice(&set.inputs[src..src + width]);
        }
    }
    let targets = match &set.targets {
        Targets::Classes(labels) => {
            let per = labels.len() / set.len;
            Targets::Classes(indices.iter().flat_map(|&n| labels[n * per..(n + 1) * per].iter().copied()).collect())
        }
        Targets::Values(values) => {
            let per = values.len() / set.len;
            Targets::Values(indices.iter().flat_map(|&n| values[n * per..(n + 1) * per].iter().copied()).collect())
        }
    };
    Batch { size: b, steps: t_len, input_size: width, inputs, targets }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sequence_once_per_epoch() {
        let mut order = Order::new(10, 4, 7);
        let mut epoch: Vec<usize> = Vec::new();
        let sizes: Vec<usize> = (0..3).map(|_| order.next_indices().len()).collect();
        assert_eq!(sizes, [4, 4, 2]);
        let mut again = Order::new(10, 4, 7);
        for _ in 0..3 {
            epoch.extend(again.next_indices());
        }
        epoch.sort_unstable();
        assert_eq!(epoch, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn gather_makes_inputs_time_major() {
        // 3 sequences, 2 steps, 1 feature; labels per step.
        let set = SequenceSet {
            len: 3,
            steps: 2,
            input_size: 1,
            inputs: vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0],
            targets: Targets::Classes(vec![0, 1, 2, 3, 4, 5]),
        };
        let b = gather(&set, &[2, 0]);
        assert_eq!(b.inputs, [20.0, 0.0, 21.0, 1.0]);
        assert_eq!(b.targets, Targets::Classes(vec![4, 5, 0, 1]));
    }
}
