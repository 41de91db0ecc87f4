//! Convolutions on oneDNN inside burn's autodiff, on the CPU (Flex) device: forward, the
//! source's gradient and the weights' (and bias's) gradient are oneDNN primitives
//! ([`kinema_dnnl::TrainConv`]) instead of Flex's im2col + gemm kernels, which a training step
//! spent most of its time in. A burn backend extension: the Flex implementation runs the
//! forward; the autodiff one records a backward step that runs the two gradient passes.
//!
//! [`forward_conv3d`] and [`forward_conv2d`] take a burn convolution module and an input, and fall back to the
//! module's own forward wherever the oneDNN path does not apply (a GPU device, a data type other
//! than f32, "same" padding, oneDNN missing or refusing the geometry), so a model calls them
//! on every device.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, Flex};
use burn::nn::conv::{Conv2d, Conv3d};
use burn::tensor::{DType, Device, TensorData};
use burn::Tensor;
use kinema_dnnl::{ConvShape, TrainConv};

use crate::engine::graph::{ConvGeometry, ConvLayer};

/// The convolution as a backend operation: `x` `[N, C, spatial...]`, weights `[O, C / groups,
/// kernel...]`, a bias `[O]`, run by `conv` (made for exactly these shapes by [`route`]).
#[backend_extension(Flex, Autodiff)]
pub trait OneDnnConv: Backend {
    /// `conv(x, w)`.
    fn onednn_conv(x: FloatTensor<Self>, w: FloatTensor<Self>, conv: Arc<TrainConv>) -> FloatTensor<Self>;
    /// `conv(x, w) + b`.
    fn onednn_conv_bias(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        conv: Arc<TrainConv>,
    ) -> FloatTensor<Self>;
}

/// Time spent in each pass since the start (nanoseconds): what the training-step benchmark
/// prints.
static FORWARD_NS: AtomicU64 = AtomicU64::new(0);
static BACKWARD_DATA_NS: AtomicU64 = AtomicU64::new(0);
static BACKWARD_WEIGHTS_NS: AtomicU64 = AtomicU64::new(0);

/// Seconds spent in oneDNN convolutions so far: (forward, source gradient, weights gradient).
pub fn onednn_conv_seconds() -> (f64, f64, f64) {
    let s = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 * 1e-9;
    (s(&FORWARD_NS), s(&BACKWARD_DATA_NS), s(&BACKWARD_WEIGHTS_NS))
}

pub(super) fn timed<T>(counter: &AtomicU64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    counter.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    out
}

/// A tensor's values, row major (a view when it is already contiguous).
pub(super) fn contiguous(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .map(<[f32]>::to_vec)
                .unwrap_or_default(),
        ),
    }
}

pub(super) fn flex(values: Vec<f32>, dims: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, dims))
}

impl OneDnnConv for Flex {
    fn onednn_conv(x: FlexTensor, w: FlexTensor, conv: Arc<TrainConv>) -> FlexTensor {
        forward(x, w, None, &conv)
    }

    fn onednn_conv_bias(x: FlexTensor, w: FlexTensor, b: FlexTensor, conv: Arc<TrainConv>) -> FlexTensor {
        forward(x, w, Some(b), &conv)
    }
}

/// The forward pass. Its shapes were checked when [`route`] made `conv`, so a failure here is
/// a oneDNN fault, not bad input.
fn forward(x: FlexTensor, w: FlexTensor, b: Option<FlexTensor>, conv: &TrainConv) -> FlexTensor {
    let dims = conv.dst_dims();
    let mut y = vec![0f32; dims.iter().product()];
    let b = b.as_ref().map(contiguous);
    timed(&FORWARD_NS, || {
        conv.forward(&contiguous(&x), &contiguous(&w), b.as_deref(), &mut y)
    })
    .unwrap_or_else(|e| panic!("oneDNN convolution forward {:?}: {e}", conv.shape()));
    flex(y, dims)
}

/// The backward step: the source's and the weights' (and bias's) gradients from the
/// destination's.
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = (NodeId, NodeId, Arc<TrainConv>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_state, w_state, conv) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let w = checkpointer.retrieve_node_output::<FlexTensor>(w_state);
        let dy_v = contiguous(&dy);
        // dy in the layouts of the passes that run, reordered once where they agree (timed
        // with the source's gradient).
        let weights = node_w.is_some() || node_b.is_some();
        let dy_m = timed(&BACKWARD_DATA_NS, || {
            conv.diff_dst(&dy_v, node_x.is_some(), weights)
        })
        .unwrap_or_else(|e| panic!("oneDNN convolution backward {:?}: {e}", conv.shape()));
        if let Some(node) = node_x {
            let dims = conv.shape().src.clone();
            let mut dx = vec![0f32; dims.iter().product()];
            timed(&BACKWARD_DATA_NS, || {
                conv.backward_data_from(&dy_m, &contiguous(&w), &mut dx)
            })
            .unwrap_or_else(|e| panic!("oneDNN convolution backward data {:?}: {e}", conv.shape()));
            grads.register::<Flex>(node.id, flex(dx, dims));
        }
        if weights {
            let dims = conv.shape().weights.clone();
            let mut dw = vec![0f32; dims.iter().product()];
            let mut db = conv.shape().bias.then(|| vec![0f32; dims[0]]);
            timed(&BACKWARD_WEIGHTS_NS, || {
                conv.backward_weights_from(&contiguous(&x), &dy_m, &mut dw, db.as_deref_mut())
            })
            .unwrap_or_else(|e| panic!("oneDNN convolution backward weights {:?}: {e}", conv.shape()));
            if let Some(node) = node_w {
                grads.register::<Flex>(node.id, flex(dw, dims.clone()));
            }
            if let (Some(node), Some(db)) = (node_b, db) {
                grads.register::<Flex>(node.id, flex(db, vec![dims[0]]));
            }
        }
    }
}

impl<C: CheckpointStrategy> OneDnnConv for Autodiff<Flex, C> {
    fn onednn_conv(x: FloatTensor<Self>, w: FloatTensor<Self>, conv: Arc<TrainConv>) -> FloatTensor<Self> {
        record::<C>(x, w, None, conv)
    }

    fn onednn_conv_bias(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        conv: Arc<TrainConv>,
    ) -> FloatTensor<Self> {
        record::<C>(x, w, Some(b), conv)
    }
}

type AdTensor = FloatTensor<Autodiff<Flex>>;

/// The forward on Flex, recorded with its backward step when an input asks for a gradient.
fn record<C: CheckpointStrategy>(
    x: AdTensor,
    w: AdTensor,
    b: Option<AdTensor>,
    conv: Arc<TrainConv>,
) -> AdTensor {
    // Without a bias the third parent is a constant that asks for no gradient.
    let with_bias = b.is_some();
    let b = b.unwrap_or_else(|| AdTensor::new(flex(vec![0.0], vec![1])));
    match ConvBackward
        .prepare::<C>([x.node(), w.node(), b.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let w_state = prep.checkpoint(&w);
            let bias = with_bias.then(|| b.into_primitive());
            let y = forward(x.into_primitive(), w.into_primitive(), bias, &conv);
            prep.finish((x_state, w_state, conv), y)
        }
        OpsKind::UnTracked(prep) => {
            let bias = with_bias.then(|| b.into_primitive());
            prep.finish(forward(x.into_primitive(), w.into_primitive(), bias, &conv))
        }
    }
}

/// Whether the oneDNN path is on: oneDNN loads, and `KINEMA_CONV` is not `burn` (which keeps
/// burn's own kernels, for comparisons). Turning it on sets oneDNN's threads to rayon's and
/// keeps freed memory for the next step ([`kinema_dnnl::keep_freed_memory`]).
fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        if std::env::var("KINEMA_CONV").is_ok_and(|v| v == "burn") {
            return false;
        }
        match kinema_dnnl::available() {
            Ok(()) => {
                let n = rayon::current_num_threads();
                kinema_dnnl::keep_freed_memory();
                if let Err(e) = kinema_dnnl::set_num_threads(n) {
                    tracing::warn!("oneDNN threads: {e}");
                }
                true
            }
            Err(e) => {
                tracing::warn!("convolutions run on burn's kernels: {e}");
                false
            }
        }
    })
}

/// The oneDNN convolution for `x` under `g`, when the oneDNN path applies to it.
fn route<const D: usize>(
    x: &Tensor<D>,
    w: &Tensor<D>,
    g: ConvGeometry,
    bias: bool,
) -> Option<Arc<TrainConv>> {
    let dev = x.device();
    if !enabled() || x.dtype() != DType::F32 || w.dtype() != DType::F32 || g.pad_l.is_empty() {
        return None;
    }
    // Device equality ignores autodiff: the plain CPU device with or without it.
    if dev != Device::flex() {
        return None;
    }
    let shape = ConvShape {
        src: x.dims().to_vec(),
        weights: w.dims().to_vec(),
        groups: g.groups,
        stride: g.stride,
        pad_l: g.pad_l,
        pad_r: g.pad_r,
        dilation: g.dilation,
        bias,
    };
    match TrainConv::get(&shape) {
        Ok(conv) => Some(conv),
        Err(e) => {
            tracing::debug!("convolution {shape:?} on burn's kernels: {e}");
            None
        }
    }
}

fn run<const D: usize>(x: Tensor<D>, w: Tensor<D>, b: Option<Tensor<1>>, conv: Arc<TrainConv>) -> Tensor<D> {
    let (x, w) = (x.into_dispatch(), w.into_dispatch());
    Tensor::from_dispatch(match b {
        Some(b) => <Dispatch as OneDnnConv>::onednn_conv_bias(x, w, b.into_dispatch(), conv),
        None => <Dispatch as OneDnnConv>::onednn_conv(x, w, conv),
    })
}

/// `conv.forward(x)` for a 3-D convolution, on oneDNN where it applies.
pub fn forward_conv3d(conv: &Conv3d, x: Tensor<5>) -> Tensor<5> {
    let w = conv.weight.val();
    match route(&x, &w, conv.geometry(), conv.bias.is_some()) {
        Some(c) => run(x, w, conv.bias.as_ref().map(|b| b.val()), c),
        None => conv.forward(x),
    }
}

/// `conv.forward(x)` for a 2-D convolution, on oneDNN where it applies.
pub fn forward_conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let w = conv.weight.val();
    match route(&x, &w, conv.geometry(), conv.bias.is_some()) {
        Some(c) => run(x, w, conv.bias.as_ref().map(|b| b.val()), c),
        None => conv.forward(x),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use burn::nn::conv::{Conv2dConfig, Conv3dConfig};
    use burn::nn::{PaddingConfig2d, PaddingConfig3d};
    use burn::tensor::Distribution;

    use super::*;

    /// Largest difference relative to the largest magnitude of `want`.
    pub(in crate::layers) fn rel<const D: usize>(got: Tensor<D>, want: Tensor<D>) -> f32 {
        let (g, w) = (
            got.into_data().try_to_vec::<f32>().unwrap(),
            want.into_data().try_to_vec::<f32>().unwrap(),
        );
        assert_eq!(g.len(), w.len());
        let scale = w.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / scale
    }

    /// The output and the gradients of the source, weights and bias (a loss that weighs every
    /// output differently) through oneDNN and through burn's kernels agree to `TOL`.
    const TOL: f32 = 1e-5;

    fn check<const D: usize>(
        x: Tensor<D>,
        (ours, theirs): (impl Fn(Tensor<D>) -> Tensor<D>, impl Fn(Tensor<D>) -> Tensor<D>),
        (weight, bias): (Tensor<D>, Option<Tensor<1>>),
    ) {
        let (x1, x2) = (x.clone().require_grad(), x.require_grad());
        let (y1, y2) = (ours(x1.clone()), theirs(x2.clone()));
        let mix = Tensor::<D>::random(y1.dims(), Distribution::Uniform(-1.0, 1.0), &y1.device());
        assert!(
            rel(y1.clone(), y2.clone()) < TOL,
            "forward: {}",
            rel(y1.clone(), y2.clone())
        );
        let g1 = (y1 * mix.clone()).sum().backward();
        let g2 = (y2 * mix).sum().backward();
        let d = rel(x1.grad(&g1).unwrap(), x2.grad(&g2).unwrap());
        assert!(d < TOL, "source gradient: {d}");
        let d = rel(weight.grad(&g1).unwrap(), weight.grad(&g2).unwrap());
        assert!(d < TOL, "weights gradient: {d}");
        if let Some(b) = bias {
            let d = rel(b.grad(&g1).unwrap(), b.grad(&g2).unwrap());
            assert!(d < TOL, "bias gradient: {d}");
        }
    }

    fn random<const D: usize>(dims: [usize; D], dev: &Device) -> Tensor<D> {
        Tensor::random(dims, Distribution::Uniform(-1.0, 1.0), dev)
    }

    #[test]
    fn onednn_convolutions_give_burns_values_and_gradients() {
        if kinema_dnnl::available().is_err() {
            assert!(!enabled());
            return;
        }
        assert!(enabled());
        let dev = Device::flex().autodiff();
        dev.seed(7);
        let convs = [
            Conv3dConfig::new([4, 6], [3, 3, 2])
                .with_stride([1, 2, 1])
                .with_padding(PaddingConfig3d::Explicit(1, 1, 0))
                .with_dilation([1, 1, 2])
                .init(&dev),
            Conv3dConfig::new([6, 6], [3, 1, 1])
                .with_groups(3)
                .with_bias(false)
                .with_padding(PaddingConfig3d::Explicit(1, 0, 0))
                .init(&dev),
        ];
        for (c, dims) in convs.iter().zip([[2, 4, 5, 7, 6], [1, 6, 4, 3, 3]]) {
            let params = (c.weight.val(), c.bias.as_ref().map(|b| b.val()));
            check(
                random(dims, &dev),
                (|x| forward_conv3d(c, x), |x| c.forward(x)),
                params,
            );
        }
        let c = Conv2dConfig::new([3, 8], [5, 5])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(2, 2, 1, 3))
            .init(&dev);
        let params = (c.weight.val(), c.bias.as_ref().map(|b| b.val()));
        check(
            random([3, 3, 11, 9], &dev),
            (|x| forward_conv2d(&c, x), |x| c.forward(x)),
            params,
        );
        // The passes did run on oneDNN.
        let (f, d, w) = onednn_conv_seconds();
        assert!(f > 0.0 && d > 0.0 && w > 0.0, "{f} {d} {w}");
        // Without autodiff (inference on the CPU device) the forward alone runs on oneDNN.
        let plain = Device::flex();
        for (cin, cout, k, p, dims) in [
            (3, 5, [1, 3, 3], (0, 1, 1), [1, 3, 2, 6, 6]),
            (4, 2, [1, 1, 1], (0, 0, 0), [1, 4, 2, 2, 3]),
        ] {
            let c = Conv3dConfig::new([cin, cout], k)
                .with_padding(PaddingConfig3d::Explicit(p.0, p.1, p.2))
                .init(&plain);
            let x = random(dims, &plain);
            let (ours, theirs) = (forward_conv3d(&c, x.clone()), c.forward(x));
            assert!(
                rel(ours.clone(), theirs.clone()) < TOL,
                "{dims:?}: {ours} {theirs}"
            );
        }
    }
}
