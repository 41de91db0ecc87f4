//! The model registry: every model name kinema builds, GluonCV's names exactly (and
//! torchvision's video ResNets as `r3d_18_kinetics400`...), with its family, class count, input
//! spec and published weight file. `get_model` builds one by name.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Gradients, TensorData};
use burn::Tensor;

use crate::c3d::C3d;
use crate::error::{ModelError, Result};
use crate::i3d::{I3dConfig, I3dResNet};
use crate::inception::{I3dInception, TsnInceptionV1, TsnInceptionV3};
use crate::motion::MotionNet;
use crate::p3d::P3d;
use crate::r2plus1d::R2Plus1d;
use crate::slowfast::{SlowFast, SlowFastConfig};
use crate::tsn::TsnResNet;
use crate::vgg::TsnVgg16;
use crate::video_resnet::{VideoArch, VideoResNet};
use crate::weights::{
    load_named, named_tensors, parameter_names, read_params, read_pth, read_safetensors, write_safetensors,
    Metadata, NamedTensor,
};

/// Architecture family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// TSN with a 2-D ResNet V1b backbone of this depth.
    TsnResNet(usize),
    /// I3D with a ResNet V1 trunk of this depth.
    I3dResNet(usize),
    /// R(2+1)D ResNet of this depth.
    R2Plus1d(usize),
    /// I3D ResNet V1 of this depth with this many non-local blocks.
    I3dNonLocal(usize, usize),
    /// SlowFast with this many slow frames, ResNet depth, and res4 temporal-kernel blocks
    /// (`Some(6)`: the `_50_50` variant).
    SlowFast(usize, usize, Option<usize>),
    /// kinema's narrow R(2+1)D: depth and first-stage width (small models for CPUs).
    R2Plus1dNarrow(usize, usize),
    /// kinema's four-layer 3-D CNN of this first-stage width.
    Motion(usize),
    /// C3D (GluonCV's `c3d.py`).
    C3d,
    /// torchvision's video ResNet-18s (`r3d_18`, `mc3_18`, `r2plus1d_18`).
    #[serde(rename = "video_resnet")]
    VideoResNet(VideoArch),
    /// TSN with a VGG16 backbone (no BatchNorm).
    TsnVgg16,
    /// TSN with a GoogLeNet (BatchNorm) backbone.
    TsnInceptionV1,
    /// TSN with an Inception v3 backbone.
    TsnInceptionV3,
    /// I3D inflated from GoogLeNet.
    I3dInceptionV1,
    /// I3D inflated from Inception v3.
    I3dInceptionV3,
    /// P3D (pseudo-3D) ResNet of this depth.
    P3d(usize),
    /// Slow-only I3D ResNet of this depth (GluonCV's `i3d_slow`).
    I3dSlow(usize),
}

impl Family {
    /// Views per video the model averages itself: a TSN model's segments are its consensus;
    /// 3-D models take clips one by one (1), and whoever runs them averages the clips.
    pub fn segments_in_model(self, num_segments: usize) -> usize {
        match self {
            Family::TsnResNet(_) | Family::TsnVgg16 | Family::TsnInceptionV1 | Family::TsnInceptionV3 => {
                num_segments
            }
            _ => 1,
        }
    }
}

/// What a model eats: `frames` per clip (1 for 2-D models) at `stride`, `segments` per video,
/// `size` x `size` crops, normalized with `mean`/`std`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InputSpec {
    /// Frames per clip along T (1: a 2-D model on single frames).
    pub frames: usize,
    /// Step between those frames.
    pub stride: usize,
    /// Segments per video (TSN).
    pub segments: usize,
    /// Crop side.
    pub size: usize,
    /// Channel means.
    pub mean: [f32; 3],
    /// Channel standard deviations.
    pub std: [f32; 3],
}

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// One registered model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelSpec {
    /// GluonCV's name.
    pub name: String,
    /// Architecture.
    pub family: Family,
    /// Dataset suffix (`kinetics400`, `ucf101`, ..., `custom`).
    pub dataset: &'static str,
    /// Classes (0 for `_custom`: the caller says).
    pub nclass: usize,
    /// Input the model was trained on.
    pub input: InputSpec,
    /// SHA-1 of GluonCV's published `.params` (none where GluonCV publishes no weights).
    pub sha1: Option<&'static str>,
    /// Download URL of published weights that are not GluonCV's: torchvision's `.pth`, whose
    /// file name carries the first hex digits of its SHA-256 (torch.hub's check).
    pub url: Option<&'static str>,
}

impl ModelSpec {
    /// The published weight file's name: GluonCV's `NAME-SHORTHASH.params`, or the last part
    /// of [`url`](Self::url) (`r3d_18-b3b3357e.pth`).
    pub fn weight_file(&self) -> Option<String> {
        if let Some(u) = self.url {
            return u.rsplit('/').next().map(String::from);
        }
        self.sha1.map(|h| format!("{}-{}.params", self.name, &h[..8]))
    }
}

fn dataset_classes(dataset: &str) -> usize {
    match dataset {
        "kinetics400" => 400,
        "kinetics700" => 700,
        "ucf101" => 101,
        "hmdb51" => 51,
        "sthsthv2" => 174,
        "synthetic" => kinema_data::synth::CLASS_NAMES.len(),
        _ => 0,
    }
}

/// GluonCV's published SHA-1s for the registered names.
const SHA1: &[(&str, &str)] = &[
    (
        "resnet18_v1b_kinetics400",
        "46d5a9850cdb884eb9c9a95d48269c3d60c94d77",
    ),
    (
        "resnet34_v1b_kinetics400",
        "8a8d0d8d395882f836d379aefb4136dce8763d0c",
    ),
    ("resnet50_v1b_hmdb51", "682591e23ce4b92fbd3222c0710ebb52166fddca"),
    (
        "resnet50_v1b_kinetics400",
        "cc757e5c94fdaaea64a8cb5acfbd655ddf6ffa96",
    ),
    (
        "resnet50_v1b_sthsthv2",
        "80ee0c6bef8b0240ec88273531cd7f43e3f6b65d",
    ),
    (
        "resnet101_v1b_kinetics400",
        "5bb6098ea5343dc0f4bf8536b3771b8ddfe231d7",
    ),
    (
        "resnet152_v1b_kinetics400",
        "9bc70c66059854a22e935b42f783ef2bec0377d8",
    ),
    (
        "i3d_resnet50_v1_ucf101",
        "760d0981094787b8789ee4a8c382d09d493c7413",
    ),
    (
        "i3d_resnet50_v1_hmdb51",
        "2ec6bf01a55af38579380e6531d0ecc816862abe",
    ),
    (
        "i3d_resnet50_v1_kinetics400",
        "568a722eb61da663e11b582886ddbef9ef8f6ac6",
    ),
    (
        "i3d_resnet50_v1_sthsthv2",
        "01961e4cccf6405cd1342670b9525c21c578c9d4",
    ),
    (
        "i3d_resnet101_v1_kinetics400",
        "6b69f655c60823bd05a83fe076c61d6c297add0d",
    ),
    (
        "i3d_nl5_resnet50_v1_kinetics400",
        "3c0e47ea5ee699c3e1f706c9df7a74dbd6321b11",
    ),
    (
        "i3d_nl10_resnet50_v1_kinetics400",
        "bfb58c4127705ad6e98f4916abde0c849e2f1288",
    ),
    (
        "i3d_nl5_resnet101_v1_kinetics400",
        "fbfc1d30d90c304295dedd6c70b037d100e43d5f",
    ),
    (
        "i3d_nl10_resnet101_v1_kinetics400",
        "59186c31dea2f20940a358fc8ea5199cd6d4303c",
    ),
    (
        "slowfast_4x16_resnet50_kinetics400",
        "9d650f5186ffc08348f8d7384d6994a8f39a03b1",
    ),
    (
        "slowfast_8x8_resnet50_kinetics400",
        "d6b253398615a21d8b2a827ddfb09c0d8827f79c",
    ),
    (
        "slowfast_8x8_resnet101_kinetics400",
        "fbde1a7cfdaeeba7190dd15f284b91036bf5f3f6",
    ),
    (
        "r2plus1d_resnet18_kinetics400",
        "5a14d1f9772e523bbeae8484ec382feb30b74ffa",
    ),
    (
        "r2plus1d_resnet34_kinetics400",
        "de2e592b450b9007705507d5167859d45e782695",
    ),
    (
        "r2plus1d_resnet50_kinetics400",
        "deaefb14d31c703115a911828534d24ac68c7fb0",
    ),
    ("c3d_kinetics400", "a007b5faf2927c5c4afe78db40756273f33a84e6"),
    ("vgg16_ucf101", "d6dc1bbaaf3cbe0be19f02362706393f62ce76fa"),
    (
        "inceptionv1_kinetics400",
        "6dcdafb1dd19866fdd3116cbe3689adb85824b2c",
    ),
    ("inceptionv3_ucf101", "13ef5c3bd40141f11c5b4e471f8f2ad0c1ac6299"),
    (
        "inceptionv3_kinetics400",
        "8a4a6946893de23937b5e5e4a1a449800d57ff71",
    ),
    (
        "i3d_inceptionv1_kinetics400",
        "81e0be1043ea4c68a4a0a439918c7b888ee5545b",
    ),
    (
        "i3d_inceptionv3_kinetics400",
        "f14f8a99007200ef56521b6a844f662784a8f5de",
    ),
    (
        "p3d_resnet50_kinetics400",
        "671ba81c2b287ce3b9aa2393e15ff1562b705c4d",
    ),
    (
        "p3d_resnet101_kinetics400",
        "b30e3a6389c3a12867fe41bb3838f407d47aed2b",
    ),
    (
        "i3d_slow_resnet101_f16s4_kinetics700",
        "299b1d9d8a2bcf7c122acd0d23606af4fdfbe7e1",
    ),
];

/// torchvision's published Kinetics-400 weights (`torchvision.models.video.*_Weights`).
const TORCHVISION_URLS: &[(&str, &str)] = &[
    (
        "r3d_18_kinetics400",
        "https://download.pytorch.org/models/r3d_18-b3b3357e.pth",
    ),
    (
        "mc3_18_kinetics400",
        "https://download.pytorch.org/models/mc3_18-a90a0ba3.pth",
    ),
    (
        "r2plus1d_18_kinetics400",
        "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth",
    ),
];

/// Every registered model, in a stable order.
pub fn models() -> Vec<ModelSpec> {
    let mut out = Vec::new();
    let mut add = |name: String, family: Family, dataset: &'static str, input: InputSpec| {
        let sha1 = SHA1.iter().find(|(n, _)| *n == name).map(|(_, h)| *h);
        let url = TORCHVISION_URLS.iter().find(|(n, _)| *n == name).map(|(_, u)| *u);
        out.push(ModelSpec {
            nclass: dataset_classes(dataset),
            name,
            family,
            dataset,
            input,
            sha1,
            url,
        });
    };
    let tsn = InputSpec {
        frames: 1,
        stride: 1,
        segments: 7,
        size: 224,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
    };
    // GluonCV's TSN ResNet names (and `_custom` for every depth).
    for (depth, datasets) in [
        (18, &["kinetics400", "sthsthv2", "custom"][..]),
        (34, &["kinetics400", "sthsthv2", "custom"][..]),
        (50, &["kinetics400", "sthsthv2", "ucf101", "hmdb51", "custom"][..]),
        (101, &["kinetics400", "sthsthv2", "custom"][..]),
        (152, &["kinetics400", "sthsthv2", "custom"][..]),
    ] {
        for &d in datasets {
            add(format!("resnet{depth}_v1b_{d}"), Family::TsnResNet(depth), d, tsn);
        }
    }
    let i3d = InputSpec {
        frames: 32,
        stride: 2,
        segments: 1,
        size: 224,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
    };
    for (depth, datasets) in [
        (50, &["kinetics400", "sthsthv2", "ucf101", "hmdb51", "custom"][..]),
        (101, &["kinetics400", "custom"][..]),
    ] {
        for &d in datasets {
            add(
                format!("i3d_resnet{depth}_v1_{d}"),
                Family::I3dResNet(depth),
                d,
                i3d,
            );
        }
    }
    for depth in [50, 101] {
        for blocks in [5, 10] {
            for d in ["kinetics400", "custom"] {
                add(
                    format!("i3d_nl{blocks}_resnet{depth}_v1_{d}"),
                    Family::I3dNonLocal(depth, blocks),
                    d,
                    i3d,
                );
            }
        }
    }
    for (slow, stride, depth, temp, suffix) in [
        (4, 16, 50, None, ""),
        (8, 8, 50, None, ""),
        (4, 16, 101, None, ""),
        (8, 8, 101, None, ""),
        (16, 8, 101, None, ""),
        (16, 8, 101, Some(6), "_50_50"),
    ] {
        let fast = if slow == 16 { 64 } else { 32 };
        let input = InputSpec {
            frames: fast + slow,
            stride: 2,
            ..i3d
        };
        for d in ["kinetics400", "custom"] {
            add(
                format!("slowfast_{slow}x{stride}_resnet{depth}{suffix}_{d}"),
                Family::SlowFast(slow, depth, temp),
                d,
                input,
            );
        }
    }
    let r21d = InputSpec {
        frames: 16,
        stride: 2,
        segments: 1,
        size: 112,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
    };
    for depth in [18, 34, 50, 101, 152] {
        for d in ["kinetics400", "custom"] {
            add(
                format!("r2plus1d_resnet{depth}_{d}"),
                Family::R2Plus1d(depth),
                d,
                r21d,
            );
        }
    }
    // C3D eats what R(2+1)D eats: 16 frames at stride 2, 112 px (GluonCV's Kinetics-400 recipe).
    for d in ["kinetics400", "custom"] {
        add(format!("c3d_{d}"), Family::C3d, d, r21d);
    }
    // torchvision's video ResNets: 16-frame 112 px clips (torchvision resamples Kinetics to
    // 15 fps and takes consecutive frames: stride 2 of the usual 30 fps), normalized with
    // torchvision's Kinetics statistics.
    let torchvision = InputSpec {
        frames: 16,
        stride: 2,
        segments: 1,
        size: 112,
        mean: [0.43216, 0.394666, 0.37645],
        std: [0.22803, 0.22145, 0.216989],
    };
    for (arch, stem) in [
        (VideoArch::R3d, "r3d_18"),
        (VideoArch::Mc3, "mc3_18"),
        (VideoArch::R2Plus1d, "r2plus1d_18"),
    ] {
        for d in ["kinetics400", "custom"] {
            add(format!("{stem}_{d}"), Family::VideoResNet(arch), d, torchvision);
        }
    }
    // TSN on VGG16 and Inception v1/v3: GluonCV's recipes train Kinetics-400 on 7 segments and
    // UCF-101 on 3; Inception v3 on 299 px crops.
    for (prefix, family, size) in [
        ("vgg16", Family::TsnVgg16, 224),
        ("inceptionv1", Family::TsnInceptionV1, 224),
        ("inceptionv3", Family::TsnInceptionV3, 299),
    ] {
        for d in ["ucf101", "hmdb51", "kinetics400", "sthsthv2", "custom"] {
            let segments = if matches!(d, "ucf101" | "hmdb51") { 3 } else { 7 };
            add(
                format!("{prefix}_{d}"),
                family,
                d,
                InputSpec {
                    segments,
                    size,
                    ..tsn
                },
            );
        }
    }
    // I3D Inception: 32 frames at stride 2; Inception v3 on 299 px crops.
    for (prefix, family, size) in [
        ("i3d_inceptionv1", Family::I3dInceptionV1, 224),
        ("i3d_inceptionv3", Family::I3dInceptionV3, 299),
    ] {
        for d in ["kinetics400", "custom"] {
            add(format!("{prefix}_{d}"), family, d, InputSpec { size, ..i3d });
        }
    }
    // P3D: 16 frames at stride 2 (it takes 16..=31).
    for depth in [50, 101] {
        for d in ["kinetics400", "custom"] {
            add(
                format!("p3d_resnet{depth}_{d}"),
                Family::P3d(depth),
                d,
                InputSpec { frames: 16, ..i3d },
            );
        }
    }
    // i3d_slow "f16s4": 16 frames at stride 4.
    for d in ["kinetics700", "custom"] {
        add(
            format!("i3d_slow_resnet101_f16s4_{d}"),
            Family::I3dSlow(101),
            d,
            InputSpec {
                frames: 16,
                stride: 4,
                ..i3d
            },
        );
    }
    // kinema's own small models for CPUs: 8 frames at stride 4, 64 px, ImageNet
    // normalization.
    let motion = InputSpec {
        frames: 8,
        stride: 4,
        segments: 1,
        size: 64,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
    };
    add(
        "kinema_motion_custom".into(),
        Family::Motion(16),
        "custom",
        motion,
    );
    add(
        "kinema_r2plus1d_resnet10_w16_custom".into(),
        Family::R2Plus1dNarrow(10, 16),
        "custom",
        motion,
    );
    // The motion net trained on the synthetic dataset's 12 classes, embedded in the binary
    // (`configs/synthetic_default.toml`, then `configs/synthetic_default_stride3.toml`).
    add(
        crate::default::DEFAULT_MODEL.into(),
        Family::Motion(16),
        "synthetic",
        InputSpec { stride: 3, ..motion },
    );
    out
}

/// The registered model `name`, or an error listing the closest names.
pub fn spec(name: &str) -> Result<ModelSpec> {
    let all = models();
    if let Some(s) = all.iter().find(|s| s.name == name) {
        return Ok(s.clone());
    }
    let mut scored: Vec<(usize, String)> = all
        .into_iter()
        .map(|s| (edit_distance(name, &s.name), s.name))
        .collect();
    scored.sort();
    Err(ModelError::UnknownModel {
        name: name.to_string(),
        suggestions: scored.into_iter().take(5).map(|(_, n)| n).collect(),
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != cb) as usize)
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Options of [`get_model`] (GluonCV's `get_model` keywords).
#[derive(Debug, Clone, Default)]
pub struct GetModelOptions {
    /// Classes; required for `_custom`, overrides the dataset's count otherwise.
    pub nclass: Option<usize>,
    /// Segments (TSN) or clips (3-D) averaged per video; default 1.
    pub num_segments: Option<usize>,
    /// Load the published weights from `root`: GluonCV's (`NAME-HASH.params` or
    /// `NAME.params`), or torchvision's (`r3d_18-b3b3357e.pth` or `NAME.pth`).
    pub pretrained: bool,
    /// Model store folder (default `~/.cache/kinema/models`).
    pub root: Option<PathBuf>,
}

/// A built model of any family.
#[derive(Debug)]
pub enum Net {
    /// TSN ResNet: input `[N * segments, 3, H, W]`.
    Tsn(Box<TsnResNet>),
    /// I3D ResNet: input `[N * clips, 3, T, H, W]`.
    I3d(Box<I3dResNet>),
    /// R(2+1)D: input `[N * clips, 3, T, H, W]`.
    R2Plus1d(Box<R2Plus1d>),
    /// SlowFast: input `[N * clips, 3, fast + slow, H, W]`.
    SlowFast(Box<SlowFast>),
    /// kinema's motion net: input `[N * clips, 3, T, H, W]`.
    Motion(Box<MotionNet>),
    /// C3D: input `[N * clips, 3, 16, 112, 112]`.
    C3d(Box<C3d>),
    /// torchvision's video ResNets: input `[N * clips, 3, T, H, W]`.
    VideoResNet(Box<VideoResNet>),
    /// TSN VGG16: input `[N * segments, 3, 224, 224]`.
    TsnVgg16(Box<TsnVgg16>),
    /// TSN GoogLeNet: input `[N * segments, 3, H, W]`, 223..=446 px.
    TsnInceptionV1(Box<TsnInceptionV1>),
    /// TSN Inception v3: input `[N * segments, 3, H, W]`, 299..=554 px.
    TsnInceptionV3(Box<TsnInceptionV3>),
    /// I3D Inception v1 or v3: input `[N * clips, 3, T, H, W]`.
    I3dInception(Box<I3dInception>),
    /// P3D: input `[N * clips, 3, T, H, W]`, T in 16..=31.
    P3d(Box<P3d>),
}

/// Runs `$body` with `$m` bound to the model inside any [`Net`] variant.
macro_rules! each_net {
    ($net:expr, $m:ident => $body:expr) => {
        match $net {
            Net::Tsn($m) => $body,
            Net::I3d($m) => $body,
            Net::R2Plus1d($m) => $body,
            Net::SlowFast($m) => $body,
            Net::Motion($m) => $body,
            Net::C3d($m) => $body,
            Net::VideoResNet($m) => $body,
            Net::TsnVgg16($m) => $body,
            Net::TsnInceptionV1($m) => $body,
            Net::TsnInceptionV3($m) => $body,
            Net::I3dInception($m) => $body,
            Net::P3d($m) => $body,
        }
    };
}

/// Rebuilds a [`Net`] of the same variant from the module `$m` inside it.
macro_rules! map_net {
    ($net:expr, $m:ident => $body:expr) => {
        match $net {
            Net::Tsn($m) => Net::Tsn(Box::new($body)),
            Net::I3d($m) => Net::I3d(Box::new($body)),
            Net::R2Plus1d($m) => Net::R2Plus1d(Box::new($body)),
            Net::SlowFast($m) => Net::SlowFast(Box::new($body)),
            Net::Motion($m) => Net::Motion(Box::new($body)),
            Net::C3d($m) => Net::C3d(Box::new($body)),
            Net::VideoResNet($m) => Net::VideoResNet(Box::new($body)),
            Net::TsnVgg16($m) => Net::TsnVgg16(Box::new($body)),
            Net::TsnInceptionV1($m) => Net::TsnInceptionV1(Box::new($body)),
            Net::TsnInceptionV3($m) => Net::TsnInceptionV3(Box::new($body)),
            Net::I3dInception($m) => Net::I3dInception(Box::new($body)),
            Net::P3d($m) => Net::P3d(Box::new($body)),
        }
    };
}

impl Net {
    /// Input rank: 4 (frames) or 5 (clips).
    pub fn input_rank(&self) -> usize {
        match self {
            Net::Tsn(_) | Net::TsnVgg16(_) | Net::TsnInceptionV1(_) | Net::TsnInceptionV3(_) => 4,
            Net::I3d(_)
            | Net::R2Plus1d(_)
            | Net::SlowFast(_)
            | Net::Motion(_)
            | Net::C3d(_)
            | Net::VideoResNet(_)
            | Net::I3dInception(_)
            | Net::P3d(_) => 5,
        }
    }

    /// Runs `input` (`shape` must have [`input_rank`](Self::input_rank) dims); returns the
    /// logits, or with `features` the classifier's input, as `[N, K]`.
    pub fn run(
        &self,
        shape: &[usize],
        input: Vec<f32>,
        features: bool,
        dev: &Device,
    ) -> Result<(Vec<usize>, Vec<f32>)> {
        let out = self.forward_data(shape, input, features, dev)?;
        let dims = out.dims().to_vec();
        let values = out
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| ModelError::InvalidOption(format!("{e:?}")))?;
        Ok((dims, values))
    }

    /// Like [`run`](Self::run) but keeps the result a tensor on `dev` (on an autodiff device
    /// it carries the graph back to the parameters: what training steps on).
    pub fn forward_data(
        &self,
        shape: &[usize],
        input: Vec<f32>,
        features: bool,
        dev: &Device,
    ) -> Result<Tensor<2>> {
        if shape.len() != self.input_rank() || shape.get(1) != Some(&3) {
            return Err(ModelError::InvalidOption(format!(
                "input shape {shape:?}: this model takes {} ([N, 3, ...])",
                if self.input_rank() == 4 {
                    "[N*segments, 3, H, W]"
                } else {
                    "[N*clips, 3, T, H, W]"
                }
            )));
        }
        if shape.iter().product::<usize>() != input.len() {
            return Err(ModelError::InvalidOption(format!(
                "input shape {shape:?} needs {} values, got {}",
                shape.iter().product::<usize>(),
                input.len()
            )));
        }
        let data = TensorData::new(input, shape.to_vec());
        // A shape the checks above let through but a backend kernel rejects must still come
        // back as an error, not abort the caller.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if self.input_rank() == 4 {
                let x = Tensor::<4>::from_data(data, dev);
                match (self, features) {
                    (Net::Tsn(m), true) => m.features(x),
                    (Net::Tsn(m), false) => m.forward(x),
                    (Net::TsnVgg16(m), true) => m.features(x),
                    (Net::TsnVgg16(m), false) => m.forward(x),
                    (Net::TsnInceptionV1(m), true) => m.features(x),
                    (Net::TsnInceptionV1(m), false) => m.forward(x),
                    (Net::TsnInceptionV3(m), true) => m.features(x),
                    (Net::TsnInceptionV3(m), false) => m.forward(x),
                    _ => unreachable!("rank-4 models are matched here"),
                }
            } else {
                let x = Tensor::<5>::from_data(data, dev);
                match (self, features) {
                    (Net::I3d(m), true) => m.features(x),
                    (Net::I3d(m), false) => m.forward(x),
                    (Net::R2Plus1d(m), true) => m.features(x),
                    (Net::R2Plus1d(m), false) => m.forward(x),
                    (Net::SlowFast(m), true) => m.features(x),
                    (Net::SlowFast(m), false) => m.forward(x),
                    (Net::Motion(m), true) => m.features(x),
                    (Net::Motion(m), false) => m.forward(x),
                    (Net::C3d(m), true) => m.features(x),
                    (Net::C3d(m), false) => m.forward(x),
                    (Net::VideoResNet(m), true) => m.features(x),
                    (Net::VideoResNet(m), false) => m.forward(x),
                    (Net::I3dInception(m), true) => m.features(x),
                    (Net::I3dInception(m), false) => m.forward(x),
                    (Net::P3d(m), true) => m.features(x),
                    (Net::P3d(m), false) => m.forward(x),
                    _ => unreachable!("rank-5 models are matched here"),
                }
            }
        }));
        match run {
            Ok(r) => r,
            Err(p) => {
                let why = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(ModelError::InvalidOption(format!(
                    "input shape {shape:?} rejected by the backend: {why}"
                )))
            }
        }
    }

    /// Applies a burn [`ModuleMapper`] to the model's parameters (what optimizers and weight
    /// loaders do).
    pub fn map<Mp: ModuleMapper>(self, mapper: &mut Mp) -> Net {
        map_net!(self, m => m.map(mapper))
    }

    /// Visits the model's parameters with a burn [`ModuleVisitor`].
    pub fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        each_net!(self, m => m.visit(visitor))
    }

    /// The model without autodiff and with BatchNorm on its running statistics (eval mode).
    pub fn valid(&self) -> Net {
        map_net!(self, m => m.valid())
    }

    /// Gradients of `grads` (from `loss.backward()`) keyed by this model's parameters.
    pub fn gradients(&self, grads: Gradients) -> GradientsParams {
        each_net!(self, m => GradientsParams::from_grads(grads, &**m))
    }

    /// Number of float values in parameters and running statistics.
    pub fn num_params(&self) -> usize {
        each_net!(self, m => m.num_params())
    }

    /// Every parameter and running statistic by its path, dense weights `[out, in]`.
    pub fn tensors(&self) -> Result<Vec<NamedTensor>> {
        // burn folds a BatchNorm's latest running-statistics update in lazily (its visitor sees
        // the value one step behind); `valid` folds it in first, so what is saved is current.
        each_net!(&self.valid(), m => named_tensors(&**m))
    }

    /// Writes the weights (and `metadata`) to a safetensors file, atomically.
    pub fn save_safetensors(&self, path: &Path, metadata: &Metadata) -> Result<()> {
        write_safetensors(path, &self.tensors()?, metadata)
    }

    /// Loads named tensors by kinema's parameter paths (every mismatch an error naming it).
    pub fn load_tensors(self, tensors: Vec<NamedTensor>, path: &Path) -> Result<Net> {
        let same = |p: &str| p.to_string();
        Ok(map_net!(self, m => load_named(*m, tensors, path, &same)?))
    }

    /// Loads a safetensors file written by [`save_safetensors`](Self::save_safetensors) (or any
    /// file with kinema's parameter paths); returns its metadata too.
    pub fn load_safetensors(self, path: &Path) -> Result<(Net, Metadata)> {
        let (tensors, meta) = read_safetensors(path)?;
        Ok((self.load_tensors(tensors, path)?, meta))
    }

    /// Loads weights by file type: `.safetensors`, PyTorch's `.pth` / `.pt`, or GluonCV's
    /// `.params` otherwise.
    pub fn load_weights(self, path: &Path) -> Result<Net> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => Ok(self.load_safetensors(path)?.0),
            Some(e) if is_pth(e) => self.load_pth(path),
            _ => self.load_params(path),
        }
    }

    /// Loads a PyTorch checkpoint (`torch.save` of a state dict, zip or legacy format) into
    /// the model. Its keys are PyTorch's names of kinema's parameter paths (BatchNorm's
    /// `weight`/`bias` for burn's `gamma`/`beta`): torchvision's keys for its video ResNets,
    /// GluonCV's PyTorch port's (`gluoncv.torch`) for I3D (non-local and slow included),
    /// SlowFast and R(2+1)D (see [`Net::torch_key`]). Every missing, unused or mis-shaped entry
    /// is an error naming it by its key in the file.
    pub fn load_pth(self, path: &Path) -> Result<Net> {
        let (tensors, key) = self.torch_tensors(path)?;
        Ok(map_net!(self, m => load_named(*m, tensors, path, &key)?))
    }

    /// A PyTorch checkpoint's tensors under kinema's parameter paths (PyTorch's names mapped
    /// back; keys that name no parameter of this model kept as they are), for callers that
    /// edit a state dict before [`load_tensors`](Self::load_tensors) (fine-tuning swaps the
    /// classifier).
    pub fn read_pth(&self, path: &Path) -> Result<Vec<NamedTensor>> {
        let (mut tensors, key) = self.torch_tensors(path)?;
        let ours: std::collections::HashMap<String, String> = each_net!(self, m => parameter_names(&**m))
            .into_iter()
            .map(|(p, _)| (key(&p), p))
            .collect();
        for t in &mut tensors {
            if let Some(p) = ours.get(&t.name) {
                t.name = p.clone();
            }
        }
        Ok(tensors)
    }

    /// A PyTorch checkpoint's tensors, the port's aliased copies dropped, and the key each
    /// kinema parameter path has in it ([`Net::torch_key`]).
    fn torch_tensors(&self, path: &Path) -> Result<(Vec<NamedTensor>, KeyFn)> {
        let mut tensors = read_pth(path)?;
        let key = self.torch_key(&tensors);
        drop_torch_aliases(&mut tensors);
        Ok((tensors, key))
    }

    /// The key a PyTorch state dict gives kinema parameter path `path` of this net:
    /// [`pytorch_name`], then GluonCV's PyTorch port's module names where they differ from
    /// kinema's (which follow GluonCV's MXNet names): the non-local block's `W`, R(2+1)D's
    /// bottleneck `conv1`, and the slow I3D's `conv1`/`bn1`/`layerN` (`tensors` tell that
    /// naming apart from the other I3Ds' `first_stage`/`res_layers`).
    fn torch_key(&self, tensors: &[NamedTensor]) -> KeyFn {
        let has = |k: &str| tensors.iter().any(|t| t.name == k);
        match self {
            Net::I3d(_) if has("conv1.weight") && !has("first_stage.0.weight") => torch_slow_i3d_key,
            Net::I3d(_) => |p| i3d_gluon_path(&pytorch_name(p)),
            Net::R2Plus1d(_) => |p| r2plus1d_gluon_path(&pytorch_name(p)),
            _ => pytorch_name,
        }
    }

    /// Loads a GluonCV `.params` file into the model (names mapped, aliases accepted, every
    /// mismatch an error).
    pub fn load_params(self, path: &Path) -> Result<Net> {
        let tensors = read_params(path)?;
        // GluonCV's parameter paths where they differ from kinema's.
        let rename: KeyFn = match &self {
            Net::Tsn(_) => |p| p.strip_prefix("backbone.").unwrap_or(p).to_string(),
            Net::I3d(_) => i3d_gluon_path,
            Net::R2Plus1d(_) => r2plus1d_gluon_path,
            Net::TsnVgg16(_) => crate::vgg::gluon_path,
            Net::TsnInceptionV1(_) | Net::TsnInceptionV3(_) | Net::I3dInception(_) => {
                crate::layers::inception::gluon_path
            }
            Net::SlowFast(_) | Net::Motion(_) | Net::C3d(_) | Net::P3d(_) | Net::VideoResNet(_) => {
                |p| p.to_string()
            }
        };
        Ok(map_net!(self, m => load_named(*m, tensors, path, &rename)?))
    }
}

/// Whether a file extension is a PyTorch checkpoint's.
pub fn is_pth(extension: &str) -> bool {
    matches!(extension, "pth" | "pt")
}

/// How a weight file names a kinema parameter path.
type KeyFn = fn(&str) -> String;

/// GluonCV's name (MXNet and PyTorch port alike) of an I3D path: the non-local block's `W`.
fn i3d_gluon_path(path: &str) -> String {
    path.replace(".nonlocal_block.w.", ".nonlocal_block.W.")
}

/// GluonCV's name (MXNet and PyTorch port alike) of an R(2+1)D path: a bottleneck's `conv1`.
fn r2plus1d_gluon_path(path: &str) -> String {
    path.replace(".conv1x1.", ".conv1.")
}

/// GluonCV's PyTorch port saves some modules twice, under a second path that shares the
/// tensors: I3D's `head.1` (the classifier inside its dropout-and-fc `head`) and the non-local
/// block's `W_bn` (`W` and `bn` again). The copies are dropped when the original is there, so a
/// fine-tuned classifier does not leave the old one behind as an unused entry.
fn drop_torch_aliases(tensors: &mut Vec<NamedTensor>) {
    let names: std::collections::HashSet<String> = tensors.iter().map(|t| t.name.clone()).collect();
    let original = |name: &str| -> Option<String> {
        if let Some(rest) = name.strip_prefix("head.1.") {
            return Some(format!("fc.{rest}"));
        }
        let (block, rest) = name.split_once(".nonlocal_block.W_bn.")?;
        let (which, leaf) = rest.split_once('.')?;
        let module = match which {
            "0" => "W",
            "1" => "bn",
            _ => return None,
        };
        Some(format!("{block}.nonlocal_block.{module}.{leaf}"))
    };
    tensors.retain(|t| original(&t.name).is_none_or(|o| !names.contains(&o)));
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

/// PyTorch's name of a kinema parameter path: burn's BatchNorm keeps `gamma`/`beta` where
/// PyTorch's has `weight`/`bias` (the only parameters burn names so).
fn pytorch_name(path: &str) -> String {
    if let Some(p) = path.strip_suffix(".gamma") {
        format!("{p}.weight")
    } else if let Some(p) = path.strip_suffix(".beta") {
        format!("{p}.bias")
    } else {
        path.to_string()
    }
}

/// Reads every parameter once, which makes burn draw lazily initialised values now.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
        let _ = p.val();
    }
}

/// Default model store folder.
pub fn default_root() -> PathBuf {
    std::env::var_os("KINEMA_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kinema/models")
        })
}

/// Builds model `name` (GluonCV's `get_model`).
pub fn get_model(name: &str, o: &GetModelOptions, dev: &Device) -> Result<Net> {
    let s = spec(name)?;
    let nclass = match (o.nclass, s.nclass) {
        (Some(0), _) => return Err(ModelError::InvalidOption("nclass must be at least 1".into())),
        (Some(n), _) => n,
        (None, 0) => {
            return Err(ModelError::InvalidOption(format!(
                "{name} is a _custom model: give nclass"
            )));
        }
        (None, n) => n,
    };
    let segments = o.num_segments.unwrap_or(1).max(1);
    let net = match s.family {
        Family::TsnResNet(depth) => Net::Tsn(Box::new(TsnResNet::new(depth, nclass, segments, dev)?)),
        Family::I3dResNet(depth) => {
            let mut c = I3dConfig::resnet_v1(depth, nclass)?;
            c.num_segments = segments;
            Net::I3d(Box::new(I3dResNet::new(&c, dev)?))
        }
        Family::I3dNonLocal(depth, blocks) => {
            let mut c = I3dConfig::nonlocal_resnet_v1(depth, blocks, nclass)?;
            c.num_segments = segments;
            Net::I3d(Box::new(I3dResNet::new(&c, dev)?))
        }
        Family::SlowFast(slow, depth, temp) => {
            let mut c = SlowFastConfig::gluoncv(slow, depth, nclass)?;
            c.temp_kernel_blocks = temp;
            c.num_segments = segments;
            Net::SlowFast(Box::new(SlowFast::new(&c, dev)?))
        }
        Family::R2Plus1d(depth) => Net::R2Plus1d(Box::new(R2Plus1d::new(depth, nclass, segments, dev)?)),
        Family::Motion(width) => Net::Motion(Box::new(MotionNet::new(width, nclass, segments, dev)?)),
        Family::C3d => Net::C3d(Box::new(C3d::new(nclass, segments, dev)?)),
        Family::VideoResNet(arch) => {
            Net::VideoResNet(Box::new(VideoResNet::new(arch, nclass, segments, dev)?))
        }
        Family::TsnVgg16 => Net::TsnVgg16(Box::new(TsnVgg16::new(nclass, segments, dev))),
        Family::TsnInceptionV1 => Net::TsnInceptionV1(Box::new(TsnInceptionV1::new(nclass, segments, dev))),
        Family::TsnInceptionV3 => Net::TsnInceptionV3(Box::new(TsnInceptionV3::new(nclass, segments, dev))),
        Family::I3dInceptionV1 => Net::I3dInception(Box::new(I3dInception::new(1, nclass, segments, dev)?)),
        Family::I3dInceptionV3 => Net::I3dInception(Box::new(I3dInception::new(3, nclass, segments, dev)?)),
        Family::P3d(depth) => Net::P3d(Box::new(P3d::new(depth, nclass, segments, dev)?)),
        Family::I3dSlow(depth) => {
            let mut c = I3dConfig::slow_resnet(depth, nclass)?;
            c.num_segments = segments;
            Net::I3d(Box::new(I3dResNet::new(&c, dev)?))
        }
        Family::R2Plus1dNarrow(depth, width) => Net::R2Plus1d(Box::new(R2Plus1d::with_width(
            depth, width, nclass, segments, dev,
        )?)),
    };
    if !o.pretrained {
        // burn draws a parameter's initial values lazily, on first read: draw them all here, so
        // the seed the caller set just before decides them whatever runs in between.
        net.visit(&mut Materialize);
        return Ok(net);
    }
    if name == crate::default::DEFAULT_MODEL {
        let src = Path::new(crate::default::DEFAULT_SOURCE);
        let (tensors, _) = crate::weights::decode_safetensors(crate::default::DEFAULT_WEIGHTS, src)?;
        return net.load_tensors(tensors, src);
    }
    let root = o.root.clone().unwrap_or_else(default_root);
    // The published file, else one named after the model in that file's format.
    let own = match s.url {
        Some(_) => format!("{name}.pth"),
        None => format!("{name}.params"),
    };
    let candidates: Vec<PathBuf> = s
        .weight_file()
        .into_iter()
        .chain([own])
        .map(|f| root.join(f))
        .collect();
    match candidates.iter().find(|p| p.exists()) {
        Some(p) => net.load_weights(p),
        None => Err(ModelError::InvalidOption(format!(
            "no pretrained weights for {name} in {} (looked for {}); `kinema models pull {name}` fetches the published file",
            root.display(),
            candidates.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gluoncv_torch_port_names() {
        let t = |name: &str| NamedTensor {
            name: name.into(),
            shape: vec![1],
            data: vec![0.0],
        };
        let mut ts: Vec<NamedTensor> = [
            "fc.weight",
            "fc.bias",
            "head.1.weight",
            "head.1.bias",
            "res_layers.1.1.nonlocal_block.W.weight",
            "res_layers.1.1.nonlocal_block.W_bn.0.weight",
            "res_layers.1.1.nonlocal_block.bn.running_var",
            "res_layers.1.1.nonlocal_block.W_bn.1.running_var",
            // No original beside it: kept, so the loader reports it.
            "res_layers.2.0.nonlocal_block.W_bn.1.bias",
        ]
        .map(t)
        .into();
        drop_torch_aliases(&mut ts);
        let left: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            left,
            [
                "fc.weight",
                "fc.bias",
                "res_layers.1.1.nonlocal_block.W.weight",
                "res_layers.1.1.nonlocal_block.bn.running_var",
                "res_layers.2.0.nonlocal_block.W_bn.1.bias",
            ]
        );
        assert_eq!(torch_slow_i3d_key("first_stage.0.weight"), "conv1.weight");
        assert_eq!(torch_slow_i3d_key("first_stage.1.gamma"), "bn1.weight");
        assert_eq!(torch_slow_i3d_key("res_layers.3.2.bn3.beta"), "layer4.2.bn3.bias");
        assert_eq!(
            torch_slow_i3d_key("res_layers.0.0.downsample.1.running_mean"),
            "layer1.0.downsample.1.running_mean"
        );
        assert_eq!(torch_slow_i3d_key("fc.weight"), "fc.weight");
    }

    #[test]
    fn names_are_unique_and_unknown_names_get_suggestions() {
        let all = models();
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(names.contains(&"i3d_resnet50_v1_kinetics400") && names.contains(&"resnet152_v1b_custom"));
        let e = spec("i3d_resnet50_v1_kinetic400").unwrap_err().to_string();
        assert!(
            e.contains("unknown model") && e.contains("i3d_resnet50_v1_kinetics400"),
            "{e}"
        );
        assert_eq!(
            spec("i3d_resnet50_v1_kinetics400")
                .unwrap()
                .weight_file()
                .unwrap(),
            "i3d_resnet50_v1_kinetics400-568a722e.params"
        );
    }

    #[test]
    fn custom_needs_nclass_and_pretrained_needs_a_file() {
        let dev = Device::flex();
        let e = get_model("resnet18_v1b_custom", &GetModelOptions::default(), &dev)
            .unwrap_err()
            .to_string();
        assert!(e.contains("give nclass"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let o = GetModelOptions {
            pretrained: true,
            root: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let e = get_model("resnet18_v1b_kinetics400", &o, &dev)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("resnet18_v1b_kinetics400-46d5a985.params") && e.contains("models pull"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod seed_tests {
    use super::*;

    /// burn draws a parameter's initial values when it is first read; `get_model` reads them all
    /// at once, so a seed set just before it decides the weights even if the RNG is reseeded
    /// (by another thread, say) before the first forward pass. (Checked on the parameters'
    /// state: other tests of this binary draw from the same global RNG concurrently.)
    #[test]
    fn weights_are_drawn_inside_get_model() {
        struct Lazy(usize, usize);
        impl ModuleVisitor for Lazy {
            fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
                self.0 += 1;
                self.1 += (!p.is_initialized()) as usize;
            }
        }
        let dev = Device::flex();
        let o = GetModelOptions {
            nclass: Some(3),
            ..Default::default()
        };
        for name in ["kinema_motion_custom", "r2plus1d_resnet18_custom"] {
            let net = get_model(name, &o, &dev).unwrap();
            let mut v = Lazy(0, 0);
            net.visit(&mut v);
            assert!(v.0 > 4, "{name}: {} parameters", v.0);
            assert_eq!(v.1, 0, "{name}: {} of {} parameters still lazy", v.1, v.0);
        }
    }
}
