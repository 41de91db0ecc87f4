//! The Inception families: TSN on GoogLeNet (GluonCV's `ActionRecInceptionV1`) and on
//! Inception v3 (`ActionRecInceptionV3`), and their I3D inflations (`I3D_InceptionV1`,
//! `I3D_InceptionV3`). Blocks and paths: [`crate::layers::inception`]; BatchNorm epsilon 1e-3
//! throughout. Parameter names are GluonCV's once the enum variant names are dropped
//! (`inception3a.0.0.0.weight`, `features.16.1.1.0.0.0.weight`, `output.weight`).
//!
//! TSN: frames `[N * segments, 3, H, W]` through the backbone, a fixed average pool (7x7 after
//! GoogLeNet, 8x8 after Inception v3) that must leave 1x1 (GluonCV reshapes its output to
//! `(-1, segments, channels)`: a larger map would fold positions into the batch, so other sizes
//! are rejected), the mean over the segments, one dense layer. I3D: clips `[N * clips, 3, T, H,
//! W]`, global average pooling, the mean over the clips, one dense layer.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv3d};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{Graph, Val};
use crate::error::{ModelError, Result};
use crate::layers::inception::{
    gluon_path, inception_a, inception_b, inception_c, inception_d, inception_e, lower_layers, mixed,
    out_size, ConvNd, Layer, Window,
};
use crate::layers::{check_clips, video_pool};

/// GoogLeNet's Inception modules: GluonCV name, input channels, branch widths (see
/// [`mixed`]).
const GOOGLENET: [(&str, usize, [usize; 6]); 9] = [
    ("3a", 192, [64, 96, 128, 16, 32, 32]),
    ("3b", 256, [128, 128, 192, 32, 96, 64]),
    ("4a", 480, [192, 96, 208, 16, 48, 64]),
    ("4b", 512, [160, 112, 224, 24, 64, 64]),
    ("4c", 512, [128, 128, 256, 24, 64, 64]),
    ("4d", 512, [112, 144, 288, 32, 64, 64]),
    ("4e", 528, [256, 160, 320, 32, 128, 128]),
    ("5a", 832, [256, 160, 320, 32, 128, 128]),
    ("5b", 832, [384, 192, 384, 48, 128, 128]),
];

fn googlenet_block<C: ConvNd>(i: usize, dev: &Device) -> Layer<C> {
    let (_, cin, c) = GOOGLENET[i];
    mixed(cin, c, dev).0
}

fn max_pool<C: ConvNd>(kernel: [usize; 3], stride: [usize; 3], padding: [usize; 3]) -> Layer<C> {
    Layer::MaxPool(Window::new(kernel, stride, padding))
}

/// The Inception v3 trunk (`Inception3.features` up to the last E block, `features.0` to
/// `features.17`), 2-D or 3-D: 2048 channels out. The stem's max pools keep the frame rate (3x3x3,
/// stride 1x2x2, one frame of temporal padding in 3-D); every other window is the 2-D one
/// inflated.
fn inception_v3_trunk<C: ConvNd>(dev: &Device) -> Vec<Layer<C>> {
    let conv = |cin, cout, k, s, p| Layer::basic_conv(cin, cout, Window::inflated([k, k], s, [p, p]), dev);
    let pool = || max_pool([3, 3, 3], [1, 2, 2], [1, 0, 0]);
    vec![
        conv(3, 32, 3, 2, 0),
        conv(32, 32, 3, 1, 0),
        conv(32, 64, 3, 1, 1),
        pool(),
        conv(64, 80, 1, 1, 0),
        conv(80, 192, 3, 1, 0),
        pool(),
        inception_a(192, 32, dev).0,
        inception_a(256, 64, dev).0,
        inception_a(288, 64, dev).0,
        inception_b(288, dev).0,
        inception_c(768, 128, dev).0,
        inception_c(768, 160, dev).0,
        inception_c(768, 160, dev).0,
        inception_c(768, 192, dev).0,
        inception_d(768, dev).0,
        inception_e(1280, dev).0,
        inception_e(2048, dev).0,
    ]
}

/// The smallest and largest square frame side `fits` accepts among 1..=2048 (an interval: every
/// size map is monotone).
fn side_range(fits: impl Fn(usize) -> bool) -> Option<(usize, usize)> {
    let lo = (1..=2048).find(|&s| fits(s))?;
    let hi = (lo..=2048).take_while(|&s| fits(s)).last()?;
    Some((lo, hi))
}

/// TSN segment consensus: `[N * segments, C, 1, 1]` -> the mean over each video's segments
/// `[N, C]`.
fn segment_mean(x: Tensor<4>, segments: usize) -> Tensor<2> {
    let [frames, c, _, _] = x.dims();
    x.reshape([frames / segments, segments, c])
        .mean_dim(1)
        .reshape([frames / segments, c])
}

fn check_segments(frames: usize, segments: usize) -> Result<()> {
    if !frames.is_multiple_of(segments) {
        return Err(ModelError::InvalidOption(format!(
            "{frames} frames do not split into videos of {segments} segments"
        )));
    }
    Ok(())
}

/// TSN on GoogLeNet with BatchNorm (`inceptionv1_*`). Its stem's max pools round up
/// (`ceil_mode`); the final 7x7 average pool takes 223..=446 px frames to 1x1.
#[derive(Module, Debug)]
pub struct TsnInceptionV1 {
    conv1: Layer<Conv2d>,
    maxpool1: Layer<Conv2d>,
    conv2: Layer<Conv2d>,
    conv3: Layer<Conv2d>,
    maxpool2: Layer<Conv2d>,
    inception3a: Layer<Conv2d>,
    inception3b: Layer<Conv2d>,
    maxpool3: Layer<Conv2d>,
    inception4a: Layer<Conv2d>,
    inception4b: Layer<Conv2d>,
    inception4c: Layer<Conv2d>,
    inception4d: Layer<Conv2d>,
    inception4e: Layer<Conv2d>,
    maxpool4: Layer<Conv2d>,
    inception5a: Layer<Conv2d>,
    inception5b: Layer<Conv2d>,
    avgpool: Layer<Conv2d>,
    output: Linear,
    /// Frames per video: segments x crops.
    pub num_segments: usize,
}

impl TsnInceptionV1 {
    /// Channels of the pooled features.
    pub const FEAT_DIM: usize = 1024;

    /// With `nclass` outputs, averaging `num_segments` frames per video.
    pub fn new(nclass: usize, num_segments: usize, dev: &Device) -> TsnInceptionV1 {
        let conv =
            |cin, cout, k, s, p| Layer::basic_conv(cin, cout, Window::inflated([k, k], s, [p, p]), dev);
        let ceil_pool = || Layer::MaxPool(Window::new([1, 3, 3], [1, 2, 2], [0, 0, 0]).ceil());
        let block = |i| googlenet_block(i, dev);
        TsnInceptionV1 {
            conv1: conv(3, 64, 7, 2, 3),
            maxpool1: ceil_pool(),
            conv2: conv(64, 64, 1, 1, 0),
            conv3: conv(64, 192, 3, 1, 1),
            maxpool2: ceil_pool(),
            inception3a: block(0),
            inception3b: block(1),
            maxpool3: ceil_pool(),
            inception4a: block(2),
            inception4b: block(3),
            inception4c: block(4),
            inception4d: block(5),
            inception4e: block(6),
            maxpool4: max_pool([1, 2, 2], [1, 2, 2], [0, 0, 0]),
            inception5a: block(7),
            inception5b: block(8),
            avgpool: Layer::AvgPool(Window::new([1, 7, 7], [1, 7, 7], [0, 0, 0])),
            output: LinearConfig::new(Self::FEAT_DIM, nclass).init(dev),
            num_segments: num_segments.max(1),
        }
    }

    fn layers(&self) -> [&Layer<Conv2d>; 17] {
        [
            &self.conv1,
            &self.maxpool1,
            &self.conv2,
            &self.conv3,
            &self.maxpool2,
            &self.inception3a,
            &self.inception3b,
            &self.maxpool3,
            &self.inception4a,
            &self.inception4b,
            &self.inception4c,
            &self.inception4d,
            &self.inception4e,
            &self.maxpool4,
            &self.inception5a,
            &self.inception5b,
            &self.avgpool,
        ]
    }

    /// Smallest and largest frame side the model takes.
    pub fn side_range(&self) -> (usize, usize) {
        side_range(|s| out_size(&self.layers(), [1, s, s]) == Some([1, 1, 1])).unwrap_or((0, 0))
    }

    /// `[N * segments, 3, H, W]` -> segment-averaged pooled features `[N, 1024]`.
    fn check_input(&self, [frames, _, h, w]: [usize; 4]) -> Result<()> {
        check_segments(frames, self.num_segments)?;
        if out_size(&self.layers(), [1, h, w]) != Some([1, 1, 1]) {
            let (lo, hi) = self.side_range();
            return Err(ModelError::InvalidOption(format!(
                "TSN InceptionV1 takes frames of {lo}..={hi} px (its 7x7 average pool must leave 1x1), not {h} x {w}"
            )));
        }
        Ok(())
    }

    pub fn features(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        self.check_input(x.dims())?;
        let x = self.layers().iter().fold(x, |x, l| l.forward(x));
        Ok(segment_mean(x, self.num_segments))
    }

    /// `[N * segments, 3, H, W]` -> logits `[N, nclass]` (dropout is the identity in eval).
    pub fn forward(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.output.forward(self.features(x)?))
    }
}

/// TSN on Inception v3 (`inceptionv3_*`): `features.0`..`features.17`, then an 8x8 average pool
/// (`features.18`) that takes 299..=554 px frames to 1x1.
#[derive(Module, Debug)]
pub struct TsnInceptionV3 {
    features: Vec<Layer<Conv2d>>,
    output: Linear,
    /// Frames per video: segments x crops.
    pub num_segments: usize,
}

impl TsnInceptionV3 {
    /// Channels of the pooled features.
    pub const FEAT_DIM: usize = 2048;

    /// With `nclass` outputs, averaging `num_segments` frames per video.
    pub fn new(nclass: usize, num_segments: usize, dev: &Device) -> TsnInceptionV3 {
        let mut features = inception_v3_trunk::<Conv2d>(dev);
        features.push(Layer::AvgPool(Window::new([1, 8, 8], [1, 8, 8], [0, 0, 0])));
        TsnInceptionV3 {
            features,
            output: LinearConfig::new(Self::FEAT_DIM, nclass).init(dev),
            num_segments: num_segments.max(1),
        }
    }

    fn fits(&self, h: usize, w: usize) -> bool {
        out_size(&self.features.iter().collect::<Vec<_>>(), [1, h, w]) == Some([1, 1, 1])
    }

    /// Smallest and largest frame side the model takes.
    pub fn side_range(&self) -> (usize, usize) {
        side_range(|s| self.fits(s, s)).unwrap_or((0, 0))
    }

    /// `[N * segments, 3, H, W]` -> segment-averaged pooled features `[N, 2048]`.
    fn check_input(&self, [frames, _, h, w]: [usize; 4]) -> Result<()> {
        check_segments(frames, self.num_segments)?;
        if !self.fits(h, w) {
            let (lo, hi) = self.side_range();
            return Err(ModelError::InvalidOption(format!(
                "TSN InceptionV3 takes frames of {lo}..={hi} px (its 8x8 average pool must leave 1x1), not {h} x {w}"
            )));
        }
        Ok(())
    }

    pub fn features(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        self.check_input(x.dims())?;
        let x = self.features.iter().fold(x, |x, l| l.forward(x));
        Ok(segment_mean(x, self.num_segments))
    }

    /// `[N * segments, 3, H, W]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.output.forward(self.features(x)?))
    }
}

/// I3D on GoogLeNet (`i3d_inceptionv1_*`, 1024 features) or Inception v3
/// (`i3d_inceptionv3_*`, 2048): `features.*`, global average pooling, `output` (GluonCV's file
/// also lists it as `head.1`, an alias).
#[derive(Module, Debug)]
pub struct I3dInception {
    features: Vec<Layer<Conv3d>>,
    output: Linear,
    /// 1 (GoogLeNet) or 3.
    pub version: usize,
    /// Channels of the pooled features.
    pub feat_dim: usize,
    /// Clips averaged per video.
    pub num_segments: usize,
}

impl I3dInception {
    /// I3D Inception `version` (1 or 3) with `nclass` outputs, averaging `num_segments` clips.
    pub fn new(version: usize, nclass: usize, num_segments: usize, dev: &Device) -> Result<I3dInception> {
        let (features, feat_dim) = match version {
            1 => {
                let conv =
                    |cin, cout, k, p| Layer::basic_conv(cin, cout, Window::inflated([k, k], 1, [p, p]), dev);
                // No rounding up here, unlike the 2-D GoogLeNet: the stem pools are padded.
                let spatial_pool = || max_pool([1, 3, 3], [1, 2, 2], [0, 1, 1]);
                let block = |i| googlenet_block(i, dev);
                let features = vec![
                    Layer::basic_conv(3, 64, Window::inflated([7, 7], 2, [3, 3]), dev),
                    spatial_pool(),
                    conv(64, 64, 1, 0),
                    conv(64, 192, 3, 1),
                    spatial_pool(),
                    block(0),
                    block(1),
                    max_pool([3, 3, 3], [2, 2, 2], [1, 1, 1]),
                    block(2),
                    block(3),
                    block(4),
                    block(5),
                    block(6),
                    max_pool([2, 2, 2], [2, 2, 2], [0, 0, 0]),
                    block(7),
                    block(8),
                ];
                (features, 1024)
            }
            3 => (inception_v3_trunk::<Conv3d>(dev), 2048),
            v => {
                return Err(ModelError::InvalidOption(format!(
                    "I3D Inception v{v}: GluonCV has v1 and v3"
                )))
            }
        };
        Ok(I3dInception {
            features,
            output: LinearConfig::new(feat_dim, nclass).init(dev),
            version,
            feat_dim,
            num_segments: num_segments.max(1),
        })
    }

    fn fits(&self, size: [usize; 3]) -> bool {
        out_size(&self.features.iter().collect::<Vec<_>>(), size).is_some()
    }

    /// Fewest frames (of large frames) and smallest frame side (of long clips) a clip may have.
    pub fn min_clip(&self) -> (usize, usize) {
        let frames = (1..=256).find(|&t| self.fits([t, 512, 512])).unwrap_or(0);
        let side = (1..=512).find(|&s| self.fits([256, s, s])).unwrap_or(0);
        (frames, side)
    }

    /// `[N * clips, 3, T, H, W]` -> clip-averaged pooled features `[N, feat_dim]`.
    fn check_input(&self, [clips, _, t, h, w]: [usize; 5]) -> Result<()> {
        check_clips(clips, self.num_segments)?;
        if !self.fits([t, h, w]) {
            let (frames, side) = self.min_clip();
            return Err(ModelError::InvalidOption(format!(
                "a {t} x {h} x {w} clip is too small for I3D InceptionV{}: the smallest it takes is {frames} x {side} x {side} (T x H x W)",
                self.version
            )));
        }
        Ok(())
    }

    pub fn features(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        self.check_input(x.dims())?;
        let x = self.features.iter().fold(x, |x, l| l.forward(x));
        Ok(video_pool(x, self.num_segments))
    }

    /// `[N * clips, 3, T, H, W]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        Ok(self.output.forward(self.features(x)?))
    }
}

/// `shape` as the fixed array a family's input check takes.
fn dims<const D: usize>(shape: &[usize]) -> Result<[usize; D]> {
    shape
        .try_into()
        .map_err(|_| ModelError::InvalidOption(format!("input shape {shape:?}: expected {D} dimensions")))
}

/// A TSN Inception head on the backbone's 1x1 map: the mean over the segments, `output`.
fn tsn_head(g: &mut Graph, x: Val, segments: usize, output: &Linear, features: bool) -> Result<Val> {
    let s = g.shape(x).to_vec();
    let x = g.reshape(x, &s[..2])?;
    let f = g.segment_mean(x, segments)?;
    if features {
        return Ok(f);
    }
    g.linear("output", output, false, f)
}

const LAYER_NAMES_V1: [&str; 17] = [
    "conv1",
    "maxpool1",
    "conv2",
    "conv3",
    "maxpool2",
    "inception3a",
    "inception3b",
    "maxpool3",
    "inception4a",
    "inception4b",
    "inception4c",
    "inception4d",
    "inception4e",
    "maxpool4",
    "inception5a",
    "inception5b",
    "avgpool",
];

fn numbered<'a, C>(prefix: &str, layers: &'a [Layer<C>]) -> Vec<(String, &'a Layer<C>)> {
    layers
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("{prefix}.{i}"), l))
        .collect()
}

impl Architecture for TsnInceptionV1 {
    forward_of_rank!(4);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        self.check_input(dims(g.shape(x))?)?;
        let layers: Vec<(String, &Layer<Conv2d>)> = LAYER_NAMES_V1
            .iter()
            .map(|n| n.to_string())
            .zip(self.layers())
            .collect();
        let x = lower_layers(g, &layers, x)?;
        tsn_head(g, x, self.num_segments, &self.output, features)
    }

    fn gluon_key(path: &str) -> String {
        gluon_path(path)
    }
}

impl Architecture for TsnInceptionV3 {
    forward_of_rank!(4);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        self.check_input(dims(g.shape(x))?)?;
        let x = lower_layers(g, &numbered("features", &self.features), x)?;
        tsn_head(g, x, self.num_segments, &self.output, features)
    }

    fn gluon_key(path: &str) -> String {
        gluon_path(path)
    }
}

impl Architecture for I3dInception {
    forward_of_rank!(5);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        self.check_input(dims(g.shape(x))?)?;
        let x = lower_layers(g, &numbered("features", &self.features), x)?;
        g.video_head(x, self.num_segments, "output", &self.output, features)
    }

    fn gluon_key(path: &str) -> String {
        gluon_path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input sizes GluonCV's models accept (measured with MXNet: 223..=446 and 299..=554 px
    /// for TSN, 5 frames of 17 px and 1 frame of 75 px for I3D).
    #[test]
    fn accepted_sizes_are_gluoncvs() {
        let dev = Device::flex();
        assert_eq!(TsnInceptionV1::new(3, 1, &dev).side_range(), (223, 446));
        assert_eq!(TsnInceptionV3::new(3, 1, &dev).side_range(), (299, 554));
        assert_eq!(I3dInception::new(1, 3, 1, &dev).unwrap().min_clip(), (5, 17));
        assert_eq!(I3dInception::new(3, 3, 1, &dev).unwrap().min_clip(), (1, 75));
    }
}
