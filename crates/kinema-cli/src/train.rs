//! `kinema train CONFIG.toml`: a training run as the config says, with a progress bar (loss,
//! top-1, clips/s, ETA); checkpoints, logs and curves land in the config's `out` folder.

use std::path::PathBuf;

use anyhow::{Context, Result};
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
    /// Stop after this many steps (a short trial run; resumable).
    #[arg(long)]
    max_steps: Option<usize>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let mut cfg = TrainConfig::load(&a.config)?;
    if let Some(o) = a.out {
        // A command-line path is relative to where the command runs.
        cfg.out = std::env::current_dir()?.join(o);
    }
    if let Some(e) = a.epochs {
        cfg.train.epochs = e;
    }
    let pb = crate::progress::bar(0, "train", a.json);
    pb.set_style(
        indicatif::ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let run = RunOptions {
        resume: a.resume,
        init: a.init,
        max_steps: a.max_steps,
        device: Some(crate::device()),
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
