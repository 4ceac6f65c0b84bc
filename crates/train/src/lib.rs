//! One trial: build the dataset and network from a resolved config, train, evaluate, and
//! return the learning curve and final metrics.
//!
//! A trial's result depends only on its config and seed (and, through gemm's summation order,
//! the thread count): data, initial weights and batch order all come from generators seeded
//! with the trial seed.
//!
//! Longer than most files on purpose: the training loop stays one function that reads top to
//! bottom (data, network, steps, evaluations, early stopping, pruning, result); the parts with
//! state of their own live beside it (`batches`, `metrics`, `selection`, `memory`).

mod batches;
pub mod bench;
pub mod checkpoint;
pub mod memory;
mod metrics;
pub mod noise;
pub mod schedule;
mod selection;
pub mod snapshot;
mod state;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use rnnlab_data::LossReduction;
use rnnlab_nn::{optim, params, Backend, Network};
pub use rnnlab_spec::Status;
use rnnlab_spec::{DeviceKind, RunConfig, TrialConfig};

pub use metrics::Metrics;
pub use rnnlab_nn::set_threads;
use selection::check_validation_metric;
pub use snapshot::Snapshot;
use state::State;

/// One row of a trial's learning curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub step: usize,
    pub epoch: f64,
    /// Mean training loss over the steps since the previous row.
    pub train_loss: f64,
    pub test: Metrics,
    /// Metrics on the validation split, when the dataset has one.
    pub valid: Option<Metrics>,
    pub wall_seconds: f64,
}

impl CurvePoint {
    /// The value of the metric called `name` at this evaluation (`train_loss`, a `test_*` or a
    /// `valid_*` metric), when it was measured.
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name.split_once('_') {
            Some(("train", "loss")) => Some(self.train_loss),
            Some(("test", _)) => self.test.get(name),
            Some(("valid", _)) => self.valid.and_then(|v| v.get(name)),
            _ => None,
        }
    }
}

/// Everything a finished trial reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialResult {
    pub status: Status,
    /// Why it diverged; empty when ok.
    pub message: String,
    pub curve: Vec<CurvePoint>,
    /// With `[train.early_stopping]`: the step of the evaluation with the best validation
    /// metric, whose metrics the trial reports (and whose parameters its checkpoint holds).
    pub selected_step: Option<usize>,
    pub steps_done: usize,
    /// The steps the trial would have run without early stopping or pruning.
    pub planned_steps: usize,
    pub param_count: usize,
    pub wall_seconds: f64,
    /// Of `wall_seconds`, the time spent evaluating (test and validation sets).
    pub eval_seconds: f64,
    /// The trained model, when `[train] save_checkpoint` is set and the trial ended ok.
    pub checkpoint: Option<checkpoint::Checkpoint>,
    /// The step a snapshot resumed this trial from (`[train] resumable`).
    pub resumed_from: Option<usize>,
}

impl TrialResult {
    /// The last evaluation.
    pub fn final_point(&self) -> Option<&CurvePoint> {
        self.curve.last()
    }

    /// The evaluation the trial reports: the one early stopping selected, else the last.
    pub fn reported_point(&self) -> Option<&CurvePoint> {
        match self.selected_step {
            Some(step) => self.curve.iter().find(|p| p.step == step),
            None => self.final_point(),
        }
    }

    /// The best evaluation by the task's main test metric: highest accuracy or lowest MSE.
    pub fn best_point(&self) -> Option<&CurvePoint> {
        self.curve.iter().filter(|p| p.test.main().is_finite()).max_by(|a, b| {
            let (x, y) = (a.test.main(), b.test.main());
            let ord = if a.test.main_metric().higher_is_better() { x.total_cmp(&y) } else { y.total_cmp(&x) };
            // Ties go to the earlier step.
            ord.then(b.step.cmp(&a.step))
        })
    }
}

/// Why a trial could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("unknown dataset plugin `{0}`")]
    UnknownPlugin(String),
    #[error("dataset: {0}")]
    Data(#[from] rnnlab_data::DataError),
    #[error("{0}")]
    Model(#[from] rnnlab_nn::NnError),
    #[error("device: {0}")]
    Device(String),
    #[error("memory: {0}")]
    Memory(String),
    #[error("interrupted")]
    Interrupted,
}

/// Called after every evaluation with the curve point and the total number of steps.
pub type OnEval<'a> = &'a (dyn Fn(&CurvePoint, usize) + Sync);

/// Asked after every evaluation with the curve so far: `Some(reason)` stops the trial there as
/// `pruned` (the sweep's `[prune]` rule).
pub type Judge<'a> = &'a (dyn Fn(&[CurvePoint]) -> Option<String> + Sync);

/// Builds and trains one trial. `stop` is polled every step (Ctrl-C).
pub fn run_trial(config: &TrialConfig, stop: &AtomicBool, on_eval: OnEval) -> Result<TrialResult, TrainError> {
    run_judged_trial(config, stop, on_eval, &|_| None)
}

/// [`run_trial`], with `judge` deciding after each evaluation whether the trial goes on.
pub fn run_judged_trial(
    config: &TrialConfig,
    stop: &AtomicBool,
    on_eval: OnEval,
    judge: Judge,
) -> Result<TrialResult, TrainError> {
    run_resumable_trial(config, stop, on_eval, judge, Resume { from: None, save: &|_| {} })
}

/// Snapshots of a trial that may be interrupted (`[train] resumable`).
pub struct Resume<'a> {
    /// The snapshot to continue from; one that does not fit the trial (another network's
    /// parameters, say) is ignored and the trial starts over.
    pub from: Option<Snapshot>,
    /// Takes the snapshot written at each evaluation before the last.
    pub save: &'a (dyn Fn(&Snapshot) + Sync),
}

/// [`run_judged_trial`], continuing from `resume.from` and handing `resume.save` a snapshot at
/// every evaluation: a resumed trial's curve and result are those of an uninterrupted one.
pub fn run_resumable_trial(
    config: &TrialConfig,
    stop: &AtomicBool,
    on_eval: OnEval,
    judge: Judge,
    resume: Resume,
) -> Result<TrialResult, TrainError> {
    with_device!(config.run, config.seed, dev => {
        train(config, dev, stop, on_eval, judge, resume).map(|(result, _)| result)
    })
}

/// Why `cuda` is refused by a build without the `cuda` feature.
#[cfg(not(feature = "cuda"))]
pub(crate) const NO_CUDA: &str =
    "this rnnlab was built without CUDA: rebuild with `--features cuda` on a machine with nvcc \
                       and the CUDA libraries (see docs/cuda.md), or use `device = \"cpu\"`";

/// Runs `$body` with `$dev` bound to the dfdx device `$run` (a `RunConfig`) names, seeded with
/// `$seed` (each arm is its own type, so generic code is instantiated once per device kind);
/// errors are `TrainError::Device`.
macro_rules! with_device {
    ($run:expr, $seed:expr, $dev:ident => $body:expr) => {
        match $run.device() {
            DeviceKind::Cpu => {
                let $dev = Cpu::seed_from_u64($seed);
                $body
            }
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda(n) => {
                let $dev = Cuda::try_build(n, $seed)
                    .map_err(|e| $crate::TrainError::Device(format!("cuda:{n} cannot be opened: {e:?}")))?;
                $body
            }
            #[cfg(not(feature = "cuda"))]
            DeviceKind::Cuda(_) => Err($crate::TrainError::Device($crate::NO_CUDA.into())),
        }
    };
}
pub(crate) use with_device;

/// Whether trials can run on `run.device` in this build on this machine (checked once per
/// device, before any trial starts).
pub fn check_device(run: &RunConfig) -> Result<(), String> {
    match run.device() {
        DeviceKind::Cpu => Ok(()),
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda(_) => Err(NO_CUDA.into()),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda(n) => {
            static OPENED: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
            let mut opened = OPENED.lock().unwrap_or_else(|p| p.into_inner());
            if !opened.contains(&n) {
                Cuda::try_build(n, 0).map_err(|e| format!("cuda:{n} cannot be opened on this machine: {e:?}"))?;
                opened.push(n);
            }
            Ok(())
        }
    }
}

/// What `rnnlab forward` prints: a trial's test sequences and the network's outputs on them.
#[derive(Debug, Clone)]
pub struct ForwardPass {
    pub inputs: rnnlab_data::SequenceSet,
    /// Predictions at the steps that have targets (every step for per-step tasks), `[N, width]` each.
    pub outputs: rnnlab_nn::Outputs,
    /// Training steps run before the pass (0 without `--train`).
    pub steps_trained: usize,
    pub status: Status,
}

/// Builds the trial's network (trained first when `train`) and runs its test set forward.
pub fn forward(config: &TrialConfig, train_first: bool) -> Result<ForwardPass, TrainError> {
    let mut config = config.clone();
    if !train_first {
        (config.train.steps, config.train.epochs) = (Some(0), None);
    }
    with_device!(config.run, config.seed, dev => {
        let (result, (net, data)) = train(&config, dev, &AtomicBool::new(false), &|_, _| {}, &|_| None, Resume { from: None, save: &|_| {} })?;
        let all: Vec<usize> = (0..data.test.len).collect();
        let batch = batches::gather(&data.test, &all);
        Ok(ForwardPass {
            outputs: net.predict(&batch),
            inputs: data.test,
            steps_trained: result.steps_done,
            status: result.status,
        })
    })
}

/// The network's output for every sequence of `set`, in batches of `batch_size`: per sequence,
/// one `width`-vector per real step (per-step tasks) or one after its last step.
pub fn predict_sequences<D: Backend>(
    net: &Network<D>,
    set: &rnnlab_data::SequenceSet,
    batch_size: usize,
) -> Vec<Vec<Vec<f32>>> {
    let all: Vec<usize> = (0..set.len).collect();
    let mut out = Vec::with_capacity(set.len);
    for indices in all.chunks(batch_size.max(1)) {
        let batch = batches::gather(set, indices);
        let pred = net.predict(&batch);
        let w = pred.width;
        for i in 0..batch.size {
            let real = |s: usize| batch.mask.as_ref().is_none_or(|m| m[s * batch.size + i] != 0.0);
            out.push(
                pred.steps
                    .iter()
                    .enumerate()
                    .filter(|(s, _)| real(*s))
                    .map(|(_, step)| step[i * w..(i + 1) * w].to_vec())
                    .collect(),
            );
        }
    }
    out
}

/// The trial's dataset, checked against what the trial watches (early stopping's and the
/// plateau schedule's metrics, returned) and against the memory the trial needs.
fn build_data(config: &TrialConfig) -> Result<(rnnlab_data::Dataset, Option<String>), TrainError> {
    let plugin = rnnlab_data::find(&config.dataset.plugin)
        .ok_or_else(|| TrainError::UnknownPlugin(config.dataset.plugin.clone()))?;
    let data = plugin.build(&config.dataset.keys, config.seed)?;
    data.check(plugin.name())?;
    if let Some(e) = &config.train.early_stopping {
        check_validation_metric("[train.early_stopping]", &e.metric, &data, plugin.name())?;
    }
    let plateau_metric = config.optimizer.schedule.as_ref().and_then(|s| s.metric.clone());
    if let Some(metric) = &plateau_metric {
        check_validation_metric("the plateau schedule", metric, &data, plugin.name())?;
    }
    let shape = memory::DataShape {
        input_size: data.input_size(),
        output_size: data.task.output_size(),
        steps: data.train.steps.max(data.test.steps).max(data.valid.as_ref().map_or(0, |v| v.steps)),
        train_len: data.train.len,
        // The evaluated sets' sequences, the validation split's included (a little high for
        // the evaluation batch, exact for the data).
        test_len: data.test.len + data.valid.as_ref().map_or(0, |v| v.len),
    };
    let bytes = memory::trial_bytes(&config.model, &config.optimizer, &config.train, shape.output_size, Some(shape));
    memory::check_fits(bytes, "this trial").map_err(TrainError::Memory)?;
    if !memory::can_allocate(bytes) {
        return Err(TrainError::Memory(format!(
            "cannot allocate the {} this trial needs by rnnlab's estimate (too little memory left now)",
            memory::human(bytes)
        )));
    }
    Ok((data, plateau_metric))
}

type Trained<D> = (Network<D>, rnnlab_data::Dataset);

fn train<D: Backend>(
    config: &TrialConfig,
    dev: D,
    stop: &AtomicBool,
    on_eval: OnEval,
    judge: Judge,
    resume: Resume,
) -> Result<(TrialResult, Trained<D>), TrainError> {
    let started = Instant::now();
    let (data, plateau_metric) = build_data(config)?;
    let plateau_metric = plateau_metric.as_deref();
    let mut init_rng = StdRng::seed_from_u64(config.seed);
    let mut net = Network::new(&dev, &config.model, data.input_size(), data.task, &mut init_rng)?;
    let param_count = params::count(&net);
    let train = &config.train;
    let steps_per_epoch = data.train.len.div_ceil(train.batch_size);
    let total_steps = train.steps.unwrap_or_else(|| train.epochs.unwrap_or(1) * steps_per_epoch);
    let mut st = State::new(config, params::flat_values(&net), data.train.len, started);
    if let Some(s) = resume.from {
        st.restore(config, s, total_steps, plateau_metric);
    }
    let (mut loss_sum, mut loss_count) = (0.0f64, 0usize);
    let evaluate = |net: &Network<D>, step: usize, train_loss: f64, started: Instant| {
        let eval_started = Instant::now();
        let test = metrics::evaluate(net, &data.test, data.task, train.eval_batch_size);
        let valid = data.valid.as_ref().map(|v| metrics::evaluate(net, v, data.task, train.eval_batch_size));
        let took = eval_started.elapsed().as_secs_f64();
        let epoch = step as f64 / steps_per_epoch as f64;
        let point = CurvePoint { step, epoch, train_loss, test, valid, wall_seconds: started.elapsed().as_secs_f64() };
        on_eval(&point, total_steps);
        (point, took)
    };
    let mut steps_done = total_steps;
    let mut pruned: Option<String> = None;
    for step in st.resumed_from.map_or(1, |s| s + 1)..=total_steps {
        if stop.load(Ordering::Relaxed) {
            return Err(TrainError::Interrupted);
        }
        let batch = batches::gather(&data.train, st.order.next_indices());
        let masks = net.dropout_masks(&batch, &mut st.dropout_rng);
        // The network's tensors are written only before an evaluation: the step reads `flat`.
        let at = st.weight_noise.weights(&st.flat);
        let (loss, mut grads) = net.loss_and_grads_at(at, &batch, masks.as_ref());
        if data.loss_reduction == LossReduction::Sum {
            // The sum over the rows with targets is their mean times their number; the curve
            // keeps reporting the mean, comparable across reductions.
            let rows = (batch.size * if data.task.per_step() { batch.steps } else { 1 }) as f32;
            grads.iter_mut().for_each(|g| *g *= rows);
        }
        if !loss.is_finite() || grads.iter().any(|g| !g.is_finite()) {
            let what = if loss.is_finite() { "a gradient" } else { "the training loss" };
            params::set_flat_values(&mut net, &st.flat);
            let message = format!("{what} became {} at step {step}", if loss.is_nan() { "NaN" } else { "infinite" });
            let result = st.result(Status::Diverged, message, (step - 1, total_steps), param_count, None);
            return Ok((result, (net, data)));
        }
        if config.optimizer.clip_grad_norm > 0.0 {
            optim::clip_grad_norm(&mut grads, config.optimizer.clip_grad_norm);
        }
        st.opt.set_lr(st.lr(config, step, total_steps));
        st.opt.step(&mut st.flat, &grads);
        loss_sum += loss as f64;
        loss_count += 1;
        if step == total_steps || (train.eval_every > 0 && step % train.eval_every == 0) {
            params::set_flat_values(&mut net, &st.flat);
            let train_loss = if loss_count > 0 { loss_sum / loss_count as f64 } else { f64::NAN };
            (loss_sum, loss_count) = (0.0, 0);
            let (point, took) = evaluate(&net, step, train_loss, st.started);
            st.eval_seconds += took;
            st.curve.push(point.clone());
            st.observe_plateau(&point, plateau_metric);
            if let Some(s) = st.selection.as_mut() {
                if s.observe(&point, &st.flat, train.save_checkpoint) {
                    steps_done = step;
                    break;
                }
            }
            if step < total_steps {
                pruned = judge(&st.curve);
                if pruned.is_some() {
                    steps_done = step;
                    break;
                }
                if train.resumable {
                    (resume.save)(&st.snapshot(step));
                }
            }
        }
    }
    if let Some(best) = st.selection.as_ref().and_then(|s| s.best_params.as_ref()) {
        params::set_flat_values(&mut net, best);
    }
    let checkpoint = (config.train.save_checkpoint && pruned.is_none()).then(|| checkpoint::checkpoint(config, &net));
    let status = if pruned.is_some() { Status::Pruned } else { Status::Ok };
    let result = st.result(status, pruned.unwrap_or_default(), (steps_done, total_steps), param_count, checkpoint);
    Ok((result, (net, data)))
}
