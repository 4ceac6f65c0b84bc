//! Early stopping's selection of the best validation evaluation, and the check that a
//! validation metric something watches exists for a dataset.

use crate::{metrics, CurvePoint, TrainError};

/// Early stopping's bookkeeping: the best validation value so far, its step, and (when a
/// checkpoint will be saved) its parameters.
pub(crate) struct Selection<'a> {
    rule: &'a rnnlab_spec::EarlyStopping,
    best: Option<f64>,
    pub(crate) best_step: Option<usize>,
    pub(crate) best_params: Option<Vec<f32>>,
    since_best: usize,
}

impl<'a> Selection<'a> {
    pub(crate) fn new(rule: &'a rnnlab_spec::EarlyStopping) -> Self {
        Selection { rule, best: None, best_step: None, best_params: None, since_best: 0 }
    }

    /// Takes in an evaluation; true when training should stop.
    pub(crate) fn observe(&mut self, point: &CurvePoint, params: &[f32], keep_params: bool) -> bool {
        let value = point.metric(&self.rule.metric).unwrap_or(f64::NAN);
        if self.rule.improves(value, self.best) {
            (self.best, self.best_step, self.since_best) = (Some(value), Some(point.step), 0);
            if keep_params {
                self.best_params = Some(params.to_vec());
            }
        } else {
            self.since_best += 1;
        }
        self.rule.patience.is_some_and(|p| self.since_best >= p)
    }
}

/// Whether `metric` (which `who` watches) exists for this dataset: a validation split, and a
/// measure the task records.
pub(crate) fn check_validation_metric(
    who: &str,
    metric: &str,
    data: &rnnlab_data::Dataset,
    plugin: &str,
) -> Result<(), TrainError> {
    let fail = |m: String| Err(TrainError::Data(rnnlab_data::DataError::Other(m)));
    let Some(valid) = &data.valid else {
        return fail(format!(
            "{who} watches `{metric}`, but this `{plugin}` dataset has no validation split; ask the \
             plugin for one (`rnnlab plugins` lists its keys: n_valid, n_validation, valid, valid_fraction)"
        ));
    };
    if !metrics::Metrics::records(data.task, metric) || valid.len == 0 {
        return fail(format!("{who} watches `{metric}`, which this task does not record"));
    }
    Ok(())
}
