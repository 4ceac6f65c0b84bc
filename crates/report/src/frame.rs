//! The results folder's CSV files as polars frames, read with the `csv` crate.
//!
//! polars' own CSV reader (its `csv` feature) would pull an async runtime, an object-store
//! client and TLS into the build for files of a few thousand rows; this reader keeps those
//! out and names the file, line and column of anything it cannot read, in words meant for
//! rnnlab's users.

use std::path::Path;

use polars::prelude::*;

use rnnlab_spec::files::io_text;

use crate::error::ReportError;

/// How a column is read: text, or a float (empty fields are null either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Float,
}

/// Reads the columns of `path` named in `columns` (those the header has; others are left
/// out) into a lazy frame.
pub(crate) fn read_csv(path: &Path, columns: &[(&str, Kind)]) -> Result<LazyFrame, ReportError> {
    let fail = |line: Option<u64>, message: String| ReportError::Input {
        path: match line {
            Some(l) => format!("{}:{l}", path.display()).into(),
            None => path.to_path_buf(),
        },
        message,
    };
    let csv_fail = |e: csv::Error| {
        let line = e.position().map(|p| p.line());
        let message = match e.kind() {
            csv::ErrorKind::Io(io) => io_text(io),
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("a row with {len} fields where the header has {expected_len} (a damaged file?)")
            }
            _ => e.to_string(),
        };
        fail(line, message)
    };
    // Flexible: a short row (an older writer's, polars read them too) reads as empty fields.
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(csv_fail)?;
    let header = reader.headers().map_err(csv_fail)?.clone();
    let picked: Vec<(usize, &str, Kind)> = columns
        .iter()
        .filter_map(|&(name, kind)| header.iter().position(|h| h == name).map(|i| (i, name, kind)))
        .collect();
    let mut texts: Vec<Vec<Option<String>>> = vec![Vec::new(); picked.len()];
    let mut floats: Vec<Vec<Option<f64>>> = vec![Vec::new(); picked.len()];
    for record in reader.records() {
        let record = record.map_err(csv_fail)?;
        let line = record.position().map(|p| p.line());
        if record.len() > header.len() {
            return Err(fail(
                line,
                format!("a row with {} fields where the header has {} (a damaged file?)", record.len(), header.len()),
            ));
        }
        for (k, &(i, name, kind)) in picked.iter().enumerate() {
            let v = record.get(i).unwrap_or("");
            match kind {
                Kind::Text => texts[k].push((!v.is_empty()).then(|| v.to_string())),
                Kind::Float if v.is_empty() => floats[k].push(None),
                Kind::Float => floats[k].push(Some(
                    v.trim()
                        .parse()
                        .map_err(|_| fail(line, format!("column {} (`{name}`): `{v}` is not a number", i + 1)))?,
                )),
            }
        }
    }
    let cols: Vec<Column> = picked
        .iter()
        .enumerate()
        .map(|(k, &(_, name, kind))| match kind {
            Kind::Text => Column::new(name.into(), std::mem::take(&mut texts[k])),
            Kind::Float => Column::new(name.into(), std::mem::take(&mut floats[k])),
        })
        .collect();
    Ok(DataFrame::new_infer_height(cols)?.lazy())
}

/// Row `i` of column `name` as text (empty for null or a missing column).
pub(crate) fn text_at(df: &DataFrame, name: &str, i: usize) -> String {
    match df.column(name).ok().and_then(|c| c.get(i).ok()) {
        Some(AnyValue::String(s)) => s.to_string(),
        Some(AnyValue::StringOwned(s)) => s.to_string(),
        Some(AnyValue::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_typed_empty_fields_null_and_bad_values_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        std::fs::write(&path, "trial_id,status,x,extra\na,ok,1.5,z\nb,,,z\n").unwrap();
        let df = read_csv(&path, &[("trial_id", Kind::Text), ("status", Kind::Text), ("x", Kind::Float)])
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(df.get_column_names(), ["trial_id", "status", "x"]);
        assert_eq!(df.column("x").unwrap().f64().unwrap().get(0), Some(1.5));
        assert_eq!(df.column("x").unwrap().null_count(), 1);
        assert_eq!(df.column("status").unwrap().null_count(), 1);

        std::fs::write(&path, "step,test_loss\n1,0.5\n2,oops\n").unwrap();
        let e = read_csv(&path, &[("step", Kind::Float), ("test_loss", Kind::Float)]).err().unwrap().to_string();
        assert!(e.ends_with("runs.csv:3: column 2 (`test_loss`): `oops` is not a number"), "{e}");
        std::fs::write(&path, "step,test_loss\n1,0.5\n2,0.1,7\n").unwrap();
        let e = read_csv(&path, &[("step", Kind::Float)]).err().unwrap().to_string();
        assert!(e.contains("runs.csv:3: a row with 3 fields where the header has 2"), "{e}");
        // A short row (older writers) reads as missing values, as polars' reader did.
        std::fs::write(&path, "step,test_loss\n1,0.5\n2\n").unwrap();
        let df = read_csv(&path, &[("test_loss", Kind::Float)]).unwrap().collect().unwrap();
        assert_eq!(df.column("test_loss").unwrap().null_count(), 1);
        assert!(!e.contains("polars") && !e.contains("Python"), "{e}");
    }
}
