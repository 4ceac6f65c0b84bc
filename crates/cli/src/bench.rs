//! `rnnlab bench`: milliseconds per training step on the seed workloads (see
//! `rnnlab_train::bench`), with the matrix-product rate they are measured against.

use anyhow::{bail, Context};
use rnnlab_spec::{CellKind, DeviceKind, KernelKind, RunConfig};
use rnnlab_train::bench::{median, sgemm_gflops, Case, CELLS, WORKLOADS};

/// Options of `rnnlab bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Workloads to run (mnist_rows, count_ones, parity) [default: all].
    #[arg(long = "workload", short)]
    workloads: Vec<String>,
    /// Cells to run (lstm, gru, rnn) [default: all].
    #[arg(long = "cell", short)]
    cells: Vec<String>,
    /// Kernels to run (fused, reference); with both, the table shows the speed-up [default: fused].
    #[arg(long = "kernel", short)]
    kernels: Vec<String>,
    /// Devices to run on (cpu, cuda, cuda:N); CUDA runs the reference cells [default: cpu].
    #[arg(long = "device", short)]
    devices: Vec<String>,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Timed steps per case (the median is reported).
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Untimed steps before timing.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// One JSON object per case on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

fn parse_cell(s: &str) -> anyhow::Result<CellKind> {
    s.parse().map_err(anyhow::Error::msg)
}

fn parse_kernel(s: &str) -> anyhow::Result<KernelKind> {
    Ok(match s {
        "fused" => KernelKind::Fused,
        "reference" => KernelKind::Reference,
        other => bail!("unknown kernel `{other}`: use fused or reference"),
    })
}

/// The column label of a kernel on a device: `fused`, `reference`, `reference@cuda:0`.
fn variant_name(k: KernelKind, d: DeviceKind) -> String {
    let kernel = match k {
        KernelKind::Fused => "fused",
        KernelKind::Reference => "reference",
    };
    match d {
        DeviceKind::Cpu => kernel.to_string(),
        DeviceKind::Cuda(_) => format!("{kernel}@{d}"),
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let workloads = if args.workloads.is_empty() {
        WORKLOADS.to_vec()
    } else {
        args.workloads
            .iter()
            .map(|name| {
                WORKLOADS.iter().find(|w| w.name == name).copied().with_context(|| {
                    let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
                    format!("unknown workload `{name}`: use one of {}", names.join(", "))
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let cells = if args.cells.is_empty() {
        CELLS.to_vec()
    } else {
        args.cells.iter().map(|c| parse_cell(c)).collect::<anyhow::Result<_>>()?
    };
    let kernels = if args.kernels.is_empty() {
        vec![KernelKind::Fused]
    } else {
        args.kernels.iter().map(|k| parse_kernel(k)).collect::<anyhow::Result<_>>()?
    };
    let devices: Vec<DeviceKind> = if args.devices.is_empty() {
        vec![DeviceKind::Cpu]
    } else {
        args.devices
            .iter()
            .map(|d| {
                let run = RunConfig { device: d.parse().map_err(|e| anyhow::anyhow!("--device {d}: {e}"))? };
                rnnlab_train::check_device(&run).map_err(|e| anyhow::anyhow!("--device {d}: {e}"))?;
                Ok(run.device())
            })
            .collect::<anyhow::Result<_>>()?
    };
    // Kernel × device; CUDA has only the reference cells.
    let mut variants: Vec<(KernelKind, DeviceKind)> = Vec::new();
    for &d in &devices {
        for &k in &kernels {
            let k = if d == DeviceKind::Cpu { k } else { KernelKind::Reference };
            if !variants.contains(&(k, d)) {
                variants.push((k, d));
            }
        }
    }
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let threads = args.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("starting the thread pool")?;
    rnnlab_train::set_threads(threads);
    pool.install(|| -> anyhow::Result<()> {
        let sgemm = sgemm_gflops(512, 20);
        if !args.json {
            println!("sgemm [512×512]·[512×512]: {sgemm:.1} GFLOP/s on {threads} thread(s)");
            println!(
                "{:<11} {:<5} {:<16} {:>9} {:>8} {:>8} {:>8}{}",
                "workload",
                "cell",
                "kernel",
                "ms/step",
                "steps/s",
                "GFLOP/s",
                "% sgemm",
                if variants.len() > 1 { "  vs first kernel" } else { "" }
            );
        }
        for w in &workloads {
            for &cell in &cells {
                let mut first_ms = None;
                for &(kernel, device) in &variants {
                    let case = Case { workload: *w, cell, kernel, device };
                    let ms = median(&case.time(args.warmup, args.steps)?) * 1e3;
                    let gflops = case.flops() / (ms * 1e-3) / 1e9;
                    if args.json {
                        println!(
                            "{{\"tool\": \"rnnlab\", \"workload\": \"{}\", \"batch\": {}, \"steps\": {}, \"input\": {}, \"hidden\": {}, \"classes\": {}, \"cell\": \"{}\", \"kernel\": \"{}\", \"threads\": {threads}, \"ms\": {ms:.4}, \"gflops\": {gflops:.3}, \"sgemm_gflops\": {sgemm:.3}}}",
                            w.name,
                            w.batch,
                            w.steps,
                            w.input,
                            w.hidden,
                            w.classes,
                            cell.name(),
                            variant_name(kernel, device)
                        );
                        continue;
                    }
                    let speedup = match first_ms {
                        None => {
                            first_ms = Some(ms);
                            String::new()
                        }
                        Some(first) => format!("  {:.2}× faster", ms / first),
                    };
                    println!(
                        "{:<11} {:<5} {:<16} {:>9.2} {:>8.1} {:>8.1} {:>7.0}%{speedup}",
                        w.name,
                        cell.name(),
                        variant_name(kernel, device),
                        ms,
                        1e3 / ms,
                        gflops,
                        100.0 * gflops / sgemm
                    );
                }
            }
        }
        Ok(())
    })
}
