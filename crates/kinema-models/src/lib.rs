//! kinema-models: GluonCV's action-recognition models (and torchvision's video ResNets) on burn.

pub mod c3d;
pub mod card;
mod default;
mod device;
mod error;
pub mod i3d;
pub mod inception;
pub mod kernels;
pub mod layers;
pub mod motion;
pub mod p3d;
pub mod r2plus1d;
pub mod registry;
pub mod resnet;
pub mod slowfast;
pub mod store;
pub mod tsn;
pub mod vgg;
pub mod video_resnet;
pub mod weights;

pub use card::{load_model_bytes, load_model_file, ClipSpec, ModelCard};
pub use default::{default_model, DEFAULT_MODEL, DEFAULT_WEIGHTS};
pub use device::device_by_name;
pub use error::{ModelError, Result};
pub use registry::{get_model, models, spec, GetModelOptions, ModelSpec, Net};
