//! Video files in exact mode: demux the video stream's packets once (kept by file position or
//! in memory, `packets.rs`), index the frames (`index.rs`), then serve any frame by decoding
//! forward from its key frame with a few long-lived decoders and a cache of decoded frames.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ffmpeg::{codec, format, frame, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::cache::FrameCache;
use crate::convert::{frame_bytes, InputKey, RgbOutput, Target};
use crate::decoder::{open_decoder, share, Cursor};
use crate::error::{AvError, Result};
use crate::index::{FrameEntry, FrameIndex, PacketMeta};
use crate::nal::{framing, Framing, NalCodec};
use crate::packets::{PacketStore, PictureCodec};
use crate::reader::{FrameBatch, ReaderOptions, VideoInfo};

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
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<FileReader> {
        crate::init();
        let p = path.to_path_buf();
        let (mut ictx, probed) = crate::input::open_input(path, true).map_err(|e| AvError::Open {
            path: p.clone(),
            reason: e,
        })?;
        let container = ictx.format().name().to_string();
        let vs = crate::input::video_stream(&ictx, path)?;
        let (sidx, time_base, sar, pix) = (vs.index, vs.time_base, vs.sar, vs.pix);
        let stream = ictx.stream(sidx).expect("index from video_stream");
        let avg_rate = stream.avg_frame_rate();
        let stream_duration = stream.duration();
        let container_duration = ictx.duration();
        discard_other_streams(&mut ictx, sidx);
        let sampled = crate::input::HEADER_FORMATS.contains(&container.as_str());
        let nal = nal_framing(&vs.params);
        let pictures = match vs.params.id() {
            codec::Id::MPEG4 => Some(PictureCodec::Mpeg4),
            codec::Id::MPEG1VIDEO | codec::Id::MPEG2VIDEO => Some(PictureCodec::Mpeg12),
            _ => None,
        };
        let (mut packets, mut truncated) = scan_packets(&mut ictx, path, sidx, sampled, nal, pictures);
        if packets.suspect || (sampled && packets.overlapping()) {
            tracing::debug!(path = %p.display(), "packets are not all verbatim in the file: full re-scan");
            ictx = crate::input::open_input(path, true)
                .map_err(|e| AvError::Open {
                    path: p.clone(),
                    reason: e,
                })?
                .0;
            discard_other_streams(&mut ictx, sidx);
            (packets, truncated) = scan_packets(&mut ictx, path, sidx, false, nal, pictures);
        }
        drop(ictx);
        if packets.reorder_by_picture_type() {
            tracing::debug!(path = %p.display(), "B-frames without pts: display order from the picture types");
        }
        // H.264/HEVC without presentation times (in AVI): if the stream reorders, frames
        // cannot be told apart; decoding errors then say why.
        let order_hint = (nal.is_some() && packets.pts_missing()).then_some(
            " (the container gives no presentation times, and kinema cannot put H.264/HEVC \
             B-frames in order without them: convert the video, e.g. `ffmpeg -i in.avi out.mp4`)",
        );
        if let Some(why) = &truncated {
            tracing::warn!(path = %p.display(), "stopped reading packets early: {why}");
        }
        let mut metas: Vec<PacketMeta> = (0..packets.len())
            .map(|i| {
                let (pts, key, discard, duration) = packets.meta(i);
                PacketMeta {
                    pts,
                    key,
                    discard,
                    duration,
                }
            })
            .collect();
        if !metas.is_empty() && !metas.iter().any(|m| m.key) {
            // Some demuxers flag no key frame at all; decoding must start at the beginning.
            metas[0].key = true;
        }
        let index = FrameIndex::build(&metas);
        if index.len() == 0 {
            return Err(match truncated {
                Some(why) => AvError::Corrupt {
                    path: p,
                    reason: format!("no frame could be read: {why}"),
                },
                None => AvError::Corrupt {
                    path: p,
                    reason: "the video stream has no frames".into(),
                },
            });
        }
        let tb = rational_f64(time_base);
        let first = index.frames[0].pts as f64 * tb;
        let last = index.len() - 1;
        let end = (index.frames[last].pts + index.frame_duration(last)) as f64 * tb;
        let duration = if stream_duration > 0 {
            stream_duration as f64 * tb
        } else if container_duration > 0 {
            container_duration as f64 / ffmpeg::ffi::AV_TIME_BASE as f64
        } else {
            end - first
        };
        let fps = if avg_rate.numerator() > 0 && avg_rate.denominator() > 0 {
            rational_f64(avg_rate)
        } else if end > first {
            index.len() as f64 / (end - first)
        } else {
            0.0
        };
        let (width, height) = (vs.width, vs.height);
        let info = VideoInfo {
            codec: vs.codec_name,
            container,
            width,
            height,
            pixel_format: if pix == format::Pixel::None {
                "unknown".into()
            } else {
                format!("{pix:?}").to_lowercase()
            },
            frame_count: index.len(),
            fps,
            duration,
            rotation: vs.rotation,
            key_frames: index.key_indices.clone(),
            out_width: width,
            out_height: height,
            truncated: truncated.clone(),
        };
        let mut r = FileReader {
            path: p,
            packets: Arc::new(packets),
            index: Arc::new(index),
            params: vs.params,
            time_base,
            sar,
            info,
            opts: opts.clone(),
            cursors: Vec::new(),
            cache: FrameCache::new(opts.cache_bytes),
            output: None,
            layout_known: false,
            retired: (0, 0),
            misses: Default::default(),
            earlier_start: Default::default(),
            clock: 0,
            order_hint,
        };
        r.init_output_size(pix, probed)?;
        Ok(r)
    }

    /// The output size from the container header (or the probe). When the header was not
    /// checked against a decoded picture, the first decoded frame confirms it (`confirm`).
    fn init_output_size(&mut self, pix: format::Pixel, probed: bool) -> Result<()> {
        crate::reader::check_size(
            &self.path,
            self.info.width,
            self.info.height,
            self.opts.max_pixels,
        )?;
        let mut key = InputKey {
            width: self.info.width,
            height: self.info.height,
            format: pix,
        };
        if key.width == 0 || key.height == 0 {
            let c = self.decode_to(0)?;
            let f = share(self.cursors[c].frame());
            return self.confirm(&f);
        }
        if pix == format::Pixel::None {
            // Only the size matters here; the real format comes with the first frame.
            key.format = format::Pixel::YUV420P;
        }
        let out = RgbOutput::new(key, self.sar, self.target()).map_err(|e| self.convert_err(e))?;
        (self.info.out_width, self.info.out_height) = out.size();
        crate::reader::check_size(
            &self.path,
            self.info.out_width,
            self.info.out_height,
            self.opts.max_pixels,
        )?;
        if probed && pix != format::Pixel::None {
            self.output = Some(out);
            self.layout_known = true;
        }
        Ok(())
    }

    /// Takes the frame layout from a decoded frame the first time one is seen: the header's
    /// size is what the reader reports until then (they agree on every file seen so far).
    fn confirm(&mut self, frame: &frame::Video) -> Result<()> {
        if self.layout_known {
            return Ok(());
        }
        let key = InputKey::of(frame);
        crate::reader::check_size(&self.path, key.width, key.height, self.opts.max_pixels)?;
        let out = RgbOutput::new(key, self.sar, self.target()).map_err(|e| self.convert_err(e))?;
        let (ow, oh) = out.size();
        crate::reader::check_size(&self.path, ow, oh, self.opts.max_pixels)?;
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
        Target::of(&self.opts)
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

    fn new_cursor(&self) -> Result<Cursor> {
        let dec = open_decoder(
            &self.params,
            self.opts.num_threads,
            self.time_base,
            self.opts.max_pixels,
        )
        .map_err(|e| AvError::Unsupported {
            path: self.path.clone(),
            codec: self.info.codec.clone(),
            reason: format!("cannot open the decoder: {e}"),
        })?;
        Ok(Cursor::new(dec))
    }

    /// The packet decoding for frame `t` starts from: its key frame, or an earlier one where
    /// starting at its own lost pictures.
    fn start_of(&self, f: &FrameEntry) -> usize {
        self.earlier_start
            .get(&f.start_pkt)
            .copied()
            .unwrap_or(f.start_pkt)
    }

    /// Picks the cursor that reaches frame `t` cheapest, or repositions the least recently
    /// used one at `t`'s key frame. Returns its slot.
    fn cursor_for(&mut self, t: usize) -> Result<usize> {
        let f = self.index.frames[t];
        let start = self.start_of(&f);
        self.clock += 1;
        let best = self
            .cursors
            .iter()
            .enumerate()
            .filter(|(_, c)| c.reaches(t, &f, start))
            .max_by_key(|(_, c)| c.stamp)
            .map(|(i, _)| i);
        let slot = match best {
            Some(i) => i,
            None => {
                let slot = if self.cursors.len() < self.max_decoders() {
                    let c = self.new_cursor()?;
                    self.cursors.push(c);
                    self.cursors.len() - 1
                } else {
                    (0..self.cursors.len())
                        .min_by_key(|&i| self.cursors[i].stamp)
                        .unwrap_or(0)
                };
                let key_pts = self.index.pkt_frame[start].map(|k| self.index.frames[k].pts);
                let min_pts = key_pts.unwrap_or(i64::MIN);
                self.cursors[slot].seek(start, min_pts);
                slot
            }
        };
        self.cursors[slot].stamp = self.clock;
        Ok(slot)
    }

    /// The key packet before `pkt`, if any.
    fn key_before(&self, pkt: usize) -> Option<usize> {
        self.index
            .key_indices
            .iter()
            .map(|&k| self.index.frames[k].pkt)
            .filter(|&p| p < pkt)
            .max()
    }

    /// Decodes up to frame `t`; on success `self.cursors[slot].frame()` is frame `t`.
    /// Every frame passed on the way goes into the cache when `cache` is set. `batch`: the
    /// frames of the batch being served (other non-reference pictures are not decoded).
    fn decode_to_inner(&mut self, t: usize, cache: bool, batch: Option<&HashSet<usize>>) -> Result<usize> {
        // Single frames skip the non-reference pictures on the way too, until a GOP has been
        // asked `DENSE_AFTER_MISSES` times for a frame that was skipped: from then on that GOP is
        // decoded whole (and cached), so reading a GOP backwards costs at most one extra pass,
        // never one per frame.
        let single;
        let want = if cache {
            let gop = self.index.frames[t].start_pkt;
            if self.cursors.iter().any(|c| c.skipped(t)) {
                *self.misses.entry(gop).or_insert(0) += 1;
            }
            if self.misses.get(&gop).is_some_and(|&m| m >= DENSE_AFTER_MISSES) {
                None
            } else {
                single = HashSet::from([t]);
                Some(&single)
            }
        } else {
            batch
        };
        let mut earlier = 0;
        loop {
            let slot = self.cursor_for(t)?;
            let why = loop {
                let got = self.cursors[slot].next_frame_wanting(&self.packets, &self.index, want);
                match got {
                    Some(i) if i <= t => {
                        if cache && self.cache_enabled() && !self.cache.contains(i) {
                            let f = share(self.cursors[slot].frame());
                            let n = frame_bytes(&f);
                            self.cache.insert(i, f, n);
                        }
                        if i == t {
                            return Ok(slot);
                        }
                    }
                    _ => {
                        break self.cursors[slot]
                            .last_error
                            .clone()
                            .unwrap_or_else(|| no_picture(self.order_hint));
                    }
                }
            };
            // No picture for `t`: decode again from the key frame before, a few GOPs back at
            // most (a frame that is truly damaged must not cost a decode of the whole file).
            let gop = self.index.frames[t].start_pkt;
            let prev = self.key_before(self.start_of(&self.index.frames[t]));
            match prev {
                Some(p) if earlier < MAX_EARLIER_GOPS => {
                    earlier += 1;
                    self.earlier_start.insert(gop, p);
                    self.cursors[slot].stamp = 0;
                }
                _ => {
                    return Err(AvError::Decode {
                        path: self.path.clone(),
                        index: t,
                        reason: why,
                    });
                }
            }
        }
    }

    /// Decoders kept at once: the option, or (0) as many as the cache budget allows at about
    /// 20 decoded frames of held state each, between 2 and 16.
    fn max_decoders(&self) -> usize {
        match self.opts.max_decoders {
            0 => {
                let frame = (self.info.width as usize * self.info.height as usize * 3 / 2).max(1);
                (self.opts.cache_bytes / (20 * frame)).clamp(2, 16)
            }
            n => n,
        }
    }

    fn cache_enabled(&self) -> bool {
        self.opts.cache_bytes > 0
    }

    fn decode_to(&mut self, t: usize) -> Result<usize> {
        self.decode_to_inner(t, false, None)
    }

    fn frame_len(&self) -> usize {
        self.info.out_width as usize * self.info.out_height as usize * 3
    }

    fn convert(&mut self, frame: &frame::Video, dst: &mut [u8]) -> Result<()> {
        self.confirm(frame)?;
        let out = self.output.as_mut().expect("set by confirm");
        out.convert(frame, dst).map_err(|e| e.into_av(&self.path))
    }

    /// Decoded frame `idx`: from the cache, or decoded (through the cache when `cache`; for a
    /// batch when `batch` names its frames).
    fn frame_at(&mut self, idx: usize, cache: bool, batch: Option<&HashSet<usize>>) -> Result<frame::Video> {
        if let Some(f) = self.cache.get(idx) {
            return Ok(share(f));
        }
        let slot = self.decode_to_inner(idx, cache, batch)?;
        Ok(share(self.cursors[slot].frame()))
    }

    /// One frame, through the cache: random single-frame access does not decode a GOP twice.
    pub fn get(&mut self, idx: usize) -> Result<FrameBatch> {
        self.check(idx)?;
        let f = self.frame_at(idx, true, None)?;
        self.confirm(&f)?;
        let mut out = FrameBatch::zeros(1, self.info.out_height as usize, self.info.out_width as usize);
        self.convert(&f, &mut out.data)?;
        Ok(out)
    }

    /// Frames in the order asked; each needed frame decoded once, in sorted order.
    pub fn get_batch(&mut self, indices: &[usize]) -> Result<FrameBatch> {
        for &i in indices {
            self.check(i)?;
        }
        let mut order: Vec<(usize, usize)> = indices.iter().enumerate().map(|(slot, &i)| (i, slot)).collect();
        order.sort_unstable();
        // Allocated once the first frame has confirmed the layout.
        let mut out: Option<FrameBatch> = None;
        if order.is_empty() {
            return Ok(FrameBatch::zeros(
                0,
                self.info.out_height as usize,
                self.info.out_width as usize,
            ));
        }
        let want: HashSet<usize> = indices.iter().copied().collect();
        self.fill_batch(indices.len(), &order, &want, &mut out)?;
        Ok(out.expect("at least one frame"))
    }

    fn fill_batch(
        &mut self,
        n: usize,
        order: &[(usize, usize)],
        want: &HashSet<usize>,
        out: &mut Option<FrameBatch>,
    ) -> Result<()> {
        // Unique indices, each with the output slots that want it.
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for &(t, slot) in order {
            match groups.last_mut() {
                Some((g, slots)) if *g == t => slots.push(slot),
                _ => groups.push((t, vec![slot])),
            }
        }
        // The first frame confirms the layout before the buffer is sized.
        let f = self.frame_at(groups[0].0, false, Some(want))?;
        self.confirm(&f)?;
        let fl = self.frame_len();
        let batch = out.insert(FrameBatch::zeros(
            n,
            self.info.out_height as usize,
            self.info.out_width as usize,
        ));
        let mut conv = self.output.take().expect("set by confirm");
        let path = self.path.clone();
        let write =
            move |conv: &mut RgbOutput, data: &mut [u8], f: &frame::Video, slots: &[usize]| -> Result<()> {
                let r = slots[0] * fl..(slots[0] + 1) * fl;
                conv.convert(f, &mut data[r.clone()])
                    .map_err(|e| e.into_av(&path))?;
                for &d in &slots[1..] {
                    data.copy_within(r.clone(), d * fl);
                }
                Ok(())
            };
        let first = write(&mut conv, &mut batch.data, &f, &groups[0].1);
        if first.is_err() || groups.len() < PIPELINE_MIN {
            let mut r = first;
            for (t, slots) in &groups[1..] {
                if r.is_err() {
                    break;
                }
                r = self
                    .frame_at(*t, false, Some(want))
                    .and_then(|f| write(&mut conv, &mut batch.data, &f, slots));
            }
            self.output = Some(conv);
            return r;
        }
        // Larger batches convert on a second thread while this one keeps decoding.
        let data = &mut batch.data;
        let (conv, r) = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(frame::Video, &[usize])>(SEQ_AHEAD);
            let worker = s.spawn(move || {
                let mut r = Ok(());
                for (f, slots) in rx {
                    r = write(&mut conv, data, &f, slots);
                    if r.is_err() {
                        break;
                    }
                }
                (conv, r)
            });
            let mut decoded = Ok(());
            for (t, slots) in &groups[1..] {
                match self.frame_at(*t, false, Some(want)) {
                    // A closed channel means the converter failed: its error is reported below.
                    Ok(f) => {
                        if tx.send((f, slots)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        decoded = Err(e);
                        break;
                    }
                }
            }
            drop(tx);
            let (conv, converted) = worker.join().expect("the converter thread does not panic");
            (conv, decoded.and(converted))
        });
        self.output = Some(conv);
        r
    }

    /// A sequential pass: a decoder thread runs ahead of the caller (a few frames, bounded),
    /// so decoding goes on while the caller converts, instead of the decoder's frame threads
    /// waiting for their next packet. The first frame is decoded here: it confirms the layout,
    /// so `width`/`height` are final when the caller sizes its buffers.
    pub fn sequential(&mut self) -> Result<SeqState> {
        let mut cursor = self.new_cursor()?;
        let f0 = self.index.frames[0];
        cursor.seek(f0.start_pkt, f0.pts);
        let first = cursor.next_frame(&self.packets, &self.index);
        let pending = match first {
            Some(i) => {
                let f = share(cursor.frame());
                self.confirm(&f)?;
                Some(Decoded::Frame(i, f, cursor.last_error.clone()))
            }
            None => Some(Decoded::End(cursor.last_error.clone())),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(SEQ_AHEAD);
        let mut handle = None;
        if first.is_some() {
            let (packets, index) = (Arc::clone(&self.packets), Arc::clone(&self.index));
            let h = std::thread::Builder::new()
                .name("kinema-seq-decode".into())
                .spawn(move || loop {
                    let msg = match cursor.next_frame(&packets, &index) {
                        Some(i) => Decoded::Frame(i, share(cursor.frame()), cursor.last_error.clone()),
                        None => Decoded::End(cursor.last_error.clone()),
                    };
                    let end = matches!(msg, Decoded::End(_));
                    // The receiver is gone when the caller dropped the pass: stop.
                    if tx.send(msg).is_err() || end {
                        return;
                    }
                })
                .map_err(|e| AvError::Io {
                    path: self.path.clone(),
                    source: e,
                })?;
            handle = Some(h);
        }
        Ok(SeqState {
            rx: Some(rx),
            handle,
            expect: 0,
            pending,
            last_error: None,
        })
    }

    /// Next frame of a sequential pass into `dst`; Ok(None) at the end. A frame that cannot be
    /// decoded is an error naming its index; the pass can go on after it.
    pub fn seq_next_into(&mut self, st: &mut SeqState, dst: &mut [u8]) -> Result<Option<usize>> {
        if st.expect >= self.len() {
            return Ok(None);
        }
        let got = match st.pending.take() {
            Some(m) => m,
            None => st
                .rx
                .as_ref()
                .and_then(|rx| rx.recv().ok())
                .unwrap_or(Decoded::End(None)),
        };
        let want = st.expect;
        match got {
            Decoded::Frame(i, f, err) if i == want => {
                st.last_error = err;
                st.expect += 1;
                self.convert(&f, dst)?;
                Ok(Some(i))
            }
            other => {
                let (Decoded::Frame(_, _, err) | Decoded::End(err)) = &other;
                if err.is_some() {
                    st.last_error = err.clone();
                }
                st.pending = Some(other);
                st.expect += 1;
                let why = st
                    .last_error
                    .clone()
                    .unwrap_or_else(|| no_picture(self.order_hint));
                Err(AvError::Decode {
                    path: self.path.clone(),
                    index: want,
                    reason: why,
                })
            }
        }
    }

    /// (packets decoded, packets skipped) by the random-access decoders so far.
    pub fn decode_stats(&self) -> (u64, u64) {
        let (mut sent, mut skipped) = self.retired;
        for c in &self.cursors {
            sent += c.packets_sent;
            skipped += c.packets_skipped;
        }
        (sent, skipped)
    }

    pub fn cache_stats(&self) -> (usize, usize) {
        (self.cache.len(), self.cache.used_bytes())
    }

    /// Drops cached frames and idle decoders (memory back to the system).
    pub fn clear_cache(&mut self) {
        self.cache.clear();
        self.retired = self.decode_stats();
        self.cursors.clear();
    }
}

/// Earlier key frames tried, one after the other, for a frame its own GOP does not show.
const MAX_EARLIER_GOPS: usize = 2;

/// Skipped frames asked for in one GOP before single-frame reads stop skipping there.
const DENSE_AFTER_MISSES: u32 = 1;

/// Frames a sequential pass decodes ahead of its caller (and a batch ahead of its converter).
const SEQ_AHEAD: usize = 3;

/// Batches with at least this many distinct frames convert on a second thread.
const PIPELINE_MIN: usize = 8;

/// What the sequential decoder thread hands over: a frame (with the decoder's last error, if
/// any), or the end of the stream.
enum Decoded {
    Frame(usize, frame::Video, Option<String>),
    End(Option<String>),
}

/// State of one sequential pass (`VideoReader::frames`).
pub(crate) struct SeqState {
    rx: Option<std::sync::mpsc::Receiver<Decoded>>,
    handle: Option<std::thread::JoinHandle<()>>,
    expect: usize,
    pending: Option<Decoded>,
    last_error: Option<String>,
}

impl Drop for SeqState {
    /// Closing the channel makes the decoder thread's next send fail; it is joined, so no
    /// thread outlives the pass (it finishes at most the frame it is decoding).
    fn drop(&mut self) {
        self.rx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Makes the demuxer skip every stream but the video one.
fn discard_other_streams(ictx: &mut format::context::Input, sidx: usize) {
    // SAFETY: writes the `discard` field of streams owned by `ictx`.
    unsafe {
        let ic = ictx.as_mut_ptr();
        for i in 0..(*ic).nb_streams as usize {
            if i != sidx {
                (**(*ic).streams.add(i)).discard = ffmpeg::ffi::AVDiscard::AVDISCARD_ALL;
            }
        }
    }
}

/// Reads every packet of stream `sidx`; the error that stopped reading early, if any.
fn scan_packets(
    ictx: &mut format::context::Input,
    path: &Path,
    sidx: usize,
    sampled: bool,
    nal: Option<(NalCodec, Framing)>,
    pictures: Option<PictureCodec>,
) -> (PacketStore, Option<String>) {
    // Positioned reads need the file; without it every packet stays in memory.
    let mut packets = PacketStore::new(std::fs::File::open(path).ok(), sampled, nal, pictures);
    let mut truncated = None;
    loop {
        let mut pkt = Packet::empty();
        match pkt.read(ictx) {
            Ok(()) => {
                if pkt.stream() == sidx && pkt.size() > 0 {
                    packets.push(pkt);
                }
            }
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::InvalidData) => continue,
            Err(e) => {
                truncated = Some(e.to_string());
                break;
            }
        }
    }
    (packets, truncated)
}

/// NAL framing of H.264 / HEVC streams (the codecs whose non-reference pictures kinema skips).
fn nal_framing(params: &codec::Parameters) -> Option<(NalCodec, Framing)> {
    let codec = match params.id() {
        codec::Id::H264 => NalCodec::H264,
        codec::Id::HEVC => NalCodec::Hevc,
        _ => return None,
    };
    // SAFETY: extradata is `extradata_size` bytes owned by the parameters (or null).
    let extra = unsafe {
        let p = params.as_ptr();
        if (*p).extradata.is_null() || (*p).extradata_size <= 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize)
        }
    };
    Some((codec, framing(codec, extra)))
}
