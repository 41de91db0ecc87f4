//! `kinema predict VIDEO...`: top-k labels with scores per video (class names from the model's
//! card), views averaged, batched on the loader's workers.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use kinema_infer::predict::{predict_videos, Label, PredictOptions, Prediction};
use kinema_models::Model;

use crate::model_arg::{resolve, ModelArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Videos (or frame folders).
    #[arg(required = true)]
    videos: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    /// Labels to show per video.
    #[arg(long, default_value_t = 5)]
    topk: usize,
    /// Temporal clips per video (3-D models; TSN uses its segments).
    #[arg(long)]
    num_clips: Option<usize>,
    /// Videos per batch.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Loader workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

/// The `topk` labels of each video (views averaged), in the order given, behind a progress
/// bar labelled `what` (hidden when `quiet`).
pub fn predictions(
    model: &Model,
    videos: &[PathBuf],
    num_clips: Option<usize>,
    (batch_size, workers): (usize, usize),
    topk: usize,
    (what, quiet): (&str, bool),
    dev: &Device,
) -> Result<Vec<Prediction>> {
    let o = PredictOptions {
        num_clips,
        batch_size,
        workers,
        topk,
    };
    let pb = crate::progress::bar(videos.len() as u64, what, quiet);
    let p = predict_videos(model, videos, &o, "<command line>", dev, &|done, _| {
        pb.set_position(done as u64)
    })
    .context("classifying")?;
    pb.finish_and_clear();
    Ok(p)
}

/// `label score, label score, ...`
pub fn labels_line(top: &[Label]) -> String {
    top.iter()
        .map(|l| format!("{} {:.3}", l.label, l.score))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(a: Args) -> Result<()> {
    let dev = crate::device();
    let model = resolve(&a.model, &dev)?;
    let preds = predictions(
        &model,
        &a.videos,
        a.num_clips,
        (a.batch_size, a.workers),
        a.topk,
        ("predict", a.json),
        &dev,
    )?;
    for p in preds {
        if a.json {
            println!("{}", serde_json::to_string(&p)?);
        } else {
            println!("{}: {}", p.video.display(), labels_line(&p.top));
        }
    }
    Ok(())
}
