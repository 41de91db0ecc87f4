//! Convolution + BatchNorm (+ ReLU) as the models' burn forward calls it: burn's `Conv`, then
//! `BatchNorm`, then ReLU (what training, the GPU backends and the burn engine run; the CPU
//! eval engine folds the BatchNorm into the convolution on oneDNN, [`crate::engine`]).

use burn::nn::conv::{Conv2d, Conv3d};
use burn::nn::BatchNorm;
use burn::tensor::activation::relu;
use burn::Tensor;

use super::batchnorm::{forward_bn, forward_bn_add, forward_bn_relu};
use super::onednn::{forward_conv2d, forward_conv3d};

/// `relu?(bn?(y) + residual?)`.
pub fn finish<const D: usize>(
    y: Tensor<D>,
    bn: Option<&BatchNorm>,
    apply_relu: bool,
    residual: Option<Tensor<D>>,
) -> Tensor<D> {
    let y = match (bn, residual) {
        // BatchNorm, the residual sum and the ReLU as one operation.
        (Some(bn), Some(r)) => return forward_bn_add(bn, y, r, apply_relu),
        (Some(bn), None) if apply_relu => return forward_bn_relu(bn, y),
        (Some(bn), None) => forward_bn(bn, y),
        (None, Some(r)) => y + r,
        (None, None) => y,
    };
    if apply_relu {
        relu(y)
    } else {
        y
    }
}

/// `relu?(bn?(conv(x)))` for a 3-D convolution.
pub fn conv_bn3d(conv: &Conv3d, bn: Option<&BatchNorm>, apply_relu: bool, x: Tensor<5>) -> Tensor<5> {
    finish(forward_conv3d(conv, x), bn, apply_relu, None)
}

/// `relu?(bn?(conv(x)))` for a 2-D convolution.
pub fn conv_bn2d(conv: &Conv2d, bn: Option<&BatchNorm>, apply_relu: bool, x: Tensor<4>) -> Tensor<4> {
    finish(forward_conv2d(conv, x), bn, apply_relu, None)
}
