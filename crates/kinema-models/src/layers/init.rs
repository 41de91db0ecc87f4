//! Layer constructors with MXNet's defaults, shared by the 3-D families.

use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig3d};
use burn::tensor::Device;

/// A bias-free 3-D convolution with symmetric padding.
pub fn conv3d(cin: usize, cout: usize, k: [usize; 3], s: [usize; 3], p: [usize; 3], dev: &Device) -> Conv3d {
    Conv3dConfig::new([cin, cout], k)
        .with_stride(s)
        .with_padding(PaddingConfig3d::Explicit(p[0], p[1], p[2]))
        .with_bias(false)
        .init(dev)
}

/// MXNet's BatchNorm (epsilon 1e-5).
pub fn bn3d(c: usize, dev: &Device) -> BatchNorm {
    BatchNormConfig::new(c).with_epsilon(1e-5).init(dev)
}
