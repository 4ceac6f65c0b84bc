//! A TPE search in a results folder. The start-up points are the plan's trials; every later
//! point is drawn by the worker that is about to run it, under the folder lock, from the points
//! whose trials (all seeds) have final results by then, and written to `tpe/<group>-<k>.toml`
//! before its trials are claimed, so that a crash, `resume`, `status`, `collect` and other
//! workers (processes, hosts) see the same points. A point's value is the mean of the
//! `[search] metric` over its seeds' results (failed trials and missing values left out; a
//! point without any value is not observed).

use std::collections::HashMap;
use std::fs;

use rnnlab_spec::vocab::layout;
use rnnlab_spec::{short_hash, Plan, Tpe, Trial};

use crate::{Builtin, ResultsDir, ResultsError, TrialRecord};

/// A drawn point as its file holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Drawn {
    /// The group's grid point (`plan` label; empty without a `[grid]`).
    group: String,
    /// The point's index in its group (the start-up points are 0…startup−1).
    index: usize,
    point: toml::Table,
}

fn file_name(group_label: &str, index: usize) -> String {
    format!("{}-{index:04}.toml", short_hash(group_label))
}

/// The points drawn so far, each with its group (read from `tpe/`; files of other specs'
/// groups are ignored).
fn read_drawn(dir: &ResultsDir, tpe: &Tpe) -> Result<Vec<(usize, Drawn)>, ResultsError> {
    let folder = dir.root.join(layout::TPE);
    let entries = match fs::read_dir(&folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(ResultsError::Io { path: folder, error }),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "toml") || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|error| ResultsError::Io { path: path.clone(), error })?;
        let drawn: Drawn = toml::from_str(&text).map_err(|e| ResultsError::Corrupt {
            path: path.clone(),
            message: format!("{e} (a TPE point; delete it to draw it again)"),
        })?;
        if let Some(g) = tpe.groups.iter().position(|g| g.label == drawn.group) {
            out.push((g, drawn));
        }
    }
    out.sort_by_key(|(g, d)| (*g, d.index));
    Ok(out)
}

/// The trials of the points drawn so far (not the plan's start-up trials).
pub fn drawn_trials(dir: &ResultsDir, plan: &Plan) -> Result<Vec<Trial>, ResultsError> {
    let Some(tpe) = &plan.tpe else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (g, d) in read_drawn(dir, tpe)? {
        let trials = tpe.trials(g, &d.point, &Builtin).map_err(|e| ResultsError::Corrupt {
            path: dir.root.join(layout::TPE).join(file_name(&d.group, d.index)),
            message: format!("this point no longer makes a trial: `{}`: {}", e.path.join("."), e.message),
        })?;
        out.extend(trials);
    }
    Ok(out)
}

/// Adds the trials of the points drawn so far to `plan` (what `status`, `collect` and `plan`
/// show of a TPE search).
pub fn extend(plan: &mut Plan, dir: &ResultsDir) -> Result<(), ResultsError> {
    let drawn = drawn_trials(dir, plan)?;
    add_new(&mut plan.trials, drawn);
    Ok(())
}

/// Appends to `trials` those of `more` it does not hold yet (a plan may already hold some
/// drawn points' trials).
pub(crate) fn add_new(trials: &mut Vec<Trial>, more: Vec<Trial>) {
    let known: std::collections::HashSet<String> = trials.iter().map(|t| t.id.clone()).collect();
    trials.extend(more.into_iter().filter(|t| !known.contains(&t.id)));
}

/// Points per group still to draw, given the trials known (start-up and drawn).
pub fn remaining(plan: &Plan, trials: &[Trial]) -> usize {
    let Some(tpe) = &plan.tpe else { return 0 };
    let points = points_by_group(tpe, trials);
    points.iter().map(|p| tpe.budget().saturating_sub(p.len())).sum()
}

/// Each group's points, in order (start-up points in plan order, then drawn ones), with the
/// ids of their trials.
fn points_by_group(tpe: &Tpe, trials: &[Trial]) -> Vec<Vec<(toml::Table, Vec<String>)>> {
    let mut groups: Vec<Vec<(toml::Table, Vec<String>)>> = vec![Vec::new(); tpe.groups.len()];
    for t in trials {
        let Some(g) = tpe.group_of(t) else { continue };
        let point = tpe.point_of(t);
        match groups[g].iter_mut().find(|(p, _)| *p == point) {
            Some((_, ids)) => ids.push(t.id.clone()),
            None => groups[g].push((point, vec![t.id.clone()])),
        }
    }
    groups
}

/// A finished point's value: the mean of the metric over its trials, when every trial has a
/// final result and at least one has a value (`None`: running, or no value; such points
/// count among the bad ones).
fn observed_value(
    metric: &str,
    ids: &[String],
    dir: &ResultsDir,
    records: &HashMap<String, TrialRecord>,
) -> Option<f64> {
    let mut values = Vec::new();
    for id in ids {
        let r = match records.get(id).filter(|r| r.is_final()) {
            Some(r) => r.clone(),
            None => dir.record(id).ok().flatten().filter(TrialRecord::is_final)?,
        };
        values.extend(r.metric(metric).filter(|v| v.is_finite()));
    }
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Draws the next point of the group with the fewest points (ties: the first), writes it to
/// `tpe/` and returns its trials; `None` when every group has its `trials` points (or a group's
/// space has no untried point left). Takes the folder lock: workers draw one at a time.
pub(crate) fn draw_next(
    dir: &ResultsDir,
    plan: &Plan,
    records: &HashMap<String, TrialRecord>,
) -> Result<Option<Vec<Trial>>, ResultsError> {
    let Some(tpe) = &plan.tpe else { return Ok(None) };
    let _lock = dir.lock()?;
    // Other workers may have drawn since this one last looked.
    let mut known = plan.trials.clone();
    add_new(&mut known, drawn_trials(dir, plan)?);
    let groups = points_by_group(tpe, &known);
    let mut order: Vec<usize> = (0..groups.len()).filter(|&g| groups[g].len() < tpe.budget()).collect();
    order.sort_by_key(|&g| groups[g].len());
    for g in order {
        let points: Vec<(toml::Table, Option<f64>)> =
            groups[g].iter().map(|(p, ids)| (p.clone(), observed_value(&tpe.metric, ids, dir, records))).collect();
        let observed = points.iter().filter(|(_, v)| v.is_some()).count();
        let index = points.len();
        let Some(point) = tpe.draw(g, index, &points) else { continue };
        let label = tpe.groups[g].label.clone();
        let folder = dir.root.join(layout::TPE);
        rnnlab_spec::files::real_dir(&folder).map_err(|error| ResultsError::Io { path: folder.clone(), error })?;
        let trials = tpe.trials(g, &point, &Builtin).map_err(|e| ResultsError::Corrupt {
            path: folder.join(file_name(&label, index)),
            message: format!(
                "TPE drew {point} for {}, which makes no trial: `{}`: {}",
                tpe.label(g),
                e.path.join("."),
                e.message
            ),
        })?;
        let drawn = Drawn { group: label.clone(), index, point };
        let text = format!(
            "# Point {index} of the TPE search of `{}`, drawn from {} finished points.\n{}",
            tpe.label(g),
            observed,
            toml::to_string(&drawn).expect("points serialise")
        );
        crate::results::write_atomic(&folder.join(file_name(&label, index)), text.as_bytes())?;
        return Ok(Some(trials));
    }
    Ok(None)
}
