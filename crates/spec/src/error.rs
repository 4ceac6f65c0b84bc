//! Spec errors: what went wrong, where (file:line:col), which key, and how to fix it.

use std::fmt;
use std::path::PathBuf;

/// A position in a spec file (1-based line and column) or on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A place in the spec file.
    File { path: PathBuf, line: usize, col: usize },
    /// A `--set` override given on the command line.
    Override { text: String },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line, col } => write!(f, "{}:{line}:{col}", path.display()),
            Location::Override { text } => write!(f, "--set {text} (command line)"),
        }
    }
}

/// A problem with one key of a section, before it is placed in a file.
///
/// Produced by [`crate::decode`] and by dataset plugins; the spec loader turns it into a
/// [`SpecError`] by looking up where the key came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Key path relative to the decoded table, e.g. `["hidden_size"]`.
    pub path: Vec<String>,
    pub message: String,
    pub help: Option<String>,
    /// Whether the error is about the key itself (unknown key) rather than its value.
    pub at_key: bool,
}

impl FieldError {
    pub fn new(path: &[&str], message: impl Into<String>) -> Self {
        FieldError {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
            help: None,
            at_key: false,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Prefixes the key path with the section it belongs to.
    pub fn within(mut self, section: &[&str]) -> Self {
        let mut path: Vec<String> = section.iter().map(|s| s.to_string()).collect();
        path.append(&mut self.path);
        self.path = path;
        self
    }
}

/// One located error in a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    pub location: Location,
    /// Dotted key, e.g. `model.hidden_size`; empty for whole-file errors.
    pub key: String,
    pub message: String,
    pub help: Option<String>,
    /// Which trial of the grid showed it (e.g. `model.cell=gru`), when it depends on the grid.
    pub context: Option<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(context) = &self.context {
            write!(f, "\n    in the trial with {context}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n    help: {help}")?;
        }
        Ok(())
    }
}

/// Every error found in a spec (validation reports all of them, not just the first).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "the spec has {n} error{}:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// Errors that stop a spec from loading at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read spec {}: {}", path.display(), crate::files::io_text(error))]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{0}")]
    Invalid(#[from] SpecErrors),
}

/// The closest of `choices` to `given`, if it is close enough to be a likely typo.
pub fn closest<'a>(given: &str, choices: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    choices
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_ignores_strangers() {
        let keys = ["hidden_size", "layers", "cell"];
        assert_eq!(closest("hiden_size", keys), Some("hidden_size"));
        assert_eq!(closest("layer", keys), Some("layers"));
        assert_eq!(closest("optimizer", keys), None);
    }
}
