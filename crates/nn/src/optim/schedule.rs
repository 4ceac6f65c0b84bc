//! Learning-rate schedules over optimizer steps, with PyTorch's definitions: a `LinearLR`
//! warm-up, then `StepLR`, `ExponentialLR` or `CosineAnnealingLR` (chained as `SequentialLR`
//! chains them: the schedule's own count starts at 0 when the warm-up ends). Checked against
//! PyTorch's rates in `tests/golden.rs` (`schedules.json`).

use rnnlab_spec::{ScheduleConfig, ScheduleKind};

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
        ScheduleKind::Constant => lr,
        ScheduleKind::Step => lr * s.gamma().powi(((step - warmup) / s.step_size.unwrap_or(1).max(1)) as i32),
        ScheduleKind::Exponential => lr * s.gamma().powf(t),
        ScheduleKind::Cosine => {
            let t_max = s.t_max.unwrap_or(total_steps.saturating_sub(warmup)).max(1) as f64;
            s.min_lr + (lr - s.min_lr) * (1.0 + (std::f64::consts::PI * t / t_max).cos()) / 2.0
        }
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
