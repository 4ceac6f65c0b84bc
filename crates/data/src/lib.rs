//! Dataset plugins: each turns its `[dataset]` keys and a seed into train and test sequences.
//!
//! A plugin is one file in `plugins/` (its config struct, doc, key table, build function and
//! tests) plus one line in [`registry::PLUGINS`]. Everything here is plain `Vec<f32>` data; no
//! tensors.

mod base;
pub mod files;
pub mod plugins;
pub mod registry;

pub use base::{DataError, Dataset, Input, LossReduction, Plugin, SequenceSet, Targets, Task};
pub use registry::{find, PLUGINS};
