//! The embedded default model, `kinema_motion_default`: kinema's motion net trained by kinema's
//! own pipeline on its synthetic action dataset (`configs/synthetic_default.toml`, then
//! `configs/synthetic_default_stride3.toml`, reproduce it). It ships inside the binary, so
//! classifying works with no network and no download.

use std::path::Path;

use burn::tensor::Device;

use crate::card::{load_model_bytes, ModelCard};
use crate::error::Result;
use crate::registry::Net;

/// Registry name of the embedded default.
pub const DEFAULT_MODEL: &str = "kinema_motion_default";

/// Its weights and card (safetensors).
pub static DEFAULT_WEIGHTS: &[u8] = include_bytes!("../assets/kinema_motion_default.safetensors");

/// How errors name the embedded file.
pub(crate) const DEFAULT_SOURCE: &str = "<embedded kinema_motion_default>";

/// The embedded default in eval mode, with its card (class names, clip parameters).
pub fn default_model(dev: &Device) -> Result<(Net, ModelCard)> {
    let (net, card) = load_model_bytes(DEFAULT_WEIGHTS, Path::new(DEFAULT_SOURCE), dev)?;
    Ok((net.valid(), card))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_loads_and_runs() {
        let dev = Device::flex();
        let (net, card) = default_model(&dev).unwrap();
        assert_eq!(card.classes.len(), kinema_data::synth::CLASS_NAMES.len());
        assert_eq!(card.classes[0], "move_left");
        let s = card.input.input_size as usize;
        let shape = [1, 3, card.input.new_length, s, s];
        let (dims, y) = net
            .run(&shape, vec![0.1; shape.iter().product()], false, &dev)
            .unwrap();
        assert_eq!(dims, vec![1, card.classes.len()]);
        assert!(y.iter().all(|v| v.is_finite()));
    }
}
