//! Puts named tensors into a burn module by parameter path, reporting every model parameter the
//! file lacks, every file entry no parameter takes, and every shape that differs.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::TensorData;
use burn::Tensor;

use crate::error::{ModelError, Result};
use crate::weights::NamedTensor;

/// Every float parameter path of `m` (burn's module paths, `.`-joined) with its shape.
pub fn parameter_names<M: Module>(m: &M) -> Vec<(String, Vec<usize>)> {
    struct Names {
        path: Vec<String>,
        out: Vec<(String, Vec<usize>)>,
    }
    impl ModuleVisitor for Names {
        fn enter_module(&mut self, name: &str, _ty: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _ty: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.out.push((self.path.join("."), p.lazy_shape().to_vec()));
        }
    }
    let mut v = Names {
        path: Vec::new(),
        out: Vec::new(),
    };
    m.visit(&mut v);
    v.out
}

/// Content fingerprint of a tensor (shape + FNV-1a of the value bits).
fn fingerprint(t: &NamedTensor) -> (Vec<usize>, u64) {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for v in &t.data {
        h = (h ^ v.to_bits() as u64).wrapping_mul(0x0100_0000_01b3);
    }
    (t.shape.clone(), h)
}

/// Loads `tensors` into `model`: parameter `p` takes the entry named `rename(p)`. Entries that
/// repeat a loaded entry's contents under another name (GluonCV files saved with
/// `deduplicate=False` list a block's parameters under every path that reaches it, e.g.
/// `res_layers.0.0.conv1.weight` and `res_layers.0.0.bottleneck.0.weight`) are aliases, not
/// unused entries. Dense weights
/// (the only 2-D parameters) are stored `[out, in]` in MXNet/PyTorch files and `[in, out]` in
/// burn: they are transposed. Any missing parameter, unused entry or shape mismatch is an error
/// naming it.
pub fn load_named<M: Module>(
    model: M,
    tensors: Vec<NamedTensor>,
    path: &Path,
    rename: &dyn Fn(&str) -> String,
) -> Result<M> {
    let mut src: HashMap<String, NamedTensor> = HashMap::new();
    for t in tensors {
        src.insert(t.name.clone(), t);
    }
    struct Load<'a> {
        path: Vec<String>,
        src: &'a mut HashMap<String, NamedTensor>,
        rename: &'a dyn Fn(&str) -> String,
        missing: Vec<String>,
        error: Option<ModelError>,
        file: &'a Path,
        loaded: HashSet<(Vec<usize>, u64)>,
    }
    impl ModuleMapper for Load<'_> {
        fn enter_module(&mut self, name: &str, _ty: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _ty: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let key = (self.rename)(&self.path.join("."));
            let Some(t) = self.src.remove(&key) else {
                self.missing.push(key);
                return p;
            };
            self.loaded.insert(fingerprint(&t));
            let want = p.lazy_shape().to_vec();
            let (shape, data) = if D == 2 {
                let (o, i) = (
                    t.shape.first().copied().unwrap_or(0),
                    t.shape.get(1).copied().unwrap_or(0),
                );
                let mut tr = vec![0f32; t.data.len()];
                if t.data.len() == o * i {
                    for r in 0..o {
                        for c in 0..i {
                            tr[c * o + r] = t.data[r * i + c];
                        }
                    }
                }
                (vec![i, o], tr)
            } else {
                (t.shape.clone(), t.data)
            };
            if shape != want {
                self.error.get_or_insert(ModelError::ShapeMismatch {
                    path: self.file.to_path_buf(),
                    name: key,
                    found: t.shape,
                    expected: if D == 2 {
                        want.iter().rev().copied().collect()
                    } else {
                        want
                    },
                });
                return p;
            }
            let (id, dev) = (p.id, p.lazy_device());
            p.transform_for_load(Tensor::from_data(TensorData::new(data, shape), &dev), id)
        }
    }
    let mut l = Load {
        path: Vec::new(),
        src: &mut src,
        rename,
        missing: Vec::new(),
        error: None,
        file: path,
        loaded: HashSet::new(),
    };
    let model = model.map(&mut l);
    if let Some(e) = l.error {
        return Err(e);
    }
    let (missing, loaded) = (l.missing, l.loaded);
    let mut unused: Vec<String> = src
        .into_values()
        .filter(|t| !loaded.contains(&fingerprint(t)))
        .map(|t| t.name)
        .collect();
    unused.sort();
    if !missing.is_empty() || !unused.is_empty() {
        return Err(ModelError::KeysMismatch {
            path: path.to_path_buf(),
            missing,
            unused,
        });
    }
    Ok(model)
}
