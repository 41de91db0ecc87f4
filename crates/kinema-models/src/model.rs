//! [`Model`]: a built network with its card (what it is, its classes, how to feed it) — what
//! predict, eval, tag, extract and Python run — and [`ModelSource`], how a user names one.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::tensor::Device;

use crate::card::ModelCard;
use crate::default::{DEFAULT_MODEL, DEFAULT_SOURCE, DEFAULT_WEIGHTS};
use crate::engine::{PackedWeights, Plan};
use crate::error::{ModelError, Result};
use crate::net::{is_pth, Net};
use crate::registry::spec;
use crate::weights::decode_safetensors;
use crate::zoo::{get_model, GetModelOptions};

/// Which code runs a model's eval forward on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuEngine {
    /// oneDNN: the network lowered once per input shape, BatchNorm folded, post-ops fused
    /// (the default).
    #[default]
    Onednn,
    /// burn's ops (what training and the GPU run).
    Burn,
}

impl std::str::FromStr for CpuEngine {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<CpuEngine, String> {
        match s {
            "onednn" | "dnnl" => Ok(CpuEngine::Onednn),
            "burn" => Ok(CpuEngine::Burn),
            _ => Err(format!("engine {s:?}: expected onednn or burn")),
        }
    }
}

/// Compiled plans by (input shape, features); a few, since a loader's batches have one or two
/// shapes (the last batch may be smaller). Their weights are packed once for all of them.
#[derive(Debug, Default)]
struct Plans(Mutex<PlanCache>);

#[derive(Debug, Default)]
struct PlanCache {
    plans: Vec<(PlanKey, Plan)>,
    packed: PackedWeights,
}

/// A plan's input shape and whether it stops at the features.
type PlanKey = (Vec<usize>, bool);

const PLANS_KEPT: usize = 4;

/// A built network (eval mode when it comes from here) and its card.
#[derive(Debug)]
pub struct Model {
    /// The network. [`run`](Self::run) compiles plans from it and keeps them: a model whose
    /// network changes is a new `Model` ([`Model::new`]).
    pub net: Net,
    /// Registry name, class names and clip parameters.
    pub card: ModelCard,
    /// The CPU engine [`run`](Self::run) uses.
    pub engine: CpuEngine,
    plans: Plans,
}

/// Which model to build: a kinema model file (safetensors with its card), a registry name
/// (with `weights`, or the published file from the model store), or `None` for the embedded
/// default. What the CLI's `--model`/`--weights` and Python's `get_model` say.
#[derive(Debug, Clone, Default)]
pub struct ModelSource {
    /// File, registry name, or `None` (the embedded default, `kinema_motion_default`).
    pub model: Option<String>,
    /// Weights for a registry name (.params, .pth/.pt or .safetensors).
    pub weights: Option<PathBuf>,
    /// Class names for a registry name (default `class_0`, `class_1`, ...).
    pub classes: Option<Vec<String>>,
    /// Classes of a `_custom` registry name.
    pub nclass: Option<usize>,
    /// A registry name without `weights` loads the published weights from the model store
    /// (the CLI); false builds it with random weights (GluonCV's `pretrained=False`).
    pub pretrained: bool,
}

impl Model {
    /// `net` (in eval mode) with its card, on the default CPU engine.
    pub fn new(net: Net, card: ModelCard) -> Model {
        Model {
            net,
            card,
            engine: CpuEngine::default(),
            plans: Plans::default(),
        }
    }

    /// Runs `input` (`shape` of the network's rank): the logits, or with `features` the
    /// classifier's input, as `[N, K]`. On the CPU (`Device::flex()`) with the oneDNN engine,
    /// the network is lowered and compiled once per input shape and the plan reused; elsewhere
    /// it is burn's forward ([`Net::run`]).
    pub fn run(
        &self,
        shape: &[usize],
        input: Vec<f32>,
        features: bool,
        dev: &Device,
    ) -> Result<(Vec<usize>, Vec<f32>)> {
        if self.engine != CpuEngine::Onednn || *dev != Device::flex() {
            return self.net.run(shape, input, features, dev);
        }
        self.with_plan(shape, input.len(), features, |plan| {
            let y = plan.run(&input)?;
            Ok((plan.output_shape().to_vec(), y))
        })
    }

    /// `f` on the oneDNN plan for (`shape`, `features`), compiled now (its weights packed into
    /// the model's shared cache) unless a cached one exists; `values` is the input's length.
    fn with_plan<R>(
        &self,
        shape: &[usize],
        values: usize,
        features: bool,
        f: impl FnOnce(&mut Plan) -> Result<R>,
    ) -> Result<R> {
        self.net.check_input(shape, values)?;
        // A run that panicked may have left a plan half run: start again from no plans.
        let mut cache = self.plans.0.lock().unwrap_or_else(|poisoned| {
            let mut c = poisoned.into_inner();
            *c = PlanCache::default();
            c
        });
        let PlanCache { plans, packed } = &mut *cache;
        let key = (shape.to_vec(), features);
        let i = match plans.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let plan = Plan::compile_with(&self.net.lower(shape, features)?, packed)?;
                if plans.len() >= PLANS_KEPT {
                    plans.remove(0);
                }
                plans.push((key, plan));
                plans.len() - 1
            }
        };
        f(&mut plans[i].1)
    }

    /// The oneDNN plan for `shape` (compiled now unless cached) timed step by step on `input`:
    /// `(step, ms)` in execution order (see [`Plan::steps`]).
    pub fn profile(&self, shape: &[usize], input: &[f32], features: bool) -> Result<Vec<(String, f64)>> {
        self.with_plan(shape, input.len(), features, |plan| {
            let times = plan.profile(input)?;
            Ok(plan.steps().iter().cloned().zip(times).collect())
        })
    }

    /// The input shape of `n` videos' views as this model takes them: frames
    /// `[n * segments, 3, H, W]` for TSN models, clips `[n, 3, T, H, W]` for 3-D ones, with the
    /// card's crop size and frame count.
    pub fn input_shape(&self, n: usize) -> Vec<usize> {
        let c = &self.card.input;
        let (h, w) = (c.target_height as usize, c.target_width as usize);
        if self.net.input_rank() == 4 {
            vec![n * self.segments_in_model(), 3, h, w]
        } else {
            vec![n, 3, c.frames_per_view(), h, w]
        }
    }

    /// The embedded default (`kinema_motion_default`), in eval mode.
    pub fn embedded_default(dev: &Device) -> Result<Model> {
        Model::from_bytes(DEFAULT_WEIGHTS, Path::new(DEFAULT_SOURCE), dev)
    }

    /// The model a kinema safetensors file describes (its card's registry name and classes),
    /// weights loaded, in eval mode. A TSN model averages the card's segments itself; 3-D
    /// models take clips one by one and the caller averages views.
    pub fn from_bytes(bytes: &[u8], path: &Path, dev: &Device) -> Result<Model> {
        let (tensors, meta) = decode_safetensors(bytes, path)?;
        let card = ModelCard::from_metadata(&meta, path)?;
        let segments = spec(&card.model)?
            .family
            .segments_in_model(card.input.num_segments);
        let o = GetModelOptions {
            nclass: Some(card.nclass()),
            num_segments: Some(segments),
            ..Default::default()
        };
        let net = get_model(&card.model, &o, dev)?.load_tensors(tensors, path)?;
        Ok(Model::new(net.valid(), card))
    }

    /// [`from_bytes`](Self::from_bytes) on a file.
    pub fn from_file(path: &Path, dev: &Device) -> Result<Model> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Model::from_bytes(&bytes, path, dev)
    }

    /// The model `src` names, in eval mode.
    pub fn load(src: &ModelSource, dev: &Device) -> Result<Model> {
        let Some(m) = src.model.as_deref() else {
            return Model::embedded_default(dev);
        };
        let as_path = Path::new(m);
        if as_path.extension().and_then(|e| e.to_str()).is_some_and(is_pth) {
            return Err(ModelError::InvalidOption(format!(
                "{m}: a PyTorch checkpoint holds weights only, no model card: give the registry name \
                 as the model and {m} as its weights"
            )));
        }
        if as_path.exists() || m.ends_with(".safetensors") {
            if src.weights.is_some() {
                return Err(ModelError::InvalidOption(format!(
                    "weights go with a registry name, not with the model file {m}"
                )));
            }
            return Model::from_file(as_path, dev);
        }
        if m == DEFAULT_MODEL && src.weights.is_none() {
            return Model::embedded_default(dev);
        }
        let spec = spec(m)?;
        let classes = match &src.classes {
            Some(c) if c.is_empty() => {
                return Err(ModelError::InvalidOption(format!("{m}: the class list is empty")))
            }
            Some(c) => c.clone(),
            None => {
                let n = src.nclass.unwrap_or(spec.nclass);
                if n == 0 {
                    return Err(ModelError::InvalidOption(format!(
                        "{m} is a _custom model: give the number of classes or their names"
                    )));
                }
                (0..n).map(|k| format!("class_{k}")).collect()
            }
        };
        let o = GetModelOptions {
            nclass: Some(classes.len()),
            num_segments: Some(spec.family.segments_in_model(spec.input.num_segments)),
            pretrained: src.weights.is_none() && src.pretrained,
            ..Default::default()
        };
        let mut net = get_model(m, &o, dev)?;
        if let Some(w) = &src.weights {
            net = net.load_weights(w)?;
        }
        Ok(Model::new(
            net.valid(),
            ModelCard {
                model: m.to_string(),
                classes,
                input: spec.input.clone(),
            },
        ))
    }

    /// Views per video the network averages itself (a TSN model's segments; 1 for 3-D models,
    /// whose clips the caller averages).
    pub fn segments_in_model(&self) -> usize {
        self.card.segments_in_model()
    }

    /// The name of class `k` (`class_K` past the card's list).
    pub fn class_name(&self, k: usize) -> String {
        self.card.class_name(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_loads_and_runs() {
        let dev = Device::flex();
        let m = Model::embedded_default(&dev).unwrap();
        assert_eq!(m.card.classes.len(), kinema_data::synth::CLASS_NAMES.len());
        assert_eq!(m.card.classes[0], "move_left");
        let s = m.card.input.target_width as usize;
        let shape = [1, 3, m.card.input.new_length, s, s];
        let x: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| (i % 7) as f32 / 7.0)
            .collect();
        let (dims, y) = m.net.run(&shape, x.clone(), false, &dev).unwrap();
        assert_eq!(dims, vec![1, m.card.classes.len()]);
        assert!(y.iter().all(|v| v.is_finite()));
        assert_eq!(m.input_shape(1), shape);
        // The oneDNN engine gives burn's logits, compiled once and reused.
        for _ in 0..2 {
            let (d2, y2) = m.run(&shape, x.clone(), false, &dev).unwrap();
            assert_eq!(d2, dims);
            for (a, b) in y2.iter().zip(&y) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
        let e = m
            .run(&[1, 3, 2, 4], vec![0.0; 24], false, &dev)
            .unwrap_err()
            .to_string();
        assert!(e.contains("input shape"), "{e}");
    }

    #[test]
    fn sources_that_cannot_be_models_are_errors_naming_them() {
        let dev = Device::flex();
        let load = |model: &str, weights: Option<&str>| {
            Model::load(
                &ModelSource {
                    model: Some(model.into()),
                    weights: weights.map(PathBuf::from),
                    ..Default::default()
                },
                &dev,
            )
            .unwrap_err()
            .to_string()
        };
        let e = load("r3d_18.pth", None);
        assert!(e.contains("r3d_18.pth") && e.contains("registry name"), "{e}");
        let e = load("resnet18_v1b_custom", None);
        assert!(e.contains("_custom") && e.contains("number of classes"), "{e}");
        let e = load("missing.safetensors", Some("w.params"));
        assert!(e.contains("not with the model file"), "{e}");
        let e = load("i3d_resnet50_v1_kinetic400", None);
        assert!(e.contains("i3d_resnet50_v1_kinetics400"), "{e}");
    }
}
