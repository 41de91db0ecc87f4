//! Top-k predictions for videos, and the clip options a model's card asks for: shared by
//! `kinema predict`, `eval`, `tag`, `extract` and the Python package.

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::Device;
use kinema_data::{ClipPlan, DatasetOptions, Sample, SampleList, VideoClsCustom};
use kinema_models::{Model, ModelCard};
use serde::Serialize;

use crate::error::{InferError, Result};
use crate::eval::{mean_rows, run_videos, softmax_rows, EvalOptions};

/// The card's clip options with `num_clips` applied (clips per video for 3-D models; a TSN
/// model keeps its segments).
pub fn clip_options(card: &ModelCard, num_clips: Option<usize>) -> Result<DatasetOptions> {
    let mut opts = card.dataset_options();
    if let Some(n) = num_clips {
        if n == 0 {
            return Err(InferError::Invalid(
                "the number of clips must be at least 1".into(),
            ));
        }
        if card.segments_in_model() == 1 {
            opts.clip.num_segments = n;
        }
    }
    Ok(opts)
}

/// One label of a prediction.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub label: String,
    pub index: usize,
    pub score: f32,
}

/// The top labels of one video.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub video: PathBuf,
    pub top: Vec<Label>,
}

/// Videos given by a caller (command line, Python list) as a sample list (unlabelled; the
/// card's class names), so errors name them as entry N of `what`.
pub fn video_list(videos: &[PathBuf], card: &ModelCard, what: &str) -> SampleList {
    SampleList {
        samples: videos
            .iter()
            .enumerate()
            .map(|(i, p)| Sample {
                path: p.clone(),
                num_frames: 0,
                label: 0,
                listed_in: PathBuf::from(what),
                line: i + 1,
            })
            .collect(),
        classes: card.classes.clone(),
        missing: vec![],
    }
}

/// How [`predict_videos`] reads and batches.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// Temporal clips per video (3-D models; TSN uses its segments); `None`: the card's.
    pub num_clips: Option<usize>,
    pub batch_size: usize,
    pub workers: usize,
    /// Labels per video.
    pub topk: usize,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            num_clips: None,
            batch_size: 4,
            workers: 2,
            topk: 5,
        }
    }
}

/// The `topk` labels of each video (softmax of each view, views averaged), in the order
/// given; `what` names the list in errors (`<command line>`, `<python>`).
pub fn predict_videos(
    model: &Model,
    videos: &[PathBuf],
    o: &PredictOptions,
    what: &str,
    dev: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<Prediction>> {
    let opts = clip_options(&model.card, o.num_clips)?;
    for p in videos {
        if !p.exists() {
            return Err(InferError::Invalid(format!(
                "{}: no such file or folder",
                p.display()
            )));
        }
    }
    let ds = Arc::new(VideoClsCustom::from_list(
        video_list(videos, &model.card, what),
        opts,
    )?);
    let mut out = Vec::with_capacity(videos.len());
    let mut top = |plan: &ClipPlan, _label: usize, rows: &[f32], k: usize| -> Result<()> {
        let mut rows = rows.to_vec();
        softmax_rows(&mut rows, k);
        let probs = mean_rows(&rows, k);
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&x, &y| probs[y].total_cmp(&probs[x]));
        out.push(Prediction {
            video: videos[plan.index].clone(),
            top: order
                .into_iter()
                .take(o.topk.max(1))
                .map(|k| Label {
                    label: model.class_name(k),
                    index: k,
                    score: probs[k],
                })
                .collect(),
        });
        Ok(())
    };
    let eval = EvalOptions::for_model(model, o.batch_size, o.workers);
    run_videos(model, ds, &eval, false, dev, &mut top, progress)?;
    Ok(out)
}
