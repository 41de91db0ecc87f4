//! torchvision's video ResNets (`torchvision.models.video.resnet`): `r3d_18` (3x3x3
//! convolutions), `mc3_18` (3x3x3 in the stem and `layer1`, 1x3x3 after) and `r2plus1d_18`
//! (torchvision's `Conv2Plus1D`: 1x3x3 to `midplanes`, BatchNorm, ReLU, 3x1x1), as torchvision
//! builds them. They are not GluonCV's R(2+1)D ([`crate::r2plus1d`]): torchvision's stem is a
//! 3x7x7 convolution to 64 channels (r3d, mc3) or 1x7x7 to 45 then 3x1x1 to 64 (r2plus1d), its
//! downsampling is 1x1x1 with the block's stride (1x2x2 where the block has no temporal kernel),
//! and every BatchNorm is PyTorch's (epsilon 1e-5).
//!
//! Module paths are torchvision's state-dict keys: `stem.0.weight`, `layer1.0.conv1.0.weight`
//! (r3d, mc3) or `layer1.0.conv1.0.0.weight` / `.0.1.` / `.0.3.` (r2plus1d), `downsample.0.`,
//! `fc.weight`: tuples index like `nn.Sequential`, with a parameter-free [`Relu`] where
//! torchvision has its `ReLU`, so the indices line up. Only BatchNorm's `weight`/`bias` are
//! burn's `gamma`/`beta` (the `.pth` loader maps them).

use burn::module::{
    Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor,
};
use burn::nn::conv::Conv3d;
use burn::nn::{BatchNorm, Linear, LinearConfig, Relu};
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{downsample_of, Graph, LowerBlock, LowerConv, Val};
use crate::error::{ModelError, Result};
use crate::layers::{bn3d, conv3d, forward_bn, forward_bn_add, forward_bn_relu, forward_conv3d};
use crate::layers::{check_clips, conv_bn3d, video_pool};

/// Which of torchvision's three video ResNet-18s (serialized as torchvision's builder name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum VideoArch {
    /// `r3d_18`: 3x3x3 convolutions throughout.
    #[serde(rename = "r3d_18")]
    R3d,
    /// `mc3_18`: mixed convolutions, 3x3x3 in `layer1`, 1x3x3 in `layer2` to `layer4`.
    #[serde(rename = "mc3_18")]
    Mc3,
    /// `r2plus1d_18`: every 3x3x3 convolution factored into 1x3x3 and 3x1x1.
    #[serde(rename = "r2plus1d_18")]
    R2Plus1d,
}

/// torchvision's `conv_makers`: what a block's 3-D convolutions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConvMaker {
    /// `Conv3DSimple`.
    Simple,
    /// `Conv3DNoTemporal`.
    NoTemporal,
    /// `Conv2Plus1D`.
    TwoPlusOne,
}

impl ConvMaker {
    fn build(self, cin: usize, cout: usize, mid: usize, stride: usize, dev: &Device) -> SpatioTemporalConv {
        match self {
            ConvMaker::Simple => {
                SpatioTemporalConv::Full(conv3d(cin, cout, [3, 3, 3], [stride; 3], [1, 1, 1], dev))
            }
            ConvMaker::NoTemporal => {
                SpatioTemporalConv::Full(conv3d(cin, cout, [1, 3, 3], [1, stride, stride], [0, 1, 1], dev))
            }
            ConvMaker::TwoPlusOne => SpatioTemporalConv::Factored((
                conv3d(cin, mid, [1, 3, 3], [1, stride, stride], [0, 1, 1], dev),
                bn3d(mid, dev),
                Relu,
                conv3d(mid, cout, [3, 1, 1], [stride, 1, 1], [1, 0, 0], dev),
            )),
        }
    }

    /// torchvision's `get_downsample_stride`.
    fn downsample_stride(self, stride: usize) -> [usize; 3] {
        match self {
            ConvMaker::NoTemporal => [1, stride, stride],
            ConvMaker::Simple | ConvMaker::TwoPlusOne => [stride; 3],
        }
    }
}

/// A block's 3-D convolution: one `Conv3d` (`Conv3DSimple`, `Conv3DNoTemporal`) or
/// `Conv2Plus1D`'s `(Conv3d, BatchNorm3d, ReLU, Conv3d)`.
///
/// Its [`Module`] impl is written out, not derived, because it must not add a path segment:
/// torchvision keeps either kind at the same key (`conv1.0.weight` or `conv1.0.0.weight`), and
/// a derived enum would insert the variant's name.
// Two per block, 16 in a net: the variants' size difference costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum SpatioTemporalConv {
    /// A single 3-D convolution.
    Full(Conv3d),
    /// torchvision's `Conv2Plus1D`.
    Factored((Conv3d, BatchNorm, Relu, Conv3d)),
}

impl LowerConv for SpatioTemporalConv {
    fn lower_conv(
        &self,
        g: &mut Graph,
        name: &str,
        bn: Option<&BatchNorm>,
        relu: bool,
        residual: Option<Val>,
        x: Val,
    ) -> Result<Val> {
        match self {
            SpatioTemporalConv::Full(c) => g.conv(name, c, bn, relu, residual, x),
            SpatioTemporalConv::Factored((spatial, mid, _, temporal)) => {
                let y = g.conv(&format!("{name}.0"), spatial, Some(mid), true, None, x)?;
                g.conv(&format!("{name}.3"), temporal, bn, relu, residual, y)
            }
        }
    }
}

impl SpatioTemporalConv {
    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            SpatioTemporalConv::Full(c) => forward_conv3d(c, x),
            SpatioTemporalConv::Factored((spatial, bn, _, temporal)) => {
                forward_conv3d(temporal, forward_bn_relu(bn, forward_conv3d(spatial, x)))
            }
        }
    }
}

/// Applies `$body` to whichever module the enum holds, rebuilding the same variant.
macro_rules! each_conv {
    ($self:expr, $m:ident => $body:expr) => {
        match $self {
            SpatioTemporalConv::Full($m) => SpatioTemporalConv::Full($body),
            SpatioTemporalConv::Factored($m) => SpatioTemporalConv::Factored($body),
        }
    };
}

impl Module for SpatioTemporalConv {
    fn collect_devices(&self, devices: Devices) -> Devices {
        match self {
            SpatioTemporalConv::Full(m) => m.collect_devices(devices),
            SpatioTemporalConv::Factored(m) => m.collect_devices(devices),
        }
    }

    fn fork(self, device: &Device) -> Self {
        each_conv!(self, m => m.fork(device))
    }

    fn to_device(self, device: &Device) -> Self {
        each_conv!(self, m => m.to_device(device))
    }

    fn train(self) -> Self {
        each_conv!(self, m => m.train())
    }

    fn valid(&self) -> Self {
        each_conv!(self, m => m.valid())
    }

    fn materialize(self) -> Self {
        each_conv!(self, m => m.materialize())
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        match self {
            SpatioTemporalConv::Full(m) => m.visit(visitor),
            SpatioTemporalConv::Factored(m) => m.visit(visitor),
        }
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        each_conv!(self, m => m.map(mapper))
    }
}

impl ModuleDisplayDefault for SpatioTemporalConv {
    fn content(&self, content: Content) -> Option<Content> {
        match self {
            SpatioTemporalConv::Full(m) => m.content(content),
            SpatioTemporalConv::Factored(m) => m.content(content),
        }
    }
}

impl ModuleDisplay for SpatioTemporalConv {}

/// torchvision's `BasicBlock`: `conv1` = (conv, BN, ReLU), `conv2` = (conv, BN), the
/// residual through `downsample` = (1x1x1 conv, BN) where the shape changes.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: (SpatioTemporalConv, BatchNorm, Relu),
    conv2: (SpatioTemporalConv, BatchNorm),
    downsample: Option<(Conv3d, BatchNorm)>,
}

impl BasicBlock {
    fn new(cin: usize, planes: usize, stride: usize, maker: ConvMaker, dev: &Device) -> BasicBlock {
        // torchvision's midplanes: the (2+1)D pair has the 3x3x3 kernel's parameter count,
        // from the block's input width, for both of its convolutions.
        let mid = (cin * planes * 27) / (cin * 9 + 3 * planes);
        let downsample = (stride != 1 || cin != planes).then(|| {
            (
                conv3d(
                    cin,
                    planes,
                    [1, 1, 1],
                    maker.downsample_stride(stride),
                    [0, 0, 0],
                    dev,
                ),
                bn3d(planes, dev),
            )
        });
        BasicBlock {
            conv1: (
                maker.build(cin, planes, mid, stride, dev),
                bn3d(planes, dev),
                Relu,
            ),
            conv2: (maker.build(planes, planes, mid, 1, dev), bn3d(planes, dev)),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let residual = match &self.downsample {
            Some((c, b)) => forward_bn(b, forward_conv3d(c, x.clone())),
            None => x.clone(),
        };
        let out = forward_bn_relu(&self.conv1.1, self.conv1.0.forward(x));
        forward_bn_add(&self.conv2.1, self.conv2.0.forward(out), residual, true)
    }
}

impl LowerBlock for BasicBlock {
    fn lower_block(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val> {
        let ds = downsample_of(&self.downsample);
        let chain: [(&str, &dyn LowerConv, &BatchNorm); 2] = [
            ("conv1.0", &self.conv1.0, &self.conv1.1),
            ("conv2.0", &self.conv2.0, &self.conv2.1),
        ];
        g.residual_block(p, &chain, ds, x)
    }
}

/// torchvision's `VideoResNet` with `BasicBlock`s, `[2, 2, 2, 2]` per stage (the 18-layer
/// nets).
#[derive(Module, Debug)]
pub struct VideoResNet {
    /// `BasicStem` (conv, BN, ReLU) or `R2Plus1dStem` (conv, BN, ReLU, conv, BN, ReLU; the
    /// second pair only there).
    stem: (Conv3d, BatchNorm, Relu, Option<Conv3d>, Option<BatchNorm>),
    layer1: Vec<BasicBlock>,
    layer2: Vec<BasicBlock>,
    layer3: Vec<BasicBlock>,
    layer4: Vec<BasicBlock>,
    fc: Linear,
    /// Channels of the pooled features (512).
    pub feat_dim: usize,
    /// Clips averaged per video.
    pub num_segments: usize,
}

impl VideoResNet {
    /// torchvision's `arch` 18-layer net with `nclass` outputs, averaging `num_segments` clips
    /// per video.
    pub fn new(arch: VideoArch, nclass: usize, num_segments: usize, dev: &Device) -> Result<VideoResNet> {
        if nclass == 0 {
            return Err(ModelError::InvalidOption(
                "video ResNet nclass must be at least 1".into(),
            ));
        }
        let makers = match arch {
            VideoArch::R3d => [ConvMaker::Simple; 4],
            VideoArch::Mc3 => [
                ConvMaker::Simple,
                ConvMaker::NoTemporal,
                ConvMaker::NoTemporal,
                ConvMaker::NoTemporal,
            ],
            VideoArch::R2Plus1d => [ConvMaker::TwoPlusOne; 4],
        };
        let stem = match arch {
            VideoArch::R3d | VideoArch::Mc3 => (
                conv3d(3, 64, [3, 7, 7], [1, 2, 2], [1, 3, 3], dev),
                bn3d(64, dev),
                Relu,
                None,
                None,
            ),
            VideoArch::R2Plus1d => (
                conv3d(3, 45, [1, 7, 7], [1, 2, 2], [0, 3, 3], dev),
                bn3d(45, dev),
                Relu,
                Some(conv3d(45, 64, [3, 1, 1], [1, 1, 1], [1, 0, 0], dev)),
                Some(bn3d(64, dev)),
            ),
        };
        let mut cin = 64;
        let mut stage = |planes: usize, stride: usize, maker: ConvMaker| -> Vec<BasicBlock> {
            let first = BasicBlock::new(cin, planes, stride, maker, dev);
            cin = planes;
            vec![first, BasicBlock::new(planes, planes, 1, maker, dev)]
        };
        let layer1 = stage(64, 1, makers[0]);
        let layer2 = stage(128, 2, makers[1]);
        let layer3 = stage(256, 2, makers[2]);
        let layer4 = stage(512, 2, makers[3]);
        Ok(VideoResNet {
            stem,
            layer1,
            layer2,
            layer3,
            layer4,
            fc: LinearConfig::new(512, nclass).init(dev),
            feat_dim: 512,
            num_segments: num_segments.max(1),
        })
    }

    /// `[N * clips, 3, T, H, W]` -> clip-averaged pooled features `[N, 512]` (the input of
    /// `fc`: torchvision's `avgpool` output, flattened).
    pub fn features(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        let [clips, _, _, _, _] = x.dims();
        check_clips(clips, self.num_segments)?;
        let (c1, b1, _, c2, b2) = &self.stem;
        let mut x = conv_bn3d(c1, Some(b1), true, x);
        if let (Some(c2), Some(b2)) = (c2, b2) {
            x = conv_bn3d(c2, Some(b2), true, x);
        }
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

impl Architecture for VideoResNet {
    forward_of_rank!(5);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        check_clips(g.shape(x)[0], self.num_segments)?;
        let (c1, b1, _, c2, b2) = &self.stem;
        let mut x = g.conv("stem.0", c1, Some(b1), true, None, x)?;
        if let (Some(c2), Some(b2)) = (c2, b2) {
            x = g.conv("stem.3", c2, Some(b2), true, None, x)?;
        }
        x = g.layers(&[&self.layer1, &self.layer2, &self.layer3, &self.layer4], x)?;
        g.video_head(x, self.num_segments, "fc", &self.fc, features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::parameter_names;

    /// Parameter paths and shapes are torchvision's state-dict keys (BatchNorm's `weight` and
    /// `bias` as burn's `gamma`/`beta`), with torchvision's parameter counts (`num_params` of
    /// its weight enums, which count BatchNorm's affine but not its running statistics).
    #[test]
    fn paths_shapes_and_counts_are_torchvisions() {
        let dev = Device::flex();
        for (arch, count, keys) in [
            (
                VideoArch::R3d,
                33_371_472,
                &[
                    ("stem.0.weight", &[64usize, 3, 3, 7, 7][..]),
                    ("layer1.0.conv1.0.weight", &[64, 64, 3, 3, 3]),
                    ("layer2.0.downsample.0.weight", &[128, 64, 1, 1, 1]),
                ][..],
            ),
            (
                VideoArch::Mc3,
                11_695_440,
                &[
                    ("layer2.0.conv1.0.weight", &[128usize, 64, 1, 3, 3][..]),
                    ("layer1.1.conv2.1.gamma", &[64]),
                ][..],
            ),
            (
                VideoArch::R2Plus1d,
                31_505_325,
                &[
                    ("stem.0.weight", &[45usize, 3, 1, 7, 7][..]),
                    ("stem.3.weight", &[64, 45, 3, 1, 1]),
                    ("stem.4.running_var", &[64]),
                    // midplanes (64 * 64 * 27) / (64 * 9 + 3 * 64) = 144
                    ("layer1.0.conv1.0.0.weight", &[144, 64, 1, 3, 3]),
                    ("layer1.0.conv1.0.1.beta", &[144]),
                    ("layer1.0.conv1.0.3.weight", &[64, 144, 3, 1, 1]),
                    // (64 * 128 * 27) / (64 * 9 + 3 * 128) = 230, used by conv2 too
                    ("layer2.0.conv2.0.0.weight", &[230, 128, 1, 3, 3]),
                    ("fc.weight", &[512, 400]),
                ][..],
            ),
        ] {
            let m = VideoResNet::new(arch, 400, 1, &dev).unwrap();
            let names = parameter_names(&m);
            for (k, shape) in keys {
                let found = names.iter().find(|(n, _)| n == k);
                assert_eq!(found.map(|(_, s)| s.as_slice()), Some(*shape), "{arch:?} {k}");
            }
            let affine: usize = names
                .iter()
                .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
                .map(|(_, s)| s.iter().product::<usize>())
                .sum();
            assert_eq!(affine, count, "{arch:?}");
        }
    }
}
