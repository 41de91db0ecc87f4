//! `kinema bench MODEL`: how long one eval forward of a model takes here (median and minimum
//! after warm-up), with the CPU and the instruction set oneDNN runs on; with `--train`, one
//! training step (forward, cross-entropy, backward, SGD with momentum) instead.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use kinema_models::{CpuEngine, Model, ModelSource};

use crate::progress::bar;

#[derive(clap::Args)]
pub struct Args {
    /// Model: a registry name (random weights unless --weights), a kinema .safetensors file,
    /// or kinema_motion_default (the embedded default).
    model: String,
    /// Weights for a registry name (.params, .pth/.pt or .safetensors).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Classes of a `_custom` registry name (default 400).
    #[arg(long)]
    nclass: Option<usize>,
    /// Input shape: `N,3,T,H,W` for 3-D models, `N*segments,3,H,W` for TSN models (default:
    /// one video as the model's card says; with --train, two).
    #[arg(long, visible_alias = "batch-shape", value_delimiter = ',')]
    input_shape: Option<Vec<usize>>,
    /// Time a training step (forward, cross-entropy, backward, SGD with momentum 0.9 and
    /// weight decay 1e-4) instead of an eval forward.
    #[arg(long)]
    train: bool,
    /// Threads (oneDNN's and rayon's; default: every core).
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
    /// Timed forwards.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    reps: u64,
    /// Untimed forwards first (the first one compiles the plan for this shape).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// CPU engine: onednn (default) or burn.
    #[arg(long, default_value = "onednn")]
    engine: CpuEngine,
    /// Print JSON (its last line carries median_ms and min_ms).
    #[arg(long)]
    json: bool,
    /// Also time every step of the oneDNN plan once (after the timed runs) and print the
    /// slowest: convolutions by layer name, reorders, pools.
    #[arg(long)]
    profile: bool,
}

pub(crate) fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("the thread count must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{s:?}: {e}")),
    }
}

/// The CPU's model name, as /proc/cpuinfo says.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("setting the thread count")?;
    if a.train {
        return train(a, threads);
    }
    let dev = crate::device();
    let mut model = Model::load(&source(&a), &dev).with_context(|| format!("loading {}", a.model))?;
    model.engine = a.engine;
    if a.weights.is_none() && kinema_models::spec(&a.model).is_ok() && a.model != kinema_models::DEFAULT_MODEL
    {
        tracing::info!("{}: random weights (timing only)", a.model);
    }
    let (isa, onednn) = match a.engine {
        CpuEngine::Onednn => {
            kinema_models::engine::set_threads(threads).context("the CPU engine")?;
            let (isa, v) = kinema_models::engine::cpu_isa().context("the CPU engine")?;
            (isa, Some(v))
        }
        CpuEngine::Burn => ("burn".to_string(), None),
    };
    let shape = a.input_shape.clone().unwrap_or_else(|| model.input_shape(1));
    model.net.check_shape(&shape).with_context(|| a.model.clone())?;
    let n: usize = shape.iter().product();
    // A fixed pseudo-random input in [-1, 1].
    let x: Vec<f32> = (0..n)
        .map(|i| ((i as u64).wrapping_mul(2_654_435_761) % 10_007) as f32 / 5_003.5 - 1.0)
        .collect();
    let pb = bar(a.warmup + a.reps, "forward", a.json);
    let mut times = Vec::with_capacity(a.reps as usize);
    let mut out_shape = Vec::new();
    for i in 0..a.warmup + a.reps {
        let t = Instant::now();
        let (dims, y) = model
            .run(&shape, x.clone(), false, &dev)
            .with_context(|| format!("{} on {shape:?}", a.model))?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if y.iter().any(|v| !v.is_finite()) {
            bail!("{}: the forward gave non-finite values", a.model);
        }
        if i >= a.warmup {
            times.push(ms);
        }
        out_shape = dims;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let profile = if a.profile && a.engine == CpuEngine::Onednn {
        Some(
            model
                .profile(&shape, &x, false)
                .with_context(|| format!("profiling {}", a.model))?,
        )
    } else {
        None
    };
    let (median, min) = median_min(&times);
    let cpu = cpu_model();
    if a.json {
        let v = serde_json::json!({
            "model": a.model,
            "shape": shape,
            "output_shape": out_shape,
            "engine": format!("{:?}", a.engine).to_lowercase(),
            "threads": threads,
            "reps": a.reps,
            "warmup": a.warmup,
            "times_ms": times,
            "cpu": cpu,
            "isa": isa,
            "onednn": onednn,
            "profile": profile.as_ref().map(|p| p.iter().map(|(s, ms)| serde_json::json!({"step": s, "ms": ms})).collect::<Vec<_>>()),
            "median_ms": median,
            "min_ms": min,
        });
        println!("{v}");
    } else {
        println!("{} {shape:?} -> {out_shape:?}", a.model);
        println!(
            "  median {median:.1} ms, min {min:.1} ms over {} runs ({} warm-up)",
            a.reps, a.warmup
        );
        println!(
            "  {cpu}, {threads} threads, engine {:?} ({isa}{})",
            a.engine,
            onednn.map(|v| format!(", oneDNN {v}")).unwrap_or_default()
        );
        if let Some(p) = &profile {
            let total: f64 = p.iter().map(|(_, ms)| ms).sum();
            let mut by_time: Vec<&(String, f64)> = p.iter().collect();
            by_time.sort_by(|a, b| b.1.total_cmp(&a.1));
            println!("  profile: {} steps, {total:.1} ms in all; the slowest:", p.len());
            for (step, ms) in by_time.iter().take(15) {
                println!("  {ms:>8.2} ms {:>5.1}%  {step}", 100.0 * ms / total);
            }
        }
    }
    Ok(())
}

/// What `a` names: a registry name (random weights unless `--weights`; a `_custom` one with
/// 400 classes unless `--nclass`), a model file or the embedded default.
fn source(a: &Args) -> ModelSource {
    ModelSource {
        model: Some(a.model.clone()),
        weights: a.weights.clone(),
        nclass: a.nclass.or_else(|| a.model.ends_with("_custom").then_some(400)),
        pretrained: false,
        ..Default::default()
    }
}

fn median_min(times: &[f64]) -> (f64, f64) {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    (sorted[sorted.len() / 2], sorted[0])
}

/// `--train`: the median time of a training step on a fixed pseudo-random batch.
fn train(a: Args, threads: usize) -> anyhow::Result<()> {
    if a.engine != CpuEngine::Onednn || a.profile {
        bail!("--train times burn's autodiff (on oneDNN convolutions where the device is the CPU): --engine and --profile apply to eval forwards only");
    }
    // The model as `kinema bench` loads it (its card and weights), rebuilt on the autodiff
    // device with its parameters tracked (a loaded model is an eval one).
    let loaded =
        Model::load(&source(&a), &crate::device()).with_context(|| format!("loading {}", a.model))?;
    let dev = crate::device().autodiff();
    let o = kinema_models::GetModelOptions {
        nclass: Some(loaded.card.nclass()),
        num_segments: Some(loaded.card.segments_in_model()),
        ..Default::default()
    };
    let net = kinema_models::get_model(&loaded.card.model, &o, &dev)
        .and_then(|n| n.load_tensors(loaded.net.tensors()?, std::path::Path::new(&a.model)))
        .with_context(|| format!("building {} for training", a.model))?;
    let model = Model::new(net, loaded.card.clone());
    // oneDNN's threads match rayon's (a missing oneDNN leaves burn's kernels: said in the log).
    let _ = kinema_models::engine::set_threads(threads);
    let isa = kinema_models::engine::cpu_isa().map_or_else(|_| "burn".to_string(), |(isa, _)| isa);
    let shape = a.input_shape.clone().unwrap_or_else(|| model.input_shape(2));
    model.net.check_shape(&shape).with_context(|| a.model.clone())?;
    // A TSN model averages its segments: one label per video.
    let clips = shape[0] / model.card.segments_in_model().max(1);
    let nclass = model.card.nclass().max(1);
    let labels: Vec<usize> = (0..clips.max(1)).map(|i| i % nclass).collect();
    let n: usize = shape.iter().product();
    let x: Vec<f32> = (0..n)
        .map(|i| ((i as u64).wrapping_mul(2_654_435_761) % 10_007) as f32 / 5_003.5 - 1.0)
        .collect();
    let mut opt = kinema_train::Optimizer::new(kinema_train::OptimizerOptions::default());
    let factor = |_: &str| 1.0;
    let mut net = model.net;
    let pb = bar(a.warmup + a.reps, "training step", a.json);
    let mut times = Vec::with_capacity(a.reps as usize);
    let mut losses = Vec::new();
    for i in 0..a.warmup + a.reps {
        let t = Instant::now();
        let s = kinema_train::train_step(
            net,
            &mut opt,
            (&shape, x.clone(), &labels),
            (0.01, 0.0, &factor),
            &dev,
        )
        .with_context(|| format!("a training step of {} on {shape:?}", a.model))?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if !s.loss.is_finite() {
            bail!("{}: the loss is not finite ({})", a.model, s.loss);
        }
        net = s.net;
        losses.push(s.loss);
        if i >= a.warmup {
            times.push(ms);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let (median, min) = median_min(&times);
    let cpu = cpu_model();
    if a.json {
        let v = serde_json::json!({
            "model": a.model,
            "train": true,
            "shape": shape,
            "threads": threads,
            "reps": a.reps,
            "warmup": a.warmup,
            "times_ms": times,
            "losses": losses,
            "cpu": cpu,
            "isa": isa,
            "median_ms": median,
            "min_ms": min,
        });
        println!("{v}");
    } else {
        println!("{} training step on {shape:?}", a.model);
        println!(
            "  median {median:.1} ms, min {min:.1} ms over {} steps ({} warm-up)",
            a.reps, a.warmup
        );
        println!("  {cpu}, {threads} threads ({isa})");
    }
    Ok(())
}
