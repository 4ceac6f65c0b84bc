//! The `rnnlab` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rnnlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab")).args(args).output().unwrap()
}

fn smoke() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/smoke.toml")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_typo_is_refused_with_its_location_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("typo.toml");
    let src = std::fs::read_to_string(smoke()).unwrap().replace("hidden_size = 8", "hiden_size = 8");
    std::fs::write(&spec, &src).unwrap();
    let line = src.lines().position(|l| l.starts_with("hiden_size")).unwrap() + 1;
    let out = tmp.path().join("out");
    let o = rnnlab(&["sweep", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains(&format!("typo.toml:{line}:1")), "{t}");
    assert!(t.contains("did you mean `hidden_size`?"), "{t}");
    assert!(!out.exists(), "an invalid spec must not create results");
}

#[test]
fn validate_and_plan_count_the_trials() {
    let spec = smoke();
    let o = rnnlab(&["validate", spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("6 trials (3 grid points × 2 seeds)"), "{}", text(&o));
    let o = rnnlab(&["plan", spec.to_str().unwrap(), "--set", "experiment.seeds=[0,1,2]"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("9 trials: 3 grid points × 3 seeds"), "{t}");
    assert_eq!(t.lines().filter(|l| l.contains(" gru ")).count(), 3, "{t}");
}

#[test]
fn bad_override_names_itself() {
    let o = rnnlab(&["validate", smoke().to_str().unwrap(), "--set", "optimizer.lr=-1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--set optimizer.lr=-1 (command line)"), "{}", text(&o));
}

#[test]
fn sweep_then_rerun_does_nothing_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let spec = smoke();
    let o = rnnlab(&["sweep", spec.to_str().unwrap(), "--out", out, "--set", "train.steps=5"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("ran 6 trials") && t.contains("model.cell") && t.contains("lstm"), "{t}");
    let o = rnnlab(&["sweep", spec.to_str().unwrap(), "--out", out, "--set", "train.steps=5"]);
    assert!(text(&o).contains("nothing to do: all 6 trials already have results"), "{}", text(&o));
    let o = rnnlab(&["report", tmp.path().join("smoke").to_str().unwrap()]);
    assert!(o.status.success() && text(&o).contains("gru"), "{}", text(&o));
}

#[test]
fn plugins_are_listed_with_their_keys() {
    let o = rnnlab(&["plugins"]);
    let t = text(&o);
    assert!(t.contains("parity") && t.contains("test_length"), "{t}");
}

#[test]
fn forward_prints_every_step_of_every_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("manual.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = 'm'\n[dataset]\nplugin = 'manual'\noutputs = 3\ninputs = [[[1, 2], [7, 8]], [[3, 4], [9, 10]]]\n\
         [model]\ncell = 'rnn'\nhidden_size = 3\nhead = 'none'\ninit = 'zeros'\n\
         [optimizer]\nname = 'sgd'\nlr = 0.1\n[train]\nsteps = 2\nbatch_size = 2\n",
    )
    .unwrap();
    let out = rnnlab(&["forward", spec.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout.contains("untrained"), "{stdout}");
    // Zero weights: every output is tanh(0) = 0.
    assert!(
        stdout.contains("sequence 1:\n  input0 [3.000000, 4.000000] -> output0 [0.000000, 0.000000, 0.000000]"),
        "{stdout}"
    );
    assert!(stdout.contains("input1 [9.000000, 10.000000] -> output1"), "{stdout}");
    let trained = rnnlab(&["forward", spec.to_str().unwrap(), "--train"]);
    assert!(String::from_utf8_lossy(&trained.stdout).contains("after 2 training steps"), "{}", text(&trained));
}

#[test]
fn every_experiment_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            // From the repository's root, where the data folder is (as README runs them).
            let out = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
                .args(["validate", path.to_str().unwrap()])
                .current_dir(dir.join(".."))
                .output()
                .unwrap();
            // Data that must be fetched first (MNIST) is opened too: without it the spec is
            // refused, naming the command that fetches it.
            let fetch_first = out.status.code() == Some(2) && text(&out).contains("run `just data ");
            assert!(out.status.success() || fetch_first, "{}: {}", path.display(), text(&out));
            n += 1;
        }
    }
    assert!(n >= 8, "found {n} experiments");
}

#[test]
fn the_csv_example_runs_from_the_repository_root_and_names_each_cells_best_trial() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(["sweep", "experiments/csv_example.toml", "--out", out.path().to_str().unwrap()])
        .args(["--set", "train.steps=40", "--set", "experiment.seeds=[0]"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    for cell in ["lstm", "gru", "rnn"] {
        assert!(said.contains(&format!("best {cell}: trial ")), "{said}");
    }
    // A regression's loss is its MSE: the table shows it once, and says what it is sorted by.
    assert!(said.contains("test_mse") && !said.contains("test_loss"), "{said}");
    assert!(said.contains("(rows sorted by valid_mse (lower is better), best first)"), "{said}");
    let runs = std::fs::read_to_string(out.path().join("csv_example/runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 4, "{runs}");
    assert!(runs.lines().skip(1).all(|l| l.contains(",ok,")), "{runs}");
}

#[test]
fn quick_variants_of_the_tutorial_experiments_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let out_dir = tempfile::tempdir().unwrap();
    // The Bai et al. long-memory experiments search 3 learning rates per cell.
    let small = ["dataset.train_size=64", "dataset.valid_size=16", "dataset.test_size=16", "train.epochs=1"];
    let adding = [&["dataset.length=12"][..], &small].concat();
    let copy = [&["dataset.delay=6"][..], &small].concat();
    for (spec, sets, trials) in [
        (
            "count_ones.toml",
            &["dataset.length=8", "dataset.n_train=200", "train.epochs=2", "train.eval_every=0"][..],
            3,
        ),
        ("sine.toml", &["train.steps=20", "train.eval_every=0"][..], 3),
        ("bai2018_adding.toml", &adding[..], 9),
        ("bai2018_copy.toml", &copy[..], 9),
    ] {
        let mut args = vec!["sweep", "--out", out_dir.path().to_str().unwrap(), "--set", "experiment.seeds=[0]"];
        let path = dir.join(spec);
        args.insert(1, path.to_str().unwrap());
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = rnnlab(&args);
        assert!(out.status.success(), "{spec}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{trials} ok")), "{spec}: {}", text(&out));
    }
    // A search per cell: the report reads the comparison at equal tuning budgets.
    let report = std::fs::read_to_string(out_dir.path().join("bai2018_adding/report.md")).unwrap();
    assert!(report.contains("## Expected best `valid_mse` after n trials of tuning"), "{report}");
    assert!(report.contains("model.cell = lstm (3 trials)"), "{report}");
    assert!(out_dir.path().join("bai2018_adding/plots/expected_best_valid_mse.svg").is_file());
    let count_ones = std::fs::read_to_string(out_dir.path().join("count_ones/report.md")).unwrap();
    assert!(!count_ones.contains("Expected best"), "nothing was tuned there: {count_ones}");
}

#[test]
fn a_quick_permuted_pixel_mnist_run_completes() {
    // MNIST-shaped IDX files (blank images, labels 0–9 in turn): what the run needs is the
    // format and the sizes, not the digits.
    let data = tempfile::tempdir().unwrap();
    let idx = |name: &str, dims: &[u32], bytes: Vec<u8>| {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend(bytes);
        std::fs::write(data.path().join(name), out).unwrap();
    };
    for (prefix, n) in [("train", 60_000u32), ("t10k", 10_000)] {
        idx(&format!("{prefix}-images-idx3-ubyte"), &[n, 28, 28], vec![0; n as usize * 784]);
        idx(&format!("{prefix}-labels-idx1-ubyte"), &[n], (0..n).map(|i| (i % 10) as u8).collect());
    }
    let out = tempfile::tempdir().unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/bai2018_pmnist.toml");
    let dir = format!("dataset.data_dir=\"{}\"", data.path().display());
    let o = rnnlab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--set",
        &dir,
        "--set",
        "dataset.n_train=32",
        "--set",
        "dataset.n_validation=16",
        "--set",
        "dataset.n_test=16",
        "--set",
        "train.epochs=1",
        "--set",
        "model.params=2000",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("6 ok"), "{}", text(&o));
}

#[test]
fn csv_sequences_of_different_lengths_train_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("sequence,step,x,y\n");
    for s in 0..12 {
        for t in 0..(2 + s % 4) {
            csv += &format!("s{s},{t},{},{}\n", (s + t) % 3, (s * t) % 2);
        }
    }
    std::fs::write(dir.path().join("train.csv"), &csv).unwrap();
    std::fs::write(dir.path().join("test.csv"), &csv).unwrap();
    let d = dir.path().display();
    let spec = dir.path().join("mine.toml");
    std::fs::write(
        &spec,
        format!(
            "[experiment]\nname = 'mine'\n[dataset]\nplugin = 'csv'\ntrain = '{d}/train.csv'\ntest = '{d}/test.csv'\n\
             features = ['x']\ntargets = ['y']\ntask = 'classify'\nclasses = 2\n\
             [model]\ncell = 'lstm'\nhidden_size = 4\n[optimizer]\nname = 'adam'\nlr = 0.05\n\
             [train]\nsteps = 30\nbatch_size = 5\neval_every = 10\n"
        ),
    )
    .unwrap();
    let out = rnnlab(&["sweep", spec.to_str().unwrap(), "--out", d.to_string().as_str()]);
    assert!(out.status.success(), "{}", text(&out));
    let runs = std::fs::read_to_string(dir.path().join("mine/runs.csv")).unwrap();
    let row = runs.lines().nth(1).unwrap();
    assert!(row.contains(",ok,"), "{runs}");
    // Accuracy over the 12 × 2..5 = 38 real steps only: a multiple of 1/38.
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let acc: f64 =
        row.split(',').nth(header.iter().position(|h| *h == "test_accuracy").unwrap()).unwrap().parse().unwrap();
    let real_steps: usize = (0..12).map(|s| 2 + s % 4).sum();
    assert!(((acc * real_steps as f64) - (acc * real_steps as f64).round()).abs() < 1e-6, "{acc} of {real_steps}");
}

#[test]
fn a_swept_checkpoint_predicts_what_the_sweep_measured() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("sequence,step,x,y\n");
    for s in 0..40 {
        for t in 0..6 {
            csv += &format!("s{s},{t},{},{}\n", (s * 7 + t * 3) % 5, usize::from((s + t) % 3 == 0));
        }
    }
    std::fs::write(dir.path().join("seqs.csv"), &csv).unwrap();
    // The test file without its target column: predict must still run.
    let unlabelled: String =
        csv.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n").collect::<Vec<_>>().concat();
    std::fs::write(dir.path().join("unlabelled.csv"), unlabelled).unwrap();
    let d = dir.path().display();
    let spec = dir.path().join("ck.toml");
    std::fs::write(
        &spec,
        format!(
            "[experiment]\nname = 'ck'\n[dataset]\nplugin = 'csv'\ntrain = '{d}/seqs.csv'\ntest = '{d}/seqs.csv'\n\
             features = ['x']\ntargets = ['y']\ntask = 'classify'\nclasses = 2\n\
             [model]\ncell = 'gru'\nhidden_size = 6\n[optimizer]\nname = 'adam'\nlr = 0.05\n\
             [train]\nsteps = 20\nbatch_size = 8\nsave_checkpoint = true\n"
        ),
    )
    .unwrap();
    let o = rnnlab(&["sweep", spec.to_str().unwrap(), "--out", d.to_string().as_str()]);
    assert!(o.status.success(), "{}", text(&o));
    let runs = std::fs::read_to_string(dir.path().join("ck/runs.csv")).unwrap();
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = runs.lines().nth(1).unwrap().split(',').collect();
    let acc: f64 = row[header.iter().position(|h| *h == "test_accuracy").unwrap()].parse().unwrap();
    let trial = dir.path().join("ck/trials").join(row[0]);
    assert!(trial.join("model.safetensors").exists() && trial.join("model.toml").exists());
    // The best trial is named, with its folder and a ready `predict` line, on the terminal and
    // in the report.
    let said = text(&o);
    assert!(said.contains(&format!("best (all): trial {} ", row[0])), "{said}");
    assert!(said.contains(&format!("rnnlab predict --checkpoint {}", trial.display())), "{said}");
    let report = std::fs::read_to_string(dir.path().join("ck/report.md")).unwrap();
    assert!(report.contains("## Best trials") && report.contains(&format!("`trials/{}`", row[0])), "{report}");
    assert!(report.contains(&format!("rnnlab predict --checkpoint trials/{} ", row[0])), "{report}");

    let input = dir.path().join("seqs.csv");
    let o = rnnlab(&["predict", "--checkpoint", trial.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("sequence,step,class,p0,p1\ns0,0,"), "{out}");
    assert_eq!(out.lines().count(), 1 + 40 * 6);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(&format!("accuracy {acc:.4}")), "sweep measured {acc}; predict says {stderr}");

    let unlabelled = dir.path().join("unlabelled.csv");
    let o2 = rnnlab(&["predict", "--checkpoint", trial.to_str().unwrap(), "--input", unlabelled.to_str().unwrap()]);
    assert!(o2.status.success(), "{}", text(&o2));
    assert_eq!(o2.stdout, o.stdout, "the targets do not change the predictions");

    // `-o` onto a character device (as /dev/null is; mknod needs root) writes to it and leaves
    // it a device: the atomic write would rename a regular file over it.
    let null = dir.path().join("null");
    let made = std::process::Command::new("mknod").arg(&null).args(["c", "1", "3"]).output();
    if made.is_ok_and(|m| m.status.success()) {
        let args = ["predict", "--checkpoint", trial.to_str().unwrap(), "--input", input.to_str().unwrap(), "-o"];
        let o3 = rnnlab(&[&args[..], &[null.to_str().unwrap()]].concat());
        assert!(o3.status.success(), "{}", text(&o3));
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_char_device(), "-o replaced the device");
    } else {
        eprintln!("skipped `predict -o` onto a character device: mknod needs root");
    }

    // A folder without a checkpoint says what to do.
    let o = rnnlab(&["predict", "--checkpoint", d.to_string().as_str(), "--input", input.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("save_checkpoint = true"), "{}", text(&o));
}

#[test]
fn validate_and_plan_open_the_data_files_and_name_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("sequence,step,x1,x2,y\n");
    for s in 0..6 {
        for t in 0..3 {
            csv += &format!("s{s},{t},{},{},{}\n", s + t, s * t, (s + t) % 2);
        }
    }
    std::fs::write(dir.path().join("train.csv"), &csv).unwrap();
    std::fs::write(dir.path().join("test.csv"), &csv).unwrap();
    let d = dir.path().display();
    let spec = |features: &str, test: &str| {
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            format!(
                "[experiment]\nname = 'mine'\n[dataset]\nplugin = 'csv'\ntrain = '{d}/train.csv'\ntest = '{d}/{test}'\n\
                 features = [{features}]\ntargets = ['y']\ntask = 'classify'\nclasses = 2\n\
                 [model]\ncell = 'gru'\nhidden_size = 4\n[optimizer]\nname = 'adam'\nlr = 0.05\n\
                 [train]\nsteps = 5\nbatch_size = 2\n[grid]\n'optimizer.lr' = [0.1, 0.01]\n"
            ),
        )
        .unwrap();
        path
    };
    let ok = spec("'x1', 'x2'", "test.csv");
    let o = rnnlab(&["validate", ok.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    // A feature column that is not in the file: refused at the `features` line, naming the file.
    let bad = spec("'x1', 'x4'", "test.csv");
    for command in ["validate", "plan"] {
        let o = rnnlab(&[command, bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", text(&o));
        let said = text(&o);
        assert!(said.contains("mine.toml:7:") && said.contains("`dataset.features`"), "{said}");
        assert!(said.contains("train.csv:1") && said.contains("no column `x4`"), "{said}");
        assert_eq!(said.matches("no column").count(), 1, "one error for both grid points: {said}");
    }
    // A test file that is not there: refused at the `test` line.
    let missing = spec("'x1', 'x2'", "tset.csv");
    let out = dir.path().join("out");
    let o = rnnlab(&["sweep", missing.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("`dataset.test`") && text(&o).contains("tset.csv"), "{}", text(&o));
    assert!(!out.exists(), "nothing may be written");
}

#[test]
fn metrics_the_task_does_not_record_are_refused_naming_those_it_does() {
    let sine = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/sine.toml");
    let sine = sine.to_str().unwrap();
    let o = rnnlab(&["validate", sine, "--set", "report.primary=\"test_accuracy\""]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("`report.primary`: `test_accuracy` is not recorded"), "{said}");
    assert!(said.contains("test_mse") && said.contains("regression"), "{said}");
    // A validation metric without a validation split, for early stopping (a trial key) and
    // pruning (a sweep key).
    let o = rnnlab(&[
        "validate",
        sine,
        "--set",
        "dataset.valid_fraction=0.0",
        "--set",
        "train.early_stopping={ metric = \"valid_mse\" }",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no validation split"), "{}", text(&o));
    let o = rnnlab(&["validate", sine, "--set", "dataset.valid_fraction=0.1", "--set", "report.select=\"valid_mse\""]);
    assert!(o.status.success(), "with a validation split it is recorded: {}", text(&o));
}

#[test]
fn plan_says_when_the_seeds_are_too_few_for_a_verdict() {
    let o = rnnlab(&["plan", smoke().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("2 seeds per grid point") && said.contains("at least 4"), "{said}");
    let o = rnnlab(&["plan", smoke().to_str().unwrap(), "--set", "experiment.seeds=[0, 1, 2, 3]"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("note:"), "{}", text(&o));
}

#[test]
fn a_parameter_budget_solves_each_cells_hidden_size_and_plan_shows_the_counts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let spec = |model: &str| {
        let path = dir.path().join("budget.toml");
        std::fs::write(
            &path,
            format!(
                "[experiment]\nname = 'budget'\n[dataset]\nplugin = 'poly_music'\nname = 'jsb_chorales'\n\
                 [model]\ncell = 'lstm'\n{model}\n[optimizer]\nname = 'rmsprop'\nlr = 0.001\n\
                 [train]\nepochs = 1\nbatch_size = 1\n[grid]\n'model.cell' = ['lstm', 'gru', 'rnn']\n"
            ),
        )
        .unwrap();
        Command::new(env!("CARGO_BIN_EXE_rnnlab"))
            .args(["plan", path.to_str().unwrap()])
            .current_dir(&root)
            .output()
            .unwrap()
    };
    let o = spec("params = 20000");
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let counts: Vec<u64> =
        out.lines().skip(1).take(3).map(|l| l.split_whitespace().last().unwrap().parse().unwrap()).collect();
    // 88 keys in and out: LSTM 34 units (19,944), GRU 41 (19,809), RNN 77 (19,723).
    assert_eq!(counts, [19944, 19809, 19723], "{out}");
    let o = spec("params = 20000\nhidden_size = 34");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("`model.params`: give `params` or `hidden_size`, not both"), "{}", text(&o));
    let o = spec("params = 100");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no hidden size fits"), "{}", text(&o));
}

#[test]
fn turning_save_checkpoint_on_keeps_the_trials_and_says_which_have_no_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let smoke = smoke();
    let o = rnnlab(&["sweep", smoke.to_str().unwrap(), "--out", out]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = |extra: &[&str]| {
        let o = rnnlab(&[&["plan", smoke.to_str().unwrap()][..], extra].concat());
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(plan(&[]), plan(&["--set", "train.save_checkpoint=true"]), "the same trial ids");
    let o = rnnlab(&["sweep", smoke.to_str().unwrap(), "--out", out, "--set", "train.save_checkpoint=true"]);
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("nothing to do"), "{said}");
    assert!(said.contains("ok trials have no checkpoint") && said.contains("--fresh"), "{said}");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_is_refused_before_any_trial_without_the_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = rnnlab(&["sweep", smoke().to_str().unwrap(), "--set", "run.device=cuda", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("built without CUDA") && text(&o).contains("--features cuda"), "{}", text(&o));
    assert!(!out.exists(), "nothing may be written");
    let o = rnnlab(&["validate", smoke().to_str().unwrap(), "--set", "run.device=\"tpu\""]);
    assert!(text(&o).contains("unknown device `tpu`"), "{}", text(&o));
}

#[test]
fn reproduce_sweeps_the_experiments_with_published_figures_that_lack_results() {
    let tmp = tempfile::tempdir().unwrap();
    let experiments = tmp.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    let smoke = std::fs::read_to_string(smoke()).unwrap();
    let published = "\n[[published]]\nsource = \"a test\"\nmetric = \"test_accuracy\"\nvalue = 0.5\ntolerance = 0.5\n";
    std::fs::write(experiments.join("a.toml"), format!("{smoke}{published}").replace("\"smoke\"", "\"a\"")).unwrap();
    std::fs::write(experiments.join("b.toml"), smoke.replace("\"smoke\"", "\"b\"")).unwrap();
    let results = tmp.path().join("results");
    let reproduce = |extra: &[&str]| {
        let mut args = vec!["reproduce", "--experiments", experiments.to_str().unwrap()];
        args.extend(["--out", results.to_str().unwrap(), "--jobs", "1"]);
        args.extend(extra);
        rnnlab(&args)
    };
    let dry = reproduce(&["--dry-run"]);
    assert!(dry.status.success() && text(&dry).contains("a.toml: 6 of 6 trials without results"), "{}", text(&dry));
    assert!(!results.exists(), "a dry run writes nothing");
    let o = reproduce(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("b.toml"), "only experiments with published figures: {}", text(&o));
    assert!(!results.join("b").exists());
    let index = std::fs::read_to_string(results.join("index.md")).unwrap();
    assert!(index.contains("a test"), "{index}");
    let result = results.join("a/trials").read_dir().unwrap().next().unwrap().unwrap().path().join("result.toml");
    let written = std::fs::metadata(&result).unwrap().modified().unwrap();
    let again = reproduce(&[]);
    assert!(
        again.status.success() && text(&again).contains("a.toml: 0 of 6 trials without results"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::metadata(&result).unwrap().modified().unwrap(), written, "nothing ran again");
}

#[test]
fn a_sweep_of_another_spec_into_a_folder_says_how_many_earlier_trials_stay_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let spec = smoke();
    let first = rnnlab(&["sweep", spec.to_str().unwrap(), "--out", out, "--jobs", "1", "--set", "train.steps=10"]);
    assert!(first.status.success() && !text(&first).contains("note:"), "{}", text(&first));
    let o = rnnlab(&["sweep", spec.to_str().unwrap(), "--out", out, "--jobs", "1", "--set", "train.steps=12"]);
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("held another spec") && said.contains("the 6 trials of the earlier spec stay cached"),
        "{said}"
    );
}

#[test]
fn hyperband_is_accepted_and_plan_shows_each_trials_bracket() {
    let tmp = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(smoke())
        .unwrap()
        .replace("[0, 1]", "[0, 1, 2, 3, 4, 5, 6, 7]")
        .replace("length = 4\n", "length = 4\nn_valid = 8\n");
    let spec = |prune: &str| {
        let path = tmp.path().join("hb.toml");
        std::fs::write(&path, format!("{smoke}{prune}")).unwrap();
        path
    };
    let hb = "\n[prune]\nmethod = \"hyperband\"\nmetric = \"valid_loss\"\nmin_steps = 2\nmax_steps = 18\n";
    let o = rnnlab(&["plan", spec(hb).to_str().unwrap()]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("bracket (first rung)") && said.contains("hyperband: 3 brackets, first rungs 2, 6, 18"),
        "{said}"
    );
    for rung in ["0 (2)", "1 (6)", "2 (18)"] {
        assert!(said.contains(rung), "24 trials reach every bracket: {said}");
    }
    let o = rnnlab(&["validate", spec(&hb.replace("max_steps = 18\n", "")).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("max_steps") && text(&o).contains("hyperband needs"), "{}", text(&o));
    // It runs: every trial ends ok or pruned.
    let out = tmp.path().join("results");
    let o = rnnlab(&["sweep", spec(hb).to_str().unwrap(), "--out", out.to_str().unwrap(), "--jobs", "2"]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn plan_lists_a_tpe_searchs_drawn_points_and_how_many_are_left() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/tpe_adding.toml");
    let sets = [
        "dataset.length=8",
        "dataset.train_size=640",
        "dataset.valid_size=64",
        "dataset.test_size=64",
        "train.eval_every=5",
        "search.trials=5",
        "search.startup=2",
    ];
    let in_tmp = |command: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rnnlab"));
        c.current_dir(tmp.path()).args([command, spec.to_str().unwrap()]);
        for s in sets {
            c.args(["--set", s]);
        }
        c
    };
    let o = in_tmp("plan").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("tpe: 2 searches of 5 points on `valid_mse` (2 random start-up points each); 6 points left to draw"),
        "{t}"
    );
    assert!(t.contains("4 trials"), "{t}");
    // Into results/ (the default): then plan shows every point drawn, none left.
    let o = in_tmp("sweep").args(["--jobs", "1"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = in_tmp("plan").output().unwrap();
    let t = text(&o);
    assert!(t.contains("0 points left to draw") && t.contains("10 trials"), "{t}");
}
