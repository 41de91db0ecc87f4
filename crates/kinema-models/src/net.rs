//! [`Net`]: a built model of any family. The variant list below is the only place that names
//! the families' types: the enum and every dispatch over it are generated from it, and each
//! family's rules (input rank, weight-file keys) come from its [`Architecture`].

use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Gradients, TensorData};
use burn::Tensor;

use crate::arch::Architecture;
use crate::error::{ModelError, Result};
use crate::models::c3d::C3d;
use crate::models::i3d::I3dResNet;
use crate::models::inception::{I3dInception, TsnInceptionV1, TsnInceptionV3};
use crate::models::motion::MotionNet;
use crate::models::p3d::P3d;
use crate::models::r2plus1d::R2Plus1d;
use crate::models::slowfast::SlowFast;
use crate::models::tsn::TsnResNet;
use crate::models::vgg::TsnVgg16;
use crate::models::video_resnet::VideoResNet;
use crate::weights::{
    drop_torch_aliases, load_named, named_tensors, parameter_names, read_params, read_pth, read_safetensors,
    write_safetensors, KeyFn, Metadata, NamedTensor,
};

/// Defines [`Net`] with one variant per listed type, and the methods that dispatch over it.
macro_rules! nets {
    ($($(#[$doc:meta])* $variant:ident($ty:ty),)*) => {
        /// A built model of any family.
        #[derive(Debug)]
        pub enum Net {
            $($(#[$doc])* $variant(Box<$ty>),)*
        }

        impl Net {
            /// Input rank: 4 (frames) or 5 (clips).
            pub fn input_rank(&self) -> usize {
                match self {
                    $(Net::$variant(_) => <$ty as Architecture>::INPUT_RANK,)*
                }
            }

            /// The eval forward on an input of `shape` as a graph for the CPU engine.
            pub fn lower(&self, shape: &[usize], features: bool) -> Result<crate::engine::Graph> {
                self.check_shape(shape)?;
                let (mut g, x) = crate::engine::Graph::new(shape);
                let out = match self {
                    $(Net::$variant(m) => m.lower(&mut g, x, features)?,)*
                };
                if out.0 + 1 != g.nodes.len() {
                    return Err(ModelError::InvalidOption("the graph's output is not its last node".into()));
                }
                Ok(g)
            }

            fn run_checked(&self, data: TensorData, features: bool, dev: &Device) -> Result<Tensor<2>> {
                match self {
                    $(Net::$variant(m) => m.run_data(data, features, dev),)*
                }
            }

            /// Applies a burn [`ModuleMapper`] to the model's parameters (what optimizers and
            /// weight loaders do).
            pub fn map<Mp: ModuleMapper>(self, mapper: &mut Mp) -> Net {
                match self {
                    $(Net::$variant(m) => Net::$variant(Box::new(m.map(mapper))),)*
                }
            }

            /// Visits the model's parameters with a burn [`ModuleVisitor`].
            pub fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
                match self {
                    $(Net::$variant(m) => m.visit(visitor),)*
                }
            }

            /// The model without autodiff and with BatchNorm on its running statistics (eval mode).
            pub fn valid(&self) -> Net {
                match self {
                    $(Net::$variant(m) => Net::$variant(Box::new(m.valid())),)*
                }
            }

            /// Gradients of `grads` (from `loss.backward()`) keyed by this model's parameters.
            pub fn gradients(&self, grads: Gradients) -> GradientsParams {
                match self {
                    $(Net::$variant(m) => GradientsParams::from_grads(grads, &**m),)*
                }
            }

            /// Number of float values in parameters and running statistics.
            pub fn num_params(&self) -> usize {
                match self {
                    $(Net::$variant(m) => m.num_params(),)*
                }
            }

            /// Every parameter and running statistic by its path, dense weights `[out, in]`.
            pub fn tensors(&self) -> Result<Vec<NamedTensor>> {
                // burn folds a BatchNorm's latest running-statistics update in lazily (its
                // visitor sees the value one step behind); `valid` folds it in first, so what
                // is saved is current.
                match self.valid() {
                    $(Net::$variant(m) => named_tensors(&*m),)*
                }
            }

            /// Every parameter path with its shape.
            pub fn parameter_names(&self) -> Vec<(String, Vec<usize>)> {
                match self {
                    $(Net::$variant(m) => parameter_names(&**m),)*
                }
            }

            /// Loads `tensors` into the model, each entry's name being `key` of a parameter
            /// path (every missing, unused or mis-shaped entry an error naming it).
            fn load_keyed(self, tensors: Vec<NamedTensor>, path: &Path, key: &dyn Fn(&str) -> String) -> Result<Net> {
                Ok(match self {
                    $(Net::$variant(m) => Net::$variant(Box::new(load_named(*m, tensors, path, key)?)),)*
                })
            }

            /// How GluonCV's `.params` name this model's parameter paths.
            fn gluon_key(&self) -> KeyFn {
                match self {
                    $(Net::$variant(_) => <$ty as Architecture>::gluon_key,)*
                }
            }

            /// How a PyTorch checkpoint with entries `tensors` names this model's parameter paths.
            fn torch_key(&self, tensors: &[NamedTensor]) -> KeyFn {
                match self {
                    $(Net::$variant(_) => <$ty as Architecture>::torch_key(tensors),)*
                }
            }
        }
    };
}

nets! {
    /// TSN ResNet: input `[N * segments, 3, H, W]`.
    Tsn(TsnResNet),
    /// I3D ResNet (non-local and slow-only too): input `[N * clips, 3, T, H, W]`.
    I3d(I3dResNet),
    /// R(2+1)D: input `[N * clips, 3, T, H, W]`.
    R2Plus1d(R2Plus1d),
    /// SlowFast: input `[N * clips, 3, fast + slow, H, W]`.
    SlowFast(SlowFast),
    /// kinema's motion net: input `[N * clips, 3, T, H, W]`.
    Motion(MotionNet),
    /// C3D: input `[N * clips, 3, 16, 112, 112]`.
    C3d(C3d),
    /// torchvision's video ResNets: input `[N * clips, 3, T, H, W]`.
    VideoResNet(VideoResNet),
    /// TSN VGG16: input `[N * segments, 3, 224, 224]`.
    TsnVgg16(TsnVgg16),
    /// TSN GoogLeNet: input `[N * segments, 3, H, W]`, 223..=446 px.
    TsnInceptionV1(TsnInceptionV1),
    /// TSN Inception v3: input `[N * segments, 3, H, W]`, 299..=554 px.
    TsnInceptionV3(TsnInceptionV3),
    /// I3D Inception v1 or v3: input `[N * clips, 3, T, H, W]`.
    I3dInception(I3dInception),
    /// P3D: input `[N * clips, 3, T, H, W]`, T in 16..=31.
    P3d(P3d),
}

impl Net {
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

    /// An input shape of the model's rank with 3 channels and no empty dimension.
    pub fn check_shape(&self, shape: &[usize]) -> Result<()> {
        // More values than any machine holds would overflow the sizes computed from the shape.
        let values = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if values.is_none_or(|n| n > 1 << 40) {
            return Err(ModelError::InvalidOption(format!(
                "input shape {shape:?}: too many values"
            )));
        }
        if shape.len() != self.input_rank() || shape.get(1) != Some(&3) || shape.contains(&0) {
            return Err(ModelError::InvalidOption(format!(
                "input shape {shape:?}: this model takes {} ([N, 3, ...], no dimension 0)",
                if self.input_rank() == 4 {
                    "[N*segments, 3, H, W]"
                } else {
                    "[N*clips, 3, T, H, W]"
                }
            )));
        }
        Ok(())
    }

    /// [`check_shape`](Self::check_shape), and `values` values for it.
    pub fn check_input(&self, shape: &[usize], values: usize) -> Result<()> {
        self.check_shape(shape)?;
        if shape.iter().product::<usize>() != values {
            return Err(ModelError::InvalidOption(format!(
                "input shape {shape:?} needs {} values, got {values}",
                shape.iter().product::<usize>()
            )));
        }
        Ok(())
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
        self.check_input(shape, input.len())?;
        let data = TensorData::new(input, shape.to_vec());
        // A shape the checks above let through but a backend kernel rejects must still come
        // back as an error, not abort the caller.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run_checked(data, features, dev)
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

    /// Writes the weights (and `metadata`) to a safetensors file, atomically.
    pub fn save_safetensors(&self, path: &Path, metadata: &Metadata) -> Result<()> {
        write_safetensors(path, &self.tensors()?, metadata)
    }

    /// Loads named tensors by kinema's parameter paths (every mismatch an error naming it).
    pub fn load_tensors(self, tensors: Vec<NamedTensor>, path: &Path) -> Result<Net> {
        self.load_keyed(tensors, path, &|p| p.to_string())
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
    /// SlowFast and R(2+1)D (each family's [`Architecture::torch_key`]). Every missing, unused
    /// or mis-shaped entry is an error naming it by its key in the file.
    pub fn load_pth(self, path: &Path) -> Result<Net> {
        let (tensors, key) = self.torch_tensors(path)?;
        self.load_keyed(tensors, path, &key)
    }

    /// A PyTorch checkpoint's tensors under kinema's parameter paths (PyTorch's names mapped
    /// back; keys that name no parameter of this model kept as they are), for callers that
    /// edit a state dict before [`load_tensors`](Self::load_tensors) (fine-tuning swaps the
    /// classifier).
    pub fn read_pth(&self, path: &Path) -> Result<Vec<NamedTensor>> {
        let (mut tensors, key) = self.torch_tensors(path)?;
        let ours: std::collections::HashMap<String, String> = self
            .parameter_names()
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
    /// kinema parameter path has in it.
    fn torch_tensors(&self, path: &Path) -> Result<(Vec<NamedTensor>, KeyFn)> {
        let mut tensors = read_pth(path)?;
        let key = self.torch_key(&tensors);
        drop_torch_aliases(&mut tensors);
        Ok((tensors, key))
    }

    /// Loads a GluonCV `.params` file into the model (names mapped, aliases accepted, every
    /// mismatch an error).
    pub fn load_params(self, path: &Path) -> Result<Net> {
        let tensors = read_params(path)?;
        let key = self.gluon_key();
        self.load_keyed(tensors, path, &key)
    }
}

/// Whether a file extension is a PyTorch checkpoint's.
pub fn is_pth(extension: &str) -> bool {
    matches!(extension, "pth" | "pt")
}
