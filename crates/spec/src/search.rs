//! `[search]`: points sampled from a search space — random (ChaCha8 from `seed`) or Sobol
//! (Owen-scrambled, `sobol_burley`) — or the cross product of `choice` lists (`grid`), or a
//! TPE search (`tpe`: its start-up points are random ones; the rest are drawn by the sweep as
//! trials finish, see [`crate::sequential`]). The
//! points become one joint axis beside the `[grid]` axes, so each point × grid point × seed is a
//! trial and the sampled values are grid columns: trial ids, resume, `plan` and the report work
//! as for grids. The points are a pure function of the spec (keys in sorted order, values drawn
//! in a fixed order, floats rounded to 4 significant digits, repeats skipped).

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::{FieldError, SpecError};
use crate::expand::{display, Axis, GRIDABLE};
use crate::locate::Locator;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Method {
    /// Every combination of the space's `choice` lists.
    Grid,
    /// Independent uniform draws (ChaCha8 from `seed`).
    Random,
    /// A scrambled Sobol sequence (Owen scrambling from `seed`): covers the space more evenly.
    Sobol,
    /// Tree-structured Parzen estimator (Optuna's default sampler): `startup` random points,
    /// then each point drawn, when a worker claims it, from the points finished by then. Each
    /// `[grid]` point (e.g. each cell) is its own search of `trials` points.
    Tpe,
}

/// `[search]`: sampled points of a search space, each crossed with `[grid]` and the seeds. A
/// sampled point is a grid point like any other: its keys are grid columns in `plan`,
/// runs.csv and the report (which plots the primary metric against each numeric key), and its
/// trial ids follow from its values. The points are a pure function of the spec (keys in
/// sorted order, floats rounded to 4 significant digits, repeats skipped), so re-running a
/// search resumes it, and `trials = 40` after `trials = 20` keeps the first 20 points. A TPE
/// search's points after its random start-up ones depend on the results so far: each is drawn
/// when a worker claims it and kept in the results folder's `tpe/` (docs/search.md).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchConfig {
    /// How points are drawn.
    method: Method,
    /// Points to sample (random, sobol, tpe: required there; tpe: per `[grid]` point).
    trials: Option<usize>,
    /// The sampler's seed (not the trials' seeds).
    #[serde(default)]
    seed: u32,
    /// tpe: random points before the estimator takes over (default 10, Optuna's; at most
    /// `trials`).
    #[serde(default)]
    startup: Option<usize>,
    /// tpe: the metric the search optimises, in its direction (a `valid_*` metric or
    /// `train_loss`; default: `[report] select`). A point's value is the mean over its seeds.
    #[serde(default)]
    metric: Option<String>,
    /// `[search.space]`: dotted keys (as grid axes, not also in `[grid]`) and their
    /// distributions: `{ log_uniform = [low, high] }`, `{ uniform = [low, high] }`,
    /// `{ int_uniform = [low, high] }` or `{ choice = [a, b, …] }`.
    #[serde(default)]
    #[schemars(with = "crate::reference::AnyTable")]
    space: toml::Table,
}

impl SearchConfig {
    /// The distribution of `key` of `[search.space]`, checked: a searchable dotted key, not
    /// also a `[grid]` axis, a known distribution (`choice` only for the grid method).
    fn key_dist(&self, key: &str, grid_axes: &[Axis]) -> Result<(String, Dist), FieldError> {
        let at = ["space", key];
        let path: Vec<&str> = key.split('.').collect();
        if path.len() < 2 || !GRIDABLE.contains(&path[0]) || path.iter().any(|s| s.is_empty()) {
            let mut e = FieldError::new(&at, format!("`{key}` cannot be searched"))
                .with_help(format!("a dotted key in one of {}, e.g. \"optimizer.lr\"", GRIDABLE.join(", ")));
            e.at_key = true;
            return Err(e);
        }
        // A section axis (`"model" = [{...}, ...]`) collides only where one of its tables sets
        // the key (the section's other keys keep their base value, which the search may set).
        let section_sets = |a: &crate::expand::Axis| {
            a.path.len() == 1
                && a.path[0] == path[0]
                && a.values
                    .iter()
                    .any(|v| path[1..].iter().try_fold(v, |v, seg| v.as_table().and_then(|t| t.get(*seg))).is_some())
        };
        if grid_axes.iter().any(|a| a.name == key || section_sets(a)) {
            return Err(FieldError::new(&at, format!("`{key}` is also set by a [grid] axis"))
                .with_help("search it or grid it, not both"));
        }
        let d = Dist::read(&self.space[key]).map_err(|m| FieldError::new(&at, m))?;
        if self.method == Method::Grid && !matches!(d, Dist::Choice(_)) {
            return Err(FieldError::new(&at, "the grid method takes `choice` lists only")
                .with_help("use method = \"random\", \"sobol\" or \"tpe\" to sample ranges"));
        }
        Ok((key.to_string(), d))
    }

    /// TPE's random start-up points (of `trials`); the TPE-only keys refused elsewhere.
    fn startup_points(&self, trials: usize) -> Result<usize, FieldError> {
        if self.method != Method::Tpe && (self.startup.is_some() || self.metric.is_some()) {
            let key = if self.startup.is_some() { "startup" } else { "metric" };
            return Err(FieldError::new(&[key], "only the tpe method takes it").with_help(format!("remove `{key}`")));
        }
        let startup = self.startup.unwrap_or(10).min(trials);
        if self.method == Method::Tpe && startup == 0 {
            return Err(FieldError::new(&["startup"], "TPE needs at least one random start-up point")
                .with_help("e.g. `startup = 4`"));
        }
        Ok(startup)
    }
}

/// The keys of `[search]`, for the spec reference.
pub fn schema() -> schemars::Schema {
    crate::reference::schema_of::<SearchConfig>()
}

/// One key's distribution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dist {
    LogUniform(f64, f64),
    Uniform(f64, f64),
    IntUniform(i64, i64),
    Choice(Vec<toml::Value>),
}

const DISTRIBUTIONS: &str = "{ log_uniform = [low, high] }, { uniform = [low, high] }, \
                             { int_uniform = [low, high] }, { choice = [a, b, …] }";

/// Draws per point at most this many times the points asked for before giving up on finding
/// new ones (a space with fewer distinct points than `trials`).
const MAX_DRAWS_PER_POINT: usize = 100;

impl Dist {
    fn read(value: &toml::Value) -> Result<Dist, String> {
        let Some(t) = value.as_table().filter(|t| t.len() == 1) else {
            return Err(format!("a distribution is one of {DISTRIBUTIONS}"));
        };
        let (kind, args) = t.iter().next().expect("one entry");
        let list = args.as_array().ok_or_else(|| format!("`{kind}` takes a list"))?;
        let pair = |what: &str| -> Result<(f64, f64), String> {
            let nums: Vec<f64> =
                list.iter().filter_map(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64))).collect();
            match nums[..] {
                [lo, hi] if nums.len() == list.len() && lo.is_finite() && hi.is_finite() && lo < hi => Ok((lo, hi)),
                _ => Err(format!("`{what}` takes [low, high] with low < high")),
            }
        };
        match kind.as_str() {
            "uniform" => pair("uniform").map(|(a, b)| Dist::Uniform(a, b)),
            "log_uniform" => match pair("log_uniform")? {
                (a, b) if a > 0.0 => Ok(Dist::LogUniform(a, b)),
                _ => Err("`log_uniform` needs low > 0".into()),
            },
            "int_uniform" => match list.iter().map(toml::Value::as_integer).collect::<Option<Vec<i64>>>().as_deref() {
                Some(&[lo, hi]) if lo < hi => Ok(Dist::IntUniform(lo, hi)),
                _ => Err("`int_uniform` takes [low, high], integers with low < high".into()),
            },
            "choice" if !list.is_empty() => Ok(Dist::Choice(list.clone())),
            "choice" => Err("`choice` needs at least one value".into()),
            other => Err(format!("unknown distribution `{other}`; use one of {DISTRIBUTIONS}")),
        }
    }

    /// The value at `u` in [0, 1).
    pub(crate) fn at(&self, u: f64) -> toml::Value {
        let u = u.clamp(0.0, 1.0 - f64::EPSILON);
        match self {
            Dist::Uniform(a, b) => toml::Value::Float(round4(a + u * (b - a))),
            Dist::LogUniform(a, b) => toml::Value::Float(round4((a.ln() + u * (b.ln() - a.ln())).exp())),
            Dist::IntUniform(a, b) => {
                let span = (b - a + 1) as f64;
                toml::Value::Integer((a + (u * span).floor() as i64).min(*b))
            }
            Dist::Choice(values) => values[((u * values.len() as f64) as usize).min(values.len() - 1)].clone(),
        }
    }
}

/// `x` to 4 significant digits (sampled values are read by people, and written in runs.csv).
pub(crate) fn round4(x: f64) -> f64 {
    format!("{x:.3e}").parse().unwrap_or(x)
}

/// What a TPE `[search]` leaves for the sweep to draw (the start-up points are the axis).
#[derive(Debug, Clone)]
pub(crate) struct TpeSpace {
    pub(crate) dists: Vec<(String, Dist)>,
    pub(crate) budget: usize,
    pub(crate) seed: u32,
    pub(crate) metric: Option<String>,
}

/// Reads `[search]` into a joint axis (each value a table of dotted key → value) and, for
/// TPE, what the sweep draws from; `None` without a `[search]` section or on errors (pushed to
/// `errors`).
pub(crate) fn read_search(
    root: &toml::Table,
    grid_axes: &[Axis],
    base: &Locator,
    errors: &mut Vec<SpecError>,
) -> Option<(Axis, Option<TpeSpace>)> {
    let section = root.get("search")?.as_table()?.clone();
    let push = |errors: &mut Vec<SpecError>, e: FieldError| errors.push(base.error(e.within(&["search"]), &[], None));
    let config: SearchConfig = match crate::decode(&section) {
        Ok(c) => c,
        Err(e) => {
            push(errors, e);
            return None;
        }
    };
    let mut keys: Vec<&String> = config.space.keys().collect();
    keys.sort();
    if keys.is_empty() {
        push(
            errors,
            FieldError::new(&["space"], "names no keys")
                .with_help("e.g. \"optimizer.lr\" = { log_uniform = [1e-4, 1e-1] }"),
        );
        return None;
    }
    let dists: Vec<(String, Dist)> =
        keys.iter().filter_map(|key| config.key_dist(key, grid_axes).map_err(|e| push(errors, e)).ok()).collect();
    let trials = match (config.method, config.trials) {
        (Method::Grid, Some(_)) => {
            push(
                errors,
                FieldError::new(&["trials"], "the grid method takes every combination").with_help("remove `trials`"),
            );
            return None;
        }
        (Method::Grid, None) => 0,
        (_, None | Some(0)) => {
            push(errors, FieldError::new(&["trials"], "give the number of points to sample (at least 1)"));
            return None;
        }
        (_, Some(n)) => n,
    };
    if dists.len() != keys.len() {
        return None;
    }
    let startup = match config.startup_points(trials) {
        Ok(n) => n,
        Err(e) => {
            push(errors, e);
            return None;
        }
    };
    if config.method == Method::Sobol && dists.len() > sobol_burley::NUM_DIMENSIONS as usize {
        push(
            errors,
            FieldError::new(&["space"], format!("Sobol points have at most {} keys", sobol_burley::NUM_DIMENSIONS)),
        );
        return None;
    }
    let values = match config.method {
        Method::Grid => grid_points(&dists),
        Method::Tpe => match sample(Method::Random, &dists, startup, config.seed) {
            Ok(v) => v,
            Err(m) => {
                push(errors, FieldError::new(&["startup"], m));
                return None;
            }
        },
        method => match sample(method, &dists, trials, config.seed) {
            Ok(v) => v,
            Err(m) => {
                push(errors, FieldError::new(&["trials"], m));
                return None;
            }
        },
    };
    let tpe = (config.method == Method::Tpe).then(|| TpeSpace {
        dists: dists.clone(),
        budget: trials,
        seed: config.seed,
        metric: config.metric.clone(),
    });
    Some((Axis { name: "search".into(), path: Vec::new(), values, from_override: None }, tpe))
}

fn point(dists: &[(String, Dist)], mut value_of: impl FnMut(usize, &Dist) -> toml::Value) -> toml::Value {
    toml::Value::Table(dists.iter().enumerate().map(|(d, (k, dist))| (k.clone(), value_of(d, dist))).collect())
}

/// `trials` distinct points: random (ChaCha8, one draw per key in key order) or Sobol (point
/// index, key index as dimension).
fn sample(method: Method, dists: &[(String, Dist)], trials: usize, seed: u32) -> Result<Vec<toml::Value>, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed as u64);
    let (mut out, mut seen) = (Vec::new(), HashSet::new());
    let mut max_draws = trials.saturating_mul(MAX_DRAWS_PER_POINT);
    if method == Method::Sobol {
        // sobol_burley's sequences are 2^16 points long.
        max_draws = max_draws.min(1 << 16);
    }
    let mut draw = 0usize;
    while out.len() < trials {
        if draw == max_draws {
            return Err(format!(
                "the space has fewer than {trials} distinct points: {} found in {draw} draws",
                out.len()
            ));
        }
        let p = match method {
            Method::Sobol => point(dists, |d, dist| dist.at(sobol_burley::sample(draw as u32, d as u32, seed) as f64)),
            _ => point(dists, |_, dist| dist.at(rng.gen::<f64>())),
        };
        draw += 1;
        let text = p.as_table().expect("a table").values().map(display).collect::<Vec<_>>().join("\u{1f}");
        if seen.insert(text) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Every combination of the `choice` lists (the last key fastest).
fn grid_points(dists: &[(String, Dist)]) -> Vec<toml::Value> {
    let sizes: Vec<usize> = dists.iter().map(|(_, d)| if let Dist::Choice(v) = d { v.len() } else { 1 }).collect();
    crate::expand::odometer(&sizes)
        .into_iter()
        .map(|idx| point(dists, |d, dist| if let Dist::Choice(v) = dist { v[idx[d]].clone() } else { unreachable!() }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(text: &str) -> Result<Dist, String> {
        Dist::read(&text.parse::<toml::Table>().unwrap()["d"])
    }

    #[test]
    fn distributions_map_the_unit_interval_onto_their_ranges() {
        let log = dist("d = { log_uniform = [1e-4, 1e-1] }").unwrap();
        assert_eq!(log.at(0.0).as_float(), Some(1e-4));
        assert_eq!(log.at(0.5).as_float(), Some(0.003162));
        let int = dist("d = { int_uniform = [1, 3] }").unwrap();
        let ints: Vec<i64> = [0.0, 0.34, 0.67, 0.999999].iter().map(|&u| int.at(u).as_integer().unwrap()).collect();
        assert_eq!(ints, [1, 2, 3, 3]);
        assert_eq!(dist("d = { uniform = [0, 1] }").unwrap().at(0.123456).as_float(), Some(0.1235));
        assert_eq!(dist("d = { choice = ['a', 'b'] }").unwrap().at(0.7).as_str(), Some("b"));
        for bad in [
            "d = { uniform = [1, 0] }",
            "d = { log_uniform = [0, 1] }",
            "d = { int_uniform = [1.5, 3] }",
            "d = { normal = [0, 1] }",
            "d = 3",
        ] {
            assert!(dist(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn points_are_a_pure_function_of_the_seed_and_distinct() {
        let dists = vec![
            ("model.hidden_size".to_string(), Dist::IntUniform(8, 64)),
            ("optimizer.lr".to_string(), Dist::LogUniform(1e-4, 1e-1)),
        ];
        for method in [Method::Random, Method::Sobol] {
            let a = sample(method, &dists, 20, 3).unwrap();
            assert_eq!(a, sample(method, &dists, 20, 3).unwrap());
            assert_ne!(a, sample(method, &dists, 20, 4).unwrap());
            // More points extend a search: the first ones stay.
            assert_eq!(sample(method, &dists, 40, 3).unwrap()[..20], a[..]);
            let texts: HashSet<String> = a.iter().map(|p| p.to_string()).collect();
            assert_eq!(texts.len(), 20);
        }
        let tiny = vec![("model.cell".to_string(), Dist::Choice(vec!["lstm".into(), "gru".into()]))];
        assert!(sample(Method::Random, &tiny, 3, 0).unwrap_err().contains("fewer than 3 distinct points: 2 found"));
    }
}
