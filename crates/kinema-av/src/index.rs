//! The frame index: which packets are frames, in which presentation order, and from which
//! key frame each one can be decoded. Pure logic, built once per open from the demuxed packets.

/// What the index needs to know about one demuxed packet (decode order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PacketMeta {
    /// Presentation timestamp in stream time base units, or the decode timestamp when the
    /// container gives no pts (streams without reordering).
    pub pts: Option<i64>,
    pub key: bool,
    /// FFmpeg's `AV_PKT_FLAG_DISCARD`: decoded for reference, never shown (edit lists).
    pub discard: bool,
    pub duration: i64,
}

/// One shown frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameEntry {
    pub pts: i64,
    /// Position of the frame's packet in decode order.
    pub pkt: usize,
    /// Decode-order position of the key packet to start decoding from to get this frame right.
    pub start_pkt: usize,
    pub key: bool,
    pub duration: i64,
    /// The decoder gives this frame no timestamp (the last pictures flushed at the end of a
    /// stream without presentation times): it is the frame after the one before it.
    pub untimed: bool,
}

/// Frames in presentation order plus the key frames.
#[derive(Debug, Clone, Default)]
pub(crate) struct FrameIndex {
    pub frames: Vec<FrameEntry>,
    pub key_indices: Vec<usize>,
    /// Frame index of each packet (decode order), `None` for packets that are not frames.
    pub pkt_frame: Vec<Option<usize>>,
}

impl FrameIndex {
    /// Builds the index. Packets before the first key packet are left out: a decoder cannot
    /// reconstruct them and the ffmpeg CLI does not show them either.
    #[cfg(test)]
    pub fn build(packets: &[PacketMeta]) -> FrameIndex {
        FrameIndex::build_with_leading(packets, &[])
    }

    /// As [`build`](Self::build); pictures after the first key packet shown before it whose
    /// pts is in `leading` (an open GOP at the start, as a decoder showed it) are frames too,
    /// decoded from the first key packet.
    pub fn build_with_leading(packets: &[PacketMeta], leading: &[i64]) -> FrameIndex {
        let first_key = match packets.iter().position(|p| p.key) {
            Some(k) => k,
            None => return FrameIndex::default(),
        };
        // (decode position, pts) of every key packet.
        let keys: Vec<(usize, i64)> = packets
            .iter()
            .enumerate()
            .filter(|(_, p)| p.key && p.pts.is_some())
            .map(|(i, p)| (i, p.pts.unwrap_or_default()))
            .collect();
        let mut frames: Vec<FrameEntry> = Vec::with_capacity(packets.len());
        for (pos, p) in packets.iter().enumerate().skip(first_key) {
            let Some(pts) = p.pts else { continue };
            if p.discard {
                continue;
            }
            // Last key packet at or before `pos` whose pts is not after ours: leading pictures
            // of an open GOP need the key frame before.
            let mut k = keys.partition_point(|&(kp, _)| kp <= pos);
            let mut start = None;
            while k > 0 {
                k -= 1;
                if keys[k].1 <= pts {
                    start = Some(keys[k].0);
                    break;
                }
            }
            let start = start.or_else(|| leading.contains(&pts).then_some(first_key));
            let Some(start_pkt) = start else { continue };
            frames.push(FrameEntry {
                pts,
                pkt: pos,
                start_pkt,
                key: p.key,
                duration: p.duration,
                untimed: false,
            });
        }
        frames.sort_by_key(|f| (f.pts, f.pkt));
        frames.dedup_by_key(|f| f.pts);
        let key_indices = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.key)
            .map(|(i, _)| i)
            .collect();
        let mut pkt_frame = vec![None; packets.len()];
        for (i, f) in frames.iter().enumerate() {
            pkt_frame[f.pkt] = Some(i);
        }
        if frames
            .first()
            .is_some_and(|f| f.start_pkt == first_key && f.pkt != first_key)
        {
            // A seek to the first key packet keeps the leading pictures shown before it.
            pkt_frame[first_key] = Some(0);
        }
        FrameIndex {
            frames,
            key_indices,
            pkt_frame,
        }
    }

    /// The index of a stream whose display order only a decoder knows (packets without
    /// presentation times that reorder, DivX packed B-frames): `outputs` are the frames a
    /// decode of every packet gave, in output order, as (timestamp, key picture); `key_pkts`
    /// the key packets in decode order. Output key picture m is key packet m's; each frame is
    /// decoded from the key picture last output before it (the first key packet when the two
    /// lists disagree, which is slow but right). `None` when the timestamps do not increase.
    pub fn from_decode(
        outputs: &[(Option<i64>, bool)],
        key_pkts: &[usize],
        packets: usize,
    ) -> Option<FrameIndex> {
        // Frames without a timestamp take the one after the frame before.
        let mut timed = Vec::with_capacity(outputs.len());
        let mut last: Option<i64> = None;
        for &(ts, key) in outputs {
            let (t, untimed) = match (ts, last) {
                (Some(t), _) => (t, false),
                (None, Some(l)) => (l + 1, true),
                (None, None) => return None,
            };
            timed.push((t, key, untimed));
            last = Some(t);
        }
        if timed.is_empty() || key_pkts.is_empty() || timed.windows(2).any(|w| w[1].0 <= w[0].0) {
            return None;
        }
        let outputs = timed;
        // Frames output before the first key picture (leading pictures of an open GOP at the
        // start, which some decoders show) are decoded from the first key packet too.
        let keys_out = outputs.iter().filter(|o| o.1).count();
        let matched = keys_out == key_pkts.len();
        let mut frames = Vec::with_capacity(outputs.len());
        let mut m = 0usize;
        let mut seen_key = false;
        for (i, &(pts, key, untimed)) in outputs.iter().enumerate() {
            if key && seen_key {
                m += 1;
            }
            seen_key |= key;
            let start_pkt = if matched { key_pkts[m] } else { key_pkts[0] };
            let own_key = matched && key;
            frames.push(FrameEntry {
                pts,
                pkt: start_pkt,
                start_pkt,
                key: own_key,
                duration: outputs.get(i + 1).map_or(0, |n| n.0 - pts),
                untimed,
            });
        }
        let key_indices: Vec<usize> = if matched {
            frames
                .iter()
                .enumerate()
                .filter(|(_, f)| f.key)
                .map(|(i, _)| i)
                .collect()
        } else {
            vec![0]
        };
        if !matched {
            frames[0].key = true;
        }
        // Only key packets map to a frame (their own picture): what a seek to one drops
        // before; other packets may hold several pictures or none. The first key packet maps
        // to frame 0, so that leading pictures shown before its own are kept.
        let mut pkt_frame = vec![None; packets];
        for &k in &key_indices {
            pkt_frame[frames[k].start_pkt] = Some(k);
        }
        pkt_frame[frames[0].start_pkt] = Some(0);
        Some(FrameIndex {
            frames,
            key_indices,
            pkt_frame,
        })
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Presentation index of the frame with this pts.
    pub fn find_pts(&self, pts: i64) -> Option<usize> {
        self.frames.binary_search_by_key(&pts, |f| f.pts).ok()
    }

    /// Duration of frame `i` in time-base units: the gap to the next frame (packet durations
    /// follow decode order, so they are wrong under reordering), else for the last frame its
    /// packet's, else the previous gap.
    pub fn frame_duration(&self, i: usize) -> i64 {
        let f = &self.frames[i];
        if let Some(n) = self.frames.get(i + 1) {
            return n.pts - f.pts;
        }
        if f.duration > 0 {
            return f.duration;
        }
        if i > 0 {
            return f.pts - self.frames[i - 1].pts;
        }
        0
    }

    /// The last frame whose start is at or before `pts` (None if `pts` is before frame 0).
    pub fn frame_at_pts(&self, pts: i64) -> Option<usize> {
        let n = self.frames.partition_point(|f| f.pts <= pts);
        n.checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pts: i64, key: bool) -> PacketMeta {
        PacketMeta {
            pts: Some(pts),
            key,
            discard: false,
            duration: 1,
        }
    }

    #[test]
    fn b_frames_are_reordered_by_pts() {
        // I0 P3 B1 B2 P6 B4 B5 (decode order)
        let pk = [
            p(0, true),
            p(3, false),
            p(1, false),
            p(2, false),
            p(6, false),
            p(4, false),
            p(5, false),
        ];
        let ix = FrameIndex::build(&pk);
        let pts: Vec<i64> = ix.frames.iter().map(|f| f.pts).collect();
        assert_eq!(pts, vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(ix.frames[3].pkt, 1);
        assert_eq!(ix.pkt_frame[1], Some(3));
        assert!(ix.frames.iter().all(|f| f.start_pkt == 0));
        assert_eq!(ix.key_indices, vec![0]);
        assert_eq!(ix.find_pts(4), Some(4));
        assert_eq!(ix.frame_at_pts(-1), None);
        assert_eq!(ix.frame_at_pts(100), Some(6));
    }

    #[test]
    fn open_gop_leading_pictures_start_from_previous_key() {
        // GOP 1: I0 P2 B1 ; GOP 2: I5 B3 B4 (leading, pts before the key) P6
        let pk = [
            p(0, true),
            p(2, false),
            p(1, false),
            p(5, true),
            p(3, false),
            p(4, false),
            p(6, false),
        ];
        let ix = FrameIndex::build(&pk);
        assert_eq!(ix.len(), 7);
        assert_eq!(
            ix.frames[3].start_pkt, 0,
            "leading picture needs the previous GOP"
        );
        assert_eq!(ix.frames[5].start_pkt, 3);
        assert_eq!(ix.frames[6].start_pkt, 3);
        assert_eq!(ix.key_indices, vec![0, 5]);
    }

    #[test]
    fn discarded_and_pre_key_packets_are_not_frames() {
        let mut d = p(-2, false);
        d.discard = true;
        let pk = [p(-5, false), p(-4, true), d, p(0, false), p(1, false)];
        let ix = FrameIndex::build(&pk);
        let pts: Vec<i64> = ix.frames.iter().map(|f| f.pts).collect();
        assert_eq!(pts, vec![-4, 0, 1]);
        assert_eq!(FrameIndex::build(&[p(0, false)]).len(), 0);
    }

    #[test]
    fn durations_fall_back_to_gaps() {
        let mut pk = vec![p(0, true), p(10, false), p(30, false)];
        for q in &mut pk {
            q.duration = 0;
        }
        let ix = FrameIndex::build(&pk);
        assert_eq!(ix.frame_duration(0), 10);
        assert_eq!(ix.frame_duration(1), 20);
        assert_eq!(ix.frame_duration(2), 20);
        pk[2].duration = 7;
        assert_eq!(FrameIndex::build(&pk).frame_duration(2), 7);
    }

    #[test]
    fn index_from_a_decode_pass() {
        // Output order: key picture (ts 1), two frames, a second key (ts 4), one more, and a
        // last one flushed without timestamp. Key packets at decode positions 0 and 3.
        let out = [
            (Some(1), true),
            (Some(2), false),
            (Some(3), false),
            (Some(4), true),
            (Some(5), false),
            (None, false),
        ];
        let ix = FrameIndex::from_decode(&out, &[0, 3], 7).unwrap();
        assert_eq!(ix.len(), 6);
        assert_eq!(ix.key_indices, vec![0, 3]);
        let starts: Vec<usize> = ix.frames.iter().map(|f| f.start_pkt).collect();
        assert_eq!(starts, vec![0, 0, 0, 3, 3, 3]);
        assert_eq!((ix.frames[5].pts, ix.frames[5].untimed), (6, true));
        assert_eq!(
            (ix.pkt_frame[0], ix.pkt_frame[3], ix.pkt_frame[1]),
            (Some(0), Some(3), None)
        );
        // Key pictures and key packets that do not pair up: every frame from the first key.
        let ix = FrameIndex::from_decode(&out, &[0, 2, 3], 7).unwrap();
        assert!(ix.frames.iter().all(|f| f.start_pkt == 0));
        // Timestamps that go back, or none before the first: no index from this pass.
        assert!(FrameIndex::from_decode(&[(Some(2), true), (Some(1), false)], &[0], 2).is_none());
        assert!(FrameIndex::from_decode(&[(None, true)], &[0], 1).is_none());
    }
}
