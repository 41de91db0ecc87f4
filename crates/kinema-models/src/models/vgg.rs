//! TSN on VGG16 (GluonCV's `ActionRecVGG16`): thirteen 3x3 convolutions with bias and ReLU in
//! five stages, each closed by a 2x2 max pool (no BatchNorm), then fc6 and fc7 (4096, ReLU,
//! dropout) on the flattened `512 x 7 x 7` map, the mean over the segments, and `output`. fc6
//! fixes the frame size: `H / 32 = W / 32 = 7`, so 224..=255 px.
//!
//! GluonCV keeps the convolutions and fc6/fc7 in one `features` sequence with the ReLUs and pools
//! between them (`features.0`, `.2`, `.5`, ..., `.28`, fc6 `features.31`, fc7 `features.33`);
//! here they are `features.0..12`, `fc6` and `fc7`, and [`gluon_path`] maps the names.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{Graph, PoolKind, Val, Window};
use crate::error::{ModelError, Result};
use crate::layers::forward_conv2d;

/// Convolutions per stage and their widths (GluonCV's `vgg_spec[16]`).
const STAGES: [(usize, usize); 5] = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)];

/// Index in GluonCV's `features` of each convolution (a ReLU after each, a pool after each stage).
const CONV_INDEX: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

/// Values fc6 takes: 512 x 7 x 7.
const FLAT: usize = 512 * 7 * 7;

/// GluonCV's path of a kinema parameter path of [`TsnVgg16`].
pub fn gluon_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("fc6.") {
        return format!("features.31.{rest}");
    }
    if let Some(rest) = path.strip_prefix("fc7.") {
        return format!("features.33.{rest}");
    }
    if let Some((i, rest)) = path.strip_prefix("features.").and_then(|r| r.split_once('.')) {
        if let Some(j) = i.parse::<usize>().ok().and_then(|i| CONV_INDEX.get(i)) {
            return format!("features.{j}.{rest}");
        }
    }
    path.to_string()
}

/// TSN VGG16.
#[derive(Module, Debug)]
pub struct TsnVgg16 {
    features: Vec<Conv2d>,
    fc6: Linear,
    fc7: Linear,
    output: Linear,
    /// Frames per video: segments x crops.
    pub num_segments: usize,
}

impl TsnVgg16 {
    /// Channels of the features (fc7's output).
    pub const FEAT_DIM: usize = 4096;

    /// With `nclass` outputs, averaging `num_segments` frames per video.
    pub fn new(nclass: usize, num_segments: usize, dev: &Device) -> TsnVgg16 {
        let mut cin = 3;
        let mut features = Vec::new();
        for (n, c) in STAGES {
            for _ in 0..n {
                features.push(
                    Conv2dConfig::new([cin, c], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(dev),
                );
                cin = c;
            }
        }
        TsnVgg16 {
            features,
            fc6: LinearConfig::new(FLAT, 4096).init(dev),
            fc7: LinearConfig::new(4096, 4096).init(dev),
            output: LinearConfig::new(4096, nclass).init(dev),
            num_segments: num_segments.max(1),
        }
    }

    /// `[N * segments, 3, H, W]` -> segment-averaged fc7 output `[N, 4096]` (dropout is the
    /// identity in eval).
    pub fn features(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        let [frames, _, h, w] = x.dims();
        if frames % self.num_segments != 0 {
            return Err(ModelError::InvalidOption(format!(
                "{frames} frames do not split into videos of {} segments",
                self.num_segments
            )));
        }
        if h / 32 != 7 || w / 32 != 7 {
            return Err(ModelError::InvalidOption(format!(
                "TSN VGG16 takes frames of 224..=255 px (fc6 takes 512 x 7 x 7 values), not {h} x {w}"
            )));
        }
        let mut convs = self.features.iter();
        let mut x = x;
        for (n, _) in STAGES {
            for conv in convs.by_ref().take(n) {
                x = relu(forward_conv2d(conv, x));
            }
            x = max_pool2d(x, MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
        }
        // Flattened channel-major, as MXNet's Dense does.
        let x = relu(self.fc6.forward(x.reshape([frames, FLAT])));
        let x = relu(self.fc7.forward(x));
        let seg = self.num_segments;
        Ok(x.reshape([frames / seg, seg, Self::FEAT_DIM])
            .mean_dim(1)
            .reshape([frames / seg, Self::FEAT_DIM]))
    }

    /// `[N * segments, 3, H, W]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.output.forward(self.features(x)?))
    }
}

impl Architecture for TsnVgg16 {
    forward_of_rank!(4);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        let mut convs = self.features.iter().enumerate();
        let mut x = x;
        let pool = Window {
            kernel: vec![2, 2],
            stride: vec![2, 2],
            pad: vec![0, 0],
            ceil: false,
        };
        for (s, (n, _)) in STAGES.iter().enumerate() {
            for (i, conv) in convs.by_ref().take(*n) {
                x = g.conv(&format!("features.{i}"), conv, None, true, None, x)?;
            }
            x = g.pool(&format!("pool{}", s + 1), PoolKind::Max, &pool, x)?;
        }
        // fc6 reads the map channel-major, as the flattening of the burn forward.
        let x = g.linear("fc6", &self.fc6, true, x)?;
        let x = g.linear("fc7", &self.fc7, true, x)?;
        let f = g.segment_mean(x, self.num_segments)?;
        if features {
            return Ok(f);
        }
        g.linear("output", &self.output, false, f)
    }

    fn gluon_key(path: &str) -> String {
        gluon_path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::parameter_names;

    #[test]
    fn parameter_names_are_gluoncvs() {
        let m = TsnVgg16::new(101, 1, &Device::flex());
        let names: Vec<String> = parameter_names(&m)
            .into_iter()
            .map(|(p, _)| gluon_path(&p))
            .collect();
        let mut want: Vec<String> = CONV_INDEX
            .iter()
            .chain(&[31, 33])
            .flat_map(|i| [format!("features.{i}.weight"), format!("features.{i}.bias")])
            .collect();
        want.extend(["output.weight".to_string(), "output.bias".to_string()]);
        let (mut a, mut b) = (names.clone(), want);
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}
