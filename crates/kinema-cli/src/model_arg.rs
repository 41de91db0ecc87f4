//! `--model NAME|FILE` as predict, eval, tag and extract take it: a kinema model file
//! (safetensors with its card), a registry name (with `--weights`, or GluonCV's published file
//! from the model store), or nothing: the embedded default, `kinema_motion_default`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use burn::tensor::Device;
use kinema_data::{DatasetOptions, VideoClsCustom};
use kinema_models::registry::Family;
use kinema_models::{get_model, load_model_file, ClipSpec, GetModelOptions, ModelCard, Net};
use kinema_train::{evaluate, EvalOptions, EvalReport};

/// The model options shared by the verbs that run a model.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model: a kinema .safetensors file (from `kinema train`), a registry name, or omitted for
    /// the embedded default (kinema_motion_default).
    #[arg(long)]
    pub model: Option<String>,
    /// Weights for a registry name (.params or .safetensors); without it, the model store's file.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Class names, one per line (registry names only; default class_0, class_1, ...).
    #[arg(long)]
    pub classes: Option<PathBuf>,
    /// Classes of a `_custom` registry name.
    #[arg(long)]
    pub nclass: Option<usize>,
}

/// The built model (eval mode) and how to feed it.
pub fn resolve(a: &ModelArgs, dev: &Device) -> Result<(Net, ModelCard)> {
    let Some(m) = a.model.as_deref() else {
        return kinema_models::default_model(dev).context("loading the embedded default model");
    };
    let as_path = Path::new(m);
    if as_path.exists() || m.ends_with(".safetensors") {
        if a.weights.is_some() {
            bail!("--weights goes with a registry name, not with the model file {m}");
        }
        return load_model_file(as_path, dev).with_context(|| format!("loading model file {m}"));
    }
    if m == kinema_models::DEFAULT_MODEL && a.weights.is_none() {
        return kinema_models::default_model(dev).context("loading the embedded default model");
    }
    let spec = kinema_models::spec(m)?;
    let classes: Vec<String> = match &a.classes {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading class names {}", p.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        None => {
            let n = a.nclass.unwrap_or(spec.nclass);
            if n == 0 {
                bail!("{m} is a _custom model: give --nclass or --classes");
            }
            (0..n).map(|k| format!("class_{k}")).collect()
        }
    };
    let segments = spec.family.segments_in_model(spec.input.segments);
    let o = GetModelOptions {
        nclass: Some(classes.len()),
        num_segments: Some(segments),
        pretrained: a.weights.is_none(),
        ..Default::default()
    };
    let mut net = get_model(m, &o, dev)?;
    if let Some(w) = &a.weights {
        net = net
            .load_weights(w)
            .with_context(|| format!("loading weights {}", w.display()))?;
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

/// The card's clip options with `--num-clips` applied (clips per video for 3-D models; a TSN
/// model keeps its segments).
pub fn clip_options(card: &ModelCard, num_clips: Option<usize>) -> Result<DatasetOptions> {
    let mut opts = card.input.dataset_options();
    if let Some(n) = num_clips {
        anyhow::ensure!(n > 0, "--num-clips must be at least 1");
        if segments_in_model(card) == 1 {
            opts.num_segments = n;
        }
    }
    Ok(opts)
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

/// Runs `net` over every view of `ds` (`batch_size` videos a step on `workers` loader threads)
/// behind a progress bar labelled `what` (hidden when `quiet`).
pub fn score(
    net: &Net,
    card: &ModelCard,
    ds: Arc<VideoClsCustom>,
    (batch_size, workers): (usize, usize),
    (what, quiet): (&str, bool),
    dev: &Device,
) -> Result<EvalReport> {
    let pb = crate::progress::bar(ds.len() as u64, what, quiet);
    let r = evaluate(
        net,
        ds,
        &EvalOptions {
            batch_size,
            num_workers: workers,
            segments_in_model: segments_in_model(card),
        },
        dev,
        &|done, _| pb.set_position(done as u64),
    )?;
    pb.finish_and_clear();
    Ok(r)
}
