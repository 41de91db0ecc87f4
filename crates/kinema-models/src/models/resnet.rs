//! ResNet V1b (GluonCV's `resnetv1b`: stride in the 3x3 convolution of the bottleneck), 2-D,
//! the backbone of the TSN models. Field names follow GluonCV's structural parameter names
//! (`layer1.0.conv1.weight`, `layer1.0.downsample.0.weight`, `bn1.running_mean`...), so weight
//! files map one to one.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::Device;
use burn::Tensor;

use crate::engine::{downsample_of, Graph, LowerBlock, PoolKind, Val, Window};
use crate::error::{ModelError, Result};
use crate::layers::{conv_bn2d, finish, forward_conv2d};

fn conv(cin: usize, cout: usize, k: usize, stride: usize, pad: usize, dev: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .init(dev)
}

fn bn(c: usize, dev: &Device) -> BatchNorm {
    // MXNet's BatchNorm epsilon.
    BatchNormConfig::new(c).with_epsilon(1e-5).init(dev)
}

/// `BasicBlockV1b` (ResNet-18/34) or `BottleneckV1b` (50/101/152).
#[derive(Module, Debug)]
pub struct Block {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Option<Conv2d>,
    bn3: Option<BatchNorm>,
    downsample: Option<(Conv2d, BatchNorm)>,
}

impl Block {
    fn new(cin: usize, planes: usize, stride: usize, bottleneck: bool, dev: &Device) -> Block {
        let cout = if bottleneck { planes * 4 } else { planes };
        let downsample =
            (stride != 1 || cin != cout).then(|| (conv(cin, cout, 1, stride, 0, dev), bn(cout, dev)));
        if bottleneck {
            Block {
                conv1: conv(cin, planes, 1, 1, 0, dev),
                bn1: bn(planes, dev),
                conv2: conv(planes, planes, 3, stride, 1, dev),
                bn2: bn(planes, dev),
                conv3: Some(conv(planes, cout, 1, 1, 0, dev)),
                bn3: Some(bn(cout, dev)),
                downsample,
            }
        } else {
            Block {
                conv1: conv(cin, planes, 3, stride, 1, dev),
                bn1: bn(planes, dev),
                conv2: conv(planes, planes, 3, 1, 1, dev),
                bn2: bn(planes, dev),
                conv3: None,
                bn3: None,
                downsample,
            }
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let residual = match &self.downsample {
            Some((c, b)) => conv_bn2d(c, Some(b), false, x.clone()),
            None => x.clone(),
        };
        let out = conv_bn2d(&self.conv1, Some(&self.bn1), true, x);
        // The last convolution's BatchNorm, residual sum and ReLU as one operation.
        let (out, bn) = match (&self.conv3, &self.bn3) {
            (Some(c3), Some(b3)) => {
                let out = conv_bn2d(&self.conv2, Some(&self.bn2), true, out);
                (forward_conv2d(c3, out), b3)
            }
            _ => (forward_conv2d(&self.conv2, out), &self.bn2),
        };
        finish(out, Some(bn), true, Some(residual))
    }
}

impl LowerBlock for Block {
    fn lower_block(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val> {
        let ds = downsample_of(&self.downsample);
        match (&self.conv3, &self.bn3) {
            (Some(c3), Some(b3)) => g.residual_block(
                p,
                &[
                    ("conv1", &self.conv1, &self.bn1),
                    ("conv2", &self.conv2, &self.bn2),
                    ("conv3", c3, b3),
                ],
                ds,
                x,
            ),
            _ => g.residual_block(
                p,
                &[
                    ("conv1", &self.conv1, &self.bn1),
                    ("conv2", &self.conv2, &self.bn2),
                ],
                ds,
                x,
            ),
        }
    }
}

/// The ResNet V1b trunk up to global average pooling.
#[derive(Module, Debug)]
pub struct ResNetV1b {
    conv1: Conv2d,
    bn1: BatchNorm,
    layer1: Vec<Block>,
    layer2: Vec<Block>,
    layer3: Vec<Block>,
    layer4: Vec<Block>,
    /// Channels of the pooled features.
    pub feat_dim: usize,
}

/// Blocks per stage and whether they are bottlenecks, by depth.
pub fn layout(depth: usize) -> Result<([usize; 4], bool)> {
    Ok(match depth {
        18 => ([2, 2, 2, 2], false),
        34 => ([3, 4, 6, 3], false),
        50 => ([3, 4, 6, 3], true),
        101 => ([3, 4, 23, 3], true),
        152 => ([3, 8, 36, 3], true),
        d => {
            return Err(ModelError::InvalidOption(format!(
                "ResNet depth {d}: expected 18, 34, 50, 101 or 152"
            )))
        }
    })
}

impl ResNetV1b {
    /// ResNet-`depth` V1b on `dev`.
    pub fn new(depth: usize, dev: &Device) -> Result<ResNetV1b> {
        let (blocks, bottleneck) = layout(depth)?;
        let expansion = if bottleneck { 4 } else { 1 };
        let mut cin = 64;
        let mut stage = |planes: usize, n: usize, stride: usize| -> Vec<Block> {
            (0..n)
                .map(|i| {
                    let b = Block::new(cin, planes, if i == 0 { stride } else { 1 }, bottleneck, dev);
                    cin = planes * expansion;
                    b
                })
                .collect()
        };
        let layer1 = stage(64, blocks[0], 1);
        let layer2 = stage(128, blocks[1], 2);
        let layer3 = stage(256, blocks[2], 2);
        let layer4 = stage(512, blocks[3], 2);
        Ok(ResNetV1b {
            conv1: conv(3, 64, 7, 2, 3, dev),
            bn1: bn(64, dev),
            layer1,
            layer2,
            layer3,
            layer4,
            feat_dim: 512 * expansion,
        })
    }

    /// [`features`](Self::features) as graph operations.
    pub fn lower(&self, g: &mut Graph, x: Val) -> Result<Val> {
        let x = g.conv("conv1", &self.conv1, Some(&self.bn1), true, None, x)?;
        let w = Window {
            kernel: vec![3, 3],
            stride: vec![2, 2],
            pad: vec![1, 1],
            ceil: false,
        };
        let x = g.pool("maxpool", PoolKind::Max, &w, x)?;
        let x = g.layers(&[&self.layer1, &self.layer2, &self.layer3, &self.layer4], x)?;
        let x = g.global_avg_pool(x)?;
        let n = g.shape(x)[0];
        g.reshape(x, &[n, self.feat_dim])
    }

    /// `[N, 3, H, W]` -> pooled features `[N, feat_dim]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = conv_bn2d(&self.conv1, Some(&self.bn1), true, x);
        let mut x = max_pool2d(
            x,
            MaxPoolOptions::new([3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1]),
        );
        for stage in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            for b in stage {
                x = b.forward(x);
            }
        }
        let [n, c, _, _] = x.dims();
        x.mean_dims(&[2, 3]).reshape([n, c])
    }
}
