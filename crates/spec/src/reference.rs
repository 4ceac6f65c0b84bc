//! The spec reference, read off the types themselves. Every section's serde type (and every
//! optimizer's and dataset plugin's `Config`) derives `schemars::JsonSchema`, which records its
//! doc comments, serde defaults, required keys and enum variants; [`keys`] turns that record
//! into one row per key (name, type, default, meaning) for `rnnlab plugins` and for
//! docs/spec.md (`rnnlab reference`, `just docs`). A key is declared once, in its struct, so
//! the reference cannot drift from what the loader accepts.

use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

/// A top-level section of a spec: the loader's list of sections (unknown ones are errors) and
/// the reference's table of contents.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// `experiment` for `[experiment]`, `published` for `[[published]]`.
    pub name: &'static str,
    pub required: bool,
    /// The section's keys; `None` for `[grid]`, whose keys are any dotted key of the gridable
    /// sections.
    pub schema: Option<fn() -> Schema>,
}

/// Every section, in the order a spec usually has them.
pub const SECTIONS: &[Section] = &[
    Section { name: "experiment", required: true, schema: Some(schema_of::<crate::ExperimentConfig>) },
    Section { name: "dataset", required: true, schema: Some(schema_of::<crate::DatasetConfig>) },
    Section { name: "model", required: true, schema: Some(schema_of::<crate::ModelConfig>) },
    Section { name: "optimizer", required: true, schema: Some(crate::config::optimizer_schema) },
    Section { name: "train", required: true, schema: Some(schema_of::<crate::TrainConfig>) },
    Section { name: "run", required: false, schema: Some(schema_of::<crate::RunConfig>) },
    Section { name: "report", required: false, schema: Some(schema_of::<crate::ReportConfig>) },
    Section { name: "published", required: false, schema: Some(schema_of::<crate::Published>) },
    Section { name: "grid", required: false, schema: None },
    Section { name: "search", required: false, schema: Some(crate::search::schema) },
    Section { name: "prune", required: false, schema: Some(schema_of::<crate::PruneConfig>) },
    Section { name: "slurm", required: false, schema: Some(schema_of::<crate::SlurmConfig>) },
];

/// `[grid]`'s introduction (it has no type: its keys are dotted keys of other sections).
pub const GRID_DOC: &str = "The axes of the sweep: each key is a dotted key of a gridable section \
(`\"optimizer.lr\" = [0.1, 0.01]`) or a whole section (`\"model\" = [{ cell = \"lstm\", proj_size = 2 }, \
{ cell = \"gru\" }]`, whose values are tables of that section's keys, set together), and its value a \
non-empty list. Every combination of the axes' values is a grid point, crossed with `[search]`'s \
points and run once per seed of `[experiment] seeds`; a grid point's values are columns of `plan`, \
runs.csv and the report. A value is checked as if written in its section, and an error in it names \
the trial it broke.";

/// The sections whose keys `[grid]` and `[search.space]` may vary (as dotted keys).
pub const GRIDABLE: &[&str] = &["dataset", "model", "optimizer", "train", "run"];

/// Any value, for `#[schemars(with = …)]` on a `toml::Value` field (described by its doc).
pub type AnyValue = Value;
/// Any table, for `#[schemars(with = …)]` on a `toml::Table` field.
pub type AnyTable = Map<String, Value>;

/// One documented key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDoc {
    pub name: String,
    /// `integer`, `number`, `string`, `boolean`, `array of …`, `table`, or the allowed
    /// values (`"tanh" | "relu"`).
    pub kind: String,
    /// The default as TOML spells it, `required`, or `—` for an optional key whose doc says
    /// what its absence means.
    pub default: String,
    /// The field's doc comment, followed by the allowed values' own docs.
    pub doc: String,
}

/// The description of `T`, every subschema inlined.
pub fn schema_of<T: JsonSchema>() -> Schema {
    schema_with(T::json_schema)
}

/// The description of a type through its `json_schema` (a registry's function pointer), every
/// subschema inlined.
pub fn schema_with(describe: fn(&mut schemars::SchemaGenerator) -> Schema) -> Schema {
    let mut generator =
        schemars::generate::SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true).into_generator();
    describe(&mut generator)
}

/// The keys of a table type that are tables of keys themselves (`[train.early_stopping]`).
pub fn subtables(schema: &Schema) -> Vec<(String, Schema)> {
    let empty = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    properties
        .iter()
        .filter_map(|(name, s)| {
            let table = std::iter::once(s).chain(alternatives(s)).find(|t| t.get("properties").is_some())?;
            Some((name.clone(), Schema::try_from(table.clone()).ok()?))
        })
        .collect()
}

/// The type's own doc comment (a section's introduction), one paragraph per line.
pub fn description(schema: &Schema) -> String {
    schema.get("description").and_then(Value::as_str).unwrap_or("").to_string()
}

/// The keys of a table type, in the order of its struct.
pub fn keys(schema: &Schema) -> Vec<KeyDoc> {
    let empty = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    properties
        .iter()
        .map(|(name, s)| {
            let default = match s.get("default") {
                Some(Value::Null) => "—".into(),
                Some(v) => toml_text(v),
                None if required.contains(&name.as_str()) => "required".into(),
                None => "—".into(),
            };
            let mut doc = s.get("description").and_then(Value::as_str).unwrap_or("").replace("\n\n", " ");
            let variants = variant_docs(s);
            if !variants.is_empty() {
                if !doc.is_empty() {
                    doc.push(' ');
                }
                doc.push_str(&variants.join("; "));
                doc.push('.');
            }
            KeyDoc { name: name.clone(), kind: kind(s), default, doc }
        })
        .collect()
}

/// A value as TOML writes it.
pub fn toml_text(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("[{}]", items.iter().map(toml_text).collect::<Vec<_>>().join(", ")),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => {
            format!("{{ {} }}", m.iter().map(|(k, v)| format!("{k} = {}", toml_text(v))).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

/// The alternatives of a schema (`anyOf`/`oneOf`), without `null` (an optional key).
fn alternatives(s: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for key in ["anyOf", "oneOf"] {
        for alt in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            if alt.get("type").and_then(Value::as_str) != Some("null") {
                out.extend(if alt.get("anyOf").is_some() || alt.get("oneOf").is_some() {
                    alternatives(alt)
                } else {
                    vec![alt]
                });
            }
        }
    }
    out
}

/// The allowed values of an enum-like schema, each with its doc when it has one.
fn variant_docs(s: &Value) -> Vec<String> {
    alternatives(s)
        .into_iter()
        .filter_map(|alt| {
            let value = alt.get("const")?;
            let doc = alt.get("description")?.as_str()?.replace("\n\n", " ");
            let doc = doc.trim_end_matches('.');
            Some(format!("`{}`: {}", value.as_str().map_or_else(|| value.to_string(), str::to_string), doc))
        })
        .collect()
}

fn kind(s: &Value) -> String {
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        return values.iter().filter(|v| !v.is_null()).map(toml_text).collect::<Vec<_>>().join(" | ");
    }
    if let Some(value) = s.get("const") {
        return toml_text(value);
    }
    let alts = alternatives(s);
    if !alts.is_empty() {
        return alts.into_iter().map(kind).collect::<Vec<_>>().join(" | ");
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let names: Vec<String> = types
        .into_iter()
        .filter(|t| *t != "null")
        .map(|t| match t {
            "array" => match s.get("items") {
                Some(items) => format!("array of {}", kind(items)),
                None => "array".into(),
            },
            "object" => "table".into(),
            "number" => "float".into(),
            other => other.into(),
        })
        .collect();
    if names.is_empty() {
        "any value".into()
    } else {
        names.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An example of everything the derive records.
    #[derive(serde::Serialize, serde::Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        /// Required.
        size: usize,
        /// With a default.
        #[serde(default = "three")]
        rate: f64,
        /// Optional.
        #[serde(default)]
        name: Option<String>,
        /// Chosen.
        #[serde(default)]
        pick: Pick,
        #[serde(default)]
        list: Vec<u64>,
    }

    fn three() -> f64 {
        3.0
    }

    #[derive(serde::Serialize, serde::Deserialize, JsonSchema, Default)]
    #[serde(rename_all = "lowercase")]
    enum Pick {
        /// The first.
        #[default]
        First,
        /// The second.
        Second,
    }

    /// Every key a spec can hold is documented: a key without a doc comment fails here.
    #[test]
    fn every_key_of_every_section_and_optimizer_has_a_doc() {
        let mut tables: Vec<(String, Schema)> = Vec::new();
        for section in SECTIONS {
            if let Some(schema) = section.schema {
                let schema = schema();
                tables.extend(subtables(&schema).into_iter().map(|(k, s)| (format!("{}.{k}", section.name), s)));
                tables.push((section.name.to_string(), schema));
            }
        }
        for entry in rnnlab_optim::OPTIMIZERS {
            tables.push((format!("optimizer ({})", entry.name), schema_with(entry.schema)));
        }
        for (name, schema) in &tables {
            assert!(!description(schema).is_empty(), "[{name}] has no doc comment");
            for key in keys(schema) {
                assert!(!key.doc.is_empty() && !key.kind.is_empty(), "[{name}] {}: {key:?}", key.name);
            }
        }
        assert!(tables.iter().any(|(name, _)| name == "train.early_stopping"));
        assert!(tables.iter().any(|(name, _)| name == "optimizer.schedule"));
    }

    #[test]
    fn rows_say_type_default_and_meaning() {
        let rows = keys(&schema_of::<Example>());
        let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap().clone();
        assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["size", "rate", "name", "pick", "list"]);
        assert_eq!((row("size").kind.as_str(), row("size").default.as_str()), ("integer", "required"));
        assert_eq!((row("rate").kind.as_str(), row("rate").default.as_str()), ("float", "3.0"));
        assert_eq!((row("name").kind.as_str(), row("name").default.as_str()), ("string", "—"));
        assert_eq!(row("pick").kind, "\"first\" | \"second\"");
        assert_eq!(row("pick").default, "\"first\"");
        assert_eq!(row("pick").doc, "Chosen. `first`: The first; `second`: The second.");
        assert_eq!((row("list").kind.as_str(), row("list").default.as_str()), ("array of integer", "[]"));
    }
}
