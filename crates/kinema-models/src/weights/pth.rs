//! PyTorch checkpoints (`.pth`, `.pt`: what `torch.save(model.state_dict(), f)` writes), read
//! without Python, in both of torch's containers:
//!
//! - zip (`torch.save` since 1.6): `PREFIX/data.pkl` is the pickled object, `PREFIX/data/KEY`
//!   the raw bytes of each storage, `PREFIX/byteorder` their byte order (`little` when absent);
//!   `PREFIX` is whatever folder name the writer chose (`archive`, the file's stem...).
//! - legacy (before 1.6, e.g. older torchvision weights, and `_use_new_zipfile_serialization=False`):
//!   five pickles back to back (magic number, protocol version 1001, system info, the object,
//!   the sorted storage keys), then each storage as an i64 element count and its bytes.
//!
//! A tensor is pickled as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
//! whose storage is a persistent id `('storage', torch.FloatStorage, KEY, location, numel)`;
//! offsets and strides are honoured (a view is gathered from the storage it shares). Float,
//! Double, Half and BFloat16 storages, and Long and Int ones, come back as f32; other dtypes are
//! an error naming the tensor. The state dict may be the object itself or sit under
//! `state_dict`, `model_state_dict`, `model`, `module` or `net` of a training checkpoint; keys
//! that all start with `module.` (`nn.DataParallel`) lose it.
//!
//! BatchNorm's `num_batches_tracked` counters are dropped: they are not parameters (no model
//! reads them at inference, and kinema's BatchNorm keeps no such counter), so a checkpoint
//! maps one to one onto the model's parameters and running statistics.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::error::{ModelError, Result};
use crate::weights::pickle::{unpickle, Node, Pickle, Value};
use crate::weights::NamedTensor;

/// The first pickle of a legacy checkpoint.
const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// The second one.
const LEGACY_PROTOCOL: i128 = 1001;
/// Where training checkpoints keep the state dict, in the order tried.
const NESTED_KEYS: &[&str] = &["state_dict", "model_state_dict", "model", "module", "net"];
/// Elements an overlapping view (a zero stride) may expand to: beyond, a corrupt file, not an
/// allocation.
const MAX_EXPANDED: usize = 1 << 28;

/// Storage element types kinema converts to f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F64,
    F16,
    Bf16,
    I64,
    I32,
}

/// A storage class's element width and, where kinema reads it, its dtype.
fn storage_class(class: &str) -> Option<(usize, Option<Dtype>)> {
    Some(match class.strip_prefix("torch.")? {
        "FloatStorage" => (4, Some(Dtype::F32)),
        "DoubleStorage" => (8, Some(Dtype::F64)),
        "HalfStorage" => (2, Some(Dtype::F16)),
        "BFloat16Storage" => (2, Some(Dtype::Bf16)),
        "LongStorage" => (8, Some(Dtype::I64)),
        "IntStorage" => (4, Some(Dtype::I32)),
        // Known, so a legacy file's storages can be walked past, but not converted.
        "ShortStorage" => (2, None),
        "CharStorage" | "ByteStorage" | "BoolStorage" => (1, None),
        "ComplexFloatStorage" => (8, None),
        "ComplexDoubleStorage" => (16, None),
        "QInt8Storage" | "QUInt8Storage" | "QUInt4x2Storage" | "QUInt2x4Storage" => (1, None),
        "QInt32Storage" => (4, None),
        _ => return None,
    })
}

/// A storage a tensor points into (its persistent id).
#[derive(Debug, Clone)]
struct StorageRef {
    key: String,
    class: String,
    width: usize,
    dtype: Option<Dtype>,
}

/// Reads a `.pth` / `.pt` checkpoint's state dict.
pub fn read_pth(path: &Path) -> Result<Vec<NamedTensor>> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_pth(&bytes, path)
}

/// Parses checkpoint bytes (`path` names them in errors): the state dict's tensors in its
/// order, as f32, `num_batches_tracked` dropped.
pub fn parse_pth(bytes: &[u8], path: &Path) -> Result<Vec<NamedTensor>> {
    let bad = |reason: String| ModelError::bad(path, reason);
    if bytes.is_empty() {
        Err(bad("an empty file, not a PyTorch checkpoint".into()))
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        parse_zip(bytes).map_err(bad)
    } else if bytes.first() == Some(&0x80) {
        parse_legacy(bytes).map_err(bad)
    } else if bytes.get(257..262) == Some(b"ustar") {
        Err(bad(
            "a tar archive (PyTorch before 0.4 saved checkpoints so): not supported; load it with \
             torch and save the state_dict() again"
                .into(),
        ))
    } else {
        Err(bad(
            "not a PyTorch checkpoint: neither a zip archive (torch.save since 1.6) nor a legacy \
             pickle"
                .into(),
        ))
    }
}

fn parse_zip(bytes: &[u8]) -> std::result::Result<Vec<NamedTensor>, String> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a valid zip archive (truncated or damaged): {e}"))?;
    let names: Vec<String> = z.file_names().map(String::from).collect();
    let pkl = names
        .iter()
        .filter(|n| {
            n.strip_suffix("data.pkl")
                .is_some_and(|p| p.is_empty() || (p.ends_with('/') && p.matches('/').count() == 1))
        })
        .collect::<Vec<_>>();
    let pkl = match pkl.as_slice() {
        [one] => (*one).clone(),
        [] => {
            let mut shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            if names.len() > 5 {
                shown.push("...");
            }
            return Err(format!(
                "a zip archive without data.pkl: not a torch.save checkpoint (it holds {})",
                if shown.is_empty() {
                    "nothing".to_string()
                } else {
                    shown.join(", ")
                }
            ));
        }
        many => {
            return Err(format!(
                "a zip archive with {} data.pkl files ({}): which one is the checkpoint?",
                many.len(),
                many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ))
        }
    };
    let prefix = pkl.strip_suffix("data.pkl").unwrap_or_default().to_string();
    let mut read = |name: &str| -> std::result::Result<Option<Vec<u8>>, String> {
        let mut e = match z.by_name(name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(format!("{name}: {e}")),
        };
        let mut out = Vec::new();
        e.read_to_end(&mut out)
            .map_err(|e| format!("{name}: damaged in the archive: {e}"))?;
        Ok(Some(out))
    };
    let big = match read(&format!("{prefix}byteorder"))? {
        None => false,
        Some(b) => match b.as_slice() {
            b"little" => false,
            b"big" => true,
            other => {
                return Err(format!(
                    "{prefix}byteorder says {:?}, not little or big",
                    String::from_utf8_lossy(other)
                ))
            }
        },
    };
    let data = read(&pkl)?.ok_or_else(|| format!("{pkl}: listed but not readable"))?;
    let (p, _) = unpickle(&data, 0).map_err(|e| format!("{pkl}: {e}"))?;
    let mut storages: HashMap<String, Cow<[u8]>> = HashMap::new();
    for s in storage_refs(&p)?.into_values() {
        let name = format!("{prefix}data/{}", s.key);
        let b = read(&name)?
            .ok_or_else(|| format!("{name}: the storage of a tensor is missing from the archive"))?;
        storages.insert(s.key, Cow::Owned(b));
    }
    tensors(&p, &storages, big)
}

fn parse_legacy(bytes: &[u8]) -> std::result::Result<Vec<NamedTensor>, String> {
    let not_torch = "not a PyTorch checkpoint: a pickle, but not one torch.save wrote (no magic number)";
    let (magic, at) = unpickle(bytes, 0).map_err(|e| format!("{not_torch}: {e}"))?;
    if magic.root != Some(Value::Int(LEGACY_MAGIC)) {
        return Err(not_torch.into());
    }
    let (proto, at) = unpickle(bytes, at).map_err(|e| format!("legacy header: {e}"))?;
    if proto.root != Some(Value::Int(LEGACY_PROTOCOL)) {
        return Err(format!(
            "legacy checkpoint protocol {}, kinema reads {LEGACY_PROTOCOL}",
            proto.describe(proto.root.as_ref().unwrap_or(&Value::None))
        ));
    }
    let (info, at) = unpickle(bytes, at).map_err(|e| format!("legacy system info: {e}"))?;
    let little = info
        .dict(info.root.as_ref().unwrap_or(&Value::None))
        .and_then(|d| d.iter().find(|(k, _)| *k == Value::Str("little_endian".into())))
        .map(|(_, v)| v.clone());
    if little != Some(Value::Bool(true)) {
        return Err("a legacy checkpoint written on a big-endian machine: not supported".into());
    }
    let (p, at) = unpickle(bytes, at).map_err(|e| format!("the pickled object: {e}"))?;
    let (keys, mut at) = unpickle(bytes, at).map_err(|e| format!("the storage key list: {e}"))?;
    let keys = keys
        .items(keys.root.as_ref().unwrap_or(&Value::None))
        .ok_or("the storage key list is not a list")?
        .iter()
        .map(|k| match k {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(format!("storage key {}: not a string", keys.describe(other))),
        })
        .collect::<std::result::Result<Vec<String>, String>>()?;
    let refs = storage_refs(&p)?;
    let mut storages: HashMap<String, Cow<[u8]>> = HashMap::new();
    for key in keys {
        // The element width comes from the class the object's persistent ids give the key.
        let width = refs.get(&key).map(|s| s.width).ok_or_else(|| {
            format!("storage {key} is listed but no tensor uses it: its element size is unknown")
        })?;
        if bytes.len() - at < 8 {
            return Err(format!("truncated: storage {key}'s size at offset {at}"));
        }
        let numel = i64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        at += 8;
        let n = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(width))
            .filter(|&n| n <= bytes.len() - at)
            .ok_or_else(|| {
                format!(
                    "truncated or corrupt: storage {key} of {numel} elements at offset {} does not \
                     fit in the {} bytes left",
                    at - 8,
                    bytes.len() - at
                )
            })?;
        storages.insert(key, Cow::Borrowed(&bytes[at..at + n]));
        at += n;
    }
    if at != bytes.len() {
        return Err(format!("{} bytes after the last storage", bytes.len() - at));
    }
    tensors(&p, &storages, false)
}

/// Every storage the object's persistent ids name, by key.
fn storage_refs(p: &Pickle) -> std::result::Result<HashMap<String, StorageRef>, String> {
    let mut out = HashMap::new();
    for n in &p.nodes {
        if let Node::PersistentId(pid) = n {
            let s = storage_ref(p, pid)?;
            out.insert(s.key.clone(), s);
        }
    }
    Ok(out)
}

fn storage_ref(p: &Pickle, pid: &Value) -> std::result::Result<StorageRef, String> {
    let t = p
        .items(pid)
        .ok_or_else(|| format!("persistent id {} is not a tuple", p.describe(pid)))?;
    let (Some(Value::Str(kind)), Some(class), Some(Value::Str(key))) = (t.first(), t.get(1), t.get(2)) else {
        return Err("persistent id is not ('storage', class, key, ...)".into());
    };
    if &**kind != "storage" {
        return Err(format!("persistent id of kind {kind:?}, not a storage"));
    }
    if t.get(5).is_some_and(|v| *v != Value::None) {
        return Err(format!(
            "storage {key} is a view of another storage (PyTorch before 1.0): not supported"
        ));
    }
    let class = p
        .global(class)
        .ok_or_else(|| format!("storage {key}: its class is {}", p.describe(class)))?;
    let (width, dtype) =
        storage_class(class).ok_or_else(|| format!("storage {key}: unknown storage class {class}"))?;
    Ok(StorageRef {
        key: key.to_string(),
        class: class.to_string(),
        width,
        dtype,
    })
}

/// The callable's name if `v` is a call (`REDUCE`) of a global.
fn call_of<'a>(p: &'a Pickle, v: &Value) -> Option<(&'a str, &'a Value)> {
    match p.node(v) {
        Some(Node::Call { callable, args }) => Some((p.global(callable)?, args)),
        _ => None,
    }
}

/// Whether `v` is one of torch's tensor rebuilds (supported or not).
fn is_tensor(p: &Pickle, v: &Value) -> bool {
    call_of(p, v).is_some_and(|(g, _)| g.starts_with("torch.") && g.contains("._rebuild"))
}

fn tensors(
    p: &Pickle,
    storages: &HashMap<String, Cow<[u8]>>,
    big: bool,
) -> std::result::Result<Vec<NamedTensor>, String> {
    let root = p.root.as_ref().unwrap_or(&Value::None);
    let Some(mut entries) = p.dict(root) else {
        return Err(format!(
            "the checkpoint holds {}, not a dict of tensors (a state dict)",
            p.describe(root)
        ));
    };
    for &k in NESTED_KEYS {
        let Some((_, v)) = entries.iter().find(|(name, _)| *name == Value::Str(k.into())) else {
            continue;
        };
        if let Some(d) = p.dict(v) {
            entries = d;
            break;
        }
        if call_of(p, v).is_some() && !is_tensor(p, v) {
            return Err(format!(
                "entry {k:?} is {}, not a state dict: save model.state_dict() instead",
                p.describe(v)
            ));
        }
    }
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Value::Str(name) = k else {
            return Err(format!("a state dict key is {}, not a string", p.describe(k)));
        };
        if !is_tensor(p, v) {
            return Err(format!("entry {name}: {} is not a tensor", p.describe(v)));
        }
        if name.rsplit('.').next() == Some("num_batches_tracked") {
            continue;
        }
        let (shape, data) = tensor(p, v, storages, big, 0).map_err(|e| format!("tensor {name}: {e}"))?;
        out.push(NamedTensor {
            name: name.to_string(),
            shape,
            data,
        });
    }
    if !out.is_empty() && out.iter().all(|t| t.name.starts_with("module.")) {
        for t in &mut out {
            t.name.drain(.."module.".len());
        }
    }
    Ok(out)
}

fn int(p: &Pickle, v: &Value, what: &str) -> std::result::Result<usize, String> {
    match v {
        Value::Int(i) => usize::try_from(*i).map_err(|_| format!("{what} {i} is negative or too large")),
        other => Err(format!("{what} is {}, not an integer", p.describe(other))),
    }
}

fn ints(p: &Pickle, v: &Value, what: &str) -> std::result::Result<Vec<usize>, String> {
    p.items(v)
        .ok_or_else(|| format!("{what} is {}, not a tuple", p.describe(v)))?
        .iter()
        .map(|x| int(p, x, what))
        .collect()
}

/// Shape and f32 values of the tensor `v` builds.
fn tensor(
    p: &Pickle,
    v: &Value,
    storages: &HashMap<String, Cow<[u8]>>,
    big: bool,
    depth: usize,
) -> std::result::Result<(Vec<usize>, Vec<f32>), String> {
    let (g, args) = call_of(p, v).ok_or("not a tensor")?;
    let a = p.items(args).ok_or("its arguments are not a tuple")?;
    let arg = |i: usize| a.get(i).ok_or_else(|| format!("{g} with {} arguments", a.len()));
    match g {
        "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor" => {}
        // A Parameter (or a tensor subclass) wraps the tensor it rebuilds first.
        "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" if depth < 4 => {
            return tensor(p, arg(0)?, storages, big, depth + 1)
        }
        other => {
            return Err(format!(
                "{other} (a quantized, sparse, nested or device-specific tensor) is not supported"
            ))
        }
    }
    let pid = match p.node(arg(0)?) {
        Some(Node::PersistentId(pid)) => pid,
        _ => return Err("its storage is not a persistent id".into()),
    };
    let s = storage_ref(p, pid)?;
    let Some(dtype) = s.dtype else {
        return Err(format!(
            "dtype of {} is not supported (float32/64, float16, bfloat16, int32/64 are)",
            s.class
        ));
    };
    let offset = int(p, arg(1)?, "storage offset")?;
    let shape = ints(p, arg(2)?, "size")?;
    let stride = ints(p, arg(3)?, "stride")?;
    if stride.len() != shape.len() {
        return Err(format!("size {shape:?} but stride {stride:?}"));
    }
    let bytes = storages
        .get(&s.key)
        .ok_or_else(|| format!("storage {} is missing", s.key))?;
    let stored = bytes.len() / s.width;
    let numel = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("size {shape:?} overflows"))?;
    if numel == 0 {
        return Ok((shape, Vec::new()));
    }
    // The last element the view reaches must lie inside the storage.
    let last = shape
        .iter()
        .zip(&stride)
        .try_fold(offset, |acc, (&d, &st)| acc.checked_add((d - 1).checked_mul(st)?))
        .filter(|&l| l < stored)
        .ok_or_else(|| {
            format!(
                "size {shape:?}, stride {stride:?} at offset {offset} reach past the storage's \
                 {stored} elements (truncated or corrupt)"
            )
        })?;
    if numel > stored && numel > MAX_EXPANDED {
        return Err(format!(
            "size {shape:?} expands {stored} stored elements to {numel}: corrupt"
        ));
    }
    let vals = decode(dtype, &bytes[offset * s.width..(last + 1) * s.width], big);
    let contiguous = {
        let mut want = 1;
        let mut ok = true;
        for (&d, &st) in shape.iter().zip(&stride).rev() {
            ok &= d == 1 || st == want;
            want *= d;
        }
        ok
    };
    if contiguous {
        return Ok((shape, vals[..numel].to_vec()));
    }
    // Walk the view's indices (last dimension fastest), following its strides.
    let mut out = Vec::with_capacity(numel);
    let mut idx = vec![0usize; shape.len()];
    let mut at = 0usize;
    for _ in 0..numel {
        out.push(vals[at]);
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            at += stride[k];
            if idx[k] < shape[k] {
                break;
            }
            at -= stride[k] * shape[k];
            idx[k] = 0;
        }
    }
    Ok((shape, out))
}

/// Storage bytes of `dtype` (little endian unless `big`) as f32.
fn decode(dtype: Dtype, b: &[u8], big: bool) -> Vec<f32> {
    fn arr<const N: usize>(c: &[u8], big: bool) -> [u8; N] {
        let mut a: [u8; N] = c.try_into().expect("chunk of N bytes");
        if big {
            a.reverse();
        }
        a
    }
    match dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(arr(c, big)))
            .collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(arr(c, big)) as f32)
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| super::params::f16_to_f32(u16::from_le_bytes(arr(c, big))))
            .collect(),
        Dtype::Bf16 => b
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes(arr(c, big)) as u32) << 16))
            .collect(),
        Dtype::I64 => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(arr(c, big)) as f32)
            .collect(),
        Dtype::I32 => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(arr(c, big)) as f32)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn data(name: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// What `tools/pth_test_data.py`'s `small()` holds, as f32 (`num_batches_tracked` dropped).
    fn small_expected() -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
        vec![
            ("a.weight", vec![4, 6], (0..24).map(|i| i as f32).collect()),
            // base[1:, 2:5].t(): offset 8, strides (1, 6) into a.weight's storage.
            (
                "view",
                vec![3, 3],
                vec![8.0, 14.0, 20.0, 9.0, 15.0, 21.0, 10.0, 16.0, 22.0],
            ),
            ("half", vec![4], vec![1.5, -2.0, 65504.0, 2f32.powi(-24)]),
            ("bf16", vec![3], vec![1.0, -3.5, 0.15625]),
            ("double", vec![1, 2], vec![0.1f64 as f32, -1e-3f64 as f32]),
            ("int", vec![2], vec![-3.0, 4.0]),
            ("long", vec![2, 1], vec![5.0, 6.0]),
            ("scalar", vec![], vec![2.5]),
        ]
    }

    fn check_small(t: &[NamedTensor], file: &str) {
        let want = small_expected();
        assert_eq!(
            t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            want.iter().map(|w| w.0).collect::<Vec<_>>(),
            "{file}"
        );
        for (got, (name, shape, values)) in t.iter().zip(want) {
            assert_eq!(got.shape, shape, "{file}: {name}");
            assert_eq!(got.data, values, "{file}: {name}");
        }
    }

    /// torch.save output (torch 2.15): zip, legacy, and zip with pickle protocol 5.
    #[test]
    fn reads_torch_save_output_in_every_container() {
        for f in ["torch_small.pth", "torch_small_legacy.pth", "torch_small_p5.pth"] {
            let t = parse_pth(&data(f), Path::new(f)).unwrap_or_else(|e| panic!("{e}"));
            check_small(&t, f);
        }
    }

    #[test]
    fn finds_the_state_dict_of_a_training_checkpoint() {
        let t = parse_pth(&data("torch_nested.pth"), Path::new("n.pth")).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].name.as_str(), t[0].shape.as_slice(), t[0].data.as_slice()),
            ("w", &[2usize][..], &[1.0f32, 2.0][..])
        );
    }

    #[test]
    fn unsupported_dtype_names_the_tensor() {
        let e = parse_pth(&data("torch_complex.pth"), Path::new("c.pth"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("c.pth: tensor c: ") && e.contains("ComplexFloatStorage"),
            "{e}"
        );
    }

    #[test]
    fn every_truncation_and_garbage_is_an_error_naming_the_file() {
        for f in ["torch_small.pth", "torch_small_legacy.pth"] {
            let b = data(f);
            for cut in 0..b.len() {
                let e = parse_pth(&b[..cut], Path::new("cut.pth"))
                    .unwrap_err()
                    .to_string();
                assert!(e.starts_with("cut.pth: "), "{f} cut at {cut}: {e}");
            }
            // Flipped bytes anywhere: an error or other values, never a panic.
            for at in (0..b.len()).step_by(7) {
                let mut x = b.clone();
                x[at] ^= 0x5a;
                let _ = parse_pth(&x, Path::new("flip.pth"));
            }
        }
        let e = parse_pth(b"<html>404</html>", Path::new("g.pth"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("g.pth: not a PyTorch checkpoint"), "{e}");
        let e = parse_pth(&[0x80, 2, b'K', 1, b'.'], Path::new("p.pth"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no magic number"), "{e}");
    }

    /// What to keep of an archive entry (name, bytes): its new name and bytes, or nothing.
    type Edit<'a> = &'a dyn Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>;

    /// Rewrites a zip checkpoint entry by entry.
    fn rezip(src: &[u8], edit: Edit) -> Vec<u8> {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(src)).unwrap();
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for i in 0..z.len() {
            let mut e = z.by_index(i).unwrap();
            let name = e.name().to_string();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            if let Some((name, b)) = edit(&name, b) {
                w.start_file(name, opts).unwrap();
                w.write_all(&b).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn big_endian_storages_and_any_prefix_folder() {
        // Element widths of torch_small.pth's storages 0..7 (f32, f16, bf16, f64, i32, i64,
        // f32, i64), in the order the state dict first uses them.
        let widths = [4usize, 2, 2, 8, 4, 8, 4, 8];
        let big = rezip(&data("torch_small.pth"), &|name, mut b| {
            let (_, rest) = name.split_once('/').unwrap();
            if rest == "byteorder" {
                b = b"big".to_vec();
            } else if let Some(k) = rest.strip_prefix("data/") {
                let w = widths[k.parse::<usize>().unwrap()];
                b.chunks_exact_mut(w).for_each(|c| c.reverse());
            }
            Some((format!("archive/{rest}"), b))
        });
        check_small(&parse_pth(&big, Path::new("big.pth")).unwrap(), "big.pth");
    }

    #[test]
    fn a_zip_without_data_pkl_or_storage_is_an_error_saying_so() {
        let src = data("torch_small.pth");
        let no_pkl = rezip(&src, &|n, b| {
            (!n.ends_with("data.pkl")).then(|| (n.to_string(), b))
        });
        let e = parse_pth(&no_pkl, Path::new("z.pth")).unwrap_err().to_string();
        assert!(e.starts_with("z.pth: a zip archive without data.pkl"), "{e}");
        let no_storage = rezip(&src, &|n, b| (!n.ends_with("data/3")).then(|| (n.to_string(), b)));
        let e = parse_pth(&no_storage, Path::new("s.pth"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("torch_small/data/3") && e.contains("missing"), "{e}");
        let short = rezip(&src, &|n, mut b| {
            if n.ends_with("data/0") {
                b.truncate(40);
            }
            Some((n.to_string(), b))
        });
        let e = parse_pth(&short, Path::new("t.pth")).unwrap_err().to_string();
        assert!(
            e.contains("tensor a.weight") && e.contains("past the storage"),
            "{e}"
        );
    }
}
