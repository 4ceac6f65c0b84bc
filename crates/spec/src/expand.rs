//! Expanding `[grid]`: its axes, the grid columns they give, every index combination
//! (odometer order, the last axis fastest), and a grid point's values written into the spec
//! table before it is decoded.

use crate::error::{FieldError, SpecError};
use crate::locate::Locator;
use crate::overrides::Override;
use crate::source::SourceMap;

/// Sections whose keys may vary over the grid.
pub(crate) use crate::reference::GRIDABLE;

pub(crate) use crate::axis::Axis;

pub(crate) fn read_axes(
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
pub(crate) fn grid_columns(axes: &[Axis]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for axis in axes {
        let mut add = |c: String| {
            if !columns.contains(&c) {
                columns.push(c)
            }
        };
        if axis.path.is_empty() {
            for key in axis.values.first().and_then(toml::Value::as_table).into_iter().flat_map(|t| t.keys()) {
                add(key.clone());
            }
        } else if axis.path.len() == 1 {
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

pub(crate) fn point_cells(axes: &[Axis], point: &[usize], columns: &[String]) -> Vec<(String, String)> {
    let mut cells: Vec<(String, String)> = columns.iter().map(|c| (c.clone(), String::new())).collect();
    for (axis, &vi) in axes.iter().zip(point) {
        let mut put = |column: String, value: &toml::Value| {
            if let Some(cell) = cells.iter_mut().find(|(c, _)| *c == column) {
                cell.1 = display(value);
            }
        };
        match &axis.values[vi] {
            toml::Value::Table(t) if axis.path.is_empty() => {
                for (k, v) in t {
                    put(k.clone(), v);
                }
            }
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

/// A value as a researcher would write it in a table cell.
pub(crate) fn display(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// All index combinations, the last axis varying fastest.
pub(crate) fn odometer(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for &n in sizes {
        out = out.into_iter().flat_map(|p| (0..n).map(move |i| [p.clone(), vec![i]].concat())).collect();
    }
    out
}

/// Writes one axis value into a trial's sections.
pub(crate) fn apply(table: &mut toml::Table, axis: &Axis, value: &toml::Value) {
    match value.as_table() {
        Some(joint) if axis.path.is_empty() => {
            for (key, v) in joint {
                set_path(table, &key.split('.').map(str::to_string).collect::<Vec<_>>(), v);
            }
        }
        _ => set_path(table, &axis.path, value),
    }
}

pub(crate) fn set_path(table: &mut toml::Table, path: &[String], value: &toml::Value) {
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
