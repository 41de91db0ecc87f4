//! kinema's small motion network: each frame beside its difference to the previous frame (TSN's
//! RGB-difference input, so that a static background cancels), then four 3x3x3 convolutions
//! (BatchNorm, ReLU), each halving the picture and the last two halving time too, global average
//! pooling and a classifier. Every layer sees time from the first one on; small enough (about
//! 0.3 M parameters, 60 M multiply-adds per 8x64x64 clip) to train on two CPU cores.

use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::graph::{ConvNode, Values};
use crate::engine::{Graph, Val};
use crate::error::{ModelError, Result};
use crate::layers::{bn3d, conv3d};
use crate::layers::{check_clips, conv_bn3d, video_pool};

/// One 3x3x3 convolution, BatchNorm and ReLU.
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv3d,
    bn: BatchNorm,
}

impl ConvBn {
    fn new(cin: usize, cout: usize, stride: [usize; 3], dev: &Device) -> ConvBn {
        ConvBn {
            conv: conv3d(cin, cout, [3, 3, 3], stride, [1, 1, 1], dev),
            bn: bn3d(cout, dev),
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        conv_bn3d(&self.conv, Some(&self.bn), true, x)
    }
}

/// The motion network.
#[derive(Module, Debug)]
pub struct MotionNet {
    layers: Vec<ConvBn>,
    fc: Linear,
    /// Channels of the pooled features.
    pub feat_dim: usize,
    /// Clips averaged per video.
    pub num_segments: usize,
}

impl MotionNet {
    /// Stages of `width`, 2x, 4x, 8x channels; `nclass` outputs.
    pub fn new(width: usize, nclass: usize, num_segments: usize, dev: &Device) -> Result<MotionNet> {
        if width == 0 || nclass == 0 {
            return Err(ModelError::InvalidOption(format!(
                "motion net width {width}, nclass {nclass}: both must be at least 1"
            )));
        }
        let w = [width, width * 2, width * 4, width * 8];
        let layers = vec![
            ConvBn::new(6, w[0], [1, 2, 2], dev),
            ConvBn::new(w[0], w[1], [1, 2, 2], dev),
            ConvBn::new(w[1], w[2], [2, 2, 2], dev),
            ConvBn::new(w[2], w[3], [2, 2, 2], dev),
        ];
        Ok(MotionNet {
            layers,
            fc: LinearConfig::new(w[3], nclass).init(dev),
            feat_dim: w[3],
            num_segments: num_segments.max(1),
        })
    }

    /// `[N * clips, 3, T, H, W]` -> clip-averaged pooled features `[N, feat_dim]`.
    pub fn features(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        let [n, c, t, h, w] = x.dims();
        check_clips(n, self.num_segments)?;
        if t < 2 {
            return Err(ModelError::InvalidOption(format!(
                "the motion net needs at least 2 frames per clip, got {t}"
            )));
        }
        // Each frame beside its difference to the previous one (TSN's RGB-difference input):
        // what does not move cancels, so a static textured background does not drown the motion.
        let prev = x.clone().slice([0..n, 0..c, 0..t - 1, 0..h, 0..w]);
        let cur = x.slice([0..n, 0..c, 1..t, 0..h, 0..w]);
        let diff = cur.clone() - prev;
        let mut x = Tensor::cat(vec![cur, diff], 1);
        for l in &self.layers {
            x = l.forward(x);
        }
        Ok(video_pool(x, self.num_segments))
    }

    /// `[N * clips, 3, T, H, W]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        Ok(self.fc.forward(self.features(x)?))
    }
}

impl Architecture for MotionNet {
    forward_of_rank!(5);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        let s = g.shape(x).to_vec();
        check_clips(s[0], self.num_segments)?;
        if s[2] < 2 {
            return Err(ModelError::InvalidOption(format!(
                "the motion net needs at least 2 frames per clip, got {}",
                s[2]
            )));
        }
        // [frame t, frame t - frame t-1] as a convolution over pairs of frames: channel c
        // takes +1 x frame t, channel 3 + c takes +1 x frame t and -1 x frame t-1 (exact).
        let mut w = vec![0f32; 6 * 3 * 2];
        for c in 0..3 {
            w[(c * 3 + c) * 2 + 1] = 1.0;
            w[((3 + c) * 3 + c) * 2] = -1.0;
            w[((3 + c) * 3 + c) * 2 + 1] = 1.0;
        }
        let mut x = g.conv_raw(ConvNode {
            name: "frame differences".into(),
            x,
            weight: Values(w),
            weight_shape: vec![6, 3, 2, 1, 1],
            bias: None,
            groups: 1,
            stride: vec![1; 3],
            dilation: vec![1; 3],
            pad_l: vec![0; 3],
            pad_r: vec![0; 3],
            residual: None,
            relu: false,
            relu_first: false,
        })?;
        for (i, l) in self.layers.iter().enumerate() {
            x = g.conv(&format!("layers.{i}.conv"), &l.conv, Some(&l.bn), true, None, x)?;
        }
        g.video_head(x, self.num_segments, "fc", &self.fc, features)
    }
}
