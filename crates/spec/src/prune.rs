//! `[prune]`: stopping poor trials early, across the trials of a sweep — ASHA (asynchronous
//! successive halving, Li et al. 2020, with Optuna's promotion rule), Hyperband (Li et al. 2018:
//! brackets of ASHA with different first rungs) or the median stopping rule (Golovin et al. 2017, as Optuna's `MedianPruner`). Not part of any trial, so no trial id
//! depends on it; the decisions are made by the sweep (`rnnlab_sweep::prune`) from what the
//! results folder holds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::vocab::{find_metric, validation_metrics};
use crate::FieldError;

/// Which rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PruneMethod {
    /// At rungs `min_steps · reduction_factor^k`, a trial goes on only if its value is among
    /// the best `1 / reduction_factor` of the values reported at that rung so far.
    Asha,
    /// From `min_steps` on, a trial stops when its best value so far is worse than the median
    /// of the other trials' values at the same step (once `min_trials` others have reported).
    Median,
    /// Hyperband (Li et al. 2018): several ASHA brackets, bracket k with its first rung at
    /// `min_steps · reduction_factor^k`, up to `max_steps`; each trial is placed in one bracket
    /// by its id (more trials in the aggressive brackets, as Hyperband allots them) and competes
    /// only there. `rnnlab plan` shows each trial's bracket.
    Hyperband,
}

/// `[prune]`: stop poor trials early, across the sweep. A trial is judged at each evaluation
/// from what the results folder holds (every judged trial writes its values of the metric to
/// `prune/<id>.csv`), so it works the same with one process, several, or a Slurm array. A
/// pruned trial is recorded `pruned` with its curve so far, counts as final, is listed in the
/// report with the reason and left out of the statistics. A decision compares a trial only
/// with the trials that reported before it (as Optuna's pruners do), so decisions depend on
/// the order of reports: with several workers they can differ between runs, and with one worker
/// (`--jobs 1`) trials run one after another, so the first trial of each group reaches every
/// rung alone and always continues, whatever its value (trials are claimed longest first, so
/// in a search over `hidden_size` that is the largest point). Until trials can pause at a rung
/// and resume, give a pruned search two or more workers, or judge it with that in mind. Not
/// part of any trial: adding it changes no trial id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PruneConfig {
    /// Which rule.
    pub method: PruneMethod,
    /// The metric judged (a `valid_*` metric or `train_loss`); its direction is the vocabulary's.
    pub metric: String,
    /// No trial is stopped before this step (ASHA: the first rung).
    pub min_steps: usize,
    /// ASHA and hyperband: the fraction `1 / reduction_factor` of trials that goes on at each
    /// rung (default 3).
    #[serde(default)]
    pub reduction_factor: Option<usize>,
    /// hyperband: the most steps a trial trains (the brackets' first rungs stay below it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<usize>,
    /// median: the other trials that must have reported a step before it is judged (default 5).
    #[serde(default)]
    pub min_trials: Option<usize>,
    /// Grid columns whose values split the sweep into groups that compete only among
    /// themselves, e.g. `["model.cell"]` to find the best of each cell (default: one group).
    #[serde(default)]
    pub group_by: Vec<String>,
}

impl PruneConfig {
    pub fn reduction_factor(&self) -> usize {
        self.reduction_factor.unwrap_or(3)
    }

    pub fn min_trials(&self) -> usize {
        self.min_trials.unwrap_or(5)
    }

    /// hyperband: how many brackets (`⌊log_η(max_steps / min_steps)⌋ + 1`); 1 otherwise.
    pub fn brackets(&self) -> usize {
        let (Some(max), PruneMethod::Hyperband) = (self.max_steps, self.method) else { return 1 };
        (0..).take_while(|&k| k < usize::BITS as usize && self.bracket_rung(k) <= max).count().max(1)
    }

    /// hyperband: trial `id`'s bracket, from its id alone (so every worker agrees), with bracket
    /// k (first rung `min_steps · η^k`) holding a share ⌈B/(s+1)·η^s⌉ of the trials, s = B−1−k,
    /// as Hyperband sizes its brackets; 0 for the other methods.
    pub fn bracket(&self, id: &str) -> usize {
        let b = self.brackets();
        if b == 1 {
            return 0;
        }
        let eta = self.reduction_factor() as f64;
        let weights: Vec<u64> = (0..b)
            .map(|k| {
                let s = (b - 1 - k) as f64;
                (b as f64 / (s + 1.0) * eta.powf(s)).ceil() as u64
            })
            .collect();
        let mut at = crate::fnv1a(id.as_bytes()) % weights.iter().sum::<u64>();
        for (k, w) in weights.iter().enumerate() {
            if at < *w {
                return k;
            }
            at -= w;
        }
        b - 1
    }

    /// The first rung of trial `id`: `min_steps`, or its hyperband bracket's.
    pub fn first_rung(&self, id: &str) -> usize {
        self.bracket_rung(self.bracket(id))
    }

    /// The first rung of bracket `k`: `min_steps · reduction_factor^k`.
    pub fn bracket_rung(&self, k: usize) -> usize {
        let eta = self.reduction_factor();
        (0..k).fold(self.min_steps, |r, _| r.saturating_mul(eta))
    }

    /// Whether `a` is better than `b` on the judged metric.
    pub fn better(&self, a: f64, b: f64) -> bool {
        find_metric(&self.metric).is_some_and(|m| m.better(a, b))
    }

    /// `group_by` names grid columns (`columns`).
    pub(crate) fn check_groups(&self, columns: &[String]) -> Result<(), FieldError> {
        match self.group_by.iter().find(|g| !columns.contains(g)) {
            Some(bad) => Err(FieldError::new(&["group_by"], format!("`{bad}` is not a grid column of this spec"))
                .with_help(format!("name grid columns: {}", columns.join(", ")))),
            None => Ok(()),
        }
    }

    pub fn check(&self) -> Result<(), FieldError> {
        let mut allowed = validation_metrics();
        allowed.push("train_loss");
        if !allowed.contains(&self.metric.as_str()) {
            let help = if self.metric.starts_with("test_") {
                "pruning on the test set leaks it into the search: give the dataset a validation split".to_string()
            } else {
                format!("one of {}", allowed.join(", "))
            };
            return Err(FieldError::new(&["metric"], format!("`{}` cannot be judged", self.metric)).with_help(help));
        }
        if self.min_steps == 0 {
            return Err(FieldError::new(&["min_steps"], "must be at least 1"));
        }
        if self.method != PruneMethod::Hyperband && self.max_steps.is_some() {
            return Err(FieldError::new(&["max_steps"], "is used by hyperband only").with_help("remove `max_steps`"));
        }
        if self.method == PruneMethod::Hyperband {
            match self.max_steps {
                None => {
                    return Err(FieldError::new(&["max_steps"], "hyperband needs the most steps a trial trains")
                        .with_help(format!("e.g. `max_steps = {}`", self.min_steps * 27)))
                }
                Some(m) if m < self.min_steps => {
                    return Err(FieldError::new(
                        &["max_steps"],
                        format!("must be at least min_steps ({})", self.min_steps),
                    ))
                }
                _ => {}
            }
        }
        match (self.method, self.reduction_factor, self.min_trials) {
            (PruneMethod::Asha | PruneMethod::Hyperband, Some(r), _) if r < 2 => {
                Err(FieldError::new(&["reduction_factor"], "must be at least 2"))
            }
            (PruneMethod::Asha | PruneMethod::Hyperband, _, Some(_)) => {
                Err(FieldError::new(&["min_trials"], "is used by the median rule only")
                    .with_help("remove `min_trials`"))
            }
            (PruneMethod::Median, Some(_), _) => {
                Err(FieldError::new(&["reduction_factor"], "is used by ASHA and hyperband only")
                    .with_help("remove `reduction_factor`"))
            }
            (PruneMethod::Median, _, Some(0)) => Err(FieldError::new(&["min_trials"], "must be at least 1")),
            _ => Ok(()),
        }
    }
}
