//! The CPU eval engine: a model's forward described once as a [`Graph`] of layer-level
//! operations (each family's [`crate::arch::Architecture::lower`]), lowered to oneDNN
//! primitives for one input shape ([`Plan`]).

pub mod graph;
pub mod plan;

pub use graph::{
    batchnorm_affine, downsample_of, Chain, ConvLayer, Graph, LowerBlock, LowerConv, PoolKind, Val, Window,
};
pub use plan::{PackedWeights, Plan};

/// The instruction set oneDNN uses on this CPU and its version, for benchmarks and logs
/// (`avx2`, `avx512_core`, `avx512_core_amx`...; an error when oneDNN cannot be loaded).
pub fn cpu_isa() -> Result<(String, String), kinema_dnnl::DnnlError> {
    let isa = kinema_dnnl::effective_isa()?;
    let (a, b, c) = kinema_dnnl::version()?;
    Ok((isa.to_string(), format!("{a}.{b}.{c}")))
}

/// Sets oneDNN's thread count (its OpenMP threads), to match rayon's.
pub fn set_threads(n: usize) -> Result<(), kinema_dnnl::DnnlError> {
    kinema_dnnl::set_num_threads(n)
}
