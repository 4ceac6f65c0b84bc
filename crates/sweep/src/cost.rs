//! What a trial will cost, estimated from its config alone, so that a sweep starts its longest
//! trials first and does not end with one long trial on one core while the others idle.
//!
//! The estimate is the multiply-adds of training (parameters × samples × 3 for the forward and
//! backward passes) plus those of evaluation (parameters × one evaluation batch, forward only,
//! per evaluation). Sequence length and input width are the dataset's and the same for every
//! trial of a grid, so they scale every estimate alike and are left out; only the order
//! matters.

use rnnlab_spec::TrialConfig;

/// A number proportional to the trial's expected run time (larger runs longer).
pub fn estimate(config: &TrialConfig) -> f64 {
    let params = rnnlab_train::memory::param_count(&config.model, 1, 1) as f64;
    let t = &config.train;
    // With `epochs`, the training set's size is the dataset's: a nominal 10^5 sequences.
    let samples = match (t.steps, t.epochs) {
        (Some(s), _) => s as f64 * t.batch_size as f64,
        (None, Some(e)) => e as f64 * 1e5,
        (None, None) => t.batch_size as f64,
    };
    let steps = samples / t.batch_size.max(1) as f64;
    let evaluations = if t.eval_every == 0 { 1.0 } else { (steps / t.eval_every as f64).floor() + 1.0 };
    params * (3.0 * samples + evaluations * t.eval_batch_size as f64)
}

/// Indices of `configs` in the order to run them: most expensive first, plan order among equals.
pub fn longest_first<'a>(configs: impl Iterator<Item = &'a TrialConfig>) -> Vec<usize> {
    let costs: Vec<f64> = configs.map(estimate).collect();
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnnlab_spec::CellKind;

    #[test]
    fn bigger_cells_longer_training_and_more_evaluation_cost_more() {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/smoke.toml");
        let plan = rnnlab_spec::load(&spec, &[], &crate::Builtin).unwrap();
        let base = plan.trials[0].config.clone();
        let with = |f: &dyn Fn(&mut TrialConfig)| {
            let mut c = base.clone();
            f(&mut c);
            c
        };
        let lstm = with(&|c| c.model.cell = CellKind::Lstm);
        let gru = with(&|c| c.model.cell = CellKind::Gru);
        let rnn = with(&|c| c.model.cell = CellKind::Rnn);
        assert!(estimate(&lstm) > estimate(&gru) && estimate(&gru) > estimate(&rnn));
        let long = with(&|c| c.train.steps = c.train.steps.map(|s| s * 2));
        assert!(estimate(&long) > estimate(&base));
        let often = with(&|c| c.train.eval_every = 1);
        assert!(estimate(&often) > estimate(&base));
        let order = longest_first([&rnn, &lstm, &gru, &lstm].into_iter());
        assert_eq!(order, [1, 3, 2, 0]);
    }
}
