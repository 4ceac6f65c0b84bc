//! A results folder's own description of itself — `spec.toml` and `meta.toml` — read once
//! into typed values (missing files give defaults: a report needs only `runs.csv`).

use std::path::{Path, PathBuf};

use rnnlab_spec::vocab::{layout, Meta};
use rnnlab_spec::{files, Published, ReportConfig};

use crate::error::ReportError;

/// What `spec.toml` and `meta.toml` say about a results folder.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    pub dir: PathBuf,
    /// `[experiment] name`, else the folder's name.
    pub name: String,
    pub description: String,
    pub report: ReportConfig,
    pub published: Vec<Published>,
    /// `None` when the folder has no meta.toml (copied without it).
    pub meta: Option<Meta>,
    /// Claims in `claims/` with a recent heartbeat: trials workers are running now.
    pub running: usize,
    /// The keys of the spec's `[search.space]`, if it searched.
    pub search: Vec<crate::sampled::SearchKey>,
}

/// Claim files in `dir/claims/` whose heartbeat is younger than the workers' default claim
/// timeout.
fn live_claims(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir.join(layout::CLAIMS)) else { return 0 };
    let now = std::time::SystemTime::now();
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.starts_with('.')
                && name.ends_with(".toml")
                && e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).map_or(true, |age| age < layout::CLAIM_TIMEOUT))
        })
        .count()
}

impl Folder {
    pub fn read(dir: &Path) -> Result<Folder, ReportError> {
        let mut folder = Folder {
            dir: dir.to_path_buf(),
            name: dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
            running: live_claims(dir),
            ..Folder::default()
        };
        if let Some(text) = read_optional(&dir.join(layout::SPEC))? {
            let path = dir.join(layout::SPEC);
            let err = |message: String| ReportError::Input { path: path.clone(), message };
            let spec: toml::Table = text.parse().map_err(|e: toml::de::Error| err(e.message().to_string()))?;
            if let Some(x) = spec.get("experiment").and_then(|e| e.as_table()) {
                let field = |k: &str| x.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                if !field("name").is_empty() {
                    folder.name = field("name");
                }
                folder.description = field("description");
            }
            folder.search = crate::sampled::search_keys(&spec);
            if let Some(toml::Value::Table(t)) = spec.get("report") {
                folder.report = rnnlab_spec::decode(t).map_err(|e| err(format!("[report] {}", e.message)))?;
            }
            match spec.get("published") {
                Some(toml::Value::Array(entries)) => {
                    for e in entries {
                        let toml::Value::Table(t) = e else {
                            return Err(err("[[published]] entries must be tables".into()));
                        };
                        folder
                            .published
                            .push(rnnlab_spec::decode(t).map_err(|e| err(format!("[[published]] {}", e.message)))?);
                    }
                }
                Some(_) => return Err(err("`published` must be an array of tables ([[published]])".into())),
                None => {}
            }
        }
        // A damaged meta.toml costs the report its header, not the report.
        folder.meta = read_optional(&dir.join(layout::META))?.and_then(|text| toml::from_str(&text).ok());
        Ok(folder)
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, ReportError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReportError::Input { path: path.to_path_buf(), message: files::io_text(&e) }),
    }
}
