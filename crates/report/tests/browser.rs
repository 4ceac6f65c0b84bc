//! report.html rendered by a real browser: headless Chromium loads the page from disk with the
//! network off and must lay it out without errors, with every figure drawn at a visible size.
//!
//! Skipped (with a message) when no Chromium is installed, unless `RNNLAB_REQUIRE_BROWSER=1`
//! (set by `.ci/run`, which installs Debian's `chromium`). `RNNLAB_CHROMIUM` names the binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("RNNLAB_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `page` with `args`; returns (stdout, stderr).
fn headless(browser: &Path, profile: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .args(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        // No network: any attempt to fetch something fails loudly in the log.
        .arg("--proxy-server=127.0.0.1:9")
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed ({}):\n{stderr}", out.status);
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// The rendered size of every inline SVG, written into the page title by a script we add to a
/// copy of the page (the report itself has no script).
const PROBE: &str = "<script>window.addEventListener('load',()=>{const s=[...document.querySelectorAll('figure svg')]\
    .map(e=>{const r=e.getBoundingClientRect();return Math.round(r.width)+'x'+Math.round(r.height)});\
    document.title='SIZES '+s.join(' ')+' TABLES '+document.querySelectorAll('table').length;});</script>";

#[test]
fn report_html_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var("RNNLAB_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("RNNLAB_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)");
        }
        eprintln!("skipped: no chromium on PATH (set RNNLAB_REQUIRE_BROWSER=1 to make this fail)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    common::write_folder(dir.path(), false);
    let config = rnnlab_report::report_config(dir.path()).unwrap();
    let report = rnnlab_report::write_report(dir.path(), &config).unwrap();
    let profile = dir.path().join("chromium-profile");

    let html = std::fs::read_to_string(&report.html).unwrap();
    let probe = dir.path().join("probe.html");
    std::fs::write(&probe, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let (dom, log) = headless(&browser, &profile, &probe, &["--dump-dom"]);
    for bad in ["Uncaught", "ERR_", "Failed to load"] {
        let line = log.lines().find(|l| l.contains(bad) && !l.contains("dbus") && !l.contains("gcm"));
        assert!(line.is_none(), "browser log: {line:?}\n{log}");
    }
    let title = dom.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or_default();
    let sizes: Vec<(u32, u32)> = title
        .trim_start_matches("SIZES ")
        .split(" TABLES ")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))))
        .collect();
    // The two Pareto fronts (parameters, time), the performance profile and three learning curves.
    assert_eq!(sizes.len(), 6, "figure sizes from the page: {title:?}");
    for (w, h) in &sizes {
        assert!(*w >= 300 && *h >= 150, "a figure is drawn too small: {sizes:?}");
    }
    // The cell comparison (verdicts, contenders: each cell's best point), the best trials, the
    // run, the summary, its cost against the primary metric, robust statistics for each of the
    // 3 metrics, the published figures, the trials not ok.
    assert!(title.ends_with("TABLES 11"), "{title:?}");

    // A screenshot of the page as a reader opens it; kept when RNNLAB_SCREENSHOT names a file.
    let shot = dir.path().join("report.png");
    headless(
        &browser,
        &profile,
        &report.html,
        &[&format!("--screenshot={}", shot.display()), "--window-size=1280,2600"],
    );
    let png = std::fs::read(&shot).expect("chromium wrote a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    if let Ok(keep) = std::env::var("RNNLAB_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

#[test]
fn the_index_page_renders_with_links_to_each_report() {
    let Some(browser) = chromium() else {
        assert!(std::env::var("RNNLAB_REQUIRE_BROWSER").map_or(true, |v| v != "1"), "no chromium on PATH");
        eprintln!("skipped: no chromium on PATH");
        return;
    };
    let root = tempfile::tempdir().unwrap();
    common::collection(root.path());
    let index = rnnlab_report::index::write_index(root.path(), |dir| {
        let config = rnnlab_report::report_config(dir).map_err(|e| e.to_string())?;
        rnnlab_report::write_report(dir, &config).map_err(|e| e.to_string())
    })
    .unwrap();
    let profile = root.path().join("chromium-profile");
    let (dom, log) = headless(&browser, &profile, &index.html, &["--dump-dom"]);
    for bad in ["Uncaught", "ERR_", "Failed to load"] {
        let line = log.lines().find(|l| l.contains(bad) && !l.contains("dbus") && !l.contains("gcm"));
        assert!(line.is_none(), "browser log: {line:?}\n{log}");
    }
    // The published figures and the experiments without them, as the browser built the page.
    assert_eq!(dom.matches("<table>").count(), 2, "{dom}");
    assert_eq!(dom.matches("<a href=\"demo/report.html\">demo</a>").count(), 3, "{dom}");
    assert!(dom.contains("<a href=\"plain/report.html\">plain</a>"), "{dom}");
    // The linked report exists where the link points.
    assert!(root.path().join("demo/report.html").is_file());
}
