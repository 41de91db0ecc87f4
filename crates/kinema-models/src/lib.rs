//! kinema-models: GluonCV's action-recognition models (and torchvision's video ResNets) on burn.
//!
//! - [`registry`]: the table of model names (one row each: family, classes, input, published
//!   weights); [`get_model`] builds one by name.
//! - [`models`]: the families, one file each, each an [`arch::Architecture`]; [`Net`] holds
//!   any of them.
//! - [`layers`]: what the families are built of.
//! - [`engine`]: the CPU eval engine (each family's forward as a graph, lowered to oneDNN).
//! - [`weights`]: GluonCV `.params`, PyTorch `.pth` and safetensors files; [`store`]: where
//!   pretrained weights are found and how they are downloaded.
//! - [`Model`]: a network with its [`ModelCard`] (classes, [`ClipSpec`]), what inference runs.

// `unsafe` lives in the FFI crate (kinema-dnnl), not here.
#![forbid(unsafe_code)]

pub mod arch;
pub mod card;
mod default;
mod device;
pub mod engine;
mod error;
pub mod layers;
mod model;
pub mod models;
mod net;
pub mod registry;
pub mod store;
pub mod weights;
mod zoo;

pub use card::ModelCard;
pub use default::{DEFAULT_MODEL, DEFAULT_SOURCE, DEFAULT_WEIGHTS};
pub use device::device_by_name;
pub use error::{ModelError, Result};
pub use kinema_data::ClipSpec;
pub use model::{CpuEngine, Model, ModelSource};
pub use net::{is_pth, Net};
pub use registry::{models, spec, Family, ModelSpec};
pub use zoo::{get_model, GetModelOptions};
