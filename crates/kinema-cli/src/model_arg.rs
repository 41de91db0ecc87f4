//! `--model NAME|FILE` as predict, eval, tag and extract take it: a kinema model file
//! (safetensors with its card), a registry name (with `--weights`, or its published file from
//! the model store), or nothing: the embedded default, `kinema_motion_default`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use burn::tensor::Device;
use kinema_data::VideoClsCustom;
use kinema_infer::predict::clip_options;
use kinema_infer::{evaluate, EvalOptions, EvalReport};
use kinema_models::{CpuEngine, Model, ModelCard, ModelSource};

/// The model options shared by the verbs that run a model.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model: a kinema .safetensors file (from `kinema train`), a registry name, or omitted for
    /// the embedded default (kinema_motion_default).
    #[arg(long)]
    pub model: Option<String>,
    /// Weights for a registry name (.params, .pth/.pt or .safetensors); without it, the model
    /// store's file.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Class names, one per line (registry names only; default class_0, class_1, ...).
    #[arg(long)]
    pub classes: Option<PathBuf>,
    /// Classes of a `_custom` registry name.
    #[arg(long)]
    pub nclass: Option<usize>,
    /// CPU engine: onednn (default: the network compiled for the CPU) or burn (burn's ops,
    /// what training runs).
    #[arg(long, default_value = "onednn")]
    pub engine: CpuEngine,
}

/// The built model (eval mode) with its card: how to feed it.
pub fn resolve(a: &ModelArgs, dev: &Device) -> Result<Model> {
    let classes = match &a.classes {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading class names {}", p.display()))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
        ),
        None => None,
    };
    let src = ModelSource {
        model: a.model.clone(),
        weights: a.weights.clone(),
        classes,
        nclass: a.nclass,
        pretrained: true,
    };
    let what = match (&a.model, &a.weights) {
        (None, _) => "loading the embedded default model".to_string(),
        (Some(m), Some(w)) => format!("loading {m} with weights {}", w.display()),
        (Some(m), None) => format!("loading model {m}"),
    };
    let mut model = Model::load(&src, dev).with_context(|| what)?;
    model.engine = a.engine;
    Ok(model)
}

/// A setting file and the views to read from each of its videos (eval and extract).
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Setting file (`path num_frames label` per line).
    #[arg(long)]
    pub data: PathBuf,
    /// Folder the setting file's paths are relative to (default: the setting file's folder).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Temporal clips per video (3-D models; TSN uses its segments).
    #[arg(long)]
    pub num_clips: Option<usize>,
    /// Crops per clip: 1, 3 or 10.
    #[arg(long, default_value_t = 1)]
    pub num_crops: usize,
    /// Videos per batch.
    #[arg(long, default_value_t = 4)]
    pub batch_size: usize,
    /// Loader workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

impl DataArgs {
    /// The root the setting file's paths start from.
    pub fn root(&self) -> PathBuf {
        self.root
            .clone()
            .unwrap_or_else(|| self.data.parent().map(PathBuf::from).unwrap_or_default())
    }

    /// The dataset as `card`'s model reads it, with the views asked for (GluonCV's test mode
    /// when more than one).
    pub fn dataset(&self, card: &ModelCard) -> Result<VideoClsCustom> {
        let mut opts = clip_options(card, self.num_clips)?;
        opts.test_mode = self.num_crops > 1 || self.num_clips.is_some_and(|n| n > 1);
        opts.num_crop = self.num_crops;
        Ok(VideoClsCustom::new(self.root(), &self.data, opts)?)
    }
}

/// Runs `model` over every view of `ds` (`batch_size` videos a step on `workers` loader
/// threads) and scores it, behind a progress bar labelled `what` (hidden when `quiet`).
pub fn score(
    model: &Model,
    ds: Arc<VideoClsCustom>,
    (batch_size, workers): (usize, usize),
    (what, quiet): (&str, bool),
    dev: &Device,
) -> Result<EvalReport> {
    let pb = crate::progress::bar(ds.len() as u64, what, quiet);
    let o = EvalOptions::for_model(model, batch_size, workers);
    let r = evaluate(model, ds, &o, dev, &|done, _| pb.set_position(done as u64))?;
    pb.finish_and_clear();
    Ok(r)
}
