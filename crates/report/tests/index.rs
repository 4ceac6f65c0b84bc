//! `rnnlab report results/`: the index of published figures across experiment folders.

mod common;

use std::path::Path;

use rnnlab_report::index::{is_collection, write_index};

fn write(root: &Path) -> rnnlab_report::index::Index {
    write_index(root, |dir| {
        let config = rnnlab_report::report_config(dir).map_err(|e| e.to_string())?;
        rnnlab_report::write_report(dir, &config).map_err(|e| e.to_string())
    })
    .unwrap()
}

#[test]
fn the_index_lists_every_published_figure_and_each_other_experiments_headline() {
    let root = tempfile::tempdir().unwrap();
    common::collection(root.path());
    assert!(is_collection(root.path()));
    assert!(!is_collection(&root.path().join("demo")));
    let index = write(root.path());
    let names: Vec<&str> = index.experiments.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["broken", "demo", "plain"]);
    // Each experiment's own report was written too.
    assert!(root.path().join("demo/report.md").is_file() && root.path().join("plain/report.html").is_file());
    // demo: Paper A reproduced (lstm 0.95 vs 0.96 ± 0.02), B reproduced (inside the t interval),
    // C no data.
    assert_eq!(index.verdict_counts(), [2, 0, 0, 1]);
    let md = std::fs::read_to_string(&index.md).unwrap();
    assert!(
        md.contains("| [demo](demo/report.md) | Paper A | test_accuracy | model.cell=lstm | 0.96 ± 0.02 | 0.9500 [0.3147, 1.0000] | 2 | **reproduced** |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| [demo](demo/report.md) | Paper C | test_accuracy | model.cell=transformer | 0.9 | — | 0 | **no data** |"
        ),
        "{md}"
    );
    // plain has no published figures: its cell comparison is its headline.
    let plain = md.lines().find(|l| l.starts_with("| [plain](plain/report.md) | 7 |")).expect(&md);
    assert!(plain.contains("model.cell on test_accuracy: "), "{plain}");
    assert!(md.contains("`broken`: "), "{md}");
    let html = std::fs::read_to_string(&index.html).unwrap();
    assert!(html.contains("<a href=\"demo/report.html\">demo</a>"), "{html}");
}

/// An experiment run with `--out results/variant` sits one level down: the index finds it and
/// names it by its path.
#[test]
fn experiments_one_level_down_are_indexed_under_their_path() {
    let root = tempfile::tempdir().unwrap();
    common::collection(root.path());
    let variant = root.path().join("variant");
    std::fs::create_dir(&variant).unwrap();
    std::fs::rename(root.path().join("plain"), variant.join("plain")).unwrap();
    let index = write(root.path());
    let names: Vec<&str> = index.experiments.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["broken", "demo", "variant/plain"]);
    assert!(variant.join("plain/report.md").is_file());
    let md = std::fs::read_to_string(&index.md).unwrap();
    assert!(md.contains("| [variant/plain](variant/plain/report.md) | 7 |"), "{md}");
}
