//! Fine-tuning: start from loaded weights, replace the classifier when the class count differs,
//! freeze the backbone or give it a lower learning rate.

use std::path::Path;

use burn::tensor::Device;
use kinema_models::weights::{read_safetensors, NamedTensor};
use kinema_models::{get_model, GetModelOptions, Net};

use crate::config::TrainSection;
use crate::error::Result;

/// Classifier parameter paths of every family (`fc` in the 3-D ResNets, P3D and i3d_slow, `fc8`
/// in C3D, `output` in TSN and the I3D Inception models; VGG16's `fc6`/`fc7` are the body).
pub fn is_classifier(path: &str) -> bool {
    path.starts_with("fc.") || path.starts_with("fc8.") || path.starts_with("output.")
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

/// Loads `init` (a kinema safetensors file, a GluonCV `.params`, a PyTorch `.pth`/`.pt` state
/// dict, or the registry name of a model with weights: the embedded default, or a published
/// model in the store) into `net`.
/// When the source's classifier has another class count, the classifier keeps its fresh
/// initialisation and everything else must match.
pub fn init_from(net: Net, init: &Path) -> Result<Net> {
    let name = init
        .to_str()
        .filter(|n| !init.exists() && kinema_models::spec(n).is_ok());
    if let Some(name) = name {
        let o = GetModelOptions {
            pretrained: true,
            ..Default::default()
        };
        let source = get_model(name, &o, &Device::flex())?.tensors()?;
        return load_body(net, source, init);
    }
    if init
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(kinema_models::is_pth)
    {
        // PyTorch's names mapped to kinema's, so the classifier can be told apart.
        let tensors = net.read_pth(init)?;
        return load_body(net, tensors, init);
    }
    if init.extension().is_none_or(|e| e != "safetensors") {
        // GluonCV's `.params` use GluonCV's paths: the registry's loader maps them. Its class
        // count must match (a shape error names the classifier otherwise).
        return Ok(net.load_params(init)?);
    }
    let tensors: Vec<NamedTensor> = read_safetensors(init)?
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
        .collect();
    load_body(net, tensors, init)
}

/// Loads `tensors` into `net`, the classifier only where its shape matches.
fn load_body(net: Net, tensors: Vec<NamedTensor>, init: &Path) -> Result<Net> {
    let (head, _): (Vec<NamedTensor>, Vec<NamedTensor>) =
        net.tensors()?.into_iter().partition(|t| is_classifier(&t.name));
    let head_differs = tensors
        .iter()
        .any(|t| head.iter().any(|own| own.name == t.name && own.shape != t.shape));
    if !head_differs {
        return Ok(net.load_tensors(tensors, init)?);
    }
    tracing::info!(
        "{}: classifier has another class count: it starts fresh",
        init.display()
    );
    let mut body: Vec<NamedTensor> = tensors.into_iter().filter(|t| !is_classifier(&t.name)).collect();
    body.extend(head);
    Ok(net.load_tensors(body, init)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In every family the classifier is exactly one weight and one bias, the ones sized by
    /// the class count: what fine-tuning replaces when `nclass` differs.
    #[test]
    fn classifier_paths_of_every_family() {
        let dev = Device::flex();
        let mut families = std::collections::HashSet::new();
        for s in kinema_models::models() {
            // one model per variant (the first `_custom` one, the smallest depth)
            let variant = format!("{:?}", s.family)
                .split('(')
                .next()
                .unwrap_or_default()
                .to_string();
            if !s.name.ends_with("_custom") || !families.insert(variant) {
                continue;
            }
            let o = GetModelOptions {
                nclass: Some(7),
                ..Default::default()
            };
            let net = get_model(s.name, &o, &dev).unwrap();
            let head: Vec<NamedTensor> = net
                .tensors()
                .unwrap()
                .into_iter()
                .filter(|t| is_classifier(&t.name))
                .collect();
            assert_eq!(
                head.len(),
                2,
                "{}: {:?}",
                s.name,
                head.iter().map(|t| &t.name).collect::<Vec<_>>()
            );
            assert!(head.iter().all(|t| t.shape.contains(&7)), "{}", s.name);
        }
        assert!(families.len() >= 15, "{families:?}");
    }
}
