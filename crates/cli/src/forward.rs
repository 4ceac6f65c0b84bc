//! `rnnlab forward`: a model's output at every step for every test sequence (e.g. the
//! `manual` plugin's hand-unrolled RNN), untrained or after training.

use std::process::ExitCode;

use anyhow::Context;

use crate::args::{exit, load, SpecArgs};

pub fn run(args: &SpecArgs, seed: Option<u64>, id: Option<String>, train: bool) -> anyhow::Result<ExitCode> {
    let Some(plan) = load(args)? else { return Ok(ExitCode::from(exit::INVALID)) };
    let trial = plan
        .trials
        .iter()
        .find(|t| id.as_ref().is_none_or(|id| &t.id == id) && seed.is_none_or(|s| t.config.seed == s))
        .with_context(|| "no trial matches --trial/--seed (`rnnlab plan` lists them)".to_string())?;
    let pass = rnnlab_train::forward(&trial.config, train)?;
    let point = trial.point_label();
    println!(
        "trial {} ({}seed {}), {}",
        trial.id,
        if point.is_empty() { point } else { format!("{point}, ") },
        trial.config.seed,
        if train { format!("after {} training steps", pass.steps_trained) } else { "untrained".to_string() }
    );
    let fmt = |xs: &[f32]| format!("[{}]", xs.iter().map(|x| format!("{x:.6}")).collect::<Vec<_>>().join(", "));
    let set = &pass.inputs;
    let (steps, width, out_w) = (set.steps, set.input_size, pass.outputs.width);
    let per_step = pass.outputs.steps.len() == steps;
    for n in 0..set.len {
        println!("sequence {n}:");
        for t in 0..steps {
            let x = &set.inputs[(n * steps + t) * width..(n * steps + t + 1) * width];
            let out_t = if per_step { Some(t) } else { (t + 1 == steps).then_some(0) };
            match out_t {
                Some(s) => println!(
                    "  input{t} {} -> output{t} {}",
                    fmt(x),
                    fmt(&pass.outputs.steps[s][n * out_w..(n + 1) * out_w])
                ),
                None => println!("  input{t} {}", fmt(x)),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
