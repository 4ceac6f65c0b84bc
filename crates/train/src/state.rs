//! What a trial carries from step to step, all of it in a snapshot: the flat parameters, the
//! optimizer, the batch order, the dropout and weight-noise streams, the curve so far, early
//! stopping's selection, the plateau schedule and the clocks. [`State::restore`] puts it where
//! an uninterrupted run had it after a snapshot's step; [`State::snapshot`] writes it down.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

use rnnlab_nn::optim::{self, Optimizer};
use rnnlab_spec::{Status, TrialConfig};

use crate::selection::Selection;
use crate::{batches, checkpoint, noise, CurvePoint, Snapshot, TrialResult};

pub(crate) struct State<'a> {
    pub(crate) flat: Vec<f32>,
    pub(crate) opt: Box<dyn Optimizer>,
    pub(crate) order: batches::Order,
    pub(crate) dropout_rng: ChaCha12Rng,
    pub(crate) weight_noise: noise::WeightNoise,
    pub(crate) curve: Vec<CurvePoint>,
    pub(crate) eval_seconds: f64,
    pub(crate) selection: Option<Selection<'a>>,
    pub(crate) plateau: Option<crate::schedule::Plateau>,
    /// When the trial started (moved back by a resumed trial's earlier wall time).
    pub(crate) started: Instant,
    pub(crate) resumed_from: Option<usize>,
}

impl<'a> State<'a> {
    /// The state before the first step, from the initial parameters `flat` and `n` training
    /// sequences.
    pub(crate) fn new(config: &'a TrialConfig, flat: Vec<f32>, n: usize, started: Instant) -> State<'a> {
        State {
            opt: optim::build(&config.optimizer, flat.len()),
            flat,
            order: batches::Order::new(n, config.train.batch_size, config.seed),
            // Dropout masks come from their own stream, so turning dropout on leaves the batch
            // order (and everything else a seed decides) as it was.
            dropout_rng: ChaCha12Rng::seed_from_u64(config.seed ^ 0x0064_726f_706f_7574), // "dropout"
            weight_noise: noise::WeightNoise::new(config.train.weight_noise, config.seed),
            curve: Vec::new(),
            eval_seconds: 0.0,
            selection: config.train.early_stopping.as_ref().map(Selection::new),
            plateau: crate::schedule::Plateau::new(config.optimizer.lr, config.optimizer.schedule.as_ref()),
            started,
            resumed_from: None,
        }
    }

    /// Continues from snapshot `s`, when it fits this trial (a damaged file or another network's
    /// is ignored, and so is one whose optimizer state the optimizer refuses: the trial starts
    /// over with a fresh optimizer).
    pub(crate) fn restore(
        &mut self,
        config: &TrialConfig,
        s: Snapshot,
        total_steps: usize,
        plateau_metric: Option<&str>,
    ) {
        let n = self.flat.len();
        let fits = s.params.len() == n
            && s.step < total_steps
            && s.curve.last().is_some_and(|p| p.step == s.step)
            && s.best_params.as_ref().is_none_or(|b| b.len() == n)
            && [s.wall_seconds, s.eval_seconds].iter().all(|t| t.is_finite() && *t >= 0.0);
        if !fits {
            return;
        }
        if self.opt.restore(s.optimizer, n).is_err() {
            self.opt = optim::build(&config.optimizer, n);
            return;
        }
        self.flat = s.params;
        self.dropout_rng.set_word_pos(s.dropout_words);
        self.weight_noise.seek(s.noise_words);
        self.order.skip(s.step);
        // Early stopping and the plateau schedule are replayed from the curve.
        for point in &s.curve {
            self.observe_plateau(point, plateau_metric);
            if let Some(sel) = self.selection.as_mut() {
                sel.observe(point, &[], false);
            }
        }
        if let Some(sel) = self.selection.as_mut() {
            sel.best_params = s.best_params;
        }
        self.curve = s.curve;
        self.eval_seconds = s.eval_seconds;
        self.started =
            self.started.checked_sub(std::time::Duration::from_secs_f64(s.wall_seconds)).unwrap_or(self.started);
        self.resumed_from = Some(s.step);
    }

    /// Feeds an evaluation to the plateau schedule, if the trial has one.
    pub(crate) fn observe_plateau(&mut self, point: &CurvePoint, metric: Option<&str>) {
        if let (Some(p), Some(metric)) = (self.plateau.as_mut(), metric) {
            p.step(point.metric(metric).unwrap_or(f64::NAN));
        }
    }

    /// The learning rate of step `step` (from 1).
    pub(crate) fn lr(&self, config: &TrialConfig, step: usize, total_steps: usize) -> f64 {
        match &self.plateau {
            Some(p) => p.lr(),
            None => {
                crate::schedule::lr_at(config.optimizer.lr, config.optimizer.schedule.as_ref(), step - 1, total_steps)
            }
        }
    }

    /// The snapshot after step `step`.
    pub(crate) fn snapshot(&self, step: usize) -> Snapshot {
        Snapshot {
            step,
            params: self.flat.clone(),
            optimizer: self.opt.state(),
            dropout_words: self.dropout_rng.get_word_pos(),
            noise_words: self.weight_noise.words(),
            curve: self.curve.clone(),
            best_params: self.selection.as_ref().and_then(|s| s.best_params.clone()),
            eval_seconds: self.eval_seconds,
            wall_seconds: self.started.elapsed().as_secs_f64(),
        }
    }

    /// The trial's result, after `steps_done` of `planned_steps` steps.
    pub(crate) fn result(
        self,
        status: Status,
        message: String,
        (steps_done, planned_steps): (usize, usize),
        param_count: usize,
        checkpoint: Option<checkpoint::Checkpoint>,
    ) -> TrialResult {
        TrialResult {
            status,
            message,
            curve: self.curve,
            selected_step: self.selection.and_then(|s| s.best_step),
            steps_done,
            planned_steps,
            param_count,
            wall_seconds: self.started.elapsed().as_secs_f64(),
            eval_seconds: self.eval_seconds,
            checkpoint,
            resumed_from: self.resumed_from,
        }
    }
}
