//! Eval-mode 3-D max pooling on contiguous `[n, c, t, h, w]` `f32`: separable, one pass per
//! axis, each a running max over contiguous rows (burn Flex's pool computes every window's
//! index arithmetic per element). Same output sizes as burn's pools (PyTorch's rule, with
//! `ceil_mode`); padding never wins a max. Tested against burn's pool in `layers::pool`.

use rayon::prelude::*;

/// Output length of a pool over `len` (burn's and PyTorch's rule).
pub fn pool_len(len: usize, k: usize, s: usize, pad: usize, ceil: bool) -> Option<usize> {
    let padded = len + 2 * pad;
    if k == 0 || s == 0 || padded < k {
        return None;
    }
    if !ceil {
        return Some((padded - k) / s + 1);
    }
    let out = (padded + s - 1 - k) / s + 1;
    Some(if (out - 1) * s >= len + pad { out - 1 } else { out })
}

/// Max over windows `(k, s, pad)` of axis 1 of `[outer, len, inner]`, giving
/// `[outer, olen, inner]`.
fn max_axis(x: &[f32], [outer, len, inner]: [usize; 3], [k, s, pad]: [usize; 3], olen: usize) -> Vec<f32> {
    let mut out = vec![f32::NEG_INFINITY; outer * olen * inner];
    let block = |(src, dst): (&[f32], &mut [f32])| {
        for o in 0..olen {
            let start = (o * s) as isize - pad as isize;
            let lo = start.max(0) as usize;
            let hi = ((start + k as isize).max(0) as usize).min(len);
            if inner == 1 {
                // Along the last axis: one small window per output.
                dst[o] = src[lo..hi].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                continue;
            }
            let d = &mut dst[o * inner..(o + 1) * inner];
            for j in lo..hi {
                for (d, &v) in d.iter_mut().zip(&src[j * inner..(j + 1) * inner]) {
                    *d = d.max(v);
                }
            }
        }
    };
    if outer * len * inner >= 1 << 16 {
        x.par_chunks(len * inner)
            .zip(out.par_chunks_mut(olen * inner))
            .for_each(block);
    } else {
        x.chunks(len * inner)
            .zip(out.chunks_mut(olen * inner))
            .for_each(block);
    }
    out
}

/// 3-D max pooling of `x` (`[n, c, t, h, w]`); `None` when a window does not fit.
pub fn max_pool3d(
    x: &[f32],
    shape: [usize; 5],
    kernel: [usize; 3],
    stride: [usize; 3],
    pad: [usize; 3],
    ceil: bool,
) -> Option<(Vec<f32>, [usize; 5])> {
    let [n, c, t, h, w] = shape;
    let ot = pool_len(t, kernel[0], stride[0], pad[0], ceil)?;
    let oh = pool_len(h, kernel[1], stride[1], pad[1], ceil)?;
    let ow = pool_len(w, kernel[2], stride[2], pad[2], ceil)?;
    let mut y = std::borrow::Cow::Borrowed(x);
    if kernel[2] != 1 || stride[2] != 1 || pad[2] != 0 {
        y = max_axis(&y, [n * c * t * h, w, 1], [kernel[2], stride[2], pad[2]], ow).into();
    }
    if kernel[1] != 1 || stride[1] != 1 || pad[1] != 0 {
        y = max_axis(&y, [n * c * t, h, ow], [kernel[1], stride[1], pad[1]], oh).into();
    }
    if kernel[0] != 1 || stride[0] != 1 || pad[0] != 0 {
        y = max_axis(&y, [n * c, t, oh * ow], [kernel[0], stride[0], pad[0]], ot).into();
    }
    Some((y.into_owned(), [n, c, ot, oh, ow]))
}
