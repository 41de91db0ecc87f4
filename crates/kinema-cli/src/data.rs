//! `kinema data check|sample|bench|split`: look at a setting file, the frames a sample reads,
//! the loader's speed; make setting files from a folder of class folders.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use kinema_av::VideoReader;
use kinema_data::{
    read_setting, ClipOverrides, DataLoader, DatasetOptions, LoaderOptions, Mode, PathRules, VideoClsCustom,
};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Missing files, unreadable videos, wrong frame counts and the label histogram.
    Check(CheckArgs),
    /// The frames (and crops) one sample reads, as GluonCV's VideoClsCustom picks them.
    Sample(SampleArgs),
    /// Clips per second of the loader on a setting file.
    Bench(BenchArgs),
    /// Setting files from a folder of class folders (`DIR/<class>/<video>`): train.txt,
    /// val.txt and classes.txt, split per class.
    Split(SplitArgs),
}

#[derive(clap::Args)]
struct SplitArgs {
    /// The folder of class folders.
    dir: PathBuf,
    /// Fraction of each class's videos that goes to val.
    #[arg(long, default_value_t = 0.2)]
    val: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the files go (default: DIR; paths in them are relative to DIR).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Counts each video's frames (the setting files carry them), then writes the split. Every
/// file of a class folder is tried, whatever its extension: what FFmpeg opens is kept, and
/// every file left out is listed with the reason.
fn split(a: SplitArgs) -> anyhow::Result<()> {
    let mut all = kinema_data::datasets::class_folders(&a.dir, &|_| true)?;
    let pb = crate::progress::bar(all.samples.len() as u64, "count", false);
    let mut skipped = Vec::new();
    all.samples.retain_mut(|s| {
        pb.inc(1);
        match VideoReader::open(&s.path) {
            Ok(r) if !r.is_empty() => {
                s.num_frames = r.len();
                true
            }
            Ok(_) => {
                skipped.push(format!("{}: no frames", s.path.display()));
                false
            }
            Err(e) => {
                skipped.push(e.to_string());
                false
            }
        }
    });
    pb.finish_and_clear();
    if !skipped.is_empty() {
        eprintln!("left out {} files that are not readable videos:", skipped.len());
        for s in &skipped {
            eprintln!("  {s}");
        }
    }
    if all.samples.is_empty() {
        bail!("{}: no readable videos in its class folders", a.dir.display());
    }
    let (train, val) = kinema_data::datasets::split_by_class(&all, a.val, a.seed)?;
    let out = a.out.clone().unwrap_or_else(|| a.dir.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    kinema_data::write_setting(&train.samples, &a.dir, &out.join("train.txt"))?;
    kinema_data::write_setting(&val.samples, &a.dir, &out.join("val.txt"))?;
    let mut classes = all.classes.join("\n");
    classes.push('\n');
    kinema_data::write_atomic(&out.join("classes.txt"), classes.as_bytes())?;
    println!(
        "{} classes: {} train + {} val videos -> {}",
        all.classes.len(),
        train.samples.len(),
        val.samples.len(),
        out.join("{train,val,classes}.txt").display()
    );
    Ok(())
}

/// GluonCV's `VideoClsCustom` parameters as flags (kebab-case); unset ones keep the defaults.
#[derive(clap::Args, Default)]
struct DatasetArgs {
    /// Folder the setting file's paths are relative to (default: the setting file's folder).
    #[arg(long)]
    root: Option<PathBuf>,
    /// GluonCV's clip parameters (`--num-segments`, `--new-length`, `--slowfast`, ...).
    #[command(flatten)]
    clip: ClipOverrides,
    #[arg(long)]
    num_crop: Option<usize>,
    #[arg(long)]
    name_pattern: Option<String>,
    #[arg(long)]
    video_ext: Option<String>,
    /// Colour frames (`--is-color=false`: grey).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    is_color: Option<bool>,
    #[arg(long)]
    modality: Option<String>,
    #[arg(long)]
    data_aug: Option<String>,
    /// Accepted for GluonCV's scripts (kinema tells videos from frame folders by the path).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    video_loader: Option<bool>,
    /// Accepted for GluonCV's scripts (kinema always decodes with its own reader).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    use_decord: Option<bool>,
    /// Resize while decoding: auto (fast in train, exact otherwise), exact (decord's and the
    /// CLI's pixels) or fast (in YUV, ~3x cheaper).
    #[arg(long)]
    resize: Option<String>,
    /// Drop (and count) entries whose video is missing.
    #[arg(long)]
    skip_missing: bool,
}

impl DatasetArgs {
    fn apply(&self, o: &mut DatasetOptions) -> anyhow::Result<()> {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { o.$f = v.clone(); } )* };
        }
        self.clip.apply(&mut o.clip);
        set!(
            num_crop,
            name_pattern,
            video_ext,
            is_color,
            modality,
            data_aug,
            video_loader,
            use_decord
        );
        o.skip_missing = self.skip_missing;
        if let Some(r) = &self.resize {
            o.resize = r.parse()?;
        }
        Ok(())
    }

    fn root(&self, setting: &Path) -> PathBuf {
        self.root.clone().unwrap_or_else(|| {
            setting
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        })
    }
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The setting file (`path num_frames label` per line).
    setting: PathBuf,
    /// Folder the paths are relative to (default: the setting file's folder).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Extension added to entries without one.
    #[arg(long, default_value = "mp4")]
    video_ext: String,
    /// Frame-folder file pattern.
    #[arg(long, default_value = "img_%05d.jpg")]
    name_pattern: String,
    /// Decode every frame of every video (not only the first) and list the videos that fail,
    /// with the frame: what to run on a downloaded dataset before a long training.
    #[arg(long)]
    decode: bool,
    /// Videos checked at once.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// What checking one video found: its frame count, or where and why it failed.
enum Checked {
    Frames(usize),
    Broken { frame: Option<usize>, error: String },
}

/// Opens `path` and decodes its first frame, or every frame with `all`.
fn check_video(path: &Path, opts: &kinema_av::ReaderOptions, all: bool) -> Checked {
    let broken = |frame, error: String| Checked::Broken { frame, error };
    let mut r = match VideoReader::open_with(path, opts) {
        Ok(r) => r,
        Err(e) => return broken(None, e.to_string()),
    };
    let n = r.len();
    if n == 0 {
        return broken(None, format!("{}: the video has no frames", path.display()));
    }
    if !all {
        return match r.get(0) {
            Ok(_) => Checked::Frames(n),
            Err(e) => broken(Some(0), e.to_string()),
        };
    }
    let frames = match r.frames() {
        Ok(f) => f,
        Err(e) => return broken(Some(0), e.to_string()),
    };
    let mut done = 0;
    for f in frames {
        if let Err(e) = f {
            return broken(Some(done), e.to_string());
        }
        done += 1;
    }
    if done != n {
        return broken(
            Some(done),
            format!(
                "{}: the decoder stopped after {done} of {n} frames",
                path.display()
            ),
        );
    }
    Checked::Frames(n)
}

#[derive(clap::Args)]
struct SampleArgs {
    /// The setting file.
    setting: PathBuf,
    /// Sample index, 0-based (the (K+1)-th entry of the file; GluonCV's `dataset[K]`).
    #[arg(long)]
    line: usize,
    /// GluonCV's mode: train (`train=True`), val (`train=False`), test (`test_mode=True`).
    #[arg(long, default_value = "val")]
    mode: String,
    /// Seed of the random choices (train mode, temporal jitter).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Epoch (varies the random choices in training).
    #[arg(long, default_value_t = 0)]
    epoch: u64,
    /// Also decode the clip and write its normalized tensor here (`.npy`, f32).
    #[arg(long)]
    save: Option<PathBuf>,
    #[command(flatten)]
    dataset: DatasetArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
enum ModelInput {
    /// I3D: 32 frames, stride 2, 224 crop after resize to 340x256.
    I3d,
    /// TSN: 8 segments of one frame, 224 crop after resize to 340x256.
    Tsn,
    /// SlowFast 4x16: 64 frames -> 32 fast + 4 slow, 224 crop after resize to 340x256.
    Slowfast,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The setting file.
    setting: PathBuf,
    /// Which model's input to make (GluonCV's recipes).
    #[arg(long, value_enum, default_value = "i3d")]
    model_input: ModelInput,
    /// Loader worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Clips per batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Stop after this many batches (0 = the whole setting file).
    #[arg(long, default_value_t = 0)]
    max_batches: usize,
    /// Decoder threads per reader (0 = one per core).
    #[arg(long, default_value_t = 1)]
    reader_threads: usize,
    /// GluonCV's mode (train: multi-scale crop + flip).
    #[arg(long, default_value = "train")]
    mode: String,
    #[command(flatten)]
    dataset: DatasetArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    match a.cmd {
        Cmd::Check(c) => check(c),
        Cmd::Sample(s) => sample(s),
        Cmd::Bench(b) => bench(b),
        Cmd::Split(s) => split(s),
    }
}

fn set_mode(o: &mut DatasetOptions, mode: &str) -> anyhow::Result<Mode> {
    let m: Mode = mode.parse()?;
    o.train = m == Mode::Train;
    o.test_mode = m == Mode::Test;
    Ok(m)
}

fn check(a: CheckArgs) -> anyhow::Result<()> {
    let root = DatasetArgs {
        root: a.root.clone(),
        ..Default::default()
    }
    .root(&a.setting);
    let rules = PathRules {
        root,
        video_ext: a.video_ext.clone(),
        skip_missing: true,
    };
    let list =
        read_setting(&a.setting, &rules).with_context(|| format!("reading {}", a.setting.display()))?;
    let pb = crate::progress::bar(
        list.samples.len() as u64,
        if a.decode { "decoding" } else { "checking" },
        a.json,
    );
    let opts = kinema_av::ReaderOptions {
        frame_pattern: a.name_pattern.clone(),
        // The workers share the cores.
        num_threads: 1,
        ..Default::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.workers.max(1))
        .build()
        .context("starting the check workers")?;
    let results: Vec<Checked> = pool.install(|| {
        use rayon::prelude::*;
        list.samples
            .par_iter()
            .map(|s| {
                let r = check_video(&s.path, &opts, a.decode);
                pb.inc(1);
                r
            })
            .collect()
    });
    let mut unreadable = Vec::new();
    let mut wrong_length = Vec::new();
    let mut frames = 0usize;
    for (s, r) in list.samples.iter().zip(results) {
        match r {
            Checked::Frames(n) => {
                frames += n;
                if s.num_frames != n {
                    wrong_length.push((s, n));
                }
            }
            Checked::Broken { frame, error } => {
                // Name the failing frame where the reader's message does not already.
                let named = frame.is_none_or(|f| error.contains(&format!("frame {f}")));
                let at = frame
                    .filter(|_| !named)
                    .map(|f| format!("frame {f}: "))
                    .unwrap_or_default();
                unreadable.push((s, format!("{at}{error}")));
            }
        }
    }
    pb.finish_and_clear();
    let histogram = list.histogram();
    if a.json {
        let v = serde_json::json!({
            "setting": a.setting,
            "samples": list.samples.len() + list.missing.len(),
            "readable": list.samples.len() - unreadable.len(),
            "frames": frames,
            "missing": list.missing,
            "unreadable": unreadable.iter().map(|(s, e)| serde_json::json!({"path": s.path, "line": s.line, "error": e})).collect::<Vec<_>>(),
            "wrong_length": wrong_length.iter().map(|(s, n)| serde_json::json!({"path": s.path, "line": s.line, "listed": s.num_frames, "actual": n})).collect::<Vec<_>>(),
            "num_classes": histogram.len(),
            "label_histogram": histogram,
        });
        println!("{v}");
    } else {
        println!("{}", a.setting.display());
        println!("  samples        {}", list.samples.len() + list.missing.len());
        println!("  missing        {}", list.missing.len());
        for m in list.missing.iter().take(10) {
            println!("    {}", m.display());
        }
        println!("  unreadable     {}", unreadable.len());
        for (s, e) in unreadable.iter().take(if a.decode { usize::MAX } else { 10 }) {
            println!("    line {}: {e}", s.line);
        }
        println!("  wrong length   {}", wrong_length.len());
        for (s, n) in wrong_length.iter().take(10) {
            println!(
                "    line {}: {} says {}, the video has {n}",
                s.line,
                s.path.display(),
                s.num_frames
            );
        }
        println!("  frames         {frames}");
        println!("  classes        {}", histogram.len());
        let h: Vec<String> = histogram.iter().map(|c| c.to_string()).collect();
        println!("  per class      {}", h.join(" "));
    }
    if !list.missing.is_empty() || !unreadable.is_empty() {
        bail!(
            "{}: {} missing and {} unreadable videos",
            a.setting.display(),
            list.missing.len(),
            unreadable.len()
        );
    }
    Ok(())
}

fn sample(a: SampleArgs) -> anyhow::Result<()> {
    let mut o = DatasetOptions {
        seed: a.seed,
        ..Default::default()
    };
    a.dataset.apply(&mut o)?;
    let mode = set_mode(&mut o, &a.mode)?;
    let root = a.dataset.root(&a.setting);
    let shape = o.clip_shape();
    let ds = VideoClsCustom::new(&root, &a.setting, o)
        .with_context(|| format!("loading {}", a.setting.display()))?;
    if a.line >= ds.len() {
        bail!(
            "{}: sample {} out of range (the file lists {} samples, numbered from 0)",
            a.setting.display(),
            a.line,
            ds.len()
        );
    }
    let s = ds.sample(a.line)?.clone();
    let plan = match &a.save {
        Some(out) => {
            let clip = ds.get(a.line, a.epoch)?;
            kinema_data::write_npy_f32(out, &clip.shape, &clip.data)
                .with_context(|| format!("writing {}", out.display()))?;
            clip.plan
        }
        None => ds.plan(a.line, a.epoch, &ds.open(a.line)?)?,
    };
    if a.json {
        let v = serde_json::json!({
            "line": a.line,
            "path": s.path,
            "label": s.label,
            "mode": mode,
            "num_frames": plan.num_frames,
            "listed_num_frames": s.num_frames,
            "frame_indices": plan.frame_indices,
            "crops": plan.crops,
            "frame_size": [plan.frame_size.0, plan.frame_size.1],
            "clip_shape": shape,
        });
        println!("{v}");
    } else {
        println!(
            "{} (label {}, {} frames)",
            s.path.display(),
            s.label,
            plan.num_frames
        );
        println!("  frames  {:?}", plan.frame_indices);
        for c in &plan.crops {
            println!(
                "  crop    x={} y={} {}x{}{} of {}x{}",
                c.x,
                c.y,
                c.w,
                c.h,
                if c.flip { " flipped" } else { "" },
                plan.frame_size.0,
                plan.frame_size.1
            );
        }
        println!("  tensor  {shape:?}");
    }
    Ok(())
}

fn bench(a: BenchArgs) -> anyhow::Result<()> {
    let mut o = DatasetOptions::default();
    match a.model_input {
        ModelInput::I3d => {
            o.clip.new_length = 32;
            o.clip.new_step = 2;
        }
        ModelInput::Tsn => o.clip.num_segments = 8,
        ModelInput::Slowfast => {
            o.clip.new_length = 64;
            o.clip.slowfast = true;
            o.clip.slow_temporal_stride = 16;
            o.clip.fast_temporal_stride = 2;
        }
    }
    a.dataset.apply(&mut o)?;
    set_mode(&mut o, &a.mode)?;
    o.reader_threads = a.reader_threads;
    let root = a.dataset.root(&a.setting);
    let ds = Arc::new(
        VideoClsCustom::new(&root, &a.setting, o)
            .with_context(|| format!("loading {}", a.setting.display()))?,
    );
    let loader = DataLoader::new(
        ds.clone(),
        LoaderOptions {
            batch_size: a.batch_size,
            shuffle: true,
            seed: 0,
            num_workers: a.workers,
            ..Default::default()
        },
    )?;
    let batches = if a.max_batches > 0 {
        a.max_batches.min(loader.len())
    } else {
        loader.len()
    };
    let pb = crate::progress::bar(batches as u64, "batches", a.json);
    let start = Instant::now();
    let mut clips = 0usize;
    let mut shape = Vec::new();
    for batch in loader.epoch(0).take(batches) {
        let batch = batch?;
        clips += batch.labels.len();
        shape.clone_from(&batch.shape);
        loader.recycle(batch);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let rate = clips as f64 / secs;
    if a.json {
        let v = serde_json::json!({
            "model_input": format!("{:?}", a.model_input).to_lowercase(),
            "workers": a.workers,
            "batch_size": a.batch_size,
            "clips": clips,
            "seconds": secs,
            "clips_per_sec": rate,
            "batch_shape": shape,
        });
        println!("{v}");
    } else {
        println!(
            "{:?} input, {} workers: {clips} clips in {secs:.2} s = {rate:.1} clips/s (batch {shape:?})",
            a.model_input, a.workers
        );
    }
    Ok(())
}
