//! `rnnlab predict`: a saved trial's model on a file of sequences, as CSV.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use rnnlab_data::{Targets, Task};

#[derive(Args)]
pub struct PredictArgs {
    /// A trial folder with model.toml and model.safetensors (`[train] save_checkpoint = true`).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Sequences in the format of the model's dataset plugin: long-format CSV for `csv`
    /// (target columns optional), an IDX image file for `mnist` (labels read from beside it).
    #[arg(long)]
    input: PathBuf,
    /// A prediction after every step, also for a model trained on the last step only.
    #[arg(long)]
    steps: bool,
    /// Write the CSV here instead of to standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Sequences per forward pass (memory only).
    #[arg(long, default_value_t = 1024)]
    batch_size: usize,
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let loaded = rnnlab_train::checkpoint::load(&args.checkpoint)?;
    let dataset = &loaded.card.dataset;
    let plugin = rnnlab_data::find(&dataset.plugin)
        .with_context(|| format!("model.toml names the unknown dataset plugin `{}`", dataset.plugin))?;
    let input = plugin.read_input(&dataset.keys, &args.input)?;
    let outputs = loaded
        .predict(&input.set, args.steps, args.batch_size)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.input.display()))?;
    let task = loaded.net.task;
    let width = task.output_size();
    let every = args.steps || task.per_step();
    let names: Vec<String> = match (task, dataset.keys.get("targets").and_then(|t| t.as_array())) {
        (Task::Regress { .. }, Some(t)) if t.len() == width => {
            t.iter().map(|v| v.as_str().unwrap_or("y").to_string()).collect()
        }
        (Task::Regress { .. }, _) => (0..width).map(|j| format!("y{j}")).collect(),
        (Task::Classify { .. }, _) => {
            std::iter::once("class".to_string()).chain((0..width).map(|j| format!("p{j}"))).collect()
        }
        (Task::MultiLabel { .. }, _) => (0..width).map(|j| format!("p{j}")).collect(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["sequence".to_string()];
    if every {
        header.push("step".into());
    }
    header.extend(names);
    w.write_record(&header)?;
    // Agreement with the file's own targets at the steps the model was trained to predict.
    let (mut right, mut count, mut sq) = (0usize, 0usize, 0.0f64);
    let set = &input.set;
    for (n, seq) in outputs.iter().enumerate() {
        for (s, row) in seq.iter().enumerate() {
            let mut rec = vec![input.ids[n].clone()];
            if every {
                rec.push(s.to_string());
            }
            let scored = if task.per_step() { Some(n * set.steps + s) } else { (s + 1 == seq.len()).then_some(n) };
            match task {
                Task::Classify { .. } => {
                    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                    let e: Vec<f64> = row.iter().map(|&v| ((v - max) as f64).exp()).collect();
                    let z: f64 = e.iter().sum();
                    let class = (0..width).fold(0, |b, j| if row[j] > row[b] { j } else { b });
                    rec.push(class.to_string());
                    rec.extend(e.iter().map(|p| format!("{:.6}", p / z)));
                    if let (true, Some(k), Targets::Classes(labels)) = (input.labelled, scored, &set.targets) {
                        right += usize::from(labels[k] as usize == class);
                        count += 1;
                    }
                }
                Task::Regress { .. } => {
                    rec.extend(row.iter().map(|v| v.to_string()));
                    if let (true, Some(k), Targets::Values(values)) = (input.labelled, scored, &set.targets) {
                        sq += row
                            .iter()
                            .zip(&values[k * width..(k + 1) * width])
                            .map(|(p, y)| ((p - y) as f64).powi(2))
                            .sum::<f64>();
                        count += width;
                    }
                }
                Task::MultiLabel { .. } => {
                    rec.extend(row.iter().map(|&v| format!("{:.6}", 1.0 / (1.0 + (-v as f64).exp()))))
                }
            }
            w.write_record(&rec)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    match &args.output {
        Some(path) => {
            rnnlab_spec::files::write_output(path, &bytes)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!("{} sequences → {}", outputs.len(), path.display());
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    if count > 0 {
        match task {
            Task::Classify { .. } => {
                eprintln!("accuracy {:.4} on the file's labels ({right}/{count})", right as f64 / count as f64)
            }
            _ => eprintln!("mse {:.6} on the file's targets ({count} values)", sq / count as f64),
        }
    }
    Ok(())
}
