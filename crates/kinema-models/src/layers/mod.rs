//! Layers burn does not have: 3-D pooling, non-local blocks, Inception blocks (v1 and v3, 2-D
//! and 3-D). Each is tested against an independent plain-loop reference.

mod batchnorm;
mod consensus;
mod fused;
pub mod inception;
mod init;
mod nonlocal;
pub mod onednn;
mod pool;

pub use batchnorm::{forward_bn, forward_bn_add, forward_bn_relu, fused_batchnorm_seconds};
pub use consensus::{check_clips, video_pool};
pub use fused::{conv_bn2d, conv_bn3d, finish};
pub use init::{bn3d, conv3d};
pub use nonlocal::NonLocal;
pub use onednn::{forward_conv2d, forward_conv3d, onednn_conv_seconds};
pub use pool::{avg_pool3d, max_pool3d, Pool3d};
