//! `kinema synth --out DIR --classes N --videos-per-class M --seed S`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use kinema_av::WriterFormat;
use kinema_data::synth::{synth, SynthOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Output folder: videos under train/ and val/, train.txt, val.txt, classes.txt.
    #[arg(long)]
    out: PathBuf,
    /// Number of classes (at most 12).
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Training videos per class.
    #[arg(long, default_value_t = 60)]
    videos_per_class: usize,
    /// Validation videos per class (default: a third of --videos-per-class, at least 1).
    #[arg(long)]
    val_per_class: Option<usize>,
    /// Seed: the same seed writes the same videos.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Smallest frame side in pixels.
    #[arg(long, default_value_t = 112)]
    min_size: u32,
    /// Largest frame side in pixels.
    #[arg(long, default_value_t = 160)]
    max_size: u32,
    /// Shortest video in frames.
    #[arg(long, default_value_t = 40)]
    min_frames: usize,
    /// Longest video in frames.
    #[arg(long, default_value_t = 72)]
    max_frames: usize,
    /// Parallel encoders (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Video codec: h264 (libx264), or mpeg4 (MPEG-4 part 2 tagged XviD, with B-frames).
    #[arg(long, value_enum, default_value = "h264")]
    codec: Codec,
    /// Container: mp4 (with h264), or avi (with mpeg4: UCF101's and HMDB51's format).
    #[arg(long, value_enum, default_value = "mp4")]
    container: Container,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Codec {
    H264,
    Mpeg4,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Mp4,
    Avi,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let o = SynthOptions {
        out: a.out.clone(),
        classes: a.classes,
        videos_per_class: a.videos_per_class,
        val_per_class: a.val_per_class.unwrap_or((a.videos_per_class / 3).max(1)),
        seed: a.seed,
        min_size: a.min_size,
        max_size: a.max_size,
        min_frames: a.min_frames,
        max_frames: a.max_frames,
        fps: 25,
        threads: a.threads,
        format: match (a.codec, a.container) {
            (Codec::H264, Container::Mp4) => WriterFormat::H264Mp4,
            (Codec::Mpeg4, Container::Avi) => WriterFormat::XvidAvi,
            (c, f) => anyhow::bail!(
                "--codec {c:?} in --container {f:?}: the pairs are h264 in mp4 and mpeg4 (XviD) in avi"
            ),
        },
    };
    let total = (o.videos_per_class + o.val_per_class) * o.classes;
    let pb = crate::progress::bar(total as u64, "videos", a.json);
    let start = Instant::now();
    let s = synth(&o, &|done, _| pb.set_position(done as u64))
        .with_context(|| format!("writing the synthetic dataset to {}", a.out.display()))?;
    pb.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    if a.json {
        let mut v = serde_json::to_value(&s)?;
        v["seconds"] = serde_json::json!(secs);
        println!("{v}");
    } else {
        println!(
            "{}: {} train + {} val videos, {} classes, {} frames in {:.1} s",
            s.out.display(),
            s.train,
            s.val,
            s.classes.len(),
            s.frames,
            secs
        );
    }
    Ok(())
}
