//! TSN (GluonCV's `ActionRecResNetV1b`): a 2-D backbone on every segment's frame, the features
//! averaged over the segments (and crops), one dense layer.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{Graph, Val};
use crate::error::{ModelError, Result};
use crate::models::resnet::ResNetV1b;

/// TSN with a ResNet V1b backbone. Parameter names: the backbone's, then `output.weight/bias`.
#[derive(Module, Debug)]
pub struct TsnResNet {
    backbone: ResNetV1b,
    output: Linear,
    /// Frames per video: segments x crops (GluonCV's `num_segments * num_crop`).
    pub num_segments: usize,
}

impl TsnResNet {
    /// A TSN ResNet-`depth` with `nclass` outputs averaging `num_segments` frames per video.
    pub fn new(depth: usize, nclass: usize, num_segments: usize, dev: &Device) -> Result<TsnResNet> {
        let backbone = ResNetV1b::new(depth, dev)?;
        let output = LinearConfig::new(backbone.feat_dim, nclass).init(dev);
        Ok(TsnResNet {
            backbone,
            output,
            num_segments: num_segments.max(1),
        })
    }

    /// `[N * segments, 3, H, W]` -> segment-averaged features `[N, feat_dim]` (the classifier's
    /// input).
    pub fn features(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        let [frames, _, _, _] = x.dims();
        if frames % self.num_segments != 0 {
            return Err(ModelError::InvalidOption(format!(
                "{frames} frames do not split into videos of {} segments",
                self.num_segments
            )));
        }
        let f = self.backbone.features(x);
        let d = self.backbone.feat_dim;
        Ok(f.reshape([frames / self.num_segments, self.num_segments, d])
            .mean_dim(1)
            .reshape([frames / self.num_segments, d]))
    }

    /// `[N * segments, 3, H, W]` -> logits `[N, nclass]` (dropout is identity in eval).
    pub fn forward(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.output.forward(self.features(x)?))
    }
}

impl Architecture for TsnResNet {
    forward_of_rank!(4);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        let f = self.backbone.lower(g, x)?;
        let f = g.segment_mean(f, self.num_segments)?;
        if features {
            return Ok(f);
        }
        g.linear("output", &self.output, false, f)
    }

    /// GluonCV's TSN keeps the ResNet under `backbone.`; kinema's paths start at the ResNet.
    fn gluon_key(path: &str) -> String {
        path.strip_prefix("backbone.").unwrap_or(path).to_string()
    }
}
