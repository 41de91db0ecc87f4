//! Layers burn does not have: 3-D pooling (and, later, non-local blocks, SlowFast laterals,
//! Inception blocks). Each is tested against an independent plain-loop reference.

mod consensus;
mod nonlocal;
mod pool;

pub use consensus::{check_clips, video_pool};
pub use nonlocal::NonLocal;
pub use pool::{avg_pool3d, max_pool3d, Pool3d};
