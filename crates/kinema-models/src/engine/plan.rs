//! A [`Graph`] lowered to oneDNN for one input shape: one primitive per operation, weights
//! packed once into the layouts the primitives chose, activations left in those layouts from
//! layer to layer (a reorder only where a consumer wants another), and activation buffers
//! reused once their last reader has run.

use std::collections::HashMap;
use std::sync::Arc;

use kinema_dnnl as dnnl;
use kinema_dnnl::{
    Arg, Attr, Constant, DataType, Engine, HostFn, Layout, MemId, MemoryDesc, PostOp, PrimitiveDesc, Program,
    Query,
};

use super::graph::{ConvNode, Graph, Op, PoolKind, Val};
use crate::error::{ModelError, Result};

fn err(what: &str) -> impl Fn(dnnl::DnnlError) -> ModelError + '_ {
    move |e| ModelError::Engine(format!("{what}: {e}"))
}

fn plain(shape: &[usize]) -> Result<MemoryDesc> {
    MemoryDesc::new(shape, DataType::F32, Layout::Plain).map_err(err("a plain layout"))
}

fn any(shape: &[usize]) -> Result<MemoryDesc> {
    MemoryDesc::new(shape, DataType::F32, Layout::Any).map_err(err("a layout"))
}

/// Where a memory's values live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Activation buffer `slot`, from byte offset.
    Slot(usize, usize),
    /// Constant (packed weights, biases) `i`.
    Const(usize),
}

/// A memory the plan's steps use: its place and descriptor (made into a oneDNN memory object
/// once every buffer's size is known).
#[derive(Debug)]
struct MemSpec {
    place: Place,
    md: MemoryDesc,
}

#[derive(Debug)]
enum Step {
    /// A primitive and its arguments (indices into the plan's memories).
    Prim {
        pd: PrimitiveDesc,
        args: Vec<(Arg, usize)>,
    },
    /// `[N * S, K]` to `[N, K]` on plain memories.
    SegmentMean { src: usize, dst: usize, segments: usize },
}

/// The CPU engine every plan runs on (one per process, so plans can share packed weights).
fn engine() -> Result<&'static Engine> {
    Engine::cpu().map_err(|e| ModelError::Engine(format!("the CPU engine: {e}")))
}

/// Weights already packed into the layouts some plan's primitives chose, by layer and role,
/// so that plans of one model for several input shapes pack each weight once per layout.
/// It belongs to one network's weights: layers are known by name only.
#[derive(Debug, Default)]
pub struct PackedWeights(HashMap<(String, bool), Vec<Arc<Constant>>>);

impl PackedWeights {
    /// How many packed tensors it holds (one per weight or bias and layout).
    pub fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value while the graph is lowered.
#[derive(Debug)]
struct ValState {
    mem: usize,
    remaining: usize,
    /// Copies of the value in other layouts (released with it).
    copies: Vec<(MemoryDesc, usize)>,
}

/// The lowering in progress.
struct Builder<'g> {
    engine: &'static Engine,
    packed: &'g mut PackedWeights,
    graph: &'g Uses<'g>,
    mems: Vec<MemSpec>,
    consts: Vec<Arc<Constant>>,
    steps: Vec<Step>,
    vals: HashMap<usize, ValState>,
    slot_size: Vec<usize>,
    slot_refs: Vec<usize>,
    free: Vec<usize>,
    labels: Vec<String>,
}

impl Builder<'_> {
    fn slot_of(&self, mem: usize) -> Option<usize> {
        match self.mems[mem].place {
            Place::Slot(s, _) => Some(s),
            _ => None,
        }
    }

    /// A buffer of at least `bytes`: the best fitting free one, else the largest free one
    /// grown, else a new one.
    fn alloc(&mut self, bytes: usize) -> usize {
        let fit = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, &s)| self.slot_size[s] >= bytes)
            .min_by_key(|(_, &s)| self.slot_size[s])
            .or_else(|| {
                self.free
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, &s)| self.slot_size[s])
            })
            .map(|(i, _)| i);
        let s = match fit {
            Some(i) => self.free.swap_remove(i),
            None => {
                self.slot_size.push(0);
                self.slot_refs.push(0);
                self.slot_size.len() - 1
            }
        };
        self.slot_size[s] = self.slot_size[s].max(bytes);
        self.slot_refs[s] = 1;
        s
    }

    fn retain(&mut self, mem: usize) {
        if let Some(s) = self.slot_of(mem) {
            self.slot_refs[s] += 1;
        }
    }

    fn release(&mut self, mem: usize) {
        if let Some(s) = self.slot_of(mem) {
            self.slot_refs[s] -= 1;
            if self.slot_refs[s] == 0 {
                self.free.push(s);
            }
        }
    }

    /// A new memory of `md` in a fresh buffer.
    fn fresh(&mut self, md: MemoryDesc) -> usize {
        let s = self.alloc(md.size_bytes());
        self.mems.push(MemSpec {
            place: Place::Slot(s, 0),
            md,
        });
        self.mems.len() - 1
    }

    /// A memory of `md` over `mem`'s buffer at `mem`'s offset plus `extra` bytes (retains it).
    fn alias(&mut self, mem: usize, md: MemoryDesc, extra: usize) -> usize {
        let place = match self.mems[mem].place {
            Place::Slot(s, o) => Place::Slot(s, o + extra),
            Place::Const(c) => Place::Const(c),
        };
        self.retain(mem);
        self.mems.push(MemSpec { place, md });
        self.mems.len() - 1
    }

    /// Makes `mem` the output of node `v`.
    fn define(&mut self, v: usize, mem: usize) {
        let remaining = self.graph.uses[v];
        self.vals.insert(
            v,
            ValState {
                mem,
                remaining,
                copies: Vec::new(),
            },
        );
        if remaining == 0 && v + 1 != self.graph.graph.nodes.len() {
            self.drop_val(v);
        }
    }

    fn drop_val(&mut self, v: usize) {
        if let Some(st) = self.vals.remove(&v) {
            self.release(st.mem);
            for (_, m) in st.copies {
                self.release(m);
            }
        }
    }

    /// One read of `v` done.
    fn used(&mut self, v: Val) {
        let Some(st) = self.vals.get_mut(&v.0) else { return };
        st.remaining = st.remaining.saturating_sub(1);
        if st.remaining == 0 {
            self.drop_val(v.0);
        }
    }

    fn val(&self, v: Val) -> &ValState {
        &self.vals[&v.0]
    }

    fn md(&self, v: Val) -> MemoryDesc {
        self.mems[self.val(v).mem].md.clone()
    }

    /// Whether `v`'s buffer may be overwritten by its reader: its last read, no other value
    /// in the buffer (the input is a copy, so its buffer may be too).
    fn last_reader(&self, v: Val) -> bool {
        let st = self.val(v);
        st.remaining == 1
            && st.copies.is_empty()
            && self.slot_of(st.mem).is_some_and(|s| self.slot_refs[s] == 1)
    }

    fn prim(&mut self, label: String, pd: PrimitiveDesc, args: Vec<(Arg, usize)>) -> Result<()> {
        self.labels.push(format!("{label} [{}]", pd.implementation()));
        self.steps.push(Step::Prim { pd, args });
        Ok(())
    }

    /// `v` in layout `want`: as it is, or a copy made once (and shared by later readers).
    fn as_md(&mut self, v: Val, want: &MemoryDesc) -> Result<usize> {
        let st = self.val(v);
        if self.mems[st.mem].md == *want {
            return Ok(st.mem);
        }
        if let Some((_, m)) = st.copies.iter().find(|(md, _)| md == want) {
            return Ok(*m);
        }
        let src = st.mem;
        let dst = self.fresh(want.clone());
        let pd = dnnl::reorder(self.engine, &self.mems[src].md, want).map_err(err("a reorder"))?;
        let label = format!(
            "reorder {} -> {}",
            self.mems[src].md.layout_name(),
            want.layout_name()
        );
        self.prim(label, pd, vec![(Arg::Src, src), (Arg::Dst, dst)])?;
        self.vals
            .get_mut(&v.0)
            .expect("live")
            .copies
            .push((want.clone(), dst));
        Ok(dst)
    }

    fn as_plain(&mut self, v: Val) -> Result<usize> {
        let p = plain(self.graph.graph.shape(v))?;
        self.as_md(v, &p)
    }

    /// Constant values packed into `want` (from their plain layout `from`): layer `key.0`'s
    /// weights (`key.1` false) or bias (true), packed once per layout for every plan.
    fn constant(
        &mut self,
        key: (&str, bool),
        values: &[f32],
        from: &MemoryDesc,
        want: &MemoryDesc,
    ) -> Result<usize> {
        let engine = self.engine;
        let slot = self.packed.0.entry((key.0.to_string(), key.1)).or_default();
        let packed = match slot.iter().find(|c| c.desc() == want) {
            Some(c) => c.clone(),
            None => {
                let c = Arc::new(Constant::pack(engine, values, from, want).map_err(err("packing weights"))?);
                slot.push(c.clone());
                c
            }
        };
        self.consts.push(packed);
        self.mems.push(MemSpec {
            place: Place::Const(self.consts.len() - 1),
            md: want.clone(),
        });
        Ok(self.mems.len() - 1)
    }

    fn conv(&mut self, v: usize, c: &ConvNode) -> Result<()> {
        let g = self.graph.graph;
        let xs = g.shape(c.x);
        let ys = &g.nodes[v].shape;
        let wshape: Vec<usize> = if c.groups > 1 {
            let mut s = vec![c.groups, c.weight_shape[0] / c.groups];
            s.extend_from_slice(&c.weight_shape[1..]);
            s
        } else {
            c.weight_shape.clone()
        };
        let mut post = Vec::new();
        if c.residual.is_some() {
            post.push(PostOp::Sum(1.0));
        }
        if c.relu {
            post.insert(if c.relu_first { 0 } else { post.len() }, PostOp::Relu);
        }
        let attr = Attr::new(&post).map_err(err(&c.name))?;
        let bias_md = plain(&[c.weight_shape[0]])?;
        let p = dnnl::ConvParams {
            src: &any(xs)?,
            weights: &any(&wshape)?,
            bias: c.bias.as_ref().map(|_| &bias_md),
            dst: &any(ys)?,
            strides: &c.stride,
            dilation: &c.dilation,
            pad_l: &c.pad_l,
            pad_r: &c.pad_r,
        };
        let pd = dnnl::convolution_forward(self.engine, &p, Some(&attr)).map_err(err(&c.name))?;
        let q = |q| pd.query(q).map_err(err(&c.name));
        let (src_md, w_md, dst_md) = (q(Query::Src)?, q(Query::Weights)?, q(Query::Dst)?);
        let src = self.as_md(c.x, &src_md)?;
        let w = self.constant((&c.name, false), &c.weight, &plain(&wshape)?, &w_md)?;
        let mut args = vec![(Arg::Src, src), (Arg::Weights, w)];
        if let Some(b) = &c.bias {
            let b = self.constant((&c.name, true), b, &bias_md, &bias_md)?;
            args.push((Arg::Bias, b));
        }
        let dst = match c.residual {
            // The residual's buffer becomes the output: the sum post-op adds to it in place.
            Some(r) if self.md(r) == dst_md && self.last_reader(r) => {
                let m = self.val(r).mem;
                self.alias(m, dst_md, 0)
            }
            Some(r) => {
                let dst = self.fresh(dst_md.clone());
                let rm = self.val(r).mem;
                let pd = dnnl::reorder(self.engine, &self.mems[rm].md, &dst_md).map_err(err(&c.name))?;
                self.prim(
                    format!("reorder residual for {}", c.name),
                    pd,
                    vec![(Arg::Src, rm), (Arg::Dst, dst)],
                )?;
                dst
            }
            None => self.fresh(dst_md),
        };
        args.push((Arg::Dst, dst));
        self.prim(format!("conv {}", c.name), pd, args)?;
        self.used(c.x);
        if let Some(r) = c.residual {
            self.used(r);
        }
        self.define(v, dst);
        Ok(())
    }

    fn lower(&mut self, v: usize) -> Result<()> {
        let g = self.graph.graph;
        let node = &g.nodes[v];
        match &node.op {
            Op::Input => {
                // The caller's values are copied in: views and in-place reuse of the input's
                // buffer are then like any other.
                let m = self.fresh(plain(&node.shape)?);
                self.define(v, m);
            }
            Op::Conv(c) => self.conv(v, c)?,
            Op::Pool {
                x,
                kind,
                kernel,
                stride,
                pad_l,
                pad_r,
            } => {
                let alg = match kind {
                    PoolKind::Max => dnnl::PoolAlg::Max,
                    PoolKind::AvgIncludePad => dnnl::PoolAlg::AvgIncludePad,
                    PoolKind::AvgExcludePad => dnnl::PoolAlg::AvgExcludePad,
                };
                let p = dnnl::PoolParams {
                    alg,
                    kernel,
                    strides: stride,
                    pad_l,
                    pad_r,
                };
                let src_md = self.md(*x);
                let pd = dnnl::pooling_forward(self.engine, &src_md, &any(&node.shape)?, &p)
                    .map_err(err("a pooling"))?;
                let dst = self.fresh(pd.query(Query::Dst).map_err(err("a pooling"))?);
                let src = self.val(*x).mem;
                self.prim(
                    format!("pool {kernel:?}/{stride:?}"),
                    pd,
                    vec![(Arg::Src, src), (Arg::Dst, dst)],
                )?;
                self.used(*x);
                self.define(v, dst);
            }
            Op::Relu(x) => {
                let md = self.md(*x);
                let pd = dnnl::eltwise_forward(self.engine, &md).map_err(err("a ReLU"))?;
                let src = self.val(*x).mem;
                let dst = if self.last_reader(*x) {
                    self.alias(src, md, 0)
                } else {
                    self.fresh(md)
                };
                self.prim("relu".into(), pd, vec![(Arg::Src, src), (Arg::Dst, dst)])?;
                self.used(*x);
                self.define(v, dst);
            }
            Op::Concat(xs) => {
                let mds: Vec<MemoryDesc> = xs.iter().map(|x| self.md(*x)).collect();
                let (pd, srcs) = match dnnl::concat(self.engine, None, 1, &mds) {
                    Ok(pd) => (pd, xs.iter().map(|x| self.val(*x).mem).collect::<Vec<_>>()),
                    // Branches in layouts no concatenation takes together: plain first.
                    Err(_) => {
                        let srcs = xs.iter().map(|x| self.as_plain(*x)).collect::<Result<Vec<_>>>()?;
                        let mds: Vec<MemoryDesc> = srcs.iter().map(|m| self.mems[*m].md.clone()).collect();
                        (
                            dnnl::concat(self.engine, None, 1, &mds).map_err(err("a concatenation"))?,
                            srcs,
                        )
                    }
                };
                let dst = self.fresh(pd.query(Query::Dst).map_err(err("a concatenation"))?);
                let mut args: Vec<(Arg, usize)> = srcs
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (Arg::MultipleSrc(i), *m))
                    .collect();
                args.push((Arg::Dst, dst));
                self.prim(format!("concat of {}", xs.len()), pd, args)?;
                for x in xs {
                    self.used(*x);
                }
                self.define(v, dst);
            }
            Op::Linear {
                name,
                x,
                weight,
                bias,
                relu,
            } => {
                let xs = g.shape(*x).to_vec();
                let mut wshape = vec![node.shape[1]];
                wshape.extend_from_slice(&xs[1..]);
                let bias_md = plain(&[node.shape[1]])?;
                let attr = Attr::new(if *relu { &[PostOp::Relu] } else { &[] }).map_err(err(name))?;
                let pd = dnnl::inner_product_forward(
                    self.engine,
                    &any(&xs)?,
                    &any(&wshape)?,
                    bias.as_ref().map(|_| &bias_md),
                    &plain(&node.shape)?,
                    Some(&attr),
                )
                .map_err(err(name))?;
                let src_md = pd.query(Query::Src).map_err(err(name))?;
                let w_md = pd.query(Query::Weights).map_err(err(name))?;
                let src = self.as_md(*x, &src_md)?;
                let w = self.constant((name, false), weight, &plain(&wshape)?, &w_md)?;
                let mut args = vec![(Arg::Src, src), (Arg::Weights, w)];
                if let Some(b) = bias {
                    args.push((Arg::Bias, self.constant((name, true), b, &bias_md, &bias_md)?));
                }
                let dst = self.fresh(plain(&node.shape)?);
                args.push((Arg::Dst, dst));
                self.prim(format!("linear {name}"), pd, args)?;
                self.used(*x);
                self.define(v, dst);
            }
            Op::Reshape(x) => {
                let m = self.as_plain(*x)?;
                let dst = self.alias(m, plain(&node.shape)?, 0);
                self.used(*x);
                self.define(v, dst);
            }
            Op::Slice { x, axis, start, step } => {
                let xs = g.shape(*x).to_vec();
                let m = self.as_plain(*x)?;
                let mut strides = vec![1usize; xs.len()];
                for i in (0..xs.len() - 1).rev() {
                    strides[i] = strides[i + 1] * xs[i + 1];
                }
                let offset = start * strides[*axis] * 4;
                strides[*axis] *= step;
                let md = MemoryDesc::strided(&node.shape, DataType::F32, &strides)
                    .map_err(err("a strided view"))?;
                let dst = self.alias(m, md, offset);
                self.used(*x);
                self.define(v, dst);
            }
            Op::MatMul { a, ta, b, tb, scale } => {
                let view = |s: &[usize], t: bool| -> Result<MemoryDesc> {
                    // Stored [B, R, C] row major; transposed, seen as [B, C, R].
                    let (bb, r, c) = (s[0], s[1], s[2]);
                    if t {
                        MemoryDesc::strided(&[bb, c, r], DataType::F32, &[r * c, 1, c])
                    } else {
                        MemoryDesc::strided(&[bb, r, c], DataType::F32, &[r * c, c, 1])
                    }
                    .map_err(err("a matrix view"))
                };
                let (sa, sb) = (g.shape(*a).to_vec(), g.shape(*b).to_vec());
                let (am, bm) = (self.as_plain(*a)?, self.as_plain(*b)?);
                let (av, bv) = (view(&sa, *ta)?, view(&sb, *tb)?);
                let (am, bm) = (self.alias(am, av.clone(), 0), self.alias(bm, bv.clone(), 0));
                let post: Vec<PostOp> = (*scale != 1.0)
                    .then_some(PostOp::Scale(*scale))
                    .into_iter()
                    .collect();
                let attr = Attr::new(&post).map_err(err("a matmul"))?;
                let dst_md = plain(&node.shape)?;
                let pd =
                    dnnl::matmul(self.engine, &av, &bv, &dst_md, Some(&attr)).map_err(err("a matmul"))?;
                let dst = self.fresh(dst_md);
                self.prim(
                    "matmul".into(),
                    pd,
                    vec![(Arg::Src, am), (Arg::Weights, bm), (Arg::Dst, dst)],
                )?;
                self.release(am);
                self.release(bm);
                self.used(*a);
                self.used(*b);
                self.define(v, dst);
            }
            Op::Softmax(x) => {
                let src = self.as_plain(*x)?;
                let md = self.mems[src].md.clone();
                let pd = dnnl::softmax_forward(self.engine, &md, node.shape.len() - 1)
                    .map_err(err("a softmax"))?;
                let dst = self.fresh(md);
                self.prim("softmax".into(), pd, vec![(Arg::Src, src), (Arg::Dst, dst)])?;
                self.used(*x);
                self.define(v, dst);
            }
            Op::SegmentMean { x, segments } => {
                let src = self.as_plain(*x)?;
                let dst = self.fresh(plain(&node.shape)?);
                self.labels.push(format!("mean over {segments} segments"));
                self.steps.push(Step::SegmentMean {
                    src,
                    dst,
                    segments: *segments,
                });
                self.used(*x);
                self.define(v, dst);
            }
        }
        Ok(())
    }
}

/// How many times each node's output is read.
struct Uses<'g> {
    graph: &'g Graph,
    uses: Vec<usize>,
}

fn inputs(op: &Op) -> Vec<Val> {
    match op {
        Op::Input => vec![],
        Op::Conv(c) => std::iter::once(c.x).chain(c.residual).collect(),
        Op::Pool { x, .. } | Op::Linear { x, .. } | Op::Slice { x, .. } | Op::SegmentMean { x, .. } => {
            vec![*x]
        }
        Op::Relu(x) | Op::Reshape(x) | Op::Softmax(x) => vec![*x],
        Op::Concat(xs) => xs.clone(),
        Op::MatMul { a, b, .. } => vec![*a, *b],
    }
}

/// A graph compiled for its input shape.
#[derive(Debug)]
pub struct Plan {
    program: Program,
    input: MemId,
    output: MemId,
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    labels: Vec<String>,
}

impl Plan {
    /// Lowers `graph` (its input shape fixed) to oneDNN primitives, packing the weights.
    pub fn compile(graph: &Graph) -> Result<Plan> {
        Plan::compile_with(graph, &mut PackedWeights::default())
    }

    /// [`compile`](Self::compile), taking weights already packed from `packed` and leaving
    /// the ones it packs there (a model's plans for several input shapes share them).
    pub fn compile_with(graph: &Graph, packed: &mut PackedWeights) -> Result<Plan> {
        let engine = engine()?;
        let mut uses = vec![0usize; graph.nodes.len()];
        for n in &graph.nodes {
            for v in inputs(&n.op) {
                uses[v.0] += 1;
            }
        }
        let u = Uses { graph, uses };
        let mut b = Builder {
            engine,
            packed,
            graph: &u,
            mems: Vec::new(),
            consts: Vec::new(),
            steps: Vec::new(),
            vals: HashMap::new(),
            slot_size: Vec::new(),
            slot_refs: Vec::new(),
            free: Vec::new(),
            labels: Vec::new(),
        };
        for v in 0..graph.nodes.len() {
            b.lower(v)?;
        }
        let last = Val(graph.nodes.len() - 1);
        let output = b.as_plain(last)?;
        // Buffers at their final sizes, the memories over them, then the steps.
        let mut program = Program::new(engine, &b.slot_size).map_err(err("activation buffers"))?;
        let mut ids = Vec::with_capacity(b.mems.len());
        for spec in &b.mems {
            ids.push(match spec.place {
                Place::Slot(s, off) => program.view(engine, s, &spec.md, off).map_err(err("a memory"))?,
                Place::Const(c) => program.constant(b.consts[c].clone()),
            });
        }
        for step in b.steps {
            match step {
                Step::Prim { pd, args } => {
                    let args = args.into_iter().map(|(a, m)| (a, ids[m])).collect();
                    program.step(&pd, args).map_err(err("a primitive"))?;
                }
                Step::SegmentMean { src, dst, segments } => {
                    let k = b.mems[src].md.dims()[1];
                    let f: HostFn = Box::new(move |x: &[f32]| segment_mean(x, k, segments));
                    program
                        .host_step(ids[src], ids[dst], f)
                        .map_err(err("a segment mean"))?;
                }
            }
        }
        // Node 0 is the input, and its memory the first one made.
        Ok(Plan {
            program,
            input: ids[0],
            output: ids[output],
            input_shape: graph.nodes[0].shape.clone(),
            output_shape: graph.nodes[last.0].shape.clone(),
            labels: b.labels,
        })
    }

    /// The input shape the plan was compiled for.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The output shape.
    pub fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    /// Each step: the operation, its layer and the implementation it runs on
    /// (`conv layer1.0.conv1 [jit:avx2]`, `reorder ... [simple:any]`).
    pub fn steps(&self) -> &[String] {
        &self.labels
    }

    /// Copies `input` into the plan's input buffer.
    fn load(&mut self, input: &[f32]) -> Result<()> {
        if input.len() != self.input_shape.iter().product::<usize>() {
            return Err(ModelError::InvalidOption(format!(
                "{} values for the input shape {:?}",
                input.len(),
                self.input_shape
            )));
        }
        self.program.write(self.input, input).map_err(err("the input"))
    }

    /// Runs the plan on `input` (plain, [`input_shape`](Self::input_shape)).
    pub fn run(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        self.load(input)?;
        self.program.run().map_err(err("running"))?;
        let mut out = vec![0f32; self.output_shape.iter().product()];
        self.program
            .read(self.output, &mut out)
            .map_err(err("the output"))?;
        Ok(out)
    }

    /// Runs the plan on `input` timing every step (each waited for): the milliseconds of each
    /// of [`steps`](Self::steps), in order.
    pub fn profile(&mut self, input: &[f32]) -> Result<Vec<f64>> {
        self.load(input)?;
        let mut times = Vec::with_capacity(self.program.len());
        for i in 0..self.program.len() {
            let t = std::time::Instant::now();
            self.program.run_step(i).map_err(err("running"))?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(times)
    }
}

/// `[N * S, K]` to `[N, K]`: the mean of each group of `segments` rows of `k` values.
fn segment_mean(x: &[f32], k: usize, segments: usize) -> Vec<f32> {
    x.chunks(k * segments)
        .flat_map(|g| (0..k).map(move |j| (0..segments).map(|s| g[s * k + j]).sum::<f32>() / segments as f32))
        .collect()
}
