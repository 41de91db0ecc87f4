//! Weight files: MXNet `.params` and PyTorch `.pth` checkpoints (both parsed here), safetensors
//! (kinema's own format, and PyTorch's).

mod keys;
mod load;
mod params;
mod pickle;
mod pth;
mod safetensors;

pub use keys::{drop_torch_aliases, pytorch_name, KeyFn};
pub use load::{load_named, parameter_names};
pub use params::{parse_params, read_params, NamedTensor};
pub use pth::{parse_pth, read_pth};
pub use safetensors::{
    decode_safetensors, encode_safetensors, named_tensors, read_safetensors, write_safetensors, Metadata,
};
