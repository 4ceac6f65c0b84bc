//! Loading specs end to end: expansion, ids, and where each kind of error is reported.

mod common;

use std::path::Path;

use common::{check_error, load, BASE};
use rnnlab_spec::{load_str, Catalog, FieldError, Location, TrialConfig};

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
    // Nor when on: it changes no number of the trial, so it is no part of the id (since the
    // docs reorganisation; specs that set it had other ids before).
    let saving = load(BASE, &["train.save_checkpoint=true"]).unwrap();
    assert_eq!(plain.trials[0].id, saving.trials[0].id);
    assert!(saving.trials[0].to_toml().contains("save_checkpoint = true"));
    assert!(saving.trials[0].config.train.save_checkpoint);
    // Weight noise at 0 is no change; on, it is part of the trial; negative is refused.
    assert_eq!(plain.trials[0].id, load(BASE, &["train.weight_noise=0.0"]).unwrap().trials[0].id);
    assert_ne!(plain.trials[0].id, load(BASE, &["train.weight_noise=0.075"]).unwrap().trials[0].id);
    let err = load(BASE, &["train.weight_noise=-0.1"]).unwrap_err().to_string();
    assert!(err.contains("`train.weight_noise`: must be a finite number ≥ 0"), "{err}");
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
    // jsb.toml's changed on 2026-12-07, when it took the paper's protocol (100 epochs with
    // early stopping on valid_nll; it was 7120af6208 at a fixed 30 epochs).
    struct Any;
    impl Catalog for Any {
        fn dataset_plugins(&self) -> Vec<&'static str> {
            vec!["parity", "poly_music"]
        }
        fn check_trial(&self, _: &TrialConfig) -> Result<(), FieldError> {
            Ok(())
        }
    }
    for (file, first) in [("parity.toml", "c784b8ac4c"), ("jsb.toml", "158e4a2f94")] {
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
