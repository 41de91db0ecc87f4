//! Tagging a long video: the clip of every sliding window scored by the model (windows read on
//! a second thread while the model runs, one reader walking forward through the video), and
//! the windows' labels merged into a timeline of segments.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use kinema_av::{ReaderOptions, VideoReader};
use kinema_data::VideoClsCustom;
use kinema_models::Model;
use kinema_plot::{timeline_png, Thumbnail, TimelineSegment};
use serde::Serialize;

use crate::error::{InferError, Result};
use crate::eval::{argmax, mean_rows, softmax_rows};
use crate::predict::{clip_options, video_list};

/// How to cut the video into windows.
#[derive(Debug, Clone)]
pub struct TagOptions {
    /// Window length in seconds (default: the model's clip span, at least 1 s).
    pub window: Option<f64>,
    /// Seconds between window starts (default: half a window).
    pub stride: Option<f64>,
    /// Windows per forward batch.
    pub batch_size: usize,
}

impl Default for TagOptions {
    fn default() -> Self {
        TagOptions {
            window: None,
            stride: None,
            batch_size: 4,
        }
    }
}

/// A tagged video: every window's scores and the segments they merge into.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// The video.
    pub video: PathBuf,
    /// Its frame rate.
    pub fps: f64,
    /// Frames per window.
    pub window_frames: usize,
    /// Frames between window starts.
    pub stride_frames: usize,
    /// The windows, in time order.
    pub windows: Vec<WindowScore>,
    /// Runs of windows with the same label, tiling the video.
    pub segments: Vec<Segment>,
}

/// One window's scores.
#[derive(Debug, Clone, Serialize)]
pub struct WindowScore {
    /// First frame.
    pub start_frame: usize,
    /// One past the last frame.
    pub end_frame: usize,
    /// Start time in seconds (the first frame's timestamp).
    pub start: f64,
    /// End time in seconds (the last frame's end).
    pub end: f64,
    /// Top label.
    pub label: usize,
    /// Its mean softmax score.
    pub score: f32,
    /// Mean softmax over the classes.
    pub probs: Vec<f32>,
}

/// A run of windows with the same top label.
#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    /// Start in seconds (halfway into the overlap with the previous segment's last window).
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// The label.
    pub label: usize,
    /// Mean score of the label over the segment's windows.
    pub score: f32,
    /// Windows in the segment.
    pub windows: usize,
}

/// Window starts over `n` frames: every `stride` frames while a whole window fits, plus one
/// window ending at the last frame so the end of the video is covered; one window at 0 when
/// the video is shorter than a window.
pub fn window_starts(n: usize, window: usize, stride: usize) -> Vec<usize> {
    let (window, stride) = (window.max(1), stride.max(1));
    if n <= window {
        return vec![0];
    }
    let mut starts: Vec<usize> = (0..=n - window).step_by(stride).collect();
    if starts.last().is_some_and(|&s| s + window < n) {
        starts.push(n - window);
    }
    starts
}

/// Tags `video` with `model`: the clip of every window (read as the model's card says) scored,
/// the windows merged into segments. `progress(done, total)` counts windows.
pub fn tag_video(
    model: &Model,
    video: &Path,
    o: &TagOptions,
    dev: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<Timeline> {
    let opts = clip_options(&model.card, None)?;
    let span = opts.clip.skip_length() * model.segments_in_model();
    let ds = VideoClsCustom::from_list(
        video_list(std::slice::from_ref(&video.to_path_buf()), &model.card, "<tag>"),
        opts,
    )?;
    let reader = ds.open(0)?;
    let fps = reader.fps();
    if fps <= 0.0 {
        return Err(InferError::Invalid(format!(
            "{}: the video reports no frame rate",
            video.display()
        )));
    }
    let frames = |secs: f64, what: &str| -> Result<usize> {
        if !(secs.is_finite() && secs > 0.0) {
            return Err(InferError::Invalid(format!(
                "the {what} must be a positive number of seconds, got {secs}"
            )));
        }
        Ok(((secs * fps).round() as usize).max(1))
    };
    let window = match o.window {
        Some(s) => frames(s, "window")?,
        None => span.max(fps.round() as usize),
    };
    let stride = match o.stride {
        Some(s) => frames(s, "stride")?,
        None => (window / 2).max(1),
    };
    let geometry = Windows {
        window,
        stride,
        batch_size: o.batch_size,
    };
    let windows = score_windows(model, (&ds, reader), &geometry, dev, progress)?;
    Ok(Timeline {
        video: video.to_path_buf(),
        fps,
        window_frames: window,
        stride_frames: stride,
        segments: segments(&windows),
        windows,
    })
}

/// Windows in frames.
struct Windows {
    window: usize,
    stride: usize,
    batch_size: usize,
}

/// Scores every window of sample 0 of `dataset` (a list with the one long video; its options
/// say the clip each window is read as), read through `reader`, that sample's reader (walking
/// forward on a second thread while the model runs).
fn score_windows(
    model: &Model,
    (dataset, mut reader): (&VideoClsCustom, VideoReader),
    o: &Windows,
    dev: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<WindowScore>> {
    let n = reader.len();
    let starts = window_starts(n, o.window, o.stride);
    let times: Vec<(f64, f64)> = starts
        .iter()
        .map(|&s| {
            let last = (s + o.window).min(n) - 1;
            Ok((
                reader.get_frame_timestamp(s)?.0,
                reader.get_frame_timestamp(last)?.1,
            ))
        })
        .collect::<std::result::Result<_, kinema_av::AvError>>()
        .map_err(|error| kinema_data::DataError::Video {
            path: reader.path().to_path_buf(),
            error,
        })?;
    let clip_shape = dataset.options().clip_shape();
    let views = clip_shape[0];
    // Consecutive views the model itself averages (TSN: its segments; 1 for 3-D models).
    let outputs = (views / model.segments_in_model().max(1)).max(1);
    let clip_len = dataset.clip_len();
    let batch = o.batch_size.max(1);
    let mut out = Vec::with_capacity(starts.len());
    std::thread::scope(|s| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(usize, Vec<f32>)>>(1);
        let starts = &starts;
        s.spawn(move || {
            for (b, chunk) in starts.chunks(batch).enumerate() {
                let mut data = vec![0f32; clip_len * chunk.len()];
                let mut r = Ok(());
                for (slot, &st) in data.chunks_exact_mut(clip_len).zip(chunk) {
                    r = dataset
                        .get_window_into(0, &mut reader, (st, o.window), slot)
                        .map(|_| ());
                    if r.is_err() {
                        break;
                    }
                }
                let msg = r.map(|_| (b * batch, data)).map_err(InferError::from);
                let stop = msg.is_err();
                // A closed channel: the model side failed and stopped listening.
                if tx.send(msg).is_err() || stop {
                    return;
                }
            }
        });
        for msg in rx {
            let (first, data) = msg?;
            let count = data.len() / clip_len;
            let mut shape = vec![count * views];
            shape.extend_from_slice(&clip_shape[1..]);
            let (dims, mut y) = model.run(&shape, data, false, dev)?;
            let k = dims[1];
            softmax_rows(&mut y, k);
            for (w, rows) in y.chunks(outputs * k).enumerate() {
                let probs = mean_rows(rows, k);
                let label = argmax(&probs);
                let i = first + w;
                out.push(WindowScore {
                    start_frame: starts[i],
                    end_frame: (starts[i] + o.window).min(n),
                    start: times[i].0,
                    end: times[i].1,
                    label,
                    score: probs[label],
                    probs,
                });
            }
            progress(out.len(), starts.len());
        }
        Ok(())
    })?;
    Ok(out)
}

/// Frames shown under a timeline.
const THUMBNAILS: usize = 8;
/// Their height in pixels (decoded at this size: the picture scales them no further).
const THUMBNAIL_HEIGHT: u32 = 90;

/// Writes `timeline`'s picture to `path`: the segments, each window's top score, and a strip
/// of frames from the video under them, so a user sees what each label covers (`classes`
/// names the labels).
pub fn write_timeline_png(timeline: &Timeline, classes: &[String], path: &Path) -> Result<()> {
    let bar = |start: f64, end: f64, label: usize, score: f32| TimelineSegment {
        start_s: start,
        end_s: end,
        label,
        score: score as f64,
    };
    let segments: Vec<_> = timeline
        .segments
        .iter()
        .map(|s| bar(s.start, s.end, s.label, s.score))
        .collect();
    let windows: Vec<_> = timeline
        .windows
        .iter()
        .map(|w| bar(w.start, w.end, w.label, w.score))
        .collect();
    // Stream time: a video may start later than 0 s (MPEG-TS, cut files).
    let start = timeline.segments.first().map_or(0.0, |s| s.start);
    let end = timeline.segments.last().map_or(0.0, |s| s.end).max(start + 1e-3);
    // The strip is a help, not the result: a video whose frames cannot be read again at
    // thumbnail size still gets its timeline.
    let thumbnails = thumbnails(&timeline.video, (start, end)).unwrap_or_else(|e| {
        tracing::warn!(
            "{}: no thumbnails under the timeline: {e}",
            timeline.video.display()
        );
        Vec::new()
    });
    Ok(timeline_png(
        path,
        end,
        &segments,
        &windows,
        classes,
        &thumbnails,
    )?)
}

/// [`THUMBNAILS`] frames evenly spread over `video`'s `start..end` seconds, each at the middle
/// of its share of the time.
fn thumbnails(video: &Path, (start, end): (f64, f64)) -> Result<Vec<Thumbnail>> {
    let probe = VideoReader::open(video)?;
    let (w, h) = (probe.width().max(1), probe.height().max(1));
    let width = ((w as u64 * THUMBNAIL_HEIGHT as u64 / h as u64) as u32).max(2) & !1;
    let mut reader = VideoReader::open_with(video, &ReaderOptions::default().size(width, THUMBNAIL_HEIGHT))?;
    let n = reader.len().min(THUMBNAILS);
    let times: Vec<f64> = (0..n)
        .map(|i| start + (end - start) * (i as f64 + 0.5) / n as f64)
        .collect();
    let frames = reader.get_batch_at_times(&times)?;
    let size = (width * THUMBNAIL_HEIGHT * 3) as usize;
    Ok(frames
        .data
        .chunks_exact(size)
        .zip(&times)
        .map(|(rgb, &t)| Thumbnail {
            time_s: t,
            width,
            height: THUMBNAIL_HEIGHT,
            rgb: rgb.to_vec(),
        })
        .collect())
}

/// Merges consecutive windows with the same label into segments that tile the video: where
/// two segments meet, the boundary is halfway between the end of one's last window and the
/// start of the next one's first window.
pub fn segments(windows: &[WindowScore]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut i = 0;
    while i < windows.len() {
        let mut j = i;
        while j + 1 < windows.len() && windows[j + 1].label == windows[i].label {
            j += 1;
        }
        let start = match out.last() {
            Some(prev) => prev.end,
            None => windows[i].start,
        };
        let end = if j + 1 < windows.len() {
            (windows[j].end + windows[j + 1].start) / 2.0
        } else {
            windows[j].end
        };
        let run = &windows[i..=j];
        out.push(Segment {
            start,
            end,
            label: windows[i].label,
            score: run.iter().map(|w| w.probs[windows[i].label]).sum::<f32>() / run.len() as f32,
            windows: run.len(),
        });
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: f64, end: f64, label: usize) -> WindowScore {
        WindowScore {
            start_frame: 0,
            end_frame: 0,
            start,
            end,
            label,
            score: 0.5,
            probs: vec![0.5; 3],
        }
    }

    #[test]
    fn windows_cover_the_video() {
        assert_eq!(window_starts(100, 40, 20), vec![0, 20, 40, 60]);
        assert_eq!(window_starts(105, 40, 20), vec![0, 20, 40, 60, 65]);
        assert_eq!(window_starts(30, 40, 20), vec![0]);
        assert_eq!(window_starts(40, 40, 20), vec![0]);
    }

    #[test]
    fn runs_merge_and_tile() {
        let ws = [w(0.0, 2.0, 1), w(1.0, 3.0, 1), w(2.0, 4.0, 2), w(3.0, 5.0, 1)];
        let s = segments(&ws);
        let spans: Vec<(f64, f64, usize, usize)> =
            s.iter().map(|s| (s.start, s.end, s.label, s.windows)).collect();
        // Boundaries halfway between a window's end and the next run's start: (3 + 2) / 2.
        assert_eq!(spans, vec![(0.0, 2.5, 1, 2), (2.5, 3.5, 2, 1), (3.5, 5.0, 1, 1)]);
        assert!(segments(&[]).is_empty());
    }
}
