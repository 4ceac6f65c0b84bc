//! A TPE search's points after the start-up ones: drawn by the sweep when a worker claims the
//! next trial, from the points finished by then ([`Tpe::draw`]), and resolved into trials like
//! any grid point ([`Tpe::trials`]). Each `[grid]` point is its own search (a [`TpeGroup`]).
//! The draw is a pure function of the search's seed, the group, the point's index and the
//! observations, so `--jobs 1` from scratch draws the same points every time; with several
//! workers, which trials have finished when a point is drawn depends on timing.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::ReportConfig;
use crate::config::TrialConfig;
use crate::error::FieldError;
use crate::expand::{apply, display, odometer, point_cells, set_path, Axis};
use crate::plan::{config_tail, point_label, trial_id_from_tail, Trial};
use crate::search::{round4, Dist, TpeSpace};
use crate::tpe::{gamma, suggest, Space};
use crate::vocab::find_metric;
use crate::Catalog;

/// Draws a point at most this many times before giving up on finding one not yet tried.
const MAX_REDRAWS: u64 = 100;

/// `[search] method = "tpe"`: what the sweep needs to draw and resolve points.
#[derive(Debug, Clone)]
pub struct Tpe {
    pub(crate) space: TpeSpace,
    /// The metric optimised (checked: a metric the trials record).
    pub metric: String,
    /// Random points per group (the plan's trials; the rest are drawn).
    pub startup: usize,
    pub groups: Vec<TpeGroup>,
    pub(crate) seeds: Vec<u64>,
}

/// One `[grid]` point's search.
#[derive(Debug, Clone)]
pub struct TpeGroup {
    /// The grid point, as `plan` writes it (empty without a `[grid]`).
    pub label: String,
    /// Its grid cells (`Plan::columns` order; the searched keys empty).
    pub(crate) cells: Vec<(String, String)>,
    /// The trial sections with the grid point written in.
    pub(crate) table: toml::Table,
}

impl Tpe {
    /// Points per group, start-up ones included.
    pub fn budget(&self) -> usize {
        self.space.budget
    }

    /// The searched keys, in their order in `Plan::columns`.
    pub fn keys(&self) -> Vec<&str> {
        self.space.dists.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The group trial `t` belongs to (its grid cells), if any.
    pub fn group_of(&self, t: &Trial) -> Option<usize> {
        let keys = self.keys();
        self.groups.iter().position(|g| {
            g.cells.iter().filter(|(c, _)| !keys.contains(&c.as_str())).all(|cell| t.point.contains(cell))
        })
    }

    /// The searched keys' values of trial `t`.
    pub fn point_of(&self, t: &Trial) -> toml::Table {
        let config = toml::Value::try_from(&t.config).expect("trial configs serialise to TOML");
        self.space
            .dists
            .iter()
            .filter_map(|(key, _)| {
                let v = key.split('.').try_fold(&config, |v, seg| v.as_table().and_then(|t| t.get(seg)))?;
                Some((key.clone(), v.clone()))
            })
            .collect()
    }

    /// The trials (one per seed) of `point` in group `group`.
    pub fn trials(&self, group: usize, point: &toml::Table, catalog: &dyn Catalog) -> Result<Vec<Trial>, FieldError> {
        let g = &self.groups[group];
        let mut table = g.table.clone();
        for (key, value) in point {
            set_path(&mut table, &key.split('.').map(str::to_string).collect::<Vec<_>>(), value);
        }
        let (config, facts) = crate::load::resolve_recorded(&table, catalog, self.seeds[0])?;
        let params = facts.as_ref().map(|f| config.model.param_count(f.input_size, f.output_size));
        let mut cells = g.cells.clone();
        for (column, value) in &mut cells {
            if let Some(v) = point.get(column) {
                *value = display(v);
            }
        }
        let tail = config_tail(&config);
        Ok(self
            .seeds
            .iter()
            .map(|&seed| Trial {
                id: trial_id_from_tail(seed, &tail),
                point: cells.clone(),
                config: TrialConfig { seed, ..config.clone() },
                params,
            })
            .collect())
    }

    /// Point `index` of group `group`, from its `points` so far (in the order they were drawn,
    /// each with its value of the metric, `None` while its trials run: those count among the
    /// bad ones, Optuna's "constant liar"), not one of them; `None` when 100 draws found only
    /// points already taken.
    pub fn draw(&self, group: usize, index: usize, points: &[(toml::Table, Option<f64>)]) -> Option<toml::Table> {
        // Lower is better inside the estimator.
        let sign = if find_metric(&self.metric).is_some_and(|m| m.higher_is_better()) { -1.0 } else { 1.0 };
        let dists: Vec<&Dist> = self.space.dists.iter().map(|(_, d)| d).collect();
        let spaces: Vec<Space> = dists.iter().map(|d| Space::of(d)).collect();
        let internal_point = |p: &toml::Table| -> Option<Vec<f64>> {
            self.space.dists.iter().map(|(key, dist)| internal(dist, p.get(key)?)).collect()
        };
        let finished: Vec<usize> = (0..points.len()).filter(|&i| points[i].1.is_some()).collect();
        let mut ranked = finished.clone();
        ranked.sort_by(|&a, &b| (sign * points[a].1.unwrap_or(0.0)).total_cmp(&(sign * points[b].1.unwrap_or(0.0))));
        let good_set: Vec<usize> = ranked[..gamma(finished.len()).min(ranked.len())].to_vec();
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for (i, (p, _)) in points.iter().enumerate() {
            let Some(x) = internal_point(p) else { continue };
            if good_set.contains(&i) {
                good.push(x);
            } else {
                bad.push(x);
            }
        }
        let label = &self.groups[group].label;
        for attempt in 0..MAX_REDRAWS {
            let name = format!("{}/{label}/{index}/{attempt}", self.space.seed);
            let mut rng = ChaCha8Rng::seed_from_u64(crate::fnv1a(name.as_bytes()));
            let x = suggest(&spaces, &good, &bad, &mut rng);
            let point: toml::Table =
                self.space.dists.iter().zip(&x).map(|((key, dist), &v)| (key.clone(), external(dist, v))).collect();
            if !points.iter().any(|(p, _)| *p == point) {
                return Some(point);
            }
        }
        None
    }

    /// `model.cell=lstm` of group `group` (for messages).
    pub fn label(&self, group: usize) -> String {
        point_label(self.groups[group].cells.iter().map(|(k, v)| (k, v)))
    }
}

/// A TPE search's groups: one per `[grid]` point.
pub(crate) fn groups(
    space: TpeSpace,
    metric: String,
    startup: usize,
    grid: &[Axis],
    trial_sections: &toml::Table,
    columns: &[String],
    seeds: &[u64],
) -> Tpe {
    let groups = odometer(&grid.iter().map(|a| a.values.len()).collect::<Vec<_>>())
        .into_iter()
        .map(|point| {
            let mut table = trial_sections.clone();
            for (axis, &vi) in grid.iter().zip(&point) {
                apply(&mut table, axis, &axis.values[vi]);
            }
            let cells = point_cells(grid, &point, columns);
            TpeGroup { label: point_label(cells.iter().map(|(k, v)| (k, v))), cells, table }
        })
        .collect();
    Tpe { metric, startup, space, groups, seeds: seeds.to_vec() }
}

/// The TPE metric: `[search] metric` or `[report] select`, a validation metric (or
/// `train_loss`) the trials record.
pub(crate) fn tpe_metric(
    space: &TpeSpace,
    report: Option<&ReportConfig>,
    recorded: Option<&[&'static str]>,
) -> Result<String, FieldError> {
    let metric = space.metric.clone().or_else(|| report.and_then(|r| r.select.clone())).ok_or_else(|| {
        FieldError::new(&["metric"], "TPE needs the metric it optimises")
            .with_help("add `metric = \"valid_nll\"` (or set `[report] select`)")
    })?;
    let allowed = crate::vocab::validation_metrics().into_iter().chain(["train_loss"]);
    if !allowed.clone().any(|m| m == metric) {
        return Err(FieldError::new(&["metric"], format!("TPE cannot optimise `{metric}`")).with_help(format!(
            "tuning on the test set leaks it into the result: use one of {}",
            allowed.collect::<Vec<_>>().join(", ")
        )));
    }
    if recorded.is_some_and(|r| !r.contains(&metric.as_str())) {
        return Err(FieldError::new(&["metric"], format!("these trials do not record `{metric}`"))
            .with_help("give the dataset a validation split, or optimise `train_loss`"));
    }
    Ok(metric)
}

/// A value as the estimator sees it (a number, or a choice's index).
fn internal(dist: &Dist, value: &toml::Value) -> Option<f64> {
    match dist {
        Dist::Choice(values) => values.iter().position(|v| v == value).map(|i| i as f64),
        _ => value.as_float().or_else(|| value.as_integer().map(|i| i as f64)),
    }
}

/// The estimator's draw as the key's value (floats to 4 significant digits, as sampled points).
fn external(dist: &Dist, x: f64) -> toml::Value {
    match dist {
        Dist::Choice(values) => values[(x as usize).min(values.len() - 1)].clone(),
        Dist::IntUniform(..) => toml::Value::Integer(x.round() as i64),
        _ => toml::Value::Float(round4(x)),
    }
}
