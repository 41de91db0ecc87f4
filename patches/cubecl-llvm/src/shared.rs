//! The LLVM compiler's types, with no LLVM behind them.

pub mod lowered_features;

use crate::nvptx::ptx_version::PtxVersion;
use crate::target::LlvmTarget;
use cubecl_core::ir::nvidia::SmArch;
use cubecl_core::prelude::KernelDefinition;
use cubecl_environment::backtrace::BackTrace;
use cubecl_runtime::compiler::CompilationError;
use cubecl_runtime::kernel::BufferIOAttr;

/// The LLVM kernel compiler. In this build it refuses every kernel: see [`Self::compile`].
#[derive(Clone, Debug, Default)]
pub struct PlironCompiler {
    /// The target it would compile for.
    pub target: LlvmTarget,
}

/// An AMD GPU architecture (the AMD target is not built here).
#[derive(Clone, Debug)]
pub struct GfxArch(pub String);

/// The LLVM compiler's options, as cubecl-cuda fills them.
#[derive(Clone, Debug, Default)]
pub struct PlironOptions {
    /// Minimum CPU buffer alignment.
    pub cpu_buffer_alignment: Option<u32>,
    /// AMD GPU architecture.
    pub arch: Option<GfxArch>,
    /// NVIDIA architecture.
    pub sm_arch: Option<SmArch>,
    /// PTX version to emit.
    pub ptx_version: Option<PtxVersion>,
    /// Scalars in the kernel parameter block.
    pub grid_constants: bool,
}

/// A PTX module the LLVM compiler made (never, in this build).
#[derive(Clone, Debug)]
pub struct NvptxModule {
    /// NUL-terminated PTX.
    pub ptx: Vec<core::ffi::c_char>,
    /// Kernel entry point.
    pub entrypoint: String,
    /// IR, for logs and cache keys.
    pub ir: String,
    /// Shared memory a launch needs, in bytes.
    pub shared_memory_size: usize,
    /// What the kernel does with each buffer.
    pub io: Vec<BufferIOAttr>,
}

/// What the LLVM compiler produces.
#[derive(Clone, Debug)]
pub enum PlironArtifact {
    /// A PTX module.
    NvptxCode(NvptxModule),
}

impl PlironCompiler {
    /// Refuses `kernel`: LLVM is not in this build. cubecl-cuda reaches this only when its
    /// default backend is LLVM, i.e. when the `cpp` feature that kinema turns on is off.
    pub fn compile(
        &mut self,
        kernel: KernelDefinition,
        _options: &PlironOptions,
    ) -> Result<PlironArtifact, CompilationError> {
        drop(kernel);
        Err(CompilationError::Generic {
            reason: "this build has no LLVM kernel compiler (kinema compiles CUDA kernels with \
                     NVRTC: build with cubecl-cuda's `cpp` feature, as kinema's `cuda` feature does)"
                .to_string(),
            backtrace: BackTrace::capture(),
        })
    }

    /// The language the compiler would produce.
    pub fn lang_tag(&self) -> &'static str {
        match self.target {
            LlvmTarget::Cpu => "mlir",
            LlvmTarget::Nvptx => "llvm",
        }
    }
}
