//! The embedded default model, `kinema_motion_default`: kinema's motion net trained by kinema's
//! own pipeline on its synthetic action dataset (`configs/synthetic_default.toml`, then
//! `configs/synthetic_default_stride3.toml`, reproduce it). It ships inside the binary, so
//! classifying works with no network and no download.

/// Registry name of the embedded default.
pub const DEFAULT_MODEL: &str = "kinema_motion_default";

/// Its weights and card (safetensors).
pub static DEFAULT_WEIGHTS: &[u8] = include_bytes!("../assets/kinema_motion_default.safetensors");

/// How errors name the embedded file.
pub const DEFAULT_SOURCE: &str = "<embedded kinema_motion_default>";
