//! Loading a spec: parse, apply overrides, expand the grid, check every trial.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use toml_edit::ImDocument;

use crate::config::*;
use crate::decode::decode;
use crate::error::{closest, FieldError, LoadError, Location, SpecError, SpecErrors};
use crate::overrides::Override;
use crate::source::SourceMap;
use crate::Catalog;

const SECTIONS: &[&str] =
    &["experiment", "dataset", "model", "optimizer", "train", "run", "report", "published", "grid"];
const REQUIRED: &[&str] = &["experiment", "dataset", "model", "optimizer", "train"];
/// Sections whose keys may vary over the grid.
const GRIDABLE: &[&str] = &["dataset", "model", "optimizer", "train", "run"];

/// A validated spec, expanded into trials.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spec_path: PathBuf,
    pub experiment: ExperimentConfig,
    pub report: ReportConfig,
    pub published: Vec<Published>,
    /// Grid columns in spec order (a section axis contributes one column per key it sets).
    pub columns: Vec<String>,
    pub trials: Vec<Trial>,
    /// The spec text with the overrides applied and listed in a header comment.
    pub effective_spec: String,
    /// Short hash of `effective_spec`.
    pub spec_hash: String,
}

/// One trial: a grid point and a seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Short stable hash of the resolved config: changes iff the trial changes.
    pub id: String,
    /// `(column, value)` for every grid column, in `Plan::columns` order ("" where unset).
    pub point: Vec<(String, String)>,
    pub config: TrialConfig,
}

impl Trial {
    /// The resolved config as TOML (what the id hashes).
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.config).expect("trial configs serialise to TOML")
    }

    /// `model.cell=lstm, optimizer.lr=0.1` (empty when the grid is empty).
    pub fn point_label(&self) -> String {
        point_label(self.point.iter().map(|(k, v)| (k, v)))
    }
}

/// One `[grid]` axis.
struct Axis {
    name: String,
    path: Vec<String>,
    values: Vec<toml::Value>,
    /// `Some(text)` when the axis came from a `--set`.
    from_override: Option<String>,
}

/// Everything needed to place an error in the file or on the command line.
struct Locator<'a> {
    sources: &'a SourceMap,
    overrides: &'a [Override],
    axes: &'a [Axis],
}

impl Locator<'_> {
    /// Where the value at config `path` came from, for a trial at grid `point`, and whether
    /// it came from a grid axis.
    fn locate(&self, path: &[String], at_key: bool, point: &[usize]) -> (Location, bool) {
        for (axis, &vi) in self.axes.iter().zip(point).rev() {
            if !path.starts_with(&axis.path) {
                continue;
            }
            let rest = &path[axis.path.len()..];
            let owned = match &axis.values[vi] {
                toml::Value::Table(t) => rest.first().is_some_and(|k| t.contains_key(k)),
                _ => true,
            };
            if !owned {
                continue;
            }
            if let Some(text) = &axis.from_override {
                return (Location::Override { text: text.clone() }, true);
            }
            let mut at = vec!["grid".to_string(), axis.name.clone(), format!("[{vi}]")];
            at.extend_from_slice(rest);
            return (self.sources.locate(&at, at_key), true);
        }
        (self.locate_base(path, at_key), false)
    }

    fn locate_base(&self, path: &[String], at_key: bool) -> Location {
        match self.overrides.iter().rev().find(|o| path.starts_with(&o.path) || o.path.starts_with(path)) {
            Some(o) if !self.sources.has(path) || path.starts_with(&o.path) => {
                Location::Override { text: o.text.clone() }
            }
            _ => self.sources.locate(path, at_key),
        }
    }

    /// Places `e`; `context` (the trial's grid point) is kept only when a grid value caused it.
    fn error(&self, e: FieldError, point: &[usize], context: Option<String>) -> SpecError {
        let (location, from_grid) = self.locate(&e.path, e.at_key, point);
        SpecError {
            location,
            key: e.path.join("."),
            message: e.message,
            help: e.help,
            context: context.filter(|_| from_grid),
        }
    }
}

/// Reads and checks the spec at `path`.
pub fn load(path: &Path, overrides: &[Override], catalog: &dyn Catalog) -> Result<Plan, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read { path: path.to_path_buf(), error })?;
    Ok(load_str(path, &text, overrides, catalog)?)
}

/// Checks spec `text` (read from `path`, which errors name) and expands it into trials.
pub fn load_str(path: &Path, text: &str, overrides: &[Override], catalog: &dyn Catalog) -> Result<Plan, SpecErrors> {
    let doc = ImDocument::parse(text).map_err(|e| {
        let sources = SourceMap::new(path, text, &ImDocument::parse("").expect("empty document parses"));
        let location = sources.at_offset(e.span().map_or(0, |s| s.start));
        SpecErrors(vec![SpecError {
            location,
            key: String::new(),
            message: format!("not valid TOML: {}", e.message().trim()),
            help: Some("see https://toml.io for the syntax".into()),
            context: None,
        }])
    })?;
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

    let section = |name: &str| match root.get(name) {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    };
    let experiment: Option<ExperimentConfig> =
        decode(&section("experiment")).map_err(|e| errors.push(base.error(e.within(&["experiment"]), &[], None))).ok();
    if let Some(x) = &experiment {
        let mut seen = HashSet::new();
        if let Some(dup) = x.seeds.iter().find(|s| !seen.insert(**s)) {
            errors.push(
                base.error(
                    FieldError::new(&["experiment", "seeds"], format!("lists seed {dup} twice"))
                        .with_help("each seed runs once per grid point; remove the repeat"),
                    &[],
                    None,
                ),
            );
        }
        if x.seeds.is_empty() {
            errors.push(base.error(
                FieldError::new(&["experiment", "seeds"], "lists no seeds").with_help("e.g. `seeds = [0, 1, 2]`"),
                &[],
                None,
            ));
        }
        if x.name.is_empty() || x.name.contains(['/', '\\']) || x.name.starts_with('.') {
            errors.push(base.error(
                FieldError::new(&["experiment", "name"], "must be a plain folder name (no slashes, not empty)"),
                &[],
                None,
            ));
        }
    }
    let report: Option<ReportConfig> = decode(&section("report"))
        .and_then(|r: ReportConfig| r.success_rule().map(|_| r))
        .map_err(|e| errors.push(base.error(e.within(&["report"]), &[], None)))
        .ok();
    let published = decode_published(&root, &base, &mut errors);

    let axes = read_axes(&root, &sources, overrides, &base, &mut errors);
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    let columns = grid_columns(&axes);
    let locator = Locator { sources: &sources, overrides, axes: &axes };
    let experiment = experiment.expect("no errors");
    let mut trials = Vec::new();
    let mut seen_errors = HashSet::new();
    // Fingerprint of each resolved grid point → its label (a map: a plan is linear in trials).
    let mut seen_points: HashMap<String, String> = HashMap::new();
    for point in odometer(&axes.iter().map(|a| a.values.len()).collect::<Vec<_>>()) {
        let mut table = root.clone();
        for (axis, &vi) in axes.iter().zip(&point) {
            set_path(&mut table, &axis.path, &axis.values[vi]);
        }
        let cells = point_cells(&axes, &point, &columns);
        let label = point_label(cells.iter().map(|(k, v)| (k, v)));
        let context = (!axes.is_empty()).then(|| label.clone());
        match resolve(&table, catalog, experiment.seeds[0]) {
            Ok(config) => {
                let fingerprint = toml::to_string(&config).expect("serialisable");
                if let Some(other) = seen_points.get(&fingerprint) {
                    errors.push(SpecError {
                        location: sources.locate(&["grid".to_string()], true),
                        key: "grid".into(),
                        message: format!("grid points `{other}` and `{label}` resolve to the same trial"),
                        help: Some("remove the duplicate values, or the axis that a section axis overwrites".into()),
                        context: None,
                    });
                    continue;
                }
                seen_points.insert(fingerprint, label);
                for &seed in &experiment.seeds {
                    let config = TrialConfig { seed, ..config.clone() };
                    let id = short_hash(&toml::to_string(&config).expect("serialisable"));
                    trials.push(Trial { id, point: cells.clone(), config });
                }
            }
            Err(e) => {
                let err = locator.error(e, &point, context);
                if seen_errors.insert((err.location.to_string(), err.key.clone(), err.message.clone())) {
                    errors.push(err);
                }
            }
        }
    }
    let published = published.expect("no errors");
    check_published_points(&published, &columns, &trials, &base, &mut errors);
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    let effective_spec = effective_text(text, overrides);
    Ok(Plan {
        spec_path: path.to_path_buf(),
        spec_hash: short_hash(&effective_spec),
        experiment,
        report: report.expect("no errors"),
        published,
        columns,
        trials,
        effective_spec,
    })
}

fn check_sections(root: &toml::Table, base: &Locator, errors: &mut Vec<SpecError>) {
    for (key, value) in root {
        let path = vec![key.clone()];
        if !SECTIONS.contains(&key.as_str()) {
            let help = match closest(key, SECTIONS.iter().copied()) {
                Some(c) => format!("did you mean `[{c}]`?"),
                None => format!("valid sections: {}", SECTIONS.join(", ")),
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
    for name in REQUIRED {
        if !root.contains_key(*name) {
            errors.push(SpecError {
                location: base.sources.at_offset(0),
                key: name.to_string(),
                message: format!("missing section `[{name}]`"),
                help: Some("see the spec reference in README.md".into()),
                context: None,
            });
        }
    }
}

fn decode_published(root: &toml::Table, base: &Locator, errors: &mut Vec<SpecError>) -> Option<Vec<Published>> {
    let Some(toml::Value::Array(entries)) = root.get("published") else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let index = format!("[{i}]");
        let Some(table) = entry.as_table() else {
            errors.push(base.error(FieldError::new(&["published", &index], "must be a table"), &[], None));
            continue;
        };
        match decode::<Published>(table) {
            Ok(p) => out.push(p),
            Err(e) => errors.push(base.error(e.within(&["published", &index]), &[], None)),
        }
    }
    Some(out)
}

/// Every `[[published]] where` key must be a grid column and its value one of that column's
/// values (else the entry would silently have no data); together they must pick a grid point.
fn check_published_points(
    published: &[Published],
    columns: &[String],
    trials: &[Trial],
    base: &Locator,
    errors: &mut Vec<SpecError>,
) {
    for (i, entry) in published.iter().enumerate() {
        let index = format!("[{i}]");
        let mut bad = false;
        for (key, value) in &entry.at {
            let path = ["published", index.as_str(), "where", key.as_str()];
            let Some(c) = columns.iter().position(|col| col == key) else {
                let help = match closest(key, columns.iter().map(String::as_str)) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None if columns.is_empty() => "this spec has no [grid]: leave `where` out".to_string(),
                    None => format!("grid columns: {}", columns.join(", ")),
                };
                let mut e = FieldError::new(&path, format!("`{key}` is not a grid column")).with_help(help);
                e.at_key = true;
                errors.push(base.error(e, &[], None));
                bad = true;
                continue;
            };
            let cell = display(value);
            if !trials.iter().any(|t| t.point[c].1 == cell) {
                let mut values: Vec<&str> = Vec::new();
                for t in trials {
                    if !values.contains(&t.point[c].1.as_str()) {
                        values.push(&t.point[c].1);
                    }
                }
                let help = match closest(&cell, values.iter().copied()) {
                    Some(v) => format!("did you mean `{v}`? (`{key}` takes {})", values.join(", ")),
                    None => format!("`{key}` takes {}", values.join(", ")),
                };
                errors.push(base.error(
                    FieldError::new(&path, format!("no grid point has `{key}` = {value}")).with_help(help),
                    &[],
                    None,
                ));
                bad = true;
            }
        }
        let picks = |t: &Trial| {
            entry
                .at
                .iter()
                .all(|(k, v)| columns.iter().position(|c| c == k).is_some_and(|c| t.point[c].1 == display(v)))
        };
        if !bad && !entry.at.is_empty() && !trials.iter().any(picks) {
            errors.push(
                base.error(
                    FieldError::new(
                        &["published", index.as_str(), "where"],
                        "no grid point has all of these values together",
                    )
                    .with_help("`rnnlab plan` lists the grid points"),
                    &[],
                    None,
                ),
            );
        }
    }
}

fn read_axes(
    root: &toml::Table,
    sources: &SourceMap,
    overrides: &[Override],
    base: &Locator,
    errors: &mut Vec<SpecError>,
) -> Vec<Axis> {
    let Some(toml::Value::Table(grid)) = root.get("grid") else {
        return Vec::new();
    };
    let mut names: Vec<&String> = sources.grid_order.iter().filter(|n| grid.contains_key(*n)).collect();
    names.extend(grid.keys().filter(|k| !sources.grid_order.contains(k)));
    let mut axes = Vec::new();
    for name in names {
        let at = ["grid", name.as_str()];
        let path: Vec<String> = name.split('.').map(str::to_string).collect();
        let from_override = overrides.iter().rev().find(|o| o.path == at).map(|o| o.text.clone());
        let fail = |message: String, help: &str| base.error(FieldError::new(&at, message).with_help(help), &[], None);
        if !GRIDABLE.contains(&path[0].as_str()) || path.iter().any(String::is_empty) {
            let help = format!("an axis is a dotted key in one of {}, e.g. \"model.cell\"", GRIDABLE.join(", "));
            let mut e = FieldError::new(&at, format!("`{name}` cannot vary over the grid")).with_help(help);
            e.at_key = true;
            errors.push(base.error(e, &[], None));
            continue;
        }
        let values = match &grid[name] {
            toml::Value::Array(v) if !v.is_empty() => v.clone(),
            _ => {
                errors.push(fail(
                    "a grid axis must be a non-empty list of values".into(),
                    "e.g. \"optimizer.lr\" = [0.1, 0.01]",
                ));
                continue;
            }
        };
        if path.len() == 1 && !values.iter().all(toml::Value::is_table) {
            errors.push(fail(
                format!("the axis `{name}` names a whole section, so each value must be an inline table"),
                "e.g. \"model\" = [{cell = \"lstm\", proj_size = 2}, {cell = \"gru\"}]",
            ));
            continue;
        }
        axes.push(Axis { name: name.clone(), path, values, from_override });
    }
    axes
}

/// Grid columns: a dotted axis is one column; a section axis gives one column per key it sets.
fn grid_columns(axes: &[Axis]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for axis in axes {
        let mut add = |c: String| {
            if !columns.contains(&c) {
                columns.push(c)
            }
        };
        if axis.path.len() == 1 {
            for value in &axis.values {
                for key in value.as_table().expect("checked").keys() {
                    add(format!("{}.{key}", axis.name));
                }
            }
        } else {
            add(axis.name.clone());
        }
    }
    columns
}

fn point_cells(axes: &[Axis], point: &[usize], columns: &[String]) -> Vec<(String, String)> {
    let mut cells: Vec<(String, String)> = columns.iter().map(|c| (c.clone(), String::new())).collect();
    for (axis, &vi) in axes.iter().zip(point) {
        let mut put = |column: String, value: &toml::Value| {
            if let Some(cell) = cells.iter_mut().find(|(c, _)| *c == column) {
                cell.1 = display(value);
            }
        };
        match &axis.values[vi] {
            toml::Value::Table(t) if axis.path.len() == 1 => {
                for (k, v) in t {
                    put(format!("{}.{k}", axis.name), v);
                }
            }
            v => put(axis.name.clone(), v),
        }
    }
    cells
}

/// A grid point as rnnlab writes it everywhere (plan, progress, errors, reports):
/// `column=value` for every column that has a value, comma-separated.
pub fn point_label<K: AsRef<str>, V: AsRef<str>>(cells: impl IntoIterator<Item = (K, V)>) -> String {
    cells
        .into_iter()
        .filter(|(_, v)| !v.as_ref().is_empty())
        .map(|(k, v)| format!("{}={}", k.as_ref(), v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value as a researcher would write it in a table cell.
fn display(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// All index combinations, the last axis varying fastest.
fn odometer(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for &n in sizes {
        out = out.into_iter().flat_map(|p| (0..n).map(move |i| [p.clone(), vec![i]].concat())).collect();
    }
    out
}

fn set_path(table: &mut toml::Table, path: &[String], value: &toml::Value) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut t = table;
    for seg in parents {
        let entry = t.entry(seg.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        t = entry.as_table_mut().expect("just made a table");
    }
    match (t.get_mut(last), value) {
        // A section axis merges its keys over the section.
        (Some(toml::Value::Table(existing)), toml::Value::Table(new)) if parents.is_empty() => {
            for (k, v) in new {
                existing.insert(k.clone(), v.clone());
            }
        }
        _ => {
            t.insert(last.clone(), value.clone());
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
    let config = TrialConfig {
        seed,
        dataset: DatasetConfig { plugin, keys: dataset },
        model: decode(&section("model")).map_err(|e| e.within(&["model"]))?,
        optimizer: decode(&section("optimizer")).map_err(|e| e.within(&["optimizer"]))?,
        train: decode(&section("train")).map_err(|e| e.within(&["train"]))?,
        run: decode(&section("run")).map_err(|e| e.within(&["run"]))?,
    };
    config.check()?;
    catalog.check_trial(&config)?;
    Ok(config)
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
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
