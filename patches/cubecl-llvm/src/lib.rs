//! The items of cubecl-llvm 0.11.3 that cubecl-cuda 0.11.3 names, without LLVM.
//!
//! cubecl-cuda keeps two kernel compilers: CUDA C++ through NVRTC (its `cpp` feature, which kinema
//! selects) and PTX through LLVM. Only the second needs this crate's real code, and that code links
//! a static LLVM downloaded at build time from outside the package registries. Here the LLVM
//! compiler exists as a type, so cubecl-cuda compiles unchanged, and refuses every kernel with an
//! error that says why. The PTX-version table is real: the runtime reads it for every device.

pub mod nvptx;
pub mod shared;
pub mod target;

pub use shared::{NvptxModule, PlironArtifact, PlironCompiler, PlironOptions};
pub use target::LlvmTarget;
