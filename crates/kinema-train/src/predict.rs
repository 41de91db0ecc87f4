//! A model as the CLI's `--model` and Python's `get_model` name it, and top-k predictions for
//! videos: shared by `kinema predict`, `eval`, `tag`, `extract` and the Python package.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;
use kinema_data::{DatasetOptions, Sample, SampleList, VideoClsCustom};
use kinema_models::registry::Family;
use kinema_models::{get_model, load_model_file, ClipSpec, GetModelOptions, ModelCard, Net};
use serde::Serialize;

use crate::error::{Result, TrainError};
use crate::eval::{evaluate, EvalOptions, EvalReport};

/// Which model to build: a kinema model file (safetensors with its card), a registry name
/// (with `weights`, or GluonCV's published file from the model store), or `None` for the
/// embedded default.
#[derive(Debug, Clone, Default)]
pub struct ModelSource {
    /// File, registry name, or `None` (the embedded default, `kinema_motion_default`).
    pub model: Option<String>,
    /// Weights for a registry name (.params, .pth/.pt or .safetensors).
    pub weights: Option<PathBuf>,
    /// Class names for a registry name (default `class_0`, `class_1`, ...).
    pub classes: Option<Vec<String>>,
    /// Classes of a `_custom` registry name.
    pub nclass: Option<usize>,
    /// A registry name without `weights` loads GluonCV's published weights from the model
    /// store (the CLI); false builds it with random weights (GluonCV's `pretrained=False`).
    pub pretrained: bool,
}

/// The built model (eval mode) and its card (classes, how to feed it).
pub fn resolve_model(src: &ModelSource, dev: &Device) -> Result<(Net, ModelCard)> {
    let Some(m) = src.model.as_deref() else {
        return Ok(kinema_models::default_model(dev)?);
    };
    let as_path = Path::new(m);
    if as_path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(kinema_models::registry::is_pth)
    {
        return Err(TrainError::Invalid(format!(
            "{m}: a PyTorch checkpoint holds weights only, no model card: give the registry name \
             as the model and {m} as its weights"
        )));
    }
    if as_path.exists() || m.ends_with(".safetensors") {
        if src.weights.is_some() {
            return Err(TrainError::Invalid(format!(
                "weights go with a registry name, not with the model file {m}"
            )));
        }
        return Ok(load_model_file(as_path, dev)?);
    }
    if m == kinema_models::DEFAULT_MODEL && src.weights.is_none() {
        return Ok(kinema_models::default_model(dev)?);
    }
    let spec = kinema_models::spec(m)?;
    let classes = match &src.classes {
        Some(c) if c.is_empty() => return Err(TrainError::Invalid(format!("{m}: the class list is empty"))),
        Some(c) => c.clone(),
        None => {
            let n = src.nclass.unwrap_or(spec.nclass);
            if n == 0 {
                return Err(TrainError::Invalid(format!(
                    "{m} is a _custom model: give the number of classes or their names"
                )));
            }
            (0..n).map(|k| format!("class_{k}")).collect()
        }
    };
    let segments = spec.family.segments_in_model(spec.input.segments);
    let o = GetModelOptions {
        nclass: Some(classes.len()),
        num_segments: Some(segments),
        pretrained: src.weights.is_none() && src.pretrained,
        ..Default::default()
    };
    let mut net = get_model(m, &o, dev)?;
    if let Some(w) = &src.weights {
        net = net.load_weights(w)?;
    }
    let size = spec.input.size as u32;
    // GluonCV resizes to 340x256 before a 224 crop; other sizes scale along.
    let input = ClipSpec {
        num_segments: spec.input.segments,
        new_length: spec.input.frames,
        new_step: spec.input.stride,
        new_width: (size * 340).div_ceil(224),
        new_height: (size * 256).div_ceil(224),
        input_size: size,
        mean: spec.input.mean,
        std: spec.input.std,
        slowfast: matches!(spec.family, Family::SlowFast(..)),
        slow_temporal_stride: 16,
        fast_temporal_stride: 2,
    };
    Ok((
        net,
        ModelCard {
            model: m.to_string(),
            classes,
            input,
        },
    ))
}

/// Views the model itself averages (TSN segments).
pub fn segments_in_model(card: &ModelCard) -> usize {
    kinema_models::spec(&card.model).map_or(1, |s| s.family.segments_in_model(card.input.num_segments))
}

/// The card's clip options with `num_clips` applied (clips per video for 3-D models; a TSN
/// model keeps its segments).
pub fn clip_options(card: &ModelCard, num_clips: Option<usize>) -> Result<DatasetOptions> {
    let mut opts = card.input.dataset_options();
    if let Some(n) = num_clips {
        if n == 0 {
            return Err(TrainError::Invalid(
                "the number of clips must be at least 1".into(),
            ));
        }
        if segments_in_model(card) == 1 {
            opts.num_segments = n;
        }
    }
    Ok(opts)
}

/// Runs `net` over every view of `ds` (`batch_size` videos a step on `workers` loader threads);
/// `progress(done, total)` after every batch.
pub fn score(
    net: &Net,
    card: &ModelCard,
    ds: Arc<VideoClsCustom>,
    (batch_size, workers): (usize, usize),
    dev: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<EvalReport> {
    evaluate(
        net,
        ds,
        &EvalOptions {
            batch_size,
            num_workers: workers,
            segments_in_model: segments_in_model(card),
        },
        dev,
        progress,
    )
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

/// Class `k`'s name from the card.
pub fn class_name(card: &ModelCard, k: usize) -> String {
    card.classes
        .get(k)
        .cloned()
        .unwrap_or_else(|| format!("class_{k}"))
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

/// The `topk` labels of each video (views averaged), in the order given; `what` names the
/// list in errors (`<command line>`, `<python>`).
pub fn predict_videos(
    (net, card): (&Net, &ModelCard),
    videos: &[PathBuf],
    o: &PredictOptions,
    what: &str,
    dev: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<Prediction>> {
    let opts = clip_options(card, o.num_clips)?;
    for p in videos {
        if !p.exists() {
            return Err(TrainError::Invalid(format!(
                "{}: no such file or folder",
                p.display()
            )));
        }
    }
    let ds = Arc::new(VideoClsCustom::from_list(video_list(videos, card, what), opts)?);
    let report = score(net, card, ds, (o.batch_size, o.workers), dev, progress)?;
    Ok(report
        .videos
        .iter()
        .map(|v| {
            let mut order: Vec<usize> = (0..v.probs.len()).collect();
            order.sort_by(|&x, &y| v.probs[y].total_cmp(&v.probs[x]));
            let top = order
                .into_iter()
                .take(o.topk.max(1))
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
