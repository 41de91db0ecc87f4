//! Approximate seek mode: no scan at open. The frame count and rate come from the container's
//! header, frame `i` is the first frame shown at or after `start + i / fps`, and a frame is
//! reached by a container seek to the key frame before it. Opening costs the header only and
//! nothing is held in memory but decoded frames; the price is exactness on variable frame rate
//! and on containers whose header misstates the count (torchcodec's "approximate" mode).

use std::path::{Path, PathBuf};

use ffmpeg::{decoder, format, frame, Packet};
use ffmpeg_next as ffmpeg;

use crate::cache::FrameCache;
use crate::convert::{frame_bytes, InputKey, RgbOutput, Target};
use crate::decoder::{open_decoder, prime, share};
use crate::error::{AvError, Result};
use crate::options::{check_size, ReaderOptions};
use crate::setup::init;
use crate::types::{FrameBatch, VideoInfo};

pub(crate) struct ApproxReader {
    path: PathBuf,
    ictx: format::context::Input,
    sidx: usize,
    dec: decoder::Video,
    frame: frame::Video,
    info: VideoInfo,
    /// pts of frame 0 and time-base units per frame.
    start: i64,
    step: f64,
    tb: f64,
    /// pts of key frames from the container's index (empty when it has none).
    key_pts: Vec<i64>,
    last_out: Option<i64>,
    started: bool,
    at_eof: bool,
    cache: FrameCache<frame::Video>,
    output: RgbOutput,
}

impl ApproxReader {
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<ApproxReader> {
        init();
        let p = path.to_path_buf();
        let (mut ictx, probed) = crate::input::open_input(path, false).map_err(|e| AvError::Open {
            path: p.clone(),
            reason: e,
        })?;
        let container = ictx.format().name().to_string();
        let vs = crate::input::video_stream(&mut ictx, path, opts.stream, probed)?;
        let (sidx, time_base, codec_name) = (vs.index, vs.time_base, vs.codec_name.clone());
        let (width, height, pix, sar) = (vs.width, vs.height, vs.pix, vs.sar);
        let stream = ictx.stream(sidx).expect("index from video_stream");
        let tb = f64::from(time_base);
        let rate = [stream.avg_frame_rate(), stream.rate()]
            .into_iter()
            .find(|r| r.numerator() > 0 && r.denominator() > 0)
            .ok_or_else(|| AvError::Unsupported {
                path: p.clone(),
                codec: codec_name.clone(),
                reason: "approximate mode needs a frame rate in the header (use the exact mode)".into(),
            })?;
        let fps = f64::from(rate);
        let duration = if stream.duration() > 0 {
            stream.duration() as f64 * tb
        } else {
            ictx.duration().max(0) as f64 / ffmpeg::ffi::AV_TIME_BASE as f64
        };
        let frames = if stream.frames() > 0 {
            stream.frames() as usize
        } else {
            (duration * fps).round() as usize
        };
        if frames == 0 {
            return Err(AvError::Corrupt {
                path: p,
                reason: "the header gives no frame count or duration".into(),
            });
        }
        let start = if stream.start_time() != ffmpeg::ffi::AV_NOPTS_VALUE {
            stream.start_time()
        } else {
            0
        };
        // SAFETY: the stream is owned by `ictx`; index entries are read-only views valid until
        // the next demuxer call.
        let key_pts = unsafe {
            let st = stream.as_ptr() as *mut ffmpeg::ffi::AVStream;
            let n = ffmpeg::ffi::avformat_index_get_entries_count(st);
            let mut keys = Vec::new();
            for i in 0..n {
                let e = ffmpeg::ffi::avformat_index_get_entry(st, i);
                if !e.is_null() && ((*e).flags() as i32 & ffmpeg::ffi::AVINDEX_KEYFRAME) != 0 {
                    keys.push((*e).timestamp);
                }
            }
            keys.sort_unstable();
            keys
        };
        let mut dec =
            open_decoder(&vs.params, opts.num_threads, time_base, opts.max_pixels).map_err(|e| {
                AvError::Unsupported {
                    path: p.clone(),
                    codec: codec_name.clone(),
                    reason: format!("cannot open the decoder: {e}"),
                }
            })?;
        // The demuxer is at the start here, and every read seeks first.
        let mut first = Packet::empty();
        while first.read(&mut ictx).is_ok() {
            if first.stream() == sidx {
                prime(&mut dec, &first);
                break;
            }
        }
        check_size(&p, width, height, opts.max_pixels)?;
        let target = Target::of(opts).turned(vs.rotation, opts.autorotate);
        let output = RgbOutput::new(
            InputKey {
                width,
                height,
                format: pix,
            },
            sar,
            target,
        )
        .map_err(|reason| AvError::Convert {
            path: p.clone(),
            reason,
        })?;
        let step = 1.0 / (fps * tb);
        let key_frames = key_pts
            .iter()
            .map(|&k| (((k - start) as f64 / step).round().max(0.0)) as usize)
            .filter(|&k| k < frames)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let (out_width, out_height) = output.size();
        let info = VideoInfo {
            codec: codec_name,
            container,
            stream: vs.index,
            width,
            height,
            pixel_format: format!("{pix:?}").to_lowercase(),
            frame_count: frames,
            fps,
            duration,
            rotation: vs.rotation,
            key_frames,
            out_width,
            out_height,
            truncated: None,
        };
        Ok(ApproxReader {
            path: p,
            ictx,
            sidx,
            dec,
            frame: frame::Video::empty(),
            info,
            start,
            step,
            tb,
            key_pts,
            last_out: None,
            started: false,
            at_eof: false,
            cache: FrameCache::new(opts.cache_bytes),
            output,
        })
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check(&self, idx: usize) -> Result<()> {
        if idx >= self.info.frame_count {
            let len = self.info.frame_count;
            return Err(AvError::IndexOutOfRange {
                path: self.path.clone(),
                index: idx as i64,
                len,
            });
        }
        Ok(())
    }

    fn pts_of(&self, idx: usize) -> i64 {
        self.start + (idx as f64 * self.step).round() as i64
    }

    fn index_of(&self, pts: i64) -> usize {
        ((pts - self.start) as f64 / self.step).round().max(0.0) as usize
    }

    pub fn frame_timestamp(&self, idx: usize) -> Result<(f64, f64)> {
        self.check(idx)?;
        Ok((
            self.pts_of(idx) as f64 * self.tb,
            self.pts_of(idx + 1) as f64 * self.tb,
        ))
    }

    pub fn index_at_time(&self, secs: f64) -> Result<usize> {
        let start = self.start as f64 * self.tb;
        let end = self.pts_of(self.info.frame_count) as f64 * self.tb;
        AvError::check_time(&self.path, secs, start, end)?;
        Ok((((secs - start) * self.info.fps + 1e-6).floor() as usize).min(self.info.frame_count - 1))
    }

    /// Positions the decoder so that decoding forward reaches `target` pts.
    fn position_for(&mut self, target: i64) -> Result<()> {
        let key = self
            .key_pts
            .partition_point(|&k| k <= target)
            .checked_sub(1)
            .map(|i| self.key_pts[i]);
        let forward = self.started
            && !self.at_eof
            && self.last_out.is_none_or(|l| l < target)
            && match (key, self.last_out) {
                (Some(k), Some(l)) => l >= k,
                (None, Some(l)) => ((target - l) as f64) < self.step * 64.0,
                (_, None) => false,
            };
        if forward {
            return Ok(());
        }
        let ts = key.unwrap_or(target);
        // SAFETY: seeks the demuxer owned by `self.ictx` on the chosen stream.
        let r = unsafe {
            ffmpeg::ffi::av_seek_frame(
                self.ictx.as_mut_ptr(),
                self.sidx as i32,
                ts,
                ffmpeg::ffi::AVSEEK_FLAG_BACKWARD,
            )
        };
        if r < 0 {
            return Err(AvError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "seek to {:.3}s failed: {}",
                    ts as f64 * self.tb,
                    ffmpeg::Error::from(r)
                ),
            });
        }
        if self.started {
            self.dec.flush();
        }
        self.started = true;
        self.at_eof = false;
        self.last_out = None;
        Ok(())
    }

    /// Decodes the next frame; its pts, or None at the end.
    fn next_frame(&mut self) -> Option<i64> {
        loop {
            match self.dec.receive_frame(&mut self.frame) {
                Ok(()) => {
                    let Some(pts) = self.frame.pts().or_else(|| self.frame.timestamp()) else {
                        continue;
                    };
                    self.last_out = Some(pts);
                    return Some(pts);
                }
                Err(ffmpeg::Error::Eof) => {
                    self.at_eof = true;
                    return None;
                }
                Err(_) if self.at_eof => return None,
                Err(_) => {
                    let mut pkt = Packet::empty();
                    loop {
                        match pkt.read(&mut self.ictx) {
                            Ok(()) if pkt.stream() == self.sidx => {
                                let _ = self.dec.send_packet(&pkt);
                                break;
                            }
                            Ok(()) | Err(ffmpeg::Error::InvalidData) => continue,
                            Err(_) => {
                                if self.dec.send_eof().is_err() {
                                    self.at_eof = true;
                                }
                                break;
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn get_into(&mut self, idx: usize, dst: &mut [u8]) -> Result<()> {
        self.check(idx)?;
        if let Some(f) = self.cache.get(idx) {
            return self.output.convert(f, dst).map_err(|e| e.into_av(&self.path));
        }
        let target = self.pts_of(idx);
        let half = (self.step / 2.0).floor() as i64;
        self.position_for(target)?;
        loop {
            let Some(pts) = self.next_frame() else {
                return Err(AvError::Decode {
                    path: self.path.clone(),
                    index: idx,
                    reason: "the stream ended before it (the header overstates the frame count)".into(),
                });
            };
            let i = self.index_of(pts);
            if self.cache.budget() > 0 && i <= idx {
                let f = share(&self.frame);
                let n = frame_bytes(&f);
                self.cache.insert(i, f, n);
            }
            if pts + half >= target {
                return self
                    .output
                    .convert(&self.frame, dst)
                    .map_err(|e| e.into_av(&self.path));
            }
        }
    }

    pub fn get_batch(&mut self, indices: &[usize]) -> Result<FrameBatch> {
        let (h, w) = (self.info.out_height as usize, self.info.out_width as usize);
        let mut out = FrameBatch::zeros(indices.len(), h, w);
        let fl = h * w * 3;
        let mut order: Vec<(usize, usize)> = indices.iter().enumerate().map(|(s, &i)| (i, s)).collect();
        order.sort_unstable();
        let mut prev: Option<(usize, usize)> = None;
        for (i, slot) in order {
            match prev {
                Some((pi, ps)) if pi == i => out.data.copy_within(ps * fl..(ps + 1) * fl, slot * fl),
                _ => self.get_into(i, &mut out.data[slot * fl..(slot + 1) * fl])?,
            }
            prev = Some((i, slot));
        }
        Ok(out)
    }

    pub fn clear_cache(&mut self) {
        self.cache.clear();
    }

    pub fn cache_stats(&self) -> (usize, usize) {
        (self.cache.len(), self.cache.used_bytes())
    }
}
