//! One training step: [`train_step`] on a whole batch, [`step_parts`] over parts of a batch
//! (micro-batches in this process and ranks of a distributed job). Each part is forwarded on its own (BatchNorm statistics per part); its
//! gradients, weighted by its share of the global batch, are summed into one flat buffer in the
//! model's parameter order, summed over the ranks in buckets, and put back for the optimizer.
//! BatchNorm running statistics of the parts are averaged, so `mpirun -np k` and one process
//! with `micro_batches = k` give the same weights.

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, TensorData};
use burn::Tensor;
use kinema_dist::{Comm, ReduceStats};
use kinema_models::Net;

use crate::error::{Result, TrainError};
use crate::optim::{LrFactor, Optimizer};

/// All-reduce bucket size in values (25 MiB of f32, PyTorch DDP's default)...
const BUCKET: usize = 25 << 18;
/// ...and the first, smaller one (1 MiB), whose reduction starts while the rest is packed.
const FIRST_BUCKET: usize = 1 << 18;

/// What one training step gives back.
pub struct Step {
    /// The updated model.
    pub net: Net,
    /// The batch's mean loss before the update.
    pub loss: f64,
    /// Clips of the batch the model got right before the update.
    pub correct: usize,
}

/// One training step: forward on the autodiff device `dev`, label-smoothed cross-entropy,
/// backward, one optimizer update at `lr` (times `factor(path)`). `shape` is the model's input
/// (`[N * views, 3, ...]`) for `labels.len()` clips. What the loop runs, and what the
/// training-step benchmark times.
pub fn train_step(
    net: Net,
    opt: &mut Optimizer,
    batch: (&[usize], Vec<f32>, &[usize]),
    update: (f64, f64, crate::optim::LrFactor),
    dev: &Device,
) -> Result<Step> {
    train_step_timed(net, opt, batch, update, dev).map(|(step, _)| step)
}

/// Where a [`train_step`] spent its time, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTimes {
    /// The forward and the loss.
    pub forward: f64,
    /// The backward.
    pub backward: f64,
    /// The optimizer's update.
    pub optimizer: f64,
}

/// [`train_step`], and how long each of its phases took.
pub fn train_step_timed(
    net: Net,
    opt: &mut Optimizer,
    (shape, data, labels): (&[usize], Vec<f32>, &[usize]),
    (lr, smoothing, factor): (f64, f64, crate::optim::LrFactor),
    dev: &Device,
) -> Result<(Step, StepTimes)> {
    let t = std::time::Instant::now();
    let logits = net.forward_data(shape, data, false, dev)?;
    let (loss, correct) = cross_entropy(logits, labels, smoothing, dev);
    let loss_v = loss.clone().into_scalar::<f64>();
    let forward = t.elapsed().as_secs_f64();
    let grads = net.gradients(loss.backward());
    let backward = t.elapsed().as_secs_f64() - forward;
    let (net, _norm) = opt.step(net, grads, lr, factor);
    let optimizer = t.elapsed().as_secs_f64() - forward - backward;
    let step = Step {
        net,
        loss: loss_v,
        correct,
    };
    Ok((
        step,
        StepTimes {
            forward,
            backward,
            optimizer,
        },
    ))
}

/// Label-smoothed cross-entropy of `logits` `[B, K]` against `labels`, and the count of correct
/// top-1 predictions.
pub fn cross_entropy(
    logits: Tensor<2>,
    labels: &[usize],
    smoothing: f64,
    dev: &Device,
) -> (Tensor<1>, usize) {
    let [b, k] = logits.dims();
    let pred: Vec<i64> = logits
        .clone()
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .unwrap_or_default();
    let correct = pred
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p as usize == **l)
        .count();
    let off = (smoothing / k as f64) as f32;
    let on = (1.0 - smoothing) as f32 + off;
    let mut t = vec![off; b * k];
    for (i, &l) in labels.iter().enumerate() {
        t[i * k + l] = on;
    }
    let target = Tensor::<2>::from_data(TensorData::new(t, [b, k]), dev);
    let logp = burn::tensor::activation::log_softmax(logits, 1);
    let loss = (logp * target).sum().neg().div_scalar(b as f64);
    (loss, correct)
}

/// True for a BatchNorm running statistic's path.
fn is_running_stat(path: &[String]) -> bool {
    path.last()
        .is_some_and(|n| n == "running_mean" || n == "running_var")
}

/// What [`visit_paths`] calls for each float tensor: its path and its values.
type PathVisit<'a> = dyn FnMut(&[String], &dyn ParamValues) + 'a;

/// Visits `net`'s float parameters with their path.
fn visit_paths(net: &Net, f: &mut PathVisit) {
    struct V<'a, 'b> {
        path: Vec<String>,
        f: &'a mut PathVisit<'b>,
    }
    impl ModuleVisitor for V<'_, '_> {
        fn enter_module(&mut self, name: &str, _ty: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _ty: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            (self.f)(&self.path, &Wrapped(p.val()));
        }
    }
    net.visit(&mut V { path: Vec::new(), f });
}

/// A tensor of any rank, as flat values.
trait ParamValues {
    fn values(&self) -> Result<Vec<f32>>;
}

struct Wrapped<const D: usize>(Tensor<D>);

impl<const D: usize> ParamValues for Wrapped<D> {
    fn values(&self) -> Result<Vec<f32>> {
        values(self.0.clone())
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Invalid(format!("tensor values: {e:?}")))
}

/// BatchNorm running statistics of `net`, flattened in parameter order (burn folds the latest
/// update in lazily; `valid` folds it in first).
pub fn batch_norm_stats(net: &Net) -> Result<Vec<f32>> {
    let _synced = net.valid();
    let mut out = Vec::new();
    let mut err = None;
    visit_paths(net, &mut |path, v| {
        if is_running_stat(path) {
            match v.values() {
                Ok(x) => out.extend(x),
                Err(e) => err = Some(e),
            }
        }
    });
    err.map_or(Ok(out), Err)
}

/// `net` with its BatchNorm running statistics set from `stats` (as
/// [`batch_norm_stats`] lays them out).
pub fn set_batch_norm_stats(net: Net, stats: &[f32]) -> Result<Net> {
    let _synced = net.valid();
    struct M<'a> {
        path: Vec<String>,
        stats: &'a [f32],
        at: usize,
        short: bool,
    }
    impl ModuleMapper for M<'_> {
        fn enter_module(&mut self, name: &str, _ty: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _ty: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if !is_running_stat(&self.path) {
                return p;
            }
            let (id, t, mapper) = p.consume();
            let dims = t.dims();
            let n: usize = dims.iter().product();
            let Some(v) = self.stats.get(self.at..self.at + n) else {
                self.short = true;
                return Param::from_mapped_value(id, t, mapper);
            };
            self.at += n;
            let new = Tensor::<D>::from_data(TensorData::new(v.to_vec(), dims), &t.device());
            Param::from_mapped_value(id, new, mapper)
        }
    }
    let mut m = M {
        path: Vec::new(),
        stats,
        at: 0,
        short: false,
    };
    let net = net.map(&mut m);
    if m.short || m.at != stats.len() {
        return Err(TrainError::Invalid(format!(
            "BatchNorm statistics: {} values for a model with {}",
            stats.len(),
            m.at
        )));
    }
    Ok(net)
}

/// Averages `net`'s BatchNorm running statistics over the ranks of `comm`.
pub fn average_batch_norm_stats(net: Net, comm: &Comm) -> Result<Net> {
    if !comm.is_distributed() {
        return Ok(net);
    }
    let mut s = batch_norm_stats(&net)?;
    comm.all_reduce_sum_f32(&mut s);
    let n = comm.size() as f32;
    s.iter_mut().for_each(|x| *x /= n);
    set_batch_norm_stats(net, &s)
}

/// FNV-1a of every parameter and running statistic's bits, in parameter order: equal on every
/// rank while the ranks agree.
pub fn weight_hash(net: &Net) -> Result<u64> {
    let mut h = Fnv::default();
    for t in net.tensors()? {
        h.eat(t.name.bytes().map(u64::from));
        h.eat(t.data.iter().map(|v| u64::from(v.to_bits())));
    }
    Ok(h.0)
}

/// FNV-1a over 64-bit words: the hashes ranks compare.
pub(crate) struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn eat(&mut self, words: impl IntoIterator<Item = u64>) {
        for w in words {
            self.0 = (self.0 ^ w).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Which parameters have gradients, in parameter order, with their sizes: the layout of the
/// flat gradient (the same on every rank, as the model is).
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    params: Vec<(ParamId, usize)>,
    total: usize,
    /// Where the gradients live (the autodiff device's inner one).
    device: Option<Device>,
}

impl Layout {
    fn of(net: &Net, grads: &GradientsParams) -> Layout {
        struct V<'a> {
            grads: &'a GradientsParams,
            params: Vec<(ParamId, usize)>,
            device: Option<Device>,
        }
        impl ModuleVisitor for V<'_> {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                if let Some(g) = self.grads.get::<D>(p.id) {
                    self.params.push((p.id, g.dims().iter().product()));
                    self.device.get_or_insert_with(|| g.device());
                }
            }
        }
        let mut v = V {
            grads,
            params: Vec::new(),
            device: None,
        };
        net.visit(&mut v);
        let total = v.params.iter().map(|p| p.1).sum();
        Layout {
            params: v.params,
            total,
            device: v.device,
        }
    }
}

/// `grads` of `net` as one flat buffer in `layout`'s order, each value times `weight`, added to
/// `acc` when given.
fn flatten(
    net: &Net,
    grads: &GradientsParams,
    layout: &Layout,
    weight: f32,
    acc: Option<Vec<f32>>,
) -> Result<Vec<f32>> {
    // The packer that fills all-reduce buckets, over one bucket holding everything.
    let mut buf = acc.unwrap_or_else(|| vec![0f32; layout.total]);
    let mut packer = Packer::new(net, grads, layout, weight);
    packer.fill(0..layout.total, &mut buf);
    packer.finish(layout.total)?;
    Ok(buf)
}

/// Packs one part's gradients into all-reduce buckets on demand, in `Layout` order, each value
/// times the part's weight and added to what the bucket already holds (the earlier parts' sum).
struct Packer {
    grads: Vec<Box<dyn ParamValues>>,
    weight: f32,
    next: usize,
    cur: Vec<f32>,
    off: usize,
    packed: usize,
    err: Option<TrainError>,
}

impl Packer {
    fn new(net: &Net, grads: &GradientsParams, layout: &Layout, weight: f32) -> Packer {
        struct V<'a> {
            grads: &'a GradientsParams,
            out: Vec<Box<dyn ParamValues>>,
        }
        impl ModuleVisitor for V<'_> {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                if let Some(g) = self.grads.get::<D>(p.id) {
                    self.out.push(Box::new(Wrapped(g)));
                }
            }
        }
        let mut v = V {
            grads,
            out: Vec::with_capacity(layout.params.len()),
        };
        net.visit(&mut v);
        Packer {
            grads: v.out,
            weight,
            next: 0,
            cur: Vec::new(),
            off: 0,
            packed: 0,
            err: None,
        }
    }

    /// Adds the next `buf.len()` values (times the weight) to `buf`.
    fn fill(&mut self, _range: std::ops::Range<usize>, buf: &mut [f32]) {
        let mut at = 0;
        while at < buf.len() && self.err.is_none() {
            if self.off == self.cur.len() {
                let Some(g) = self.grads.get(self.next) else {
                    self.err = Some(TrainError::Invalid("gradients shorter than their layout".into()));
                    return;
                };
                self.next += 1;
                match g.values() {
                    Ok(v) => (self.cur, self.off) = (v, 0),
                    Err(e) => self.err = Some(e),
                }
                continue;
            }
            let n = (self.cur.len() - self.off).min(buf.len() - at);
            let w = self.weight;
            buf[at..at + n]
                .iter_mut()
                .zip(&self.cur[self.off..self.off + n])
                .for_each(|(d, x)| *d += x * w);
            (at, self.off, self.packed) = (at + n, self.off + n, self.packed + n);
        }
    }

    /// Checks that every gradient value went into a bucket.
    fn finish(self, total: usize) -> Result<()> {
        if let Some(e) = self.err {
            return Err(e);
        }
        if self.packed != total || self.off != self.cur.len() || self.next != self.grads.len() {
            return Err(TrainError::Invalid(format!(
                "packed {} gradient values of {total}",
                self.packed
            )));
        }
        Ok(())
    }
}

/// `flat` (in `layout`'s order) as burn gradients of `net`'s parameters.
fn unflatten(net: &Net, flat: &[f32], layout: &Layout) -> GradientsParams {
    let Some(dev) = &layout.device else {
        return GradientsParams::new();
    };
    struct V<'a> {
        flat: &'a [f32],
        layout: &'a Layout,
        k: usize,
        at: usize,
        dev: &'a Device,
        out: GradientsParams,
    }
    impl ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let Some(&(id, n)) = self.layout.params.get(self.k) else {
                return;
            };
            if id != p.id {
                return;
            }
            self.k += 1;
            let dims: [usize; D] = p.val().dims();
            let v = self.flat[self.at..self.at + n].to_vec();
            self.at += n;
            let t = Tensor::<D>::from_data(TensorData::new(v, dims), self.dev);
            self.out.register::<D>(id, t);
        }
    }
    let mut v = V {
        flat,
        layout,
        k: 0,
        at: 0,
        dev,
        out: GradientsParams::new(),
    };
    net.visit(&mut v);
    v.out
}

/// One input part: `[n * views, ...]` shape, values and the `n` labels.
pub struct Part<'a> {
    /// The model's input shape for this part.
    pub shape: Vec<usize>,
    /// The input values.
    pub data: Vec<f32>,
    /// One label per clip.
    pub labels: &'a [usize],
}

/// What a step over parts gives back beyond [`Step`].
pub struct PartsStep {
    /// Model, loss (mean over the global batch) and correct count (over the global batch).
    pub step: Step,
    /// The gradient all-reduce, when distributed.
    pub reduce: Option<ReduceStats>,
}

/// One optimizer step over this rank's `parts` of a global batch of `global` clips: each part
/// forwarded and differentiated on its own, gradients weighted by the part's share of the
/// global batch and summed (over the ranks too), BatchNorm statistics averaged over the parts
/// of this rank, one update.
pub fn step_parts(
    mut net: Net,
    opt: &mut Optimizer,
    parts: Vec<Part>,
    global: usize,
    (lr, smoothing, factor): (f64, f64, LrFactor),
    comm: &Comm,
    dev: &Device,
) -> Result<PartsStep> {
    let k = parts.len();
    let stats0 = if k > 1 {
        Some(batch_norm_stats(&net)?)
    } else {
        None
    };
    let mut stats_sum: Option<Vec<f32>> = None;
    let mut flat: Option<Vec<f32>> = None;
    let mut layout: Option<Layout> = None;
    let mut last: Option<Packer> = None;
    let (mut loss_sum, mut correct) = (0f64, 0usize);
    for (j, part) in parts.into_iter().enumerate() {
        if j > 0 {
            if let Some(s) = &stats0 {
                net = set_batch_norm_stats(net, s)?;
            }
        }
        let n = part.labels.len();
        let logits = net.forward_data(&part.shape, part.data, false, dev)?;
        let (loss, c) = cross_entropy(logits, part.labels, smoothing, dev);
        loss_sum += loss.clone().into_scalar::<f64>() * n as f64;
        correct += c;
        let grads = net.gradients(loss.backward());
        let l = layout.get_or_insert_with(|| Layout::of(&net, &grads));
        let weight = n as f32 / global as f32;
        if comm.is_distributed() && j + 1 == k {
            // The last part's gradients are packed bucket by bucket while the buckets before
            // are being reduced.
            last = Some(Packer::new(&net, &grads, l, weight));
        } else {
            flat = Some(flatten(&net, &grads, l, weight, flat.take())?);
        }
        if k > 1 {
            let s = batch_norm_stats(&net)?;
            match &mut stats_sum {
                Some(acc) => acc.iter_mut().zip(&s).for_each(|(a, x)| *a += x),
                None => stats_sum = Some(s),
            }
        }
    }
    if let Some(mut s) = stats_sum {
        s.iter_mut().for_each(|x| *x /= k as f32);
        net = set_batch_norm_stats(net, &s)?;
    }
    let Some(layout) = layout else {
        return Err(TrainError::Invalid("a step with no batch part".into()));
    };
    let mut reduce = None;
    let flat = match last {
        Some(mut packer) => {
            let ranges = kinema_dist::buckets(layout.total, FIRST_BUCKET, BUCKET);
            let mut buf = flat.unwrap_or_else(|| vec![0f32; layout.total]);
            let mut sum = vec![0f32; layout.total];
            let stats = comm.all_reduce_packed(&mut buf, &mut sum, &ranges, &mut |r, b| packer.fill(r, b))?;
            packer.finish(layout.total)?;
            reduce = Some(stats);
            let mut totals = [loss_sum, correct as f64];
            comm.all_reduce_sum_f64(&mut totals);
            loss_sum = totals[0];
            correct = totals[1].round() as usize;
            sum
        }
        None => flat.ok_or_else(|| TrainError::Invalid("a step with no batch part".into()))?,
    };
    let grads = unflatten(&net, &flat, &layout);
    let (net, _norm) = opt.step(net, grads, lr, factor);
    Ok(PartsStep {
        step: Step {
            net,
            loss: loss_sum / global as f64,
            correct,
        },
        reduce,
    })
}
