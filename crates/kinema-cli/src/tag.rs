//! `kinema tag DIR|LONG_VIDEO`: labels every video of a folder (`tags.csv`, `tags.json`), or a
//! long video over sliding windows into a timeline (`timeline.json`, `timeline.csv`,
//! `segments.csv`, `timeline.png`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use kinema_infer::{tag_video, TagOptions};
use kinema_models::Model;
use serde_json::json;

use crate::model_arg::{resolve, ModelArgs};
use crate::predict::{labels_line, predictions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A folder of videos (searched recursively), or one long video (or frame folder).
    input: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Window length in seconds (long video; default: the model's clip span, at least 1 s).
    #[arg(long, value_parser = positive_seconds)]
    window: Option<f64>,
    /// Seconds between window starts (default: half a window).
    #[arg(long, value_parser = positive_seconds)]
    stride: Option<f64>,
    /// Labels per video (folder).
    #[arg(long, default_value_t = 3)]
    topk: usize,
    /// Videos (folder) or windows (long video) per batch.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Loader workers (folder).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Output folder.
    #[arg(long, default_value = "tags")]
    out: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// A positive, finite number of seconds (clap names the flag in its error).
fn positive_seconds(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a positive number of seconds, got {s:?}")),
    }
}

/// File extensions taken as videos when a folder is searched.
const VIDEO_EXTENSIONS: [&str; 14] = [
    "mp4", "m4v", "mov", "avi", "mkv", "webm", "mpg", "mpeg", "ts", "flv", "wmv", "3gp", "ogv", "mxf",
];

fn is_video(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Videos under `dir`, sorted, recursively.
fn videos_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading folder {}", d.display()))? {
            let p = e
                .with_context(|| format!("reading folder {}", d.display()))?
                .path();
            if p.is_dir() {
                stack.push(p);
            } else if is_video(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn run(a: Args) -> Result<()> {
    anyhow::ensure!(a.input.exists(), "{}: no such file or folder", a.input.display());
    let dev = crate::device();
    let model = resolve(&a.model, &dev)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let videos = if a.input.is_dir() {
        videos_in(&a.input)?
    } else {
        vec![]
    };
    if !videos.is_empty() {
        return tag_folder(&a, &model, &videos, &dev);
    }
    tag_long(&a, &model, &dev)
}

fn tag_folder(a: &Args, model: &Model, videos: &[PathBuf], dev: &Device) -> Result<()> {
    let preds = predictions(
        model,
        videos,
        None,
        (a.batch_size, a.workers),
        a.topk,
        ("tag", a.json),
        dev,
    )?;
    let mut csv = String::from("video,label,score");
    for k in 2..=a.topk.max(1) {
        csv.push_str(&format!(",label_{k},score_{k}"));
    }
    csv.push('\n');
    for p in &preds {
        csv.push_str(&p.video.display().to_string());
        for l in &p.top {
            csv.push_str(&format!(",{},{:.6}", l.label, l.score));
        }
        csv.push('\n');
    }
    kinema_data::write_atomic(&a.out.join("tags.csv"), csv.as_bytes())?;
    let v = json!({ "model": model.card.model, "videos": preds });
    kinema_data::write_atomic(
        &a.out.join("tags.json"),
        serde_json::to_string_pretty(&v)?.as_bytes(),
    )?;
    if a.json {
        println!("{v}");
    } else {
        for p in &preds {
            println!("{}: {}", p.video.display(), labels_line(&p.top));
        }
        println!(
            "{} videos tagged: {}",
            preds.len(),
            a.out.join("tags.csv").display()
        );
    }
    Ok(())
}

fn tag_long(a: &Args, model: &Model, dev: &Device) -> Result<()> {
    let o = TagOptions {
        window: a.window,
        stride: a.stride,
        batch_size: a.batch_size,
    };
    let pb = crate::progress::bar(0, "tag", a.json);
    let t = tag_video(model, &a.input, &o, dev, &|done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64)
    })
    .with_context(|| format!("tagging {}", a.input.display()))?;
    pb.finish_and_clear();
    let (windows, segs, card) = (&t.windows, &t.segments, &model.card);
    let (window, stride) = (t.window_frames, t.stride_frames);
    let class_name = |k: usize| card.class_name(k);

    let mut csv = String::from("start,end,start_frame,end_frame,label,score\n");
    for w in windows {
        csv.push_str(&format!(
            "{:.3},{:.3},{},{},{},{:.6}\n",
            w.start,
            w.end,
            w.start_frame,
            w.end_frame,
            class_name(w.label),
            w.score
        ));
    }
    kinema_data::write_atomic(&a.out.join("timeline.csv"), csv.as_bytes())?;
    let mut scsv = String::from("start,end,label,score,windows\n");
    for s in segs {
        scsv.push_str(&format!(
            "{:.3},{:.3},{},{:.6},{}\n",
            s.start,
            s.end,
            class_name(s.label),
            s.score,
            s.windows
        ));
    }
    kinema_data::write_atomic(&a.out.join("segments.csv"), scsv.as_bytes())?;
    let named = class_name;
    let v = json!({
        "video": a.input,
        "model": card.model,
        "fps": t.fps,
        "window_frames": window,
        "stride_frames": stride,
        "classes": card.classes,
        "windows": windows.iter().map(|w| json!({
            "start": w.start, "end": w.end, "start_frame": w.start_frame, "end_frame": w.end_frame,
            "label": named(w.label), "index": w.label, "score": w.score,
        })).collect::<Vec<_>>(),
        "segments": segs.iter().map(|s| json!({
            "start": s.start, "end": s.end, "label": named(s.label), "index": s.label,
            "score": s.score, "windows": s.windows,
        })).collect::<Vec<_>>(),
    });
    kinema_data::write_atomic(
        &a.out.join("timeline.json"),
        serde_json::to_string_pretty(&v)?.as_bytes(),
    )?;
    kinema_infer::write_timeline_png(&t, &card.classes, &a.out.join("timeline.png"))?;
    if a.json {
        println!("{v}");
    } else {
        for s in segs {
            println!(
                "{:>8.2} - {:>8.2} s  {} {:.3}",
                s.start,
                s.end,
                named(s.label),
                s.score
            );
        }
        println!(
            "{} windows of {window} frames every {stride}: {}",
            windows.len(),
            a.out.join("timeline.png").display()
        );
    }
    Ok(())
}
