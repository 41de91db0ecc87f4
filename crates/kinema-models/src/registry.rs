//! The model registry: every model name kinema builds, one row per name — GluonCV's names
//! exactly (and torchvision's video ResNets as `r3d_18_kinetics400`...) — with its family,
//! dataset, class count, input spec and published weight file. [`spec`] looks a name up;
//! building a model is [`crate::get_model`]'s job, finding its weights the store's.

use kinema_data::{ClipSpec, IMAGENET_MEAN, IMAGENET_STD};
use serde::Serialize;

use crate::default::DEFAULT_MODEL;
use crate::error::{ModelError, Result};
use crate::models::video_resnet::VideoArch;

/// Architecture family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// One registered model: a row of [`MODELS`].
#[derive(Debug, Clone, Serialize)]
pub struct ModelSpec {
    /// GluonCV's name.
    pub name: &'static str,
    /// Architecture.
    pub family: Family,
    /// Dataset suffix (`kinetics400`, `ucf101`, ..., `custom`).
    pub dataset: &'static str,
    /// Classes (0 for `_custom`: the caller says).
    pub nclass: usize,
    /// How the model was trained to be fed (GluonCV's recipe for it).
    pub input: ClipSpec,
    /// SHA-1 of GluonCV's published `.params` (none where GluonCV publishes no weights).
    pub sha1: Option<&'static str>,
    /// Download URL of published weights that are not GluonCV's: torchvision's `.pth`, whose
    /// file name carries the first hex digits of its SHA-256 (torch.hub's check).
    pub url: Option<&'static str>,
}

impl ModelSpec {
    const fn new(name: &'static str, family: Family, dataset: Dataset, input: ClipSpec) -> ModelSpec {
        ModelSpec {
            name,
            family,
            dataset: dataset.0,
            nclass: dataset.1,
            input,
            sha1: None,
            url: None,
        }
    }

    const fn sha1(self, sha1: &'static str) -> ModelSpec {
        ModelSpec {
            sha1: Some(sha1),
            ..self
        }
    }

    const fn url(self, url: &'static str) -> ModelSpec {
        ModelSpec {
            url: Some(url),
            ..self
        }
    }

    /// The published weight file's name: GluonCV's `NAME-SHORTHASH.params`, or the last part
    /// of [`url`](Self::url) (`r3d_18-b3b3357e.pth`).
    pub fn weight_file(&self) -> Option<String> {
        if let Some(u) = self.url {
            return u.rsplit('/').next().map(String::from);
        }
        self.sha1.map(|h| format!("{}-{}.params", self.name, &h[..8]))
    }
}

/// A dataset suffix and its class count (0: the caller says).
type Dataset = (&'static str, usize);
const K400: Dataset = ("kinetics400", 400);
const K700: Dataset = ("kinetics700", 700);
const UCF101: Dataset = ("ucf101", 101);
const HMDB51: Dataset = ("hmdb51", 51);
const STHSTHV2: Dataset = ("sthsthv2", 174);
const CUSTOM: Dataset = ("custom", 0);
const SYNTHETIC: Dataset = ("synthetic", kinema_data::synth::CLASS_NAMES.len());

/// `frames` at `stride`, `segments` of them, `size` px crops of frames decoded at GluonCV's
/// 340x256 for a 224 crop (other crop sizes scale along), ImageNet's statistics.
const fn input(frames: usize, stride: usize, segments: usize, size: u32) -> ClipSpec {
    ClipSpec {
        num_segments: segments,
        new_length: frames,
        new_step: stride,
        new_width: (size * 340).div_ceil(224),
        new_height: (size * 256).div_ceil(224),
        target_width: size,
        target_height: size,
        temporal_jitter: false,
        slowfast: false,
        slow_temporal_stride: 16,
        fast_temporal_stride: 2,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
    }
}

/// GluonCV's SlowFast recipes: `new_length` consecutive frames, the fast pathway every 2nd,
/// the slow one every `slow_stride`-th (4x16: 32 + 4 frames along T).
const fn slowfast(new_length: usize, slow_stride: usize) -> ClipSpec {
    ClipSpec {
        slowfast: true,
        slow_temporal_stride: slow_stride,
        ..input(new_length, 1, 1, 224)
    }
}

// The inputs of GluonCV's recipes.
const TSN: ClipSpec = input(1, 1, 7, 224);
const TSN3: ClipSpec = input(1, 1, 3, 224);
const TSN_299: ClipSpec = input(1, 1, 7, 299);
const TSN3_299: ClipSpec = input(1, 1, 3, 299);
const I3D: ClipSpec = input(32, 2, 1, 224);
const I3D_299: ClipSpec = input(32, 2, 1, 299);
const SLOWFAST_4X16: ClipSpec = slowfast(64, 16);
const SLOWFAST_8X8: ClipSpec = slowfast(64, 8);
const SLOWFAST_16X8: ClipSpec = slowfast(128, 8);
const R21D: ClipSpec = input(16, 2, 1, 112);
const P3D: ClipSpec = input(16, 2, 1, 224);
const SLOW_F16S4: ClipSpec = input(16, 4, 1, 224);
const MOTION: ClipSpec = input(8, 4, 1, 64);
const MOTION_STRIDE3: ClipSpec = input(8, 3, 1, 64);
// torchvision resamples Kinetics to 15 fps and takes consecutive frames (stride 2 of the usual
// 30 fps), normalized with its own Kinetics statistics.
const TORCHVISION: ClipSpec = ClipSpec {
    mean: [0.43216, 0.394666, 0.37645],
    std: [0.22803, 0.22145, 0.216989],
    ..R21D
};

use Family::*;

/// Every registered model, in a stable order: one row per name.
#[rustfmt::skip]
pub static MODELS: &[ModelSpec] = &[
    // TSN ResNet V1b (GluonCV's names, `_custom` for every depth): 7 segments of one 224 px frame.
    ModelSpec::new("resnet18_v1b_kinetics400", TsnResNet(18), K400, TSN).sha1("46d5a9850cdb884eb9c9a95d48269c3d60c94d77"),
    ModelSpec::new("resnet18_v1b_sthsthv2", TsnResNet(18), STHSTHV2, TSN),
    ModelSpec::new("resnet18_v1b_custom", TsnResNet(18), CUSTOM, TSN),
    ModelSpec::new("resnet34_v1b_kinetics400", TsnResNet(34), K400, TSN).sha1("8a8d0d8d395882f836d379aefb4136dce8763d0c"),
    ModelSpec::new("resnet34_v1b_sthsthv2", TsnResNet(34), STHSTHV2, TSN),
    ModelSpec::new("resnet34_v1b_custom", TsnResNet(34), CUSTOM, TSN),
    ModelSpec::new("resnet50_v1b_kinetics400", TsnResNet(50), K400, TSN).sha1("cc757e5c94fdaaea64a8cb5acfbd655ddf6ffa96"),
    ModelSpec::new("resnet50_v1b_sthsthv2", TsnResNet(50), STHSTHV2, TSN).sha1("80ee0c6bef8b0240ec88273531cd7f43e3f6b65d"),
    ModelSpec::new("resnet50_v1b_ucf101", TsnResNet(50), UCF101, TSN),
    ModelSpec::new("resnet50_v1b_hmdb51", TsnResNet(50), HMDB51, TSN).sha1("682591e23ce4b92fbd3222c0710ebb52166fddca"),
    ModelSpec::new("resnet50_v1b_custom", TsnResNet(50), CUSTOM, TSN),
    ModelSpec::new("resnet101_v1b_kinetics400", TsnResNet(101), K400, TSN).sha1("5bb6098ea5343dc0f4bf8536b3771b8ddfe231d7"),
    ModelSpec::new("resnet101_v1b_sthsthv2", TsnResNet(101), STHSTHV2, TSN),
    ModelSpec::new("resnet101_v1b_custom", TsnResNet(101), CUSTOM, TSN),
    ModelSpec::new("resnet152_v1b_kinetics400", TsnResNet(152), K400, TSN).sha1("9bc70c66059854a22e935b42f783ef2bec0377d8"),
    ModelSpec::new("resnet152_v1b_sthsthv2", TsnResNet(152), STHSTHV2, TSN),
    ModelSpec::new("resnet152_v1b_custom", TsnResNet(152), CUSTOM, TSN),
    // I3D ResNet V1: 32 frames at stride 2, 224 px.
    ModelSpec::new("i3d_resnet50_v1_kinetics400", I3dResNet(50), K400, I3D).sha1("568a722eb61da663e11b582886ddbef9ef8f6ac6"),
    ModelSpec::new("i3d_resnet50_v1_sthsthv2", I3dResNet(50), STHSTHV2, I3D).sha1("01961e4cccf6405cd1342670b9525c21c578c9d4"),
    ModelSpec::new("i3d_resnet50_v1_ucf101", I3dResNet(50), UCF101, I3D).sha1("760d0981094787b8789ee4a8c382d09d493c7413"),
    ModelSpec::new("i3d_resnet50_v1_hmdb51", I3dResNet(50), HMDB51, I3D).sha1("2ec6bf01a55af38579380e6531d0ecc816862abe"),
    ModelSpec::new("i3d_resnet50_v1_custom", I3dResNet(50), CUSTOM, I3D),
    ModelSpec::new("i3d_resnet101_v1_kinetics400", I3dResNet(101), K400, I3D).sha1("6b69f655c60823bd05a83fe076c61d6c297add0d"),
    ModelSpec::new("i3d_resnet101_v1_custom", I3dResNet(101), CUSTOM, I3D),
    // Non-local I3D.
    ModelSpec::new("i3d_nl5_resnet50_v1_kinetics400", I3dNonLocal(50, 5), K400, I3D).sha1("3c0e47ea5ee699c3e1f706c9df7a74dbd6321b11"),
    ModelSpec::new("i3d_nl5_resnet50_v1_custom", I3dNonLocal(50, 5), CUSTOM, I3D),
    ModelSpec::new("i3d_nl10_resnet50_v1_kinetics400", I3dNonLocal(50, 10), K400, I3D).sha1("bfb58c4127705ad6e98f4916abde0c849e2f1288"),
    ModelSpec::new("i3d_nl10_resnet50_v1_custom", I3dNonLocal(50, 10), CUSTOM, I3D),
    ModelSpec::new("i3d_nl5_resnet101_v1_kinetics400", I3dNonLocal(101, 5), K400, I3D).sha1("fbfc1d30d90c304295dedd6c70b037d100e43d5f"),
    ModelSpec::new("i3d_nl5_resnet101_v1_custom", I3dNonLocal(101, 5), CUSTOM, I3D),
    ModelSpec::new("i3d_nl10_resnet101_v1_kinetics400", I3dNonLocal(101, 10), K400, I3D).sha1("59186c31dea2f20940a358fc8ea5199cd6d4303c"),
    ModelSpec::new("i3d_nl10_resnet101_v1_custom", I3dNonLocal(101, 10), CUSTOM, I3D),
    // SlowFast: GluonCV's recipes, consecutive frames split into fast + slow pathways along T
    // (32 + 4, 32 + 8, 64 + 16).
    ModelSpec::new("slowfast_4x16_resnet50_kinetics400", SlowFast(4, 50, None), K400, SLOWFAST_4X16).sha1("9d650f5186ffc08348f8d7384d6994a8f39a03b1"),
    ModelSpec::new("slowfast_4x16_resnet50_custom", SlowFast(4, 50, None), CUSTOM, SLOWFAST_4X16),
    ModelSpec::new("slowfast_8x8_resnet50_kinetics400", SlowFast(8, 50, None), K400, SLOWFAST_8X8).sha1("d6b253398615a21d8b2a827ddfb09c0d8827f79c"),
    ModelSpec::new("slowfast_8x8_resnet50_custom", SlowFast(8, 50, None), CUSTOM, SLOWFAST_8X8),
    ModelSpec::new("slowfast_4x16_resnet101_kinetics400", SlowFast(4, 101, None), K400, SLOWFAST_4X16),
    ModelSpec::new("slowfast_4x16_resnet101_custom", SlowFast(4, 101, None), CUSTOM, SLOWFAST_4X16),
    ModelSpec::new("slowfast_8x8_resnet101_kinetics400", SlowFast(8, 101, None), K400, SLOWFAST_8X8).sha1("fbde1a7cfdaeeba7190dd15f284b91036bf5f3f6"),
    ModelSpec::new("slowfast_8x8_resnet101_custom", SlowFast(8, 101, None), CUSTOM, SLOWFAST_8X8),
    ModelSpec::new("slowfast_16x8_resnet101_kinetics400", SlowFast(16, 101, None), K400, SLOWFAST_16X8),
    ModelSpec::new("slowfast_16x8_resnet101_custom", SlowFast(16, 101, None), CUSTOM, SLOWFAST_16X8),
    ModelSpec::new("slowfast_16x8_resnet101_50_50_kinetics400", SlowFast(16, 101, Some(6)), K400, SLOWFAST_16X8),
    ModelSpec::new("slowfast_16x8_resnet101_50_50_custom", SlowFast(16, 101, Some(6)), CUSTOM, SLOWFAST_16X8),
    // R(2+1)D: 16 frames at stride 2, 112 px.
    ModelSpec::new("r2plus1d_resnet18_kinetics400", R2Plus1d(18), K400, R21D).sha1("5a14d1f9772e523bbeae8484ec382feb30b74ffa"),
    ModelSpec::new("r2plus1d_resnet18_custom", R2Plus1d(18), CUSTOM, R21D),
    ModelSpec::new("r2plus1d_resnet34_kinetics400", R2Plus1d(34), K400, R21D).sha1("de2e592b450b9007705507d5167859d45e782695"),
    ModelSpec::new("r2plus1d_resnet34_custom", R2Plus1d(34), CUSTOM, R21D),
    ModelSpec::new("r2plus1d_resnet50_kinetics400", R2Plus1d(50), K400, R21D).sha1("deaefb14d31c703115a911828534d24ac68c7fb0"),
    ModelSpec::new("r2plus1d_resnet50_custom", R2Plus1d(50), CUSTOM, R21D),
    ModelSpec::new("r2plus1d_resnet101_kinetics400", R2Plus1d(101), K400, R21D),
    ModelSpec::new("r2plus1d_resnet101_custom", R2Plus1d(101), CUSTOM, R21D),
    ModelSpec::new("r2plus1d_resnet152_kinetics400", R2Plus1d(152), K400, R21D),
    ModelSpec::new("r2plus1d_resnet152_custom", R2Plus1d(152), CUSTOM, R21D),
    // C3D eats what R(2+1)D eats (GluonCV's Kinetics-400 recipe).
    ModelSpec::new("c3d_kinetics400", C3d, K400, R21D).sha1("a007b5faf2927c5c4afe78db40756273f33a84e6"),
    ModelSpec::new("c3d_custom", C3d, CUSTOM, R21D),
    // torchvision's video ResNets: 16-frame 112 px clips, torchvision's Kinetics statistics.
    ModelSpec::new("r3d_18_kinetics400", VideoResNet(VideoArch::R3d), K400, TORCHVISION)
        .url("https://download.pytorch.org/models/r3d_18-b3b3357e.pth"),
    ModelSpec::new("r3d_18_custom", VideoResNet(VideoArch::R3d), CUSTOM, TORCHVISION),
    ModelSpec::new("mc3_18_kinetics400", VideoResNet(VideoArch::Mc3), K400, TORCHVISION)
        .url("https://download.pytorch.org/models/mc3_18-a90a0ba3.pth"),
    ModelSpec::new("mc3_18_custom", VideoResNet(VideoArch::Mc3), CUSTOM, TORCHVISION),
    ModelSpec::new("r2plus1d_18_kinetics400", VideoResNet(VideoArch::R2Plus1d), K400, TORCHVISION)
        .url("https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth"),
    ModelSpec::new("r2plus1d_18_custom", VideoResNet(VideoArch::R2Plus1d), CUSTOM, TORCHVISION),
    // TSN VGG16 and Inception v1/v3: 7 segments (UCF-101 and HMDB-51: 3); Inception v3 at 299 px.
    ModelSpec::new("vgg16_ucf101", TsnVgg16, UCF101, TSN3).sha1("d6dc1bbaaf3cbe0be19f02362706393f62ce76fa"),
    ModelSpec::new("vgg16_hmdb51", TsnVgg16, HMDB51, TSN3),
    ModelSpec::new("vgg16_kinetics400", TsnVgg16, K400, TSN),
    ModelSpec::new("vgg16_sthsthv2", TsnVgg16, STHSTHV2, TSN),
    ModelSpec::new("vgg16_custom", TsnVgg16, CUSTOM, TSN),
    ModelSpec::new("inceptionv1_ucf101", TsnInceptionV1, UCF101, TSN3),
    ModelSpec::new("inceptionv1_hmdb51", TsnInceptionV1, HMDB51, TSN3),
    ModelSpec::new("inceptionv1_kinetics400", TsnInceptionV1, K400, TSN).sha1("6dcdafb1dd19866fdd3116cbe3689adb85824b2c"),
    ModelSpec::new("inceptionv1_sthsthv2", TsnInceptionV1, STHSTHV2, TSN),
    ModelSpec::new("inceptionv1_custom", TsnInceptionV1, CUSTOM, TSN),
    ModelSpec::new("inceptionv3_ucf101", TsnInceptionV3, UCF101, TSN3_299).sha1("13ef5c3bd40141f11c5b4e471f8f2ad0c1ac6299"),
    ModelSpec::new("inceptionv3_hmdb51", TsnInceptionV3, HMDB51, TSN3_299),
    ModelSpec::new("inceptionv3_kinetics400", TsnInceptionV3, K400, TSN_299).sha1("8a4a6946893de23937b5e5e4a1a449800d57ff71"),
    ModelSpec::new("inceptionv3_sthsthv2", TsnInceptionV3, STHSTHV2, TSN_299),
    ModelSpec::new("inceptionv3_custom", TsnInceptionV3, CUSTOM, TSN_299),
    // I3D Inception v1/v3: 32 frames at stride 2; v3 at 299 px.
    ModelSpec::new("i3d_inceptionv1_kinetics400", I3dInceptionV1, K400, I3D).sha1("81e0be1043ea4c68a4a0a439918c7b888ee5545b"),
    ModelSpec::new("i3d_inceptionv1_custom", I3dInceptionV1, CUSTOM, I3D),
    ModelSpec::new("i3d_inceptionv3_kinetics400", I3dInceptionV3, K400, I3D_299).sha1("f14f8a99007200ef56521b6a844f662784a8f5de"),
    ModelSpec::new("i3d_inceptionv3_custom", I3dInceptionV3, CUSTOM, I3D_299),
    // P3D: 16 frames at stride 2 (it takes 16..=31), 224 px.
    ModelSpec::new("p3d_resnet50_kinetics400", P3d(50), K400, P3D).sha1("671ba81c2b287ce3b9aa2393e15ff1562b705c4d"),
    ModelSpec::new("p3d_resnet50_custom", P3d(50), CUSTOM, P3D),
    ModelSpec::new("p3d_resnet101_kinetics400", P3d(101), K400, P3D).sha1("b30e3a6389c3a12867fe41bb3838f407d47aed2b"),
    ModelSpec::new("p3d_resnet101_custom", P3d(101), CUSTOM, P3D),
    // Slow-only I3D "f16s4": 16 frames at stride 4.
    ModelSpec::new("i3d_slow_resnet101_f16s4_kinetics700", I3dSlow(101), K700, SLOW_F16S4).sha1("299b1d9d8a2bcf7c122acd0d23606af4fdfbe7e1"),
    ModelSpec::new("i3d_slow_resnet101_f16s4_custom", I3dSlow(101), CUSTOM, SLOW_F16S4),
    // kinema's own small models for CPUs: 8 frames at stride 4, 64 px.
    ModelSpec::new("kinema_motion_custom", Motion(16), CUSTOM, MOTION),
    ModelSpec::new("kinema_r2plus1d_resnet10_w16_custom", R2Plus1dNarrow(10, 16), CUSTOM, MOTION),
    // The motion net trained on the synthetic dataset's classes, embedded in the binary.
    ModelSpec::new(DEFAULT_MODEL, Motion(16), SYNTHETIC, MOTION_STRIDE3),
];

/// Every registered model, in a stable order.
pub fn models() -> &'static [ModelSpec] {
    MODELS
}

/// The registered model `name`, or an error listing the closest names.
pub fn spec(name: &str) -> Result<&'static ModelSpec> {
    if let Some(s) = MODELS.iter().find(|s| s.name == name) {
        return Ok(s);
    }
    let mut scored: Vec<(usize, &str)> = MODELS
        .iter()
        .map(|s| (edit_distance(name, s.name), s.name))
        .collect();
    scored.sort();
    Err(ModelError::UnknownModel {
        name: name.to_string(),
        suggestions: scored.into_iter().take(5).map(|(_, n)| n.to_string()).collect(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_unknown_names_get_suggestions() {
        let mut names: Vec<&str> = models().iter().map(|s| s.name).collect();
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
    fn every_row_is_consistent() {
        for s in models() {
            // A name ends with its dataset (the embedded default is kinema's own name).
            assert!(
                s.name.ends_with(s.dataset) || s.name == DEFAULT_MODEL,
                "{}",
                s.name
            );
            assert_eq!(s.nclass == 0, s.dataset == "custom", "{}", s.name);
            assert!(
                s.sha1.is_none() || s.url.is_none(),
                "{}: two published files",
                s.name
            );
            if let Some(h) = s.sha1 {
                assert!(
                    h.len() == 40 && h.bytes().all(|c| c.is_ascii_hexdigit()),
                    "{}",
                    s.name
                );
            }
            if s.dataset == "custom" {
                assert!(
                    s.sha1.is_none() && s.url.is_none(),
                    "{}: _custom has no weights",
                    s.name
                );
            }
        }
    }
}
