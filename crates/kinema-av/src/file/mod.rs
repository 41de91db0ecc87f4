//! Video files in exact mode: demux the video stream's packets once (kept by file position or
//! in memory, `packets.rs`), index the frames (`index.rs`), then serve any frame by decoding
//! forward from its key frame with a few long-lived decoders and a cache of decoded frames.
//!
//! This file holds the reader's state and what every access path shares (layout confirmation,
//! conversion, index checks, new decoders); the submodules add to `FileReader`, each using only
//! this file and the ones listed before it:
//! - `random`: single frames by random access, through the cursor pool and the frame cache;
//! - `batch`: `get_batch`, each needed frame decoded once, converted on a second thread;
//! - `sequential`: the forward pass with its decode-ahead thread (`frames`, `next_frame`);
//! - `open`: opening, the packet scan, the frame index and the output size.

mod batch;
mod open;
mod random;
pub(crate) mod sequential;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ffmpeg::{codec, frame, Rational};
use ffmpeg_next as ffmpeg;

use crate::cache::FrameCache;
use crate::convert::{InputKey, RgbOutput, Target};
use crate::decoder::{open_decoder, Cursor};
use crate::error::{AvError, Result};
use crate::index::FrameIndex;
use crate::options::{check_size, ReaderOptions};
use crate::packets::PacketStore;
use crate::types::VideoInfo;

pub(crate) struct FileReader {
    path: PathBuf,
    packets: Arc<PacketStore>,
    index: Arc<FrameIndex>,
    params: codec::Parameters,
    time_base: Rational,
    sar: Rational,
    info: VideoInfo,
    opts: ReaderOptions,
    cursors: Vec<Cursor>,
    cache: FrameCache<frame::Video>,
    output: Option<RgbOutput>,
    /// Decode counters of cursors dropped by `clear_cache`.
    retired: (u64, u64),
    /// True once a decoded frame (or the probe) confirmed size and pixel format.
    layout_known: bool,
    /// Per GOP (by key packet), how often a single-frame read wanted a frame that had been
    /// skipped; from `DENSE_AFTER_MISSES` on, single-frame reads decode the GOP whole.
    misses: std::collections::HashMap<usize, u32>,
    /// Per GOP (by key packet), the earlier key packet decoding starts from instead: FFmpeg's
    /// H.264 decoder started at a non-IDR I frame (an open GOP) can decode the GOP's last
    /// pictures and never show them (the ffmpeg CLI's `-ss` loses them too); from the GOP
    /// before, they come out as in a full decode.
    earlier_start: std::collections::HashMap<usize, usize>,
    clock: u64,
    /// Reads in a row that each start a frame or two after the last frame read before (reading
    /// in order: single frames count one each, a batch makes it `IN_ORDER` at once).
    in_order: usize,
    /// The last frame the last read (single frame or batch) asked for.
    last_get: Option<usize>,
    /// Appended to "no picture" errors where the frame order may be unknown.
    order_hint: Option<&'static str>,
}

fn no_picture(hint: Option<&str>) -> String {
    format!("the decoder produced no picture for it{}", hint.unwrap_or(""))
}

fn rational_f64(r: Rational) -> f64 {
    if r.denominator() == 0 {
        0.0
    } else {
        r.numerator() as f64 / r.denominator() as f64
    }
}

impl FileReader {
    /// Takes the frame layout from a decoded frame the first time one is seen: the header's
    /// size is what the reader reports until then (they agree on every file seen so far).
    fn confirm(&mut self, frame: &frame::Video) -> Result<()> {
        if self.layout_known {
            return Ok(());
        }
        let key = InputKey::of(frame);
        check_size(&self.path, key.width, key.height, self.opts.max_pixels)?;
        let out = RgbOutput::new(key, self.sar, self.target()).map_err(|e| self.convert_err(e))?;
        let (ow, oh) = out.size();
        check_size(&self.path, ow, oh, self.opts.max_pixels)?;
        if (key.width, key.height) != (self.info.width, self.info.height) {
            tracing::warn!(
                path = %self.path.display(),
                "frames are {}x{}, the container header says {}x{}",
                key.width, key.height, self.info.width, self.info.height
            );
        }
        (self.info.width, self.info.height) = (key.width, key.height);
        (self.info.out_width, self.info.out_height) = out.size();
        self.info.pixel_format = format!("{:?}", key.format).to_lowercase();
        self.output = Some(out);
        self.layout_known = true;
        Ok(())
    }

    fn target(&self) -> Target {
        Target::of(&self.opts).turned(self.info.rotation, self.opts.autorotate)
    }

    fn convert_err(&self, reason: String) -> AvError {
        AvError::Convert {
            path: self.path.clone(),
            reason,
        }
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn frame_timestamp(&self, idx: usize) -> Result<(f64, f64)> {
        self.check(idx)?;
        let tb = rational_f64(self.time_base);
        let f = &self.index.frames[idx];
        Ok((
            f.pts as f64 * tb,
            (f.pts + self.index.frame_duration(idx)) as f64 * tb,
        ))
    }

    /// The frame shown at `secs` (stream time, as `frame_timestamp` reports it).
    pub fn index_at_time(&self, secs: f64) -> Result<usize> {
        let tb = rational_f64(self.time_base);
        let start = self.index.frames[0].pts as f64 * tb;
        let end = self.frame_timestamp(self.len() - 1)?.1;
        AvError::check_time(&self.path, secs, start, end)?;
        // Half a time-base unit of slack so that a frame's own start time maps to it.
        let pts = ((secs / tb) + 0.5).floor() as i64;
        Ok(self.index.frame_at_pts(pts).unwrap_or(0))
    }

    fn check(&self, idx: usize) -> Result<()> {
        if idx >= self.len() {
            return Err(AvError::IndexOutOfRange {
                path: self.path.clone(),
                index: idx as i64,
                len: self.len(),
            });
        }
        Ok(())
    }

    /// A new decoder with `threads` frame threads.
    fn new_cursor(&self, threads: usize) -> Result<Cursor> {
        let dec = open_decoder(&self.params, threads, self.time_base, self.opts.max_pixels).map_err(|e| {
            AvError::Unsupported {
                path: self.path.clone(),
                codec: self.info.codec.clone(),
                reason: format!("cannot open the decoder: {e}"),
            }
        })?;
        Ok(Cursor::new(dec, threads))
    }

    fn convert(&mut self, frame: &frame::Video, dst: &mut [u8]) -> Result<()> {
        self.confirm(frame)?;
        let out = self.output.as_mut().expect("set by confirm");
        out.convert(frame, dst).map_err(|e| e.into_av(&self.path))
    }
}

/// Frames a sequential pass decodes ahead of its caller (and a batch ahead of its converter).
const SEQ_AHEAD: usize = 3;
