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
    /// MPEG-1/2/4 part 2 only: the coding type of the packet's first picture (see
    /// `picture_type`).
    vop: Option<u8>,
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
    /// Read MPEG-1/2/4 part 2 picture types while scanning (see `reorder_by_picture_type`).
    pictures: Option<PictureCodec>,
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
    pub fn new(
        file: Option<File>,
        sampled: bool,
        nal: Option<(NalCodec, Framing)>,
        pictures: Option<PictureCodec>,
    ) -> PacketStore {
        PacketStore {
            file,
            entries: Vec::new(),
            scratch: Vec::new(),
            sampled,
            suspect: false,
            nal,
            max_tid: 0,
            pictures,
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

    /// Bytes of packet `i`.
    pub fn size(&self, i: usize) -> usize {
        match &self.entries[i].data {
            Data::File { size, .. } => *size,
            Data::Mem(p) => p.size(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when one of the first `limit` packets holds more than one picture (DivX packed
    /// B-frames: a P and a B picture in one packet, a not-coded placeholder after it).
    pub fn packs_pictures(&self, limit: usize) -> bool {
        let Some(codec) = self.pictures else {
            return false;
        };
        (0..self.entries.len().min(limit)).any(|i| {
            self.fetch(i)
                .ok()
                .and_then(|p| p.data().map(|d| pictures_in(codec, d) > 1))
                .unwrap_or(false)
        })
    }

    /// True when some packet's picture is not a reference (H.264/HEVC: how B-frames, which
    /// reorder, usually come).
    pub fn any_nonref(&self) -> bool {
        self.entries.iter().any(|e| e.nonref)
    }

    /// Marks every packet as referenced: when the display order came from a decode pass, a
    /// packet cannot be matched to one frame, so none is left out.
    pub fn keep_all(&mut self) {
        self.entries.iter_mut().for_each(|e| e.nonref = false);
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
        let vop = match (self.pictures, pkt.data()) {
            (Some(codec), Some(bytes)) => picture_type(codec, bytes),
            _ => None,
        };
        let check = !self.sampled || n < CHECK_FIRST || n.is_multiple_of(CHECK_EVERY);
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
            vop,
        });
    }

    /// True when some packet came without a presentation time (AVI gives decode times only).
    pub fn pts_missing(&self) -> bool {
        self.entries.iter().any(|e| e.pts.is_none())
    }

    /// MPEG-1/2/4 part 2 with B-frames from a container without presentation times (AVI): the
    /// packets carry decode times only, so the display order is rebuilt from the picture types
    /// as the decoder outputs them (an I/P/S picture is shown after the B pictures that follow
    /// it in decode order) and every packet gets the pts of its display slot (the decode
    /// times, sorted). Nothing changes when every packet has a pts, when there is no B
    /// picture, or when a packet holds other than one picture (DivX packed B-frames, field
    /// pictures).
    pub fn reorder_by_picture_type(&mut self) -> bool {
        let es = &self.entries;
        if self.pictures.is_none() || !self.pts_missing() || !es.iter().any(|e| e.vop == Some(2)) {
            return false;
        }
        if es.iter().any(|e| e.vop.is_none() || e.dts.is_none()) {
            return false;
        }
        // Only now, with B pictures to place, is every packet read whole to make sure it holds
        // one picture (the scan looked at the first only, which keeps opening cheap).
        let codec = self.pictures.expect("checked above");
        let single = |i: usize| {
            self.fetch(i)
                .ok()
                .and_then(|p| p.data().map(|d| pictures_in(codec, d) == 1))
                .unwrap_or(false)
        };
        if !(0..es.len()).all(single) {
            return false;
        }
        let mut dts: Vec<i64> = es.iter().filter_map(|e| e.dts).collect();
        if dts.windows(2).any(|w| w[1] <= w[0]) {
            return false;
        }
        dts.sort_unstable();
        let mut display = Vec::with_capacity(es.len());
        let mut anchor = None;
        for (i, e) in es.iter().enumerate() {
            if e.vop == Some(2) {
                display.push(i);
            } else {
                display.extend(anchor.replace(i));
            }
        }
        display.extend(anchor);
        for (slot, &i) in display.iter().enumerate() {
            let e = &mut self.entries[i];
            e.pts = Some(dts[slot]);
            if let Data::Mem(p) = &mut e.data {
                p.set_pts(e.pts);
            }
        }
        true
    }

    /// Timestamps that restart or stall in a stream whose codec does not reorder (`reorders`
    /// false), so that frames are shown in decode order whatever the times say (files cut and
    /// joined without rewriting them, clocks reset, muxers that "fixed" a restart by repeating
    /// the last time): where a packet's time goes back or repeats, it and every packet after it
    /// move by the step that makes it follow the packet before, so that presentation times tell
    /// frames apart in decode order. Uses the decode times where the container gives them
    /// (packets without one move with the packet before), else the presentation times. A
    /// repeated time counts only when every packet shows a picture (`every_packet_shown`; not
    /// so in VP8, whose hidden alt-ref frames may share the next frame's time). Streams that
    /// reorder are left alone: some demuxers (Matroska) derive their decode times from
    /// guesses, so a time going back there proves nothing. Returns how many restarts were
    /// joined.
    pub fn join_restarts(&mut self, reorders: bool, every_packet_shown: bool) -> usize {
        if reorders {
            return 0;
        }
        let by_dts = self.entries.iter().any(|e| e.dts.is_some());
        let clock = |e: &Entry| if by_dts { e.dts } else { e.pts };
        let mut offset = 0i64;
        let mut joined = 0;
        let mut prev: Option<(i64, i64)> = None;
        for e in &mut self.entries {
            if let Some(t) = clock(e) {
                if let Some((p, d)) = prev {
                    if t + offset < p || (every_packet_shown && t + offset == p) {
                        offset = p + d.max(1) - t;
                        joined += 1;
                    }
                }
                prev = Some((t + offset, e.duration));
            }
            if offset != 0 {
                e.pts = e.pts.map(|v| v + offset);
                e.dts = e.dts.map(|v| v + offset);
                if let Data::Mem(p) = &mut e.data {
                    p.set_pts(e.pts);
                    p.set_dts(e.dts);
                }
            }
        }
        joined
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

/// The codecs whose picture types `picture_type` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PictureCodec {
    /// MPEG-4 part 2 (VOP start code 0xB6, `vop_coding_type` in the next two bits).
    Mpeg4,
    /// MPEG-1 and MPEG-2 video (picture start code 0x00, `picture_coding_type` after the
    /// 10-bit temporal reference).
    Mpeg12,
}

fn start_code(codec: PictureCodec) -> [u8; 4] {
    match codec {
        PictureCodec::Mpeg4 => [0, 0, 1, 0xB6],
        PictureCodec::Mpeg12 => [0, 0, 1, 0x00],
    }
}

/// The coding type of the first picture in `data`: 0 I (or D), 1 P, 2 B, 3 S (MPEG-4 sprite);
/// `None` when there is none.
fn picture_type(codec: PictureCodec, data: &[u8]) -> Option<u8> {
    let at = memchr::memmem::find(data, &start_code(codec))?;
    match codec {
        PictureCodec::Mpeg4 => Some(data.get(at + 4)? >> 6),
        PictureCodec::Mpeg12 => match (data.get(at + 5)? >> 3) & 7 {
            1 | 4 => Some(0),
            2 => Some(1),
            3 => Some(2),
            _ => None,
        },
    }
}

/// How many pictures `data` holds (more than one: DivX packed B-frames, field pictures).
fn pictures_in(codec: PictureCodec, data: &[u8]) -> usize {
    memchr::memmem::find_iter(data, &start_code(codec)).count()
}

#[cfg(test)]
mod tests {
    use super::{picture_type, pictures_in, PacketStore, PictureCodec::*};
    use ffmpeg_next::Packet;

    fn store(times: &[(Option<i64>, Option<i64>)]) -> PacketStore {
        let mut s = PacketStore::new(None, false, None, None);
        for &(pts, dts) in times {
            let mut p = Packet::copy(&[1, 2, 3]);
            p.set_pts(pts);
            p.set_dts(dts);
            p.set_duration(10);
            s.push(p);
        }
        s
    }

    fn pts(s: &PacketStore) -> Vec<Option<i64>> {
        (0..s.len()).map(|i| s.fetch(i).unwrap().pts()).collect()
    }

    #[test]
    fn restarts_are_joined_in_decode_order() {
        // Two cuts joined as they were: the second starts at 0 again.
        let t = |v: i64| (Some(v), Some(v));
        let mut s = store(&[t(0), t(10), t(20), t(0), t(10), t(5)]);
        assert_eq!(s.join_restarts(false, true), 2);
        assert_eq!(pts(&s), [0, 10, 20, 30, 40, 50].map(Some));
        // A muxer's repair of that: the last time repeated. Where a packet may hold a picture
        // that is not shown (VP8's alt-ref frames), repeats stay.
        let stalled = [t(0), t(10), t(10), t(10), t(20)];
        let mut s = store(&stalled);
        assert_eq!(s.join_restarts(false, true), 2);
        assert_eq!(pts(&s), [0, 10, 20, 30, 40].map(Some));
        let mut s = store(&stalled);
        assert_eq!(s.join_restarts(false, false), 0);
        // Presentation times only: the same.
        let mut s = store(&[(Some(0), None), (Some(10), None), (Some(0), None)]);
        assert_eq!(s.join_restarts(false, true), 1);
        assert_eq!(pts(&s), [0, 10, 20].map(Some));
        // A codec that reorders: nothing moves.
        let b = [
            (Some(0), Some(-10)),
            (Some(20), Some(0)),
            (Some(10), Some(0)),
            (Some(0), Some(-20)),
        ];
        let mut s = store(&b);
        assert_eq!(s.join_restarts(true, true), 0);
        assert_eq!(pts(&s), [0, 20, 10, 0].map(Some));
    }

    #[test]
    fn picture_types() {
        assert_eq!(
            picture_type(Mpeg4, &[0, 0, 1, 0xB0, 1, 0, 0, 1, 0xB6, 0x10, 0xff]),
            Some(0)
        );
        assert_eq!(picture_type(Mpeg4, &[0, 0, 1, 0xB6, 0x80, 0]), Some(2));
        assert_eq!(picture_type(Mpeg4, &[0, 0, 1, 0xB6, 0x40]), Some(1));
        let packed = [0, 0, 1, 0xB6, 0x40, 0, 0, 1, 0xB6, 0x80];
        assert_eq!(
            picture_type(Mpeg4, &packed),
            Some(1),
            "the first of a packed pair"
        );
        assert_eq!(pictures_in(Mpeg4, &packed), 2, "packed B-frame");
        assert_eq!(pictures_in(Mpeg4, &[0, 0, 1, 0xB6, 0x80, 0]), 1);
        assert_eq!(picture_type(Mpeg4, &[0, 0, 1, 0xB3, 0x40]), None);
        // sequence header, then a picture: temporal reference 5, coding type 3 (B)
        let b = [0, 0, 1, 0xB3, 9, 9, 0, 0, 1, 0x00, 0x01, 0x40 | (3 << 3), 0xff];
        assert_eq!(picture_type(Mpeg12, &b), Some(2));
        assert_eq!(picture_type(Mpeg12, &[0, 0, 1, 0x00, 0x00, 1 << 3]), Some(0));
        assert_eq!(picture_type(Mpeg12, &[0, 0, 1, 0x00, 0x00, 2 << 3]), Some(1));
        let fields = [0, 0, 1, 0x00, 0x00, 1 << 3, 0, 0, 1, 0x00, 0x00, 1 << 3];
        assert_eq!(pictures_in(Mpeg12, &fields), 2, "field pictures");
    }
}
