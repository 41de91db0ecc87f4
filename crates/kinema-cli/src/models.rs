//! `kinema models list|forward|pull`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use kinema_data::{read_npy_f32, write_npy_f32};
use kinema_models::engine::Plan;
use kinema_models::{get_model, models, CpuEngine, GetModelOptions, ModelSpec};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Every registered model: name, family, classes, input, published weight file.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print the Markdown table of docs/models.md.
        #[arg(long)]
        markdown: bool,
    },
    /// One eval-mode forward pass of a model on an `.npy` input, output to `.npy`.
    Forward(ForwardArgs),
    /// Download models' published weights into the model store (GluonCV's, SHA-1 checked;
    /// torchvision's, SHA-256 checked).
    Pull {
        /// Registered names with published weights.
        #[arg(required = true)]
        names: Vec<String>,
        /// Store folder (default: $KINEMA_MODELS, else ~/.cache/kinema/models).
        #[arg(long)]
        root: Option<PathBuf>,
        /// GluonCV repository URL (default: $KINEMA_MODEL_REPO, $MXNET_GLUON_REPO, else
        /// GluonCV's); torchvision's models download from their own URL.
        #[arg(long)]
        repo: Option<String>,
    },
}

#[derive(clap::Args)]
struct ForwardArgs {
    /// Registered model name (GluonCV's).
    name: String,
    /// Weights: a GluonCV `.params`, a PyTorch `.pth`/`.pt` state dict or a kinema
    /// `.safetensors` file.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Input `.npy` (f32): `[N*segments, 3, H, W]` for TSN, `[N*clips, 3, T, H, W]` for 3-D models.
    #[arg(long)]
    input: PathBuf,
    /// Output `.npy`: logits `[N, nclass]` (or features with `--features`).
    #[arg(long)]
    out: PathBuf,
    /// Classes (required for `_custom` models).
    #[arg(long)]
    nclass: Option<usize>,
    /// Segments (TSN) or clips (3-D) averaged per video.
    #[arg(long, default_value_t = 1)]
    num_segments: usize,
    /// Write the pooled features (the classifier's input) instead of the logits.
    #[arg(long)]
    features: bool,
    /// CPU engine: onednn (default) or burn (burn's ops).
    #[arg(long, default_value = "onednn")]
    engine: CpuEngine,
}

/// What a model's clip is, in the table's words: frames along T, the step between them (a
/// SlowFast model's fast pathway), segments and crop side.
struct InputSummary {
    frames: usize,
    stride: usize,
    segments: usize,
    size: u32,
}

fn summary(s: &ModelSpec) -> InputSummary {
    let c = &s.input;
    InputSummary {
        frames: c.frames_per_view(),
        stride: if c.slowfast {
            c.fast_temporal_stride * c.new_step
        } else {
            c.new_step
        },
        segments: c.num_segments,
        size: c.target_width,
    }
}

fn describe(s: &ModelSpec) -> String {
    let i = summary(s);
    let input = if i.frames == 1 {
        format!("{} segments x {}px", i.segments, i.size)
    } else {
        format!("{}x{} frames x {}px", i.frames, i.stride, i.size)
    };
    let classes = if s.nclass == 0 {
        "nclass".to_string()
    } else {
        s.nclass.to_string()
    };
    format!(
        "{:<34} {:<16} {:>7}  {}",
        s.name,
        format!("{:?}", s.family),
        classes,
        input
    )
}

/// The registry as the Markdown table of docs/models.md (a test keeps the two equal).
pub fn markdown_table(all: &[ModelSpec]) -> String {
    let mut t = String::from(
        "| name | family | classes | input | published weight file |\n| --- | --- | --- | --- | --- |\n",
    );
    for s in all {
        let i = summary(s);
        let input = if i.frames == 1 {
            format!("{} segments x {}px", i.segments, i.size)
        } else {
            format!("{} frames, stride {}, {}px", i.frames, i.stride, i.size)
        };
        let classes = if s.nclass == 0 {
            "`nclass`".to_string()
        } else {
            s.nclass.to_string()
        };
        let file = s.weight_file().map_or("-".to_string(), |f| format!("`{f}`"));
        t.push_str(&format!(
            "| `{}` | {:?} | {classes} | {input} | {file} |\n",
            s.name, s.family
        ));
    }
    t
}

pub fn run(a: Args) -> anyhow::Result<()> {
    match a.cmd {
        Cmd::List { json, markdown } => {
            let all = models();
            if markdown {
                print!("{}", markdown_table(all));
            } else if json {
                let v: Vec<serde_json::Value> = all
                    .iter()
                    .map(|s| {
                        let mut v = serde_json::to_value(s).unwrap_or_default();
                        v["weight_file"] = serde_json::json!(s.weight_file());
                        v
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!("{:<34} {:<16} {:>7}  input", "name", "family", "classes");
                for s in all {
                    println!("{}", describe(s));
                }
            }
            Ok(())
        }
        Cmd::Forward(f) => forward(f),
        Cmd::Pull { names, root, repo } => {
            let root = root.unwrap_or_else(kinema_models::store::default_root);
            let mut repo = repo.unwrap_or_else(kinema_models::store::repo_url);
            if !repo.ends_with('/') {
                repo.push('/');
            }
            for n in &names {
                let p =
                    kinema_models::store::pull(n, &root, &repo).with_context(|| format!("pulling {n}"))?;
                println!("{n}: {}", p.display());
            }
            Ok(())
        }
    }
}

fn forward(f: ForwardArgs) -> anyhow::Result<()> {
    let dev = crate::device();
    let o = GetModelOptions {
        nclass: f.nclass,
        num_segments: Some(f.num_segments),
        ..Default::default()
    };
    let mut net = get_model(&f.name, &o, &dev)?;
    match &f.weights {
        Some(w) => {
            net = net
                .load_weights(w)
                .with_context(|| format!("loading {}", w.display()))?
        }
        None => tracing::warn!("no --weights: {} runs with random initial weights", f.name),
    }
    let (shape, data) = read_npy_f32(&f.input).with_context(|| format!("reading {}", f.input.display()))?;
    if shape.len() != net.input_rank() {
        bail!(
            "{}: shape {shape:?}, but {} takes a {}-D input",
            f.input.display(),
            f.name,
            net.input_rank()
        );
    }
    let (dims, out) = if f.engine == CpuEngine::Onednn && dev == burn::tensor::Device::flex() {
        let mut plan = Plan::compile(&net.lower(&shape, f.features)?)?;
        let out = plan.run(&data)?;
        (plan.output_shape().to_vec(), out)
    } else {
        net.run(&shape, data, f.features, &dev)?
    };
    write_npy_f32(&f.out, &dims, &out).with_context(|| format!("writing {}", f.out.display()))?;
    println!("{}: {:?} -> {:?} in {}", f.name, shape, dims, f.out.display());
    Ok(())
}
