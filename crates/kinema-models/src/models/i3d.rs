//! I3D with a ResNet V1 trunk (GluonCV's `I3D_ResNetV1`): 2-D ResNet kernels inflated in time
//! where `inflate_freq` says (`3x1x1`: the first 1x1 becomes 3x1x1; `3x3x3`: the 3x3 becomes
//! 3x3x3), a 5x7x7 stem with temporal stride 2, a temporal max pool after the first stage, global
//! average pooling, segment/crop averaging and one dense layer. Field names follow GluonCV's
//! structural names (`first_stage.0.weight`, `res_layers.1.0.conv1.weight`, `fc.weight`).

use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{Graph, PoolKind, Val, Window};
use crate::error::{ModelError, Result};
use crate::layers::{bn3d, check_clips, conv3d, conv_bn3d, finish, forward_conv3d, max_pool3d, video_pool};
use crate::layers::{NonLocal, Pool3d};
use crate::weights::{pytorch_name, KeyFn, NamedTensor};

/// How a 2-D bottleneck is inflated to 3-D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inflate {
    /// `conv1` becomes 3x1x1 (GluonCV's default).
    T3x1x1,
    /// `conv2` becomes 3x3x3.
    T3x3x3,
}

/// GluonCV's `I3D_ResNetV1` arguments.
#[derive(Debug, Clone)]
pub struct I3dConfig {
    /// 50 or 101 (bottleneck trunks).
    pub depth: usize,
    /// Temporal kernel of the stem convolution.
    pub conv1_kernel_t: usize,
    /// Temporal stride of the stem convolution.
    pub conv1_stride_t: usize,
    /// Temporal kernel of the stem max pool.
    pub pool1_kernel_t: usize,
    /// Temporal stride of the stem max pool.
    pub pool1_stride_t: usize,
    /// Per stage, per block: inflate this block.
    pub inflate: Vec<Vec<bool>>,
    /// Inflation style.
    pub inflate_style: Inflate,
    /// Per stage, per block: a non-local block after this block (empty: none).
    pub nonlocal: Vec<Vec<bool>>,
    /// Spatial stride of each stage's first block.
    pub spatial_strides: [usize; 4],
    /// Temporal stride of each stage's first block.
    pub temporal_strides: [usize; 4],
    /// A 2x1x1 temporal max pool after the first stage (`I3D_ResNetV1`'s `pool2`; the slow-only
    /// `i3d_slow` models have none).
    pub temporal_pool: bool,
    /// Classes.
    pub nclass: usize,
    /// Clips averaged per video (`num_segments * num_crop`).
    pub num_segments: usize,
}

impl I3dConfig {
    /// GluonCV's `i3d_nl{5,10}_resnet{50,101}_v1_*` settings: non-local blocks in stages 2
    /// and 3 (5 or 10 of them).
    pub fn nonlocal_resnet_v1(depth: usize, blocks: usize, nclass: usize) -> Result<I3dConfig> {
        let mut c = I3dConfig::resnet_v1(depth, nclass)?;
        let every = |n: usize, k: usize, from: usize| {
            (0..n)
                .map(|i| i >= from && (i - from).is_multiple_of(k))
                .collect::<Vec<_>>()
        };
        let (s2, s3) = match (depth, blocks) {
            (50, 5) => (every(4, 2, 1), every(6, 2, 1)),
            (50, 10) => (vec![true; 4], vec![true; 6]),
            (101, 5) => (
                every(4, 2, 1),
                (0..23).map(|i| i == 6 || i == 13 || i == 20).collect(),
            ),
            (101, 10) => (vec![true; 4], every(23, 4, 2)),
            _ => {
                return Err(ModelError::InvalidOption(format!(
                    "non-local I3D: {blocks} blocks on ResNet-{depth} (GluonCV has 5 or 10 on 50/101)"
                )))
            }
        };
        c.nonlocal = vec![vec![false; 3], s2, s3, vec![false; 3]];
        Ok(c)
    }

    /// GluonCV's `i3d_resnet{50,101}_v1_*` settings.
    pub fn resnet_v1(depth: usize, nclass: usize) -> Result<I3dConfig> {
        let alt = |n: usize| (0..n).map(|i| i % 2 == 0).collect::<Vec<_>>();
        let stage3 = match depth {
            50 => alt(6),
            101 => alt(23),
            d => {
                return Err(ModelError::InvalidOption(format!(
                    "I3D ResNet depth {d}: expected 50 or 101"
                )))
            }
        };
        Ok(I3dConfig {
            depth,
            conv1_kernel_t: 5,
            conv1_stride_t: 2,
            pool1_kernel_t: 1,
            pool1_stride_t: 2,
            inflate: vec![vec![true; 3], alt(4), stage3, vec![false, true, false]],
            inflate_style: Inflate::T3x1x1,
            nonlocal: Vec::new(),
            spatial_strides: [1, 2, 2, 2],
            temporal_strides: [1, 1, 1, 1],
            temporal_pool: true,
            nclass,
            num_segments: 1,
        })
    }

    /// GluonCV's slow-only I3D (`i3d_slow_resnet*`, its `ResNet_SlowFast` without the fast
    /// path): a 1x7x7 stem, no temporal pooling or striding anywhere, stages 3 and 4 inflated
    /// 3x1x1 in every block.
    pub fn slow_resnet(depth: usize, nclass: usize) -> Result<I3dConfig> {
        let mut c = I3dConfig::resnet_v1(depth, nclass)?;
        let (blocks, _) = crate::models::resnet::layout(depth)?;
        c.conv1_kernel_t = 1;
        c.conv1_stride_t = 1;
        c.pool1_kernel_t = 1;
        c.pool1_stride_t = 1;
        c.inflate = blocks.iter().enumerate().map(|(i, &n)| vec![i >= 2; n]).collect();
        c.temporal_pool = false;
        Ok(c)
    }
}

/// A 3-D bottleneck (GluonCV's `Bottleneck` in `i3d_resnet.py`).
#[derive(Module, Debug)]
pub struct Bottleneck3d {
    conv1: Conv3d,
    bn1: BatchNorm,
    conv2: Conv3d,
    bn2: BatchNorm,
    conv3: Conv3d,
    bn3: BatchNorm,
    downsample: Option<(Conv3d, BatchNorm)>,
    nonlocal_block: Option<NonLocal>,
}

impl Bottleneck3d {
    #[allow(clippy::too_many_arguments)]
    fn new(
        cin: usize,
        planes: usize,
        ss: usize,
        ts: usize,
        inflate: bool,
        style: Inflate,
        dev: &Device,
    ) -> Self {
        let cout = planes * 4;
        let (conv1, conv2) = match (inflate, style) {
            (true, Inflate::T3x1x1) => (
                conv3d(cin, planes, [3, 1, 1], [1, 1, 1], [1, 0, 0], dev),
                conv3d(planes, planes, [1, 3, 3], [ts, ss, ss], [0, 1, 1], dev),
            ),
            (true, Inflate::T3x3x3) => (
                conv3d(cin, planes, [1, 1, 1], [1, 1, 1], [0, 0, 0], dev),
                conv3d(planes, planes, [3, 3, 3], [ts, ss, ss], [1, 1, 1], dev),
            ),
            // Not inflated: GluonCV drops the temporal stride here.
            (false, _) => (
                conv3d(cin, planes, [1, 1, 1], [1, 1, 1], [0, 0, 0], dev),
                conv3d(planes, planes, [1, 3, 3], [1, ss, ss], [0, 1, 1], dev),
            ),
        };
        let downsample = (ss != 1 || cin != cout).then(|| {
            (
                conv3d(cin, cout, [1, 1, 1], [ts, ss, ss], [0, 0, 0], dev),
                bn3d(cout, dev),
            )
        });
        Bottleneck3d {
            conv1,
            bn1: bn3d(planes, dev),
            conv2,
            bn2: bn3d(planes, dev),
            conv3: conv3d(planes, cout, [1, 1, 1], [1, 1, 1], [0, 0, 0], dev),
            bn3: bn3d(cout, dev),
            downsample,
            nonlocal_block: None,
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let identity = match &self.downsample {
            Some((c, b)) => conv_bn3d(c, Some(b), false, x.clone()),
            None => x.clone(),
        };
        let out = conv_bn3d(&self.conv1, Some(&self.bn1), true, x);
        let out = conv_bn3d(&self.conv2, Some(&self.bn2), true, out);
        let out = finish(
            forward_conv3d(&self.conv3, out),
            Some(&self.bn3),
            true,
            Some(identity),
        );
        match &self.nonlocal_block {
            Some(nl) => nl.forward(out),
            None => out,
        }
    }
}

impl Bottleneck3d {
    /// [`forward`](Self::forward) as graph operations; `p` is the block's parameter path.
    fn lower(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val> {
        let y = g.bottleneck(
            p,
            [
                (&self.conv1, &self.bn1),
                (&self.conv2, &self.bn2),
                (&self.conv3, &self.bn3),
            ],
            &self.downsample,
            x,
        )?;
        match &self.nonlocal_block {
            Some(nl) => nl.lower(g, &format!("{p}.nonlocal_block"), y),
            None => Ok(y),
        }
    }
}

/// I3D ResNet V1.
#[derive(Module, Debug)]
pub struct I3dResNet {
    first_stage: (Conv3d, BatchNorm),
    res_layers: Vec<Vec<Bottleneck3d>>,
    fc: Linear,
    pool1: [usize; 2],
    stem_t: [usize; 2],
    temporal_pool: bool,
    /// Channels of the pooled features.
    pub feat_dim: usize,
    /// Clips averaged per video.
    pub num_segments: usize,
}

impl I3dResNet {
    /// Builds the network `c` describes.
    pub fn new(c: &I3dConfig, dev: &Device) -> Result<I3dResNet> {
        let (blocks, bottleneck) = crate::models::resnet::layout(c.depth)?;
        if !bottleneck {
            return Err(ModelError::InvalidOption(format!(
                "I3D ResNet-{}: GluonCV has only bottleneck trunks",
                c.depth
            )));
        }
        for (i, (f, &n)) in c.inflate.iter().zip(&blocks).enumerate() {
            if f.len() != n || c.nonlocal.get(i).is_some_and(|nl| nl.len() != n) {
                return Err(ModelError::InvalidOption(format!(
                    "inflate_freq of stage {i} has {} entries for {n} blocks",
                    f.len()
                )));
            }
        }
        let kt = c.conv1_kernel_t;
        let first_stage = (
            conv3d(
                3,
                64,
                [kt, 7, 7],
                [c.conv1_stride_t, 2, 2],
                [(kt - 1) / 2, 3, 3],
                dev,
            ),
            bn3d(64, dev),
        );
        let mut cin = 64;
        let mut res_layers = Vec::new();
        for (i, &n) in blocks.iter().enumerate() {
            let planes = 64 << i;
            let stage = (0..n)
                .map(|b| {
                    let (ss, ts) = if b == 0 {
                        (c.spatial_strides[i], c.temporal_strides[i])
                    } else {
                        (1, 1)
                    };
                    let mut block =
                        Bottleneck3d::new(cin, planes, ss, ts, c.inflate[i][b], c.inflate_style, dev);
                    if c.nonlocal.get(i).and_then(|s| s.get(b)).copied().unwrap_or(false) {
                        block.nonlocal_block = Some(NonLocal::new(planes * 4, dev));
                    }
                    cin = planes * 4;
                    block
                })
                .collect();
            res_layers.push(stage);
        }
        Ok(I3dResNet {
            first_stage,
            res_layers,
            fc: LinearConfig::new(cin, c.nclass).init(dev),
            pool1: [c.pool1_kernel_t, c.pool1_stride_t],
            stem_t: [c.conv1_kernel_t, c.conv1_stride_t],
            temporal_pool: c.temporal_pool,
            feat_dim: cin,
            num_segments: c.num_segments.max(1),
        })
    }

    /// Fewest frames a clip may have: the temporal max pool after the first stage (if any)
    /// needs two.
    pub fn min_frames(&self) -> usize {
        let need = if self.temporal_pool { 2 } else { 1 };
        let (kt, st) = (self.stem_t[0], self.stem_t[1]);
        let [pk, ps] = self.pool1;
        (1..=1024)
            .find(|&t| {
                let t1 = (t + 2 * ((kt - 1) / 2)).checked_sub(kt).map(|v| v / st + 1);
                let t2 = t1.and_then(|t1| (t1 + 2 * (pk / 2)).checked_sub(pk).map(|v| v / ps + 1));
                t2.is_some_and(|t2| t2 >= need)
            })
            .unwrap_or(usize::MAX)
    }

    /// `[N * clips, 3, T, H, W]` -> clip-averaged pooled features `[N, feat_dim]`.
    pub fn features(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        let [clips, _, t, _, _] = x.dims();
        if t < self.min_frames() {
            return Err(ModelError::InvalidOption(format!(
                "clips of {t} frames are too short for this I3D: it needs at least {}",
                self.min_frames()
            )));
        }
        check_clips(clips, self.num_segments)?;
        let (conv, norm) = &self.first_stage;
        let x = conv_bn3d(conv, Some(norm), true, x);
        let [k, s] = self.pool1;
        let mut x = max_pool3d(x, Pool3d::new([k, 3, 3], [s, 2, 2]).with_padding([k / 2, 1, 1]));
        for (i, stage) in self.res_layers.iter().enumerate() {
            for b in stage {
                x = b.forward(x);
            }
            if i == 0 && self.temporal_pool {
                x = max_pool3d(x, Pool3d::new([2, 1, 1], [2, 1, 1]));
            }
        }
        Ok(video_pool(x, self.num_segments))
    }

    /// `[N * clips, 3, T, H, W]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        Ok(self.fc.forward(self.features(x)?))
    }
}

impl Architecture for I3dResNet {
    forward_of_rank!(5);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        let s = g.shape(x).to_vec();
        if s[2] < self.min_frames() {
            return Err(ModelError::InvalidOption(format!(
                "clips of {} frames are too short for this I3D: it needs at least {}",
                s[2],
                self.min_frames()
            )));
        }
        check_clips(s[0], self.num_segments)?;
        let (conv, norm) = &self.first_stage;
        let x = g.conv("first_stage.0", conv, Some(norm), true, None, x)?;
        let [k, st] = self.pool1;
        let w = Window {
            kernel: vec![k, 3, 3],
            stride: vec![st, 2, 2],
            pad: vec![k / 2, 1, 1],
            ceil: false,
        };
        let mut x = g.pool("pool1", PoolKind::Max, &w, x)?;
        for (i, stage) in self.res_layers.iter().enumerate() {
            for (b, block) in stage.iter().enumerate() {
                x = block.lower(g, &format!("res_layers.{i}.{b}"), x)?;
            }
            if i == 0 && self.temporal_pool {
                let w = Window {
                    kernel: vec![2, 1, 1],
                    stride: vec![2, 1, 1],
                    pad: vec![0; 3],
                    ceil: false,
                };
                x = g.pool("pool2", PoolKind::Max, &w, x)?;
            }
        }
        g.video_head(x, self.num_segments, "fc", &self.fc, features)
    }

    /// GluonCV (MXNet and PyTorch port alike) names the non-local block's `W` in capitals.
    fn gluon_key(path: &str) -> String {
        path.replace(".nonlocal_block.w.", ".nonlocal_block.W.")
    }

    /// GluonCV's PyTorch port names the slow I3D's modules as torchvision's ResNet does (told
    /// apart by its `conv1` where the other I3Ds have `first_stage.0`).
    fn torch_key(tensors: &[NamedTensor]) -> KeyFn {
        let has = |k: &str| tensors.iter().any(|t| t.name == k);
        if has("conv1.weight") && !has("first_stage.0.weight") {
            torch_slow_i3d_key
        } else {
            |p| Self::gluon_key(&pytorch_name(p))
        }
    }
}

/// The slow I3D (`i3d_slow_*`) in GluonCV's PyTorch port names its stem `conv1`/`bn1` and its
/// stages `layer1`..`layer4`, where kinema (and GluonCV's MXNet model) have `first_stage.0`,
/// `first_stage.1` and `res_layers.0`..`res_layers.3`.
fn torch_slow_i3d_key(path: &str) -> String {
    let p = pytorch_name(path);
    if let Some(rest) = p.strip_prefix("first_stage.0.") {
        return format!("conv1.{rest}");
    }
    if let Some(rest) = p.strip_prefix("first_stage.1.") {
        return format!("bn1.{rest}");
    }
    if let Some((stage, rest)) = p.strip_prefix("res_layers.").and_then(|r| r.split_once('.')) {
        if let Ok(i) = stage.parse::<usize>() {
            return format!("layer{}.{rest}", i + 1);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gluoncv_torch_port_names_of_the_slow_i3d() {
        assert_eq!(torch_slow_i3d_key("first_stage.0.weight"), "conv1.weight");
        assert_eq!(torch_slow_i3d_key("first_stage.1.gamma"), "bn1.weight");
        assert_eq!(torch_slow_i3d_key("res_layers.3.2.bn3.beta"), "layer4.2.bn3.bias");
        assert_eq!(
            torch_slow_i3d_key("res_layers.0.0.downsample.1.running_mean"),
            "layer1.0.downsample.1.running_mean"
        );
        assert_eq!(torch_slow_i3d_key("fc.weight"), "fc.weight");
        assert_eq!(
            I3dResNet::gluon_key("res_layers.1.1.nonlocal_block.w.weight"),
            "res_layers.1.1.nonlocal_block.W.weight"
        );
    }
}
