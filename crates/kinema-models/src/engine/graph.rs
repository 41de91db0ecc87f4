//! A model's eval forward as a graph of layer-level operations: what each family describes
//! once ([`crate::arch::Architecture::lower`]) and [`super::plan`] lowers to oneDNN, one
//! lowering per operation. Shapes are inferred as nodes are added, so an input a model cannot
//! take is refused here, naming the layer.

use burn::nn::conv::{Conv2d, Conv3d};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d, PaddingConfig3d};
use burn::Tensor;

use crate::error::{ModelError, Result};

/// A value of the graph (an activation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Val(pub(crate) usize);

/// Pooling kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// Maximum.
    Max,
    /// Average, padded positions counted (`count_include_pad`).
    AvgIncludePad,
    /// Average over real positions only.
    AvgExcludePad,
}

/// A pooling window per spatial dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Kernel.
    pub kernel: Vec<usize>,
    /// Stride.
    pub stride: Vec<usize>,
    /// Padding (both sides).
    pub pad: Vec<usize>,
    /// Output size rounded up (PyTorch's `ceil_mode`).
    pub ceil: bool,
}

/// Constant values (weights, biases); their debug form is their count, not the values.
#[derive(Clone, PartialEq)]
pub struct Values(pub Vec<f32>);

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{} values]", self.0.len())
    }
}

impl std::ops::Deref for Values {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

/// A convolution, BatchNorm folded in: `relu?(conv(x) * 1 + bias + residual?)`.
#[derive(Debug, Clone)]
pub struct ConvNode {
    /// The model's name for the layer (its parameter path).
    pub name: String,
    /// Input.
    pub x: Val,
    /// Weights `[O, I / groups, k...]`, row major, BatchNorm scale applied.
    pub weight: Values,
    /// Weight shape.
    pub weight_shape: Vec<usize>,
    /// Bias (with the BatchNorm shift), one per output channel.
    pub bias: Option<Values>,
    /// Groups.
    pub groups: usize,
    /// Strides.
    pub stride: Vec<usize>,
    /// Dilations (1 = none).
    pub dilation: Vec<usize>,
    /// Padding before.
    pub pad_l: Vec<usize>,
    /// Padding after.
    pub pad_r: Vec<usize>,
    /// Added to the result: before the ReLU, or after it with `relu_first`.
    pub residual: Option<Val>,
    /// ReLU.
    pub relu: bool,
    /// The ReLU comes before the residual sum (`relu(conv(x)) + residual`).
    pub relu_first: bool,
}

/// One operation of the graph.
#[derive(Debug, Clone)]
pub enum Op {
    /// The model's input (plain layout).
    Input,
    /// A convolution (2-D or 3-D by the input's rank).
    Conv(ConvNode),
    /// Pooling (padding past the input for ceil mode is in `pad_r`).
    Pool {
        /// Input.
        x: Val,
        /// Kind.
        kind: PoolKind,
        /// Kernel.
        kernel: Vec<usize>,
        /// Strides.
        stride: Vec<usize>,
        /// Padding before.
        pad_l: Vec<usize>,
        /// Padding after.
        pad_r: Vec<usize>,
    },
    /// `max(x, 0)`.
    Relu(Val),
    /// Concatenation along channels.
    Concat(Vec<Val>),
    /// A fully connected layer over every dimension but the first: `relu?(x W^T + b)`.
    Linear {
        /// The model's name for the layer.
        name: String,
        /// Input.
        x: Val,
        /// Weights `[K, x dims but the first]`, row major.
        weight: Values,
        /// Bias.
        bias: Option<Values>,
        /// ReLU at the end.
        relu: bool,
    },
    /// The same values, another shape (row major).
    Reshape(Val),
    /// `len` indices of dimension `axis`: `start, start + step, ...` (a strided view).
    Slice {
        /// Input.
        x: Val,
        /// Dimension.
        axis: usize,
        /// First index.
        start: usize,
        /// Step.
        step: usize,
    },
    /// Batched `scale * op(a) x op(b)` over `[B, M, K] x [B, K, N]`, where `op` transposes
    /// the last two dimensions of a transposed operand as stored.
    MatMul {
        /// Left operand.
        a: Val,
        /// Stored as `[B, K, M]`.
        ta: bool,
        /// Right operand.
        b: Val,
        /// Stored as `[B, N, K]`.
        tb: bool,
        /// Factor on the product.
        scale: f32,
    },
    /// Softmax over the last dimension.
    Softmax(Val),
    /// `[N * S, K]` to `[N, K]`, the mean over each group of `S` rows (TSN's consensus).
    SegmentMean {
        /// Input.
        x: Val,
        /// Rows per group.
        segments: usize,
    },
}

/// A node: its operation and output shape.
#[derive(Debug, Clone)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Its output's shape.
    pub shape: Vec<usize>,
}

/// An eval forward under construction.
#[derive(Debug, Default)]
pub struct Graph {
    /// Nodes in execution order; `Val(i)` is node `i`'s output.
    pub nodes: Vec<Node>,
}

fn invalid(msg: String) -> ModelError {
    ModelError::InvalidOption(msg)
}

/// Values of a burn tensor as `f32`.
fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.reshape([-1])
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// `(scale, shift)` per channel of an eval BatchNorm: `bn(y) = y * scale + shift`.
pub fn batchnorm_affine(bn: &BatchNorm) -> (Vec<f32>, Vec<f32>) {
    let gamma = values(bn.gamma.val());
    let beta = values(bn.beta.val());
    let mean = values(bn.running_mean.value());
    let var = values(bn.running_var.value());
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / ((*v as f64 + bn.epsilon).sqrt() as f32))
        .collect();
    let shift = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    (scale, shift)
}

/// Convolution geometry as [`Graph::conv`] takes it.
#[derive(Debug, Clone)]
pub struct ConvGeometry {
    /// Strides.
    pub stride: Vec<usize>,
    /// Dilations.
    pub dilation: Vec<usize>,
    /// Padding before.
    pub pad_l: Vec<usize>,
    /// Padding after (`None`: as before).
    pub pad_r: Vec<usize>,
    /// Groups.
    pub groups: usize,
}

fn geometry3(c: &Conv3d) -> ConvGeometry {
    let (pad_l, pad_r) = match c.padding {
        PaddingConfig3d::Explicit(d, h, w) => (vec![d, h, w], vec![d, h, w]),
        PaddingConfig3d::Valid => (vec![0; 3], vec![0; 3]),
        // burn's "same" depends on the input size; no model uses it: refused in `conv`.
        PaddingConfig3d::Same => (Vec::new(), Vec::new()),
    };
    ConvGeometry {
        stride: c.stride.to_vec(),
        dilation: c.dilation.to_vec(),
        pad_l,
        pad_r,
        groups: c.groups,
    }
}

fn geometry2(c: &Conv2d) -> ConvGeometry {
    let (pad_l, pad_r) = match c.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) => (vec![top, left], vec![bottom, right]),
        PaddingConfig2d::Valid => (vec![0; 2], vec![0; 2]),
        PaddingConfig2d::Same => (Vec::new(), Vec::new()),
    };
    ConvGeometry {
        stride: c.stride.to_vec(),
        dilation: c.dilation.to_vec(),
        pad_l,
        pad_r,
        groups: c.groups,
    }
}

/// A burn convolution module as the graph reads it.
pub trait ConvLayer {
    /// Weights `[O, I / groups, k...]` and their shape.
    fn weight(&self) -> (Vec<f32>, Vec<usize>);
    /// The bias.
    fn bias(&self) -> Option<Vec<f32>>;
    /// Geometry.
    fn geometry(&self) -> ConvGeometry;
}

/// [`ConvLayer`] for a burn convolution type, its geometry from `$geometry`.
macro_rules! conv_layer {
    ($ty:ty, $geometry:ident) => {
        impl ConvLayer for $ty {
            fn weight(&self) -> (Vec<f32>, Vec<usize>) {
                let w = self.weight.val();
                let shape = w.dims().to_vec();
                (values(w), shape)
            }
            fn bias(&self) -> Option<Vec<f32>> {
                self.bias.as_ref().map(|b| values(b.val()))
            }
            fn geometry(&self) -> ConvGeometry {
                $geometry(self)
            }
        }
    };
}
conv_layer!(Conv3d, geometry3);
conv_layer!(Conv2d, geometry2);

/// A convolution, or a composite of them (R(2+1)D's), that a BatchNorm follows: what
/// [`Graph::residual_block`] chains.
pub trait LowerConv {
    /// `relu?(bn?(self(x)) + residual?)` as graph operations named from `name`.
    fn lower_conv(
        &self,
        g: &mut Graph,
        name: &str,
        bn: Option<&BatchNorm>,
        relu: bool,
        residual: Option<Val>,
        x: Val,
    ) -> Result<Val>;
}

impl<C: ConvLayer> LowerConv for C {
    fn lower_conv(
        &self,
        g: &mut Graph,
        name: &str,
        bn: Option<&BatchNorm>,
        relu: bool,
        residual: Option<Val>,
        x: Val,
    ) -> Result<Val> {
        g.conv(name, self, bn, relu, residual, x)
    }
}

/// A residual network's block, as [`Graph::layers`] chains them.
pub trait LowerBlock {
    /// The block as graph operations; `p` is its parameter path (`layer1.0`).
    fn lower_block(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val>;
}

/// A block's optional downsampling shortcut as [`Graph::residual_block`] takes it.
pub fn downsample_of<C: LowerConv>(ds: &Option<(C, BatchNorm)>) -> Option<(&dyn LowerConv, &BatchNorm)> {
    ds.as_ref().map(|(c, b)| (c as &dyn LowerConv, b))
}

/// A residual block's convolutions after the block's path: `(name, convolution, BatchNorm)`.
pub type Chain<'a> = [(&'a str, &'a dyn LowerConv, &'a BatchNorm)];

/// Output size of a window over `n` (PyTorch's rule, ceil mode included); `None` when the
/// window does not fit.
fn out_size(n: usize, k: usize, s: usize, pl: usize, pr: usize, d: usize, ceil: bool) -> Option<usize> {
    let span = d * (k - 1) + 1;
    let padded = n + pl + pr;
    if padded < span || s == 0 {
        return None;
    }
    let num = padded - span;
    let mut o = if ceil { num.div_ceil(s) } else { num / s } + 1;
    // A last window starting in the right padding is dropped (PyTorch, ceil mode).
    if ceil && (o - 1) * s >= n + pl {
        o -= 1;
    }
    Some(o)
}

impl Graph {
    /// A graph whose input has `shape`.
    pub fn new(shape: &[usize]) -> (Graph, Val) {
        let g = Graph {
            nodes: vec![Node {
                op: Op::Input,
                shape: shape.to_vec(),
            }],
        };
        (g, Val(0))
    }

    /// The shape of `v`.
    pub fn shape(&self, v: Val) -> &[usize] {
        &self.nodes[v.0].shape
    }

    fn push(&mut self, op: Op, shape: Vec<usize>) -> Val {
        self.nodes.push(Node { op, shape });
        Val(self.nodes.len() - 1)
    }

    /// `relu?(bn?(conv(x)) + residual?)`, the BatchNorm folded into the weights.
    pub fn conv(
        &mut self,
        name: &str,
        conv: &dyn ConvLayer,
        bn: Option<&BatchNorm>,
        relu: bool,
        residual: Option<Val>,
        x: Val,
    ) -> Result<Val> {
        let (mut weight, weight_shape) = conv.weight();
        let mut bias = conv.bias();
        if let Some(bn) = bn {
            let (scale, shift) = batchnorm_affine(bn);
            let per = weight.len() / scale.len().max(1);
            for (o, s) in scale.iter().enumerate() {
                weight[o * per..(o + 1) * per].iter_mut().for_each(|w| *w *= s);
            }
            let b = bias.get_or_insert_with(|| vec![0.0; scale.len()]);
            for ((b, s), t) in b.iter_mut().zip(&scale).zip(&shift) {
                *b = *b * s + t;
            }
        }
        let g = conv.geometry();
        self.conv_raw(ConvNode {
            name: name.to_string(),
            x,
            weight: Values(weight),
            weight_shape,
            bias: bias.map(Values),
            groups: g.groups,
            stride: g.stride,
            dilation: g.dilation,
            pad_l: g.pad_l,
            pad_r: g.pad_r,
            residual,
            relu,
            relu_first: false,
        })
    }

    /// `relu(bn?(conv(x))) + add`: a branch summed after its activation (P3D's parallel designs).
    pub fn conv_relu_add(
        &mut self,
        name: &str,
        conv: &dyn ConvLayer,
        bn: Option<&BatchNorm>,
        add: Val,
        x: Val,
    ) -> Result<Val> {
        let v = self.conv(name, conv, bn, true, Some(add), x)?;
        if let Op::Conv(c) = &mut self.nodes[v.0].op {
            c.relu_first = true;
        }
        Ok(v)
    }

    /// A convolution node as given (weights already folded).
    pub fn conv_raw(&mut self, c: ConvNode) -> Result<Val> {
        if c.pad_l.is_empty() {
            return Err(ModelError::Engine(format!(
                "{}: \"same\" padding (sized from the input by burn) is not lowered to oneDNN; run it with --engine burn",
                c.name
            )));
        }
        let xs = self.shape(c.x).to_vec();
        let sp = xs.len().saturating_sub(2);
        let ws = &c.weight_shape;
        if sp == 0
            || ws.len() != xs.len()
            || c.stride.len() != sp
            || c.pad_l.len() != sp
            || c.pad_r.len() != sp
        {
            return Err(invalid(format!(
                "{}: a {}-D convolution cannot take an input of shape {xs:?}",
                c.name,
                ws.len().saturating_sub(2)
            )));
        }
        if ws[1] * c.groups != xs[1] {
            return Err(invalid(format!(
                "{}: takes {} channels, the input {xs:?} has {}",
                c.name,
                ws[1] * c.groups,
                xs[1]
            )));
        }
        let mut shape = vec![xs[0], ws[0]];
        for i in 0..sp {
            let o = out_size(xs[2 + i], ws[2 + i], c.stride[i], c.pad_l[i], c.pad_r[i], c.dilation[i], false)
                .ok_or_else(|| {
                    invalid(format!(
                        "{}: the input {xs:?} is too small for its {:?} kernel (the model cannot take this input shape)",
                        c.name,
                        &ws[2..]
                    ))
                })?;
            shape.push(o);
        }
        if let Some(r) = c.residual {
            if self.shape(r) != shape.as_slice() {
                return Err(invalid(format!(
                    "{}: the residual {:?} does not match the output {shape:?}",
                    c.name,
                    self.shape(r)
                )));
            }
        }
        Ok(self.push(Op::Conv(c), shape))
    }

    /// A residual block: `relu(chain(x) + shortcut(x))`, each convolution of the chain with its
    /// BatchNorm and a ReLU (the last one's after the sum); the shortcut is `x` or
    /// `downsample(x)` (named `{p}.downsample.0`).
    pub fn residual_block(
        &mut self,
        p: &str,
        chain: &Chain<'_>,
        downsample: Option<(&dyn LowerConv, &BatchNorm)>,
        x: Val,
    ) -> Result<Val> {
        let shortcut = match downsample {
            Some((c, b)) => c.lower_conv(self, &format!("{p}.downsample.0"), Some(b), false, None, x)?,
            None => x,
        };
        let (last, head) = chain
            .split_last()
            .ok_or_else(|| invalid(format!("{p}: a residual block without convolutions")))?;
        let mut y = x;
        for (name, c, b) in head {
            y = c.lower_conv(self, &format!("{p}.{name}"), Some(b), true, None, y)?;
        }
        last.1.lower_conv(
            self,
            &format!("{p}.{}", last.0),
            Some(last.2),
            true,
            Some(shortcut),
            y,
        )
    }

    /// A bottleneck (or any three-convolution) residual block: `conv1`, `conv2`, `conv3` of
    /// `p` with their BatchNorms, and the block's `downsample` (see
    /// [`residual_block`](Self::residual_block)).
    pub fn bottleneck<C: LowerConv>(
        &mut self,
        p: &str,
        convs: [(&C, &BatchNorm); 3],
        downsample: &Option<(C, BatchNorm)>,
        x: Val,
    ) -> Result<Val> {
        let [(c1, b1), (c2, b2), (c3, b3)] = convs;
        let chain: [(&str, &dyn LowerConv, &BatchNorm); 3] =
            [("conv1", c1, b1), ("conv2", c2, b2), ("conv3", c3, b3)];
        self.residual_block(p, &chain, downsample_of(downsample), x)
    }

    /// The stages `layer1`, `layer2`, ... of a residual network: every block in turn, named
    /// `layer{s}.{i}`.
    pub fn layers<B: LowerBlock>(&mut self, stages: &[&Vec<B>], mut x: Val) -> Result<Val> {
        for (s, stage) in stages.iter().enumerate() {
            for (i, b) in stage.iter().enumerate() {
                x = b.lower_block(self, &format!("layer{}.{i}", s + 1), x)?;
            }
        }
        Ok(x)
    }

    /// A 3-D network's head: the mean over every position and each video's clips, then
    /// (unless `features`) the classifier `fc` (named `name`).
    pub fn video_head(
        &mut self,
        x: Val,
        segments: usize,
        name: &str,
        fc: &Linear,
        features: bool,
    ) -> Result<Val> {
        let f = self.video_pool(x, segments)?;
        if features {
            return Ok(f);
        }
        self.linear(name, fc, false, f)
    }

    /// Pooling over the spatial dimensions of `x`.
    pub fn pool(&mut self, name: &str, kind: PoolKind, w: &Window, x: Val) -> Result<Val> {
        let xs = self.shape(x).to_vec();
        let sp = xs.len().saturating_sub(2);
        if sp == 0 || w.kernel.len() != sp || w.stride.len() != sp || w.pad.len() != sp {
            return Err(invalid(format!(
                "{name}: a {}-D pooling cannot take {xs:?}",
                w.kernel.len()
            )));
        }
        let mut shape = xs[..2].to_vec();
        let mut pad_r = Vec::with_capacity(sp);
        for i in 0..sp {
            let (k, s, p) = (w.kernel[i], w.stride[i], w.pad[i]);
            let o = out_size(xs[2 + i], k, s, p, p, 1, w.ceil).ok_or_else(|| {
                invalid(format!(
                    "{name}: the input {xs:?} is too small for its {:?} window (the model cannot take this input shape)",
                    w.kernel
                ))
            })?;
            // Ceil mode: pad the end so that the last window exists.
            let need = (o - 1) * s + k;
            let r = need.saturating_sub(xs[2 + i] + p).max(p);
            if kind == PoolKind::AvgIncludePad && r != p {
                return Err(invalid(format!(
                    "{name}: an average pooling counting padding in ceil mode is not supported on oneDNN"
                )));
            }
            pad_r.push(r);
            shape.push(o);
        }
        Ok(self.push(
            Op::Pool {
                x,
                kind,
                kernel: w.kernel.clone(),
                stride: w.stride.clone(),
                pad_l: w.pad.clone(),
                pad_r,
            },
            shape,
        ))
    }

    /// The mean over every spatial position: `[N, C, ...]` to `[N, C, 1, ...]`.
    pub fn global_avg_pool(&mut self, x: Val) -> Result<Val> {
        let xs = self.shape(x).to_vec();
        let sp = xs.len().saturating_sub(2);
        let w = Window {
            kernel: xs[2..].to_vec(),
            stride: vec![1; sp],
            pad: vec![0; sp],
            ceil: false,
        };
        self.pool("global average pool", PoolKind::AvgExcludePad, &w, x)
    }

    /// `[N * segments, C, ...]` to `[N, C]`: the mean over every position, then over each
    /// video's clips.
    pub fn video_pool(&mut self, x: Val, segments: usize) -> Result<Val> {
        let x = self.global_avg_pool(x)?;
        let s = self.shape(x).to_vec();
        let x = self.reshape(x, &s[..2])?;
        if segments == 1 {
            return Ok(x);
        }
        self.segment_mean(x, segments)
    }

    /// `max(x, 0)`.
    pub fn relu(&mut self, x: Val) -> Val {
        let shape = self.shape(x).to_vec();
        self.push(Op::Relu(x), shape)
    }

    /// Concatenation along channels (dimension 1).
    pub fn concat(&mut self, name: &str, xs: &[Val]) -> Result<Val> {
        let first = self.shape(xs[0]).to_vec();
        let mut shape = first.clone();
        shape[1] = 0;
        for &v in xs {
            let s = self.shape(v);
            if s.len() != first.len() || s[0] != first[0] || s[2..] != first[2..] {
                return Err(invalid(format!(
                    "{name}: branches of shapes {first:?} and {s:?} cannot be concatenated (the model cannot take this input shape)"
                )));
            }
            shape[1] += s[1];
        }
        Ok(self.push(Op::Concat(xs.to_vec()), shape))
    }

    /// A burn `Linear` over every dimension of `x` but the first (flattened row major).
    pub fn linear(&mut self, name: &str, l: &Linear, relu: bool, x: Val) -> Result<Val> {
        // burn stores `[in, out]`; the graph takes `[out, in]`.
        let w = l.weight.val();
        let [din, dout] = w.dims();
        let weight = values(w.transpose());
        let bias = l.bias.as_ref().map(|b| values(b.val()));
        self.linear_raw(name, weight, dout, din, bias, relu, x)
    }

    /// A fully connected layer with `weight` `[dout, din]`.
    #[allow(clippy::too_many_arguments)]
    pub fn linear_raw(
        &mut self,
        name: &str,
        weight: Vec<f32>,
        dout: usize,
        din: usize,
        bias: Option<Vec<f32>>,
        relu: bool,
        x: Val,
    ) -> Result<Val> {
        let xs = self.shape(x).to_vec();
        let features: usize = xs[1..].iter().product();
        if features != din {
            return Err(invalid(format!(
                "{name}: takes {din} features, the input {xs:?} gives {features} (the model cannot take this input shape)"
            )));
        }
        Ok(self.push(
            Op::Linear {
                name: name.to_string(),
                x,
                weight: Values(weight),
                bias: bias.map(Values),
                relu,
            },
            vec![xs[0], dout],
        ))
    }

    /// `x` as `shape` (same number of values).
    pub fn reshape(&mut self, x: Val, shape: &[usize]) -> Result<Val> {
        let xs = self.shape(x);
        if xs.iter().product::<usize>() != shape.iter().product::<usize>() {
            return Err(invalid(format!("cannot reshape {xs:?} to {shape:?}")));
        }
        Ok(self.push(Op::Reshape(x), shape.to_vec()))
    }

    /// `len` indices of dimension `axis`: `start, start + step, ...`.
    pub fn slice(&mut self, x: Val, axis: usize, start: usize, len: usize, step: usize) -> Result<Val> {
        let mut shape = self.shape(x).to_vec();
        if axis >= shape.len() || step == 0 || len == 0 || start + (len - 1) * step >= shape[axis] {
            return Err(invalid(format!(
                "cannot take {len} indices from {start} every {step} of dimension {axis} of {shape:?}"
            )));
        }
        shape[axis] = len;
        Ok(self.push(Op::Slice { x, axis, start, step }, shape))
    }

    /// `scale * op(a) x op(b)` (see [`Op::MatMul`]).
    pub fn matmul(&mut self, a: Val, ta: bool, b: Val, tb: bool, scale: f32) -> Result<Val> {
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        if sa.len() != 3 || sb.len() != 3 || sa[0] != sb[0] {
            return Err(invalid(format!("cannot multiply {sa:?} by {sb:?}")));
        }
        let (m, k) = if ta { (sa[2], sa[1]) } else { (sa[1], sa[2]) };
        let (k2, n) = if tb { (sb[2], sb[1]) } else { (sb[1], sb[2]) };
        if k != k2 {
            return Err(invalid(format!("cannot multiply {sa:?} by {sb:?}")));
        }
        Ok(self.push(Op::MatMul { a, ta, b, tb, scale }, vec![sa[0], m, n]))
    }

    /// Softmax over the last dimension.
    pub fn softmax(&mut self, x: Val) -> Val {
        let shape = self.shape(x).to_vec();
        self.push(Op::Softmax(x), shape)
    }

    /// `[N * segments, K]` to `[N, K]` by the mean of each group.
    pub fn segment_mean(&mut self, x: Val, segments: usize) -> Result<Val> {
        let xs = self.shape(x).to_vec();
        if xs.len() != 2 || segments == 0 || !xs[0].is_multiple_of(segments) {
            return Err(invalid(format!(
                "{xs:?}: the batch is not a whole number of groups of {segments} segments"
            )));
        }
        Ok(self.push(Op::SegmentMean { x, segments }, vec![xs[0] / segments, xs[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_pytorch_including_ceil_mode() {
        assert_eq!(out_size(224, 7, 2, 3, 3, 1, false), Some(112));
        assert_eq!(out_size(112, 3, 2, 1, 1, 1, false), Some(56));
        // GoogLeNet's ceil-mode pools: 112 -> 56, 28 -> 14, 14 -> 7 with k3 s2 p0.
        assert_eq!(out_size(112, 3, 2, 0, 0, 1, true), Some(56));
        assert_eq!(out_size(14, 3, 2, 0, 0, 1, true), Some(7));
        assert_eq!(out_size(2, 3, 1, 0, 0, 1, false), None);
        assert_eq!(out_size(5, 3, 1, 0, 0, 2, false), Some(1));
    }

    #[test]
    fn shapes_a_model_cannot_take_are_named() {
        let (mut g, x) = Graph::new(&[1, 3, 4, 4]);
        let w = Window {
            kernel: vec![3, 3],
            stride: vec![2, 2],
            pad: vec![0, 0],
            ceil: false,
        };
        let p = g.pool("pool1", PoolKind::Max, &w, x).unwrap();
        assert_eq!(g.shape(p), &[1, 3, 1, 1]);
        let e = g.pool("pool2", PoolKind::Max, &w, p).unwrap_err().to_string();
        assert!(e.contains("pool2") && e.contains("too small"), "{e}");
        let e = g
            .linear_raw("fc", vec![0.0; 20], 2, 10, None, false, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fc") && e.contains("10 features"), "{e}");
    }
}
