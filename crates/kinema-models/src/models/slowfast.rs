//! SlowFast (GluonCV's `SlowFast`): a fast pathway (all `fast_frames`, `width / beta_inv`
//! channels, temporal kernels everywhere) and a slow one (`slow_frames`, full width, temporal
//! kernels from res4 on), joined by lateral 5x1x1 (or 7x1x1) convolutions of stride `alpha`
//! concatenated onto the slow pathway's channels at every stage. The input is GluonCV's layout:
//! the fast frames, then the slow frames, along T. Field names follow GluonCV's
//! (`fast_res2.0.conv1.weight`, `lateral_p1.0.weight`, `slow_res5.2.bn3.gamma`, `fc.weight`).

use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::Device;
use burn::Tensor;

use crate::arch::{forward_of_rank, Architecture};
use crate::engine::{Graph, PoolKind, Val, Window};
use crate::error::{ModelError, Result};
use crate::layers::{bn3d, conv3d};
use crate::layers::{check_clips, conv_bn3d, finish, forward_conv3d, max_pool3d, Pool3d};

/// GluonCV's `SlowFast` arguments.
#[derive(Debug, Clone)]
pub struct SlowFastConfig {
    /// Bottleneck blocks per stage (ResNet-50: 3, 4, 6, 3).
    pub layers: [usize; 4],
    /// Blocks of res4 (both pathways) that keep the temporal head kernel; the rest use 1x1x1
    /// (`num_block_temp_kernel`, the `_50_50` model); `None`: all.
    pub temp_kernel_blocks: Option<usize>,
    /// Frame-rate ratio fast/slow (lateral stride).
    pub alpha: usize,
    /// Channel ratio slow/fast.
    pub beta_inv: usize,
    /// Lateral output channels per fast channel.
    pub fusion_conv_channel_ratio: usize,
    /// Lateral temporal kernel.
    pub fusion_kernel_size: usize,
    /// Slow pathway base width.
    pub width_per_group: usize,
    /// Slow frames (after the fast ones in the input).
    pub slow_frames: usize,
    /// Fast frames (first in the input).
    pub fast_frames: usize,
    /// Classes.
    pub nclass: usize,
    /// Clips averaged per video.
    pub num_segments: usize,
}

impl SlowFastConfig {
    /// GluonCV's `slowfast_{slow}x{stride}_resnet{depth}` settings.
    pub fn gluoncv(slow: usize, depth: usize, nclass: usize) -> Result<SlowFastConfig> {
        let layers = match depth {
            50 => [3, 4, 6, 3],
            101 => [3, 4, 23, 3],
            d => {
                return Err(ModelError::InvalidOption(format!(
                    "SlowFast depth {d}: expected 50 or 101"
                )))
            }
        };
        let (alpha, fast, fusion) = match (slow, depth) {
            (4, _) => (8, 32, 5),
            (8, 50) => (4, 32, 7),
            (8, _) => (4, 32, 5),
            (16, _) => (4, 64, 5),
            _ => {
                return Err(ModelError::InvalidOption(format!(
                    "SlowFast {slow} slow frames: expected 4, 8 or 16"
                )))
            }
        };
        Ok(SlowFastConfig {
            layers,
            temp_kernel_blocks: None,
            alpha,
            beta_inv: 8,
            fusion_conv_channel_ratio: 2,
            fusion_kernel_size: fusion,
            width_per_group: 64,
            slow_frames: slow,
            fast_frames: fast,
            nclass,
            num_segments: 1,
        })
    }
}

/// SlowFast's bottleneck: 1x1x1 or 3x1x1 head, 1x3x3 (spatial stride), 1x1x1.
#[derive(Module, Debug)]
pub struct SfBlock {
    conv1: Conv3d,
    bn1: BatchNorm,
    conv2: Conv3d,
    bn2: BatchNorm,
    conv3: Conv3d,
    bn3: BatchNorm,
    downsample: Option<(Conv3d, BatchNorm)>,
}

impl SfBlock {
    fn new(cin: usize, planes: usize, stride: usize, temporal_head: bool, dev: &Device) -> SfBlock {
        let cout = planes * 4;
        let (k, p) = if temporal_head {
            ([3, 1, 1], [1, 0, 0])
        } else {
            ([1, 1, 1], [0, 0, 0])
        };
        SfBlock {
            conv1: conv3d(cin, planes, k, [1, 1, 1], p, dev),
            bn1: bn3d(planes, dev),
            conv2: conv3d(planes, planes, [1, 3, 3], [1, stride, stride], [0, 1, 1], dev),
            bn2: bn3d(planes, dev),
            conv3: conv3d(planes, cout, [1, 1, 1], [1, 1, 1], [0, 0, 0], dev),
            bn3: bn3d(cout, dev),
            downsample: (stride != 1 || cin != cout).then(|| {
                (
                    conv3d(cin, cout, [1, 1, 1], [1, stride, stride], [0, 0, 0], dev),
                    bn3d(cout, dev),
                )
            }),
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let identity = match &self.downsample {
            Some((c, b)) => conv_bn3d(c, Some(b), false, x.clone()),
            None => x.clone(),
        };
        let out = conv_bn3d(&self.conv1, Some(&self.bn1), true, x);
        let out = conv_bn3d(&self.conv2, Some(&self.bn2), true, out);
        finish(
            forward_conv3d(&self.conv3, out),
            Some(&self.bn3),
            true,
            Some(identity),
        )
    }
}

impl SfBlock {
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

fn lower_stage(g: &mut Graph, p: &str, stage: &[SfBlock], mut x: Val) -> Result<Val> {
    for (i, b) in stage.iter().enumerate() {
        x = b.lower(g, &format!("{p}.{i}"), x)?;
    }
    Ok(x)
}

fn run(stage: &[SfBlock], mut x: Tensor<5>) -> Tensor<5> {
    for b in stage {
        x = b.forward(x);
    }
    x
}

fn cbr(m: &(Conv3d, BatchNorm), x: Tensor<5>) -> Tensor<5> {
    conv_bn3d(&m.0, Some(&m.1), true, x)
}

/// SlowFast ResNet.
#[derive(Module, Debug)]
pub struct SlowFast {
    fast_conv1: Conv3d,
    fast_bn1: BatchNorm,
    fast_res2: Vec<SfBlock>,
    fast_res3: Vec<SfBlock>,
    fast_res4: Vec<SfBlock>,
    fast_res5: Vec<SfBlock>,
    lateral_p1: (Conv3d, BatchNorm),
    lateral_res2: (Conv3d, BatchNorm),
    lateral_res3: (Conv3d, BatchNorm),
    lateral_res4: (Conv3d, BatchNorm),
    slow_conv1: Conv3d,
    slow_bn1: BatchNorm,
    slow_res2: Vec<SfBlock>,
    slow_res3: Vec<SfBlock>,
    slow_res4: Vec<SfBlock>,
    slow_res5: Vec<SfBlock>,
    fc: Linear,
    fast_frames: usize,
    slow_frames: usize,
    /// Channels of the pooled features (slow + fast).
    pub feat_dim: usize,
    /// Clips averaged per video.
    pub num_segments: usize,
}

impl SlowFast {
    /// Builds the network `c` describes.
    pub fn new(c: &SlowFastConfig, dev: &Device) -> Result<SlowFast> {
        if c.beta_inv == 0
            || c.fusion_conv_channel_ratio == 0
            || !c.beta_inv.is_multiple_of(c.fusion_conv_channel_ratio)
        {
            return Err(ModelError::InvalidOption(
                "SlowFast: beta_inv must be a multiple of fusion_conv_channel_ratio".into(),
            ));
        }
        let w = c.width_per_group;
        let b = c.beta_inv;
        let out_ratio = b / c.fusion_conv_channel_ratio;
        let stage = |cin: usize,
                     planes: usize,
                     n: usize,
                     stride: usize,
                     temporal: bool,
                     res4: bool|
         -> Vec<SfBlock> {
            let mut cin = cin;
            (0..n)
                .map(|i| {
                    let keep = !res4 || c.temp_kernel_blocks.is_none_or(|k| i < k);
                    let blk = SfBlock::new(
                        cin,
                        planes,
                        if i == 0 { stride } else { 1 },
                        temporal && keep,
                        dev,
                    );
                    cin = planes * 4;
                    blk
                })
                .collect()
        };
        let l = c.layers;
        let lateral = |cin: usize| {
            let cout = cin * c.fusion_conv_channel_ratio;
            let k = c.fusion_kernel_size;
            (
                conv3d(cin, cout, [k, 1, 1], [c.alpha, 1, 1], [k / 2, 0, 0], dev),
                bn3d(cout, dev),
            )
        };
        let fast_in = w / b;
        let slow_in = |ch: usize| ch + ch / out_ratio;
        Ok(SlowFast {
            fast_conv1: conv3d(3, fast_in, [5, 7, 7], [1, 2, 2], [2, 3, 3], dev),
            fast_bn1: bn3d(fast_in, dev),
            fast_res2: stage(fast_in, w / b, l[0], 1, true, false),
            fast_res3: stage(w * 4 / b, w * 2 / b, l[1], 2, true, false),
            fast_res4: stage(w * 8 / b, w * 4 / b, l[2], 2, true, true),
            fast_res5: stage(w * 16 / b, w * 8 / b, l[3], 2, true, false),
            lateral_p1: lateral(fast_in),
            lateral_res2: lateral(w * 4 / b),
            lateral_res3: lateral(w * 8 / b),
            lateral_res4: lateral(w * 16 / b),
            slow_conv1: conv3d(3, w, [1, 7, 7], [1, 2, 2], [0, 3, 3], dev),
            slow_bn1: bn3d(w, dev),
            slow_res2: stage(slow_in(w), w, l[0], 1, false, false),
            slow_res3: stage(slow_in(w * 4), w * 2, l[1], 2, false, false),
            slow_res4: stage(slow_in(w * 8), w * 4, l[2], 2, true, true),
            slow_res5: stage(slow_in(w * 16), w * 8, l[3], 2, true, false),
            fc: LinearConfig::new(w * 32 / b + w * 32, c.nclass).init(dev),
            fast_frames: c.fast_frames,
            slow_frames: c.slow_frames,
            feat_dim: w * 32 / b + w * 32,
            num_segments: c.num_segments.max(1),
        })
    }

    /// `[N * clips, 3, fast + slow, H, W]` -> clip-averaged features `[N, feat_dim]`
    /// (slow pathway's 2048 then fast pathway's 256 for ResNet-50).
    pub fn features(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        let [clips, _, t, _, _] = x.dims();
        if t != self.fast_frames + self.slow_frames {
            return Err(ModelError::InvalidOption(format!(
                "SlowFast takes {} fast then {} slow frames along T, got {t}",
                self.fast_frames, self.slow_frames
            )));
        }
        if clips % self.num_segments != 0 {
            return Err(ModelError::InvalidOption(format!(
                "{clips} clips do not split into videos of {} clips",
                self.num_segments
            )));
        }
        let fast = x.clone().narrow(2, 0, self.fast_frames);
        let slow = x.narrow(2, self.fast_frames, self.slow_frames);
        let stem = Pool3d::new([1, 3, 3], [1, 2, 2]).with_padding([0, 1, 1]);
        // fast pathway, keeping the laterals
        let f = max_pool3d(
            conv_bn3d(&self.fast_conv1, Some(&self.fast_bn1), true, fast),
            stem,
        );
        let lat1 = cbr(&self.lateral_p1, f.clone());
        let f2 = run(&self.fast_res2, f);
        let lat2 = cbr(&self.lateral_res2, f2.clone());
        let f3 = run(&self.fast_res3, f2);
        let lat3 = cbr(&self.lateral_res3, f3.clone());
        let f4 = run(&self.fast_res4, f3);
        let lat4 = cbr(&self.lateral_res4, f4.clone());
        let f5 = run(&self.fast_res5, f4);
        // slow pathway, each stage fed the lateral concatenated on channels
        let s = max_pool3d(
            conv_bn3d(&self.slow_conv1, Some(&self.slow_bn1), true, slow),
            stem,
        );
        let s = run(&self.slow_res2, Tensor::cat(vec![s, lat1], 1));
        let s = run(&self.slow_res3, Tensor::cat(vec![s, lat2], 1));
        let s = run(&self.slow_res4, Tensor::cat(vec![s, lat3], 1));
        let s = run(&self.slow_res5, Tensor::cat(vec![s, lat4], 1));
        let pool = |x: Tensor<5>| {
            let [n, c, _, _, _] = x.dims();
            x.mean_dims(&[2, 3, 4]).reshape([n, c])
        };
        let feat = Tensor::cat(vec![pool(s), pool(f5)], 1);
        let videos = clips / self.num_segments;
        Ok(feat
            .reshape([videos, self.num_segments, self.feat_dim])
            .mean_dim(1)
            .reshape([videos, self.feat_dim]))
    }

    /// `[N * clips, 3, fast + slow, H, W]` -> logits `[N, nclass]`.
    pub fn forward(&self, x: Tensor<5>) -> Result<Tensor<2>> {
        Ok(self.fc.forward(self.features(x)?))
    }
}

impl Architecture for SlowFast {
    forward_of_rank!(5);

    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val> {
        let [clips, _, t, _, _] = g.shape(x).to_vec()[..] else {
            return Err(ModelError::InvalidOption("SlowFast takes [N, 3, T, H, W]".into()));
        };
        if t != self.fast_frames + self.slow_frames {
            return Err(ModelError::InvalidOption(format!(
                "SlowFast takes {} fast then {} slow frames along T, got {t}",
                self.fast_frames, self.slow_frames
            )));
        }
        check_clips(clips, self.num_segments)?;
        let fast = g.slice(x, 2, 0, self.fast_frames, 1)?;
        let slow = g.slice(x, 2, self.fast_frames, self.slow_frames, 1)?;
        let stem = Window {
            kernel: vec![1, 3, 3],
            stride: vec![1, 2, 2],
            pad: vec![0, 1, 1],
            ceil: false,
        };
        let cbr = |g: &mut Graph, name: &str, m: &(Conv3d, BatchNorm), x: Val| {
            g.conv(name, &m.0, Some(&m.1), true, None, x)
        };
        let f = g.conv(
            "fast_conv1",
            &self.fast_conv1,
            Some(&self.fast_bn1),
            true,
            None,
            fast,
        )?;
        let f = g.pool("fast_pool1", PoolKind::Max, &stem, f)?;
        let lat1 = cbr(g, "lateral_p1.0", &self.lateral_p1, f)?;
        let f2 = lower_stage(g, "fast_res2", &self.fast_res2, f)?;
        let lat2 = cbr(g, "lateral_res2.0", &self.lateral_res2, f2)?;
        let f3 = lower_stage(g, "fast_res3", &self.fast_res3, f2)?;
        let lat3 = cbr(g, "lateral_res3.0", &self.lateral_res3, f3)?;
        let f4 = lower_stage(g, "fast_res4", &self.fast_res4, f3)?;
        let lat4 = cbr(g, "lateral_res4.0", &self.lateral_res4, f4)?;
        let f5 = lower_stage(g, "fast_res5", &self.fast_res5, f4)?;
        let s = g.conv(
            "slow_conv1",
            &self.slow_conv1,
            Some(&self.slow_bn1),
            true,
            None,
            slow,
        )?;
        let mut s = g.pool("slow_pool1", PoolKind::Max, &stem, s)?;
        for (name, stage, lat) in [
            ("slow_res2", &self.slow_res2, lat1),
            ("slow_res3", &self.slow_res3, lat2),
            ("slow_res4", &self.slow_res4, lat3),
            ("slow_res5", &self.slow_res5, lat4),
        ] {
            let joined = g.concat(&format!("{name} input"), &[s, lat])?;
            s = lower_stage(g, name, stage, joined)?;
        }
        let ps = g.video_pool(s, 1)?;
        let pf = g.video_pool(f5, 1)?;
        let feat = g.concat("features", &[ps, pf])?;
        let f = if self.num_segments > 1 {
            g.segment_mean(feat, self.num_segments)?
        } else {
            feat
        };
        if features {
            return Ok(f);
        }
        g.linear("fc", &self.fc, false, f)
    }
}
