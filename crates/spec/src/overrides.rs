//! `--set key=value` overrides from the command line.

use crate::error::{FieldError, Location, SpecError};
use crate::source::KeyPath;

/// One `--set key=value`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The text as typed, for error messages and the results copy.
    pub text: String,
    /// Key path; under `grid` the axis name is one segment (`grid`, `model.cell`), and so is a
    /// searched key under `search.space`.
    pub path: KeyPath,
    pub value: toml::Value,
}

impl Override {
    /// Parses `key=value`; the value is read as TOML (`3`, `0.1`, `true`, `[1, 2]`,
    /// `{cell = "gru"}`, `"text"`) and otherwise taken as a bare string (`lstm`).
    pub fn parse(text: &str) -> Result<Override, SpecError> {
        let error = |message: String| {
            SpecError {
            location: Location::Override { text: text.to_string() },
            key: String::new(),
            message,
            help: Some("write --set section.key=value, e.g. --set model.hidden_size=32 or --set 'grid.model.cell=[\"lstm\",\"gru\"]'".into()),
            context: None,
        }
        };
        let Some((key, raw)) = text.split_once('=') else {
            return Err(error(format!("`{text}` has no `=`")));
        };
        let key = key.trim();
        let segments: Vec<&str> = key.split('.').collect();
        if key.is_empty() || segments.iter().any(|s| s.is_empty()) {
            return Err(error(format!("`{key}` is not a dotted key")));
        }
        let path: KeyPath = match segments.as_slice() {
            ["grid", axis @ ..] if !axis.is_empty() => vec!["grid".to_string(), axis.join(".")],
            ["search", "space", key @ ..] if !key.is_empty() => {
                vec!["search".to_string(), "space".to_string(), key.join(".")]
            }
            _ => segments.iter().map(|s| s.to_string()).collect(),
        };
        if path.len() < 2 {
            return Err(error(format!("`{key}` names a whole section; set one key of it")));
        }
        let raw = raw.trim();
        let value = match format!("v = {raw}").parse::<toml::Table>() {
            Ok(mut t) => t.remove("v").expect("parsed `v`"),
            Err(_) => toml::Value::String(raw.to_string()),
        };
        Ok(Override { text: text.to_string(), path, value })
    }

    /// Sets this override's value in `root`, creating tables on the way.
    pub(crate) fn apply(&self, root: &mut toml::Table) -> Result<(), FieldError> {
        let (last, parents) = self.path.split_last().expect("at least two segments");
        let mut table = root;
        for (i, seg) in parents.iter().enumerate() {
            let entry = table.entry(seg.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    let at: Vec<&str> = self.path[..=i].iter().map(String::as_str).collect();
                    return Err(FieldError::new(&at, format!("`{}` is a value, not a table", at.join("."))));
                }
            };
        }
        table.insert(last.clone(), self.value.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, path: &[&str], value: toml::Value) {
        let o = Override::parse(text).unwrap();
        assert_eq!(o.path, path);
        assert_eq!(o.value, value);
    }

    #[test]
    fn values_are_toml_or_bare_strings() {
        check("model.hidden_size=32", &["model", "hidden_size"], toml::Value::Integer(32));
        check("optimizer.lr = 0.5", &["optimizer", "lr"], toml::Value::Float(0.5));
        check("model.cell=gru", &["model", "cell"], toml::Value::String("gru".into()));
        check(
            "grid.model.cell=[\"lstm\",\"gru\"]",
            &["grid", "model.cell"],
            toml::Value::Array(vec!["lstm".into(), "gru".into()]),
        );
        check("experiment.seeds=[1, 2]", &["experiment", "seeds"], toml::Value::Array(vec![1.into(), 2.into()]));
        let o = Override::parse("search.space.optimizer.lr={ uniform = [0.01, 0.1] }").unwrap();
        assert_eq!(o.path, ["search", "space", "optimizer.lr"]);
    }

    #[test]
    fn malformed_overrides_are_refused() {
        for bad in ["model.hidden_size", "=3", "model..x=1", "model=3"] {
            let err = Override::parse(bad).unwrap_err();
            assert!(err.help.is_some(), "{bad}: {err}");
        }
    }
}
