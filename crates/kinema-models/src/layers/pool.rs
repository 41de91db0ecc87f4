//! 3-D max and average pooling from burn's differentiable 2-D pools: first over (H, W) with T
//! folded into the channels, then over T with (H, W) folded into the width. Max pooling is
//! separable exactly; average pooling too when padding is counted (`count_include_pad`), which
//! is what MXNet's and GluonCV's 3-D pools do.

use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::Tensor;

/// Kernel, stride, padding (per side) over (T, H, W), and the output-size rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool3d {
    /// Window.
    pub kernel: [usize; 3],
    /// Step.
    pub stride: [usize; 3],
    /// Zero (avg) / -inf (max) padding on both sides.
    pub padding: [usize; 3],
    /// Round the output size up (MXNet's `pooling_convention='full'`).
    pub ceil_mode: bool,
}

impl Pool3d {
    /// A pool with the given kernel and stride and no padding.
    pub fn new(kernel: [usize; 3], stride: [usize; 3]) -> Pool3d {
        Pool3d {
            kernel,
            stride,
            padding: [0; 3],
            ceil_mode: false,
        }
    }

    /// With `padding`.
    pub fn with_padding(mut self, padding: [usize; 3]) -> Pool3d {
        self.padding = padding;
        self
    }
}

/// 3-D max pooling of `[N, C, T, H, W]` (burn's ops: what training, the GPU backends and the
/// burn engine run; the CPU eval engine pools on oneDNN).
pub fn max_pool3d(x: Tensor<5>, p: Pool3d) -> Tensor<5> {
    let [n, c, t, h, w] = x.dims();
    let y = max_pool2d(
        x.reshape([n, c * t, h, w]),
        MaxPoolOptions::new([p.kernel[1], p.kernel[2]])
            .with_stride([p.stride[1], p.stride[2]])
            .with_padding([p.padding[1], p.padding[2]])
            .with_ceil_mode(p.ceil_mode),
    );
    let [_, _, h2, w2] = y.dims();
    let z = max_pool2d(
        y.reshape([n, c, t, h2 * w2]),
        MaxPoolOptions::new([p.kernel[0], 1])
            .with_stride([p.stride[0], 1])
            .with_padding([p.padding[0], 0])
            .with_ceil_mode(p.ceil_mode),
    );
    let [_, _, t2, _] = z.dims();
    z.reshape([n, c, t2, h2, w2])
}

/// 3-D average pooling of `[N, C, T, H, W]`, padding counted in the divisor.
pub fn avg_pool3d(x: Tensor<5>, p: Pool3d) -> Tensor<5> {
    let [n, c, t, h, w] = x.dims();
    let y = avg_pool2d(
        x.reshape([n, c * t, h, w]),
        AvgPoolOptions::new([p.kernel[1], p.kernel[2]])
            .with_stride([p.stride[1], p.stride[2]])
            .with_padding([p.padding[1], p.padding[2]])
            .with_count_include_pad(true)
            .with_ceil_mode(p.ceil_mode),
    );
    let [_, _, h2, w2] = y.dims();
    let z = avg_pool2d(
        y.reshape([n, c, t, h2 * w2]),
        AvgPoolOptions::new([p.kernel[0], 1])
            .with_stride([p.stride[0], 1])
            .with_padding([p.padding[0], 0])
            .with_count_include_pad(true)
            .with_ceil_mode(p.ceil_mode),
    );
    let [_, _, t2, _] = z.dims();
    z.reshape([n, c, t2, h2, w2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Plain-loop reference (floor mode).
    fn reference(x: &[f32], dims: [usize; 5], p: Pool3d, max: bool) -> (Vec<f32>, [usize; 5]) {
        let [n, c, t, h, w] = dims;
        let out = |i: usize, k: usize, s: usize, pad: usize| (i + 2 * pad - k) / s + 1;
        let (t2, h2, w2) = (
            out(t, p.kernel[0], p.stride[0], p.padding[0]),
            out(h, p.kernel[1], p.stride[1], p.padding[1]),
            out(w, p.kernel[2], p.stride[2], p.padding[2]),
        );
        let mut y = Vec::new();
        for b in 0..n * c {
            for ot in 0..t2 {
                for oh in 0..h2 {
                    for ow in 0..w2 {
                        let (mut acc, mut best) = (0f32, f32::NEG_INFINITY);
                        for kt in 0..p.kernel[0] {
                            for kh in 0..p.kernel[1] {
                                for kw in 0..p.kernel[2] {
                                    let it = (ot * p.stride[0] + kt) as isize - p.padding[0] as isize;
                                    let ih = (oh * p.stride[1] + kh) as isize - p.padding[1] as isize;
                                    let iw = (ow * p.stride[2] + kw) as isize - p.padding[2] as isize;
                                    let inside = (0..t as isize).contains(&it)
                                        && (0..h as isize).contains(&ih)
                                        && (0..w as isize).contains(&iw);
                                    if inside {
                                        let v =
                                            x[(((b * t) + it as usize) * h + ih as usize) * w + iw as usize];
                                        acc += v;
                                        best = best.max(v);
                                    }
                                }
                            }
                        }
                        let count = (p.kernel[0] * p.kernel[1] * p.kernel[2]) as f32;
                        y.push(if max { best } else { acc / count });
                    }
                }
            }
        }
        (y, [n, c, t2, h2, w2])
    }

    #[test]
    fn separable_pools_match_plain_loops() {
        let dev = Device::flex();
        let dims = [2, 3, 5, 7, 6];
        let len: usize = dims.iter().product();
        let data: Vec<f32> = (0..len).map(|i| ((i * 7919) % 97) as f32 / 10.0 - 4.0).collect();
        for p in [
            Pool3d::new([3, 3, 3], [2, 2, 2]).with_padding([1, 1, 1]),
            Pool3d::new([1, 3, 3], [1, 2, 2]).with_padding([0, 1, 1]),
            Pool3d::new([2, 1, 1], [2, 1, 1]),
            Pool3d::new([5, 7, 6], [1, 1, 1]),
        ] {
            for max in [true, false] {
                let x = Tensor::<5>::from_data(TensorData::new(data.clone(), dims), &dev);
                let y = if max { max_pool3d(x, p) } else { avg_pool3d(x, p) };
                let (want, wdims) = reference(&data, dims, p, max);
                assert_eq!(y.dims(), wdims, "{p:?}");
                let got: Vec<f32> = y.into_data().try_into_vec::<f32>().unwrap();
                for (a, b) in got.iter().zip(&want) {
                    assert!((a - b).abs() < 1e-5, "{p:?} max={max}: {a} vs {b}");
                }
            }
        }
    }
}
