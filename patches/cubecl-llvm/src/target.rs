//! The targets the LLVM backend compiles for.

/// Where an LLVM-compiled kernel runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LlvmTarget {
    /// The host CPU.
    #[default]
    Cpu,
    /// NVIDIA GPUs, through PTX.
    Nvptx,
}
