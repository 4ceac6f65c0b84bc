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

    /// Moves past the first `steps` batches (a resumed trial: the shuffles are replayed).
    pub fn skip(&mut self, steps: usize) {
        for _ in 0..steps {
            self.next_indices();
        }
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
/// With sequences of different lengths the batch is as long as its longest sequence (padding
/// beyond it is dropped) and carries the mask of its real steps.
pub fn gather(set: &SequenceSet, indices: &[usize]) -> Batch {
    let (b, width) = (indices.len(), set.input_size);
    let t_len = match &set.lengths {
        Some(lengths) => indices.iter().map(|&n| lengths[n]).max().unwrap_or(0),
        None => set.steps,
    };
    let mut inputs = vec![0.0f32; t_len * b * width];
    for (bi, &n) in indices.iter().enumerate() {
        for t in 0..t_len {
            let src = (n * set.steps + t) * width;
            let dst = (t * b + bi) * width;
            inputs[dst..dst + width].copy_from_slice(&set.inputs[src..src + width]);
        }
    }
    // Targets per sequence: `per` rows of `w` values in the set, the first `keep` of them kept.
    fn pick<T: Copy>(all: &[T], set: &SequenceSet, indices: &[usize], t_len: usize) -> Vec<T> {
        let per_seq = all.len() / set.len;
        let keep = if set.lengths.is_some() { per_seq / set.steps * t_len } else { per_seq };
        indices.iter().flat_map(|&n| all[n * per_seq..n * per_seq + keep].iter().copied()).collect()
    }
    let targets = match &set.targets {
        Targets::Classes(labels) => Targets::Classes(pick(labels, set, indices, t_len)),
        Targets::Values(values) => Targets::Values(pick(values, set, indices, t_len)),
    };
    let mask = set.lengths.as_ref().map(|lengths| {
        (0..t_len).flat_map(|t| indices.iter().map(move |&n| f32::from(u8::from(t < lengths[n])))).collect()
    });
    Batch { size: b, steps: t_len, input_size: width, inputs, targets, mask }
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
            lengths: None,
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

    #[test]
    fn ragged_batches_are_trimmed_to_their_longest_sequence_and_masked() {
        // Lengths 3, 1, 2, stored padded to 3 steps.
        let set = SequenceSet {
            lengths: Some(vec![3, 1, 2]),
            len: 3,
            steps: 3,
            input_size: 1,
            inputs: vec![0.0, 1.0, 2.0, 10.0, 0.0, 0.0, 20.0, 21.0, 0.0],
            targets: Targets::Values(vec![0.5, 1.5, 2.5, 10.5, 0.0, 0.0, 20.5, 21.5, 0.0]),
        };
        let b = gather(&set, &[1, 2]);
        assert_eq!(b.steps, 2, "the longest of lengths 1 and 2");
        assert_eq!(b.inputs, [10.0, 20.0, 0.0, 21.0]);
        assert_eq!(b.targets, Targets::Values(vec![10.5, 0.0, 20.5, 21.5]));
        assert_eq!(b.mask, Some(vec![1.0, 1.0, 0.0, 1.0]));
        assert_eq!(gather(&set, &[0]).mask, Some(vec![1.0, 1.0, 1.0]));
    }
}
