//! Test- and validation-set metrics, computed on the host in f64 from the network's predictions.

use rnnlab_data::{SequenceSet, Targets, Task};
use rnnlab_nn::{Backend, Network};
use rnnlab_spec::vocab::{find_metric, Metric};

use crate::batches::gather;

/// Test metrics: `test_loss` (the training loss's definition) always; `test_accuracy` for
/// classification, `test_mse` for regression, `test_nll` for multi-label prediction (the
/// negative log-likelihood per frame: binary cross-entropy summed over the labels, averaged over
/// the real steps). Padded steps are skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub loss: f64,
    pub accuracy: Option<f64>,
    pub mse: Option<f64>,
    pub nll: Option<f64>,
}

impl Metrics {
    /// The metric that ranks trials: accuracy, else MSE, else NLL (else the test loss).
    pub fn main(&self) -> f64 {
        self.main_pair().1
    }

    /// Which metric [`Metrics::main`] is.
    pub fn main_metric(&self) -> &'static Metric {
        find_metric(self.main_pair().0).expect("a metric of the vocabulary")
    }

    /// Whether `task` records the measure of `name` (`valid_nll` and `test_nll` both: `nll`).
    pub fn records(task: Task, name: &str) -> bool {
        matches!(
            (name.split_once('_').map_or(name, |(_, m)| m), task),
            ("loss", _)
                | ("accuracy", Task::Classify { .. })
                | ("mse", Task::Regress { .. })
                | ("nll", Task::MultiLabel { .. })
        )
    }

    /// The value of `name`'s measure (`test_nll` and `valid_nll` both read `nll`), when this
    /// task records it.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name.split_once('_').map_or(name, |(_, m)| m) {
            "loss" => Some(self.loss),
            "accuracy" => self.accuracy,
            "mse" => self.mse,
            "nll" => self.nll,
            _ => None,
        }
    }

    fn main_pair(&self) -> (&'static str, f64) {
        [("test_accuracy", self.accuracy), ("test_mse", self.mse), ("test_nll", self.nll)]
            .into_iter()
            .find_map(|(name, v)| v.map(|v| (name, v)))
            .unwrap_or(("test_loss", self.loss))
    }
}

/// Evaluates `net` on the whole of `set`, `chunk` sequences at a time.
pub fn evaluate<D: Backend>(net: &Network<D>, set: &SequenceSet, task: Task, chunk: usize) -> Metrics {
    let per_step = task.per_step();
    let multi_label = matches!(task, Task::MultiLabel { .. });
    let (mut loss, mut nll, mut correct, mut count) = (0.0f64, 0.0f64, 0usize, 0usize);
    let all: Vec<usize> = (0..set.len).collect();
    for indices in all.chunks(chunk) {
        let batch = gather(set, indices);
        let out = net.predict(&batch);
        let w = out.width;
        for (s, step) in out.steps.iter().enumerate() {
            let t = if per_step { s } else { batch.steps - 1 };
            for i in 0..batch.size {
                if batch.mask.as_ref().is_some_and(|m| m[s * batch.size + i] == 0.0) {
                    continue;
                }
                let row = &step[i * w..(i + 1) * w];
                let k = if per_step { i * batch.steps + t } else { i };
                match &batch.targets {
                    Targets::Classes(labels) => {
                        let label = labels[k] as usize;
                        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
                        let lse = max + row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
                        loss += lse - row[label] as f64;
                        let argmax = (0..w).fold(0, |best, j| if row[j] > row[best] { j } else { best });
                        correct += usize::from(argmax == label);
                        count += 1;
                    }
                    Targets::Values(values) if multi_label => {
                        let target = &values[k * w..(k + 1) * w];
                        let bce = |z: f64, y: f64| z.max(0.0) - z * y + (-z.abs()).exp().ln_1p();
                        let frame: f64 = row.iter().zip(target).map(|(&z, &y)| bce(z as f64, y as f64)).sum();
                        loss += frame / w as f64;
                        nll += frame;
                        count += 1;
                    }
                    Targets::Values(values) => {
                        let target = &values[k * w..(k + 1) * w];
                        loss += row.iter().zip(target).map(|(&p, &y)| ((p - y) as f64).powi(2)).sum::<f64>() / w as f64;
                        count += 1;
                    }
                }
            }
        }
    }
    let loss = loss / count.max(1) as f64;
    let none = Metrics { loss, accuracy: None, mse: None, nll: None };
    match task {
        Task::Classify { .. } => Metrics { accuracy: Some(correct as f64 / count.max(1) as f64), ..none },
        Task::Regress { .. } => Metrics { mse: Some(loss), ..none },
        Task::MultiLabel { .. } => Metrics { nll: Some(nll / count.max(1) as f64), ..none },
    }
}
