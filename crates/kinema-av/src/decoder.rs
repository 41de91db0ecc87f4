//! A decoding cursor: one libavcodec decoder walking forward through the stored packets
//! from a key frame. A reader keeps a few, so going back and forth between GOPs does not
//! decode the same GOP again and again.

use ffmpeg::{codec, decoder, frame};
use ffmpeg_next as ffmpeg;

use crate::index::{FrameEntry, FrameIndex};
use crate::packets::PacketStore;

/// Threads a decoder gets for `requested` (0 = one per core; FFmpeg's own automatic choice,
/// cores + 1, measured 10% slower on H.264 here because the extra thread only contends).
pub(crate) fn decoder_threads(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(16),
        n => n,
    }
}

/// Opens a decoder for the stream with `decoder_threads(threads)` frame threads.
pub(crate) fn open_decoder(
    params: &codec::Parameters,
    threads: usize,
    time_base: ffmpeg::Rational,
    max_pixels: u64,
) -> Result<decoder::Video, String> {
    let threads = decoder_threads(threads);
    let mut ctx = codec::Context::from_parameters(params.clone()).map_err(|e| e.to_string())?;
    ctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: threads,
        ..Default::default()
    });
    // SAFETY: plain field writes on a context that is not opened yet.
    unsafe {
        let c = ctx.as_mut_ptr();
        (*c).thread_type = ffmpeg::ffi::FF_THREAD_FRAME | ffmpeg::ffi::FF_THREAD_SLICE;
        (*c).pkt_timebase = time_base.into();
        // FFmpeg refuses pictures above this before allocating them.
        (*c).max_pixels = max_pixels.min(i64::MAX as u64) as i64;
    }
    ctx.decoder().video().map_err(|e| e.to_string())
}

/// A new reference to `f`'s pictures, no pixel copy (`frame::Video`'s `Clone` allocates and
/// copies every plane). Decoded pictures are never written again while a reference lives.
pub(crate) fn share(f: &frame::Video) -> frame::Video {
    let mut out = frame::Video::empty();
    // SAFETY: both frames are valid AVFrames and `out` is empty; av_frame_ref adds references
    // to `f`'s buffers and copies its properties, or fails leaving `out` empty.
    let r = unsafe { ffmpeg::ffi::av_frame_ref(out.as_mut_ptr(), f.as_ptr()) };
    if r < 0 {
        // av_frame_ref itself copies frames whose buffers are not reference-counted, so this
        // is out of memory: fall back to the plain copy.
        return f.clone();
    }
    out
}

/// Gives a new decoder the stream's first packet, then forgets the picture: H.264 and MPEG-4
/// part 2 decoders learn from the start of a stream which encoder made it (x264's, XviD's and
/// DivX's versions in their user data) and work around that encoder's known bugs from then on,
/// as when the CLI decodes from the start; a decoder that starts at a later key frame without
/// it decodes a 2014 x264 4:4:4 stream to garbage. True when the packet was sent.
pub(crate) fn prime(dec: &mut decoder::Video, first: &ffmpeg::Packet) -> bool {
    if !matches!(dec.id(), codec::Id::H264 | codec::Id::MPEG4) {
        return false;
    }
    let sent = dec.send_packet(first).is_ok();
    dec.flush();
    sent
}

pub(crate) struct Cursor {
    dec: decoder::Video,
    /// Frame threads of its decoder (1: decodes on the caller's thread).
    pub threads: usize,
    next_pkt: usize,
    key_pkt: usize,
    min_pts: i64,
    last_out: Option<usize>,
    eof_sent: bool,
    finished: bool,
    started: bool,
    pub stamp: u64,
    /// Packets given to the decoder, and non-reference packets left out, over its lifetime.
    pub packets_sent: u64,
    pub packets_skipped: u64,
    /// Frames whose packets were left out (not wanted, not referenced) since the last seek.
    skipped: std::collections::HashSet<usize>,
    frame: frame::Video,
    pub last_error: Option<String>,
}

impl Cursor {
    pub fn new(dec: decoder::Video, threads: usize) -> Cursor {
        Cursor {
            dec,
            threads,
            next_pkt: 0,
            key_pkt: 0,
            min_pts: i64::MIN,
            last_out: None,
            eof_sent: false,
            finished: false,
            started: false,
            stamp: 0,
            packets_sent: 0,
            packets_skipped: 0,
            skipped: Default::default(),
            frame: frame::Video::empty(),
            last_error: None,
        }
    }

    /// Restarts decoding at the key packet `key_pkt`; frames shown before `min_pts` (leading
    /// pictures of an open GOP) are dropped. A new decoder sent anywhere but the stream's first
    /// key packet `first_key` is primed with that one first (see [`prime`]).
    pub fn seek(&mut self, packets: &PacketStore, key_pkt: usize, min_pts: i64, first_key: usize) {
        if !self.started && key_pkt > first_key {
            if let Ok(p) = packets.fetch(first_key) {
                if prime(&mut self.dec, p.as_ref()) {
                    self.packets_sent += 1;
                }
            }
        }
        if self.started {
            self.dec.flush();
        }
        self.started = true;
        self.next_pkt = key_pkt;
        self.key_pkt = key_pkt;
        self.min_pts = min_pts;
        self.last_out = None;
        self.eof_sent = false;
        self.finished = false;
        self.last_error = None;
        self.skipped.clear();
    }

    /// True when decoding forward from where this cursor is reaches frame `t` and costs no
    /// more than starting afresh at `start`, the packet `t` is decoded from (its key frame or
    /// an earlier one).
    pub fn reaches(&self, t: usize, f: &FrameEntry, start: usize) -> bool {
        self.started
            && !self.finished
            && self.key_pkt <= start
            && f.pts >= self.min_pts
            && self.last_out.is_none_or(|l| l < t)
            && self.next_pkt >= f.start_pkt
            && !self.skipped(t)
    }

    /// True when frame `t`'s packet was left out since the last seek.
    pub fn skipped(&self, t: usize) -> bool {
        self.skipped.contains(&t)
    }

    /// The frame returned by the last successful `next_frame`.
    pub fn frame(&self) -> &frame::Video {
        &self.frame
    }

    /// Decodes until the next shown frame that belongs to the index; returns its index, or
    /// None at the end of the stream.
    pub fn next_frame(&mut self, packets: &PacketStore, index: &FrameIndex) -> Option<usize> {
        self.next_frame_wanting(packets, index, None)
    }

    /// As `next_frame`; with `want`, packets of non-reference pictures whose frame is not
    /// wanted and comes before the last wanted one are not decoded at all. Pictures after it
    /// (the few a reordering decoder takes in before it shows the last wanted frame) are
    /// decoded: the next batch or frame in order continues from here instead of starting
    /// again at the key frame for a picture left out.
    pub fn next_frame_wanting(
        &mut self,
        packets: &PacketStore,
        index: &FrameIndex,
        want: Option<&std::collections::HashSet<usize>>,
    ) -> Option<usize> {
        let last_wanted = want.and_then(|w| w.iter().max().copied());
        loop {
            if self.finished {
                return None;
            }
            match self.dec.receive_frame(&mut self.frame) {
                Ok(()) => {
                    let pts = self.frame.pts().or_else(|| self.frame.timestamp());
                    // A frame without timestamp is the one after the last (index built from a
                    // decode pass); elsewhere it cannot be placed.
                    let untimed = || {
                        let next = self.last_out.map_or(0, |l| l + 1);
                        index.frames.get(next).filter(|f| f.untimed).map(|f| f.pts)
                    };
                    let Some(pts) = pts.or_else(untimed) else { continue };
                    if pts < self.min_pts {
                        continue;
                    }
                    let Some(i) = index.find_pts(pts) else { continue };
                    if self.last_out.is_some_and(|l| i <= l) {
                        continue;
                    }
                    self.last_out = Some(i);
                    return Some(i);
                }
                Err(ffmpeg::Error::Eof) => {
                    self.finished = true;
                    return None;
                }
                Err(e) => {
                    if !matches!(e, ffmpeg::Error::Other { errno } if errno == ffmpeg::error::EAGAIN) {
                        self.last_error = Some(e.to_string());
                    }
                    if self.next_pkt < packets.len() {
                        let i = self.next_pkt;
                        self.next_pkt += 1;
                        if let Some(w) = want {
                            let frame = index.pkt_frame[i];
                            let unwanted =
                                frame.is_none_or(|f| !w.contains(&f) && last_wanted.is_some_and(|l| f < l));
                            if packets.droppable(i) && unwanted {
                                if let Some(f) = frame {
                                    self.skipped.insert(f);
                                }
                                self.packets_skipped += 1;
                                continue;
                            }
                        }
                        // Like the ffmpeg CLI: a packet that cannot be read or decoded is
                        // reported and skipped, and decoding goes on.
                        match packets.fetch(i) {
                            Ok(p) => {
                                self.packets_sent += 1;
                                if let Err(e) = self.dec.send_packet(p.as_ref()) {
                                    self.last_error = Some(format!("packet {i}: {e}"));
                                }
                            }
                            Err(e) => self.last_error = Some(e),
                        }
                    } else if !self.eof_sent {
                        self.eof_sent = true;
                        if self.dec.send_eof().is_err() {
                            self.finished = true;
                        }
                    } else {
                        // Drained and the decoder still says "again": nothing more will come.
                        self.finished = true;
                    }
                }
            }
        }
    }
}
