//! `kinema train CONFIG.toml`: a training run as the config says, with a progress bar (loss,
//! top-1, clips/s, ETA); checkpoints, logs and curves land in the config's `out` folder.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use kinema_dist::Comm;
use kinema_train::{train, RunOptions, TrainConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The training config (TOML).
    config: PathBuf,
    /// Continue from the output folder's checkpoint.
    #[arg(long)]
    resume: bool,
    /// Start from these weights (fine-tuning; a different class count replaces the classifier).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Output folder (overrides the config's `out`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Epochs (overrides the config).
    #[arg(long)]
    epochs: Option<usize>,
    /// Micro-batches per step (overrides the config's `train.micro_batches`).
    #[arg(long)]
    micro_batches: Option<usize>,
    /// Stop after this many steps (a short trial run; resumable).
    #[arg(long)]
    max_steps: Option<usize>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Compute threads of this process (default: the cores, shared among the ranks on this
    /// machine when started by mpirun or srun).
    #[arg(long, value_parser = crate::bench::parse_threads)]
    threads: Option<usize>,
    /// Distributed runs: end the whole job when no step, validation batch or checkpoint
    /// completes for this many seconds (a rank that hangs); 0 turns the watchdog off.
    #[arg(long, default_value_t = 600.0, value_parser = parse_timeout)]
    dist_timeout: f64,
}

pub fn run(a: Args) -> Result<()> {
    // Under mpirun or srun this process is one rank of a job: an error here ends the whole job
    // (MPI_Abort) naming the rank, instead of leaving the other ranks waiting for ever.
    let comm = Arc::new(Comm::from_env().context("joining the distributed job")?);
    if !comm.is_distributed() {
        return run_rank(a, comm);
    }
    let (rank, size) = (comm.rank(), comm.size());
    // A panic (a bug) on one rank ends the job too; panics that the code below catches and turns
    // into errors (a backend rejecting a shape) stay errors.
    let c = comm.clone();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_rank(a, comm))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            eprintln!("kinema: rank {rank} of {size}: error: {e:#}");
            eprintln!("kinema: rank {rank}: aborting the job");
            c.abort(1)
        }
        Err(_) => {
            eprintln!("kinema: rank {rank} of {size}: panic (above); aborting the job");
            c.abort(70)
        }
    }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && (0.0..=1e9).contains(&t) => Ok(t),
        Ok(_) => Err("a number of seconds from 0 (off) to 1e9".into()),
        Err(e) => Err(format!("{s:?}: {e}")),
    }
}

/// Compute threads of a rank: the CPUs this process may run on, shared among the ranks of this
/// machine unless the launcher has already bound each rank to its own CPUs.
fn default_threads(local_ranks: usize) -> usize {
    let allowed = std::thread::available_parallelism().map_or(1, |n| n.get());
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .map(|t| {
            t.trim()
                .split(',')
                .map(|r| match r.split_once('-') {
                    Some((a, b)) => b.parse::<usize>().unwrap_or(0) + 1 - a.parse::<usize>().unwrap_or(0),
                    None => 1,
                })
                .sum::<usize>()
        })
        .unwrap_or(allowed);
    if allowed < online {
        allowed
    } else {
        (allowed / local_ranks.max(1)).max(1)
    }
}

/// The device of this rank: `--device cuda` without an index means one GPU per rank on each
/// machine (`cuda:<local rank>`); anything else as given.
fn rank_device(comm: &Comm) -> Result<burn::tensor::Device> {
    let name = crate::device_name();
    if comm.is_distributed() && name == "cuda" {
        let own = format!("cuda:{}", comm.local_rank());
        return kinema_models::device_by_name(&own)
            .with_context(|| format!("rank {}: --device {own}", comm.rank()));
    }
    Ok(crate::device())
}

fn run_rank(a: Args, comm: Arc<Comm>) -> Result<()> {
    let threads = a.threads.unwrap_or_else(|| default_threads(comm.local_size()));
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("setting the thread count")?;
    // Validation runs on the oneDNN engine: its threads too (an error there resurfaces, named,
    // when validation first runs).
    let _ = kinema_models::engine::set_threads(threads);
    let watchdog = (comm.is_distributed() && a.dist_timeout > 0.0)
        .then(|| Arc::new(comm.watchdog(std::time::Duration::from_secs_f64(a.dist_timeout))));
    let mut cfg = TrainConfig::load(&a.config)?;
    if let Some(o) = a.out {
        // A command-line path is relative to where the command runs.
        cfg.out = std::env::current_dir()?.join(o);
    }
    if let Some(e) = a.epochs {
        cfg.train.epochs = e;
    }
    if let Some(k) = a.micro_batches {
        cfg.train.micro_batches = k;
        cfg.check().with_context(|| format!("--micro-batches {k}"))?;
    }
    // One progress bar for the job: rank 0's.
    let pb = crate::progress::bar(0, "train", a.json || !comm.is_root());
    pb.set_style(
        indicatif::ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let run = RunOptions {
        resume: a.resume,
        init: a.init,
        max_steps: a.max_steps,
        device: Some(rank_device(&comm)?),
        comm: Some(comm.clone()),
        watchdog,
    };
    let epochs = cfg.train.epochs;
    let summary = train(&cfg, &run, &|s| {
        if pb.length() != Some(s.batches as u64) {
            pb.set_length(s.batches as u64);
        }
        pb.set_prefix(format!("{}/{epochs}", s.epoch + 1));
        pb.set_position(s.batch as u64);
        pb.set_message(format!(
            "loss {:.3} top-1 {:.3} lr {:.2e} {:.1} clips/s",
            s.loss, s.train_top1, s.lr, s.clips_per_s
        ));
    })
    .with_context(|| format!("training with {}", a.config.display()))?;
    pb.finish_and_clear();
    if !comm.is_root() {
        return Ok(());
    }
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
        return Ok(());
    }
    for e in &summary.epochs {
        println!(
            "epoch {:>3}  loss {:.4}  train top-1 {:.3}  val top-1 {}  lr {:.2e}  {:.0} s",
            e.epoch,
            e.train_loss,
            e.train_top1,
            e.val_top1
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "-".into()),
            e.lr,
            e.seconds
        );
    }
    println!(
        "{} in {}; best val top-1 {:.3}{}",
        if summary.finished {
            "finished"
        } else {
            "stopped (resume with --resume)"
        },
        summary.out.display(),
        summary.best_top1,
        summary
            .best_epoch
            .map(|e| format!(" at epoch {e}"))
            .unwrap_or_default()
    );
    Ok(())
}
