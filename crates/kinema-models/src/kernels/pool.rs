//! Eval-mode 3-D max pooling on contiguous `[n, c, t, h, w]` `f32`: separable, one pass per
//! (h, w) plane and one over time, each a running max over contiguous rows (burn Flex's pool computes every window's
//! index arithmetic per element). Same output sizes as burn's pools (PyTorch's rule, with
//! `ceil_mode`); padding never wins a max. Tested against burn's pool in `layers::pool`.

use rayon::prelude::*;

use super::buffers;

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

/// Max over windows `[k, s, pad]` of axis 1 of `[outer, len, inner]`, giving
/// `[outer, olen, inner]` (an axis of many contiguous values: the time axis).
fn max_axis(x: &[f32], [outer, len, inner]: [usize; 3], kst: [usize; 3], olen: usize) -> Vec<f32> {
    let mut out = buffers::take_filled(outer * olen * inner, f32::NEG_INFINITY);
    let block = |(src, dst): (&[f32], &mut [f32])| {
        for o in 0..olen {
            let (lo, hi) = window(o, len, kst);
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

/// The window `[lo, hi)` of output `o` over an axis of `len` (`[k, s, pad]`), clipped to the
/// input: padding never wins a max.
fn window(o: usize, len: usize, [k, s, pad]: [usize; 3]) -> (usize, usize) {
    let start = (o * s) as isize - pad as isize;
    let lo = start.max(0) as usize;
    let hi = ((start + k as isize).max(0) as usize).min(len);
    (lo, hi)
}

/// Max over the (h, w) windows of one `[h, w]` plane (`src`) into `[oh, ow]` (`dst`): each output
/// row first reduces its window's input rows into `row` (vectorised over the width), then every
/// output takes the max of its `kw` columns. `row` holds the width with `NEG_INFINITY` padding
/// on both sides (`pw` before, enough after for the last window), so no window is clipped.
fn max_plane(
    src: &[f32],
    dst: &mut [f32],
    [h, w, ow]: [usize; 3],
    wh: [usize; 3],
    [kw, sw, pw]: [usize; 3],
    row: &mut [f32],
) {
    let identity_w = [kw, sw, pw] == [1, 1, 0];
    for (oy, out) in dst.chunks_exact_mut(ow).enumerate() {
        let (lo, hi) = window(oy, h, wh);
        let inner = &mut row[pw..pw + w];
        inner.fill(f32::NEG_INFINITY);
        for j in lo..hi {
            for (r, &v) in inner.iter_mut().zip(&src[j * w..(j + 1) * w]) {
                *r = r.max(v);
            }
        }
        if identity_w {
            out.copy_from_slice(inner);
            continue;
        }
        for (o, win) in out.iter_mut().zip(row.windows(kw).step_by(sw)) {
            *o = win.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        }
    }
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
    let axis = |i: usize| [kernel[i], stride[i], pad[i]];
    let mut y = std::borrow::Cow::Borrowed(x);
    if axis(1) != [1, 1, 0] || axis(2) != [1, 1, 0] {
        // (h, w) together, one plane at a time.
        let planes = n * c * t;
        // Every plane is written in full.
        let mut out = buffers::take(planes * oh * ow);
        let per_task = ((1 << 15) / (h * w).max(1)).max(1);
        x.par_chunks(per_task * h * w)
            .zip(out.par_chunks_mut(per_task * oh * ow))
            .for_each(|(src, dst)| {
                // Padded row: ow windows of kw at stride sw, starting pw before the input.
                let [kw, sw, pw] = axis(2);
                let mut row = vec![f32::NEG_INFINITY; ((ow - 1) * sw + kw).max(pw + w)];
                for (s, d) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(oh * ow)) {
                    max_plane(s, d, [h, w, ow], axis(1), axis(2), &mut row);
                }
            });
        y = out.into();
    }
    if axis(0) != [1, 1, 0] {
        let out = max_axis(&y, [n * c, t, oh * ow], axis(0), ot);
        if let std::borrow::Cow::Owned(v) = std::mem::replace(&mut y, out.into()) {
            buffers::give(v);
        }
    }
    Some((y.into_owned(), [n, c, ot, oh, ow]))
}
