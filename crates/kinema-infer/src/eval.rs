//! Evaluation: clip-level and video-level top-1/top-5 with multi-view testing (every view of a
//! video is a clip; the video's score is the mean of its views' softmax), per-class accuracy and
//! the confusion matrix.

use std::path::Path;
use std::sync::Arc;

use burn::tensor::Device;
use kinema_data::{ClipPlan, DataLoader, LoaderOptions, VideoClsCustom};
use kinema_models::Model;
use serde::Serialize;

use crate::error::Result;

/// How to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Videos per forward batch.
    pub batch_size: usize,
    /// Loader workers.
    pub num_workers: usize,
    /// Consecutive views the model itself averages (TSN: its segments; 1 for 3-D models).
    pub segments_in_model: usize,
}

impl EvalOptions {
    /// A run over `model`'s views: `batch_size` videos a step on `num_workers` threads, the
    /// views the model averages itself taken from its card.
    pub fn for_model(model: &Model, batch_size: usize, num_workers: usize) -> EvalOptions {
        EvalOptions {
            batch_size,
            num_workers,
            segments_in_model: model.segments_in_model(),
        }
    }
}

/// Evaluation results.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Video-level top-1 (views averaged), in [0, 1].
    pub top1: f64,
    /// Video-level top-5.
    pub top5: f64,
    /// Clip-level top-1 (each view on its own).
    pub clip_top1: f64,
    /// Clip-level top-5.
    pub clip_top5: f64,
    /// Videos evaluated.
    pub num_videos: usize,
    /// Clips (views) evaluated.
    pub num_clips: usize,
    /// Views per video.
    pub views: usize,
    /// Per-class video-level accuracy (NaN-free: classes without videos get 0 and count 0).
    pub per_class: Vec<ClassAccuracy>,
    /// `confusion[true][predicted]` video counts.
    pub confusion: Vec<Vec<usize>>,
    /// Per video: index, label, predicted label, its score.
    pub videos: Vec<VideoResult>,
}

/// One class's accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct ClassAccuracy {
    /// Label.
    pub label: usize,
    /// Videos of the class.
    pub count: usize,
    /// Fraction right.
    pub top1: f64,
}

/// One video's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct VideoResult {
    /// Index in the setting file.
    pub index: usize,
    /// True label.
    pub label: usize,
    /// Predicted label.
    pub predicted: usize,
    /// Mean softmax of the prediction.
    pub score: f32,
    /// Mean softmax over classes.
    #[serde(skip)]
    pub probs: Vec<f32>,
}

/// The mean of the rows of `rows` (`k` values each): a video's score or feature from its views.
pub fn mean_rows(rows: &[f32], k: usize) -> Vec<f32> {
    let n = (rows.len() / k.max(1)).max(1) as f32;
    let mut mean = vec![0f32; k];
    for r in rows.chunks(k.max(1)) {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += v / n;
        }
    }
    mean
}

/// Index of the largest value (the first of equals; 0 for an empty slice).
pub fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0)
}

/// Softmax of each row of `logits` (`k` columns), in place.
pub fn softmax_rows(logits: &mut [f32], k: usize) {
    for row in logits.chunks_mut(k) {
        let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut s = 0.0;
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            s += *v;
        }
        for v in row.iter_mut() {
            *v /= s;
        }
    }
}

/// Rank of `label` in `scores` (0: the top one).
fn rank(scores: &[f32], label: usize) -> usize {
    scores.iter().filter(|&&s| s > scores[label]).count()
}

/// What [`run_videos`] hands each video to: its plan, label, output rows and row length.
pub type VideoSink<'a> = dyn FnMut(&ClipPlan, usize, &[f32], usize) -> Result<()> + 'a;

/// Runs `model` over every sample of `dataset` in order, `o.batch_size` videos a step
/// on the loader's workers. `each(plan, label, rows, k)` gets one video's outputs: a row of `k`
/// values per view the model does not average itself (logits, or the pooled features the
/// classifier takes when `features`). `progress(done, total)` after every batch.
pub fn run_videos(
    model: &Model,
    dataset: Arc<VideoClsCustom>,
    o: &EvalOptions,
    features: bool,
    dev: &Device,
    each: &mut VideoSink,
    progress: &dyn Fn(usize, usize),
) -> Result<()> {
    let loader = DataLoader::new(
        dataset.clone(),
        LoaderOptions {
            batch_size: o.batch_size.max(1),
            num_workers: o.num_workers,
            ..Default::default()
        },
    )?;
    let total = dataset.len();
    let views = dataset.options().clip_shape()[0];
    let outputs = views / o.segments_in_model.max(1);
    let mut done = 0;
    for batch in loader.epoch(0) {
        let mut batch = batch?;
        let mut shape = batch.shape.clone();
        let b = shape[0];
        shape.splice(0..2, [b * views]);
        // The clip buffer moves into the input tensor: no copy, nothing to recycle.
        let (dims, y) = model.run(&shape, std::mem::take(&mut batch.data), features, dev)?;
        let k = dims[1];
        for (i, (&label, plan)) in batch.labels.iter().zip(&batch.plans).enumerate() {
            each(plan, label, &y[i * outputs * k..(i + 1) * outputs * k], k)?;
        }
        done += b;
        progress(done, total);
    }
    Ok(())
}

/// Runs `model` over `dataset` and scores it; `progress(done, total)` per batch.
pub fn evaluate(
    model: &Model,
    dataset: Arc<VideoClsCustom>,
    o: &EvalOptions,
    dev: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<EvalReport> {
    let mut videos = Vec::with_capacity(dataset.len());
    let (mut clip1, mut clip5, mut clips) = (0usize, 0usize, 0usize);
    let mut nclass = 0;
    let mut score = |plan: &ClipPlan, label: usize, rows: &[f32], k: usize| -> Result<()> {
        nclass = k;
        let mut rows = rows.to_vec();
        softmax_rows(&mut rows, k);
        for r in rows.chunks(k) {
            let rk = rank(r, label);
            clip1 += (rk < 1) as usize;
            clip5 += (rk < 5) as usize;
            clips += 1;
        }
        let mean = mean_rows(&rows, k);
        let predicted = argmax(&mean);
        videos.push(VideoResult {
            index: plan.index,
            label,
            predicted,
            score: mean[predicted],
            probs: mean,
        });
        Ok(())
    };
    run_videos(model, dataset, o, false, dev, &mut score, progress)?;
    let outputs = if videos.is_empty() {
        0
    } else {
        clips / videos.len()
    };
    let nclass = nclass.max(videos.iter().map(|v| v.label + 1).max().unwrap_or(0));
    let mut confusion = vec![vec![0usize; nclass]; nclass];
    let (mut top1, mut top5) = (0usize, 0usize);
    for v in &videos {
        confusion[v.label][v.predicted] += 1;
        let rk = if v.label < v.probs.len() {
            rank(&v.probs, v.label)
        } else {
            usize::MAX
        };
        top1 += (rk < 1) as usize;
        top5 += (rk < 5) as usize;
    }
    let per_class = (0..nclass)
        .map(|c| {
            let count: usize = confusion[c].iter().sum();
            ClassAccuracy {
                label: c,
                count,
                top1: if count == 0 {
                    0.0
                } else {
                    confusion[c][c] as f64 / count as f64
                },
            }
        })
        .collect();
    let n = videos.len().max(1) as f64;
    Ok(EvalReport {
        top1: top1 as f64 / n,
        top5: top5 as f64 / n,
        clip_top1: clip1 as f64 / clips.max(1) as f64,
        clip_top5: clip5 as f64 / clips.max(1) as f64,
        num_videos: videos.len(),
        num_clips: clips,
        views: outputs,
        per_class,
        confusion,
        videos,
    })
}

/// Writes `report`'s confusion matrix as a picture to `path` (rows: true class; cells coloured
/// by their share of the row; `classes` names the labels).
pub fn write_confusion_png(report: &EvalReport, classes: &[String], path: &Path) -> Result<()> {
    let names: Vec<String> = (0..report.confusion.len())
        .map(|k| classes.get(k).cloned().unwrap_or_else(|| format!("class_{k}")))
        .collect();
    Ok(kinema_plot::confusion_png(path, &report.confusion, &names)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_rank() {
        let mut v = vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0];
        softmax_rows(&mut v, 3);
        assert!((v[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(v[2] > v[1] && v[1] > v[0]);
        assert!((v[3] - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(rank(&v[..3], 2), 0);
        assert_eq!(rank(&v[..3], 0), 2);
    }
}
