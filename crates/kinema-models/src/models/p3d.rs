//! P3D, Pseudo-3D ResNet (GluonCV's `P3D`, Qiu et al., ICCV 2017): a 1x7x7 stem and a 2x3x3 max
//! pool with stride 2 in time too; layer1..layer3 of 3-D bottlenecks whose 3x3 is split into a
//! 1x3x3 spatial (`conv2`) and a 3x1x1 temporal (`conv_temporal`) convolution, combined as
//! design A (in series), B (in parallel) or C (series plus a shortcut), cycling A, B, C over the
//! blocks of the network; a 2x1x1 temporal max pool after each of these layers. Then the one
//! frame left is dropped, layer4 runs as a 2-D ResNet, and global average pooling, the mean over
//! the clips and `fc` follow. The stride of a downsampling block sits on its first 1x1
//! convolution. BatchNorm epsilon 1e-5. Field names are GluonCV's (`layer2.0.conv_temporal.weight`,
//! `layer4.0.downsample.0.weight`, `fc.weight`).
//!
//! GluonCV folds the frames left after layer3 into the batch with a raw reshape (`(-1, 0, 1, 0,
//! 0)`), which scrambles channels and time unless exactly one frame is left: clips must have
//! 16..=31 frames; other lengths are rejected.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, Conv3d};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{Graph, PoolKind, Val, Window};
use crate::error::{ModelError, Result};
use crate::layers::{
    bn3d, conv3d, forward_bn, forward_bn_add, forward_bn_relu, forward_conv2d, forward_conv3d,
};
use crate::layers::{check_clips, max_pool3d, Pool3d};

/// How a 3-D block combines its spatial (S) and temporal (T) convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Design {
    /// T after S.
    A,
    /// S and T side by side on the same input, summed.
    B,
    /// T after S, plus S.
    C,
}

/// A P3D bottleneck with 3-D convolutions.
#[derive(Module, Debug)]
pub struct Block3d {
    conv1: Conv3d,
    bn1: BatchNorm,
    conv2: Conv3d,
    bn2: BatchNorm,
    conv_temporal: Conv3d,
    bn_temporal: BatchNorm,
    conv3: Conv3d,
    bn3: BatchNorm,
    downsample: Option<(Conv3d, BatchNorm)>,
    #[module(skip)]
    design: Design,
}

impl Block3d {
    fn new(
        cin: usize,
        planes: usize,
        stride: usize,
        downsample: bool,
        design: Design,
        dev: &Device,
    ) -> Block3d {
        let s = [1, stride, stride];
        Block3d {
            conv1: conv3d(cin, planes, [1, 1, 1], s, [0, 0, 0], dev),
            bn1: bn3d(planes, dev),
            conv2: conv3d(planes, planes, [1, 3, 3], [1, 1, 1], [0, 1, 1], dev),
            bn2: bn3d(planes, dev),
            conv_temporal: conv3d(planes, planes, [3, 1, 1], [1, 1, 1], [1, 0, 0], dev),
            bn_temporal: bn3d(planes, dev),
            conv3: conv3d(planes, planes * 4, [1, 1, 1], [1, 1, 1], [0, 0, 0], dev),
            bn3: bn3d(planes * 4, dev),
            downsample: downsample.then(|| {
                (
                    conv3d(cin, planes * 4, [1, 1, 1], s, [0, 0, 0], dev),
                    bn3d(planes * 4, dev),
                )
            }),
            design,
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let identity = match &self.downsample {
            Some((c, b)) => forward_bn(b, forward_conv3d(c, x.clone())),
            None => x.clone(),
        };
        let y = forward_bn_relu(&self.bn1, forward_conv3d(&self.conv1, x));
        let spatial = |y| forward_bn_relu(&self.bn2, forward_conv3d(&self.conv2, y));
        let temporal = |y| forward_bn_relu(&self.bn_temporal, forward_conv3d(&self.conv_temporal, y));
        let y = match self.design {
            Design::A => temporal(spatial(y)),
            Design::B => spatial(y.clone()) + temporal(y),
            Design::C => {
                let s = spatial(y);
                s.clone() + temporal(s)
            }
        };
        forward_bn_add(&self.bn3, forward_conv3d(&self.conv3, y), identity, true)
    }
}

impl Block3d {
    fn lower(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val> {
        let shortcut = match &self.downsample {
            Some((c, b)) => g.conv(&format!("{p}.downsample.0"), c, Some(b), false, None, x)?,
            None => x,
        };
        let y = g.conv(&format!("{p}.conv1"), &self.conv1, Some(&self.bn1), true, None, x)?;
        let (sn, tn) = (format!("{p}.conv2"), format!("{p}.conv_temporal"));
        let (t, bt) = (&self.conv_temporal, Some(&self.bn_temporal));
        let y = match self.design {
            Design::A => {
                let s = g.conv(&sn, &self.conv2, Some(&self.bn2), true, None, y)?;
                g.conv(&tn, t, bt, true, None, s)?
            }
            Design::B => {
                let s = g.conv(&sn, &self.conv2, Some(&self.bn2), true, None, y)?;
                g.conv_relu_add(&tn, t, bt, s, y)?
            }
            Design::C => {
                let s = g.conv(&sn, &self.conv2, Some(&self.bn2), true, None, y)?;
                g.conv_relu_add(&tn, t, bt, s, s)?
            }
        };
        g.conv(
            &format!("{p}.conv3"),
            &self.conv3,
            Some(&self.bn3),
            true,
            Some(shortcut),
            y,
        )
    }
}

fn conv2d(cin: usize, cout: usize, k: usize, stride: usize, pad: usize, dev: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .init(dev)
}

fn bn2d(c: usize, dev: &Device) -> BatchNorm {
    BatchNormConfig::new(c).with_epsilon(1e-5).init(dev)
}

/// A P3D bottleneck with 2-D convolutions (layer4), the stride on `conv1`.
#[derive(Module, Debug)]
pub struct Block2d {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    bn3: BatchNorm,
    downsample: Option<(Conv2d, BatchNorm)>,
}

impl Block2d {
    fn new(cin: usize, planes: usize, stride: usize, dev: &Device) -> Block2d {
        let cout = planes * 4;
        Block2d {
            conv1: conv2d(cin, planes, 1, stride, 0, dev),
            bn1: bn2d(planes, dev),
            conv2: conv2d(planes, planes, 3, 1, 1, dev),
            bn2: bn2d(planes, dev),
            conv3: conv2d(planes, cout, 1, 1, 0, dev),
            bn3: bn2d(cout, dev),
            downsample: (stride != 1 || cin != cout)
                .then(|| (conv2d(cin, cout, 1, stride, 0, dev), bn2d(cout, dev))),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some((c, b)) => forward_bn(b, forward_conv2d(c, x.clone())),
            None => x.clone(),
        };
        let y = forward_bn_relu(&self.bn1, forward_conv2d(&self.conv1, x));
        let y = forward_bn_relu(&self.bn2, forward_conv2d(&self.conv2, y));
        forward_bn_add(&self.bn3, forward_conv2d(&self.conv3, y), identity, true)
    }
}

impl Block2d {
    fn lower(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val> {
        g.bottleneck(
            p,
            [
                (&self.conv1, &self.bn1),
                (&self.conv2, &self.bn2),
                (&self.conv3, &self.bn3),
            ],
            &self.downsample,
            x,
        )
    }
}

/// P3D ResNet-50 or -101.
#[derive(Module, Debug)]
pub struct P3d {
    conv1: Conv3d,
    bn1: BatchNorm,
    layer1: Vec<Block3d>,
    layer2: Vec<Block3d>,
    layer3: Vec<Block3d>,
    layer4: Vec<Block2d>,
    fc: Linear,
    /// Clips averaged per video.
    pub num_segments: usize,
}

impl P3d {
    /// Channels of the pooled features.
    pub const FEAT_DIM: usize = 2048;
    /// Clip lengths P3D takes: one frame left after layer3's temporal pool.
    pub const FRAMES: std::ops::RangeInclusive<usize> = 16..=31;

    /// P3D ResNet-`depth` (50 or 101) with `nclass` outputs, averaging `num_segments` clips.
    pub fn new(depth: usize, nclass: usize, num_segments: usize, dev: &Device) -> Result<P3d> {
        let blocks = match depth {
            50 => [3, 4, 6, 3],
            101 => [3, 4, 23, 3],
            d => {
                return Err(ModelError::InvalidOption(format!(
                    "P3D ResNet depth {d}: GluonCV has 50 and 101"
                )))
            }
        };
        let designs = [Design::A, Design::B, Design::C];
        // the block index over the whole network picks the design
        let mut index = 0;
        let mut cin = 64;
        let mut layer = |stage: usize| -> Vec<Block3d> {
            let planes = 64 << stage;
            (0..blocks[stage])
                .map(|b| {
                    // the first block of a layer downsamples (layer1's: channels only); its
                    // stride sits on conv1, except in the network's first block
                    let down = b == 0;
                    let stride = if down && index > 0 { 2 } else { 1 };
                    let block = Block3d::new(cin, planes, stride, down, designs[index % 3], dev);
                    cin = planes * 4;
                    index += 1;
                    block
                })
                .collect()
        };
        let (layer1, layer2, layer3) = (layer(0), layer(1), layer(2));
        let layer4 = (0..blocks[3])
            .map(|b| {
                Block2d::new(
                    if b == 0 { 1024 } else { 2048 },
                    512,
                    if b == 0 { 2 } else { 1 },
                    dev,
                )
            })
            .collect();
        Ok(P3d {
            conv1: conv3d(3, 64, [1, 7, 7], [1, 2, 2], [0, 3, 3], dev),
            bn1: bn3d(64, dev),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: LinearConfig::new(Self::FEAT_DIM, nclass).init(dev),
            num_segments: num_segments.max(1),
        })
    }

    /// `[N * clips, 3, T, H, W]` (T in 16..=31) -> clip-averaged pooled features `[N, 2048]`.
    fn check_input(&self, clips: usize, t: usize) -> Result<()> {
        check_clips(clips, self.num_segments)?;
        if !Self::FRAMES.contains(&t) {
            return Err(ModelError::InvalidOption(format!(
                "P3D takes clips of 16..=31 frames (GluonCV folds the frames left after layer3 into \
                 the batch: exactly one must be left), not {t}"
            )));
        }
        Ok(())
    }

    pub fn features(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        let [clips, _, t, _, _] = x.dims();
        self.check_input(clips, t)?;
        let x = forward_bn_relu(&self.bn1, forward_conv3d(&self.conv1, x));
        let mut x = max_pool3d(x, Pool3d::new([2, 3, 3], [2, 2, 2]).with_padding([0, 1, 1]));
        for layer in [&self.layer1, &self.layer2, &self.layer3] {
            for b in layer {
                x = b.forward(x);
            }
            x = max_pool3d(x, Pool3d::new([2, 1, 1], [2, 1, 1]));
        }
        let [n, c, _, h, w] = x.dims();
        let mut x = x.reshape([n, c, h, w]);
        for b in &self.layer4 {
            x = b.forward(x);
        }
        let seg = self.num_segments;
        Ok(x.mean_dims(&[2, 3])
            .reshape([n / seg, seg, Self::FEAT_DIM])
            .mean_dim(1)
            .reshape([n / seg, Self::FEAT_DIM]))
    }

    /// `[N * clips, 3, T, H, W]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        Ok(self.fc.forward(self.features(x)?))
    }
}

impl Architecture for P3d {
    forward_of_rank!(5);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        let s = g.shape(x).to_vec();
        self.check_input(s[0], s[2])?;
        let x = g.conv("conv1", &self.conv1, Some(&self.bn1), true, None, x)?;
        let w = |k: [usize; 3], st: [usize; 3], p: [usize; 3]| Window {
            kernel: k.to_vec(),
            stride: st.to_vec(),
            pad: p.to_vec(),
            ceil: false,
        };
        let mut x = g.pool("maxpool", PoolKind::Max, &w([2, 3, 3], [2, 2, 2], [0, 1, 1]), x)?;
        for (l, layer) in [&self.layer1, &self.layer2, &self.layer3].iter().enumerate() {
            for (i, b) in layer.iter().enumerate() {
                x = b.lower(g, &format!("layer{}.{i}", l + 1), x)?;
            }
            x = g.pool(
                &format!("pool{}", l + 2),
                PoolKind::Max,
                &w([2, 1, 1], [2, 1, 1], [0; 3]),
                x,
            )?;
        }
        let [n, c, _, h, w] = g.shape(x).to_vec()[..] else {
            return Err(ModelError::InvalidOption("P3D: layer3 left no clip".into()));
        };
        let mut x = g.reshape(x, &[n, c, h, w])?;
        for (i, b) in self.layer4.iter().enumerate() {
            x = b.lower(g, &format!("layer4.{i}"), x)?;
        }
        g.video_head(x, self.num_segments, "fc", &self.fc, features)
    }
}
