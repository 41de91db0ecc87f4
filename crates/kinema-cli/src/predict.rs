//! `kinema predict VIDEO...`: top-k labels with scores per video (class names from the model's
//! card), views averaged, batched on the loader's workers.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use burn::tensor::Device;
use kinema_data::{Sample, SampleList, VideoClsCustom};
use kinema_models::{ModelCard, Net};
use serde::Serialize;

use crate::model_arg::{clip_options, resolve, score, ModelArgs};

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

#[derive(Serialize)]
pub struct Label {
    pub label: String,
    pub index: usize,
    pub score: f32,
}

#[derive(Serialize)]
pub struct Prediction {
    pub video: PathBuf,
    pub top: Vec<Label>,
}

/// The `topk` labels of each video (views averaged), in the order given.
pub fn predictions(
    (net, card): (&Net, &ModelCard),
    videos: &[PathBuf],
    num_clips: Option<usize>,
    (batch_size, workers): (usize, usize),
    topk: usize,
    (what, quiet): (&str, bool),
    dev: &Device,
) -> Result<Vec<Prediction>> {
    let opts = clip_options(card, num_clips)?;
    for p in videos {
        anyhow::ensure!(p.exists(), "{}: no such file or folder", p.display());
    }
    let ds = Arc::new(VideoClsCustom::from_list(command_line_list(videos, card), opts)?);
    let report = score(net, card, ds, (batch_size, workers), (what, quiet), dev).context("classifying")?;
    Ok(report
        .videos
        .iter()
        .map(|v| {
            let mut order: Vec<usize> = (0..v.probs.len()).collect();
            order.sort_by(|&x, &y| v.probs[y].total_cmp(&v.probs[x]));
            let top = order
                .into_iter()
                .take(topk.max(1))
                .map(|k| Label {
                    label: class_name(card, k),
                    index: k,
                    score: v.probs[k],
                })
                .collect();
            Prediction {
                video: videos[v.index].clone(),
                top,
            }
        })
        .collect())
}

/// Videos named on the command line as a sample list (unlabelled; the card's class names),
/// so errors name them as argument N.
pub fn command_line_list(videos: &[PathBuf], card: &ModelCard) -> SampleList {
    SampleList {
        samples: videos
            .iter()
            .enumerate()
            .map(|(i, p)| Sample {
                path: p.clone(),
                num_frames: 0,
                label: 0,
                listed_in: PathBuf::from("<command line>"),
                line: i + 1,
            })
            .collect(),
        classes: card.classes.clone(),
        missing: vec![],
    }
}

/// Class `k`'s name from the card.
pub fn class_name(card: &ModelCard, k: usize) -> String {
    card.classes
        .get(k)
        .cloned()
        .unwrap_or_else(|| format!("class_{k}"))
}

/// `label score, label score, ...`
pub fn labels_line(top: &[Label]) -> String {
    top.iter()
        .map(|l| format!("{} {:.3}", l.label, l.score))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(a: Args) -> Result<()> {
    let dev = Device::flex();
    let (net, card) = resolve(&a.model, &dev)?;
    let preds = predictions(
        (&net, &card),
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
