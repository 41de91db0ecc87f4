//! `get_model`: a model by registry name (GluonCV's `get_model`), built from its row's family
//! and, when asked, loaded with its pretrained weights from the store.

use std::path::{Path, PathBuf};

use burn::module::ModuleVisitor;
use burn::tensor::Device;
use burn::Tensor;

use crate::error::{ModelError, Result};
use crate::models::c3d::C3d;
use crate::models::i3d::{I3dConfig, I3dResNet};
use crate::models::inception::{I3dInception, TsnInceptionV1, TsnInceptionV3};
use crate::models::motion::MotionNet;
use crate::models::p3d::P3d;
use crate::models::r2plus1d::R2Plus1d;
use crate::models::slowfast::{SlowFast, SlowFastConfig};
use crate::models::tsn::TsnResNet;
use crate::models::vgg::TsnVgg16;
use crate::models::video_resnet::VideoResNet;
use crate::net::Net;
use crate::registry::{spec, Family};
use crate::store::{default_root, locate, Weights};
use crate::weights::decode_safetensors;

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

/// Reads every parameter once, which makes burn draw lazily initialised values now.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
        let _ = p.val();
    }
}

impl Family {
    /// A model of this family with `nclass` outputs averaging `segments` views, random weights
    /// (not yet drawn: burn draws them on first read).
    fn build(self, nclass: usize, segments: usize, dev: &Device) -> Result<Net> {
        Ok(match self {
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
            Family::TsnInceptionV1 => {
                Net::TsnInceptionV1(Box::new(TsnInceptionV1::new(nclass, segments, dev)))
            }
            Family::TsnInceptionV3 => {
                Net::TsnInceptionV3(Box::new(TsnInceptionV3::new(nclass, segments, dev)))
            }
            Family::I3dInceptionV1 => {
                Net::I3dInception(Box::new(I3dInception::new(1, nclass, segments, dev)?))
            }
            Family::I3dInceptionV3 => {
                Net::I3dInception(Box::new(I3dInception::new(3, nclass, segments, dev)?))
            }
            Family::P3d(depth) => Net::P3d(Box::new(P3d::new(depth, nclass, segments, dev)?)),
            Family::I3dSlow(depth) => {
                let mut c = I3dConfig::slow_resnet(depth, nclass)?;
                c.num_segments = segments;
                Net::I3d(Box::new(I3dResNet::new(&c, dev)?))
            }
            Family::R2Plus1dNarrow(depth, width) => Net::R2Plus1d(Box::new(R2Plus1d::with_width(
                depth, width, nclass, segments, dev,
            )?)),
        })
    }
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
    let net = s.family.build(nclass, segments, dev)?;
    if !o.pretrained {
        // burn draws a parameter's initial values lazily, on first read: draw them all here, so
        // the seed the caller set just before decides them whatever runs in between.
        net.visit(&mut Materialize);
        return Ok(net);
    }
    let root = o.root.clone().unwrap_or_else(default_root);
    match locate(s, &root)? {
        Weights::Embedded { bytes, source } => {
            let src = Path::new(source);
            let (tensors, _) = decode_safetensors(bytes, src)?;
            net.load_tensors(tensors, src)
        }
        Weights::File(p) => net.load_weights(&p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
