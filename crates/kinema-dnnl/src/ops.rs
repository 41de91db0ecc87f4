//! Memory descriptors and primitive descriptors: the part of the C API that oneDNN 3.x
//! changed. 2.x (Debian 12) initialises an operation descriptor and then a primitive
//! descriptor from it, and a memory descriptor is a plain struct; 3.x creates the primitive
//! descriptor in one call per operation and holds memory descriptors as handles. `v2.rs` and
//! `v3.rs` have one body each for every function here; the build picks the one matching the
//! installed headers (`cfg(dnnl_v3)`).

#[cfg_attr(dnnl_v3, path = "ops/v3.rs")]
#[cfg_attr(not(dnnl_v3), path = "ops/v2.rs")]
mod api;

pub use api::*;
pub(crate) use api::{append_eltwise, append_sum, query_md};

/// A convolution's descriptors and geometry (per spatial dimension).
#[derive(Debug)]
pub struct ConvParams<'a> {
    /// Source (`Layout::Any` lets the implementation pick).
    pub src: &'a MemoryDesc,
    /// Weights `[O, I, k...]` or, grouped, `[G, O/G, I/G, k...]`.
    pub weights: &'a MemoryDesc,
    /// Bias `[O]`.
    pub bias: Option<&'a MemoryDesc>,
    /// Destination.
    pub dst: &'a MemoryDesc,
    /// Strides.
    pub strides: &'a [usize],
    /// Dilations as PyTorch counts them (1 = none).
    pub dilation: &'a [usize],
    /// Padding before.
    pub pad_l: &'a [usize],
    /// Padding after.
    pub pad_r: &'a [usize],
}

/// A pooling algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolAlg {
    /// Maximum.
    Max,
    /// Average, padding counted.
    AvgIncludePad,
    /// Average over the real values only.
    AvgExcludePad,
}

/// A pooling's geometry (per spatial dimension).
#[derive(Debug)]
pub struct PoolParams<'a> {
    /// Algorithm.
    pub alg: PoolAlg,
    /// Window.
    pub kernel: &'a [usize],
    /// Strides.
    pub strides: &'a [usize],
    /// Padding before.
    pub pad_l: &'a [usize],
    /// Padding after (more than before for ceil-mode pooling).
    pub pad_r: &'a [usize],
}
