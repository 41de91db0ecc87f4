//! R(2+1)D (GluonCV's `R2Plus1D`): every 3x3x3 convolution factored into a 1x3x3 spatial and a
//! 3x1x1 temporal one with `midplanes` channels between them, sized to keep the parameter count
//! of the 3-D kernel (`(in * out * 27) / (in * 9 + 3 * out)`, computed once per block from its
//! input width as GluonCV does). Stem: 1x7x7 to 45 channels, then 3x1x1 to 64. Field names
//! follow GluonCV's (`layer1.0.conv1.conv1.weight`, `layer1.0.downsample.0.weight`, `fc.weight`).

use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{downsample_of, Graph, LowerBlock, LowerConv, Val};
use crate::error::{ModelError, Result};
use crate::layers::{bn3d, conv3d};
use crate::layers::{check_clips, conv_bn3d, finish, forward_conv3d, video_pool};
use crate::weights::{pytorch_name, KeyFn, NamedTensor};

/// A (2+1)-D convolution: spatial conv, BN, ReLU, temporal conv.
#[derive(Module, Debug)]
pub struct Conv2Plus1d {
    conv1: Conv3d,
    bn1: BatchNorm,
    conv2: Conv3d,
}

impl Conv2Plus1d {
    fn new(cin: usize, cout: usize, mid: usize, stride: usize, dev: &Device) -> Self {
        Conv2Plus1d {
            conv1: conv3d(cin, mid, [1, 3, 3], [1, stride, stride], [0, 1, 1], dev),
            bn1: bn3d(mid, dev),
            conv2: conv3d(mid, cout, [3, 1, 1], [stride, 1, 1], [1, 0, 0], dev),
        }
    }

    /// `relu?(bn(conv2(relu(bn1(conv1(x))))) + residual?)`: the block's BatchNorm (and its
    /// residual sum) after the temporal convolution is folded into it too.
    fn forward_bn(
        &self,
        x: Tensor<5>,
        bn: &BatchNorm,
        apply_relu: bool,
        residual: Option<Tensor<5>>,
    ) -> Tensor<5> {
        let x = conv_bn3d(&self.conv1, Some(&self.bn1), true, x);
        finish(forward_conv3d(&self.conv2, x), Some(bn), apply_relu, residual)
    }
}

impl LowerConv for Conv2Plus1d {
    fn lower_conv(
        &self,
        g: &mut Graph,
        name: &str,
        bn: Option<&BatchNorm>,
        relu: bool,
        residual: Option<Val>,
        x: Val,
    ) -> Result<Val> {
        let mid = g.conv(
            &format!("{name}.conv1"),
            &self.conv1,
            Some(&self.bn1),
            true,
            None,
            x,
        )?;
        g.conv(&format!("{name}.conv2"), &self.conv2, bn, relu, residual, mid)
    }
}

/// Basic (18/34) or bottleneck (50/101/152) R(2+1)D block.
#[derive(Module, Debug)]
pub struct Block {
    conv1: Option<Conv2Plus1d>,
    conv1x1: Option<Conv3d>,
    bn1: BatchNorm,
    conv2: Conv2Plus1d,
    bn2: BatchNorm,
    conv3: Option<Conv3d>,
    bn3: Option<BatchNorm>,
    downsample: Option<(Conv3d, BatchNorm)>,
}

impl Block {
    fn new(cin: usize, planes: usize, stride: usize, bottleneck: bool, dev: &Device) -> Block {
        let cout = if bottleneck { planes * 4 } else { planes };
        let mid = (cin * planes * 27) / (cin * 9 + 3 * planes);
        let downsample = (stride != 1 || cin != cout).then(|| {
            (
                conv3d(cin, cout, [1, 1, 1], [stride; 3], [0, 0, 0], dev),
                bn3d(cout, dev),
            )
        });
        if bottleneck {
            Block {
                conv1: None,
                conv1x1: Some(conv3d(cin, planes, [1, 1, 1], [1, 1, 1], [0, 0, 0], dev)),
                bn1: bn3d(planes, dev),
                conv2: Conv2Plus1d::new(planes, planes, mid, stride, dev),
                bn2: bn3d(planes, dev),
                conv3: Some(conv3d(planes, cout, [1, 1, 1], [1, 1, 1], [0, 0, 0], dev)),
                bn3: Some(bn3d(cout, dev)),
                downsample,
            }
        } else {
            Block {
                conv1: Some(Conv2Plus1d::new(cin, planes, mid, stride, dev)),
                conv1x1: None,
                bn1: bn3d(planes, dev),
                conv2: Conv2Plus1d::new(planes, planes, mid, 1, dev),
                bn2: bn3d(planes, dev),
                conv3: None,
                bn3: None,
                downsample,
            }
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let identity = match &self.downsample {
            Some((c, b)) => conv_bn3d(c, Some(b), false, x.clone()),
            None => x.clone(),
        };
        let out = match (&self.conv1, &self.conv1x1) {
            (Some(c), _) => c.forward_bn(x, &self.bn1, true, None),
            (None, Some(c)) => conv_bn3d(c, Some(&self.bn1), true, x),
            (None, None) => unreachable!("a block has a first convolution"),
        };
        match (&self.conv3, &self.bn3) {
            (Some(c3), Some(b3)) => {
                let out = self.conv2.forward_bn(out, &self.bn2, true, None);
                finish(forward_conv3d(c3, out), Some(b3), true, Some(identity))
            }
            _ => self.conv2.forward_bn(out, &self.bn2, true, Some(identity)),
        }
    }
}

impl LowerBlock for Block {
    fn lower_block(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val> {
        let ds = downsample_of(&self.downsample);
        let first: &dyn LowerConv = match (&self.conv1, &self.conv1x1) {
            (Some(c), _) => c,
            (None, Some(c)) => c,
            (None, None) => {
                return Err(ModelError::InvalidOption(format!(
                    "{p}: a block without a first convolution"
                )))
            }
        };
        match (&self.conv3, &self.bn3) {
            (Some(c3), Some(b3)) => g.residual_block(
                p,
                &[
                    ("conv1x1", first, &self.bn1),
                    ("conv2", &self.conv2, &self.bn2),
                    ("conv3", c3, b3),
                ],
                ds,
                x,
            ),
            _ => g.residual_block(
                p,
                &[("conv1", first, &self.bn1), ("conv2", &self.conv2, &self.bn2)],
                ds,
                x,
            ),
        }
    }
}

/// R(2+1)D ResNet.
#[derive(Module, Debug)]
pub struct R2Plus1d {
    conv1: Conv3d,
    bn1: BatchNorm,
    conv2: Conv3d,
    bn2: BatchNorm,
    layer1: Vec<Block>,
    layer2: Vec<Block>,
    layer3: Vec<Block>,
    layer4: Vec<Block>,
    fc: Linear,
    /// Channels of the pooled features.
    pub feat_dim: usize,
    /// Clips averaged per video.
    pub num_segments: usize,
}

impl R2Plus1d {
    /// R(2+1)D ResNet-`depth` with `nclass` outputs (GluonCV's widths).
    pub fn new(depth: usize, nclass: usize, num_segments: usize, dev: &Device) -> Result<R2Plus1d> {
        R2Plus1d::with_width(depth, 64, nclass, num_segments, dev)
    }

    /// R(2+1)D ResNet-`depth` whose stages are `width`, 2x, 4x and 8x `width` channels wide
    /// (GluonCV's net is `width` 64; its 45-channel stem middle scales along). Depth 10 (one
    /// basic block per stage) is kinema's own, for small models.
    pub fn with_width(
        depth: usize,
        width: usize,
        nclass: usize,
        num_segments: usize,
        dev: &Device,
    ) -> Result<R2Plus1d> {
        if width == 0 || nclass == 0 {
            return Err(ModelError::InvalidOption(format!(
                "R(2+1)D width {width}, nclass {nclass}: both must be at least 1"
            )));
        }
        let (blocks, bottleneck) = match depth {
            10 => ([1, 1, 1, 1], false),
            d => crate::models::resnet::layout(d)?,
        };
        let expansion = if bottleneck { 4 } else { 1 };
        let stem_mid = (width * 45).div_ceil(64);
        let mut cin = width;
        let mut stage = |planes: usize, n: usize, stride: usize| -> Vec<Block> {
            (0..n)
                .map(|i| {
                    let b = Block::new(cin, planes, if i == 0 { stride } else { 1 }, bottleneck, dev);
                    cin = planes * expansion;
                    b
                })
                .collect()
        };
        let (layer1, layer2, layer3, layer4) = (
            stage(width, blocks[0], 1),
            stage(width * 2, blocks[1], 2),
            stage(width * 4, blocks[2], 2),
            stage(width * 8, blocks[3], 2),
        );
        let feat_dim = width * 8 * expansion;
        Ok(R2Plus1d {
            conv1: conv3d(3, stem_mid, [1, 7, 7], [1, 2, 2], [0, 3, 3], dev),
            bn1: bn3d(stem_mid, dev),
            conv2: conv3d(stem_mid, width, [3, 1, 1], [1, 1, 1], [1, 0, 0], dev),
            bn2: bn3d(width, dev),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: LinearConfig::new(feat_dim, nclass).init(dev),
            feat_dim,
            num_segments: num_segments.max(1),
        })
    }

    /// `[N * clips, 3, T, H, W]` -> clip-averaged pooled features `[N, feat_dim]`.
    pub fn features(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        let [clips, _, _, _, _] = x.dims();
        check_clips(clips, self.num_segments)?;
        let x = conv_bn3d(&self.conv1, Some(&self.bn1), true, x);
        let mut x = conv_bn3d(&self.conv2, Some(&self.bn2), true, x);
        for stage in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            for b in stage {
                x = b.forward(x);
            }
        }
        Ok(video_pool(x, self.num_segments))
    }

    /// `[N * clips, 3, T, H, W]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        Ok(self.fc.forward(self.features(x)?))
    }
}

impl Architecture for R2Plus1d {
    forward_of_rank!(5);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        check_clips(g.shape(x)[0], self.num_segments)?;
        let x = g.conv("conv1", &self.conv1, Some(&self.bn1), true, None, x)?;
        let x = g.conv("conv2", &self.conv2, Some(&self.bn2), true, None, x)?;
        let x = g.layers(&[&self.layer1, &self.layer2, &self.layer3, &self.layer4], x)?;
        g.video_head(x, self.num_segments, "fc", &self.fc, features)
    }

    /// GluonCV (MXNet and PyTorch port alike) names a bottleneck's 1x1x1 `conv1`.
    fn gluon_key(path: &str) -> String {
        path.replace(".conv1x1.", ".conv1.")
    }

    fn torch_key(_tensors: &[NamedTensor]) -> KeyFn {
        |p| Self::gluon_key(&pytorch_name(p))
    }
}
