//! safetensors files: kinema's own weight format (model parameters, BatchNorm statistics and
//! string metadata such as the model name, class names and input spec) and the format many
//! PyTorch checkpoints come in. Dense weights are stored `[out, in]`, PyTorch's layout, so files
//! move between the two frameworks without renaming or transposing by hand.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::Tensor;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use super::params::f16_to_f32;
use crate::error::{ModelError, Result};
use crate::weights::NamedTensor;

/// String metadata of a weight file (safetensors' `__metadata__`).
pub type Metadata = BTreeMap<String, String>;

/// Every float tensor of `m` (parameters and running statistics) under its burn path, dense
/// weights transposed to `[out, in]`.
pub fn named_tensors<M: Module>(m: &M) -> Result<Vec<NamedTensor>> {
    struct Collect {
        path: Vec<String>,
        out: Vec<NamedTensor>,
        error: Option<String>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _ty: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _ty: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let t = p.val();
            let shape = t.dims().to_vec();
            let data = match t.into_data().try_into_vec::<f32>() {
                Ok(d) => d,
                Err(e) => {
                    self.error
                        .get_or_insert(format!("{}: {e:?}", self.path.join(".")));
                    return;
                }
            };
            let (shape, data) = if D == 2 {
                let (i, o) = (shape[0], shape[1]);
                let mut tr = vec![0f32; data.len()];
                for r in 0..i {
                    for c in 0..o {
                        tr[c * i + r] = data[r * o + c];
                    }
                }
                (vec![o, i], tr)
            } else {
                (shape, data)
            };
            self.out.push(NamedTensor {
                name: self.path.join("."),
                shape,
                data,
            });
        }
    }
    let mut c = Collect {
        path: Vec::new(),
        out: Vec::new(),
        error: None,
    };
    m.visit(&mut c);
    match c.error {
        Some(e) => Err(ModelError::InvalidOption(format!("reading tensor {e}"))),
        None => Ok(c.out),
    }
}

/// Encodes `tensors` (f32) and `metadata` as a safetensors file in memory.
pub fn encode_safetensors(tensors: &[NamedTensor], metadata: &Metadata) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|t| {
            let b: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (t.name.clone(), t.shape.clone(), b)
        })
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, shape, b) in &bytes {
        let v = TensorView::new(Dtype::F32, shape.clone(), b)
            .map_err(|e| ModelError::InvalidOption(format!("tensor {name}: {e}")))?;
        views.push((name.clone(), v));
    }
    let info: HashMap<String, String> = metadata.clone().into_iter().collect();
    safetensors::serialize(views, Some(info))
        .map_err(|e| ModelError::InvalidOption(format!("encoding safetensors: {e}")))
}

/// Writes `tensors` and `metadata` to `path` atomically (a temporary file renamed over it).
pub fn write_safetensors(path: &Path, tensors: &[NamedTensor], metadata: &Metadata) -> Result<()> {
    let bytes = encode_safetensors(tensors, metadata)?;
    Ok(kinema_data::write_atomic(path, &bytes)?)
}

/// Decodes a safetensors file held in memory (`path` names it in errors). Float tensors of any
/// width (f16, bf16, f32, f64) come back as f32; other dtypes are an error naming the tensor.
pub fn decode_safetensors(bytes: &[u8], path: &Path) -> Result<(Vec<NamedTensor>, Metadata)> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| ModelError::bad(path, format!("not a valid safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| ModelError::bad(path, format!("not a valid safetensors file: {e}")))?;
    let metadata: Metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let b = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F64 => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::F16 => b
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::BF16 => b
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            d => {
                return Err(ModelError::bad(
                    path,
                    format!("tensor {name}: dtype {d:?} is not a float type"),
                ))
            }
        };
        out.push(NamedTensor {
            name,
            shape: view.shape().to_vec(),
            data,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((out, metadata))
}

/// Reads a safetensors file.
pub fn read_safetensors(path: &Path) -> Result<(Vec<NamedTensor>, Metadata)> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_safetensors(&bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_tensors_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.safetensors");
        let t = vec![
            NamedTensor {
                name: "a.weight".into(),
                shape: vec![2, 3],
                data: vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5],
            },
            NamedTensor {
                name: "b".into(),
                shape: vec![1],
                data: vec![0.25],
            },
        ];
        let mut m = Metadata::new();
        m.insert("name".into(), "x".into());
        write_safetensors(&p, &t, &m).unwrap();
        let (back, meta) = read_safetensors(&p).unwrap();
        assert_eq!(meta, m);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].name, "a.weight");
        assert_eq!(back[0].shape, vec![2, 3]);
        assert_eq!(back[0].data, t[0].data);
        // Truncation is an error naming the file.
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        let e = read_safetensors(&p).unwrap_err().to_string();
        assert!(e.contains("w.safetensors") && e.contains("not a valid"), "{e}");
    }
}
