//! The video stream's packets, in decode order, as the exact mode needs them. A packet whose
//! bytes sit verbatim in the file (MP4/MOV samples, AVI chunks, Matroska blocks) is kept as
//! (offset, size) and read back with one positioned read when it is decoded; anything else
//! (MPEG-TS, which reassembles packets, packets with side data) is kept in memory. Every packet
//! is checked byte for byte against the file before it is stored by position, so the decoder
//! always gets exactly what the demuxer gave; memory stays small on long videos.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;

use ffmpeg::packet::{Mut as _, Ref as _};
use ffmpeg::Packet;

use crate::nal::{classify, Framing, NalCodec};
use ffmpeg_next as ffmpeg;

enum Data {
    File { pos: u64, size: usize },
    Mem(Packet),
}

struct Entry {
    data: Data,
    /// No picture refers to this one (see `nal.rs`); `tid` is its temporal layer.
    nonref: bool,
    tid: u8,
    pts: Option<i64>,
    dts: Option<i64>,
    flags: i32,
    duration: i64,
}

pub(crate) struct PacketStore {
    file: Option<File>,
    entries: Vec<Entry>,
    scratch: Vec<u8>,
    /// Check only a sample of packets against the file (see `sampled`).
    sampled: bool,
    /// How to tell non-reference pictures, for the codecs where kinema can.
    nal: Option<(NalCodec, Framing)>,
    max_tid: u8,
    /// A sampled check failed after unchecked packets were stored by position: the scan must
    /// be redone checking every packet.
    pub suspect: bool,
}

// SAFETY: after the scan the store is only read. Reading hands out `&Packet`, which
// avcodec_send_packet references with an atomic refcount; `scratch` is only touched by `push`
// (`&mut self`). So sharing between a reader and its sequential-decode thread is sound.
unsafe impl Sync for PacketStore {}

/// Packets always checked at the start of a stream in sampled mode, and the stride after that.
const CHECK_FIRST: usize = 16;
const CHECK_EVERY: usize = 8;

impl PacketStore {
    /// `file` is the video file, opened for positioned reads (None keeps every packet in
    /// memory). `sampled`: the container stores packets verbatim by construction (MP4/MOV,
    /// AVI, Matroska), so after the first packets only every few are checked, plus a check that
    /// no two packets share bytes (Matroska lacing); any failure asks for a full re-scan.
    pub fn new(file: Option<File>, sampled: bool, nal: Option<(NalCodec, Framing)>) -> PacketStore {
        PacketStore {
            file,
            entries: Vec::new(),
            scratch: Vec::new(),
            sampled,
            suspect: false,
            nal,
            max_tid: 0,
        }
    }

    /// True when no other picture refers to packet `i`'s picture, so it can be left out when
    /// its frame is not wanted.
    pub fn droppable(&self, i: usize) -> bool {
        let e = &self.entries[i];
        e.nonref
            && match self.nal {
                Some((NalCodec::Hevc, _)) => e.tid == self.max_tid,
                Some((NalCodec::H264, _)) => true,
                None => false,
            }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Stores a demuxed packet (by position when the file holds its bytes verbatim).
    pub fn push(&mut self, pkt: Packet) {
        // SAFETY: reading plain fields of an owned packet.
        let (flags, side) = unsafe { ((*pkt.as_ptr()).flags, (*pkt.as_ptr()).side_data_elems) };
        let (pts, dts, duration) = (pkt.pts(), pkt.dts(), pkt.duration());
        let size = pkt.size();
        let n = self.entries.len();
        let (nonref, tid) = match (self.nal, pkt.data()) {
            (Some((codec, framing)), Some(bytes)) => {
                let (_, nonref, tid) = classify(codec, framing, bytes);
                (nonref, tid)
            }
            _ => (false, 0),
        };
        self.max_tid = self.max_tid.max(tid);
        let check = !self.sampled || n < CHECK_FIRST || n % CHECK_EVERY == 0;
        let verbatim = match (&self.file, pkt.position(), pkt.data()) {
            (Some(f), pos, Some(bytes)) if pos >= 0 && side == 0 && size > 0 => {
                if check {
                    self.scratch.resize(size, 0);
                    f.read_exact_at(&mut self.scratch, pos as u64).is_ok() && self.scratch[..] == bytes[..]
                } else {
                    true
                }
            }
            _ => false,
        };
        if self.sampled && !verbatim {
            if n < CHECK_FIRST {
                // Not verbatim from the start: check every packet from now on.
                self.sampled = false;
            } else {
                self.suspect = true;
            }
        }
        let data = if verbatim {
            Data::File {
                pos: pkt.position() as u64,
                size,
            }
        } else {
            Data::Mem(pkt)
        };
        self.entries.push(Entry {
            data,
            nonref,
            tid,
            pts,
            dts,
            flags,
            duration,
        });
    }

    /// In sampled mode: true when two packets stored by position share bytes.
    pub fn overlapping(&self) -> bool {
        let mut spans: Vec<(u64, u64)> = self
            .entries
            .iter()
            .filter_map(|e| match e.data {
                Data::File { pos, size } => Some((pos, pos + size as u64)),
                Data::Mem(_) => None,
            })
            .collect();
        spans.sort_unstable();
        spans.windows(2).any(|w| w[1].0 < w[0].1)
    }

    /// Timing and flags of packet `i`: (pts or dts, key, discard, duration).
    pub fn meta(&self, i: usize) -> (Option<i64>, bool, bool, i64) {
        let e = &self.entries[i];
        (
            e.pts.or(e.dts),
            e.flags & ffmpeg::ffi::AV_PKT_FLAG_KEY != 0,
            e.flags & ffmpeg::ffi::AV_PKT_FLAG_DISCARD != 0,
            e.duration,
        )
    }

    /// Packet `i`, read back from the file if it is stored by position.
    pub fn fetch(&self, i: usize) -> Result<Cow<'_, Packet>, String> {
        let e = &self.entries[i];
        match &e.data {
            Data::Mem(p) => Ok(Cow::Borrowed(p)),
            Data::File { pos, size } => {
                let f = self.file.as_ref().ok_or("no file handle")?;
                let mut p = Packet::new(*size);
                let buf = p.data_mut().ok_or("packet allocation failed")?;
                f.read_exact_at(buf, *pos)
                    .map_err(|err| format!("reading packet {i} at byte {pos}: {err}"))?;
                p.set_pts(e.pts);
                p.set_dts(e.dts);
                p.set_duration(e.duration);
                // SAFETY: plain field write on an owned packet.
                unsafe { (*p.as_mut_ptr()).flags = e.flags };
                Ok(Cow::Owned(p))
            }
        }
    }
}
