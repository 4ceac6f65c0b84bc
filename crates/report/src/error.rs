//! Why a report could not be made.

use std::path::PathBuf;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    #[error("plotting {metric}: {message}")]
    Plot { metric: String, message: String },
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
}
