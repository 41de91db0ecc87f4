//! Which frames a clip reads: GluonCV's `VideoClsCustom` sampling, formula for formula.
//!
//! Offsets are 1-based like GluonCV's (`offsets + 1`); the frame ids returned are 0-based and in
//! the order GluonCV's decord loader reads them (`frame_id_list`). See `docs/data.md` for the
//! formulae.

use crate::clip::ClipSpec;
use crate::error::{DataError, Result};
use crate::rng::Rng;

/// GluonCV's three modes: `train=True`, `train=False` (validation), `test_mode=True`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Random segment offsets (TSN training), random crops and flips.
    Train,
    /// Centre of each segment, centre crop.
    Val,
    /// Like `Val`, but short videos still spread their segments, and multi-crop views.
    Test,
}

impl std::str::FromStr for Mode {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Mode> {
        match s {
            "train" => Ok(Mode::Train),
            "val" => Ok(Mode::Val),
            "test" => Ok(Mode::Test),
            _ => Err(DataError::InvalidOption(format!(
                "mode {s:?}: expected train, val or test"
            ))),
        }
    }
}

impl ClipSpec {
    /// Checks the combination the way GluonCV asserts it; an error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(DataError::InvalidOption(m.to_string()));
        if self.num_segments == 0 || self.new_length == 0 || self.new_step == 0 {
            return bad("num_segments, new_length and new_step must be at least 1");
        }
        if self.target_width == 0 || self.target_height == 0 {
            return bad("target_width and target_height must be positive");
        }
        if self.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) || self.mean.iter().any(|m| !m.is_finite()) {
            return bad("mean must be finite and std positive");
        }
        if self.slowfast {
            if self.fast_temporal_stride == 0 || self.slow_temporal_stride == 0 {
                return bad("slow_temporal_stride and fast_temporal_stride must be at least 1");
            }
            if !self
                .slow_temporal_stride
                .is_multiple_of(self.fast_temporal_stride)
            {
                return bad("slow_temporal_stride must be a multiple of fast_temporal_stride");
            }
            if self.temporal_jitter {
                return bad("slowfast does not support temporal_jitter");
            }
            if self.new_step != 1 {
                return bad("slowfast reads consecutive frames: new_step must be 1");
            }
            if self.new_length < self.fast_temporal_stride {
                return bad("slowfast: new_length is shorter than fast_temporal_stride (no frame read)");
            }
        }
        Ok(())
    }

    /// `new_length * new_step`: the span of one segment's clip.
    pub fn skip_length(&self) -> usize {
        self.new_length * self.new_step
    }

    /// Frames per view along T: `new_length`, or fast + slow frames for SlowFast.
    pub fn frames_per_view(&self) -> usize {
        if self.slowfast {
            let n = self.skip_length().div_ceil(self.new_step);
            n / self.fast_temporal_stride + n / self.slow_temporal_stride
        } else {
            self.new_length
        }
    }

    /// GluonCV's `_sample_{train,val,test}_indices`: 1-based segment offsets and per-frame skip
    /// offsets. `rng` is drawn from only in train mode and with temporal jitter.
    pub fn offsets(&self, num_frames: usize, mode: Mode, rng: &mut Rng) -> (Vec<usize>, Vec<usize>) {
        let n = num_frames as i64;
        let segs = self.num_segments as i64;
        let skip = self.skip_length() as i64;
        let centred = |span: i64| -> Vec<usize> {
            let tick = span as f64 / segs as f64;
            (0..segs)
                .map(|x| (tick / 2.0 + tick * x as f64) as usize)
                .collect()
        };
        let mut offsets = match mode {
            Mode::Train => {
                let average = (n - skip + 1).div_euclid(segs);
                if average > 0 {
                    (0..segs)
                        .map(|i| (i * average) as usize + rng.below(average as u64) as usize)
                        .collect()
                } else if n > segs.max(skip) {
                    let mut o: Vec<usize> = (0..segs)
                        .map(|_| rng.below((n - skip + 1) as u64) as usize)
                        .collect();
                    o.sort_unstable();
                    o
                } else {
                    vec![0; self.num_segments]
                }
            }
            Mode::Val if n > segs + skip - 1 => centred(n - skip + 1),
            Mode::Test if n > skip - 1 => centred(n - skip + 1),
            Mode::Val | Mode::Test => vec![0; self.num_segments],
        };
        offsets.iter_mut().for_each(|o| *o += 1);
        let count = self.skip_length() / self.new_step;
        let skips = if self.temporal_jitter {
            (0..count)
                .map(|_| rng.below(self.new_step as u64) as usize)
                .collect()
        } else {
            vec![0; count]
        };
        (offsets, skips)
    }

    /// The 0-based frame ids a clip reads, in GluonCV's order (`frame_id_list`): per segment,
    /// `new_length` frames `new_step` apart (held at the last frame near the end); for SlowFast
    /// each segment's fast frames followed by its slow frames.
    pub fn frame_indices(&self, num_frames: usize, mode: Mode, rng: &mut Rng) -> Vec<usize> {
        let (offsets, skips) = self.offsets(num_frames, mode, rng);
        self.frame_ids(num_frames, &offsets, &skips)
    }

    /// The frame ids of a window: frames `start .. start + len` read as if they were a video
    /// of their own in val mode (segments centred in it), shifted back into a video of
    /// `num_frames` frames (what a sliding-window tagger reads).
    pub fn window_indices(&self, num_frames: usize, start: usize, len: usize) -> Vec<usize> {
        let len = len.clamp(1, num_frames.saturating_sub(start).max(1));
        let (mut offsets, skips) = self.offsets(len, Mode::Val, &mut Rng::new(0));
        offsets.iter_mut().for_each(|o| *o += start);
        self.frame_ids(num_frames, &offsets, &skips)
    }

    /// Frame ids from 1-based segment offsets and per-frame skips (GluonCV's `_get_frame_id_list`).
    fn frame_ids(&self, num_frames: usize, offsets: &[usize], skips: &[usize]) -> Vec<usize> {
        let n = num_frames;
        let steps = self.skip_length().div_ceil(self.new_step);
        let mut ids = Vec::with_capacity(offsets.len() * self.frames_per_view());
        let mut fast = Vec::new();
        let mut slow = Vec::new();
        for &start in offsets {
            let mut offset = start;
            fast.clear();
            slow.clear();
            for i in 0..steps {
                let skip = skips.get(i).copied().unwrap_or(0);
                let id = if offset + skip <= n {
                    offset + skip - 1
                } else {
                    offset - 1
                };
                if !self.slowfast {
                    ids.push(id);
                } else if (i + 1) % self.fast_temporal_stride == 0 {
                    fast.push(id);
                    if (i + 1) % self.slow_temporal_stride == 0 {
                        slow.push(id);
                    }
                }
                if offset + self.new_step < n {
                    offset += self.new_step;
                }
            }
            ids.extend_from_slice(&fast);
            ids.extend_from_slice(&slow);
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(s: &ClipSpec, n: usize) -> Vec<usize> {
        s.frame_indices(n, Mode::Val, &mut Rng::new(0))
    }

    #[test]
    fn windows_read_their_own_frames() {
        let s = ClipSpec {
            new_length: 4,
            new_step: 2,
            ..Default::default()
        };
        // A window as long as the clip starts at its first frame.
        assert_eq!(s.window_indices(100, 40, 8), vec![40, 42, 44, 46]);
        // A longer window centres the clip: offset (16 - 8 + 1) / 2 = 4.
        assert_eq!(s.window_indices(100, 40, 16), vec![44, 46, 48, 50]);
        // At the end of the video the frames hold at the last one.
        assert_eq!(s.window_indices(45, 40, 8), vec![40, 42, 42, 42]);
        let t = ClipSpec {
            num_segments: 3,
            ..Default::default()
        };
        assert_eq!(t.window_indices(100, 30, 30), vec![35, 45, 55]);
    }

    #[test]
    fn tsn_val_takes_segment_centres() {
        let s = ClipSpec {
            num_segments: 3,
            ..Default::default()
        };
        // tick = 30/3 = 10: offsets 5, 15, 25 (0-based ids)
        assert_eq!(val(&s, 30), vec![5, 15, 25]);
        // too short for val: all segments at the first frame; test mode still spreads them
        assert_eq!(val(&s, 3), vec![0, 0, 0]);
        assert_eq!(s.frame_indices(3, Mode::Test, &mut Rng::new(0)), vec![0, 1, 2]);
    }

    #[test]
    fn dense_clip_holds_at_the_end() {
        let s = ClipSpec {
            new_length: 4,
            new_step: 2,
            ..Default::default()
        };
        // n=20: tick = 13, offset = int(6.5) = 6 -> ids 6, 8, 10, 12
        assert_eq!(val(&s, 20), vec![6, 8, 10, 12]);
        // n=5 (shorter than the span 8): offset 1; offset advances only while offset+2 < 5
        assert_eq!(val(&s, 5), vec![0, 2, 2, 2]);
        assert_eq!(val(&s, 1), vec![0, 0, 0, 0]);
    }

    #[test]
    fn slowfast_layout_is_fast_then_slow() {
        let s = ClipSpec {
            new_length: 8,
            slowfast: true,
            slow_temporal_stride: 4,
            fast_temporal_stride: 2,
            ..Default::default()
        };
        assert_eq!(s.frames_per_view(), 6);
        // n=8: offset 1, held at 7 (GluonCV never reads the last frame here);
        // fast = steps {1,3,5,7}, slow = steps {3,7}
        assert_eq!(val(&s, 8), vec![1, 3, 5, 6, 3, 6]);
        s.validate().unwrap();
        let bad = ClipSpec {
            new_step: 2,
            ..s.clone()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn train_offsets_stay_in_their_segment_and_are_seeded() {
        let s = ClipSpec {
            num_segments: 4,
            new_length: 2,
            new_step: 3,
            temporal_jitter: true,
            ..Default::default()
        };
        for seed in 0..50 {
            let ids = s.frame_indices(100, Mode::Train, &mut Rng::new(seed));
            assert_eq!(ids.len(), 8);
            assert!(ids.iter().all(|&i| i < 100));
            // average duration (100-6+1)//4 = 23: segment k starts in [23k, 23k+23)
            for k in 0..4 {
                assert!(ids[2 * k] >= 23 * k && ids[2 * k] < 23 * k + 23 + 3, "{ids:?}");
            }
            assert_eq!(ids, s.frame_indices(100, Mode::Train, &mut Rng::new(seed)));
        }
        let a = s.frame_indices(100, Mode::Train, &mut Rng::new(1));
        let b = s.frame_indices(100, Mode::Train, &mut Rng::new(2));
        assert_ne!(a, b);
        // short video: sorted random offsets, then all zeros
        let short = s.frame_indices(8, Mode::Train, &mut Rng::new(3));
        assert!(short.iter().all(|&i| i < 8));
        assert_eq!(s.offsets(4, Mode::Train, &mut Rng::new(3)).0, vec![1; 4]);
    }
}
