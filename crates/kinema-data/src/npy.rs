//! `.npy` files (NumPy's format, version 1.0): how clips and features leave kinema for Python.

use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::Result;

/// Writes a little-endian f32 array of `shape` (C order) to `path`, atomically.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes
    let used = 10 + header.len() + 1;
    header.push_str(&" ".repeat(used.next_multiple_of(64) - used));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

/// Reads a little-endian f32 (or f64, converted) C-order `.npy` file: shape and values.
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bad = |m: String| crate::DataError::File {
        path: path.to_path_buf(),
        reason: m,
    };
    let b = std::fs::read(path).map_err(|e| crate::DataError::io(path, e))?;
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file".into()));
    }
    let (hl, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let header = b
        .get(start..start + hl)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header".into()))?;
    let field = |k: &str| header.split(&format!("'{k}':")).nth(1).map(str::trim);
    let descr = field("descr").and_then(|d| d.split('\'').nth(1)).unwrap_or("");
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(bad("Fortran-ordered arrays are not supported".into()));
    }
    let shape_text = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape in the header".into()))?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad(format!("bad shape ({shape_text})"))))
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let body = &b[start + hl..];
    let data: Vec<f32> = match descr {
        "<f4" if body.len() == n * 4 => body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
            .collect(),
        "<f8" if body.len() == n * 8 => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8")) as f32)
            .collect(),
        "<f4" | "<f8" => return Err(bad(format!("{} data bytes for shape {shape:?}", body.len()))),
        d => return Err(bad(format!("dtype {d:?}: only little-endian f4/f8"))),
    };
    Ok((shape, data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_is_aligned_and_data_follows() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.npy");
        super::write_npy_f32(&p, &[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.5]).unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
        let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hl) % 64, 0);
        let h = std::str::from_utf8(&b[10..10 + hl]).unwrap();
        assert!(h.contains("'shape': (2, 3)") && h.ends_with('\n'));
        assert_eq!(b.len(), 10 + hl + 24);
        assert_eq!(f32::from_le_bytes(b[b.len() - 4..].try_into().unwrap()), 5.5);
        let (shape, data) = super::read_npy_f32(&p).unwrap();
        assert_eq!((shape, data), (vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.5]));
        std::fs::write(&p, &b[..b.len() - 1]).unwrap();
        assert!(super::read_npy_f32(&p)
            .unwrap_err()
            .to_string()
            .contains("data bytes"));
    }
}
