//! Every dataset plugin, one line each.

use crate::base::Plugin;
use crate::plugins;

/// All plugins; add a new one here.
#[rustfmt::skip]
pub static PLUGINS: &[&dyn Plugin] = &[
    &plugins::parity::Parity,
    &plugins::count_ones::CountOnes,
    &plugins::sine::Sine,
    &plugins::mnist::Mnist,
    &plugins::manual::Manual,
    &plugins::poly_music::PolyMusic,
    &plugins::csv_files::CsvFiles,
    &plugins::adding::Adding,
    &plugins::copy_memory::CopyMemory,
];

/// The plugin called `name`.
pub fn find(name: &str) -> Option<&'static dyn Plugin> {
    PLUGINS.iter().copied().find(|p| p.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = PLUGINS.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PLUGINS.len());
    }

    #[test]
    fn every_example_checks_and_builds() {
        for p in PLUGINS {
            let mut keys: toml::Table = p.example().parse().unwrap_or_else(|e| panic!("{}: {e}", p.name()));
            assert_eq!(keys.remove("plugin").and_then(|v| v.as_str().map(str::to_string)).as_deref(), Some(p.name()));
            let task = p.check(&keys).unwrap_or_else(|e| panic!("{}: {e:?}", p.name()));
            let data = match p.build(&keys, 0) {
                Ok(data) => data,
                // Plugins that read downloaded files are built from test fixtures in their own tests.
                Err(crate::DataError::Missing(_)) => continue,
                Err(e) => panic!("{}: {e}", p.name()),
            };
            assert_eq!(data.task, task, "{}", p.name());
            assert!(data.train.len > 0 && data.test.len > 0, "{}", p.name());
        }
    }

    #[test]
    fn every_key_is_documented() {
        for p in PLUGINS {
            let keys = rnnlab_spec::reference::keys(&p.keys());
            assert!(!keys.is_empty(), "{}", p.name());
            for k in keys {
                assert!(!k.doc.is_empty() && !k.kind.is_empty(), "{}.{}: {k:?}", p.name(), k.name);
            }
        }
    }
}
