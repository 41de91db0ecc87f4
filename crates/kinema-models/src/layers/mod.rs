//! Layers burn does not have: 3-D pooling, non-local blocks, Inception blocks (v1 and v3, 2-D
//! and 3-D). Each is tested against an independent plain-loop reference.

mod consensus;
mod fused;
pub mod inception;
mod nonlocal;
mod pool;

pub use consensus::{check_clips, video_pool};
pub use fused::{
    batchnorm_folding, conv_bn2d, conv_bn2d_act, conv_bn3d, conv_bn3d_act, residual_block,
    set_batchnorm_folding, Act, FoldConv,
};
pub use nonlocal::NonLocal;
pub use pool::{avg_pool3d, max_pool3d, Pool3d};
