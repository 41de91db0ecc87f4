//! decord's `VideoLoader`: batches of `batch` frames, each batch from one video, frames
//! `interval` apart inside a batch and `skip` frames between batches, over a list of files.
//!
//! The batch starts follow decord's sequential sampler: in a video of `n` frames, with
//! `span = batch * (interval + 1) - interval`, batches start at `0, span + skip, ...` while
//! `start + span < n - 1`. Shuffle modes: 0 files and batches in order; 1 random interleaving
//! of the files, each file's batches in order; 2 all batches in random order; 3 the files in
//! order, the batches inside each file in random order.

use std::path::{Path, PathBuf};

use kinema_av::{FrameBatch, Interpolation, ReaderOptions, VideoReader};

use crate::error::{DataError, Result};
use crate::pool::{ordered, Ordered};
use crate::rng::Rng;

/// Settings beyond decord's positional ones.
#[derive(Debug, Clone)]
pub struct VideoLoaderOptions {
    /// Worker threads (0: decode in the calling thread).
    pub num_workers: usize,
    /// Batches each worker may have ready ahead.
    pub prefetch: usize,
    /// Seed of the shuffles.
    pub seed: u64,
    /// Decoder threads per reader.
    pub reader_threads: usize,
    /// Scaler of the resize to `shape`: decord's bilinear by default, so batches hold the
    /// pixels decord's loader gives.
    pub interpolation: Interpolation,
}

impl Default for VideoLoaderOptions {
    fn default() -> Self {
        VideoLoaderOptions {
            num_workers: 2,
            prefetch: 2,
            seed: 0,
            reader_threads: 1,
            interpolation: Interpolation::Bilinear,
        }
    }
}

/// One batch: `[batch, H, W, 3]` frames and, per frame, `(video index, frame index)`.
#[derive(Debug, Clone)]
pub struct VideoBatch {
    /// The frames.
    pub frames: FrameBatch,
    /// decord's indices array, `[batch, 2]`.
    pub indices: Vec<[usize; 2]>,
}

/// decord's `VideoLoader(uris, ctx, shape, interval, skip, shuffle)`.
#[derive(Debug, Clone)]
pub struct VideoLoader {
    uris: Vec<PathBuf>,
    lens: Vec<usize>,
    shape: [usize; 4],
    interval: usize,
    skip: usize,
    shuffle: u8,
    options: VideoLoaderOptions,
}

impl VideoLoader {
    /// Opens every video once (for its length). `shape` is `(batch, height, width, 3)`.
    pub fn new(
        uris: &[impl AsRef<Path>],
        shape: [usize; 4],
        interval: usize,
        skip: usize,
        shuffle: u8,
        options: VideoLoaderOptions,
    ) -> Result<VideoLoader> {
        let bad = |m: String| Err(DataError::InvalidOption(m));
        if uris.is_empty() {
            return bad("VideoLoader needs at least one video".into());
        }
        if shape[0] == 0 || shape[1] == 0 || shape[2] == 0 || shape[3] != 3 {
            return bad(format!(
                "shape {shape:?}: expected (batch, height, width, 3), all positive"
            ));
        }
        if shuffle > 3 {
            return bad(format!("shuffle {shuffle}: expected 0, 1, 2 or 3"));
        }
        let mut lens = Vec::with_capacity(uris.len());
        for u in uris {
            let r = VideoReader::open(u.as_ref()).map_err(|error| DataError::Video {
                path: u.as_ref().to_path_buf(),
                error,
            })?;
            lens.push(r.len());
        }
        Ok(VideoLoader {
            uris: uris.iter().map(|u| u.as_ref().to_path_buf()).collect(),
            lens,
            shape,
            interval,
            skip,
            shuffle,
            options,
        })
    }

    /// The batch starts `(video, first frame)` of one epoch, in visiting order.
    pub fn order(&self, epoch: u64) -> Vec<(usize, usize)> {
        let bs = self.shape[0];
        let span = bs * (self.interval + 1) - self.interval;
        let per_file: Vec<Vec<(usize, usize)>> = self
            .lens
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let mut v = Vec::new();
                let mut b = 0;
                while b + span + 1 < n {
                    v.push((i, b));
                    b += span + self.skip;
                }
                v
            })
            .collect();
        let mut rng = Rng::for_sample(self.options.seed, epoch, u64::MAX - 1);
        match self.shuffle {
            1 => {
                let mut slots: Vec<usize> = per_file
                    .iter()
                    .enumerate()
                    .flat_map(|(i, v)| vec![i; v.len()])
                    .collect();
                rng.shuffle(&mut slots);
                let mut next = vec![0; per_file.len()];
                slots
                    .into_iter()
                    .map(|i| {
                        next[i] += 1;
                        per_file[i][next[i] - 1]
                    })
                    .collect()
            }
            2 => {
                let mut all: Vec<_> = per_file.into_iter().flatten().collect();
                rng.shuffle(&mut all);
                all
            }
            3 => per_file
                .into_iter()
                .flat_map(|mut v| {
                    rng.shuffle(&mut v);
                    v
                })
                .collect(),
            _ => per_file.into_iter().flatten().collect(),
        }
    }

    /// Batches per epoch.
    pub fn len(&self) -> usize {
        self.order(0).len()
    }

    /// True when no video is long enough for one batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batches of `epoch`, in order.
    pub fn epoch(&self, epoch: u64) -> Ordered<(usize, usize), Result<VideoBatch>> {
        let me = self.clone();
        ordered(
            self.order(epoch),
            self.options.num_workers,
            self.options.prefetch,
            move || {
                let me = me.clone();
                // Each worker keeps its last reader: consecutive batches of a file decode on.
                let mut open: Option<(usize, VideoReader)> = None;
                move |&(file, start): &(usize, usize)| me.read(&mut open, file, start)
            },
            |k| {
                Err(DataError::InvalidOption(format!(
                    "video loader worker for batch {k} stopped unexpectedly"
                )))
            },
        )
    }

    fn read(&self, open: &mut Option<(usize, VideoReader)>, file: usize, start: usize) -> Result<VideoBatch> {
        let path = &self.uris[file];
        let video = |error| DataError::Video {
            path: path.clone(),
            error,
        };
        if open.as_ref().is_none_or(|(f, _)| *f != file) {
            let o = ReaderOptions {
                num_threads: self.options.reader_threads,
                cache_bytes: 64 << 20,
                interpolation: self.options.interpolation,
                ..ReaderOptions::default().size(self.shape[2] as u32, self.shape[1] as u32)
            };
            *open = Some((file, VideoReader::open_with(path, &o).map_err(video)?));
        }
        let reader = &mut open.as_mut().expect("opened above").1;
        let ids: Vec<usize> = (0..self.shape[0])
            .map(|j| start + j * (self.interval + 1))
            .collect();
        let frames = reader.get_batch(&ids).map_err(video)?;
        Ok(VideoBatch {
            frames,
            indices: ids.iter().map(|&k| [file, k]).collect(),
        })
    }
}
