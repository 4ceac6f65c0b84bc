//! The reference results committed under `results/` are what rnnlab makes of their trial
//! folders: copying only the trial folders (trial.toml, result.toml, curve.csv) with each
//! experiment's spec.toml and meta.toml, `rnnlab collect` rebuilds the same runs.csv and
//! report.md, and `rnnlab report` the same results/index.md (a part-way folder's "Partial
//! report" note aside, which names the time and the folder). So a committed table cannot say
//! more than the committed trials do.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn rnnlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab")).args(args).current_dir(root()).output().unwrap()
}

/// The experiment folders results/index.md was built from (its links to their reports), by
/// name; a results folder of a sweep still running beside the tests is not among them.
fn experiments(results: &Path) -> Vec<String> {
    let index = std::fs::read_to_string(results.join("index.md")).unwrap_or_default();
    let mut names: Vec<String> = index
        .split("](")
        .skip(1)
        .filter_map(|link| link.split_once("/report.md)").map(|(name, _)| name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    for name in &names {
        assert!(
            results.join(name).join("spec.toml").is_file(),
            "results/index.md lists {name}, which has no spec.toml"
        );
    }
    names
}

/// A report's text, less what depends on when and where it was written: a folder committed
/// part-way (a long sweep's finished trials) has a "Partial report" note with the time and the
/// folder's path.
fn read(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| if l.starts_with("**Partial report** (written ") { "**Partial report**" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_committed_results_rebuild_from_their_trial_folders() {
    let results = root().join("results");
    let names = experiments(&results);
    assert!(!names.is_empty() && results.join("index.md").is_file(), "no reference results committed in results/");
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("results");
    for name in &names {
        let (from, to) = (results.join(name), copy.join(name));
        std::fs::create_dir_all(to.join("trials")).unwrap();
        for file in ["spec.toml", "meta.toml"] {
            std::fs::copy(from.join(file), to.join(file)).unwrap();
        }
        for trial in std::fs::read_dir(from.join("trials")).unwrap() {
            let trial = trial.unwrap().path();
            let id = trial.file_name().unwrap();
            std::fs::create_dir_all(to.join("trials").join(id)).unwrap();
            for file in ["trial.toml", "result.toml", "curve.csv"] {
                std::fs::copy(trial.join(file), to.join("trials").join(id).join(file))
                    .unwrap_or_else(|e| panic!("{}/{file}: {e}", trial.display()));
            }
        }
        let o = rnnlab(&["collect", to.to_str().unwrap()]);
        assert!(o.status.success(), "collect {name}: {}", String::from_utf8_lossy(&o.stderr));
        for file in ["runs.csv", "report.md"] {
            assert!(
                read(&to.join(file)) == read(&from.join(file)),
                "results/{name}/{file} differs from what its trials give"
            );
        }
    }
    let o = rnnlab(&["report", copy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        read(&copy.join("index.md")) == read(&results.join("index.md")),
        "results/index.md differs from what the trials give"
    );
}
