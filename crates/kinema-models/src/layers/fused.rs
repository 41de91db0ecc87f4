//! Convolution + BatchNorm (+ ReLU) as the models call it. In eval mode on the Flex CPU device
//! the BatchNorm is folded into the convolution ([`crate::kernels::conv`]: one pass, scale and
//! shift applied as the GEMM result is written); anywhere else (training, autodiff, GPU
//! backends, geometries the kernel does not take) it is burn's `Conv` then `BatchNorm` then ReLU.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::nn::conv::{Conv2d, Conv3d};
use burn::nn::{BatchNorm, PaddingConfig2d, PaddingConfig3d};
use burn::tensor::activation::relu;
use burn::tensor::{DType, Device, TensorData};
use burn::Tensor;

use crate::kernels::conv::{conv3d, ConvGeom, Epilogue};

static FOLD: AtomicBool = AtomicBool::new(true);

/// Turns the folded eval path on (the default) or off process-wide; off, every convolution and
/// BatchNorm runs as burn's separate ops (what the folded path is tested and timed against).
pub fn set_batchnorm_folding(on: bool) {
    FOLD.store(on, Ordering::Relaxed);
}

/// Whether the folded eval path is on.
pub fn batchnorm_folding() -> bool {
    FOLD.load(Ordering::Relaxed)
}

/// `f` on the values of `t` as `f32`: borrowed straight from a contiguous Flex tensor's
/// storage (a parameter is read where it lives, no copy per forward pass), copied otherwise.
fn with_f32<const D: usize, R>(t: Tensor<D>, f: impl FnOnce(&[f32]) -> R) -> R {
    if t.dtype() == DType::F32 {
        if let Ok(p) = t.clone().try_into_primitive::<burn::backend::Flex>() {
            if let Some(v) = p.as_slice::<f32>() {
                return f(v);
            }
        }
    }
    f(&values(t.reshape([-1])))
}

fn values(t: Tensor<1>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}

/// Per-channel `(scale, shift)` of `bn` after a convolution with `bias`:
/// `bn(conv + bias) = conv * scale + shift` with the running statistics.
fn fold(bn: Option<&BatchNorm>, bias: Option<Vec<f32>>, cout: usize) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let Some(bn) = bn else {
        return (None, bias);
    };
    let gamma = values(bn.gamma.val());
    let beta = values(bn.beta.val());
    let mean = values(bn.running_mean.value());
    let var = values(bn.running_var.value());
    let mut scale = vec![0f32; cout];
    let mut shift = vec![0f32; cout];
    for c in 0..cout {
        // bn(y) = (y - mean) / sqrt(var + eps) * gamma + beta = y * s + (beta - mean * s).
        let s = gamma[c] / ((var[c] as f64 + bn.epsilon).sqrt() as f32);
        scale[c] = s;
        let b = bias.as_ref().map_or(0.0, |b| b[c]);
        shift[c] = (b - mean[c]) * s + beta[c];
    }
    (Some(scale), Some(shift))
}

fn fast_device(dev: &Device) -> bool {
    batchnorm_folding() && !dev.is_autodiff() && *dev == Device::flex()
}

/// An eval-mode activation on the Flex CPU device, as plain values: `[n, c, d, h, w]` (2-D
/// activations with `d = 1`). Blocks pass these between their convolutions so that a tensor
/// read by two convolutions (a residual branch) is not copied and the residual sum and ReLU
/// happen in the last convolution's epilogue.
#[derive(Debug, Clone)]
pub struct FeatureMap {
    /// Values, row major.
    pub data: Vec<f32>,
    /// `[n, c, d, h, w]`.
    pub shape: [usize; 5],
    dev: Device,
}

impl FeatureMap {
    /// `x` as an activation when the folded path applies (eval mode on Flex, `f32`, folding
    /// on); `x` back otherwise. Free when `x` owns its buffer.
    pub fn take5(x: Tensor<5>) -> Result<FeatureMap, Box<Tensor<5>>> {
        let dev = x.device();
        if !fast_device(&dev) || x.dtype() != DType::F32 {
            return Err(Box::new(x));
        }
        let d = x.dims();
        let data = x.into_data().try_into_vec::<f32>().expect("f32 checked");
        Ok(FeatureMap { data, shape: d, dev })
    }

    /// Like [`take5`](Self::take5) for `[n, c, h, w]`.
    pub fn take4(x: Tensor<4>) -> Result<FeatureMap, Box<Tensor<4>>> {
        let [n, c, h, w] = x.dims();
        Self::take5(x.reshape([n, c, 1, h, w])).map_err(|x| Box::new(x.reshape([n, c, h, w])))
    }

    /// Back to a burn tensor (no copy).
    pub fn into5(mut self) -> Tensor<5> {
        let data = std::mem::take(&mut self.data);
        Tensor::from_data(TensorData::new(data, self.shape.to_vec()), &self.dev)
    }

    /// Back to a `[n, c, h, w]` burn tensor (no copy); `d` must be 1.
    pub fn into4(mut self) -> Tensor<4> {
        let [n, c, _, h, w] = self.shape;
        let data = std::mem::take(&mut self.data);
        Tensor::from_data(TensorData::new(data, vec![n, c, h, w]), &self.dev)
    }
}

impl Drop for FeatureMap {
    /// An activation a block is done with keeps its pages for the next one
    /// ([`crate::kernels::buffers`]).
    fn drop(&mut self) {
        crate::kernels::buffers::give(std::mem::take(&mut self.data));
    }
}

/// A burn convolution's geometry as the kernel takes it, when it can.
fn geometry(
    kernel: [usize; 3],
    stride: [usize; 3],
    pads: Option<([usize; 3], [usize; 3])>,
    simple: bool,
) -> Option<ConvGeom> {
    let (pad_begin, pad_end) = pads?;
    simple.then_some(ConvGeom {
        kernel,
        stride,
        pad_begin,
        pad_end,
    })
}

fn geom3(conv: &Conv3d) -> Option<ConvGeom> {
    let pads = match conv.padding {
        PaddingConfig3d::Explicit(d, h, w) => Some(([d, h, w], [d, h, w])),
        PaddingConfig3d::Valid => Some(([0; 3], [0; 3])),
        PaddingConfig3d::Same => None,
    };
    let simple = conv.groups == 1 && conv.dilation == [1, 1, 1];
    geometry(conv.kernel_size, conv.stride, pads, simple)
}

fn geom2(conv: &Conv2d) -> Option<ConvGeom> {
    let pads = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) => Some(([0, top, left], [0, bottom, right])),
        PaddingConfig2d::Valid => Some(([0; 3], [0; 3])),
        PaddingConfig2d::Same => None,
    };
    let simple = conv.groups == 1 && conv.dilation == [1, 1];
    let [kh, kw] = conv.kernel_size;
    let [sh, sw] = conv.stride;
    geometry([1, kh, kw], [1, sh, sw], pads, simple)
}

/// `relu?(bn?(conv(x)) + residual?)` with BatchNorm folded into the convolution.
fn run_folded<const D: usize>(
    weight: Tensor<D>,
    bias: Option<Tensor<1>>,
    bn: Option<&BatchNorm>,
    apply_relu: bool,
    residual: Option<&FeatureMap>,
    x: &FeatureMap,
    g: &ConvGeom,
) -> FeatureMap {
    let cout = weight.dims()[0];
    let (scale, shift) = fold(bn, bias.map(values), cout);
    let ep = Epilogue {
        scale: scale.as_deref(),
        shift: shift.as_deref(),
        residual: residual.map(|r| &r.data[..]),
        relu: apply_relu,
    };
    let (data, shape) = with_f32(weight, |w| conv3d(&x.data, x.shape, w, cout, g, &ep));
    FeatureMap {
        data,
        shape,
        dev: x.dev.clone(),
    }
}

/// burn's separate ops: `relu?(bn?(y) + residual?)`.
fn finish<const D: usize>(
    y: Tensor<D>,
    bn: Option<&BatchNorm>,
    apply_relu: bool,
    residual: Option<Tensor<D>>,
) -> Tensor<D> {
    let y = match bn {
        Some(bn) => bn.forward(y),
        None => y,
    };
    let y = match residual {
        Some(r) => y + r,
        None => y,
    };
    if apply_relu {
        relu(y)
    } else {
        y
    }
}

/// [`conv_bn3d`] on a [`FeatureMap`], with an optional residual added before the activation.
pub fn conv_bn3d_fmap(
    conv: &Conv3d,
    bn: Option<&BatchNorm>,
    apply_relu: bool,
    residual: Option<&FeatureMap>,
    x: &FeatureMap,
) -> FeatureMap {
    let [_, c, d, h, w] = x.shape;
    match geom3(conv) {
        Some(g) if g.output([d, h, w]).is_some() && conv.weight.dims()[1] == c => run_folded(
            conv.weight.val(),
            conv.bias.as_ref().map(|b| b.val()),
            bn,
            apply_relu,
            residual,
            x,
            &g,
        ),
        // A geometry the kernel does not take: burn's ops on a copy.
        _ => {
            let y = conv.forward(x.clone().into5());
            let out = finish(y, bn, apply_relu, residual.map(|r| r.clone().into5()));
            FeatureMap::take5(out).expect("same device")
        }
    }
}

/// [`conv_bn2d`] on a [`FeatureMap`] (`d = 1`), with an optional residual added before the activation.
pub fn conv_bn2d_fmap(
    conv: &Conv2d,
    bn: Option<&BatchNorm>,
    apply_relu: bool,
    residual: Option<&FeatureMap>,
    x: &FeatureMap,
) -> FeatureMap {
    let [_, c, d, h, w] = x.shape;
    let cin = conv.weight.dims()[1];
    match geom2(conv) {
        Some(g) if d == 1 && g.output([1, h, w]).is_some() && cin == c => run_folded(
            conv.weight.val(),
            conv.bias.as_ref().map(|b| b.val()),
            bn,
            apply_relu,
            residual,
            x,
            &g,
        ),
        _ => {
            let y = conv.forward(x.clone().into4());
            let out = finish(y, bn, apply_relu, residual.map(|r| r.clone().into4()));
            FeatureMap::take4(out).expect("same device")
        }
    }
}

/// `relu?(bn?(conv(x)))` for a 3-D convolution: folded on the Flex CPU in eval mode, burn's
/// ops otherwise.
pub fn conv_bn3d(conv: &Conv3d, bn: Option<&BatchNorm>, apply_relu: bool, x: Tensor<5>) -> Tensor<5> {
    match FeatureMap::take5(x) {
        Ok(a) => conv_bn3d_fmap(conv, bn, apply_relu, None, &a).into5(),
        Err(x) => finish(conv.forward(*x), bn, apply_relu, None),
    }
}

/// `relu?(bn?(conv(x)))` for a 2-D convolution: folded on the Flex CPU in eval mode, burn's
/// ops otherwise.
pub fn conv_bn2d(conv: &Conv2d, bn: Option<&BatchNorm>, apply_relu: bool, x: Tensor<4>) -> Tensor<4> {
    match FeatureMap::take4(x) {
        Ok(a) => conv_bn2d_fmap(conv, bn, apply_relu, None, &a).into4(),
        Err(x) => finish(conv.forward(*x), bn, apply_relu, None),
    }
}

/// A convolution (or a composite of them, R(2+1)D's) that runs on a [`FeatureMap`] with the
/// BatchNorm after it folded in.
pub trait FoldConv {
    /// `relu?(bn?(self(x)) + residual?)`.
    fn conv_fmap(
        &self,
        bn: Option<&BatchNorm>,
        apply_relu: bool,
        residual: Option<&FeatureMap>,
        x: &FeatureMap,
    ) -> FeatureMap;
}

impl FoldConv for Conv3d {
    fn conv_fmap(
        &self,
        bn: Option<&BatchNorm>,
        apply_relu: bool,
        residual: Option<&FeatureMap>,
        x: &FeatureMap,
    ) -> FeatureMap {
        conv_bn3d_fmap(self, bn, apply_relu, residual, x)
    }
}

impl FoldConv for Conv2d {
    fn conv_fmap(
        &self,
        bn: Option<&BatchNorm>,
        apply_relu: bool,
        residual: Option<&FeatureMap>,
        x: &FeatureMap,
    ) -> FeatureMap {
        conv_bn2d_fmap(self, bn, apply_relu, residual, x)
    }
}

/// A residual block in eval mode: `relu(chain(x) + shortcut(x))`, every convolution of the
/// chain followed by its BatchNorm and a ReLU, the last one's ReLU after the sum (done in its
/// epilogue); the shortcut is `x` or `downsample(x)`.
pub fn residual_block<C: FoldConv>(
    chain: &[(&dyn FoldConv, &BatchNorm)],
    downsample: Option<&(C, BatchNorm)>,
    x: &FeatureMap,
) -> FeatureMap {
    let shortcut = downsample.map(|(c, b)| c.conv_fmap(Some(b), false, None, x));
    let residual = shortcut.as_ref().unwrap_or(x);
    let (last, head) = chain.split_last().expect("a block has convolutions");
    let mut y: Option<FeatureMap> = None;
    for (c, b) in head {
        y = Some(c.conv_fmap(Some(b), true, None, y.as_ref().unwrap_or(x)));
    }
    last.0
        .conv_fmap(Some(last.1), true, Some(residual), y.as_ref().unwrap_or(x))
}
