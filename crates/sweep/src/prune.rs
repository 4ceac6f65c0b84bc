//! `[prune]` decisions, made from what the results folder holds, so they work the same when a
//! sweep's trials run in several processes or on a cluster. Every judged trial writes its
//! evaluations of the judged metric to `prune/<id>.csv` (`step,value`, rewritten atomically at
//! each evaluation); a decision reads every trial's file.
//!
//! ASHA (Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning"), with
//! Optuna's promotion rule: rungs at `min_steps · η^k`; at a rung, the trial's value (its first
//! evaluation at or after the rung) goes on if it is at least as good as the `⌊n/η⌋`-th best of
//! the `n` values reported at that rung so far (the best, while `n < η`). Median (Golovin et al.
//! 2017, Optuna's `MedianPruner`): from `min_steps` on, a trial stops when its best value so far
//! is worse than the median of the other trials' values at the same step, once `min_trials`
//! others have reported that step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rnnlab_spec::vocab::layout;
use rnnlab_spec::{files, Plan, PruneConfig, PruneMethod};
use rnnlab_train::CurvePoint;

use crate::results::{ResultsDir, ResultsError};

/// One trial's reported values: `(step, value)` in step order.
type Reports = Vec<(usize, f64)>;

#[derive(Debug)]
pub struct Pruner {
    config: PruneConfig,
    dir: PathBuf,
    /// Each trial's group (its values of `group_by`): trials compete within their group.
    groups: HashMap<String, Vec<String>>,
}

impl Pruner {
    /// The pruner of `plan`'s trials in `results` (creates `prune/`, refusing a link in its place).
    pub fn open(results: &ResultsDir, config: &PruneConfig, plan: &Plan) -> Result<Self, ResultsError> {
        let dir = results.root.join(layout::PRUNE);
        files::real_dir(&dir).map_err(|error| ResultsError::Io { path: dir.clone(), error })?;
        let groups = plan
            .trials
            .iter()
            .map(|t| {
                let mut values: Vec<String> = config
                    .group_by
                    .iter()
                    .map(|g| t.point.iter().find(|(c, _)| c == g).map(|(_, v)| v.clone()).unwrap_or_default())
                    .collect();
                // Hyperband: a trial competes only within its bracket.
                if config.method == PruneMethod::Hyperband {
                    values.push(format!("bracket {}", config.bracket(&t.id)));
                }
                (t.id.clone(), values)
            })
            .collect();
        Ok(Pruner { config: config.clone(), dir, groups })
    }

    /// Records trial `id`'s curve so far and judges it: `Some(reason)` stops it.
    pub fn judge(&self, id: &str, curve: &[CurvePoint]) -> Option<String> {
        let metric = &self.config.metric;
        let mine: Reports =
            curve.iter().filter_map(|p| p.metric(metric).filter(|v| v.is_finite()).map(|v| (p.step, v))).collect();
        let text: String =
            std::iter::once("step,value\n".to_string()).chain(mine.iter().map(|(s, v)| format!("{s},{v}\n"))).collect();
        // A report that cannot be written only weakens the decisions of others.
        let _ = files::write_atomic(&self.dir.join(format!("{id}.csv")), text.as_bytes());
        let group = self.groups.get(id);
        let others = read_reports(&self.dir, id, &|other| self.groups.get(other) == group);
        decide(&self.config, self.config.first_rung(id), &mine, &others)
    }
}

/// The reports of every other trial that `competes` (unreadable files are skipped).
fn read_reports(dir: &Path, except: &str, competes: &dyn Fn(&str) -> bool) -> Vec<Reports> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(id) = name.strip_suffix(".csv") else { continue };
        if id == except || id.starts_with('.') || !competes(id) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
        let reports: Reports = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(',').and_then(|(s, v)| Some((s.parse().ok()?, v.parse().ok()?))))
            .collect();
        out.push(reports);
    }
    out
}

/// The decision for a trial with reports `mine` (its latest last) among `others`.
/// Judges a trial whose first rung is `first_rung` (`min_steps`, or its hyperband bracket's).
pub(crate) fn decide(config: &PruneConfig, first_rung: usize, mine: &Reports, others: &[Reports]) -> Option<String> {
    let &(step, value) = mine.last()?;
    if step < first_rung {
        return None;
    }
    let metric = &config.metric;
    match config.method {
        PruneMethod::Median => {
            let best = mine.iter().map(|r| r.1).reduce(|a, b| if config.better(b, a) { b } else { a })?;
            let mut at_step: Vec<f64> =
                others.iter().filter_map(|o| o.iter().find(|r| r.0 == step).map(|r| r.1)).collect();
            if at_step.len() < config.min_trials() {
                return None;
            }
            at_step.sort_by(f64::total_cmp);
            let n = at_step.len();
            let median = if n % 2 == 1 { at_step[n / 2] } else { (at_step[n / 2 - 1] + at_step[n / 2]) / 2.0 };
            config.better(median, best).then(|| {
                format!("pruned at step {step}: best {metric} {best:.6} is worse than the median {median:.6} of {n} other trials")
            })
        }
        PruneMethod::Asha | PruneMethod::Hyperband => {
            // The rung this evaluation completes: the highest rung at or below `step` that no
            // earlier evaluation of this trial reached.
            let eta = config.reduction_factor();
            let previous = mine.len().checked_sub(2).map_or(0, |i| mine[i].0);
            let mut rung = first_rung;
            let mut reached = None;
            while rung <= step {
                if rung > previous {
                    reached = Some(rung);
                }
                rung = rung.saturating_mul(eta);
            }
            let rung = reached?;
            // Each trial's value at this rung: its first report at or after it.
            let mut competing: Vec<f64> =
                others.iter().filter_map(|o| o.iter().find(|r| r.0 >= rung).map(|r| r.1)).collect();
            competing.push(value);
            competing.sort_by(|a, b| {
                if config.better(*a, *b) {
                    std::cmp::Ordering::Less
                } else if config.better(*b, *a) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            let n = competing.len();
            let k = (n / eta).max(1) - 1;
            let bar = competing[k];
            config.better(bar, value).then(|| {
                format!("pruned at rung {rung} (step {step}): {metric} {value:.6} is not among the best {} of {n} trials there (bar {bar:.6})", k + 1)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> PruneConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn asha_keeps_the_best_third_at_each_rung() {
        let c = config("method = 'asha'\nmetric = 'valid_loss'\nmin_steps = 10");
        // The first trial at a rung goes on (it is the best so far).
        assert_eq!(decide(&c, 10, &vec![(10, 5.0)], &[]), None);
        // Before the first rung nothing is judged.
        assert_eq!(decide(&c, 10, &vec![(5, 9.0)], &[vec![(5, 1.0)]]), None);
        let others: Vec<Reports> = (0..5).map(|i| vec![(10, i as f64)]).collect(); // 0..4
                                                                                   // 6 values at rung 10: the best ⌊6/3⌋ = 2 go on (0 and 1).
        assert_eq!(decide(&c, 10, &vec![(10, 1.0)], &others), None);
        let e = decide(&c, 10, &vec![(10, 1.5)], &others).unwrap();
        assert!(e.contains("rung 10") && e.contains("best 2 of 6"), "{e}");
        // Evaluations between rungs are not judged; the next rung is 30.
        assert_eq!(decide(&c, 10, &vec![(10, 0.5), (20, 9.0)], &others), None);
        let at30: Vec<Reports> = vec![vec![(10, 0.0), (30, 0.1)], vec![(10, 0.2), (40, 0.3)]];
        assert!(
            decide(&c, 10, &vec![(10, 0.5), (20, 0.4), (30, 0.35)], &at30).is_some(),
            "3 values: only the best goes on"
        );
        assert_eq!(decide(&c, 10, &vec![(10, 0.5), (20, 0.4), (30, 0.05)], &at30), None);
        // Higher is better for accuracies.
        let acc = config("method = 'asha'\nmetric = 'valid_accuracy'\nmin_steps = 10\nreduction_factor = 2");
        assert_eq!(decide(&acc, 10, &vec![(10, 0.9)], &[vec![(10, 0.5)]]), None);
        assert!(decide(&acc, 10, &vec![(10, 0.4)], &[vec![(10, 0.5)]]).is_some());
    }

    #[test]
    fn the_median_rule_compares_the_best_so_far_with_the_others_at_the_same_step() {
        let c = config("method = 'median'\nmetric = 'valid_loss'\nmin_steps = 10\nmin_trials = 3");
        let others: Vec<Reports> = [1.0, 2.0, 3.0].iter().map(|&v| vec![(10, 9.0), (20, v)]).collect();
        assert_eq!(decide(&c, 10, &vec![(10, 5.0), (20, 1.5)], &others), None, "1.5 beats the median 2");
        let e = decide(&c, 10, &vec![(10, 5.0), (20, 2.5)], &others).unwrap();
        assert!(e.contains("median 2.000000 of 3"), "{e}");
        // Its best so far counts, not its latest value.
        assert_eq!(decide(&c, 10, &vec![(10, 1.0), (20, 2.5)], &others), None);
        // Too few others at that step, or before min_steps: no decision.
        assert_eq!(decide(&c, 10, &vec![(10, 5.0), (20, 2.5)], &others[..2]), None);
        assert_eq!(decide(&c, 10, &vec![(5, 50.0)], &others), None);
    }

    #[test]
    fn hyperband_judges_each_trial_in_its_bracket_from_that_brackets_first_rung() {
        let c = config("method = 'hyperband'\nmetric = 'valid_loss'\nmin_steps = 10\nmax_steps = 270");
        assert_eq!(c.brackets(), 4, "first rungs 10, 30, 90, 270");
        let ids: Vec<String> = (0..4000).map(|i| format!("{i:010x}")).collect();
        let mut counts = [0usize; 4];
        for id in &ids {
            counts[c.bracket(id)] += 1;
            assert_eq!(c.first_rung(id), [10, 30, 90, 270][c.bracket(id)]);
        }
        // Hyperband's allotment ⌈B/(s+1)·η^s⌉ = 27, 12, 6, 4 of 49: most trials where rungs start early.
        let expected = [27.0, 12.0, 6.0, 4.0].map(|w| w / 49.0 * 4000.0);
        for (n, e) in counts.iter().zip(expected) {
            assert!((*n as f64 - e).abs() < 0.15 * e, "{counts:?} against {expected:?}");
        }
        // A trial of bracket 1 is not judged at step 10, and is at 30.
        let others: Vec<Reports> = (0..5).map(|i| vec![(10, i as f64), (30, i as f64)]).collect();
        assert_eq!(decide(&c, 30, &vec![(10, 9.0)], &others), None);
        assert!(decide(&c, 30, &vec![(10, 9.0), (30, 9.0)], &others).is_some());
        // Other methods have one bracket, starting at min_steps.
        let asha = config("method = 'asha'\nmetric = 'valid_loss'\nmin_steps = 10");
        assert_eq!((asha.brackets(), asha.bracket("abc"), asha.first_rung("abc")), (1, 0, 10));
    }
}
