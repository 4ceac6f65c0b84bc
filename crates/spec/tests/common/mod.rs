//! What the spec tests share: a catalog with one plugin, a base spec, and error assertions.
#![allow(dead_code)]

use std::path::Path;

use rnnlab_spec::{load_str, Catalog, FieldError, Location, Override, Plan, SpecErrors, TrialConfig};

/// A catalog with one plugin, `bits`, whose only key is `length` (≥ 1).
pub struct Fake;
impl Catalog for Fake {
    fn dataset_plugins(&self) -> Vec<&'static str> {
        vec!["bits"]
    }
    fn check_trial(&self, t: &TrialConfig) -> Result<(), FieldError> {
        match t.dataset.keys.get("length").and_then(|v| v.as_integer()) {
            Some(n) if n >= 1 => Ok(()),
            _ => Err(FieldError::new(&["dataset", "length"], "must be an integer ≥ 1")),
        }
    }
}

pub const BASE: &str = r#"[experiment]
name = "t"
seeds = [0, 1]

[dataset]
plugin = "bits"
length = 4

[model]
cell = "lstm"
hidden_size = 8

[optimizer]
name = "adam"
lr = 0.1

[train]
steps = 10
batch_size = 4
"#;

pub fn load(src: &str, sets: &[&str]) -> Result<Plan, SpecErrors> {
    load_in(&Fake, src, sets)
}

/// Loads `src` as `spec.toml` with `--set` overrides, checking datasets with `catalog`.
pub fn load_in(catalog: &dyn Catalog, src: &str, sets: &[&str]) -> Result<Plan, SpecErrors> {
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    load_str(Path::new("spec.toml"), src, &overrides, catalog)
}

/// Asserts the spec fails with one error at `line:col` whose text contains each of `needles`.
pub fn check_error(src: &str, sets: &[&str], line: usize, col: usize, needles: &[&str]) {
    check_error_in(&Fake, src, sets, line, col, needles)
}

/// [`check_error`] with datasets checked by `catalog`.
pub fn check_error_in(catalog: &dyn Catalog, src: &str, sets: &[&str], line: usize, col: usize, needles: &[&str]) {
    let errors = load_in(catalog, src, sets).unwrap_err();
    let e = &errors.0[0];
    let text = e.to_string();
    assert_eq!(e.location, Location::File { path: "spec.toml".into(), line, col }, "{text}");
    for n in needles {
        assert!(text.contains(n), "`{n}` not in: {text}");
    }
}
