//! Placing an error: from a decoded key path back to the spec file's line and column, the grid
//! element, or the `--set` it came from.

use crate::axis::Axis;
use crate::error::{FieldError, Location, SpecError};
use crate::overrides::Override;
use crate::source::SourceMap;

/// Everything needed to place an error in the file or on the command line.
pub(crate) struct Locator<'a> {
    pub(crate) sources: &'a SourceMap,
    pub(crate) overrides: &'a [Override],
    pub(crate) axes: &'a [Axis],
}

impl Locator<'_> {
    /// Where the value at config `path` came from, for a trial at grid `point`, and whether
    /// it came from a grid axis.
    pub(crate) fn locate(&self, path: &[String], at_key: bool, point: &[usize]) -> (Location, bool) {
        for (axis, &vi) in self.axes.iter().zip(point).rev() {
            if axis.path.is_empty() {
                // `[search]`: the key in `[search.space]` that set this value.
                let joint = axis.values[vi].as_table();
                if let Some(key) = joint.and_then(|t| t.keys().find(|k| path.starts_with(&split(k)))) {
                    let mut at = vec!["search".to_string(), "space".to_string(), key.clone()];
                    at.extend_from_slice(&path[split(key).len()..]);
                    return (self.sources.locate(&at, at_key), true);
                }
                continue;
            }
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

    pub(crate) fn locate_base(&self, path: &[String], at_key: bool) -> Location {
        match self.overrides.iter().rev().find(|o| path.starts_with(&o.path) || o.path.starts_with(path)) {
            Some(o) if !self.sources.has(path) || path.starts_with(&o.path) => {
                Location::Override { text: o.text.clone() }
            }
            _ => self.sources.locate(path, at_key),
        }
    }

    /// Places `e`; `context` (the trial's grid point) is kept only when a grid value caused it.
    pub(crate) fn error(&self, e: FieldError, point: &[usize], context: Option<String>) -> SpecError {
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

fn split(dotted: &str) -> Vec<String> {
    dotted.split('.').map(str::to_string).collect()
}
