//! Narrowing a device's advertised features to what the LLVM backend lowers.

use cubecl_core::ir::DeviceProperties;

/// The GPU target a device's features would be narrowed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuTarget {
    /// NVIDIA, through PTX.
    Nvptx,
}

/// Leaves `props` as they are. cubecl-cuda calls this only when its default backend is LLVM,
/// and in this build that backend refuses every kernel, so no advertised feature is ever lowered
/// by it: there is nothing to narrow.
pub fn restrict_features(_props: &mut DeviceProperties, _target: GpuTarget) {}
