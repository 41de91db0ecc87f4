//! Weight files: MXNet `.params` (parsed here), PyTorch `.pth` and safetensors.

mod load;
mod params;

pub use load::{load_named, parameter_names};
pub use params::{parse_params, read_params, NamedTensor};
