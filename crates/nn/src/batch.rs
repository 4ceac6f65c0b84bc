//! A batch on the host, and the targets of the rows a network stacks from it.

use crate::{Targets, Task};

/// A batch on the host: inputs time-major `[T, B, I]`, targets batch-major (as in the dataset).
#[derive(Debug, Clone)]
pub struct Batch {
    pub size: usize,
    pub steps: usize,
    pub input_size: usize,
    pub inputs: Vec<f32>,
    pub targets: Targets,
    /// For sequences of different lengths: 1 where step t of sequence i is real, 0 where it is
    /// padding, time-major `[T·B]` (per-step tasks only). The loss ignores padded rows.
    pub mask: Option<Vec<f32>>,
}

/// Targets of the stacked output rows: a class per row, `width` values per row (squared
/// error), or `width` binary labels per row (sigmoid cross-entropy).
#[derive(Debug, Clone)]
pub enum RowTargets {
    Classes(Vec<u32>),
    Values(Vec<f32>),
    Labels(Vec<f32>),
}

/// The targets of the stacked output rows of a network for `task` `[S·B]`: row r is step r / B (or the last step)
/// of sequence r % B.
pub fn row_targets(batch: &Batch, task: Task) -> RowTargets {
    let per_step = task.per_step();
    let (b, width) = (batch.size, task.output_size());
    let rows = if per_step { batch.steps * b } else { b };
    let target_of = |r: usize| target_row(batch, r % b, r / b, per_step);
    match &batch.targets {
        Targets::Classes(labels) => RowTargets::Classes((0..rows).map(|r| labels[target_of(r)]).collect()),
        Targets::Values(values) => {
            let v = (0..rows).flat_map(|r| values[target_of(r) * width..(target_of(r) + 1) * width].iter().copied());
            match task {
                Task::MultiLabel { .. } => RowTargets::Labels(v.collect()),
                _ => RowTargets::Values(v.collect()),
            }
        }
    }
}

/// Where the target of sequence `i` at step `t` sits: `[N, T]` per step, `[N]` last step only.
fn target_row(batch: &Batch, i: usize, t: usize, per_step: bool) -> usize {
    if per_step {
        i * batch.steps + t
    } else {
        i
    }
}
