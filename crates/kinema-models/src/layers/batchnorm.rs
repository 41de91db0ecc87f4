//! BatchNorm in training, fused, on the CPU (Flex) device: the batch statistics in one pass
//! over the input, the output in a second; the backward in two passes (per-channel sums, then
//! the input's gradient). burn 0.22 composes the same from tensor operations (transposed
//! copies, reductions, broadcasts: about ten passes forward and twenty backward), which made
//! BatchNorm the largest cost of a training step after the convolutions.
//!
//! [`forward_bn`] takes a burn `BatchNorm` and an input, updates the running statistics as
//! `BatchNorm::forward` does, and falls back to it wherever the fused path does not apply (not
//! training, another device, a data type other than f32).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, Flex};
use burn::nn::BatchNorm;
use burn::tensor::{DType, Device};
use burn::Tensor;
use kinema_dnnl::pool;

use std::sync::atomic::{AtomicU64, Ordering};

use super::onednn::{contiguous as values, flex, timed};

static FORWARD_NS: AtomicU64 = AtomicU64::new(0);
static BACKWARD_NS: AtomicU64 = AtomicU64::new(0);

/// Seconds spent in fused BatchNorm so far: (forward, backward).
pub fn fused_batchnorm_seconds() -> (f64, f64) {
    let s = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 * 1e-9;
    (s(&FORWARD_NS), s(&BACKWARD_NS))
}

/// Batch-statistics BatchNorm as a backend operation: `(output, mean, biased variance)` of
/// `x` `[N, C, ...]` with per-channel `gamma` and `beta`, and a ReLU after it when `relu`.
#[backend_extension(Flex, Autodiff)]
pub trait FusedBatchNorm: Backend {
    /// `relu?(gamma * (x - mean) / sqrt(var + epsilon) + beta)`, with the mean and variance.
    fn fused_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `relu?(gamma * (x - mean) / sqrt(var + epsilon) + beta + residual)`, with the mean and
    /// variance: a residual block's end as one operation.
    fn fused_batch_norm_add_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `(N, C, values per channel and sample)` of a `[N, C, ...]` shape.
fn split(dims: &[usize]) -> (usize, usize, usize) {
    (dims[0], dims[1], dims[2..].iter().product())
}

/// Lanes of 8 f32 partial sums, added up in f64 every 4096 values: vectorised, and exact enough
/// for millions of values.
const LANES: usize = 8;
const BLOCK: usize = 4096;

fn lanes_total(l: &[f32; LANES]) -> f64 {
    l.iter().map(|&v| v as f64).sum()
}

/// The sums of both parts of `f(p[i], q[i])` over `i` (`p` and `q` of one length).
#[inline(always)]
fn lane_sums(p: &[f32], q: &[f32], f: impl Fn(f32, f32) -> (f32, f32)) -> (f64, f64) {
    let (mut ta, mut tb) = (0f64, 0f64);
    for (pb, qb) in p.chunks(BLOCK).zip(q.chunks(BLOCK)) {
        let (mut la, mut lb) = ([0f32; LANES], [0f32; LANES]);
        let (mut pi, mut qi) = (pb.chunks_exact(LANES), qb.chunks_exact(LANES));
        for (pv, qv) in (&mut pi).zip(&mut qi) {
            for k in 0..LANES {
                let (a, b) = f(pv[k], qv[k]);
                la[k] += a;
                lb[k] += b;
            }
        }
        for (&pv, &qv) in pi.remainder().iter().zip(qi.remainder()) {
            let (a, b) = f(pv, qv);
            la[0] += a;
            lb[0] += b;
        }
        ta += lanes_total(&la);
        tb += lanes_total(&lb);
    }
    (ta, tb)
}

/// `(sum x, sum x^2)`.
fn sums_x(x: &[f32]) -> (f64, f64) {
    lane_sums(x, x, |v, _| (v, v * v))
}

/// The gradient reaching the BatchNorm's output: `dy`, or with a ReLU after it `dy` where the
/// normalised value `x * a + b` (computed exactly as the forward did) is positive.
#[inline(always)]
fn masked<const RELU: bool>(g: f32, v: f32, a: f32, b: f32) -> f32 {
    if RELU && v * a + b <= 0.0 {
        0.0
    } else {
        g
    }
}

/// `(sum dz, sum dz * (x - mu))` with `dz` as [`masked`] gives it.
fn sums_dz<const RELU: bool>(dy: &[f32], x: &[f32], mu: f32, (a, b): (f32, f32)) -> (f64, f64) {
    lane_sums(dy, x, |g, v| {
        let d = masked::<RELU>(g, v, a, b);
        (d, d * (v - mu))
    })
}

/// Per channel, the sums `f` gives over every sample's block of `s` values (channel, block
/// start).
fn channel_sums(
    (n, c, s): (usize, usize, usize),
    f: impl Fn(usize, usize) -> (f64, f64) + Sync,
) -> Vec<(f64, f64)> {
    pool::map(c, |ch| {
        (0..n).fold((0f64, 0f64), |(a, b), i| {
            let (da, db) = f(ch, (i * c + ch) * s);
            (a + da, b + db)
        })
    })
}

/// The per-channel affine map of the normalisation: `y = x * scale + shift`.
fn affine(gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], eps: f64) -> Vec<(f32, f32)> {
    (0..gamma.len())
        .map(|ch| {
            let scale = gamma[ch] / (var[ch] as f64 + eps).sqrt() as f32;
            (scale, beta[ch] - mean[ch] * scale)
        })
        .collect()
}

/// `out = relu?(x * a + b (+ r))` over one block.
#[inline(always)]
fn normalise<const RELU: bool>(out: &mut [f32], x: &[f32], r: Option<&[f32]>, (a, b): (f32, f32)) {
    let clamp = |z: f32| if !RELU || z > 0.0 { z } else { 0.0 };
    match r {
        None => out.iter_mut().zip(x).for_each(|(o, &v)| *o = clamp(v * a + b)),
        Some(r) => (out.iter_mut().zip(x).zip(r)).for_each(|((o, &v), &q)| *o = clamp(v * a + b + q)),
    }
}

/// Forward: output (after a ReLU when `relu`; `residual` added before it), mean, biased
/// variance.
fn forward(
    x: &[f32],
    dims: &[usize],
    (gamma, beta): (&[f32], &[f32]),
    eps: f64,
    relu: bool,
    residual: Option<&[f32]>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (n, c, s) = split(dims);
    let m = (n * s) as f64;
    let sums = channel_sums((n, c, s), |_, base| sums_x(&x[base..base + s]));
    let mean: Vec<f32> = sums.iter().map(|(a, _)| (a / m) as f32).collect();
    let var: Vec<f32> = sums
        .iter()
        .map(|(a, b)| (b / m - (a / m) * (a / m)).max(0.0) as f32)
        .collect();
    let ab = affine(gamma, beta, &mean, &var, eps);
    let mut y = vec![0f32; x.len()];
    pool::chunks_mut(&mut y, s, |blk, yb| {
        let at = blk * s..(blk + 1) * s;
        let r = residual.map(|r| &r[at.clone()]);
        if relu {
            normalise::<true>(yb, &x[at], r, ab[blk % c]);
        } else {
            normalise::<false>(yb, &x[at], r, ab[blk % c]);
        }
    });
    (y, mean, var)
}

/// Backward: the gradients of the input, gamma and beta, through the ReLU when `relu`.
fn backward(
    (x, dims, dy): (&[f32], &[usize], &[f32]),
    (gamma, beta, mean, var): (&[f32], &[f32], &[f32], &[f32]),
    eps: f64,
    relu: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    if relu {
        backward_with::<true>((x, dims, dy), (gamma, beta, mean, var), eps)
    } else {
        backward_with::<false>((x, dims, dy), (gamma, beta, mean, var), eps)
    }
}

fn backward_with<const RELU: bool>(
    (x, dims, dy): (&[f32], &[usize], &[f32]),
    (gamma, beta, mean, var): (&[f32], &[f32], &[f32], &[f32]),
    eps: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (n, c, s) = split(dims);
    let m = (n * s) as f32;
    let ab = affine(gamma, beta, mean, var, eps);
    let sums = channel_sums((n, c, s), |ch, base| {
        sums_dz::<RELU>(&dy[base..base + s], &x[base..base + s], mean[ch], ab[ch])
    });
    let inv_std: Vec<f32> = var
        .iter()
        .map(|&v| 1.0 / (v as f64 + eps).sqrt() as f32)
        .collect();
    let dbeta: Vec<f32> = sums.iter().map(|(a, _)| *a as f32).collect();
    let dgamma: Vec<f32> = sums
        .iter()
        .zip(&inv_std)
        .map(|((_, b), is)| *b as f32 * is)
        .collect();
    // dx = gamma * inv_std * (dz - mean(dz) - xhat * mean(dz * xhat))
    let mut dx = vec![0f32; x.len()];
    pool::chunks_mut(&mut dx, s, |blk, out| {
        let (gb, xb) = (&dy[blk * s..(blk + 1) * s], &x[blk * s..(blk + 1) * s]);
        let ch = blk % c;
        let (is, mu, (a, b)) = (inv_std[ch], mean[ch], ab[ch]);
        let k = gamma[ch] * is;
        let mean_dz = dbeta[ch] / m;
        let proj = dgamma[ch] / m * is;
        for ((o, &g), &v) in out.iter_mut().zip(gb).zip(xb) {
            *o = k * (masked::<RELU>(g, v, a, b) - mean_dz - (v - mu) * proj);
        }
    });
    (dx, dgamma, dbeta)
}

/// The forward on Flex tensors, timed.
fn flex_forward(
    x: &FlexTensor,
    (gamma, beta): (&FlexTensor, &FlexTensor),
    residual: Option<&FlexTensor>,
    epsilon: f64,
    relu: bool,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let dims = x.layout().shape().to_vec();
    let c = dims[1];
    let (y, mean, var) = timed(&FORWARD_NS, || {
        let r = residual.map(values);
        let params = (&values(gamma)[..], &values(beta)[..]);
        forward(&values(x), &dims, params, epsilon, relu, r.as_deref())
    });
    (flex(y, dims), flex(mean, vec![c]), flex(var, vec![c]))
}

impl FusedBatchNorm for Flex {
    fn fused_batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        flex_forward(&x, (&gamma, &beta), None, epsilon, relu)
    }

    fn fused_batch_norm_add_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        residual: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        flex_forward(&x, (&gamma, &beta), Some(&residual), epsilon, relu)
    }
}

#[derive(Debug)]
struct BatchNormBackward;

/// The input's checkpoint, gamma, beta, the batch mean and variance, epsilon, the ReLU.
type BnState = (NodeId, FlexTensor, FlexTensor, FlexTensor, FlexTensor, f64, bool);

/// The BatchNorm's backward on Flex tensors (timed), its gradients registered for the parents
/// that take one: the input, gamma, beta.
fn bn_backward(
    parents: [Option<NodeId>; 3],
    grads: &mut Gradients,
    (x, dy): (&FlexTensor, &FlexTensor),
    (gamma, beta, mean, var): (&FlexTensor, &FlexTensor, &FlexTensor, &FlexTensor),
    eps: f64,
    relu: bool,
) {
    let dims = x.layout().shape().to_vec();
    let c = dims[1];
    let (dx, dgamma, dbeta) = timed(&BACKWARD_NS, || {
        backward(
            (&values(x), &dims, &values(dy)),
            (&values(gamma), &values(beta), &values(mean), &values(var)),
            eps,
            relu,
        )
    });
    let [node_x, node_gamma, node_beta] = parents;
    for (node, g) in [
        (node_x, flex(dx, dims)),
        (node_gamma, flex(dgamma, vec![c])),
        (node_beta, flex(dbeta, vec![c])),
    ] {
        if let Some(id) = node {
            grads.register::<Flex>(id, g);
        }
    }
}

impl Backward<Flex, 3> for BatchNormBackward {
    type State = BnState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = &ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_state, gamma, beta, mean, var, eps, relu) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let stats = (&gamma, &beta, &mean, &var);
        bn_backward(
            [node_x, node_gamma, node_beta].map(|n| n.as_ref().map(|n| n.id)),
            grads,
            (&x, &dy),
            stats,
            eps,
            relu,
        );
    }
}

#[derive(Debug)]
struct BatchNormAddBackward;

/// As [`BnState`], with the output in place of the ReLU flag when there is a ReLU (its mask:
/// the output is kept anyway, as the next layer's input).
type BnAddState = (
    NodeId,
    FlexTensor,
    FlexTensor,
    FlexTensor,
    FlexTensor,
    f64,
    Option<FlexTensor>,
);

/// `dy` where `y` is positive, 0 elsewhere: the gradient before a ReLU from its output.
fn through_relu(dy: &[f32], y: &[f32]) -> Vec<f32> {
    const CHUNK: usize = 1 << 14;
    let mut dz = vec![0f32; dy.len()];
    pool::chunks_mut(&mut dz, CHUNK, |i, out| {
        let at = i * CHUNK..i * CHUNK + out.len();
        for ((o, &g), &v) in out.iter_mut().zip(&dy[at.clone()]).zip(&y[at]) {
            *o = if v > 0.0 { g } else { 0.0 };
        }
    });
    dz
}

impl Backward<Flex, 4> for BatchNormAddBackward {
    type State = BnAddState;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta, node_residual] = &ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_state, gamma, beta, mean, var, eps, y) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        // The sum's gradient, which both the BatchNorm's output and the residual receive.
        let dz = match &y {
            Some(y) => {
                let dz = timed(&BACKWARD_NS, || through_relu(&values(&dy), &values(y)));
                flex(dz, dy.layout().shape().to_vec())
            }
            None => dy,
        };
        let stats = (&gamma, &beta, &mean, &var);
        bn_backward(
            [node_x, node_gamma, node_beta].map(|n| n.as_ref().map(|n| n.id)),
            grads,
            (&x, &dz),
            stats,
            eps,
            false,
        );
        if let Some(node) = node_residual {
            grads.register::<Flex>(node.id, dz);
        }
    }
}

type AdTensor = FloatTensor<Autodiff<Flex>>;

impl<C: CheckpointStrategy> FusedBatchNorm for Autodiff<Flex, C> {
    fn fused_batch_norm_train(
        x: AdTensor,
        gamma: AdTensor,
        beta: AdTensor,
        epsilon: f64,
        relu: bool,
    ) -> (AdTensor, AdTensor, AdTensor) {
        let prep = BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (g, b) = (gamma.primitive().clone(), beta.primitive().clone());
        let run = |x| Flex::fused_batch_norm_train(x, g.clone(), b.clone(), epsilon, relu);
        let state = |x_state, _: &FlexTensor, mean: &FlexTensor, var: &FlexTensor| {
            (
                x_state,
                g.clone(),
                b.clone(),
                mean.clone(),
                var.clone(),
                epsilon,
                relu,
            )
        };
        run_tracked(prep, x, run, state)
    }

    fn fused_batch_norm_add_train(
        x: AdTensor,
        gamma: AdTensor,
        beta: AdTensor,
        residual: AdTensor,
        epsilon: f64,
        relu: bool,
    ) -> (AdTensor, AdTensor, AdTensor) {
        let prep = BatchNormAddBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node(), residual.node()])
            .compute_bound()
            .stateful();
        let (g, b) = (gamma.primitive().clone(), beta.primitive().clone());
        let r = residual.into_primitive();
        let run = |x| Flex::fused_batch_norm_add_train(x, g.clone(), b.clone(), r, epsilon, relu);
        let state = |x_state, y: &FlexTensor, mean: &FlexTensor, var: &FlexTensor| {
            let mask = relu.then(|| y.clone());
            (
                x_state,
                g.clone(),
                b.clone(),
                mean.clone(),
                var.clone(),
                epsilon,
                mask,
            )
        };
        run_tracked(prep, x, run, state)
    }
}

/// A fused BatchNorm's forward under autodiff: `(output, mean, variance)` of `run` on `x`, with
/// the input checkpointed and `state` (from its checkpoint, the output, mean and variance)
/// kept for the backward when the operation is tracked.
fn run_tracked<BO, S, C, const N: usize>(
    prep: OpsKind<BO, Flex, S, C, N>,
    x: AdTensor,
    run: impl FnOnce(FlexTensor) -> (FlexTensor, FlexTensor, FlexTensor),
    state: impl FnOnce(NodeId, &FlexTensor, &FlexTensor, &FlexTensor) -> S,
) -> (AdTensor, AdTensor, AdTensor)
where
    S: Clone + Send + std::fmt::Debug + 'static,
    BO: Backward<Flex, N, State = S>,
    C: CheckpointStrategy,
{
    let (y, mean, var) = match prep {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let (y, mean, var) = run(x.into_primitive());
            let kept = state(x_state, &y, &mean, &var);
            (prep.finish(kept, y), mean, var)
        }
        OpsKind::UnTracked(prep) => {
            let (y, mean, var) = run(x.into_primitive());
            (prep.finish(y), mean, var)
        }
    };
    (y, AdTensor::new(mean), AdTensor::new(var))
}

/// Whether the fused path is on: `KINEMA_BATCHNORM` is not `burn` (which keeps burn's own
/// BatchNorm, for comparisons). Read once.
fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("KINEMA_BATCHNORM").map_or(true, |v| v != "burn"))
}

/// `bn.forward(x)`, fused where it applies (training on the CPU autodiff device, f32).
pub fn forward_bn<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    bn_then(bn, x, false, None)
}

/// `relu(bn.forward(x))`, fused into one operation where [`forward_bn`] is (the ReLU's mask is
/// recomputed from the BatchNorm's input in the backward: no tensor of its own is kept).
pub fn forward_bn_relu<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    bn_then(bn, x, true, None)
}

/// `relu?(bn.forward(x) + residual)`, a residual block's end, as one operation where
/// [`forward_bn`] is fused (the ReLU's mask is read from the output in the backward).
pub fn forward_bn_add<const D: usize>(
    bn: &BatchNorm,
    x: Tensor<D>,
    residual: Tensor<D>,
    relu: bool,
) -> Tensor<D> {
    bn_then(bn, x, relu, Some(residual))
}

fn bn_then<const D: usize>(
    bn: &BatchNorm,
    x: Tensor<D>,
    relu: bool,
    residual: Option<Tensor<D>>,
) -> Tensor<D> {
    let dev = x.device();
    // As `BatchNorm::forward`: batch statistics only on an autodiff device, in a layer being
    // trained (device equality ignores autodiff).
    let fused = dev == Device::flex()
        && dev.is_autodiff()
        && bn.training.is_enabled()
        && x.dtype() == DType::F32
        && enabled();
    let same = residual
        .as_ref()
        .is_none_or(|r| r.dims() == x.dims() && r.dtype() == x.dtype());
    if !fused || !same || D < 2 || x.dims()[1] != bn.gamma.dims()[0] {
        let y = bn.forward(x);
        let y = match residual {
            Some(r) => y + r,
            None => y,
        };
        return if relu {
            burn::tensor::activation::relu(y)
        } else {
            y
        };
    }
    let (gamma, beta) = (bn.gamma.val().into_dispatch(), bn.beta.val().into_dispatch());
    let (y, mean, var) = match residual {
        None => <Dispatch as FusedBatchNorm>::fused_batch_norm_train(
            x.into_dispatch(),
            gamma,
            beta,
            bn.epsilon,
            relu,
        ),
        Some(r) => {
            let (x, r) = (x.into_dispatch(), r.into_dispatch());
            <Dispatch as FusedBatchNorm>::fused_batch_norm_add_train(x, gamma, beta, r, bn.epsilon, relu)
        }
    };
    let (mean, var) = (Tensor::<1>::from_dispatch(mean), Tensor::<1>::from_dispatch(var));
    // Running statistics as `BatchNorm::forward` keeps them (the biased variance, as burn).
    let m = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&dev);
    let running_var = bn.running_var.value_sync().to_device(&dev);
    bn.running_mean.update(
        running_mean
            .mul_scalar(1.0 - m)
            .add(mean.detach().mul_scalar(m))
            .detach(),
    );
    bn.running_var.update(
        running_var
            .mul_scalar(1.0 - m)
            .add(var.detach().mul_scalar(m))
            .detach(),
    );
    Tensor::from_dispatch(y)
}

#[cfg(test)]
mod tests {
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;

    use super::super::onednn::tests::rel;
    use super::*;

    /// Output, running statistics and the gradients of the input, gamma and beta agree with
    /// burn's own BatchNorm to `TOL` (relative to the largest value).
    const TOL: f32 = 1e-4;

    #[test]
    fn fused_batchnorm_and_relu_give_burns_values_gradients_and_running_statistics() {
        let dev = Device::flex().autodiff();
        dev.seed(3);
        // Blocks of 72 and 35 values per channel and sample: lanes and remainders; with and
        // without a ReLU, with and without a residual sum before it.
        let shapes = [[2, 5, 3, 4, 6], [3, 4, 1, 7, 5]];
        for (dims, relu, residual) in shapes.into_iter().flat_map(|d| {
            [
                (d, false, false),
                (d, true, false),
                (d, true, true),
                (d, false, true),
            ]
        }) {
            let ours = BatchNormConfig::new(dims[1]).init(&dev);
            let theirs = ours.clone();
            // Not zero-mean, unit-scale data: a shift tests the variance's precision.
            let x = Tensor::<5>::random(dims, Distribution::Uniform(2.0, 5.0), &dev);
            let gamma = Tensor::<1>::random([dims[1]], Distribution::Uniform(0.5, 1.5), &dev);
            let ours = BatchNorm {
                gamma: burn::module::Param::from_tensor(gamma.clone()),
                ..ours
            };
            let theirs = BatchNorm {
                gamma: burn::module::Param::from_tensor(gamma),
                ..theirs
            };
            let (x1, x2) = (x.clone().require_grad(), x.require_grad());
            // A residual that makes about half the sums negative.
            let r = Tensor::<5>::random(dims, Distribution::Uniform(-2.0, 2.0), &dev);
            let (r1, r2) = (r.clone().require_grad(), r.require_grad());
            let case = format!("{dims:?}, relu {relu}, residual {residual}");
            // With a ReLU after it: its mask recomputed from the input (or read from the
            // output, after a residual sum) in the backward.
            let (y1, y2) = match (relu, residual) {
                (_, true) => {
                    let y2 = theirs.forward(x2.clone()) + r2.clone();
                    let y2 = if relu {
                        burn::tensor::activation::relu(y2)
                    } else {
                        y2
                    };
                    (forward_bn_add(&ours, x1.clone(), r1.clone(), relu), y2)
                }
                (true, false) => (
                    forward_bn_relu(&ours, x1.clone()),
                    burn::tensor::activation::relu(theirs.forward(x2.clone())),
                ),
                (false, false) => (forward_bn(&ours, x1.clone()), theirs.forward(x2.clone())),
            };
            assert!(rel(y1.clone(), y2.clone()) < TOL, "output, {case}");
            let mix = Tensor::<5>::random(dims, Distribution::Uniform(-1.0, 1.0), &dev);
            let g1 = (y1 * mix.clone()).sum().backward();
            let g2 = (y2 * mix).sum().backward();
            assert!(
                rel(x1.grad(&g1).unwrap(), x2.grad(&g2).unwrap()) < TOL,
                "input gradient, {case}"
            );
            if residual {
                assert!(
                    rel(r1.grad(&g1).unwrap(), r2.grad(&g2).unwrap()) < TOL,
                    "residual gradient, {case}"
                );
            }
            for (a, b) in [(&ours.gamma, &theirs.gamma), (&ours.beta, &theirs.beta)] {
                assert!(
                    rel(a.val().grad(&g1).unwrap(), b.val().grad(&g2).unwrap()) < TOL,
                    "parameter gradient"
                );
            }
            assert!(
                rel(ours.running_mean.value(), theirs.running_mean.value()) < TOL,
                "running mean"
            );
            assert!(
                rel(ours.running_var.value(), theirs.running_var.value()) < TOL,
                "running variance"
            );
        }
    }
}
