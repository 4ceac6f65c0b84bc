//! Loading specs end to end: expansion, ids, and where each kind of error is reported.

use std::path::Path;

use rnnlab_spec::{load_str, Catalog, FieldError, Location, Override, Plan, SpecErrors, TrialConfig};

/// A catalog with one plugin, `bits`, whose only key is `length` (≥ 1).
struct Fake;
impl Catalog for Fake {
    fn dataset_plugins(&self) -> Vec<&'static str> {
        vec!["bits"]
    }
    fn check_trial(&self, t: &TrialConfig) -> Result<(), FieldError> {
        match t.dataset.keys.get("length").and_then(|v| v.as_integer()) {
            Some(n) if n >= 1 => Ok(()),
            _ => Err(FieldError::new(&["dataset", "length"], "must be an integer ≥ 1")),
        }
    }
}

const BASE: &str = r#"[experiment]
name = "t"
seeds = [0, 1]

[dataset]
plugin = "bits"
length = 4

[model]
cell = "lstm"
hidden_size = 8

[optimizer]
name = "adam"
lr = 0.1

[train]
steps = 10
batch_size = 4
"#;

fn load(src: &str, sets: &[&str]) -> Result<Plan, SpecErrors> {
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    load_str(Path::new("spec.toml"), src, &overrides, &Fake)
}

/// Asserts the spec fails with one error at `line:col` whose text contains each of `needles`.
fn check_error(src: &str, sets: &[&str], line: usize, col: usize, needles: &[&str]) {
    let errors = load(src, sets).unwrap_err();
    let e = &errors.0[0];
    let text = e.to_string();
    assert_eq!(e.location, Location::File { path: "spec.toml".into(), line, col }, "{text}");
    for n in needles {
        assert!(text.contains(n), "`{n}` not in: {text}");
    }
}

#[test]
fn grid_times_seeds_with_stable_distinct_ids() {
    let src =
        format!("{BASE}\n[grid]\n\"model.cell\" = [\"lstm\", \"gru\", \"rnn\"]\n\"optimizer.lr\" = [0.1, 0.01]\n");
    let plan = load(&src, &[]).unwrap();
    assert_eq!(plan.trials.len(), 12);
    assert_eq!(plan.columns, ["model.cell", "optimizer.lr"]);
    assert_eq!(plan.trials[0].point_label(), "model.cell=lstm, optimizer.lr=0.1");
    let mut ids: Vec<&str> = plan.trials.iter().map(|t| t.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    // The same spec gives the same ids; changing one trial's config changes only its ids.
    let again = load(&src, &[]).unwrap();
    assert_eq!(plan.trials, again.trials);
    let changed = load(&src, &["grid.optimizer.lr=[0.1, 0.02]"]).unwrap();
    let same = plan.trials.iter().zip(&changed.trials).filter(|(a, b)| a.id == b.id).count();
    assert_eq!(same, 6);
}

#[test]
fn options_added_later_keep_earlier_trial_ids_at_their_default() {
    // `[train] save_checkpoint` came after results existed: at its default (false) it must not
    // change the hash, or every old results folder would re-run all its trials.
    let plain = load(BASE, &[]).unwrap();
    let explicit = load(BASE, &["train.save_checkpoint=false"]).unwrap();
    assert_eq!(plain.trials[0].id, explicit.trials[0].id);
    assert!(!plain.trials[0].to_toml().contains("save_checkpoint"));
    let saving = load(BASE, &["train.save_checkpoint=true"]).unwrap();
    assert_ne!(plain.trials[0].id, saving.trials[0].id);
}

#[test]
fn dropout_at_zero_keeps_trial_ids_and_is_checked() {
    let plain = load(BASE, &[]).unwrap();
    let zero = load(BASE, &["model.dropout=0.0", "model.head_dropout=0.0"]).unwrap();
    assert_eq!(plain.trials[0].id, zero.trials[0].id);
    let dropped = load(BASE, &["model.layers=2", "model.dropout=0.2"]).unwrap();
    assert_eq!(dropped.trials[0].config.model.dropout, 0.2);
    assert!(dropped.trials[0].to_toml().contains("dropout = 0.2"));
    let with_layers = BASE.replace("hidden_size = 8", "hidden_size = 8\ndropout = 0.3");
    check_error(&with_layers, &[], 12, 11, &["model.dropout", "between stacked layers", "`layers` to 2"]);
    let out_of_range = BASE.replace("hidden_size = 8", "hidden_size = 8\nhead_dropout = 1.0");
    check_error(&out_of_range, &[], 12, 16, &["model.head_dropout", "[0, 1)"]);
    let headless = BASE.replace("hidden_size = 8", "hidden_size = 8\nhead = \"none\"\nhead_dropout = 0.5");
    check_error(&headless, &[], 13, 16, &["model.head_dropout", "no head"]);
}

#[test]
fn section_axis_keeps_variant_keys_together() {
    let src = format!("{BASE}\n[grid]\n\"model\" = [{{cell = \"lstm\", proj_size = 2}}, {{cell = \"gru\"}}]\n");
    let plan = load(&src, &[]).unwrap();
    assert_eq!(plan.columns, ["model.cell", "model.proj_size"]);
    assert_eq!(plan.trials[0].config.model.proj_size, 2);
    assert_eq!(plan.trials[2].config.model.proj_size, 0);
    assert_eq!(plan.trials[2].point, [("model.cell".into(), "gru".into()), ("model.proj_size".into(), "".into())]);
}

#[test]
fn typo_in_a_key_points_at_it_and_suggests() {
    let src = BASE.replace("hidden_size = 8", "hiden_size = 8");
    check_error(
        &src,
        &[],
        11,
        1,
        &["spec.toml:11:1", "model.hiden_size", "unknown key", "did you mean `hidden_size`?"],
    );
}

#[test]
fn unknown_cell_lists_the_choices() {
    let src = BASE.replace("cell = \"lstm\"", "cell = \"lsmt\"");
    check_error(&src, &[], 10, 8, &["model.cell", "did you mean `lstm`?", "lstm, gru, rnn"]);
}

#[test]
fn out_of_range_values_name_the_key() {
    check_error(&BASE.replace("lr = 0.1", "lr = 0.0"), &[], 15, 6, &["optimizer.lr", "positive"]);
    check_error(&BASE.replace("hidden_size = 8", "hidden_size = 0"), &[], 11, 15, &["model.hidden_size"]);
    check_error(&BASE.replace("batch_size = 4", "batch_size = 0"), &[], 19, 14, &["train.batch_size"]);
    check_error(&BASE.replace("steps = 10\n", ""), &[], 17, 1, &["train", "steps = N", "epochs = N"]);
    check_error(&BASE.replace("hidden_size = 8", "hidden_size = \"8\""), &[], 11, 15, &["invalid type"]);
}

#[test]
fn errors_in_grid_values_point_into_the_grid() {
    let src = format!("{BASE}\n[grid]\n\"model.cell\" = [\"lstm\", \"gur\"]\n");
    check_error(&src, &[], 22, 25, &["model.cell", "`gur`", "did you mean `gru`?"]);
    // proj_size is fine for the LSTM trial but not the GRU one.
    let src = format!(
        "{BASE}\n[grid]\n\"model\" = [{{cell = \"lstm\", proj_size = 2}}, {{cell = \"gru\", proj_size = 2}}]\n"
    );
    check_error(&src, &[], 22, 71, &["model.proj_size", "only the LSTM", "in the trial with model.cell=gru"]);
}

#[test]
fn plugin_errors_are_located_too() {
    check_error(&BASE.replace("length = 4", "length = 0"), &[], 7, 10, &["dataset.length"]);
    check_error(
        &BASE.replace("plugin = \"bits\"", "plugin = \"bitz\""),
        &[],
        6,
        10,
        &["unknown dataset plugin", "did you mean `bits`?"],
    );
}

#[test]
fn unknown_section_and_bad_grid_axis() {
    check_error(
        &format!("{BASE}\n[optimiser]\nlr = 1\n"),
        &[],
        21,
        2,
        &["unknown section", "did you mean `[optimizer]`?"],
    );
    check_error(&format!("{BASE}\n[grid]\n\"experiment.seeds\" = [[1]]\n"), &[], 22, 1, &["cannot vary over the grid"]);
    check_error(&format!("{BASE}\n[grid]\n\"model.cell\" = \"lstm\"\n"), &[], 22, 16, &["non-empty list"]);
}

#[test]
fn invalid_toml_gives_its_position() {
    check_error("[model\ncell = 1\n", &[], 1, 7, &["not valid TOML"]);
}

#[test]
fn overrides_apply_are_validated_and_recorded() {
    let plan = load(BASE, &["model.hidden_size=32", "experiment.seeds=[5]"]).unwrap();
    assert_eq!(plan.trials.len(), 1);
    assert_eq!(plan.trials[0].config.model.hidden_size, 32);
    assert_eq!(plan.trials[0].config.seed, 5);
    assert!(plan.effective_spec.contains("# rnnlab: --set model.hidden_size=32"));
    assert!(plan.effective_spec.contains("hidden_size = 32"));
    let errors = load(BASE, &["model.hidden_size=0"]).unwrap_err();
    assert_eq!(errors.0[0].location, Location::Override { text: "model.hidden_size=0".into() });
    let errors = load(BASE, &["model.hidden_sise=3"]).unwrap_err();
    assert!(errors.0[0].to_string().contains("did you mean `hidden_size`?"), "{}", errors.0[0]);
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let src = format!("{BASE}\n[grid]\n\"model.cell\" = [\"lstm\", \"gur\", \"rnm\"]\n");
    assert_eq!(load(&src, &[]).unwrap_err().0.len(), 2);
}

#[test]
fn a_repeated_seed_is_refused_like_a_repeated_grid_value() {
    check_error(&BASE.replace("seeds = [0, 1]", "seeds = [1, 1]"), &[], 3, 9, &["experiment.seeds", "seed 1 twice"]);
}

#[test]
fn published_where_must_name_a_grid_column_and_one_of_its_values() {
    let grid = "\n[grid]\n\"model.cell\" = [\"lstm\", \"gru\"]\n";
    let entry = |w: &str| {
        format!("{BASE}\n[[published]]\nsource = \"x\"\nmetric = \"test_accuracy\"\nvalue = 0.9\nwhere = {w}\n{grid}")
    };
    assert!(load(&entry("{ \"model.cell\" = \"gru\" }"), &[]).is_ok());
    check_error(
        &entry("{ \"model.cel\" = \"gru\" }"),
        &[],
        25,
        11,
        &["`model.cel` is not a grid column", "did you mean `model.cell`?"],
    );
    check_error(
        &entry("{ \"model.cell\" = \"gur\" }"),
        &[],
        25,
        26,
        &["no grid point has `model.cell` = \"gur\"", "did you mean `gru`?"],
    );
}

#[test]
fn a_trial_id_is_a_compatibility_promise() {
    // Results folders name trials by these ids: a change that alters them makes every existing
    // folder re-run all its trials. If this fails, the change must say so and why.
    let plan = load(BASE, &[]).unwrap();
    assert_eq!(plan.trials[0].id, "3486727110");
}

#[test]
fn a_large_grid_expands_without_quadratic_work() {
    // 20 × 20 × 25 grid points × 2 seeds = 20,000 trials: a linear scan for duplicate points
    // made this ~400× slower than the expansion itself.
    let lrs: Vec<String> = (1..=20).map(|i| format!("{}", i as f64 / 1000.0)).collect();
    let sizes: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    let batches: Vec<String> = (1..=25).map(|i| i.to_string()).collect();
    let src = format!(
        "{BASE}\n[grid]\n\"optimizer.lr\" = [{}]\n\"model.hidden_size\" = [{}]\n\"train.batch_size\" = [{}]\n",
        lrs.join(", "),
        sizes.join(", "),
        batches.join(", ")
    );
    let plan = load(&src, &[]).unwrap();
    assert_eq!(plan.trials.len(), 20_000);
}

#[test]
fn the_shipped_experiments_keep_their_trial_ids() {
    // Ids of results folders users already have (the same before and after the results
    // vocabulary and `[run] device` parsing changed): a change here re-runs every trial.
    struct Any;
    impl Catalog for Any {
        fn dataset_plugins(&self) -> Vec<&'static str> {
            vec!["parity", "poly_music"]
        }
        fn check_trial(&self, _: &TrialConfig) -> Result<(), FieldError> {
            Ok(())
        }
    }
    for (file, first) in [("parity.toml", "c784b8ac4c"), ("jsb.toml", "7120af6208")] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments").join(file);
        let plan = load_str(&path, &std::fs::read_to_string(&path).unwrap(), &[], &Any).unwrap();
        assert_eq!(plan.trials[0].id, first, "{file}");
    }
}

#[test]
fn report_compare_must_name_a_grid_axis() {
    let spec = |compare: &str| {
        format!("{BASE}\n[report]\ncompare = \"{compare}\"\n\n[grid]\n\"model.cell\" = [\"lstm\", \"gru\"]\n")
    };
    let plan = load(&spec("model.cell"), &[]).unwrap();
    assert_eq!(plan.report.compare.as_deref(), Some("model.cell"));
    // The comparison is a report setting: trial ids do not change with it.
    assert_eq!(
        plan.trials[0].id,
        load(&format!("{BASE}\n[grid]\n\"model.cell\" = [\"lstm\", \"gru\"]\n"), &[]).unwrap().trials[0].id
    );
    check_error(&spec("model.hidden_size"), &[], 22, 11, &["`model.hidden_size` is not a grid axis", "model.cell"]);
}

#[test]
fn a_learning_rate_schedule_is_checked_and_absent_keeps_trial_ids() {
    let with = |schedule: &str| BASE.replace("lr = 0.1\n", &format!("lr = 0.1\nschedule = {schedule}\n"));
    let plan = load(&with("{ kind = \"cosine\", warmup_steps = 5, min_lr = 0.001 }"), &[]).unwrap();
    let s = plan.trials[0].config.optimizer.schedule.as_ref().unwrap();
    assert_eq!((s.kind, s.warmup_steps, s.min_lr), (rnnlab_spec::ScheduleKind::Cosine, 5, 0.001));
    // A schedule is part of the trial; no schedule serialises as before (the pinned id holds).
    assert_ne!(plan.trials[0].id, load(BASE, &[]).unwrap().trials[0].id);
    assert_eq!(load(BASE, &[]).unwrap().trials[0].id, "3486727110");
    check_error(&with("{ kind = \"step\" }"), &[], 16, 1, &["`optimizer.schedule.step_size`", "needs `step_size` ≥ 1"]);
    check_error(
        &with("{ kind = \"exponential\", gamma = 0.9, t_max = 3 }"),
        &[],
        16,
        57,
        &["`t_max` is not used by the `exponential` schedule (only by cosine)"],
    );
    check_error(&with("{ kind = \"cosine\", min_lr = 0.5 }"), &[], 16, 40, &["below `lr` (0.1)"]);
    check_error(
        &with("{ kind = \"linear\" }"),
        &[],
        16,
        21,
        &["unknown value `linear`", "valid values: constant, step, exponential, cosine"],
    );
}

#[test]
fn early_stopping_is_checked_at_its_key_and_absent_keeps_trial_ids() {
    let with = |section: &str| format!("{BASE}\n[train.early_stopping]\n{section}\n");
    let plan = load(&with("metric = \"valid_nll\"\npatience = 5"), &[]).unwrap();
    let e = plan.trials[0].config.train.early_stopping.as_ref().unwrap();
    assert_eq!((e.metric.as_str(), e.patience, e.min_delta), ("valid_nll", Some(5), 0.0));
    assert!(e.improves(1.0, Some(1.5)) && !e.improves(1.5, Some(1.0)) && e.improves(2.0, None));
    assert_ne!(plan.trials[0].id, load(BASE, &[]).unwrap().trials[0].id);
    assert_eq!(load(BASE, &[]).unwrap().trials[0].id, "3486727110");
    check_error(
        &with("metric = \"test_accuracy\""),
        &[],
        22,
        10,
        &["`train.early_stopping.metric`", "not a validation metric", "leaks it"],
    );
    check_error(&with("metric = \"valid_acc\""), &[], 22, 10, &["one of valid_accuracy, valid_mse"]);
    check_error(&with("metric = \"valid_loss\"\npatience = 0"), &[], 23, 12, &["must be at least 1"]);
    check_error(&with("metric = \"valid_loss\"\nmin_delta = -1.0"), &[], 23, 13, &["finite number ≥ 0"]);
}

#[test]
fn the_plateau_schedule_needs_a_validation_metric_and_no_warm_up() {
    let with = |schedule: &str| BASE.replace("lr = 0.1\n", &format!("lr = 0.1\nschedule = {schedule}\n"));
    let plan =
        load(&with("{ kind = \"plateau\", metric = \"valid_accuracy\", patience = 3, cooldown = 1 }"), &[]).unwrap();
    let s = plan.trials[0].config.optimizer.schedule.as_ref().unwrap();
    assert_eq!((s.patience(), s.cooldown, s.threshold()), (3, 1, 1e-4));
    check_error(&with("{ kind = \"plateau\" }"), &[], 16, 1, &["needs the validation `metric`", "valid_loss"]);
    check_error(&with("{ kind = \"plateau\", metric = \"test_loss\" }"), &[], 16, 41, &["not a validation metric"]);
    check_error(
        &with("{ kind = \"plateau\", metric = \"valid_loss\", warmup_steps = 3 }"),
        &[],
        16,
        70,
        &["no warm-up"],
    );
    check_error(
        &with("{ kind = \"cosine\", patience = 3 }"),
        &[],
        16,
        42,
        &["`patience` is not used by the `cosine` schedule"],
    );
}

#[test]
fn a_search_samples_points_that_cross_the_grid_and_seeds_with_pinned_ids() {
    let search = "[search]\nmethod = \"random\"\ntrials = 4\nseed = 3\n\
                  [search.space]\n\"optimizer.lr\" = { log_uniform = [1e-4, 1e-1] }\n\
                  \"model.hidden_size\" = { int_uniform = [4, 64] }\n";
    let src = format!("{BASE}\n[grid]\n\"model.cell\" = [\"lstm\", \"gru\"]\n{search}");
    let plan = load(&src, &[]).unwrap();
    assert_eq!(plan.columns, ["model.cell", "model.hidden_size", "optimizer.lr"]);
    assert_eq!(plan.trials.len(), 2 * 4 * 2, "grid × sampled points × seeds");
    let points: std::collections::HashSet<Vec<(String, String)>> =
        plan.trials.iter().map(|t| t.point.clone()).collect();
    assert_eq!(points.len(), 8);
    for t in &plan.trials {
        let lr = t.config.optimizer.lr;
        assert!((1e-4..=1e-1).contains(&lr) && (4..=64).contains(&t.config.model.hidden_size), "{:?}", t.point);
        assert_eq!(t.point[2].1, lr.to_string(), "the column shows the value the trial runs");
    }
    // The points are a pure function of the spec: the same ids on every load and machine
    // (ChaCha8, fixed draw order, 4 significant digits).
    assert_eq!(plan.trials[0].id, load(&src, &[]).unwrap().trials[0].id);
    assert_eq!(
        plan.trials.iter().take(3).map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["90b18d1a11", "5912b609bc", "173d15d537"]
    );
    let sobol = load(&src.replace("\"random\"", "\"sobol\""), &[]).unwrap();
    assert_eq!(sobol.trials.len(), 16);
    assert_ne!(sobol.trials[0].point, plan.trials[0].point);
}

#[test]
fn search_errors_point_at_the_space_key_or_the_sampled_value() {
    let with = |search: &str| format!("{BASE}\n{search}");
    check_error(
        &with("[search]\nmethod = \"random\"\ntrials = 2\n[search.space]\n\"optimizer.lr\" = { uniform = [1, 0] }"),
        &[],
        25,
        18,
        &["`search.space.optimizer.lr`", "low < high"],
    );
    check_error(
        &with("[search]\nmethod = \"random\"\n[search.space]\n\"optimizer.lr\" = { uniform = [0, 1] }"),
        &[],
        21,
        2,
        &["`search.trials`", "number of points"],
    );
    check_error(
        &with("[search]\nmethod = \"grid\"\n[search.space]\n\"optimizer.lr\" = { uniform = [0, 1] }"),
        &[],
        24,
        18,
        &["`choice` lists only"],
    );
    check_error(
        &with("[grid]\n\"optimizer.lr\" = [0.1]\n[search]\nmethod = \"sobol\"\ntrials = 2\n[search.space]\n\"optimizer.lr\" = { uniform = [0, 1] }"),
        &[],
        27,
        18,
        &["also set by a [grid] axis"],
    );
    // A section axis collides only where its tables set the key.
    let section = "[grid]\n\"model\" = [{ cell = \"lstm\", hidden_size = 4 }, { cell = \"gru\", hidden_size = 6 }]\n";
    check_error(
        &with(&format!("{section}[search]\nmethod = \"random\"\ntrials = 2\n[search.space]\n\"model.hidden_size\" = {{ int_uniform = [2, 9] }}")),
        &[],
        27,
        23,
        &["`search.space.model.hidden_size`", "also set by a [grid] axis"],
    );
    let plan = load(
        &with(&format!("{section}[search]\nmethod = \"random\"\ntrials = 2\n[search.space]\n\"model.init_std\" = {{ uniform = [0.05, 0.2] }}")),
        &[],
    )
    .unwrap();
    assert_eq!(plan.trials.len(), 2 * 2 * 2, "cells × sampled points × seeds");
    assert!(plan.trials.iter().all(|t| t.config.model.hidden_size >= 4 && t.config.model.init_std >= 0.05));
    // A sampled value the model refuses: located at the key that sampled it, with the point.
    check_error(
        &with("[search]\nmethod = \"grid\"\n[search.space]\n\"model.hidden_size\" = { choice = [8, 0] }"),
        &[],
        24,
        23,
        &["`model.hidden_size`", "in the trial with model.hidden_size=0"],
    );
}

#[test]
fn prune_is_checked_at_its_keys_and_is_no_part_of_any_trial() {
    let with = |prune: &str| format!("{BASE}\n[prune]\n{prune}\n");
    let plan = load(&with("method = \"asha\"\nmetric = \"valid_loss\"\nmin_steps = 100"), &[]).unwrap();
    let p = plan.prune.as_ref().unwrap();
    assert_eq!((p.method, p.reduction_factor(), p.min_steps), (rnnlab_spec::PruneMethod::Asha, 3, 100));
    assert_eq!(plan.trials[0].id, load(BASE, &[]).unwrap().trials[0].id);
    check_error(&with("method = \"asha\"\nmetric = \"test_loss\"\nmin_steps = 1"), &[], 23, 10, &["leaks it"]);
    check_error(&with("method = \"asha\"\nmetric = \"valid_loss\"\nmin_steps = 0"), &[], 24, 13, &["at least 1"]);
    check_error(
        &with("method = \"median\"\nmetric = \"valid_loss\"\nmin_steps = 5\nreduction_factor = 2"),
        &[],
        25,
        20,
        &["used by ASHA only"],
    );
    check_error(
        &with("method = \"hyperband\"\nmetric = \"valid_loss\"\nmin_steps = 5"),
        &[],
        22,
        10,
        &["asha, median"],
    );
}

#[test]
fn prune_groups_must_be_grid_columns() {
    let src = format!(
        "{BASE}\n[grid]\n\"model.cell\" = [\"lstm\", \"gru\"]\n[prune]\nmethod = \"median\"\nmetric = \"valid_loss\"\nmin_steps = 5\ngroup_by = [\"model.hidden_size\"]\n"
    );
    check_error(&src, &[], 27, 12, &["`model.hidden_size` is not a grid column", "model.cell"]);
    let ok = src.replace("[\"model.hidden_size\"]", "[\"model.cell\"]");
    assert_eq!(load(&ok, &[]).unwrap().prune.unwrap().group_by, ["model.cell"]);
}

#[test]
fn report_select_must_be_a_recorded_metric() {
    let with = |select: &str| format!("{BASE}\n[report]\nselect = \"{select}\"\n");
    assert_eq!(load(&with("valid_nll"), &[]).unwrap().report.select.as_deref(), Some("valid_nll"));
    check_error(&with("valid_nl"), &[], 22, 10, &["`valid_nl` is not a metric rnnlab records", "valid_nll"]);
}
