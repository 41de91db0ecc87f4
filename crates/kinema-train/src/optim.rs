//! Optimizers with their state kept by parameter *path*, so that a checkpoint restores it into a
//! freshly built model (burn's own optimizers key their state by parameter id, which a rebuilt
//! model does not share). SGD follows MXNet's update, the one GluonCV's recipes were tuned with:
//! `mom = momentum * mom - lr * (grad + wd * w); w += mom`. AdamW is Loshchilov & Hutter's.

use std::collections::BTreeMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::Tensor;
use kinema_models::weights::NamedTensor;
use kinema_models::Net;

use crate::error::{Result, TrainError};

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with momentum (MXNet's form).
    Sgd,
    /// Adam with decoupled weight decay.
    Adamw,
}

/// Optimizer settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerOptions {
    /// Update rule.
    pub kind: OptimizerKind,
    /// SGD momentum (Adam's beta1 for AdamW).
    pub momentum: f64,
    /// AdamW's beta2.
    pub beta2: f64,
    /// AdamW's epsilon.
    pub eps: f64,
    /// Weight decay.
    pub wd: f64,
    /// No weight decay on 1-D parameters (BatchNorm scales and shifts, biases): GluonCV's
    /// `--no-wd`.
    pub no_wd_1d: bool,
    /// Clip gradients to this global L2 norm (0: off).
    pub clip_grad_norm: f64,
}

impl Default for OptimizerOptions {
    fn default() -> Self {
        OptimizerOptions {
            kind: OptimizerKind::Sgd,
            momentum: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            wd: 1e-4,
            no_wd_1d: false,
            clip_grad_norm: 0.0,
        }
    }
}

/// An optimizer over a [`Net`], its state by parameter path.
#[derive(Debug, Clone)]
pub struct Optimizer {
    /// Settings.
    pub options: OptimizerOptions,
    /// Steps taken (AdamW's bias correction).
    pub steps: u64,
    /// Per-path state tensors, flattened: `[momentum]` for SGD, `[m, v]` for AdamW.
    state: BTreeMap<String, Vec<Tensor<1>>>,
}

/// How one parameter is updated: its learning-rate factor (0: frozen).
pub type LrFactor<'a> = &'a dyn Fn(&str) -> f64;

impl Optimizer {
    /// A fresh optimizer.
    pub fn new(options: OptimizerOptions) -> Optimizer {
        Optimizer {
            options,
            steps: 0,
            state: BTreeMap::new(),
        }
    }

    /// Global L2 norm of the gradients in `grads` for `net`'s parameters.
    pub fn grad_norm(net: &Net, grads: &GradientsParams) -> f64 {
        struct Norm<'a> {
            grads: &'a GradientsParams,
            sum: f64,
        }
        impl ModuleVisitor for Norm<'_> {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                if let Some(g) = self.grads.get::<D>(p.id) {
                    self.sum += g.powi_scalar(2).sum().into_scalar::<f64>();
                }
            }
        }
        let mut n = Norm { grads, sum: 0.0 };
        net.visit(&mut n);
        n.sum.sqrt()
    }

    /// One update of `net` with `grads` at learning rate `lr` times `factor(path)` (0 freezes
    /// a parameter). Returns the new model and the gradient norm before clipping.
    pub fn step(&mut self, net: Net, mut grads: GradientsParams, lr: f64, factor: LrFactor) -> (Net, f64) {
        let norm = Optimizer::grad_norm(&net, &grads);
        let clip = self.options.clip_grad_norm;
        let scale = if clip > 0.0 && norm > clip {
            clip / norm
        } else {
            1.0
        };
        self.steps += 1;
        let mut u = Update {
            path: Vec::new(),
            grads: &mut grads,
            opt: self,
            lr,
            scale,
            factor,
        };
        let net = net.map(&mut u);
        (net, norm)
    }

    /// The state as named tensors (`<path>.momentum`, `<path>.m`, `<path>.v`).
    pub fn state_tensors(&self) -> Result<Vec<NamedTensor>> {
        let names: &[&str] = match self.options.kind {
            OptimizerKind::Sgd => &["momentum"],
            OptimizerKind::Adamw => &["m", "v"],
        };
        let mut out = Vec::new();
        for (path, ts) in &self.state {
            for (t, n) in ts.iter().zip(names) {
                let data = t
                    .clone()
                    .into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| TrainError::Invalid(format!("optimizer state {path}: {e:?}")))?;
                out.push(NamedTensor {
                    name: format!("{path}.{n}"),
                    shape: vec![data.len()],
                    data,
                });
            }
        }
        Ok(out)
    }

    /// Restores the state written by [`state_tensors`](Self::state_tensors).
    pub fn load_state(&mut self, tensors: Vec<NamedTensor>, dev: &burn::tensor::Device) -> Result<()> {
        let names: &[&str] = match self.options.kind {
            OptimizerKind::Sgd => &["momentum"],
            OptimizerKind::Adamw => &["m", "v"],
        };
        let mut by_path: BTreeMap<String, Vec<Option<Tensor<1>>>> = BTreeMap::new();
        for t in tensors {
            let Some((path, n)) = t.name.rsplit_once('.') else {
                return Err(TrainError::Invalid(format!("optimizer state entry {:?}", t.name)));
            };
            let Some(k) = names.iter().position(|x| *x == n) else {
                return Err(TrainError::Invalid(format!(
                    "optimizer state entry {:?} does not belong to a {:?} optimizer",
                    t.name, self.options.kind
                )));
            };
            let len = t.data.len();
            let slot = by_path
                .entry(path.to_string())
                .or_insert_with(|| vec![None; names.len()]);
            slot[k] = Some(Tensor::from_data(
                burn::tensor::TensorData::new(t.data, [len]),
                dev,
            ));
        }
        self.state.clear();
        for (path, slots) in by_path {
            let ts: Option<Vec<Tensor<1>>> = slots.into_iter().collect();
            let ts =
                ts.ok_or_else(|| TrainError::Invalid(format!("optimizer state of {path} is incomplete")))?;
            self.state.insert(path, ts);
        }
        Ok(())
    }
}

struct Update<'a, 'f> {
    path: Vec<String>,
    grads: &'a mut GradientsParams,
    opt: &'a mut Optimizer,
    lr: f64,
    scale: f64,
    factor: LrFactor<'f>,
}

impl ModuleMapper for Update<'_, '_> {
    fn enter_module(&mut self, name: &str, _ty: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _ty: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = p.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let path = self.path.join(".");
        let lr = self.lr * (self.factor)(&path);
        if lr == 0.0 {
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let o = &self.opt.options;
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let w = tensor.inner().reshape([n]);
        let mut g = grad.reshape([n]);
        if self.scale != 1.0 {
            g = g.mul_scalar(self.scale);
        }
        let wd = if o.no_wd_1d && D == 1 { 0.0 } else { o.wd };
        let state = self.opt.state.remove(&path);
        let (w, state) = match o.kind {
            OptimizerKind::Sgd => {
                if wd != 0.0 {
                    g = g + w.clone().mul_scalar(wd);
                }
                let step = g.mul_scalar(-lr);
                let mom = match state {
                    Some(mut s) if o.momentum != 0.0 => s.remove(0).mul_scalar(o.momentum) + step,
                    _ => step,
                };
                (w + mom.clone(), vec![mom])
            }
            OptimizerKind::Adamw => {
                let (b1, b2) = (o.momentum, o.beta2);
                let (m, v) = match state {
                    Some(mut s) => {
                        let v = s.remove(1);
                        (s.remove(0), v)
                    }
                    None => (g.zeros_like(), g.zeros_like()),
                };
                let m = m.mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1);
                let v = v.mul_scalar(b2) + g.powi_scalar(2).mul_scalar(1.0 - b2);
                let t = self.opt.steps as i32;
                let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
                let upd = m.clone().div_scalar(c1) / v.clone().div_scalar(c2).sqrt().add_scalar(o.eps);
                let w = w.clone().mul_scalar(1.0 - lr * wd) - upd.mul_scalar(lr);
                (w, vec![m, v])
            }
        };
        self.opt.state.insert(path, state);
        let w = Tensor::from_inner(w.reshape(dims)).require_grad();
        Param::from_mapped_value(id, w, mapper)
    }
}
