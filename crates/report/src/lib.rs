//! Reports on a results folder, computed with polars from its CSV files alone (so a copied
//! folder can be reported on anywhere).
//!
//! [`folder`] reads what the folder says of itself (spec.toml, meta.toml) once;
//! [`summary`] groups `runs.csv` by grid point and aggregates each final metric over seeds;
//! [`published`] compares the spec's `[[published]]` figures with those aggregates;
//! [`curves`] averages every trial's `curve.csv` over seeds and [`plots`] draws them;
//! [`write`] writes `report.md`, `report.html` and `plots/*.svg` from the blocks of [`doc`];
//! [`best`] names each compared value's best trial; [`compare`] puts two results folders side
//! by side. `frame` reads the CSV files.

pub mod best;
pub mod budget;
pub mod compare;
pub mod curves;
pub mod doc;
pub mod error;
pub mod folder;
mod frame;
pub mod index;
pub mod pairwise;
pub mod pareto;
pub mod plots;
pub mod profile;
pub mod published;
pub mod sampled;
pub mod stats;
pub mod summary;
pub mod write;

use std::path::Path;

use rnnlab_spec::ReportConfig;

pub use error::ReportError;
pub use folder::Folder;
pub use summary::{mean_std, not_ok, summarize, Row, Stat, Summary};
pub use write::{write_report, Report};

/// Reads `[report]` from the folder's `spec.toml` (defaults when absent).
pub fn report_config(dir: &Path) -> Result<ReportConfig, ReportError> {
    Ok(Folder::read(dir)?.report)
}
