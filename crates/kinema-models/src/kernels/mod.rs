//! kinema's own CPU kernels for eval-mode inference, each next to the plain-loop reference it
//! is tested against.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod buffers;
pub mod conv;
pub mod direct;
mod epilogue;
pub mod pool;
