//! Opening a video file: read every packet of the video stream once (`scan_packets`; again in
//! full when the sampled scan's packets are not all verbatim in the file), index the frames,
//! describe the stream and size the output.

use std::path::Path;
use std::sync::Arc;

use ffmpeg::{codec, format, Packet};
use ffmpeg_next as ffmpeg;

use super::{rational_f64, FileReader};
use crate::cache::FrameCache;
use crate::convert::{InputKey, RgbOutput};
use crate::decoder::share;
use crate::error::{AvError, Result};
use crate::index::{FrameIndex, PacketMeta};
use crate::input::{open_input, video_stream, HEADER_FORMATS};
use crate::nal::{framing, Framing, NalCodec};
use crate::options::{check_size, ReaderOptions};
use crate::packets::{PacketStore, PictureCodec};
use crate::setup::init;
use crate::types::VideoInfo;

impl FileReader {
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<FileReader> {
        init();
        let p = path.to_path_buf();
        let (mut ictx, probed) = open_input(path, true).map_err(|e| AvError::Open {
            path: p.clone(),
            reason: e,
        })?;
        let container = ictx.format().name().to_string();
        let vs = video_stream(&mut ictx, path, opts.stream, probed)?;
        let (sidx, time_base, sar, pix) = (vs.index, vs.time_base, vs.sar, vs.pix);
        let stream = ictx.stream(sidx).expect("index from video_stream");
        let avg_rate = stream.avg_frame_rate();
        let stream_duration = stream.duration();
        let container_duration = ictx.duration();
        discard_other_streams(&mut ictx, sidx);
        let sampled = HEADER_FORMATS.contains(&container.as_str());
        let nal = nal_framing(&vs.params);
        let pictures = match vs.params.id() {
            codec::Id::MPEG4 => Some(PictureCodec::Mpeg4),
            codec::Id::MPEG1VIDEO | codec::Id::MPEG2VIDEO => Some(PictureCodec::Mpeg12),
            _ => None,
        };
        let (mut packets, mut truncated) = scan_packets(&mut ictx, path, sidx, sampled, nal, pictures);
        if packets.suspect || (sampled && packets.overlapping()) {
            tracing::debug!(path = %p.display(), "packets are not all verbatim in the file: full re-scan");
            ictx = open_input(path, true)
                .map_err(|e| AvError::Open {
                    path: p.clone(),
                    reason: e,
                })?
                .0;
            discard_other_streams(&mut ictx, sidx);
            (packets, truncated) = scan_packets(&mut ictx, path, sidx, false, nal, pictures);
        }
        drop(ictx);
        // SAFETY: reading a plain field of the stream's codec parameters.
        let delay = unsafe { (*vs.params.as_ptr()).video_delay };
        let reorders = delay > 0 || (nal.is_some() && packets.any_nonref()) || packets.packs_pictures(64);
        // Codecs with pictures that are decoded but not shown (VP8/VP9 alt-ref frames, AV1).
        let hidden = matches!(vs.params.id(), codec::Id::VP8 | codec::Id::VP9 | codec::Id::AV1);
        let joined = packets.join_restarts(reorders, !hidden);
        if joined > 0 {
            tracing::debug!(path = %p.display(), "timestamps restart {joined} time(s): joined in decode order");
        }
        let reordered = packets.reorder_by_picture_type();
        if reordered {
            tracing::debug!(path = %p.display(), "B-frames without pts: display order from the picture types");
        }
        // Pictures after the first key packet shown before it (an open GOP at the very start):
        // whether the decoder shows them depends on the codec, so a decode pass tells.
        let leading = (0..packets.len()).find(|&i| packets.meta(i).1).is_some_and(|k| {
            packets.meta(k).0.is_some_and(|kp| {
                (k + 1..packets.len()).any(|i| {
                    let (pts, _, discard, _) = packets.meta(i);
                    !discard && pts.is_some_and(|p| p < kp)
                })
            })
        });
        // Packets without presentation times from a codec that reorders, whose order the
        // picture types could not give (DivX packed B-frames, H.264/HEVC in AVI): one decode of
        // every packet tells the frames and their order, as the CLI shows them.
        let decoded_order = if packets.pts_missing() && !reordered && reorders {
            let t0 = std::time::Instant::now();
            let r = order_by_decoding(&packets, &vs.params, time_base, opts, packets.len());
            tracing::debug!(path = %p.display(), "display order from a decode pass: {:?} in {:.3} s",
                r.as_ref().map(|o| o.len()), t0.elapsed().as_secs_f64());
            r
        } else {
            None
        };
        let order_hint = (nal.is_some() && packets.pts_missing() && decoded_order.is_none()).then_some(
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
        let key_pkts: Vec<usize> = metas
            .iter()
            .enumerate()
            .filter(|(_, m)| m.key)
            .map(|(i, _)| i)
            .collect();
        // Which leading pictures the decoder shows: decode the first GOP only.
        let shown_leading: Vec<i64> = match (leading && decoded_order.is_none(), key_pkts.first()) {
            (true, Some(&k0)) => {
                let until = key_pkts.get(1).map_or(packets.len(), |&k| k + 1);
                let key_pts = metas[k0].pts.unwrap_or(i64::MIN);
                order_by_decoding(&packets, &vs.params, time_base, opts, until)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(ts, _)| ts.filter(|&t| t < key_pts))
                    .collect()
            }
            _ => Vec::new(),
        };
        let index = match decoded_order
            .as_deref()
            .and_then(|o| FrameIndex::from_decode(o, &key_pkts, metas.len()))
        {
            Some(index) => {
                packets.keep_all();
                index
            }
            None => FrameIndex::build_with_leading(&metas, &shown_leading),
        };
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
            stream: sidx,
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
            in_order: 0,
            last_get: None,
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
        check_size(
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
        check_size(
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
}

/// Decodes the first `until` packets once, keeping no picture: each output frame's timestamp
/// (what a cursor matches frames by) and whether it is a key picture, in output order. `None`
/// when the decoder cannot be opened or gives no frame.
fn order_by_decoding(
    packets: &PacketStore,
    params: &codec::Parameters,
    time_base: ffmpeg::Rational,
    opts: &ReaderOptions,
    until: usize,
) -> Option<Vec<(Option<i64>, bool)>> {
    let mut dec = crate::decoder::open_decoder(params, opts.num_threads, time_base, opts.max_pixels).ok()?;
    let mut frame = ffmpeg::frame::Video::empty();
    let mut out = Vec::with_capacity(packets.len());
    let mut drain = |dec: &mut ffmpeg::decoder::Video, out: &mut Vec<(Option<i64>, bool)>| {
        while dec.receive_frame(&mut frame).is_ok() {
            out.push((frame.pts().or_else(|| frame.timestamp()), frame.is_key()));
        }
    };
    for i in 0..until.min(packets.len()) {
        // Like the CLI, a packet that cannot be read or decoded is skipped.
        if let Ok(p) = packets.fetch(i) {
            let _ = dec.send_packet(p.as_ref());
        }
        drain(&mut dec, &mut out);
    }
    let _ = dec.send_eof();
    drain(&mut dec, &mut out);
    (!out.is_empty()).then_some(out)
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
