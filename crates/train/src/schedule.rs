//! Learning-rate schedules over optimizer steps, with PyTorch's definitions: a `LinearLR`
//! warm-up, then `StepLR`, `ExponentialLR` or `CosineAnnealingLR` (chained as `SequentialLR`
//! chains them: the schedule's own count starts at 0 when the warm-up ends). Checked against
//! PyTorch's rates in `tests/schedules.rs` (nn's `tests/golden/schedules.json`). `plateau` depends on the
//! evaluations, not the step: [`Plateau`] carries its state through a trial.

use rnnlab_spec::vocab::{find_metric, Direction};
use rnnlab_spec::{ScheduleConfig, ScheduleKind, ThresholdMode};

/// The learning rate of optimizer step `step` (0 for the first step) of `total_steps`, given
/// the base rate `lr`; `lr` itself without a schedule.
pub fn lr_at(lr: f64, schedule: Option<&ScheduleConfig>, step: usize, total_steps: usize) -> f64 {
    let Some(s) = schedule else { return lr };
    let warmup = s.warmup_steps;
    if step < warmup {
        let f = s.warmup_start_factor();
        return lr * (f + (1.0 - f) * step as f64 / warmup as f64);
    }
    let t = (step - warmup) as f64;
    match s.kind {
        // The rate moves with the evaluations: [`Plateau`].
        ScheduleKind::Constant | ScheduleKind::Plateau => lr,
        ScheduleKind::Step => lr * s.gamma().powi(((step - warmup) / s.step_size.unwrap_or(1).max(1)) as i32),
        ScheduleKind::Exponential => lr * s.gamma().powf(t),
        ScheduleKind::Cosine => {
            let t_max = s.t_max.unwrap_or(total_steps.saturating_sub(warmup)).max(1) as f64;
            s.min_lr + (lr - s.min_lr) * (1.0 + (std::f64::consts::PI * t / t_max).cos()) / 2.0
        }
    }
}

/// `ReduceLROnPlateau`'s state: the rate, the best value of the watched metric so far, and
/// the evaluations since it last improved. Step it with each evaluation's value.
#[derive(Debug, Clone)]
pub struct Plateau {
    lr: f64,
    factor: f64,
    min_lr: f64,
    patience: usize,
    cooldown: usize,
    threshold: f64,
    mode: ThresholdMode,
    higher: bool,
    best: f64,
    bad: usize,
    cooldown_left: usize,
}

impl Plateau {
    /// The plateau schedule of `schedule`, starting at `lr`; `None` for the other kinds.
    pub fn new(lr: f64, schedule: Option<&ScheduleConfig>) -> Option<Plateau> {
        let s = schedule.filter(|s| s.kind == ScheduleKind::Plateau)?;
        let higher = s.metric.as_deref().and_then(find_metric).is_some_and(|m| m.direction == Direction::Higher);
        Some(Plateau {
            lr,
            factor: s.gamma(),
            min_lr: s.min_lr,
            patience: s.patience(),
            cooldown: s.cooldown,
            threshold: s.threshold(),
            mode: s.threshold_mode(),
            higher,
            best: if higher { f64::NEG_INFINITY } else { f64::INFINITY },
            bad: 0,
            cooldown_left: 0,
        })
    }

    /// The current rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    fn is_better(&self, value: f64) -> bool {
        let best = self.best;
        match (self.higher, self.mode) {
            (false, ThresholdMode::Rel) => value < best * (1.0 - self.threshold),
            (false, ThresholdMode::Abs) => value < best - self.threshold,
            (true, ThresholdMode::Rel) => value > best * (self.threshold + 1.0),
            (true, ThresholdMode::Abs) => value > best + self.threshold,
        }
    }

    /// Takes in one evaluation's value of the metric (NaN counts as no improvement) and returns
    /// the rate from now on: PyTorch's `scheduler.step(value)`.
    pub fn step(&mut self, value: f64) -> f64 {
        if self.is_better(value) {
            (self.best, self.bad) = (value, 0);
        } else {
            self.bad += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad = 0;
        }
        if self.bad > self.patience {
            let reduced = (self.lr * self.factor).max(self.min_lr);
            // PyTorch's eps: changes smaller than 1e-8 are ignored.
            if self.lr - reduced > 1e-8 {
                self.lr = reduced;
            }
            (self.cooldown_left, self.bad) = (self.cooldown, 0);
        }
        self.lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(text: &str) -> ScheduleConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn without_a_schedule_the_rate_is_constant() {
        assert_eq!(lr_at(0.1, None, 57, 100), 0.1);
    }

    #[test]
    fn warm_up_rises_linearly_to_the_base_rate_then_the_schedule_starts_from_it() {
        let s = schedule("kind = 'cosine'\nwarmup_steps = 4\nwarmup_start_factor = 0.25");
        let lrs: Vec<f64> = (0..6).map(|k| lr_at(1.0, Some(&s), k, 12)).collect();
        assert_eq!(&lrs[..5], [0.25, 0.4375, 0.625, 0.8125, 1.0]);
        // t_max defaults to the 8 steps after the warm-up: halfway at step 4 + 4.
        assert!((lr_at(1.0, Some(&s), 8, 12) - 0.5).abs() < 1e-12);
    }
}
