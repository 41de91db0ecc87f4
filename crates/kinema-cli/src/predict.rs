//! `kinema predict VIDEO...`: top-k labels with scores per video (class names from the model's
//! card), views averaged, batched on the loader's workers.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use burn::tensor::Device;
use kinema_data::{Sample, SampleList, VideoClsCustom};
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
struct Label {
    label: String,
    index: usize,
    score: f32,
}

#[derive(Serialize)]
struct Prediction {
    video: PathBuf,
    top: Vec<Label>,
}

pub fn run(a: Args) -> Result<()> {
    let dev = Device::flex();
    let (net, card) = resolve(&a.model, &dev)?;
    let opts = clip_options(&card, a.num_clips)?;
    let list = SampleList {
        samples: a
            .videos
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
    };
    for p in &a.videos {
        anyhow::ensure!(p.exists(), "{}: no such file or folder", p.display());
    }
    let ds = Arc::new(VideoClsCustom::from_list(list, opts)?);
    let report = score(
        &net,
        &card,
        ds,
        (a.batch_size, a.workers),
        ("predict", a.json),
        &dev,
    )
    .context("classifying")?;
    for v in &report.videos {
        let mut order: Vec<usize> = (0..v.probs.len()).collect();
        order.sort_by(|&x, &y| v.probs[y].total_cmp(&v.probs[x]));
        let top: Vec<Label> = order
            .into_iter()
            .take(a.topk.max(1))
            .map(|k| Label {
                label: card
                    .classes
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| format!("class_{k}")),
                index: k,
                score: v.probs[k],
            })
            .collect();
        let p = Prediction {
            video: a.videos[v.index].clone(),
            top,
        };
        if a.json {
            println!("{}", serde_json::to_string(&p)?);
        } else {
            let labels: Vec<String> = p
                .top
                .iter()
                .map(|l| format!("{} {:.3}", l.label, l.score))
                .collect();
            println!("{}: {}", p.video.display(), labels.join(", "));
        }
    }
    Ok(())
}
