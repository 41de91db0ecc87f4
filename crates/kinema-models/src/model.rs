//! [`Model`]: a built network with its card (what it is, its classes, how to feed it) — what
//! predict, eval, tag, extract and Python run — and [`ModelSource`], how a user names one.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::card::ModelCard;
use crate::default::{DEFAULT_MODEL, DEFAULT_SOURCE, DEFAULT_WEIGHTS};
use crate::error::{ModelError, Result};
use crate::net::{is_pth, Net};
use crate::registry::spec;
use crate::weights::decode_safetensors;
use crate::zoo::{get_model, GetModelOptions};

/// A built network (eval mode when it comes from here) and its card.
#[derive(Debug)]
pub struct Model {
    /// The network.
    pub net: Net,
    /// Registry name, class names and clip parameters.
    pub card: ModelCard,
}

/// Which model to build: a kinema model file (safetensors with its card), a registry name
/// (with `weights`, or the published file from the model store), or `None` for the embedded
/// default. What the CLI's `--model`/`--weights` and Python's `get_model` say.
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
    /// A registry name without `weights` loads the published weights from the model store
    /// (the CLI); false builds it with random weights (GluonCV's `pretrained=False`).
    pub pretrained: bool,
}

impl Model {
    /// The embedded default (`kinema_motion_default`), in eval mode.
    pub fn embedded_default(dev: &Device) -> Result<Model> {
        Model::from_bytes(DEFAULT_WEIGHTS, Path::new(DEFAULT_SOURCE), dev)
    }

    /// The model a kinema safetensors file describes (its card's registry name and classes),
    /// weights loaded, in eval mode. A TSN model averages the card's segments itself; 3-D
    /// models take clips one by one and the caller averages views.
    pub fn from_bytes(bytes: &[u8], path: &Path, dev: &Device) -> Result<Model> {
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
        Ok(Model {
            net: net.valid(),
            card,
        })
    }

    /// [`from_bytes`](Self::from_bytes) on a file.
    pub fn from_file(path: &Path, dev: &Device) -> Result<Model> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Model::from_bytes(&bytes, path, dev)
    }

    /// The model `src` names, in eval mode.
    pub fn load(src: &ModelSource, dev: &Device) -> Result<Model> {
        let Some(m) = src.model.as_deref() else {
            return Model::embedded_default(dev);
        };
        let as_path = Path::new(m);
        if as_path.extension().and_then(|e| e.to_str()).is_some_and(is_pth) {
            return Err(ModelError::InvalidOption(format!(
                "{m}: a PyTorch checkpoint holds weights only, no model card: give the registry name \
                 as the model and {m} as its weights"
            )));
        }
        if as_path.exists() || m.ends_with(".safetensors") {
            if src.weights.is_some() {
                return Err(ModelError::InvalidOption(format!(
                    "weights go with a registry name, not with the model file {m}"
                )));
            }
            return Model::from_file(as_path, dev);
        }
        if m == DEFAULT_MODEL && src.weights.is_none() {
            return Model::embedded_default(dev);
        }
        let spec = spec(m)?;
        let classes = match &src.classes {
            Some(c) if c.is_empty() => {
                return Err(ModelError::InvalidOption(format!("{m}: the class list is empty")))
            }
            Some(c) => c.clone(),
            None => {
                let n = src.nclass.unwrap_or(spec.nclass);
                if n == 0 {
                    return Err(ModelError::InvalidOption(format!(
                        "{m} is a _custom model: give the number of classes or their names"
                    )));
                }
                (0..n).map(|k| format!("class_{k}")).collect()
            }
        };
        let o = GetModelOptions {
            nclass: Some(classes.len()),
            num_segments: Some(spec.family.segments_in_model(spec.input.num_segments)),
            pretrained: src.weights.is_none() && src.pretrained,
            ..Default::default()
        };
        let mut net = get_model(m, &o, dev)?;
        if let Some(w) = &src.weights {
            net = net.load_weights(w)?;
        }
        Ok(Model {
            net: net.valid(),
            card: ModelCard {
                model: m.to_string(),
                classes,
                input: spec.input.clone(),
            },
        })
    }

    /// Views per video the network averages itself (a TSN model's segments; 1 for 3-D models,
    /// whose clips the caller averages).
    pub fn segments_in_model(&self) -> usize {
        self.card.segments_in_model()
    }

    /// The name of class `k` (`class_K` past the card's list).
    pub fn class_name(&self, k: usize) -> String {
        self.card.class_name(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_loads_and_runs() {
        let dev = Device::flex();
        let m = Model::embedded_default(&dev).unwrap();
        assert_eq!(m.card.classes.len(), kinema_data::synth::CLASS_NAMES.len());
        assert_eq!(m.card.classes[0], "move_left");
        let s = m.card.input.target_width as usize;
        let shape = [1, 3, m.card.input.new_length, s, s];
        let (dims, y) = m
            .net
            .run(&shape, vec![0.1; shape.iter().product()], false, &dev)
            .unwrap();
        assert_eq!(dims, vec![1, m.card.classes.len()]);
        assert!(y.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn sources_that_cannot_be_models_are_errors_naming_them() {
        let dev = Device::flex();
        let load = |model: &str, weights: Option<&str>| {
            Model::load(
                &ModelSource {
                    model: Some(model.into()),
                    weights: weights.map(PathBuf::from),
                    ..Default::default()
                },
                &dev,
            )
            .unwrap_err()
            .to_string()
        };
        let e = load("r3d_18.pth", None);
        assert!(e.contains("r3d_18.pth") && e.contains("registry name"), "{e}");
        let e = load("resnet18_v1b_custom", None);
        assert!(e.contains("_custom") && e.contains("number of classes"), "{e}");
        let e = load("missing.safetensors", Some("w.params"));
        assert!(e.contains("not with the model file"), "{e}");
        let e = load("i3d_resnet50_v1_kinetic400", None);
        assert!(e.contains("i3d_resnet50_v1_kinetics400"), "{e}");
    }
}
