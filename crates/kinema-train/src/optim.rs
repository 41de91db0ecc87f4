//! Optimizers with their state kept by parameter *path*, so that a checkpoint restores it into a
//! freshly built model (burn's own optimizers key their state by parameter id, which a rebuilt
//! model does not share). SGD follows MXNet's update, the one GluonCV's recipes were tuned with:
//! `mom = momentum * mom - lr * (grad + wd * w); w += mom`. AdamW is Loshchilov & Hutter's.

use std::collections::BTreeMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::Tensor;
use kinema_dnnl::pool;
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
        let clip = self.options.clip_grad_norm;
        // Without clipping the norm (for the log) is summed during the update itself.
        let norm = (clip > 0.0).then(|| Optimizer::grad_norm(&net, &grads));
        let scale = match norm {
            Some(norm) if norm > clip => clip / norm,
            _ => 1.0,
        };
        self.steps += 1;
        let mut u = Update {
            path: Vec::new(),
            grads: &mut grads,
            opt: self,
            lr,
            scale,
            factor,
            sum_sq: 0.0,
        };
        let net = net.map(&mut u);
        let summed = u.sum_sq.sqrt();
        (net, norm.unwrap_or(summed))
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
    /// Σ grad² over the parameters seen (every parameter with a gradient, frozen or not).
    sum_sq: f64,
}

/// Σ v² in f64.
fn sum_sq(v: &[f32]) -> f64 {
    const CHUNK: usize = 1 << 14;
    let parts = pool::map(v.len().div_ceil(CHUNK), |i| {
        let c = &v[i * CHUNK..((i + 1) * CHUNK).min(v.len())];
        c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>()
    });
    parts.iter().sum()
}

/// MXNet's SGD update in one pass over row-major values, on the CPU:
/// `mom = momentum * mom - lr * (scale * g + wd * w); w += mom`, in the order and precision of
/// the tensor-operation form (so both give the same weights).
fn sgd_in_place(w: &mut [f32], mom: &mut [f32], g: &[f32], (lr, wd, momentum, scale): (f32, f32, f32, f32)) {
    const CHUNK: usize = 1 << 14;
    pool::zip_chunks(w, mom, CHUNK, |i, w, m| {
        let g = &g[i * CHUNK..i * CHUNK + w.len()];
        for ((w, m), &g) in w.iter_mut().zip(m.iter_mut()).zip(g) {
            let mut g = if scale != 1.0 { g * scale } else { g };
            if wd != 0.0 {
                g += *w * wd;
            }
            let step = g * -lr;
            *m = if momentum != 0.0 {
                *m * momentum + step
            } else {
                step
            };
            *w += *m;
        }
    });
}

/// A 1-D tensor's values (no copy when it holds the only reference).
fn host(t: Tensor<1>) -> Option<Vec<f32>> {
    t.into_data().try_into_vec::<f32>().ok()
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
            if self.scale == 1.0 {
                self.sum_sq += grad.powi_scalar(2).sum().into_scalar::<f64>();
            }
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let o = &self.opt.options;
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let w = tensor.inner().reshape([n]);
        let g = grad.reshape([n]);
        let wd = if o.no_wd_1d && D == 1 { 0.0 } else { o.wd };
        let dev = w.device();
        // On the CPU, SGD is one pass over the values instead of six tensor operations.
        let f32s = w.dtype() == burn::tensor::DType::F32 && g.dtype() == burn::tensor::DType::F32;
        if o.kind == OptimizerKind::Sgd && dev == burn::tensor::Device::flex() && f32s {
            let state = self.opt.state.remove(&path);
            let mom = state
                .and_then(|mut s| (o.momentum != 0.0 && !s.is_empty()).then(|| s.remove(0)))
                .and_then(host)
                .filter(|m| m.len() == n)
                .unwrap_or_else(|| vec![0.0; n]);
            // f32 tensors on the CPU (checked above) always read back.
            let (mut wv, gv, mut mom) = (host(w).unwrap_or_default(), host(g).unwrap_or_default(), mom);
            if self.scale == 1.0 {
                self.sum_sq += sum_sq(&gv);
            }
            let k = (lr as f32, wd as f32, o.momentum as f32, self.scale as f32);
            sgd_in_place(&mut wv, &mut mom, &gv, k);
            let t = |v: Vec<f32>| Tensor::<1>::from_data(burn::tensor::TensorData::new(v, [n]), &dev);
            self.opt.state.insert(path, vec![t(mom)]);
            let w = Tensor::from_inner(t(wv).reshape(dims)).require_grad();
            return Param::from_mapped_value(id, w, mapper);
        }
        if self.scale == 1.0 {
            self.sum_sq += g.clone().powi_scalar(2).sum().into_scalar::<f64>();
        }
        let mut g = g;
        if self.scale != 1.0 {
            g = g.mul_scalar(self.scale);
        }
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

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    /// The one-pass SGD gives the tensor-operation form's weights and momentum bit for bit,
    /// over two steps (the second with momentum state), with clipping's scale and weight decay.
    #[test]
    fn sgd_in_one_pass_equals_the_tensor_operation_form() {
        let dev = Device::flex();
        let n = 40_000;
        let v = |seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 - 1001.0) / 997.0)
                .collect()
        };
        let t = |x: &[f32]| Tensor::<1>::from_data(TensorData::new(x.to_vec(), [n]), &dev);
        let (lr, wd, momentum, scale) = (0.05f32, 1e-4f32, 0.9f32, 0.75f32);
        let (mut w, mut mom) = (v(1), vec![0f32; n]);
        let (mut tw, mut tmom): (Tensor<1>, Option<Tensor<1>>) = (t(&w), None);
        for step in 0..2 {
            let g = v(2 + step);
            sgd_in_place(&mut w, &mut mom, &g, (lr, wd, momentum, scale));
            let mut tg = t(&g).mul_scalar(scale);
            tg = tg + tw.clone().mul_scalar(wd);
            let s = tg.mul_scalar(-lr);
            let m = match tmom {
                Some(m) => m.mul_scalar(momentum) + s,
                None => s,
            };
            tw = tw + m.clone();
            tmom = Some(m);
            let got = |x: &Tensor<1>| x.clone().into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(got(&tw), w, "weights after step {step}");
            assert_eq!(got(tmom.as_ref().unwrap()), mom, "momentum after step {step}");
        }
        assert!((sum_sq(&[3.0, 4.0]) - 25.0).abs() < 1e-12);
    }
}
