//! Every metric a spec names must be one its trials record: a regression task has no
//! `test_accuracy`, a dataset without a validation split no `valid_*` metric. The catalog says
//! what each grid point records ([`crate::Catalog::metrics`]); the trial's own keys
//! (early stopping, the plateau schedule) are checked per grid point, the sweep's (`[report]`,
//! `[prune]`, `[[published]]`) against what every grid point records.

use crate::config::{Published, ReportConfig, TrialConfig};
use crate::error::{FieldError, SpecError};
use crate::locate::Locator;
use crate::prune::PruneConfig;

/// `Some(error at path)` when `metric` is a metric rnnlab knows but these trials do not record.
fn unrecorded(metric: &str, recorded: &[&str], path: &[&str]) -> Option<FieldError> {
    if recorded.contains(&metric) || crate::vocab::find_metric(metric).is_none() {
        return None; // recorded, or not a metric at all (the vocabulary check says so)
    }
    let why = if metric.starts_with("valid_") && !recorded.iter().any(|m| m.starts_with("valid_")) {
        "this dataset has no validation split".to_string()
    } else {
        "this task does not record it (accuracy is recorded for classification, MSE for regression, NLL for \
         multi-label tasks)"
            .to_string()
    };
    let help = if why.contains("validation") {
        format!(
            "give the dataset a validation split (its plugin's key, see docs/spec.md), or use one of {}",
            recorded.join(", ")
        )
    } else {
        format!("these trials record {}", recorded.join(", "))
    };
    Some(FieldError::new(path, format!("`{metric}` is not recorded: {why}")).with_help(help))
}

/// The metrics a trial's own keys watch: early stopping's and the plateau schedule's.
pub(crate) fn check_trial(config: &TrialConfig, recorded: &[&str]) -> Result<(), FieldError> {
    if let Some(e) = &config.train.early_stopping {
        if let Some(err) = unrecorded(&e.metric, recorded, &["train", "early_stopping", "metric"]) {
            return Err(err);
        }
    }
    if let Some(metric) = config.optimizer.schedule.as_ref().and_then(|s| s.metric.as_ref()) {
        if let Some(err) = unrecorded(metric, recorded, &["optimizer", "schedule", "metric"]) {
            return Err(err);
        }
    }
    Ok(())
}

/// The metrics `[report]`, `[prune]` and `[[published]]` name, against what every grid point
/// records (`recorded`, the intersection).
pub(crate) fn check_sweep(
    report: &ReportConfig,
    prune: Option<&PruneConfig>,
    published: &[Published],
    recorded: &[&str],
    base: &Locator,
    errors: &mut Vec<SpecError>,
) {
    let success = report.success_rule().ok().flatten().map(|r| r.metric);
    let mut named: Vec<(String, Vec<String>)> = Vec::new();
    for (key, metric) in [("primary", &report.primary), ("select", &report.select), ("success", &success)] {
        if let Some(m) = metric {
            named.push((m.clone(), vec!["report".into(), key.into()]));
        }
    }
    if let Some(p) = prune {
        named.push((p.metric.clone(), vec!["prune".into(), "metric".into()]));
    }
    for (i, entry) in published.iter().enumerate() {
        named.push((entry.metric.clone(), vec!["published".into(), format!("[{i}]"), "metric".into()]));
    }
    for (metric, path) in named {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        if let Some(err) = unrecorded(&metric, recorded, &path) {
            errors.push(base.error(err, &[], None));
        }
    }
}
