//! Weight files: MXNet `.params` (parsed here), PyTorch `.pth` and safetensors.

mod params;

pub use params::{parse_params, read_params, NamedTensor};
