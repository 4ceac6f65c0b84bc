//! A grid axis: what `expand` reads from `[grid]` (and `search` from `[search]`) and `locate`
//! follows back to the spec when an error names a value it set.

/// One `[grid]` axis, or `[search]`'s points (an empty `path`: each value is a table of
/// dotted keys and their values, set together).
pub(crate) struct Axis {
    pub(crate) name: String,
    pub(crate) path: Vec<String>,
    pub(crate) values: Vec<toml::Value>,
    /// `Some(text)` when the axis came from a `--set`.
    pub(crate) from_override: Option<String>,
}
