//! Turning a TOML table into a typed config, with errors that name the key and suggest fixes.
//!
//! Config structs use `#[serde(deny_unknown_fields)]`; serde's messages for unknown keys and
//! unknown enum variants list the valid choices, which we turn into "did you mean" hints.

use serde::de::DeserializeOwned;

use crate::error::{closest, FieldError};

/// Decodes `table` into `T`, reporting the first problem with its key path.
pub fn decode<T: DeserializeOwned>(table: &toml::Table) -> Result<T, FieldError> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize::<_, T>(value).map_err(field_error)
}

/// serde's error for a table as ours: the key path, the message rewritten with hints.
pub(crate) fn field_error(e: serde_path_to_error::Error<toml::de::Error>) -> FieldError {
    let mut path: Vec<String> = e
        .path()
        .iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Seq { index } => Some(format!("[{index}]")),
            _ => None,
        })
        .collect();
    let raw = e.into_inner().message().to_string();
    let mut err = explain(&raw);
    // serde_path_to_error may or may not already end the path with the unknown key.
    if err.at_key && path.last() != err.path.last() {
        path.append(&mut err.path);
    }
    err.path = path;
    err
}

/// Rewrites serde's message into ours; for an unknown key the returned path holds the key.
fn explain(raw: &str) -> FieldError {
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let choices = quoted_after(rest, "expected");
        let mut err = FieldError::new(&[name], format!("unknown key `{name}`"));
        err.at_key = true;
        err.help = Some(match closest(name, choices.iter().map(String::as_str)) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!("valid keys here: {}", choices.join(", ")),
        });
        return err;
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let name = rest.split('`').next().unwrap_or_default();
        let choices = quoted_after(rest, "expected");
        let mut err = FieldError::new(&[], format!("unknown value `{name}`"));
        err.help = Some(match closest(name, choices.iter().map(String::as_str)) {
            Some(c) => format!("did you mean `{c}`? (valid: {})", choices.join(", ")),
            None => format!("valid values: {}", choices.join(", ")),
        });
        return err;
    }
    if let Some(field) = raw.strip_prefix("missing field `") {
        let name = field.split('`').next().unwrap_or_default();
        let mut err = FieldError::new(&[], format!("missing required key `{name}`"));
        err.help = Some(format!("add `{name} = ...` to this section"));
        return err;
    }
    FieldError::new(&[], raw.to_string())
}

/// The backtick-quoted words after `marker` in a serde message.
fn quoted_after(text: &str, marker: &str) -> Vec<String> {
    let Some(pos) = text.find(marker) else {
        return Vec::new();
    };
    text[pos..].split('`').skip(1).step_by(2).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Model {
        hidden_size: usize,
        #[serde(default)]
        cell: Cell,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Cell {
        #[default]
        Lstm,
        Gru,
    }

    fn check(src: &str, path: &[&str], message: &str, help: Option<&str>) {
        let table: toml::Table = src.parse().unwrap();
        let err = decode::<Model>(&table).unwrap_err();
        assert_eq!(err.path, path, "{err:?}");
        assert_eq!(err.message, message, "{err:?}");
        assert_eq!(err.help.as_deref(), help, "{err:?}");
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        check("hiden_size = 3", &["hiden_size"], "unknown key `hiden_size`", Some("did you mean `hidden_size`?"));
    }

    #[test]
    fn unknown_variant_lists_choices() {
        check(
            "hidden_size = 3\ncell = 'lsmt'",
            &["cell"],
            "unknown value `lsmt`",
            Some("did you mean `lstm`? (valid: lstm, gru)"),
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let table: toml::Table = "hidden_size = 'big'".parse().unwrap();
        let err = decode::<Model>(&table).unwrap_err();
        assert_eq!(err.path, ["hidden_size"]);
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }

    #[test]
    fn missing_key_says_what_to_add() {
        check("", &[], "missing required key `hidden_size`", Some("add `hidden_size = ...` to this section"));
    }
}
