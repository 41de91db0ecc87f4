//! A model card: what a saved model is (registry name, classes) and how to feed it (GluonCV's
//! clip parameters), stored in its safetensors metadata so that a weight file is all `predict`,
//! `eval` and `extract` need.

use std::path::Path;

use burn::tensor::Device;
use kinema_data::transform::Normalize;
use kinema_data::DatasetOptions;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::registry::{get_model, spec, GetModelOptions, Net};
use crate::weights::{decode_safetensors, Metadata};

/// Metadata key holding the card (JSON).
pub const CARD_KEY: &str = "kinema.card";

/// How clips are cut and normalized for a model (GluonCV's `VideoClsCustom` names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipSpec {
    /// Segments (TSN) or clips per video.
    pub num_segments: usize,
    /// Frames per clip.
    pub new_length: usize,
    /// Step between them.
    pub new_step: usize,
    /// Decode width.
    pub new_width: u32,
    /// Decode height.
    pub new_height: u32,
    /// Square crop side.
    pub input_size: u32,
    /// Channel means.
    pub mean: [f32; 3],
    /// Channel standard deviations.
    pub std: [f32; 3],
    /// SlowFast layout.
    #[serde(default)]
    pub slowfast: bool,
    /// SlowFast slow stride.
    #[serde(default)]
    pub slow_temporal_stride: usize,
    /// SlowFast fast stride.
    #[serde(default)]
    pub fast_temporal_stride: usize,
}

impl ClipSpec {
    /// Dataset options that cut clips this way (val mode: centre crop, centred segments).
    pub fn dataset_options(&self) -> DatasetOptions {
        DatasetOptions {
            train: false,
            num_segments: self.num_segments,
            new_length: self.new_length,
            new_step: self.new_step,
            new_width: self.new_width,
            new_height: self.new_height,
            target_width: self.input_size,
            target_height: self.input_size,
            slowfast: self.slowfast,
            slow_temporal_stride: self.slow_temporal_stride.max(1),
            fast_temporal_stride: self.fast_temporal_stride.max(1),
            normalize: Normalize {
                mean: self.mean,
                std: self.std,
            },
            ..Default::default()
        }
    }

    /// The spec of dataset options (the inverse of [`dataset_options`](Self::dataset_options)).
    pub fn from_options(o: &DatasetOptions) -> ClipSpec {
        ClipSpec {
            num_segments: o.num_segments,
            new_length: o.new_length,
            new_step: o.new_step,
            new_width: o.new_width,
            new_height: o.new_height,
            input_size: o.target_width,
            mean: o.normalize.mean,
            std: o.normalize.std,
            slowfast: o.slowfast,
            slow_temporal_stride: o.slow_temporal_stride,
            fast_temporal_stride: o.fast_temporal_stride,
        }
    }
}

/// What a saved model is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Registry name the weights fit.
    pub model: String,
    /// Class names, label order.
    pub classes: Vec<String>,
    /// Input.
    pub input: ClipSpec,
}

impl ModelCard {
    /// The card as weight-file metadata.
    pub fn to_metadata(&self) -> Metadata {
        let mut m = Metadata::new();
        m.insert(
            CARD_KEY.into(),
            serde_json::to_string(self).expect("a card serializes"),
        );
        m.insert("model".into(), self.model.clone());
        m
    }

    /// The card in `meta` (`path` names the file in errors).
    pub fn from_metadata(meta: &Metadata, path: &Path) -> Result<ModelCard> {
        let s = meta.get(CARD_KEY).ok_or_else(|| {
            ModelError::bad(
                path,
                format!("no {CARD_KEY} metadata: not a kinema model file (use --model NAME --weights FILE)"),
            )
        })?;
        serde_json::from_str(s).map_err(|e| ModelError::bad(path, format!("bad {CARD_KEY} metadata: {e}")))
    }

    /// Classes of the model.
    pub fn nclass(&self) -> usize {
        self.classes.len()
    }
}

/// Builds the model a kinema safetensors file describes and loads its weights (a TSN model for
/// the card's segments; 3-D models take clips one by one and the caller averages views).
pub fn load_model_bytes(bytes: &[u8], path: &Path, dev: &Device) -> Result<(Net, ModelCard)> {
    let (tensors, meta) = decode_safetensors(bytes, path)?;
    let card = ModelCard::from_metadata(&meta, path)?;
    let segments = spec(&card.model)?
        .family
        .segments_in_model(card.input.num_segments);
    let o = GetModelOptions {
        nclass: Some(card.nclass()),
        num_segments: Some(segments),
        ..Default::default()
    };
    let net = get_model(&card.model, &o, dev)?.load_tensors(tensors, path)?;
    Ok((net, card))
}

/// [`load_model_bytes`] on a file.
pub fn load_model_file(path: &Path, dev: &Device) -> Result<(Net, ModelCard)> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_model_bytes(&bytes, path, dev)
}
