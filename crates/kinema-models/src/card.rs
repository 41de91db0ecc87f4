//! A model card: what a saved model is (registry name, classes) and how to feed it (GluonCV's
//! clip parameters, [`ClipSpec`]), stored in its safetensors metadata so that a weight file is all `predict`,
//! `eval` and `extract` need.

use std::path::Path;

use kinema_data::{ClipSpec, DatasetOptions};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::registry::spec;
use crate::weights::Metadata;

/// Metadata key holding the card (JSON).
pub const CARD_KEY: &str = "kinema.card";

/// What a saved model is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Registry name the weights fit.
    pub model: String,
    /// Class names, label order.
    pub classes: Vec<String>,
    /// How to feed it (cards written before the clip parameters were one type read as well:
    /// their `input_size` is the square crop).
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

    /// Views per video the network averages itself (a TSN model's segments; 1 for 3-D models
    /// and for a name the registry does not have).
    pub fn segments_in_model(&self) -> usize {
        spec(&self.model).map_or(1, |s| s.family.segments_in_model(self.input.num_segments))
    }

    /// Dataset options that cut clips as the card says, in val mode (centre crop, centred
    /// segments, no temporal jitter whatever the card says: inference is deterministic).
    pub fn dataset_options(&self) -> DatasetOptions {
        let mut o = DatasetOptions {
            train: false,
            clip: self.input.clone(),
            ..Default::default()
        };
        o.clip.temporal_jitter = false;
        o
    }

    /// The name of class `k` (`class_K` past the list).
    pub fn class_name(&self, k: usize) -> String {
        self.classes
            .get(k)
            .cloned()
            .unwrap_or_else(|| format!("class_{k}"))
    }
}
