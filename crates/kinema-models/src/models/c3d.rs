//! C3D (Tran et al., ICCV 2015) as GluonCV builds it (`c3d.py`): eight 3x3x3 convolutions with
//! bias and ReLU, five max pools (the first spatial only, the last padded in H and W), then
//! the clips of a video averaged, fc6 / fc7 (4096, ReLU, dropout) and fc8. Input
//! `[N, 3, 16, 112, 112]`: the last pool leaves `512 x 1 x 4 x 4 = 8192` values for fc6. Parameter names are GluonCV's (`conv1`, `conv3a`,
//! ..., `fc8`), so its `.params` load as they are.

use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig3d};
use burn::tensor::activation::relu;
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{Graph, PoolKind, Val, Window};
use crate::error::{ModelError, Result};
use crate::layers::{check_clips, conv_bn3d, max_pool3d, Pool3d};

/// GluonCV's C3D.
#[derive(Module, Debug)]
pub struct C3d {
    conv1: Conv3d,
    conv2: Conv3d,
    conv3a: Conv3d,
    conv3b: Conv3d,
    conv4a: Conv3d,
    conv4b: Conv3d,
    conv5a: Conv3d,
    conv5b: Conv3d,
    fc6: Linear,
    fc7: Linear,
    fc8: Linear,
    /// Clips per video, averaged before fc6 (GluonCV's `num_segments * num_crop`).
    pub num_segments: usize,
}

/// Values fc6 takes: 512 channels x 1 x 4 x 4 after the last pool (GluonCV's `feat_dim`).
const FEAT_DIM: usize = 8192;

fn conv(cin: usize, cout: usize, dev: &Device) -> Conv3d {
    Conv3dConfig::new([cin, cout], [3, 3, 3])
        .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
        .init(dev)
}

impl C3d {
    /// C3D with `nclass` outputs.
    pub fn new(nclass: usize, num_segments: usize, dev: &Device) -> Result<C3d> {
        if nclass == 0 {
            return Err(ModelError::InvalidOption("c3d: nclass must be at least 1".into()));
        }
        Ok(C3d {
            conv1: conv(3, 64, dev),
            conv2: conv(64, 128, dev),
            conv3a: conv(128, 256, dev),
            conv3b: conv(256, 256, dev),
            conv4a: conv(256, 512, dev),
            conv4b: conv(512, 512, dev),
            conv5a: conv(512, 512, dev),
            conv5b: conv(512, 512, dev),
            fc6: LinearConfig::new(FEAT_DIM, 4096).init(dev),
            fc7: LinearConfig::new(4096, 4096).init(dev),
            fc8: LinearConfig::new(4096, nclass).init(dev),
            num_segments: num_segments.max(1),
        })
    }

    /// `[N * clips, 3, 16, 112, 112]` -> fc8's input `[N, 4096]` (fc7's output; dropout is the
    /// identity at inference).
    pub fn features(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        let [n, c, t, h, w] = x.dims();
        check_clips(n, self.num_segments)?;
        if c != 3 {
            return Err(ModelError::InvalidOption(format!(
                "c3d: expected 3 channels, got {c}"
            )));
        }
        let pool = Pool3d::new([2, 2, 2], [2, 2, 2]);
        let cr = |c: &Conv3d, x| conv_bn3d(c, None, true, x);
        let x = cr(&self.conv1, x);
        let x = max_pool3d(x, Pool3d::new([1, 2, 2], [1, 2, 2]));
        let x = max_pool3d(cr(&self.conv2, x), pool);
        let x = cr(&self.conv3b, cr(&self.conv3a, x));
        let x = max_pool3d(x, pool);
        let x = cr(&self.conv4b, cr(&self.conv4a, x));
        let x = max_pool3d(x, pool);
        let x = cr(&self.conv5b, cr(&self.conv5a, x));
        let x = max_pool3d(x, pool.with_padding([0, 1, 1]));
        let [_, ch, tt, hh, ww] = x.dims();
        if ch * tt * hh * ww != FEAT_DIM {
            return Err(ModelError::InvalidOption(format!(
                "c3d takes 16 x 112 x 112 clips (fc6 expects {FEAT_DIM} values): a {t} x {h} x {w} \
                 clip leaves {ch} x {tt} x {hh} x {ww}"
            )));
        }
        // GluonCV's segmental consensus: the clips of a video averaged before fc6.
        let seg = self.num_segments;
        let x = x
            .reshape([n / seg, seg, FEAT_DIM])
            .mean_dim(1)
            .reshape([n / seg, FEAT_DIM]);
        let x = relu(self.fc6.forward(x));
        Ok(relu(self.fc7.forward(x)))
    }

    /// `[N, 3, 16, 112, 112]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        Ok(self.fc8.forward(self.features(x)?))
    }
}

impl Architecture for C3d {
    forward_of_rank!(5);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        let pool = |k: [usize; 3], pad: [usize; 3]| Window {
            kernel: k.to_vec(),
            stride: k.to_vec(),
            pad: pad.to_vec(),
            ceil: false,
        };
        let mut x = x;
        let stages: [(&[(&str, &Conv3d)], Window); 5] = [
            (&[("conv1", &self.conv1)], pool([1, 2, 2], [0; 3])),
            (&[("conv2", &self.conv2)], pool([2, 2, 2], [0; 3])),
            (
                &[("conv3a", &self.conv3a), ("conv3b", &self.conv3b)],
                pool([2, 2, 2], [0; 3]),
            ),
            (
                &[("conv4a", &self.conv4a), ("conv4b", &self.conv4b)],
                pool([2, 2, 2], [0; 3]),
            ),
            (
                &[("conv5a", &self.conv5a), ("conv5b", &self.conv5b)],
                pool([2, 2, 2], [0, 1, 1]),
            ),
        ];
        for (i, (convs, w)) in stages.iter().enumerate() {
            for (name, c) in convs.iter() {
                x = g.conv(name, *c, None, true, None, x)?;
            }
            x = g.pool(&format!("pool{}", i + 1), PoolKind::Max, w, x)?;
        }
        let s = g.shape(x).to_vec();
        let values: usize = s[1..].iter().product();
        if values != FEAT_DIM {
            return Err(ModelError::InvalidOption(format!(
                "c3d takes 16 x 112 x 112 clips (fc6 expects {FEAT_DIM} values): this input leaves {:?}",
                &s[1..]
            )));
        }
        let x = g.reshape(x, &[s[0], FEAT_DIM])?;
        let x = g.segment_mean(x, self.num_segments)?;
        let x = g.linear("fc6", &self.fc6, true, x)?;
        let f = g.linear("fc7", &self.fc7, true, x)?;
        if features {
            return Ok(f);
        }
        g.linear("fc8", &self.fc8, false, f)
    }
}
