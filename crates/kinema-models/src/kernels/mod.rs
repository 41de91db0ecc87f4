//! kinema's own CPU kernels for eval-mode inference, each next to the plain-loop reference it
//! is tested against.

pub mod buffers;
pub mod conv;
pub mod direct;
pub mod pool;
