//! Fine-tuning: start from loaded weights, replace the classifier when the class count differs,
//! freeze the backbone or give it a lower learning rate.

use std::path::Path;

use kinema_models::weights::{read_safetensors, NamedTensor};
use kinema_models::Net;

use crate::config::TrainSection;
use crate::error::Result;

/// Classifier parameter paths of every family (`fc` in 3-D models, `output` in TSN).
pub fn is_classifier(path: &str) -> bool {
    path.starts_with("fc.") || path.starts_with("output.")
}

/// Learning-rate factor per parameter path from the fine-tuning settings.
pub fn lr_factor(t: &TrainSection) -> impl Fn(&str) -> f64 {
    let (freeze, mult) = (t.freeze_backbone, t.backbone_lr_mult);
    move |path: &str| {
        if is_classifier(path) {
            1.0
        } else if freeze {
            0.0
        } else {
            mult
        }
    }
}

/// Loads `init` (a kinema safetensors file or GluonCV `.params`) into `net`. When the file's
/// classifier has another class count, the classifier keeps its fresh initialisation and
/// everything else must match.
pub fn init_from(net: Net, init: &Path) -> Result<Net> {
    let is_st = init.extension().is_some_and(|e| e == "safetensors");
    let tensors: Vec<NamedTensor> = if is_st {
        read_safetensors(init)?
            .0
            .into_iter()
            .filter_map(|mut t| {
                // A training checkpoint holds `model.` and `optim.` entries: take the model.
                if let Some(n) = t.name.strip_prefix("model.") {
                    t.name = n.to_string();
                } else if t.name.starts_with("optim.") {
                    return None;
                }
                Some(t)
            })
            .collect()
    } else {
        // GluonCV's `.params` use GluonCV's paths: the registry's loader maps them. Its class
        // count must match (a shape error names the classifier otherwise).
        return Ok(net.load_params(init)?);
    };
    let own: std::collections::HashMap<String, Vec<usize>> =
        net.tensors()?.into_iter().map(|t| (t.name, t.shape)).collect();
    let head_differs = tensors
        .iter()
        .any(|t| is_classifier(&t.name) && own.get(&t.name).is_some_and(|s| *s != t.shape));
    if !head_differs {
        return Ok(net.load_tensors(tensors, init)?);
    }
    tracing::info!(
        "{}: classifier has another class count: it starts fresh",
        init.display()
    );
    let fresh: Vec<NamedTensor> = net
        .tensors()?
        .into_iter()
        .filter(|t| is_classifier(&t.name))
        .collect();
    let mut body: Vec<NamedTensor> = tensors.into_iter().filter(|t| !is_classifier(&t.name)).collect();
    body.extend(fresh);
    Ok(net.load_tensors(body, init)?)
}
