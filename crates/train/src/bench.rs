//! `rnnlab bench`: time one training step (forward, backward, Adam) on the seed workloads,
//! the same ones `bench/peers/` runs in PyTorch and Keras.
//!
//! A step here is what a trial does per batch: `Network::loss_and_grads`, the optimizer over
//! the flat parameters, and writing them back. Each case runs `warmup` untimed steps, then
//! `steps` timed ones; the median is reported.

use std::time::Instant;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use rnnlab_nn::fused::blas::{gemm, Mat};
use rnnlab_nn::{optim, params, Backend, Batch, Network, Targets, Task};
use rnnlab_spec::{CellKind, DeviceKind, KernelKind, ModelConfig, OptimizerConfig, RunConfig};

use crate::{with_device, TrainError};

/// A benchmark shape: a per-step classification head over `classes` at every step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    pub name: &'static str,
    pub batch: usize,
    pub steps: usize,
    pub input: usize,
    pub hidden: usize,
    pub classes: usize,
}

/// The seed workloads of issue 3: MNIST read by rows, counting ones, running parity.
pub const WORKLOADS: [Workload; 3] = [
    Workload { name: "mnist_rows", batch: 128, steps: 28, input: 28, hidden: 128, classes: 10 },
    Workload { name: "count_ones", batch: 1000, steps: 20, input: 1, hidden: 24, classes: 21 },
    Workload { name: "parity", batch: 4096, steps: 12, input: 1, hidden: 64, classes: 2 },
];

/// The cells benchmarked, in table order: every cell of the registry.
pub const CELLS: &[CellKind] = CellKind::ALL;

/// One timed configuration.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub workload: Workload,
    pub cell: CellKind,
    /// On a device without fused kernels (CUDA) the reference cells run whatever this says.
    pub kernel: KernelKind,
    pub device: DeviceKind,
}

impl Case {
    /// Floating-point operations of one training step, counting matrix products only:
    /// forward `2·B·T·(G·H·(I+H) + H·C)`, backward twice that.
    pub fn flops(&self) -> f64 {
        let w = &self.workload;
        let (b, t, i, h, c) = (w.batch as f64, w.steps as f64, w.input as f64, w.hidden as f64, w.classes as f64);
        let forward = 2.0 * b * t * (self.cell.gates() as f64 * h * (i + h) + h * c);
        3.0 * forward
    }

    /// Runs `warmup` untimed and `steps` timed training steps; seconds per timed step. Every
    /// step ends with the gradients on the host, so a GPU step is timed to completion.
    pub fn time(&self, warmup: usize, steps: usize) -> Result<Vec<f64>, TrainError> {
        let run = RunConfig { device: self.device.to_string().parse().expect("a DeviceKind prints as a device") };
        with_device!(run, 0, dev => Ok(self.time_on(dev, warmup, steps)))
    }

    fn time_on<D: Backend>(&self, dev: D, warmup: usize, steps: usize) -> Vec<f64> {
        let w = &self.workload;
        let model = ModelConfig {
            kernel: self.kernel,
            ..toml::from_str(&format!("cell = '{}'\nhidden_size = {}", self.cell.name(), w.hidden))
                .expect("benchmark model config")
        };
        let adam: OptimizerConfig = toml::from_str("name = 'adam'\nlr = 0.001").expect("benchmark optimizer config");
        let task = Task::Classify { classes: w.classes, per_step: true };
        let mut rng = StdRng::seed_from_u64(0);
        let mut net = Network::new(&dev, &model, w.input, task, &mut rng).expect("benchmark network");
        let batch = Batch {
            size: w.batch,
            steps: w.steps,
            input_size: w.input,
            inputs: (0..w.batch * w.steps * w.input).map(|_| rng.gen_range(0.0..1.0)).collect(),
            targets: Targets::Classes((0..w.batch * w.steps).map(|_| rng.gen_range(0..w.classes as u32)).collect()),
            mask: None,
        };
        let mut flat = params::flat_values(&net);
        let mut opt = optim::build(&adam, flat.len());
        let mut times = Vec::with_capacity(steps);
        for i in 0..warmup + steps {
            let t0 = Instant::now();
            let (_, grads) = net.loss_and_grads_at(&flat, &batch, None);
            opt.step(&mut flat, &grads);
            if i >= warmup {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        times
    }
}

/// The median of `xs` (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// This machine's single-precision matrix-product rate in GFLOP/s at the current thread
/// setting: the median of `reps` products `[n, n] · [n, n]` through the kernels' `gemm`.
pub fn sgemm_gflops(n: usize, reps: usize) -> f64 {
    let a: Vec<f32> = (0..n * n).map(|i| (i % 17) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i % 13) as f32 * 0.01).collect();
    let mut c = vec![0.0f32; n * n];
    gemm(&mut c, false, Mat::new(&a, n, n), Mat::new(&b, n, n));
    let times: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            gemm(&mut c, false, Mat::new(&a, n, n), Mat::new(&b, n, n));
            t0.elapsed().as_secs_f64()
        })
        .collect();
    2.0 * (n as f64).powi(3) / median(&times) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_row_lstm_step_counts_the_issue_s_1_75_gflop() {
        let case =
            Case { workload: WORKLOADS[0], cell: CellKind::Lstm, kernel: KernelKind::Fused, device: DeviceKind::Cpu };
        let gflop = case.flops() / 1e9;
        assert!((gflop - 1.745).abs() < 0.01, "{gflop}");
    }

    #[test]
    fn a_tiny_case_times_every_requested_step() {
        let tiny = Workload { name: "tiny", batch: 3, steps: 2, input: 2, hidden: 4, classes: 3 };
        for kernel in [KernelKind::Fused, KernelKind::Reference] {
            let times =
                Case { workload: tiny, cell: CellKind::Gru, kernel, device: DeviceKind::Cpu }.time(1, 3).unwrap();
            assert_eq!(times.len(), 3);
            assert!(times.iter().all(|t| t.is_finite() && *t > 0.0));
        }
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
