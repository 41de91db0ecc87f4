//! The public reader: decord's `VideoReader`, for video files and frame folders alike. It
//! checks the options, picks the source (exact file, approximate file, frame folder) and
//! dispatches every call to it.

use std::path::Path;

use crate::approx::ApproxReader;
use crate::error::{AvError, Result};
use crate::file::sequential::SeqState;
use crate::file::FileReader;
use crate::folder::FolderReader;
use crate::options::{ReaderOptions, SeekMode};
use crate::types::{FrameBatch, FrameSource, VideoInfo};

enum Inner {
    File(Box<FileReader>),
    Approx(Box<ApproxReader>),
    Folder(Box<FolderReader>),
}

/// A frame-exact random-access video reader (decord's `VideoReader`).
///
/// At native size every frame equals, byte for byte, what
/// `ffmpeg -i V -map 0:v:0 -fps_mode passthrough -pix_fmt rgb24 -f rawvideo -` gives for that
/// index. A directory opens as a frame folder.
///
/// ```no_run
/// let mut vr = kinema_av::VideoReader::open("video.mp4")?;
/// let clip = vr.get_batch(&[0, 8, 16, 8])?; // [4, H, W, 3], in the order asked
/// assert_eq!(clip.shape()[0], 4);
/// # Ok::<(), kinema_av::AvError>(())
/// ```
pub struct VideoReader {
    inner: Inner,
    pos: usize,
    /// The decode-ahead pass `next_frame` uses while calls go forward one frame at a time from
    /// frame 0, and the index it returns next; dropped on the first jump.
    seq: Option<(SeqState, usize)>,
}

impl VideoReader {
    /// Opens a video file (or frame folder) with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<VideoReader> {
        Self::open_with(path, &ReaderOptions::default())
    }

    /// Opens with options (resize, threads, cache...).
    pub fn open_with(path: impl AsRef<Path>, options: &ReaderOptions) -> Result<VideoReader> {
        let path = path.as_ref();
        options.validate()?;
        let meta = std::fs::metadata(path).map_err(|e| AvError::io(path, e))?;
        let inner = if meta.is_dir() {
            Inner::Folder(Box::new(FolderReader::open(path, options)?))
        } else {
            if meta.len() == 0 {
                return Err(AvError::Open {
                    path: path.to_path_buf(),
                    reason: "the file is empty".into(),
                });
            }
            match options.seek_mode {
                SeekMode::Exact => Inner::File(Box::new(FileReader::open(path, options)?)),
                SeekMode::Approximate => Inner::Approx(Box::new(ApproxReader::open(path, options)?)),
            }
        };
        Ok(VideoReader {
            inner,
            pos: 0,
            seq: None,
        })
    }

    /// Stream description.
    pub fn info(&self) -> &VideoInfo {
        match &self.inner {
            Inner::File(f) => f.info(),
            Inner::Approx(f) => f.info(),
            Inner::Folder(f) => f.info(),
        }
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        match &self.inner {
            Inner::File(f) => f.path(),
            Inner::Approx(f) => f.path(),
            Inner::Folder(f) => f.path(),
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.info().frame_count
    }

    /// True when the video has no frame (never, for an opened reader).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Average frame rate (decord's `get_avg_fps`).
    pub fn fps(&self) -> f64 {
        self.info().fps
    }

    /// Width of the frames returned (after resize).
    #[allow(clippy::misnamed_getters)]
    pub fn width(&self) -> u32 {
        self.info().out_width
    }

    /// Height of the frames returned (after resize).
    #[allow(clippy::misnamed_getters)]
    pub fn height(&self) -> u32 {
        self.info().out_height
    }

    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        self.info().duration
    }

    /// FFmpeg's codec name.
    pub fn codec_name(&self) -> &str {
        &self.info().codec
    }

    /// FFmpeg's container (demuxer) name.
    pub fn container_name(&self) -> &str {
        &self.info().container
    }

    /// Display rotation in degrees from the container's display matrix (0 when none).
    pub fn rotation(&self) -> f64 {
        self.info().rotation
    }

    /// Indices of key frames (decord's `get_key_indices`).
    pub fn key_indices(&self) -> &[usize] {
        &self.info().key_frames
    }

    /// `(start, end)` of frame `idx` in seconds of stream time (the frame's pts and pts plus
    /// its duration; streams that do not start at 0 keep their offset).
    pub fn get_frame_timestamp(&self, idx: usize) -> Result<(f64, f64)> {
        match &self.inner {
            Inner::File(f) => f.frame_timestamp(idx),
            Inner::Approx(f) => f.frame_timestamp(idx),
            Inner::Folder(f) => f.frame_timestamp(idx),
        }
    }

    /// One frame as `[1, H, W, 3]`. Frames decoded on the way are cached, so random access
    /// within a GOP decodes it once.
    pub fn get(&mut self, idx: usize) -> Result<FrameBatch> {
        if let Inner::File(f) = &mut self.inner {
            return f.get(idx);
        }
        let mut out = FrameBatch::zeros(1, self.height() as usize, self.width() as usize);
        match &mut self.inner {
            Inner::File(_) => unreachable!("handled above"),
            Inner::Approx(f) => f.get_into(idx, &mut out.data)?,
            Inner::Folder(f) => f.get_into(idx, &mut out.data)?,
        }
        Ok(out)
    }

    /// Frames in the order asked (duplicates allowed), as one `[N, H, W, 3]` buffer; every
    /// needed GOP is decoded once, in sorted order.
    pub fn get_batch(&mut self, indices: &[usize]) -> Result<FrameBatch> {
        match &mut self.inner {
            Inner::File(f) => f.get_batch(indices),
            Inner::Approx(f) => f.get_batch(indices),
            Inner::Folder(f) => f.get_batch(indices),
        }
    }

    /// The frames shown at these times (seconds of stream time, as `get_frame_timestamp`).
    pub fn get_batch_at_times(&mut self, secs: &[f64]) -> Result<FrameBatch> {
        let idx = secs
            .iter()
            .map(|&t| self.index_at_time(t))
            .collect::<Result<Vec<_>>>()?;
        self.get_batch(&idx)
    }

    /// Index of the frame shown at `secs`.
    pub fn index_at_time(&self, secs: f64) -> Result<usize> {
        match &self.inner {
            Inner::File(f) => f.index_at_time(secs),
            Inner::Approx(f) => f.index_at_time(secs),
            Inner::Folder(f) => f.index_at_time(secs),
        }
    }

    /// Moves the position used by `next` (decord's `seek`; always exact here).
    pub fn seek(&mut self, idx: usize) -> Result<()> {
        if idx > self.len() {
            return Err(AvError::IndexOutOfRange {
                path: self.path().to_path_buf(),
                index: idx as i64,
                len: self.len(),
            });
        }
        self.pos = idx;
        Ok(())
    }

    /// Skips `n` frames from the current position (decord's `skip_frames`).
    pub fn skip_frames(&mut self, n: usize) -> Result<()> {
        self.seek((self.pos + n).min(self.len()))
    }

    /// The frame at the current position, then moves on (decord's `next`); `Ok(None)` at the
    /// end.
    ///
    /// Calls that go forward one frame at a time from frame 0 (decord's `while True:
    /// vr.next()`) run on the sequential pass of [`VideoReader::frames`]: one forward decode
    /// with a decode-ahead thread, no cache.
    pub fn next_frame(&mut self) -> Result<Option<FrameBatch>> {
        if self.pos >= self.len() {
            return Ok(None);
        }
        let (h, w) = (self.height() as usize, self.width() as usize);
        if let Inner::File(f) = &mut self.inner {
            if self.pos == 0 && self.seq.as_ref().is_none_or(|(_, next)| *next != 0) {
                self.seq = Some((f.sequential()?, 0));
            }
            match &mut self.seq {
                Some((st, next)) if *next == self.pos => {
                    let mut out = FrameBatch::zeros(1, h, w);
                    let got = f.seq_next_into(st, &mut out.data);
                    *next += 1;
                    match got {
                        Ok(Some(i)) if i == self.pos => {
                            self.pos += 1;
                            return Ok(Some(out));
                        }
                        // Anything else (an undecodable frame, a pass out of step): this frame
                        // by random access, which reports the frame's own error.
                        _ => self.seq = None,
                    }
                }
                _ => self.seq = None,
            }
        }
        let f = self.get(self.pos)?;
        self.pos += 1;
        Ok(Some(f))
    }

    /// Current position of `next_frame`.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Every frame in order, decoded in one forward pass (no cache, no seeks).
    pub fn frames(&mut self) -> Result<Frames<'_>> {
        let seq = match &mut self.inner {
            Inner::File(f) => Some(f.sequential()?),
            Inner::Approx(_) | Inner::Folder(_) => None,
        };
        let reader_len = self.len();
        Ok(Frames {
            reader: self,
            seq,
            next: 0,
            reader_len,
        })
    }

    /// Packets the random-access decoders of a video file decoded, and non-reference packets
    /// they left out because no requested frame needed them: `(decoded, skipped)`.
    pub fn decode_stats(&self) -> (u64, u64) {
        match &self.inner {
            Inner::File(f) => f.decode_stats(),
            Inner::Approx(_) | Inner::Folder(_) => (0, 0),
        }
    }

    /// Frames held by the random-access cache and their bytes.
    pub fn cache_stats(&self) -> (usize, usize) {
        match &self.inner {
            Inner::File(f) => f.cache_stats(),
            Inner::Approx(f) => f.cache_stats(),
            Inner::Folder(_) => (0, 0),
        }
    }

    /// Drops cached frames and idle decoders.
    pub fn clear_cache(&mut self) {
        match &mut self.inner {
            Inner::File(f) => f.clear_cache(),
            Inner::Approx(f) => f.clear_cache(),
            Inner::Folder(_) => {}
        }
    }
}

impl FrameSource for VideoReader {
    fn len(&self) -> usize {
        VideoReader::len(self)
    }
    fn fps(&self) -> f64 {
        VideoReader::fps(self)
    }
    fn width(&self) -> u32 {
        VideoReader::width(self)
    }
    fn height(&self) -> u32 {
        VideoReader::height(self)
    }
    fn get_batch(&mut self, indices: &[usize]) -> Result<FrameBatch> {
        VideoReader::get_batch(self, indices)
    }
    fn get_frame_timestamp(&self, idx: usize) -> Result<(f64, f64)> {
        VideoReader::get_frame_timestamp(self, idx)
    }
    fn key_indices(&self) -> Vec<usize> {
        VideoReader::key_indices(self).to_vec()
    }
}

/// A sequential pass over every frame (`VideoReader::frames`).
pub struct Frames<'a> {
    reader: &'a mut VideoReader,
    seq: Option<SeqState>,
    next: usize,
    reader_len: usize,
}

impl Frames<'_> {
    /// Decodes the next frame into `dst` (`H * W * 3` bytes); returns its index, `Ok(None)`
    /// at the end. A frame that cannot be decoded is an error naming it; the pass goes on.
    pub fn next_into(&mut self, dst: &mut [u8]) -> Result<Option<usize>> {
        let fl = self.reader.width() as usize * self.reader.height() as usize * 3;
        if dst.len() != fl {
            return Err(AvError::InvalidOption(format!(
                "frame buffer of {} bytes, need {fl}",
                dst.len()
            )));
        }
        match (&mut self.reader.inner, &mut self.seq) {
            (Inner::File(f), Some(st)) => f.seq_next_into(st, dst),
            (Inner::File(_), None) => Ok(None),
            (inner, _) => {
                let i = self.next;
                let n = self.reader_len;
                if i >= n {
                    return Ok(None);
                }
                self.next += 1;
                match inner {
                    Inner::Approx(f) => f.get_into(i, dst),
                    Inner::Folder(f) => f.get_into(i, dst),
                    Inner::File(_) => unreachable!("handled above"),
                }
                .map(|_| Some(i))
            }
        }
    }
}

impl Iterator for Frames<'_> {
    type Item = Result<FrameBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut out = FrameBatch::zeros(1, self.reader.height() as usize, self.reader.width() as usize);
        match self.next_into(&mut out.data) {
            Ok(Some(_)) => Some(Ok(out)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
