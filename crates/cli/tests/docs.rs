//! The documentation tells the truth about this build: docs/spec.md is what `rnnlab reference`
//! generates from the code, every relative link in the Markdown files resolves (to a file, and
//! to a heading when it names one), every command's help names its docs page, README's
//! minimal spec is a valid spec, and README stays a front door.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

fn rnnlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab")).args(args).current_dir(root()).output().expect("rnnlab runs")
}

#[test]
fn docs_spec_md_is_what_the_code_generates() {
    let out = rnnlab(&["reference"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = String::from_utf8(out.stdout).expect("UTF-8");
    let committed = std::fs::read_to_string(root().join("docs/spec.md")).expect("docs/spec.md exists");
    if generated != committed {
        let line = generated.lines().zip(committed.lines()).position(|(a, b)| a != b);
        let at = line.map_or("at the end".to_string(), |i| {
            format!(
                "at line {}:\n  generated: {}\n  committed: {}",
                i + 1,
                generated.lines().nth(i).unwrap_or(""),
                committed.lines().nth(i).unwrap_or("")
            )
        });
        panic!("docs/spec.md differs from `rnnlab reference` {at}\nrun `just docs` and commit docs/spec.md");
    }
}

/// The Markdown files a reader follows links through.
fn markdown_files() -> Vec<PathBuf> {
    let root = root();
    let mut files: Vec<PathBuf> =
        ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "CHANGELOG.md"].iter().map(|f| root.join(f)).collect();
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/ exists") {
        let path = entry.expect("a docs entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files
}

/// The text outside fenced code blocks and inline code spans, where links live.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The inline links `[text](target)` of a Markdown text (outside code).
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut found = Vec::new();
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            found.push(rest[..end].trim().to_string());
        }
    }
    found
}

/// GitHub's anchors for a Markdown file's headings (lowercase, punctuation dropped, spaces as
/// hyphens, repeats numbered).
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim();
        let base: String = heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = link.split_once('#').map_or((link.as_str(), None), |(p, a)| (p, Some(a)));
            let target = if path.is_empty() { file.clone() } else { file.parent().expect("a folder").join(path) };
            if !target.exists() {
                broken.push(format!("{}: `{link}`: no such file", file.display()));
                continue;
            }
            if let Some(anchor) = anchor.filter(|_| target.extension().is_some_and(|e| e == "md")) {
                let headings = anchors(&std::fs::read_to_string(&target).expect("a Markdown file"));
                if !headings.contains(anchor) {
                    broken.push(format!("{}: `{link}`: no heading with that anchor", file.display()));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} links found: is the link reader broken?");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_checker_finds_a_broken_link() {
    assert_eq!(links("see [a](docs/a.md#x) and `[b](not-a-link)`\n```\n[c](code)\n```\n"), ["docs/a.md#x"]);
    let headings = anchors("# Spec reference\n## [train.early_stopping]\n## Exit codes\n## Exit codes\n");
    for a in ["spec-reference", "trainearly_stopping", "exit-codes", "exit-codes-1"] {
        assert!(headings.contains(a), "{a}: {headings:?}");
    }
}

/// The subcommands `rnnlab --help` lists.
fn subcommands() -> Vec<String> {
    let help = String::from_utf8(rnnlab(&["--help"]).stdout).expect("UTF-8");
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn every_command_names_its_docs_page() {
    let top = String::from_utf8(rnnlab(&["--help"]).stdout).expect("UTF-8");
    assert!(top.contains("docs/spec.md") && top.contains("README.md"), "{top}");
    let commands = subcommands();
    assert!(commands.len() >= 12, "{commands:?}");
    for command in commands {
        let help = String::from_utf8(rnnlab(&[&command, "--help"]).stdout).expect("UTF-8");
        let page =
            help.split_whitespace().find(|w| w.starts_with("docs/")).map(|w| w.trim_end_matches(['.', ',', ')']));
        let page = page.unwrap_or_else(|| panic!("`rnnlab {command} --help` names no docs page:\n{help}"));
        assert!(root().join(page).exists(), "`rnnlab {command} --help` names {page}, which does not exist");
    }
}

#[test]
fn the_readme_minimal_spec_is_valid() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = readme.find("```toml\n").expect("README shows a spec") + "```toml\n".len();
    let spec = &readme[start..start + readme[start..].find("```").expect("the block ends")];
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("minimal.toml");
    std::fs::write(&path, spec).expect("written");
    let out = rnnlab(&["validate", path.to_str().expect("UTF-8 path")]);
    assert!(out.status.success(), "README's spec is invalid:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_readme_stays_a_front_door() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(lines <= 250, "README.md has {lines} lines; move detail into docs/ (at most 250)");
    let is_date = |w: &[u8]| {
        w.len() == 10
            && w[4] == b'-'
            && w[7] == b'-'
            && w.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    };
    let dated = readme.lines().filter(|l| l.as_bytes().windows(10).any(is_date)).count();
    assert!(dated <= 3, "README.md has {dated} dated lines; history goes to CHANGELOG.md (at most 3)");
}

#[test]
fn docs_results_md_explains_every_runs_csv_column() {
    let page = std::fs::read_to_string(root().join("docs/results.md")).expect("docs/results.md");
    let table = &page[page.find("### runs.csv").expect("a runs.csv section")..];
    let table = &table[..table.find("### curve.csv").expect("a curve.csv section")];
    for column in rnnlab_sweep::results::RUN_COLUMNS {
        assert!(table.contains(&format!("`{column}`")), "docs/results.md does not explain runs.csv's `{column}`");
    }
}
