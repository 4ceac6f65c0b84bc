//! The training protocol and search sections beyond a grid: learning-rate schedules, early
//! stopping, `[search]`, `[prune]` and `[report] select` — checked where they are written, and
//! absent or at their defaults without changing any trial id.

mod common;

use common::{check_error, load, BASE};

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
        &["used by ASHA and hyperband only"],
    );
    // Hyperband needs the most steps a trial trains (the `[prune]` table is the place to add it).
    check_error(
        &with("method = \"hyperband\"\nmetric = \"valid_loss\"\nmin_steps = 5"),
        &[],
        21,
        2,
        &["hyperband needs", "max_steps = 135"],
    );
    let hb = load(&with("method = \"hyperband\"\nmetric = \"valid_loss\"\nmin_steps = 5\nmax_steps = 135"), &[]);
    assert_eq!(hb.unwrap().prune.unwrap().brackets(), 4);
    check_error(&with("method = \"bohb\"\nmetric = \"valid_loss\"\nmin_steps = 5"), &[], 22, 10, &["hyperband"]);
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
