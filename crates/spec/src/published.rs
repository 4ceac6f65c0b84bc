//! `[[published]]` entries: decoded, and their `where` checked against the grid (a key that is
//! not a grid column or a value no grid point has is an error with a suggestion, not a row
//! that silently says "no data").

use crate::config::Published;
use crate::decode::decode;
use crate::error::{closest, FieldError, SpecError};
use crate::expand::display;
use crate::locate::Locator;
use crate::plan::Trial;

pub(crate) fn decode_published(
    root: &toml::Table,
    base: &Locator,
    errors: &mut Vec<SpecError>,
) -> Option<Vec<Published>> {
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
pub(crate) fn check_published_points(
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
