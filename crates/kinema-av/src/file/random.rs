//! Random access: a pool of long-lived decoders ("cursors"), each left where it stopped in its
//! GOP, serves a frame with the one that reaches it cheapest (or the least recently used one,
//! repositioned at the frame's key frame); frames decoded on the way go into the cache.

use std::collections::HashSet;

use ffmpeg::frame;
use ffmpeg_next as ffmpeg;

use super::{no_picture, FileReader};
use crate::convert::frame_bytes;
use crate::decoder::{decoder_threads, share, Cursor};
use crate::error::{AvError, Result};
use crate::index::FrameEntry;
use crate::types::FrameBatch;

impl FileReader {
    /// The packet decoding for frame `t` starts from: its key frame, or an earlier one where
    /// starting at its own lost pictures.
    fn start_of(&self, f: &FrameEntry) -> usize {
        self.earlier_start
            .get(&f.start_pkt)
            .copied()
            .unwrap_or(f.start_pkt)
    }

    /// Frame threads for a decoder that starts at packet `start` to reach frame `t` (and, in a
    /// batch, the batch's later frames decoded from the same start). Frame threads pay for
    /// themselves over a long run only: each restart flushes and refills their pipeline and
    /// decodes a picture past the one asked for. A short run (a random frame in a short GOP,
    /// or in a stream of small pictures) decodes faster on this thread alone, up to 2x on
    /// real files; runs read in order get the threads.
    fn threads_for(&self, t: usize, start: usize, batch: Option<&HashSet<usize>>) -> usize {
        let threads = decoder_threads(self.opts.num_threads);
        if threads == 1 || self.in_order >= IN_ORDER {
            return threads;
        }
        let last = batch
            .into_iter()
            .flatten()
            .map(|&b| &self.index.frames[b])
            .filter(|b| self.start_of(b) == start)
            .map(|b| b.pkt)
            .fold(self.index.frames[t].pkt, usize::max)
            .min(self.packets.len().saturating_sub(1));
        let run = start.min(last)..=last;
        let bytes: usize = run.clone().map(|i| self.packets.size(i)).sum();
        if run.count() >= THREADED_PACKETS && bytes >= THREADED_BYTES {
            threads
        } else {
            1
        }
    }

    /// Picks the cursor that reaches frame `t` cheapest, or repositions the least recently
    /// used one of the right kind (`threads_for`) at `t`'s key frame. Returns its slot.
    fn cursor_for(&mut self, t: usize, batch: Option<&HashSet<usize>>) -> Result<usize> {
        let f = self.index.frames[t];
        let start = self.start_of(&f);
        self.clock += 1;
        let threads = decoder_threads(self.opts.num_threads);
        let best = self
            .cursors
            .iter()
            .enumerate()
            .filter(|(_, c)| c.reaches(t, &f, start))
            .max_by_key(|(_, c)| c.stamp)
            .map(|(i, _)| i)
            // A single-threaded decoder that turns out to be read in order hands over to a
            // threaded one at once (it decodes the few frames read so far again, then goes on).
            .filter(|&i| !(self.cursors[i].threads < threads && self.in_order >= IN_ORDER));
        let slot = match best {
            Some(i) => i,
            None => {
                let want = self.threads_for(t, start, batch);
                let lru = |cs: &[Cursor], kind: Option<usize>| {
                    (0..cs.len())
                        .filter(|&i| kind.is_none_or(|k| cs[i].threads == k))
                        .min_by_key(|&i| cs[i].stamp)
                };
                let slot = if self.cursors.len() < self.max_decoders() {
                    let c = self.new_cursor(want)?;
                    self.cursors.push(c);
                    self.cursors.len() - 1
                } else if let Some(i) = lru(&self.cursors, Some(want)) {
                    i
                } else {
                    let i = lru(&self.cursors, None).unwrap_or(0);
                    let c = self.new_cursor(want)?;
                    let old = std::mem::replace(&mut self.cursors[i], c);
                    self.retired.0 += old.packets_sent;
                    self.retired.1 += old.packets_skipped;
                    i
                };
                let key_pts = self.index.pkt_frame[start].map(|k| self.index.frames[k].pts);
                let min_pts = key_pts.unwrap_or(i64::MIN);
                let first_key = self.index.frames[0].start_pkt;
                self.cursors[slot].seek(&self.packets, start, min_pts, first_key);
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
            let slot = self.cursor_for(t, want)?;
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

    /// Decodes up to frame `t` without caching; returns the slot of the cursor holding it.
    pub(super) fn decode_to(&mut self, t: usize) -> Result<usize> {
        self.decode_to_inner(t, false, None)
    }

    /// Decoded frame `idx`: from the cache, or decoded (through the cache when `cache`; for a
    /// batch when `batch` names its frames).
    pub(super) fn frame_at(
        &mut self,
        idx: usize,
        cache: bool,
        batch: Option<&HashSet<usize>>,
    ) -> Result<frame::Video> {
        if let Some(f) = self.cache.get(idx) {
            return Ok(share(f));
        }
        let slot = self.decode_to_inner(idx, cache, batch)?;
        Ok(share(self.cursors[slot].frame()))
    }

    /// Records a read of frames `first..=last`: one that starts a frame or two after the last
    /// read continues reading in order and adds `weight` to the run of such reads (a batch
    /// counts as `IN_ORDER` at once); any other read ends the run.
    pub(super) fn note_read(&mut self, first: usize, last: usize, weight: usize) {
        let near = self.last_get.is_some_and(|l| first > l && first - l <= 2);
        self.in_order = if near { self.in_order + weight } else { 0 };
        self.last_get = Some(last);
    }

    /// One frame, through the cache: random single-frame access does not decode a GOP twice.
    pub fn get(&mut self, idx: usize) -> Result<FrameBatch> {
        self.check(idx)?;
        self.note_read(idx, idx, 1);
        let f = self.frame_at(idx, true, None)?;
        self.confirm(&f)?;
        let mut out = FrameBatch::zeros(1, self.info.out_height as usize, self.info.out_width as usize);
        self.convert(&f, &mut out.data)?;
        Ok(out)
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

/// A restarted decoder gets frame threads from this many packets and bytes on (measured on
/// the real-world corpus and the decode benchmark's videos; 2 cores).
const THREADED_PACKETS: usize = 12;
const THREADED_BYTES: usize = 64 << 10;
/// Single-frame reads in order after which a run counts as read in order.
pub(super) const IN_ORDER: usize = 4;

/// Earlier key frames tried, one after the other, for a frame its own GOP does not show.
const MAX_EARLIER_GOPS: usize = 2;

/// Skipped frames asked for in one GOP before single-frame reads stop skipping there.
const DENSE_AFTER_MISSES: u32 = 1;
