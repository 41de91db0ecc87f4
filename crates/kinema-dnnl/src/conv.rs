//! A convolution for training: forward, gradient of the source and gradient of the weights
//! (and bias), on row-major `f32` slices as burn holds them. Each pass runs in the layouts
//! oneDNN picks for this CPU (blocked `nCdhw8c`/`nCdhw16c`...), with reorders from and to the
//! row-major buffers around it: what PyTorch's oneDNN convolutions do on plain tensors.
//!
//! [`TrainConv::get`] keeps one per geometry, so primitives (just-in-time compiled code) are
//! made once per layer shape and reused every step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::{
    convolution_backward_data, convolution_backward_weights, convolution_forward_training, reorder, Arg,
    Attr, ConvParams, DataType, DnnlError, Engine, Layout, Memory, MemoryDesc, Primitive, Query, Result,
    Stream,
};

/// The geometry of a convolution: what a [`TrainConv`] is made for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConvShape {
    /// Source `[N, C, spatial...]` (1 to 3 spatial dimensions).
    pub src: Vec<usize>,
    /// Weights `[O, C / groups, kernel...]`, as burn and PyTorch hold them.
    pub weights: Vec<usize>,
    /// Channel groups.
    pub groups: usize,
    /// Strides, per spatial dimension.
    pub stride: Vec<usize>,
    /// Zero padding before, per spatial dimension.
    pub pad_l: Vec<usize>,
    /// Zero padding after, per spatial dimension.
    pub pad_r: Vec<usize>,
    /// Dilations (1 = none), per spatial dimension.
    pub dilation: Vec<usize>,
    /// Whether there is a bias `[O]`.
    pub bias: bool,
}

impl ConvShape {
    /// The destination's dimensions `[N, O, spatial...]`, or why the geometry is refused.
    pub fn dst(&self) -> Result<Vec<usize>> {
        let nsp = self.src.len().saturating_sub(2);
        let bad = |why: String| Err(DnnlError::Invalid(format!("convolution {self:?}: {why}")));
        if !(1..=3).contains(&nsp) || self.weights.len() != self.src.len() {
            return bad("source and weights must both be [N, C, 1 to 3 spatial dims]".into());
        }
        if [&self.stride, &self.pad_l, &self.pad_r, &self.dilation]
            .iter()
            .any(|v| v.len() != nsp)
        {
            return bad("stride, padding and dilation need one value per spatial dimension".into());
        }
        let g = self.groups;
        if g == 0 || self.src[1] != self.weights[1] * g || !self.weights[0].is_multiple_of(g) {
            return bad(format!("{g} groups do not divide the channels"));
        }
        if self.stride.contains(&0) || self.dilation.contains(&0) || self.src.contains(&0) {
            return bad("zero size, stride or dilation".into());
        }
        let mut dst = vec![self.src[0], self.weights[0]];
        for i in 0..nsp {
            let span = self.dilation[i] * (self.weights[2 + i] - 1) + 1;
            let room = self.src[2 + i] + self.pad_l[i] + self.pad_r[i];
            if span > room || self.weights[2 + i] == 0 {
                return bad(format!(
                    "the kernel is larger than the padded input in dimension {i}"
                ));
            }
            dst.push((room - span) / self.stride[i] + 1);
        }
        Ok(dst)
    }

    fn grouped_weights(&self) -> Vec<usize> {
        if self.groups == 1 {
            return self.weights.clone();
        }
        let mut w = vec![self.groups, self.weights[0] / self.groups];
        w.extend_from_slice(&self.weights[1..]);
        w
    }
}

/// One operand of a pass: the layout the primitive runs on, and the reorder from (an input)
/// or to (an output) the row-major buffer when that layout is not row major.
struct Operand {
    md: MemoryDesc,
    reorder: Option<Primitive>,
}

impl Operand {
    fn new(engine: &Engine, plain: &MemoryDesc, chosen: MemoryDesc, input: bool) -> Result<Operand> {
        let reorder = if &chosen == plain {
            None
        } else if input {
            Some(Primitive::new(&reorder(engine, plain, &chosen)?)?)
        } else {
            Some(Primitive::new(&reorder(engine, &chosen, plain)?)?)
        };
        Ok(Operand { md: chosen, reorder })
    }

    /// A memory holding `data` in this operand's layout (a view of `data` itself when that is
    /// row major). The returned memory must not outlive `data`.
    fn load(&self, engine: &Engine, stream: &mut Stream, plain: &MemoryDesc, data: &[f32]) -> Result<Memory> {
        // SAFETY: the view only ever serves as a source (a reorder's or a primitive's input), so
        // the buffer is read, never written; callers drop it before `data`.
        let view = unsafe { Memory::wrap(engine, plain, data.as_ptr() as *mut f32, data.len())? };
        match &self.reorder {
            None => Ok(view),
            Some(r) => {
                let m = Memory::alloc(engine, &self.md)?;
                r.execute(stream, &[(Arg::Src, &view), (Arg::Dst, &m)])?;
                Ok(m)
            }
        }
    }

    /// Runs `run` with a memory in this operand's layout, then leaves its values in `out`
    /// (row major).
    fn store(
        &self,
        engine: &Engine,
        stream: &mut Stream,
        plain: &MemoryDesc,
        out: &mut [f32],
        run: impl FnOnce(&mut Stream, &Memory) -> Result<()>,
    ) -> Result<()> {
        // SAFETY: `out` is borrowed mutably for this call, and the view is dropped before it
        // returns; oneDNN writes it only through the primitives run here.
        let view = unsafe { Memory::wrap(engine, plain, out.as_mut_ptr(), out.len())? };
        match &self.reorder {
            None => run(stream, &view),
            Some(r) => {
                let m = Memory::alloc(engine, &self.md)?;
                run(stream, &m)?;
                r.execute(stream, &[(Arg::Src, &m), (Arg::Dst, &view)])
            }
        }?;
        stream.wait()
    }
}

/// A pass's primitive and the scratch space each execution hands it.
struct Pass {
    primitive: Primitive,
    scratchpad: Option<MemoryDesc>,
}

impl Pass {
    fn new(pd: &crate::PrimitiveDesc) -> Result<Pass> {
        let md = pd.query(Query::Scratchpad)?;
        Ok(Pass {
            primitive: Primitive::new(pd)?,
            scratchpad: (!md.dims().is_empty() && md.size_bytes() > 0).then_some(md),
        })
    }

    /// Runs with `args` and a scratch space of its own (made with the primitive's
    /// user-managed scratchpad: nothing is shared with other threads).
    fn execute(&self, stream: &mut Stream, args: &[(Arg, &Memory)]) -> Result<()> {
        let pad = match &self.scratchpad {
            Some(md) => Some(Memory::alloc(Engine::cpu()?, md)?),
            None => None,
        };
        let mut all = args.to_vec();
        if let Some(pad) = &pad {
            all.push((Arg::Scratchpad, pad));
        }
        self.primitive.execute(stream, &all)?;
        // The scratch space must outlive the execution.
        stream.wait()
    }
}

/// A convolution's three training passes, made for one [`ConvShape`].
pub struct TrainConv {
    shape: ConvShape,
    plain_src: MemoryDesc,
    plain_weights: MemoryDesc,
    plain_bias: Option<MemoryDesc>,
    plain_dst: MemoryDesc,
    forward: Pass,
    f_src: Operand,
    f_weights: Operand,
    f_dst: Operand,
    backward_data: Pass,
    d_diff_src: Operand,
    d_weights: Operand,
    d_diff_dst: Operand,
    backward_weights: Pass,
    w_src: Operand,
    w_diff_weights: Operand,
    w_diff_dst: Operand,
    /// Both backward passes read `dy` in one layout: one reorder serves both.
    dy_shared: bool,
}

impl std::fmt::Debug for TrainConv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainConv").field("shape", &self.shape).finish()
    }
}

/// How many geometries [`TrainConv::get`] keeps before it starts over (a model has tens; a
/// caller feeding ever new shapes must not grow memory without bound).
const CACHE: usize = 512;

impl TrainConv {
    /// The convolution for `shape` at the current thread count ([`crate::set_num_threads`]),
    /// made on first use and kept.
    pub fn get(shape: &ConvShape) -> Result<Arc<TrainConv>> {
        type Cache = Mutex<HashMap<(ConvShape, usize), Arc<TrainConv>>>;
        static ALL: OnceLock<Cache> = OnceLock::new();
        let all = ALL.get_or_init(Default::default);
        // A primitive sizes its scratch space for the threads it is made with and must not run
        // on more: one per thread count.
        let key = (shape.clone(), crate::threads());
        if let Some(c) = all.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(c.clone());
        }
        let c = Arc::new(TrainConv::new(shape)?);
        let mut all = all.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= CACHE {
            all.clear();
        }
        all.insert(key, c.clone());
        Ok(c)
    }

    /// Makes the three passes' primitives for `shape`, for the current thread count (the one
    /// every execution applies).
    pub fn new(shape: &ConvShape) -> Result<TrainConv> {
        crate::apply_threads();
        let engine = Engine::cpu()?;
        let dst = shape.dst()?;
        let f32md = |d: &[usize], l| MemoryDesc::new(d, DataType::F32, l);
        let gw = shape.grouped_weights();
        let plain_src = f32md(&shape.src, Layout::Plain)?;
        let plain_weights = f32md(&gw, Layout::Plain)?;
        let plain_bias = if shape.bias {
            Some(f32md(&shape.weights[..1], Layout::Plain)?)
        } else {
            None
        };
        let plain_dst = f32md(&dst, Layout::Plain)?;
        let (any_src, any_w, any_dst) = (
            f32md(&shape.src, Layout::Any)?,
            f32md(&gw, Layout::Any)?,
            f32md(&dst, Layout::Any)?,
        );
        let params = ConvParams {
            src: &any_src,
            weights: &any_w,
            bias: plain_bias.as_ref(),
            dst: &any_dst,
            strides: &shape.stride,
            dilation: &shape.dilation,
            pad_l: &shape.pad_l,
            pad_r: &shape.pad_r,
        };
        let attr = || Attr::new(&[])?.user_scratchpad();
        let fpd = convolution_forward_training(engine, &params, Some(&attr()?))?;
        let dpd = convolution_backward_data(engine, &params, &fpd, Some(&attr()?))?;
        let wpd = convolution_backward_weights(engine, &params, &fpd, Some(&attr()?))?;
        let op = |pd: &crate::PrimitiveDesc, q, plain: &MemoryDesc, input| {
            Operand::new(engine, plain, pd.query(q)?, input)
        };
        let (d_diff_dst, w_diff_dst) = (
            op(&dpd, Query::DiffDst, &plain_dst, true)?,
            op(&wpd, Query::DiffDst, &plain_dst, true)?,
        );
        Ok(TrainConv {
            dy_shared: d_diff_dst.md == w_diff_dst.md,
            d_diff_dst,
            w_diff_dst,
            f_src: op(&fpd, Query::Src, &plain_src, true)?,
            f_weights: op(&fpd, Query::Weights, &plain_weights, true)?,
            f_dst: op(&fpd, Query::Dst, &plain_dst, false)?,
            forward: Pass::new(&fpd)?,
            d_diff_src: op(&dpd, Query::DiffSrc, &plain_src, false)?,
            d_weights: op(&dpd, Query::Weights, &plain_weights, true)?,
            backward_data: Pass::new(&dpd)?,
            w_src: op(&wpd, Query::Src, &plain_src, true)?,
            w_diff_weights: op(&wpd, Query::DiffWeights, &plain_weights, false)?,
            backward_weights: Pass::new(&wpd)?,
            shape: shape.clone(),
            plain_src,
            plain_weights,
            plain_bias,
            plain_dst,
        })
    }

    /// Its geometry.
    pub fn shape(&self) -> &ConvShape {
        &self.shape
    }

    /// The destination's dimensions.
    pub fn dst_dims(&self) -> Vec<usize> {
        self.plain_dst.dims()
    }

    fn expect(&self, what: &str, got: usize, md: &MemoryDesc) -> Result<()> {
        let want: usize = md.dims().iter().product();
        if got == want {
            Ok(())
        } else {
            Err(DnnlError::Invalid(format!(
                "convolution {:?}: {what} has {got} values, {want} expected",
                self.shape.src
            )))
        }
    }

    /// The bias's descriptor when a bias (or its gradient) is given, which must be exactly when
    /// the convolution was made with one.
    fn bias_md(&self, given: bool) -> Result<Option<&MemoryDesc>> {
        match (&self.plain_bias, given) {
            (Some(md), true) => Ok(Some(md)),
            (None, false) => Ok(None),
            _ => Err(DnnlError::Invalid(format!(
                "convolution {:?}: made {} a bias, called {} one",
                self.shape.src,
                if self.shape.bias { "with" } else { "without" },
                if given { "with" } else { "without" }
            ))),
        }
    }

    /// `y = conv(x, w) + b`, all row major; `y` holds [`dst_dims`](Self::dst_dims) values.
    pub fn forward(&self, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) -> Result<()> {
        self.expect("the source", x.len(), &self.plain_src)?;
        self.expect("the weights", w.len(), &self.plain_weights)?;
        self.expect("the destination", y.len(), &self.plain_dst)?;
        let bias_md = self.bias_md(b.is_some())?;
        let engine = Engine::cpu()?;
        let mut stream = Stream::new(engine)?;
        let xs = self.f_src.load(engine, &mut stream, &self.plain_src, x)?;
        let ws = self.f_weights.load(engine, &mut stream, &self.plain_weights, w)?;
        let bs = match (b, bias_md) {
            (Some(b), Some(md)) => {
                self.expect("the bias", b.len(), md)?;
                // SAFETY: a source only (read, never written), dropped before `b`.
                Some(unsafe { Memory::wrap(engine, md, b.as_ptr() as *mut f32, b.len())? })
            }
            _ => None,
        };
        self.f_dst
            .store(engine, &mut stream, &self.plain_dst, y, |s, dst| {
                let mut args = vec![(Arg::Src, &xs), (Arg::Weights, &ws), (Arg::Dst, dst)];
                if let Some(bs) = &bs {
                    args.push((Arg::Bias, bs));
                }
                self.forward.execute(s, &args)
            })
    }

    /// `dy` (the destination's gradient) in the layouts of the backward passes that will run
    /// (`data`: the source's gradient, `weights`: the weights'), reordered once when both run
    /// and read the same layout (a view of `dy` where a layout is row major): what
    /// [`backward_data_from`](Self::backward_data_from) and
    /// [`backward_weights_from`](Self::backward_weights_from) take.
    pub fn diff_dst<'a>(&self, dy: &'a [f32], data: bool, weights: bool) -> Result<DiffDst<'a>> {
        self.expect("the destination gradient", dy.len(), &self.plain_dst)?;
        let engine = Engine::cpu()?;
        let mut stream = Stream::new(engine)?;
        let mut load = |o: &Operand| o.load(engine, &mut stream, &self.plain_dst, dy);
        let for_data = if data || (weights && self.dy_shared) {
            Some(load(&self.d_diff_dst)?)
        } else {
            None
        };
        let for_weights = if weights && !self.dy_shared {
            Some(load(&self.w_diff_dst)?)
        } else {
            None
        };
        stream.wait()?;
        Ok(DiffDst {
            data: for_data,
            weights: for_weights,
            shared: self.dy_shared,
            _dy: std::marker::PhantomData,
        })
    }

    /// `dx`, the source's gradient, from `dy` (the destination's) and the weights.
    pub fn backward_data(&self, dy: &[f32], w: &[f32], dx: &mut [f32]) -> Result<()> {
        self.backward_data_from(&self.diff_dst(dy, true, false)?, w, dx)
    }

    /// [`backward_data`](Self::backward_data) from a `dy` [`diff_dst`](Self::diff_dst) made.
    pub fn backward_data_from(&self, dy: &DiffDst<'_>, w: &[f32], dx: &mut [f32]) -> Result<()> {
        self.expect("the weights", w.len(), &self.plain_weights)?;
        self.expect("the source gradient", dx.len(), &self.plain_src)?;
        let engine = Engine::cpu()?;
        let mut stream = Stream::new(engine)?;
        let dys = dy.for_data()?;
        let ws = self.d_weights.load(engine, &mut stream, &self.plain_weights, w)?;
        self.d_diff_src
            .store(engine, &mut stream, &self.plain_src, dx, |s, dxs| {
                self.backward_data.execute(
                    s,
                    &[(Arg::DiffDst, dys), (Arg::Weights, &ws), (Arg::DiffSrc, dxs)],
                )
            })
    }

    /// `dw` (and `db`), the weights' (and bias's) gradients, from the source `x` and `dy`.
    pub fn backward_weights(
        &self,
        x: &[f32],
        dy: &[f32],
        dw: &mut [f32],
        db: Option<&mut [f32]>,
    ) -> Result<()> {
        self.backward_weights_from(x, &self.diff_dst(dy, false, true)?, dw, db)
    }

    /// [`backward_weights`](Self::backward_weights) from a `dy` [`diff_dst`](Self::diff_dst)
    /// made.
    pub fn backward_weights_from(
        &self,
        x: &[f32],
        dy: &DiffDst<'_>,
        dw: &mut [f32],
        db: Option<&mut [f32]>,
    ) -> Result<()> {
        self.expect("the source", x.len(), &self.plain_src)?;
        self.expect("the weights gradient", dw.len(), &self.plain_weights)?;
        let bias_md = self.bias_md(db.is_some())?;
        let engine = Engine::cpu()?;
        let mut stream = Stream::new(engine)?;
        let xs = self.w_src.load(engine, &mut stream, &self.plain_src, x)?;
        let dys = dy.for_weights()?;
        let dbs = match (db, bias_md) {
            (Some(db), Some(md)) => {
                self.expect("the bias gradient", db.len(), md)?;
                // SAFETY: `db` is borrowed mutably for this call; the view is dropped before it
                // returns.
                Some(unsafe { Memory::wrap(engine, md, db.as_mut_ptr(), db.len())? })
            }
            _ => None,
        };
        self.w_diff_weights
            .store(engine, &mut stream, &self.plain_weights, dw, |s, dws| {
                let mut args = vec![(Arg::Src, &xs), (Arg::DiffDst, dys), (Arg::DiffWeights, dws)];
                if let Some(dbs) = &dbs {
                    args.push((Arg::DiffBias, dbs));
                }
                self.backward_weights.execute(s, &args)
            })
    }
}

/// A destination gradient in the layouts of a [`TrainConv`]'s backward passes (from
/// [`TrainConv::diff_dst`]); it may view the slice it was made from, so it borrows it.
pub struct DiffDst<'a> {
    /// In the backward-data pass's layout (also the weights pass's, when `shared`).
    data: Option<Memory>,
    /// In the backward-weights pass's layout, when that differs.
    weights: Option<Memory>,
    shared: bool,
    _dy: std::marker::PhantomData<&'a [f32]>,
}

impl DiffDst<'_> {
    fn missing(pass: &str) -> DnnlError {
        DnnlError::Invalid(format!(
            "the destination gradient was made without the {pass} pass's layout"
        ))
    }

    fn for_data(&self) -> Result<&Memory> {
        self.data.as_ref().ok_or_else(|| Self::missing("backward-data"))
    }

    fn for_weights(&self) -> Result<&Memory> {
        let shared = self.data.as_ref().filter(|_| self.shared);
        self.weights
            .as_ref()
            .or(shared)
            .ok_or_else(|| Self::missing("backward-weights"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (source index, weight index, destination index) a direct convolution multiplies
    /// together, for 1 to 3 spatial dimensions (padded to 3 with size-1 ones).
    fn triples(s: &ConvShape) -> Vec<(usize, usize, usize)> {
        let dst = s.dst().unwrap();
        let pad3 = |v: &[usize], fill: usize| {
            let mut o = vec![fill; 3 - v.len()];
            o.extend_from_slice(v);
            o
        };
        let (xi, ki, yi) = (pad3(&s.src[2..], 1), pad3(&s.weights[2..], 1), pad3(&dst[2..], 1));
        let (st, pd, dl) = (pad3(&s.stride, 1), pad3(&s.pad_l, 0), pad3(&s.dilation, 1));
        let (n, o, cg) = (s.src[0], s.weights[0], s.weights[1]);
        let og = o / s.groups;
        let vol = |d: &[usize]| d.iter().product::<usize>();
        let mut out = Vec::new();
        for b in 0..n {
            for oc in 0..o {
                let g = oc / og;
                for c in 0..cg {
                    let ic = g * cg + c;
                    for (y, yv) in
                        (0..vol(&yi)).map(|y| (y, [y / (yi[1] * yi[2]), y / yi[2] % yi[1], y % yi[2]]))
                    {
                        for (k, kv) in
                            (0..vol(&ki)).map(|k| (k, [k / (ki[1] * ki[2]), k / ki[2] % ki[1], k % ki[2]]))
                        {
                            let p: Vec<isize> = (0..3)
                                .map(|d| (yv[d] * st[d] + kv[d] * dl[d]) as isize - pd[d] as isize)
                                .collect();
                            if (0..3).any(|d| p[d] < 0 || p[d] as usize >= xi[d]) {
                                continue;
                            }
                            let x = ((b * s.src[1] + ic) * xi[0] + p[0] as usize) * xi[1] * xi[2]
                                + p[1] as usize * xi[2]
                                + p[2] as usize;
                            let w = (oc * cg + c) * vol(&ki) + k;
                            out.push((x, w, (b * o + oc) * vol(&yi) + y));
                        }
                    }
                }
            }
        }
        out
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 2654435761 + seed * 97) % 2001) as f32 - 1000.0) / 1000.0)
            .collect()
    }

    fn close(got: &[f32], want: &[f32], what: &str) {
        let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-4 * scale, "{what}[{i}]: {g} against {w}");
        }
    }

    #[test]
    fn the_three_passes_match_a_direct_loop_in_1_2_and_3_dimensions() {
        let cases = [
            // 3-D, bias, stride, padding, dilation.
            ConvShape {
                src: vec![2, 4, 5, 7, 6],
                weights: vec![6, 4, 3, 3, 2],
                groups: 1,
                stride: vec![1, 2, 1],
                pad_l: vec![1, 1, 0],
                pad_r: vec![1, 1, 0],
                dilation: vec![1, 1, 2],
                bias: true,
            },
            // 3-D, grouped (channel-separated), no bias.
            ConvShape {
                src: vec![1, 6, 4, 5, 5],
                weights: vec![6, 2, 3, 3, 3],
                groups: 3,
                stride: vec![2, 1, 2],
                pad_l: vec![1, 1, 1],
                pad_r: vec![1, 1, 1],
                dilation: vec![1, 1, 1],
                bias: false,
            },
            // 2-D, an RGB input, stride 2 (a stem), more padding after than before.
            ConvShape {
                src: vec![3, 3, 11, 9],
                weights: vec![8, 3, 5, 5],
                groups: 1,
                stride: vec![2, 2],
                pad_l: vec![2, 2],
                pad_r: vec![1, 3],
                dilation: vec![1, 1],
                bias: true,
            },
            // 3-D temporal (3x1x1) with uneven depth padding, as in R(2+1)D and I3D (oneDNN's
            // weights pass falls back to im2col + gemm for it on AVX2).
            ConvShape {
                src: vec![2, 16, 4, 5, 6],
                weights: vec![8, 16, 3, 1, 1],
                groups: 1,
                stride: vec![1, 1, 1],
                pad_l: vec![1, 0, 0],
                pad_r: vec![2, 0, 0],
                dilation: vec![1, 1, 1],
                bias: true,
            },
            // 1-D.
            ConvShape {
                src: vec![2, 5, 13],
                weights: vec![4, 5, 3],
                groups: 1,
                stride: vec![1],
                pad_l: vec![1],
                pad_r: vec![1],
                dilation: vec![1],
                bias: false,
            },
        ];
        for s in &cases {
            let conv = TrainConv::get(s).unwrap();
            let dst = s.dst().unwrap();
            let (nx, nw, ny): (usize, usize, usize) = (
                s.src.iter().product(),
                s.weights.iter().product(),
                dst.iter().product(),
            );
            let (x, w, dy) = (values(nx, 1), values(nw, 2), values(ny, 3));
            let b = values(s.weights[0], 4);
            let mut want_y = vec![0f32; ny];
            let (mut want_dx, mut want_dw) = (vec![0f32; nx], vec![0f32; nw]);
            let mut want_db = vec![0f32; s.weights[0]];
            for (xi, wi, yi) in triples(s) {
                want_y[yi] += x[xi] * w[wi];
                want_dx[xi] += dy[yi] * w[wi];
                want_dw[wi] += dy[yi] * x[xi];
            }
            let per_o = ny / dst[0] / dst[1];
            for (i, v) in want_y.iter_mut().enumerate() {
                let o = i / per_o % dst[1];
                if s.bias {
                    *v += b[o];
                }
                want_db[o] += dy[i];
            }
            let mut y = vec![0f32; ny];
            conv.forward(&x, &w, s.bias.then_some(&b[..]), &mut y).unwrap();
            close(&y, &want_y, "y");
            let mut dx = vec![0f32; nx];
            conv.backward_data(&dy, &w, &mut dx).unwrap();
            close(&dx, &want_dx, "dx");
            let (mut dw, mut db) = (vec![0f32; nw], vec![0f32; s.weights[0]]);
            conv.backward_weights(&x, &dy, &mut dw, s.bias.then_some(&mut db[..]))
                .unwrap();
            close(&dw, &want_dw, "dw");
            if s.bias {
                close(&db, &want_db, "db");
            }
            // Both passes from one destination gradient made for both (what training runs).
            let both = conv.diff_dst(&dy, true, true).unwrap();
            let (mut dx2, mut dw2) = (vec![0f32; nx], vec![0f32; nw]);
            conv.backward_data_from(&both, &w, &mut dx2).unwrap();
            conv.backward_weights_from(&x, &both, &mut dw2, s.bias.then_some(&mut db[..]))
                .unwrap();
            close(&dx2, &want_dx, "dx from a shared dy");
            close(&dw2, &want_dw, "dw from a shared dy");
        }
    }

    /// Made on one thread and run on others (as burn's autodiff and the tests' threads do):
    /// with oneDNN's own scratch space this overran it and crashed.
    #[test]
    fn a_convolution_made_on_one_thread_runs_on_others() {
        let s = ConvShape {
            src: vec![2, 64, 2, 4, 4],
            weights: vec![128, 64, 3, 3, 3],
            groups: 1,
            stride: vec![2, 2, 2],
            pad_l: vec![1, 1, 1],
            pad_r: vec![1, 1, 1],
            dilation: vec![1, 1, 1],
            bias: false,
        };
        let conv = std::thread::spawn({
            let s = s.clone();
            move || Arc::new(TrainConv::new(&s).unwrap())
        })
        .join()
        .unwrap();
        let (nx, nw) = (
            s.src.iter().product::<usize>(),
            s.weights.iter().product::<usize>(),
        );
        let ny: usize = s.dst().unwrap().iter().product();
        let (x, w, dy) = (values(nx, 5), values(nw, 6), values(ny, 7));
        let run = |conv: &TrainConv| {
            let (mut y, mut dx, mut dw) = (vec![0f32; ny], vec![0f32; nx], vec![0f32; nw]);
            conv.forward(&x, &w, None, &mut y).unwrap();
            conv.backward_data(&dy, &w, &mut dx).unwrap();
            conv.backward_weights(&x, &dy, &mut dw, None).unwrap();
            (y, dx, dw)
        };
        let here = run(&conv);
        for _ in 0..2 {
            let c = conv.clone();
            let there = std::thread::scope(|sc| sc.spawn(|| run(&c)).join().unwrap());
            assert_eq!(here, there);
        }
    }

    #[test]
    fn wrong_geometries_and_buffer_sizes_are_named_errors() {
        let mut s = ConvShape {
            src: vec![1, 4, 4, 4],
            weights: vec![2, 3, 3, 3],
            groups: 1,
            stride: vec![1, 1],
            pad_l: vec![0, 0],
            pad_r: vec![0, 0],
            dilation: vec![1, 1],
            bias: false,
        };
        let e = TrainConv::new(&s).unwrap_err().to_string();
        assert!(e.contains("groups do not divide"), "{e}");
        s.weights[1] = 4;
        s.weights[2] = 7;
        let e = TrainConv::new(&s).unwrap_err().to_string();
        assert!(e.contains("kernel is larger"), "{e}");
        s.weights[2] = 3;
        let conv = TrainConv::new(&s).unwrap();
        let e = conv
            .forward(&[0.0; 63], &[0.0; 72], None, &mut [0.0; 8])
            .unwrap_err()
            .to_string();
        assert!(e.contains("the source has 63 values, 64 expected"), "{e}");
        let e = conv
            .forward(&[0.0; 64], &[0.0; 72], Some(&[0.0; 2]), &mut [0.0; 8])
            .unwrap_err()
            .to_string();
        assert!(e.contains("made without a bias"), "{e}");
        // A destination gradient made for neither backward pass serves neither.
        let none = conv.diff_dst(&[0.0; 8], false, false).unwrap();
        let e = conv
            .backward_data_from(&none, &[0.0; 72], &mut [0.0; 64])
            .unwrap_err()
            .to_string();
        assert!(e.contains("without the backward-data pass's layout"), "{e}");
        let e = conv
            .backward_weights_from(&[0.0; 64], &none, &mut [0.0; 72], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("without the backward-weights pass's layout"), "{e}");
    }
}
