//! MXNet's NDArray-list file (`.params`, what GluonCV's `save_parameters` writes), parsed here:
//! `u64 0x112`, `u64 0`, `u64 count`, `count` arrays, `u64 count`, `count` names
//! (`u64 len` + bytes). An array: `u32 magic` (0xF993FAC9 = V2, 0xF993FACA = V3, 0xF993FAC8 =
//! V1), `i32 storage type` (V2/V3; 0 = dense), shape (`u32 ndim` + `i64` dims; V3: `i32 ndim`,
//! -1 = none), then unless the shape is empty `i32 dev_type`, `i32 dev_id`, `i32 dtype` and the
//! data, little endian.

use std::path::Path;

use crate::error::{ModelError, Result};

/// One tensor of a weight file, as f32.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Entry name (`arg:`/`aux:` prefixes removed).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row major.
    pub data: Vec<f32>,
}

const LIST_MAGIC: u64 = 0x112;
const V1: u32 = 0xF993_FAC8;
const V2: u32 = 0xF993_FAC9;
const V3: u32 = 0xF993_FACA;

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        if self.b.len() - self.at < n {
            return Err(ModelError::bad(
                self.path,
                format!(
                    "truncated: {what} needs {n} bytes at offset {}, the file has {} left",
                    self.at,
                    self.b.len() - self.at
                ),
            ));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(self.u32(what)? as i32)
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(self.u64(what)? as i64)
    }
    fn count(&mut self, what: &str, min_bytes_each: usize) -> Result<usize> {
        let n = self.u64(what)?;
        // A count that cannot fit in the rest of the file is corruption, not an allocation.
        if n as u128 * min_bytes_each as u128 > (self.b.len() - self.at) as u128 {
            return Err(ModelError::bad(
                self.path,
                format!(
                    "corrupt or truncated: {what} {n} at offset {} cannot fit in the file",
                    self.at - 8
                ),
            ));
        }
        Ok(n as usize)
    }
}

/// Parses a `.params` file.
pub fn read_params(path: &Path) -> Result<Vec<NamedTensor>> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_params(&bytes, path)
}

/// Parses `.params` bytes (`path` names them in errors).
pub fn parse_params(bytes: &[u8], path: &Path) -> Result<Vec<NamedTensor>> {
    let mut c = Cursor {
        b: bytes,
        at: 0,
        path,
    };
    let magic = c.u64("the header")?;
    if magic != LIST_MAGIC {
        return Err(ModelError::bad(
            path,
            format!("not an MXNet .params file (magic {magic:#x}, expected 0x112)"),
        ));
    }
    c.u64("the header")?;
    let n = c.count("array count", 4)?;
    let mut arrays = Vec::with_capacity(n);
    for k in 0..n {
        arrays.push(read_array(&mut c, k)?);
    }
    let names = c.count("name count", 8)?;
    if names != n {
        return Err(ModelError::bad(path, format!("{n} arrays but {names} names")));
    }
    let mut out = Vec::with_capacity(n);
    for (k, (shape, data)) in arrays.into_iter().enumerate() {
        let len = c.count("name length", 1)?;
        let raw = c.take(len, "a name")?;
        let name = String::from_utf8(raw.to_vec())
            .map_err(|_| ModelError::bad(path, format!("name of array {k} is not UTF-8")))?;
        let name = name
            .strip_prefix("arg:")
            .or_else(|| name.strip_prefix("aux:"))
            .unwrap_or(&name)
            .to_string();
        out.push(NamedTensor { name, shape, data });
    }
    if c.at != bytes.len() {
        return Err(ModelError::bad(
            path,
            format!("{} bytes after the last name", bytes.len() - c.at),
        ));
    }
    Ok(out)
}

fn read_array(c: &mut Cursor, k: usize) -> Result<(Vec<usize>, Vec<f32>)> {
    let what = format!("array {k}");
    let first = c.u32(&what)?;
    let dims: Option<Vec<i64>> = match first {
        V2 | V3 => {
            let stype = c.i32(&what)?;
            if stype != 0 {
                return Err(ModelError::bad(
                    c.path,
                    format!("array {k}: sparse storage (type {stype}) is not supported"),
                ));
            }
            let ndim = c.i32(&what)?;
            if ndim < 0 || (first == V2 && ndim == 0) {
                None
            } else {
                Some((0..ndim).map(|_| c.i64(&what)).collect::<Result<_>>()?)
            }
        }
        V1 => {
            let ndim = c.u32(&what)?;
            if ndim == 0 {
                None
            } else {
                Some((0..ndim).map(|_| c.i64(&what)).collect::<Result<_>>()?)
            }
        }
        // The oldest layout starts with the dimension count and stores u32 dims.
        ndim if ndim <= 32 => {
            if ndim == 0 {
                None
            } else {
                Some(
                    (0..ndim)
                        .map(|_| c.u32(&what).map(|d| d as i64))
                        .collect::<Result<_>>()?,
                )
            }
        }
        m => {
            return Err(ModelError::bad(
                c.path,
                format!("array {k}: unknown array magic {m:#x}"),
            ))
        }
    };
    let Some(dims) = dims else {
        return Ok((Vec::new(), Vec::new()));
    };
    if dims.iter().any(|&d| d < 0) {
        return Err(ModelError::bad(
            c.path,
            format!("array {k}: negative dimension in {dims:?}"),
        ));
    }
    let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    let size = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| ModelError::bad(c.path, format!("array {k}: shape {shape:?} overflows")))?;
    c.i32(&what)?; // device type
    c.i32(&what)?; // device id
    let dtype = c.i32(&what)?;
    let width = match dtype {
        0 | 4 => 4,
        1 | 6 => 8,
        2 => 2,
        3 | 5 => 1,
        t => {
            return Err(ModelError::bad(
                c.path,
                format!("array {k}: unsupported dtype code {t}"),
            ))
        }
    };
    let need = size
        .checked_mul(width)
        .ok_or_else(|| ModelError::bad(c.path, "array size overflows"))?;
    let raw = c.take(need, &what)?;
    let data: Vec<f32> = match dtype {
        0 => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4")))
            .collect(),
        1 => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8")) as f32)
            .collect(),
        2 => raw
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        3 => raw.iter().map(|&b| b as f32).collect(),
        4 => raw
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes(b.try_into().expect("4")) as f32)
            .collect(),
        5 => raw.iter().map(|&b| b as i8 as f32).collect(),
        _ => raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8")) as f32)
            .collect(),
    };
    Ok((shape, data))
}

/// IEEE half -> single.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: normalise
            let shift = f.leading_zeros() - 21;
            sign | ((127 - 15 + 1 - shift) << 23) | ((f << shift) & 0x3ff) << 13
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/mxnet_small.params"
        ))
        .unwrap()
    }

    /// Written by `mx.nd.save` (mxnet 1.9.1): a 2x3 f32, a 1-element f64, an empty array.
    #[test]
    fn reads_mxnet_output() {
        let t = parse_params(&fixture(), Path::new("x.params")).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].name.as_str(), t[0].shape.as_slice()),
            ("a.weight", &[2usize, 3][..])
        );
        assert_eq!(t[0].data, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((t[1].name.as_str(), t[1].data.as_slice()), ("b", &[1.5f32][..]));
        assert_eq!((t[2].shape.as_slice(), t[2].data.len()), (&[0usize][..], 0));
    }

    #[test]
    fn every_truncation_is_an_error_naming_the_file() {
        let b = fixture();
        for cut in 0..b.len() {
            let e = parse_params(&b[..cut], Path::new("cut.params"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("cut.params: "), "{cut}: {e}");
        }
        let mut bad = b.clone();
        bad[0] = 0x13;
        assert!(parse_params(&bad, Path::new("m.params"))
            .unwrap_err()
            .to_string()
            .contains("not an MXNet"));
        let mut huge = b.clone();
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse_params(&huge, Path::new("h.params"))
            .unwrap_err()
            .to_string()
            .contains("cannot fit"));
    }

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}
