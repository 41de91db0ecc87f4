//! Inception blocks (GoogLeNet's, "v1", and Inception v3) as GluonCV composes them: a tree of
//! `HybridSequential` and `HybridConcurrent` (channel concatenation) containers over
//! Conv-BatchNorm-ReLU units and pools ([`Layer`]), in either rank: 2-D for the TSN models, 3-D
//! for I3D, where GluonCV inflates every `kh x kw` window to `max(kh, kw) x kh x kw` with the
//! same stride in time and temporal padding `(kt - 1) / 2` ([`Window::inflated`]).
//!
//! Parameter paths: burn names a `Vec` child by its index, as GluonCV does, and an enum variant by
//! its name, which GluonCV has not: [`gluon_path`] drops the variant names, so kinema's
//! `features.7.Concat.1.Seq.1.BasicConv.0.weight` is GluonCV's `features.7.1.1.0.weight`.

use burn::module::{Module, ModuleDisplay};
use burn::nn::conv::{Conv2d, Conv2dConfig, Conv3d};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::Device;
use burn::Tensor;

use crate::engine::{Graph, LowerConv, PoolKind, Val, Window as GraphWindow};
use crate::error::Result;
use crate::layers::{avg_pool3d, max_pool3d, Pool3d};
use crate::layers::{conv3d, forward_bn_relu, forward_conv2d, forward_conv3d};

/// A convolution or pooling window over (T, H, W); a 2-D layer uses the H and W entries.
#[derive(Module, Debug)]
pub struct Window {
    /// Window size.
    pub kernel: [usize; 3],
    /// Step.
    pub stride: [usize; 3],
    /// Padding on both sides.
    pub padding: [usize; 3],
    /// Round the output size up (MXNet's `ceil_mode=True`, pooling only).
    pub ceil_mode: bool,
}

impl Window {
    /// A window given in every dimension.
    pub fn new(kernel: [usize; 3], stride: [usize; 3], padding: [usize; 3]) -> Window {
        Window {
            kernel,
            stride,
            padding,
            ceil_mode: false,
        }
    }

    /// A 2-D window (`kernel`, `padding` as `[h, w]`, a square `stride`) and its 3-D inflation as
    /// GluonCV's I3D Inception models have it: `max(kh, kw)` frames, the same stride in time,
    /// temporal padding `(kt - 1) / 2` (so 1x7 becomes 7x1x7 and a strided 3x3 3x3x3 with stride
    /// 2 and temporal padding 1).
    pub fn inflated(kernel: [usize; 2], stride: usize, padding: [usize; 2]) -> Window {
        let kt = kernel[0].max(kernel[1]);
        Window::new(
            [kt, kernel[0], kernel[1]],
            [stride; 3],
            [(kt - 1) / 2, padding[0], padding[1]],
        )
    }

    /// With the output size rounded up.
    pub fn ceil(mut self) -> Window {
        self.ceil_mode = true;
        self
    }

    fn pool3d(&self) -> Pool3d {
        Pool3d {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            ceil_mode: self.ceil_mode,
        }
    }

    /// Output length along dimension `d` for input length `n`, `None` where the window does not
    /// fit.
    fn out_len(&self, d: usize, n: usize) -> Option<usize> {
        let (k, s, p) = (self.kernel[d], self.stride[d], self.padding[d]);
        let span = (n + 2 * p).checked_sub(k)?;
        let mut out = if self.ceil_mode {
            span.div_ceil(s)
        } else {
            span / s
        } + 1;
        // A last window starting in the right padding is dropped (MXNet, PyTorch, burn).
        if self.ceil_mode && out > 1 && (out - 1) * s >= n + p {
            out -= 1;
        }
        Some(out)
    }
}

/// A convolution of rank 2 or 3 with the BatchNorm, ReLU, pooling and concatenation of the same
/// rank: what lets one Inception description build both the TSN (2-D) and the I3D (3-D) models.
pub trait ConvNd: Module + ModuleDisplay {
    /// `Tensor<4>` (`[N, C, H, W]`) or `Tensor<5>` (`[N, C, T, H, W]`).
    type X: Clone;
    /// Whether the T entries of a [`Window`] are ignored (2-D).
    const SPATIAL: bool;
    /// A bias-free convolution over `window`.
    fn conv(cin: usize, cout: usize, window: &Window, dev: &Device) -> Self;
    /// The convolution.
    fn apply(&self, x: Self::X) -> Self::X;
    /// BatchNorm then ReLU.
    fn norm_relu(bn: &BatchNorm, x: Self::X) -> Self::X;
    /// Max pooling (padding is -inf).
    fn max_pool(x: Self::X, window: &Window) -> Self::X;
    /// Average pooling, padding counted in the divisor (MXNet's `count_include_pad=True`).
    fn avg_pool(x: Self::X, window: &Window) -> Self::X;
    /// Concatenation along the channels.
    fn cat(xs: Vec<Self::X>) -> Self::X;
}

impl ConvNd for Conv2d {
    type X = Tensor<4>;
    const SPATIAL: bool = true;

    fn conv(cin: usize, cout: usize, w: &Window, dev: &Device) -> Conv2d {
        let [_, ph, pw] = w.padding;
        Conv2dConfig::new([cin, cout], [w.kernel[1], w.kernel[2]])
            .with_stride([w.stride[1], w.stride[2]])
            .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
            .with_bias(false)
            .init(dev)
    }

    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        forward_conv2d(self, x)
    }

    fn norm_relu(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
        forward_bn_relu(bn, x)
    }

    fn max_pool(x: Tensor<4>, w: &Window) -> Tensor<4> {
        max_pool2d(
            x,
            MaxPoolOptions::new([w.kernel[1], w.kernel[2]])
                .with_stride([w.stride[1], w.stride[2]])
                .with_padding([w.padding[1], w.padding[2]])
                .with_ceil_mode(w.ceil_mode),
        )
    }

    fn avg_pool(x: Tensor<4>, w: &Window) -> Tensor<4> {
        avg_pool2d(
            x,
            AvgPoolOptions::new([w.kernel[1], w.kernel[2]])
                .with_stride([w.stride[1], w.stride[2]])
                .with_padding([w.padding[1], w.padding[2]])
                .with_count_include_pad(true)
                .with_ceil_mode(w.ceil_mode),
        )
    }

    fn cat(xs: Vec<Tensor<4>>) -> Tensor<4> {
        Tensor::cat(xs, 1)
    }
}

impl ConvNd for Conv3d {
    type X = Tensor<5>;
    const SPATIAL: bool = false;

    fn conv(cin: usize, cout: usize, w: &Window, dev: &Device) -> Conv3d {
        conv3d(cin, cout, w.kernel, w.stride, w.padding, dev)
    }

    fn apply(&self, x: Tensor<5>) -> Tensor<5> {
        forward_conv3d(self, x)
    }

    fn norm_relu(bn: &BatchNorm, x: Tensor<5>) -> Tensor<5> {
        forward_bn_relu(bn, x)
    }

    fn max_pool(x: Tensor<5>, w: &Window) -> Tensor<5> {
        max_pool3d(x, w.pool3d())
    }

    fn avg_pool(x: Tensor<5>, w: &Window) -> Tensor<5> {
        avg_pool3d(x, w.pool3d())
    }

    fn cat(xs: Vec<Tensor<5>>) -> Tensor<5> {
        Tensor::cat(xs, 1)
    }
}

/// One child of a GluonCV container.
// Most nodes are convolution units: boxing them would not make the tree smaller.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Layer<C> {
    /// GluonCV's `_make_basic_conv`: convolution (`.0`), BatchNorm with epsilon 1e-3 (`.1`),
    /// ReLU; the convolution's window kept for shape checks.
    BasicConv((C, BatchNorm, Window)),
    /// Max pooling.
    MaxPool(Window),
    /// Average pooling (padding counted).
    AvgPool(Window),
    /// `HybridSequential`: the children in turn.
    Seq(Vec<Layer<C>>),
    /// `HybridConcurrent(axis=1)`: every child on the same input, outputs concatenated along
    /// the channels in order.
    Concat(Vec<Layer<C>>),
}

/// GluonCV's path of a kinema parameter path of a [`Layer`] tree: the enum variant names (the
/// only segments that start with a capital letter) dropped.
pub fn gluon_path(path: &str) -> String {
    path.split('.')
        .filter(|s| !s.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect::<Vec<_>>()
        .join(".")
}

impl<C: ConvNd> Layer<C> {
    /// A Conv-BN-ReLU unit from `cin` to `cout` channels over `window`.
    pub fn basic_conv(cin: usize, cout: usize, window: Window, dev: &Device) -> Layer<C> {
        Layer::BasicConv((
            C::conv(cin, cout, &window, dev),
            BatchNormConfig::new(cout).with_epsilon(1e-3).init(dev),
            window,
        ))
    }

    /// The layer on `x`.
    pub fn forward(&self, x: C::X) -> C::X {
        match self {
            Layer::BasicConv((conv, bn, _)) => C::norm_relu(bn, conv.apply(x)),
            Layer::MaxPool(w) => C::max_pool(x, w),
            Layer::AvgPool(w) => C::avg_pool(x, w),
            Layer::Seq(children) => children.iter().fold(x, |x, c| c.forward(x)),
            Layer::Concat(children) => C::cat(children.iter().map(|c| c.forward(x.clone())).collect()),
        }
    }

    /// Output (T, H, W) for an input of `size` (T ignored in 2-D), `None` where some window
    /// does not fit its input or the branches of a concatenation disagree.
    pub fn out_size(&self, size: [usize; 3]) -> Option<[usize; 3]> {
        let through = |w: &Window| -> Option<[usize; 3]> {
            let mut out = size;
            for (d, o) in out.iter_mut().enumerate().skip(C::SPATIAL as usize) {
                *o = w.out_len(d, size[d])?;
            }
            Some(out)
        };
        match self {
            Layer::BasicConv((_, _, w)) | Layer::MaxPool(w) | Layer::AvgPool(w) => through(w),
            Layer::Seq(children) => children.iter().try_fold(size, |s, c| c.out_size(s)),
            Layer::Concat(children) => {
                let sizes: Option<Vec<[usize; 3]>> = children.iter().map(|c| c.out_size(size)).collect();
                let sizes = sizes?;
                sizes.windows(2).all(|p| p[0] == p[1]).then_some(sizes[0])
            }
        }
    }
}

impl<C: ConvNd + LowerConv> Layer<C> {
    /// [`forward`](Self::forward) as graph operations; `p` is the layer's parameter path.
    pub fn lower(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val> {
        let window = |w: &Window| {
            let s = C::SPATIAL as usize;
            GraphWindow {
                kernel: w.kernel[s..].to_vec(),
                stride: w.stride[s..].to_vec(),
                pad: w.padding[s..].to_vec(),
                ceil: w.ceil_mode,
            }
        };
        match self {
            Layer::BasicConv((conv, bn, _)) => {
                conv.lower_conv(g, &format!("{p}.BasicConv.0"), Some(bn), true, None, x)
            }
            Layer::MaxPool(w) => g.pool(p, PoolKind::Max, &window(w), x),
            Layer::AvgPool(w) => g.pool(p, PoolKind::AvgIncludePad, &window(w), x),
            Layer::Seq(children) => children
                .iter()
                .enumerate()
                .try_fold(x, |x, (i, c)| c.lower(g, &format!("{p}.Seq.{i}"), x)),
            Layer::Concat(children) => {
                let ys = children
                    .iter()
                    .enumerate()
                    .map(|(i, c)| c.lower(g, &format!("{p}.Concat.{i}"), x))
                    .collect::<Result<Vec<_>>>()?;
                g.concat(p, &ys)
            }
        }
    }
}

/// Layers `(name, layer)` one after the other as graph operations.
pub fn lower_layers<C: ConvNd + LowerConv>(
    g: &mut Graph,
    layers: &[(String, &Layer<C>)],
    x: Val,
) -> Result<Val> {
    layers.iter().try_fold(x, |x, (name, l)| l.lower(g, name, x))
}

/// Output (T, H, W) of running `layers` in turn on `size`, `None` where one does not fit.
pub fn out_size<C: ConvNd>(layers: &[&Layer<C>], size: [usize; 3]) -> Option<[usize; 3]> {
    layers.iter().try_fold(size, |s, l| l.out_size(s))
}

/// `(channels, kernel [h, w], stride, padding [h, w])` of one Conv-BN-ReLU unit, as GluonCV's
/// `_make_branch` settings give it in 2-D.
type Unit = (usize, [usize; 2], usize, [usize; 2]);

/// A 1x1 unit.
const fn one(c: usize) -> Unit {
    (c, [1, 1], 1, [0, 0])
}

/// A square `k x k` unit, stride 1, padding `p`.
const fn square(c: usize, k: usize, p: usize) -> Unit {
    (c, [k, k], 1, [p, p])
}

/// GluonCV's `_make_branch`: an optional pool, then units chained from `cin` channels (inflated
/// in 3-D). Returns the branch and its output channels.
fn branch<C: ConvNd>(pool: Option<Layer<C>>, cin: usize, units: &[Unit], dev: &Device) -> (Layer<C>, usize) {
    let mut c = cin;
    let mut children: Vec<Layer<C>> = pool.into_iter().collect();
    for &(cout, k, s, p) in units {
        children.push(Layer::basic_conv(c, cout, Window::inflated(k, s, p), dev));
        c = cout;
    }
    (Layer::Seq(children), c)
}

/// A concatenation of `(branch, channels)` pairs; returns it and the channel sum.
fn concat<C: ConvNd>(branches: Vec<(Layer<C>, usize)>) -> (Layer<C>, usize) {
    let channels = branches.iter().map(|(_, c)| c).sum();
    (
        Layer::Concat(branches.into_iter().map(|(b, _)| b).collect()),
        channels,
    )
}

/// 3x3 max pooling with stride 1 and padding 1, the pool branch of GoogLeNet's blocks.
fn pool_s1<C: ConvNd>() -> Layer<C> {
    Layer::MaxPool(Window::inflated([3, 3], 1, [1, 1]))
}

/// 3x3 average pooling, stride 1, padding 1 (counted): the pool branch of Inception v3's blocks.
fn avg_s1<C: ConvNd>() -> Layer<C> {
    Layer::AvgPool(Window::inflated([3, 3], 1, [1, 1]))
}

/// 3x3 max pooling with stride 2 (unpadded in H and W; padded by one frame in T in 3-D): the
/// pool branch of Inception v3's grid reductions B and D.
fn max_s2<C: ConvNd>() -> Layer<C> {
    Layer::MaxPool(Window::inflated([3, 3], 2, [0, 0]))
}

/// GoogLeNet's Inception module (GluonCV's `_make_Mixed_*`): 1x1 (`c[0]`) | 1x1 (`c[1]`) ->
/// 3x3 (`c[2]`) | 1x1 (`c[3]`) -> 3x3 (`c[4]`; GluonCV uses 3x3 where the paper has 5x5) |
/// 3x3 max pool -> 1x1 (`c[5]`). Output channels `c[0] + c[2] + c[4] + c[5]`.
pub fn mixed<C: ConvNd>(cin: usize, c: [usize; 6], dev: &Device) -> (Layer<C>, usize) {
    concat(vec![
        branch(None, cin, &[one(c[0])], dev),
        branch(None, cin, &[one(c[1]), square(c[2], 3, 1)], dev),
        branch(None, cin, &[one(c[3]), square(c[4], 3, 1)], dev),
        branch(Some(pool_s1()), cin, &[one(c[5])], dev),
    ])
}

/// Inception v3's block A (GluonCV's `_make_A`, the 35x35 grid): 1x1 64 | 1x1 48 -> 5x5 64 |
/// 1x1 64 -> 3x3 96 -> 3x3 96 | avg pool -> 1x1 `pool_features`.
pub fn inception_a<C: ConvNd>(cin: usize, pool_features: usize, dev: &Device) -> (Layer<C>, usize) {
    concat(vec![
        branch(None, cin, &[one(64)], dev),
        branch(None, cin, &[one(48), square(64, 5, 2)], dev),
        branch(None, cin, &[one(64), square(96, 3, 1), square(96, 3, 1)], dev),
        branch(Some(avg_s1()), cin, &[one(pool_features)], dev),
    ])
}

/// Inception v3's block B (`_make_B`, 35 -> 17 grid reduction): 3x3/2 384 | 1x1 64 -> 3x3 96 ->
/// 3x3/2 96 | 3x3/2 max pool.
pub fn inception_b<C: ConvNd>(cin: usize, dev: &Device) -> (Layer<C>, usize) {
    concat(vec![
        branch(None, cin, &[(384, [3, 3], 2, [0, 0])], dev),
        branch(
            None,
            cin,
            &[one(64), square(96, 3, 1), (96, [3, 3], 2, [0, 0])],
            dev,
        ),
        (Layer::Seq(vec![max_s2()]), cin),
    ])
}

/// Inception v3's block C (`_make_C`, the 17x17 grid, factorised 7x7 with `c7` channels): 1x1
/// 192 | 1x1 -> 1x7 -> 7x1 192 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 192 | avg pool -> 1x1 192.
pub fn inception_c<C: ConvNd>(cin: usize, c7: usize, dev: &Device) -> (Layer<C>, usize) {
    let (r17, r71) = ([1, 7], [7, 1]);
    let (p17, p71) = ([0, 3], [3, 0]);
    concat(vec![
        branch(None, cin, &[one(192)], dev),
        branch(None, cin, &[one(c7), (c7, r17, 1, p17), (192, r71, 1, p71)], dev),
        branch(
            None,
            cin,
            &[
                one(c7),
                (c7, r71, 1, p71),
                (c7, r17, 1, p17),
                (c7, r71, 1, p71),
                (192, r17, 1, p17),
            ],
            dev,
        ),
        branch(Some(avg_s1()), cin, &[one(192)], dev),
    ])
}

/// Inception v3's block D (`_make_D`, 17 -> 8 grid reduction): 1x1 192 -> 3x3/2 320 | 1x1 192
/// -> 1x7 -> 7x1 -> 3x3/2 192 | 3x3/2 max pool.
pub fn inception_d<C: ConvNd>(cin: usize, dev: &Device) -> (Layer<C>, usize) {
    concat(vec![
        branch(None, cin, &[one(192), (320, [3, 3], 2, [0, 0])], dev),
        branch(
            None,
            cin,
            &[
                one(192),
                (192, [1, 7], 1, [0, 3]),
                (192, [7, 1], 1, [3, 0]),
                (192, [3, 3], 2, [0, 0]),
            ],
            dev,
        ),
        (Layer::Seq(vec![max_s2()]), cin),
    ])
}

/// Inception v3's block E (`_make_E`, the 8x8 grid, expanded): 1x1 320 | 1x1 384 -> (1x3 384 ‖
/// 3x1 384) | 1x1 448 -> 3x3 384 -> (1x3 384 ‖ 3x1 384) | avg pool -> 1x1 192. Output 2048.
pub fn inception_e<C: ConvNd>(cin: usize, dev: &Device) -> (Layer<C>, usize) {
    let split = |dev: &Device| {
        concat(vec![
            branch(None, 384, &[(384, [1, 3], 1, [0, 1])], dev),
            branch(None, 384, &[(384, [3, 1], 1, [1, 0])], dev),
        ])
    };
    let seq = |parts: Vec<(Layer<C>, usize)>| {
        let c = parts.last().map_or(0, |(_, c)| *c);
        (Layer::Seq(parts.into_iter().map(|(l, _)| l).collect()), c)
    };
    concat(vec![
        branch(None, cin, &[one(320)], dev),
        seq(vec![branch(None, cin, &[one(384)], dev), split(dev)]),
        seq(vec![
            branch(None, cin, &[one(448), square(384, 3, 1)], dev),
            split(dev),
        ]),
        branch(Some(avg_s1()), cin, &[one(192)], dev),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::{load_named, parameter_names, NamedTensor};
    use burn::tensor::TensorData;
    use std::collections::HashMap;
    use std::path::Path;

    /// `[C, T, H, W]` values of one sample.
    #[derive(Clone, Debug)]
    struct Vol {
        dims: [usize; 4],
        v: Vec<f32>,
    }

    impl Vol {
        fn at(&self, c: usize, t: isize, h: isize, w: isize) -> Option<f32> {
            let [_, tt, hh, ww] = self.dims;
            let inside = (0..tt as isize).contains(&t)
                && (0..hh as isize).contains(&h)
                && (0..ww as isize).contains(&w);
            inside.then(|| self.v[((c * tt + t as usize) * hh + h as usize) * ww + w as usize])
        }
    }

    fn out_len(n: usize, k: usize, s: usize, p: usize, ceil: bool) -> usize {
        let span = n + 2 * p - k;
        let o = if ceil { span.div_ceil(s) } else { span / s } + 1;
        if ceil && (o - 1) * s >= n + p {
            o - 1
        } else {
            o
        }
    }

    /// Windowed reduction over every position: `f(window values, in-bounds count)`.
    fn windows(
        x: &Vol,
        k: [usize; 3],
        s: [usize; 3],
        p: [usize; 3],
        ceil: bool,
        f: impl Fn(&[f32]) -> f32,
    ) -> Vol {
        let [c, t, h, w] = x.dims;
        let o = [
            out_len(t, k[0], s[0], p[0], ceil),
            out_len(h, k[1], s[1], p[1], ceil),
            out_len(w, k[2], s[2], p[2], ceil),
        ];
        let mut v = Vec::new();
        for ch in 0..c {
            for ot in 0..o[0] {
                for oh in 0..o[1] {
                    for ow in 0..o[2] {
                        let mut vals = Vec::new();
                        for a in 0..k[0] {
                            for b in 0..k[1] {
                                for d in 0..k[2] {
                                    let pos = |o: usize, i: usize, dim: usize| {
                                        (o * s[dim] + i) as isize - p[dim] as isize
                                    };
                                    if let Some(val) = x.at(ch, pos(ot, a, 0), pos(oh, b, 1), pos(ow, d, 2)) {
                                        vals.push(val);
                                    }
                                }
                            }
                        }
                        v.push(f(&vals));
                    }
                }
            }
        }
        Vol {
            dims: [c, o[0], o[1], o[2]],
            v,
        }
    }

    fn max_pool(x: &Vol, k: [usize; 3], s: [usize; 3], p: [usize; 3], ceil: bool) -> Vol {
        windows(x, k, s, p, ceil, |v| {
            v.iter().cloned().fold(f32::NEG_INFINITY, f32::max)
        })
    }

    /// Average pooling with padding counted: the sum over the window over its full size.
    fn avg_pool(x: &Vol, k: [usize; 3], s: [usize; 3], p: [usize; 3]) -> Vol {
        let n = (k[0] * k[1] * k[2]) as f32;
        windows(x, k, s, p, false, |v| v.iter().sum::<f32>() / n)
    }

    /// Conv (weights `[O, I, (kt,) kh, kw]` from `w`), BN (eps 1e-3), ReLU, by GluonCV name.
    fn unit(x: &Vol, p: &HashMap<String, NamedTensor>, name: &str, s: [usize; 3], pad: [usize; 3]) -> Vol {
        let wt = &p[&format!("{name}.0.weight")];
        let k: [usize; 3] = match wt.shape[..] {
            [_, _, kh, kw] => [1, kh, kw],
            [_, _, kt, kh, kw] => [kt, kh, kw],
            _ => unreachable!(),
        };
        let (o, i) = (wt.shape[0], wt.shape[1]);
        assert_eq!(i, x.dims[0], "{name}");
        let [_, t, h, w] = x.dims;
        let od = [
            out_len(t, k[0], s[0], pad[0], false),
            out_len(h, k[1], s[1], pad[1], false),
            out_len(w, k[2], s[2], pad[2], false),
        ];
        let bn = |what: &str| &p[&format!("{name}.1.{what}")].data;
        let (g, b, m, var) = (bn("gamma"), bn("beta"), bn("running_mean"), bn("running_var"));
        let mut v = Vec::new();
        for oc in 0..o {
            for ot in 0..od[0] {
                for oh in 0..od[1] {
                    for ow in 0..od[2] {
                        let mut acc = 0f32;
                        for ic in 0..i {
                            for a in 0..k[0] {
                                for bb in 0..k[1] {
                                    for d in 0..k[2] {
                                        let pos = |o: usize, j: usize, dim: usize| {
                                            (o * s[dim] + j) as isize - pad[dim] as isize
                                        };
                                        if let Some(val) =
                                            x.at(ic, pos(ot, a, 0), pos(oh, bb, 1), pos(ow, d, 2))
                                        {
                                            acc += val
                                                * wt.data
                                                    [(((oc * i + ic) * k[0] + a) * k[1] + bb) * k[2] + d];
                                        }
                                    }
                                }
                            }
                        }
                        let y = (acc - m[oc]) / (var[oc] + 1e-3).sqrt() * g[oc] + b[oc];
                        v.push(y.max(0.0));
                    }
                }
            }
        }
        Vol {
            dims: [o, od[0], od[1], od[2]],
            v,
        }
    }

    fn cat(parts: &[Vol]) -> Vol {
        let [_, t, h, w] = parts[0].dims;
        assert!(parts.iter().all(|p| p.dims[1..] == [t, h, w]));
        Vol {
            dims: [parts.iter().map(|p| p.dims[0]).sum(), t, h, w],
            v: parts.iter().flat_map(|p| p.v.iter().cloned()).collect(),
        }
    }

    /// `layer` with random weights and BatchNorm statistics loaded under GluonCV's names; the
    /// same tensors by name.
    fn randomized<C: ConvNd>(layer: Layer<C>, seed: usize) -> (Layer<C>, HashMap<String, NamedTensor>) {
        let mut k = seed;
        let mut next = move || {
            k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((k >> 33) % 10_000) as f32 / 10_000.0
        };
        let tensors: Vec<NamedTensor> = parameter_names(&layer)
            .into_iter()
            .map(|(path, shape)| {
                let n: usize = shape.iter().product();
                let (lo, hi) = match path.rsplit('.').next() {
                    Some("gamma") => (0.5, 1.5),
                    Some("running_var") => (0.5, 2.0),
                    Some("weight") => (-0.3, 0.3),
                    _ => (-0.2, 0.2),
                };
                NamedTensor {
                    name: gluon_path(&path),
                    data: (0..n).map(|_| lo + (hi - lo) * next()).collect(),
                    shape,
                }
            })
            .collect();
        let by_name = tensors.iter().map(|t| (t.name.clone(), t.clone())).collect();
        let layer = load_named(layer, tensors, Path::new("test"), &|p: &str| gluon_path(p)).unwrap();
        (layer, by_name)
    }

    fn input(dims: [usize; 4]) -> Vol {
        let n: usize = dims.iter().product();
        Vol {
            dims,
            v: (0..n).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect(),
        }
    }

    fn assert_close(got: Vec<f32>, want: &Vol, what: &str) {
        assert_eq!(got.len(), want.v.len(), "{what}");
        let scale = want.v.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in got.iter().zip(&want.v).enumerate() {
            assert!((a - b).abs() <= 1e-4 * scale.max(1.0), "{what} [{i}]: {a} vs {b}");
        }
    }

    fn run2d(layer: &Layer<Conv2d>, x: &Vol) -> (Vec<usize>, Vec<f32>) {
        let [c, _, h, w] = x.dims;
        let t = Tensor::<4>::from_data(TensorData::new(x.v.clone(), [1, c, h, w]), &Device::flex());
        let y = layer.forward(t);
        (y.dims().to_vec(), y.into_data().try_into_vec().unwrap())
    }

    fn run3d(layer: &Layer<Conv3d>, x: &Vol) -> (Vec<usize>, Vec<f32>) {
        let [c, t, h, w] = x.dims;
        let x = Tensor::<5>::from_data(TensorData::new(x.v.clone(), [1, c, t, h, w]), &Device::flex());
        let y = layer.forward(x);
        (y.dims().to_vec(), y.into_data().try_into_vec().unwrap())
    }

    #[test]
    fn googlenet_block_2d_matches_a_plain_loop() {
        let dev = Device::flex();
        let (block, c) = mixed::<Conv2d>(3, [2, 3, 4, 2, 3, 2], &dev);
        assert_eq!(c, 2 + 4 + 3 + 2);
        let (block, p) = randomized(block, 1);
        let x = input([3, 1, 5, 6]);
        let (one, same) = ([1, 1, 1], [0, 0, 0]);
        let want = cat(&[
            unit(&x, &p, "0.0", one, same),
            unit(&unit(&x, &p, "1.0", one, same), &p, "1.1", one, [0, 1, 1]),
            unit(&unit(&x, &p, "2.0", one, same), &p, "2.1", one, [0, 1, 1]),
            unit(
                &max_pool(&x, [1, 3, 3], one, [0, 1, 1], false),
                &p,
                "3.1",
                one,
                same,
            ),
        ]);
        let (dims, got) = run2d(&block, &x);
        assert_eq!(dims, [1, 11, 5, 6]);
        assert_eq!(block.out_size([1, 5, 6]), Some([1, 5, 6]));
        assert_close(got, &want, "mixed");
    }

    #[test]
    fn inception_v3_blocks_3d_match_a_plain_loop() {
        let dev = Device::flex();
        let (one, same) = ([1, 1, 1], [0, 0, 0]);
        // C: anisotropic 7x1x7 / 7x7x1 kernels, average pool counting its padding
        let (block, c) = inception_c::<Conv3d>(3, 2, &dev);
        assert_eq!(c, 768);
        let (block, p) = randomized(block, 2);
        let x = input([3, 3, 4, 5]);
        let (a, b) = ([3, 0, 3], [3, 3, 0]);
        let u = |x: &Vol, n: &str, pad: [usize; 3]| unit(x, &p, n, one, pad);
        let want = cat(&[
            u(&x, "0.0", same),
            u(&u(&u(&x, "1.0", same), "1.1", a), "1.2", b),
            u(
                &u(&u(&u(&u(&x, "2.0", same), "2.1", b), "2.2", a), "2.3", b),
                "2.4",
                a,
            ),
            u(&avg_pool(&x, [3, 3, 3], one, one), "3.1", same),
        ]);
        let (dims, got) = run3d(&block, &x);
        assert_eq!(dims, [1, 768, 3, 4, 5]);
        assert_close(got, &want, "C");

        // B: stride 2 in T too, with one frame of temporal padding, and a strided max pool
        let (block, c) = inception_b::<Conv3d>(2, &dev);
        assert_eq!(c, 384 + 96 + 2);
        let (block, p) = randomized(block, 3);
        let x = input([2, 4, 5, 7]);
        let s2 = [2, 2, 2];
        let t1 = [1, 0, 0];
        let u = |x: &Vol, n: &str, s: [usize; 3], pad: [usize; 3]| unit(x, &p, n, s, pad);
        let want = cat(&[
            u(&x, "0.0", s2, t1),
            u(&u(&u(&x, "1.0", one, same), "1.1", one, one), "1.2", s2, t1),
            max_pool(&x, [3, 3, 3], s2, t1, false),
        ]);
        let (dims, got) = run3d(&block, &x);
        assert_eq!(dims, [1, 482, 2, 2, 3]);
        assert_eq!(block.out_size([4, 5, 7]), Some([2, 2, 3]));
        assert_close(got, &want, "B");
    }

    #[test]
    fn inception_v3_block_e_2d_matches_a_plain_loop() {
        let dev = Device::flex();
        let (block, c) = inception_e::<Conv2d>(2, &dev);
        assert_eq!(c, 2048);
        let (block, p) = randomized(block, 4);
        let x = input([2, 1, 3, 3]);
        let (one, same) = ([1, 1, 1], [0, 0, 0]);
        let u = |x: &Vol, n: &str, pad: [usize; 3]| unit(x, &p, n, one, pad);
        let split = |x: &Vol, n: &str| {
            cat(&[
                u(x, &format!("{n}.0.0"), [0, 0, 1]),
                u(x, &format!("{n}.1.0"), [0, 1, 0]),
            ])
        };
        let want = cat(&[
            u(&x, "0.0", same),
            split(&u(&x, "1.0.0", same), "1.1"),
            split(&u(&u(&x, "2.0.0", same), "2.0.1", [0, 1, 1]), "2.1"),
            u(&avg_pool(&x, [1, 3, 3], one, [0, 1, 1]), "3.1", same),
        ]);
        let (dims, got) = run2d(&block, &x);
        assert_eq!(dims, [1, 2048, 3, 3]);
        assert_close(got, &want, "E");
    }

    /// MXNet's `ceil_mode=True` max pooling (GoogLeNet's stem) and the shape arithmetic.
    #[test]
    fn ceil_mode_max_pool_matches_a_plain_loop() {
        let x = input([2, 1, 8, 7]);
        let w = Window::new([1, 3, 3], [1, 2, 2], [0, 0, 0]).ceil();
        let l: Layer<Conv2d> = Layer::MaxPool(w);
        let (dims, got) = run2d(&l, &x);
        let want = max_pool(&x, [1, 3, 3], [1, 2, 2], [0, 0, 0], true);
        assert_eq!(dims, [1, 2, 4, 3]);
        assert_eq!(l.out_size([1, 8, 7]), Some([1, 4, 3]));
        assert_close(got, &want, "ceil pool");
        assert_eq!(l.out_size([1, 2, 7]), None);
    }

    #[test]
    fn gluon_paths_drop_variant_names() {
        assert_eq!(
            gluon_path("features.7.Concat.1.Seq.1.BasicConv.0.weight"),
            "features.7.1.1.0.weight"
        );
        let (block, _) = inception_e::<Conv2d>(4, &Device::flex());
        let names: Vec<String> = parameter_names(&block)
            .into_iter()
            .map(|(p, _)| gluon_path(&p))
            .collect();
        for n in [
            "0.0.0.weight",
            "1.0.0.1.gamma",
            "1.1.1.0.0.weight",
            "2.0.1.1.running_var",
            "3.1.0.weight",
        ] {
            assert!(names.iter().any(|m| m == n), "{n} not in {names:?}");
        }
    }
}
