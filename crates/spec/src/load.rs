//! Loading a spec: parse, apply `--set` overrides, check the sections, expand the grid
//! ([`crate::expand`]) and the search ([`crate::search`]), decode and check every trial, and
//! place every error ([`crate::locate`]). Over 300 lines because `load_str` is the one place
//! where the order of these steps (and which errors stop the rest) is decided.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use toml_edit::ImDocument;

use crate::cluster::SlurmConfig;
use crate::config::*;
use crate::decode::decode;
use crate::error::{closest, FieldError, LoadError, Location, SpecError, SpecErrors};
use crate::expand::{apply, grid_columns, odometer, point_cells, read_axes, Axis};
use crate::locate::Locator;
use crate::overrides::Override;
use crate::plan::{config_tail, point_label, short_hash, trial_id_from_tail, Plan, Trial};
use crate::prune::PruneConfig;
use crate::published::{check_published_points, decode_published};
use crate::source::SourceMap;
use crate::Catalog;

/// The names of the sections (`reference::SECTIONS` owns them).
fn sections() -> impl Iterator<Item = &'static str> + Clone {
    crate::reference::SECTIONS.iter().map(|s| s.name)
}

/// Reads and checks the spec at `path`.
pub fn load(path: &Path, overrides: &[Override], catalog: &dyn Catalog) -> Result<Plan, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read { path: path.to_path_buf(), error })?;
    Ok(load_str(path, &text, overrides, catalog)?)
}

/// Checks spec `text` (read from `path`, which errors name) and expands it into trials.
pub fn load_str(path: &Path, text: &str, overrides: &[Override], catalog: &dyn Catalog) -> Result<Plan, SpecErrors> {
    let doc = ImDocument::parse(text).map_err(|e| parse_error(path, text, &e))?;
    let sources = SourceMap::new(path, text, &doc);
    let mut root: toml::Table = text.parse().expect("toml_edit accepted it, so toml does");
    let no_axes = [];
    let base = Locator { sources: &sources, overrides, axes: &no_axes };

    let mut errors = Vec::new();
    for o in overrides {
        if let Err(e) = o.apply(&mut root) {
            errors
                .push(SpecError { location: Location::Override { text: o.text.clone() }, ..base.error(e, &[], None) });
        }
    }
    check_sections(&root, &base, &mut errors);
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }

    let present = |name: &str| match root.get(name) {
        Some(toml::Value::Table(t)) => Some(t.clone()),
        _ => None,
    };
    let section = |name: &str| present(name).unwrap_or_default();
    let experiment: Option<ExperimentConfig> =
        decode(&section("experiment")).map_err(|e| errors.push(base.error(e.within(&["experiment"]), &[], None))).ok();
    for e in experiment.iter().flat_map(experiment_errors) {
        errors.push(base.error(e, &[], None));
    }
    let (report, slurm, prune) = decode_settings(&present, &base, &mut errors);
    let published = decode_published(&root, &base, &mut errors);

    let mut axes = read_axes(&root, &sources, overrides, &base, &mut errors);
    let grid_axes = axes.len();
    let mut tpe_space = None;
    if let Some((search, tpe)) = crate::search::read_search(&root, &axes, &base, &mut errors) {
        axes.push(search);
        tpe_space = tpe;
    }
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    let columns = grid_columns(&axes);
    if let Some(e) = report.as_ref().and_then(|r| compare_error(r, &columns)) {
        errors.push(base.error(e, &[], None));
        return Err(SpecErrors(errors));
    }
    if let Some(Err(e)) = prune.as_ref().and_then(|p| p.as_ref()).map(|p| p.check_groups(&columns)) {
        errors.push(base.error(e.within(&["prune"]), &[], None));
        return Err(SpecErrors(errors));
    }
    let locator = Locator { sources: &sources, overrides, axes: &axes };
    let experiment = experiment.expect("no errors");
    // What a trial is decoded from: the sections that make a trial (not [grid], [report],
    // [[published]]), copied once per grid point.
    let trial_sections: toml::Table = root
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "dataset" | "model" | "optimizer" | "train" | "run"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (trials, recorded) =
        expand_trials(&trial_sections, &axes, &columns, &experiment.seeds, catalog, &locator, &mut errors);
    // Grid points that failed to resolve would also leave [[published]] entries without a
    // point: report only the cause.
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    let published = published.expect("no errors");
    check_published_points(&published, &columns, &trials, &base, &mut errors);
    if let (Some(recorded), Some(report)) = (&recorded, &report) {
        let prune = prune.as_ref().and_then(|p| p.as_ref());
        crate::recorded::check_sweep(report, prune, &published, recorded, &base, &mut errors);
    }
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    let tpe = match tpe_space {
        Some(space) => {
            let metric = match crate::sequential::tpe_metric(&space, report.as_ref(), recorded.as_deref()) {
                Ok(m) => m,
                Err(e) => {
                    errors.push(base.error(e.within(&["search"]), &[], None));
                    return Err(SpecErrors(errors));
                }
            };
            let startup = axes[grid_axes].values.len();
            let grid = &axes[..grid_axes];
            Some(crate::sequential::groups(space, metric, startup, grid, &trial_sections, &columns, &experiment.seeds))
        }
        None => None,
    };
    let effective_spec = effective_text(text, overrides);
    Ok(Plan {
        spec_path: path.to_path_buf(),
        spec_hash: short_hash(&effective_spec),
        experiment,
        report: report.expect("no errors"),
        slurm: slurm.expect("no errors"),
        prune: prune.expect("no errors"),
        published,
        columns,
        trials,
        tpe,
        effective_spec,
    })
}

/// A spec that is not TOML: one error at the parser's position.
fn parse_error(path: &Path, text: &str, e: &toml_edit::TomlError) -> SpecErrors {
    let sources = SourceMap::new(path, text, &ImDocument::parse("").expect("empty document parses"));
    let location = sources.at_offset(e.span().map_or(0, |s| s.start));
    SpecErrors(vec![SpecError {
        location,
        key: String::new(),
        message: format!("not valid TOML: {}", e.message().trim()),
        help: Some("see https://toml.io for the syntax".into()),
        context: None,
    }])
}

/// What is wrong with `[experiment]` beyond its types: repeated or no seeds, a name that is
/// not a plain folder name.
fn experiment_errors(x: &ExperimentConfig) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    if let Some(dup) = x.seeds.iter().find(|s| !seen.insert(**s)) {
        errors.push(
            FieldError::new(&["experiment", "seeds"], format!("lists seed {dup} twice"))
                .with_help("each seed runs once per grid point; remove the repeat"),
        );
    }
    if x.seeds.is_empty() {
        errors.push(FieldError::new(&["experiment", "seeds"], "lists no seeds").with_help("e.g. `seeds = [0, 1, 2]`"));
    }
    if x.name.is_empty() || x.name.contains(['/', '\\']) || x.name.starts_with('.') {
        errors.push(FieldError::new(&["experiment", "name"], "must be a plain folder name (no slashes, not empty)"));
    }
    errors
}

/// Every grid point × seed as a trial (errors located through `locator`, each once), and the
/// metrics every grid point records (`None`: the catalog does not say).
#[allow(clippy::too_many_arguments)]
fn expand_trials(
    trial_sections: &toml::Table,
    axes: &[Axis],
    columns: &[String],
    seeds: &[u64],
    catalog: &dyn Catalog,
    locator: &Locator,
    errors: &mut Vec<SpecError>,
) -> (Vec<Trial>, Option<Vec<&'static str>>) {
    let mut trials = Vec::new();
    let mut seen_errors = HashSet::new();
    // Fingerprint of each resolved grid point → its label (a map: a plan is linear in trials).
    let mut seen_points: HashMap<String, String> = HashMap::new();
    // What every grid point records (None: the catalog does not say).
    let mut recorded: Option<Vec<&'static str>> = None;
    for point in odometer(&axes.iter().map(|a| a.values.len()).collect::<Vec<_>>()) {
        let mut table = trial_sections.clone();
        for (axis, &vi) in axes.iter().zip(&point) {
            apply(&mut table, axis, &axis.values[vi]);
        }
        let cells = point_cells(axes, &point, columns);
        let label = point_label(cells.iter().map(|(k, v)| (k, v)));
        let context = (!axes.is_empty()).then(|| label.clone());
        match resolve_recorded(&table, catalog, seeds[0]) {
            Ok((config, facts)) => {
                let params = facts.as_ref().map(|f| config.model.param_count(f.input_size, f.output_size));
                if let Some(m) = facts.map(|f| f.metrics) {
                    recorded = Some(match recorded {
                        None => m,
                        Some(all) => all.into_iter().filter(|x: &&str| m.contains(x)).collect(),
                    });
                }
                // The config's TOML after its `seed = …` line: the grid point's fingerprint, and
                // what every seed's id hashes after its own seed line (one serialisation per
                // grid point, not one per trial).
                let tail = config_tail(&config);
                if let Some(other) = seen_points.get(&tail) {
                    errors.push(SpecError {
                        location: locator.sources.locate(&["grid".to_string()], true),
                        key: "grid".into(),
                        message: format!("grid points `{other}` and `{label}` resolve to the same trial"),
                        help: Some("remove the duplicate values, or the axis that a section axis overwrites".into()),
                        context: None,
                    });
                    continue;
                }
                for &seed in seeds {
                    let id = trial_id_from_tail(seed, &tail);
                    trials.push(Trial {
                        id,
                        point: cells.clone(),
                        config: TrialConfig { seed, ..config.clone() },
                        params,
                    });
                }
                seen_points.insert(tail, label);
            }
            Err(e) => {
                let err = locator.error(e, &point, context);
                if seen_errors.insert((err.location.to_string(), err.key.clone(), err.message.clone())) {
                    errors.push(err);
                }
            }
        }
    }
    (trials, recorded)
}

/// `[report] compare` naming no grid column.
fn compare_error(report: &ReportConfig, columns: &[String]) -> Option<FieldError> {
    let axis = report.compare.as_ref().filter(|a| !columns.contains(a))?;
    let help = if columns.is_empty() {
        "this spec has no [grid]: remove `compare`".to_string()
    } else {
        format!("name one of the grid's columns: {}", columns.join(", "))
    };
    Some(FieldError::new(&["report", "compare"], format!("`{axis}` is not a grid axis of this spec")).with_help(help))
}

/// `[report]`, `[slurm]` and `[prune]`, decoded and checked (`None` where they have errors,
/// pushed to `errors`; `[prune]` is `Some(None)` when absent).
#[allow(clippy::type_complexity)]
fn decode_settings(
    section: &dyn Fn(&str) -> Option<toml::Table>,
    base: &Locator,
    errors: &mut Vec<SpecError>,
) -> (Option<ReportConfig>, Option<SlurmConfig>, Option<Option<PruneConfig>>) {
    let table = |name: &str| section(name).unwrap_or_default();
    let report: Option<ReportConfig> = decode(&table("report"))
        .and_then(|r: ReportConfig| r.check().map(|_| r))
        .map_err(|e| errors.push(base.error(e.within(&["report"]), &[], None)))
        .ok();
    let slurm: Option<SlurmConfig> = decode(&table("slurm"))
        .and_then(|c: SlurmConfig| c.check().map(|_| c))
        .map_err(|e| errors.push(base.error(e.within(&["slurm"]), &[], None)))
        .ok();
    let prune: Option<Option<PruneConfig>> = match section("prune") {
        None => Some(None),
        Some(t) => decode(&t)
            .and_then(|c: PruneConfig| c.check().map(|_| Some(c)))
            .map_err(|e| errors.push(base.error(e.within(&["prune"]), &[], None)))
            .ok(),
    };
    (report, slurm, prune)
}

fn check_sections(root: &toml::Table, base: &Locator, errors: &mut Vec<SpecError>) {
    for (key, value) in root {
        let path = vec![key.clone()];
        if !sections().any(|s| s == key) {
            let help = match closest(key, sections()) {
                Some(c) => format!("did you mean `[{c}]`?"),
                None => format!("valid sections: {}", sections().collect::<Vec<_>>().join(", ")),
            };
            errors.push(SpecError {
                location: base.locate_base(&path, true),
                key: key.clone(),
                message: format!("unknown section `{key}`"),
                help: Some(help),
                context: None,
            });
        } else if key == "published" {
            if !value.is_array() {
                errors.push(
                    base.error(
                        FieldError::new(&["published"], "must be an array of tables")
                            .with_help("write each entry as `[[published]]`"),
                        &[],
                        None,
                    ),
                );
            }
        } else if !value.is_table() {
            errors.push(base.error(
                FieldError::new(&[key.as_str()], format!("`{key}` must be a section (`[{key}]`)")),
                &[],
                None,
            ));
        }
    }
    for name in crate::reference::SECTIONS.iter().filter(|s| s.required).map(|s| s.name) {
        if !root.contains_key(name) {
            errors.push(SpecError {
                location: base.sources.at_offset(0),
                key: name.to_string(),
                message: format!("missing section `[{name}]`"),
                help: Some("see the spec reference, docs/spec.md (or `rnnlab reference`)".into()),
                context: None,
            });
        }
    }
}

/// Decodes and checks one grid point's sections into a trial config.
fn resolve(root: &toml::Table, catalog: &dyn Catalog, seed: u64) -> Result<TrialConfig, FieldError> {
    let section = |name: &str| root.get(name).and_then(toml::Value::as_table).cloned().unwrap_or_default();
    let mut dataset = section("dataset");
    let plugin = match dataset.remove("plugin") {
        Some(toml::Value::String(p)) => p,
        Some(_) => return Err(FieldError::new(&["dataset", "plugin"], "must be a string (a plugin name)")),
        None => {
            return Err(FieldError::new(&["dataset"], "missing required key `plugin`")
                .with_help(format!("add `plugin = \"...\"`; plugins: {}", catalog.dataset_plugins().join(", "))))
        }
    };
    let plugins = catalog.dataset_plugins();
    if !plugins.contains(&plugin.as_str()) {
        let help = match closest(&plugin, plugins.iter().copied()) {
            Some(c) => format!("did you mean `{c}`? (plugins: {})", plugins.join(", ")),
            None => format!("plugins: {} (`rnnlab plugins` describes them)", plugins.join(", ")),
        };
        return Err(
            FieldError::new(&["dataset", "plugin"], format!("unknown dataset plugin `{plugin}`")).with_help(help)
        );
    }
    let mut config = TrialConfig {
        seed,
        dataset: DatasetConfig { plugin, keys: dataset },
        model: decode(&section("model")).map_err(|e| e.within(&["model"]))?,
        optimizer: decode(&section("optimizer")).map_err(|e| e.within(&["optimizer"]))?,
        train: decode(&section("train")).map_err(|e| e.within(&["train"]))?,
        run: decode(&section("run")).map_err(|e| e.within(&["run"]))?,
    };
    if let Some(budget) = config.model.params {
        solve_hidden_size(&mut config, budget, catalog)?;
    }
    config.check()?;
    catalog.check_trial(&config)?;
    Ok(config)
}

/// `[model] params`: the largest hidden size within the budget, for this trial's data.
fn solve_hidden_size(config: &mut TrialConfig, budget: usize, catalog: &dyn Catalog) -> Result<(), FieldError> {
    let at = |message: String| FieldError::new(&["model", "params"], message);
    if config.model.hidden_size != 0 {
        return Err(at("give `params` or `hidden_size`, not both".into())
            .with_help("`params` solves the hidden size from a parameter budget; remove one of them"));
    }
    // The dataset's sizes come from its keys; without them, a bad key is reported as such.
    let Some(facts) = catalog.facts(config) else {
        config.model.hidden_size = 1;
        catalog.check_trial(config)?;
        return Err(at("cannot solve the hidden size: the dataset's input and output sizes are unknown".into()));
    };
    match config.model.hidden_size_for(budget, facts.input_size, facts.output_size) {
        Some(h) => {
            config.model.hidden_size = h;
            Ok(())
        }
        None => {
            let least = ModelConfig { hidden_size: config.model.proj_size + 1, ..config.model.clone() };
            Err(at(format!(
                "no hidden size fits: the smallest network (hidden_size = {}) already has {} parameters",
                least.hidden_size,
                least.param_count(facts.input_size, facts.output_size)
            )))
        }
    }
}

/// [`resolve`], and the trial's metrics checked against what it records; returns what the
/// catalog knows of the trial.
pub(crate) fn resolve_recorded(
    root: &toml::Table,
    catalog: &dyn Catalog,
    seed: u64,
) -> Result<(TrialConfig, Option<crate::Facts>), FieldError> {
    let config = resolve(root, catalog, seed)?;
    let facts = catalog.facts(&config);
    if let Some(f) = &facts {
        crate::recorded::check_trial(&config, &f.metrics)?;
    }
    Ok((config, facts))
}

/// The spec text with overrides applied in place (comments kept) and listed at the top.
fn effective_text(text: &str, overrides: &[Override]) -> String {
    if overrides.is_empty() {
        return text.to_string();
    }
    let mut doc: toml_edit::DocumentMut = text.parse().expect("already parsed");
    for o in overrides {
        let item: toml_edit::DocumentMut = format!("v = {}", o.value).parse().expect("toml values print as toml");
        let value = item["v"].clone();
        let mut cursor = doc.as_item_mut();
        let (last, parents) = o.path.split_last().expect("non-empty");
        for seg in parents {
            if cursor.get(seg).is_none() {
                cursor[seg.as_str()] = toml_edit::table();
            }
            cursor = &mut cursor[seg.as_str()];
        }
        cursor[last.as_str()] = value;
    }
    let header: String = overrides.iter().map(|o| format!("# rnnlab: --set {}\n", o.text)).collect();
    format!("# rnnlab: this copy of the spec has the command line's overrides applied:\n{header}\n{doc}")
}
