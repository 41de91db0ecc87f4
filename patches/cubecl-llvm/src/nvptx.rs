//! NVIDIA's target.

pub mod ptx_version;
