//! `csv`: a user's own sequences from long-format CSV files (one row per step: a `sequence`
//! id, a `step` index, feature columns and target column(s)), one file for training, one for
//! testing and optionally one for validation. Sequences may differ in length for per-step tasks (padded and masked); a last-step
//! task uses each sequence's last row's target and needs equal lengths.
//!
//! (Over 300 lines with its tests, a quarter of the file: each error a user's file can have is
//! tested beside the reader that reports it.)

use std::collections::HashMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, Input, LossReduction, Plugin, SequenceSet, Targets, Task};

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    /// Labels in 0..classes, cross-entropy.
    Classify,
    /// Real values, mean squared error.
    Regress,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Training CSV, long format: one row per step with `sequence` and `step` columns (0-based, no gaps) and the feature and target columns; relative to the working directory.
    train: String,
    /// Validation CSV, same format (`valid_*` metrics).
    valid: Option<String>,
    /// Test CSV, same format.
    test: String,
    /// Input columns, used as they are (not scaled).
    features: Vec<String>,
    /// Target columns; one label column to classify.
    targets: Vec<String>,
    /// What the targets are.
    task: Kind,
    /// Classification: labels are 0..classes-1 (required to classify).
    classes: Option<usize>,
    /// A target at every step, or only the last step's (read from each sequence's last row).
    #[serde(default = "yes")]
    per_step: bool,
}

fn yes() -> bool {
    true
}

impl Config {
    fn read(keys: &toml::Table) -> Result<Config, FieldError> {
        let c: Config = decode(keys)?;
        if c.features.is_empty() {
            return Err(FieldError::new(&["features"], "name at least one feature column"));
        }
        if c.targets.is_empty() {
            return Err(FieldError::new(&["targets"], "name at least one target column"));
        }
        if c.task == Kind::Classify {
            if c.targets.len() != 1 {
                return Err(FieldError::new(&["targets"], "classification reads one label column"));
            }
            if c.classes.is_none_or(|k| k < 2) {
                return Err(FieldError::new(&["classes"], "classification needs `classes` (at least 2)"));
            }
        }
        Ok(c)
    }

    fn task(&self) -> Task {
        match self.task {
            Kind::Classify => Task::Classify { classes: self.classes.unwrap_or(2), per_step: self.per_step },
            Kind::Regress => Task::Regress { outputs: self.targets.len(), per_step: self.per_step },
        }
    }
}

/// The `csv` plugin.
pub struct CsvFiles;

impl Plugin for CsvFiles {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn doc(&self) -> &'static str {
        "your own sequences from long-format CSV files (sequence, step, features, targets); classify or regress"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"csv\"\ntrain = \"data/mine/train.csv\"\ntest = \"data/mine/test.csv\"\nfeatures = [\"x\"]\ntargets = [\"y\"]\ntask = \"regress\"\n"
    }

    fn has_validation(&self, keys: &toml::Table) -> bool {
        Config::read(keys).is_ok_and(|c| c.valid.is_some())
    }

    fn input_size(&self, keys: &toml::Table) -> Option<usize> {
        Config::read(keys).ok().map(|c| c.features.len())
    }

    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError> {
        Config::read(keys).map(|c| c.task())
    }

    fn build(&self, keys: &toml::Table, _seed: u64) -> Result<Dataset, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        Ok(Dataset {
            task: c.task(),
            train: read_set(Path::new(&c.train), &c, true)?.set,
            valid: c.valid.as_ref().map(|v| read_set(Path::new(v), &c, true).map(|i| i.set)).transpose()?,
            test: read_set(Path::new(&c.test), &c, true)?.set,
            loss_reduction: LossReduction::Mean,
        })
    }

    fn read_input(&self, keys: &toml::Table, path: &Path) -> Result<Input, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        read_set(path, &c, false)
    }

    fn reads_files(&self) -> bool {
        true
    }

    /// Reads every file as a trial would; an error is placed at the key naming the file, or at
    /// `features`/`targets` when a column is missing.
    fn check_files(&self, keys: &toml::Table) -> Result<(), FieldError> {
        let c = Config::read(keys)?;
        let files = [("train", Some(&c.train)), ("valid", c.valid.as_ref()), ("test", Some(&c.test))];
        for (key, path) in files.into_iter().filter_map(|(k, p)| p.map(|p| (k, p))) {
            let set = read_set(Path::new(path), &c, true).map_err(|e| {
                let text = e.to_string();
                let at = if text.contains("no column") {
                    match c.features.iter().find(|f| text.contains(&format!("no column `{f}`"))) {
                        Some(_) => "features",
                        None => "targets",
                    }
                } else {
                    key
                };
                FieldError::new(&[at], text)
            })?;
            set.set.check_targets(&c.task()).map_err(|e| FieldError::new(&[key], format!("{path}: {e}")))?;
        }
        Ok(())
    }
}

/// One CSV row: its line in the file, step, features and targets.
type Row = (u64, usize, Vec<f32>, Vec<f64>);

/// Reads one file; without `need_targets`, target columns may be absent (targets are zeros).
fn read_set(path: &Path, c: &Config, need_targets: bool) -> Result<Input, DataError> {
    if !path.exists() {
        let what = if need_targets { " (the `train`/`test` keys of [dataset])" } else { "" };
        return Err(DataError::Missing(format!("{} not found{what}", path.display())));
    }
    // `file:line: what`, or `file: what` where no line applies (an I/O error).
    let err = |line: Option<u64>, what: String| match line {
        Some(l) => DataError::Other(format!("{}:{l}: {what}", path.display())),
        None => DataError::Other(format!("{}: {what}", path.display())),
    };
    let csv_err = |e: csv::Error| crate::files::csv_error(path, &e);
    let mut reader = csv::Reader::from_reader(crate::files::open(path)?);
    let header = reader.headers().map_err(csv_err)?.clone();
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            err(
                Some(1),
                format!("no column `{name}` (the header has: {})", header.iter().collect::<Vec<_>>().join(", ")),
            )
        })
    };
    let (seq_col, step_col) = (column("sequence")?, column("step")?);
    let feature_cols: Vec<usize> = c.features.iter().map(|f| column(f)).collect::<Result<_, _>>()?;
    let labelled = need_targets || c.targets.iter().all(|t| header.iter().any(|h| h == t));
    let target_cols: Vec<usize> =
        if labelled { c.targets.iter().map(|t| column(t)).collect::<Result<_, _>>()? } else { Vec::new() };
    let classes = (c.task == Kind::Classify).then(|| c.classes.unwrap_or(2));
    // Rows per sequence, in order of first appearance.
    let mut order: Vec<String> = Vec::new();
    let mut rows: HashMap<String, Vec<Row>> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(1, |p| p.line());
        // `file:line:column` for a value: 1-based field number, as editors count columns.
        let at = |i: usize, what: String| err(Some(line), format!("column {} (`{}`): {what}", i + 1, &header[i]));
        let num = |i: usize| -> Result<f64, DataError> {
            let v = record.get(i).unwrap_or("");
            match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                Ok(_) => Err(at(i, format!("`{v}` is not a finite number (NaN and infinities are not data)"))),
                Err(_) => Err(at(i, format!("`{v}` is not a number"))),
            }
        };
        let id = record.get(seq_col).unwrap_or("").to_string();
        let step = num(step_col)?;
        if step < 0.0 || step.fract() != 0.0 {
            return Err(at(step_col, format!("step `{step}` is not a whole number ≥ 0")));
        }
        let features = feature_cols.iter().map(|&i| num(i).map(|v| v as f32)).collect::<Result<_, _>>()?;
        let targets: Vec<f64> = match labelled {
            true => target_cols.iter().map(|&i| num(i)).collect::<Result<_, _>>()?,
            false => vec![0.0; c.targets.len()],
        };
        if let (Some(k), true) = (classes, labelled) {
            let v = targets[0];
            if v < 0.0 || v >= k as f64 || v.fract() != 0.0 {
                return Err(at(target_cols[0], format!("label {v} is not a class 0..{}", k - 1)));
            }
        }
        if !rows.contains_key(&id) {
            order.push(id.clone());
        }
        rows.entry(id).or_default().push((line, step as usize, features, targets));
    }
    if order.is_empty() {
        return Err(err(Some(1), "no rows".into()));
    }
    let mut lengths = Vec::with_capacity(order.len());
    for id in &order {
        let seq = rows.get_mut(id).expect("listed");
        let first_line = seq[0].0;
        seq.sort_by_key(|r| r.1);
        if let Some((i, r)) = seq.iter().enumerate().find(|(i, r)| r.1 != *i) {
            return Err(err(
                Some(r.0),
                format!("sequence `{id}` (first row on line {first_line}): step {} where step {i} was expected; steps must be 0, 1, 2, … without gaps or repeats", r.1),
            ));
        }
        lengths.push(seq.len());
    }
    let steps = lengths.iter().copied().max().unwrap_or(0);
    if !c.per_step {
        if let Some(n) = lengths.iter().position(|&l| l != steps) {
            let id = &order[n];
            return Err(err(
                Some(rows[id][0].0),
                format!(
                    "sequence `{id}` has {} steps, others {steps}: a last-step task (`per_step = false`) needs sequences of equal length",
                    lengths[n]
                ),
            ));
        }
    }
    let (nf, nt) = (c.features.len(), c.targets.len());
    let per_row = if c.task == Kind::Classify { 1 } else { nt };
    let target_rows = if c.per_step { steps } else { 1 };
    let mut inputs = vec![0.0f32; order.len() * steps * nf];
    let mut values = vec![0.0f64; order.len() * target_rows * per_row];
    for (n, id) in order.iter().enumerate() {
        let seq = &rows[id];
        for (t, (_, _, f, y)) in seq.iter().enumerate() {
            inputs[(n * steps + t) * nf..(n * steps + t + 1) * nf].copy_from_slice(f);
            if c.per_step || t + 1 == seq.len() {
                let r = if c.per_step { t } else { 0 };
                values[(n * target_rows + r) * per_row..(n * target_rows + r + 1) * per_row].copy_from_slice(y);
            }
        }
    }
    let targets = match c.task {
        Kind::Regress => Targets::Values(values.into_iter().map(|v| v as f32).collect()),
        Kind::Classify => Targets::Classes(values.into_iter().map(|v| v as u32).collect()),
    };
    let varied = lengths.iter().any(|&l| l != steps);
    let set =
        SequenceSet { len: order.len(), steps, lengths: varied.then_some(lengths), input_size: nf, inputs, targets };
    Ok(Input { set, ids: order, labelled })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(train: &str) -> (tempfile::TempDir, toml::Table) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train.csv"), train).unwrap();
        std::fs::write(dir.path().join("test.csv"), "sequence,step,x,y\na,0,1,0\n").unwrap();
        let d = dir.path().display();
        let keys = format!("train = '{d}/train.csv'\ntest = '{d}/test.csv'\nfeatures = ['x']\ntargets = ['y']\ntask = 'classify'\nclasses = 2")
            .parse()
            .unwrap();
        (dir, keys)
    }

    #[test]
    fn long_format_rows_become_padded_sequences() {
        // Rows out of order; sequence `b` is shorter.
        let (_dir, keys) = setup("sequence,step,x,y\na,1,0.5,1\nb,0,2,1\na,0,0.25,0\na,2,1,1\n");
        let d = CsvFiles.build(&keys, 0).unwrap();
        assert_eq!(d.task, Task::Classify { classes: 2, per_step: true });
        assert_eq!((d.train.len, d.train.steps, d.train.lengths.clone()), (2, 3, Some(vec![3, 1])));
        assert_eq!(d.train.inputs, [0.25, 0.5, 1.0, 2.0, 0.0, 0.0]);
        assert_eq!(d.train.targets, Targets::Classes(vec![0, 1, 1, 1, 0, 0]));
        assert_eq!((d.test.lengths.clone(), d.valid), (None, None));
        let mut with_valid = keys.clone();
        let valid = _dir.path().join("valid.csv");
        std::fs::write(
            &valid,
            "sequence,step,x,y
v,0,3,1
v,1,4,0
",
        )
        .unwrap();
        with_valid.insert("valid".into(), valid.display().to_string().into());
        let v = CsvFiles.build(&with_valid, 0).unwrap().valid.unwrap();
        assert_eq!((v.len, v.inputs), (1, vec![3.0, 4.0]));
    }

    #[test]
    fn bad_files_name_the_line_and_column() {
        let (_dir, mut keys) = setup("sequence,step,x,y\na,0,1,1\n");
        keys.insert("train".into(), "/dev/zero".into());
        let e = CsvFiles.build(&keys, 0).unwrap_err().to_string();
        assert!(e.contains("/dev/zero: is not a regular file"), "{e}");
        let (_dir, keys) = setup("sequence,step,x,y\na,0,zero,1\n");
        let e = CsvFiles.build(&keys, 0).unwrap_err().to_string();
        assert!(e.contains("train.csv:2: column 3 (`x`): `zero` is not a number"), "{e}");
        let (_dir, keys) = setup("sequence,step,x\na,0,1\n");
        assert!(CsvFiles.build(&keys, 0).unwrap_err().to_string().contains("no column `y`"));
        let (_dir, keys) = setup("sequence,step,x,y\na,0,1,1\na,2,1,1\n");
        let e = CsvFiles.build(&keys, 0).unwrap_err().to_string();
        assert!(e.contains("train.csv:3:") && e.contains("without gaps"), "{e}");
        let (_dir, keys) = setup("sequence,step,x,y\na,0,1,1\na,1,1,5\n");
        let e = CsvFiles.build(&keys, 0).unwrap_err().to_string();
        assert!(e.contains("train.csv:3: column 4 (`y`): label 5 is not a class 0..1"), "{e}");
        let (_dir, keys) = setup("sequence,step,x,y\na,0,1,1\na,1,NaN,0\n");
        let e = CsvFiles.build(&keys, 0).unwrap_err().to_string();
        assert!(e.contains("train.csv:3: column 3 (`x`): `NaN` is not a finite number"), "{e}");
        let (_dir, keys) = setup("sequence,step,x,y\na,0,inf,1\n");
        assert!(CsvFiles.build(&keys, 0).unwrap_err().to_string().contains("train.csv:2: column 3"));
        let (_dir, keys) = setup("sequence,step,x,y\na,0,1,1\nb,0,1\n");
        let e = CsvFiles.build(&keys, 0).unwrap_err().to_string();
        assert!(e.contains("train.csv:3:") && !e.contains(":0:"), "{e}");
        let err = |s: &str| CsvFiles.check(&s.parse().unwrap()).unwrap_err();
        assert_eq!(err("train = 'a'\ntest = 'b'\nfeatures = []\ntargets = ['y']\ntask = 'regress'").path, ["features"]);
        assert_eq!(
            err("train = 'a'\ntest = 'b'\nfeatures = ['x']\ntargets = ['y']\ntask = 'classify'").path,
            ["classes"]
        );
    }
}
