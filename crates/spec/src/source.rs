//! Where every key and value of a spec file sits, so errors can say file:line:col.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, Item, Table, Value};

use crate::error::Location;

/// A key path: table keys, grid axis names (one segment, e.g. `model.cell`) and `[i]` indices.
pub type KeyPath = Vec<String>;

#[derive(Debug, Clone, Default)]
struct Spans {
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

/// Spans of every key of one spec file.
#[derive(Debug, Clone)]
pub struct SourceMap {
    path: PathBuf,
    line_starts: Vec<usize>,
    spans: HashMap<KeyPath, Spans>,
    /// Keys of `[grid]` in file order.
    pub grid_order: Vec<String>,
}

impl SourceMap {
    /// Indexes `doc`, parsed from `text`, which was read from `path`.
    pub fn new(path: &Path, text: &str, doc: &ImDocument<&str>) -> Self {
        let mut map = SourceMap {
            path: path.to_path_buf(),
            line_starts: std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect(),
            spans: HashMap::new(),
            grid_order: Vec::new(),
        };
        map.walk_table(&mut Vec::new(), doc.as_table());
        if let Some(grid) = doc.as_table().get("grid").and_then(Item::as_table) {
            map.grid_order = grid.iter().map(|(k, _)| k.to_string()).collect();
        }
        map
    }

    fn walk_table(&mut self, prefix: &mut KeyPath, table: &Table) {
        for (k, item) in table.iter() {
            prefix.push(k.to_string());
            let key = table.key(k).and_then(|k| k.span());
            self.spans.insert(prefix.clone(), Spans { key, value: item.span() });
            self.walk_item(prefix, item);
            prefix.pop();
        }
    }

    fn walk_item(&mut self, prefix: &mut KeyPath, item: &Item) {
        match item {
            Item::Table(t) => self.walk_table(prefix, t),
            Item::Value(v) => self.walk_value(prefix, v),
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    prefix.push(format!("[{i}]"));
                    self.spans.insert(prefix.clone(), Spans { key: t.span(), value: t.span() });
                    self.walk_table(prefix, t);
                    prefix.pop();
                }
            }
            Item::None => {}
        }
    }

    fn walk_value(&mut self, prefix: &mut KeyPath, value: &Value) {
        match value {
            Value::InlineTable(t) => {
                for (k, v) in t.iter() {
                    prefix.push(k.to_string());
                    let key = t.key(k).and_then(|k| k.span());
                    self.spans.insert(prefix.clone(), Spans { key, value: v.span() });
                    self.walk_value(prefix, v);
                    prefix.pop();
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    prefix.push(format!("[{i}]"));
                    self.spans.insert(prefix.clone(), Spans { key: v.span(), value: v.span() });
                    self.walk_value(prefix, v);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }

    /// Whether the file has this exact key.
    pub fn has(&self, path: &[String]) -> bool {
        self.spans.contains_key(path)
    }

    /// The location of `path`, or of its deepest prefix that is in the file.
    /// `at_key` points at the key rather than its value (for unknown keys).
    pub fn locate(&self, path: &[String], at_key: bool) -> Location {
        for n in (1..=path.len()).rev() {
            if let Some(s) = self.spans.get(&path[..n]) {
                let exact = n == path.len();
                let span = if exact && !at_key {
                    s.value.clone().or(s.key.clone())
                } else {
                    s.key.clone().or(s.value.clone())
                };
                if let Some(span) = span {
                    return self.at_offset(span.start);
                }
            }
        }
        self.at_offset(0)
    }

    /// The location of a byte offset.
    pub fn at_offset(&self, offset: usize) -> Location {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let col = offset - self.line_starts[line - 1] + 1;
        Location::File { path: self.path.clone(), line, col }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, path: &[&str], at_key: bool, line: usize, col: usize) {
        let doc = ImDocument::parse(src).unwrap();
        let map = SourceMap::new(Path::new("s.toml"), src, &doc);
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        assert_eq!(map.locate(&path, at_key), Location::File { path: "s.toml".into(), line, col });
    }

    #[test]
    fn locates_keys_values_and_grid_elements() {
        let src = "[model]\nhidden_size = 0\n\n[grid]\n\"model.cell\" = [\"lstm\", \"gur\"]\n\"model\" = [{cell = \"gru\"}]\n";
        check(src, &["model", "hidden_size"], false, 2, 15);
        check(src, &["model", "hidden_size"], true, 2, 1);
        check(src, &["grid", "model.cell", "[1]"], false, 5, 25);
        check(src, &["grid", "model", "[0]", "cell"], false, 6, 20);
        // A missing key points at its section.
        check(src, &["model", "layers"], false, 1, 2);
        check(src, &["nowhere"], false, 1, 1);
    }
}
