//! A `DataLoader`-style iterator: batches of clips from worker threads, each with its own
//! readers, bounded prefetch and delivery in order.
//!
//! Batch `b` of an epoch is made by worker `b % num_workers` into that worker's bounded queue
//! and read back in order ([`crate::pool`]). The random choices of a sample depend only on (seed, epoch, sample), so a
//! run gives the same batches whatever the number of workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::dataset::{ClipPlan, VideoClsCustom};
use crate::error::{DataError, Result};
use crate::pool::{ordered, Ordered};
use crate::rng::Rng;

/// Loader settings (PyTorch's names).
#[derive(Debug, Clone)]
pub struct LoaderOptions {
    /// Clips per batch.
    pub batch_size: usize,
    /// Reshuffle the samples every epoch.
    pub shuffle: bool,
    /// Seed of the shuffle.
    pub seed: u64,
    /// Drop the last batch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Worker threads (0: load in the calling thread).
    pub num_workers: usize,
    /// Batches each worker may have ready ahead of the consumer.
    pub prefetch: usize,
    /// Leave out (and count) samples that fail to load instead of failing their batch.
    pub skip_errors: bool,
    /// Load only parts `.0` of each batch cut into `.1` contiguous parts ([`part_range`]): a
    /// rank's share of a global batch in data-parallel training, every clip made exactly as in
    /// the whole batch. `None`: the whole batch.
    pub parts: Option<(std::ops::Range<usize>, usize)>,
}

/// Part `part` of `0..len` cut into `parts` contiguous parts whose lengths differ by at most one,
/// the longer ones first (how a global batch is shared among ranks and micro-batches).
pub fn part_range(len: usize, part: usize, parts: usize) -> std::ops::Range<usize> {
    let parts = parts.max(1);
    let (base, extra) = (len / parts, len % parts);
    let start = part * base + part.min(extra);
    start..start + base + usize::from(part < extra)
}

impl Default for LoaderOptions {
    fn default() -> Self {
        LoaderOptions {
            batch_size: 1,
            shuffle: false,
            seed: 0,
            drop_last: false,
            num_workers: 0,
            prefetch: 2,
            skip_errors: false,
            parts: None,
        }
    }
}

/// One batch: clips stacked along a new first axis.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[B, ...clip_shape]` f32 values.
    pub data: Vec<f32>,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Label of each clip.
    pub labels: Vec<usize>,
    /// What each clip read.
    pub plans: Vec<ClipPlan>,
    /// Clips in the whole batch when only some of its parts were loaded
    /// ([`LoaderOptions::parts`]); the batch's own length otherwise.
    pub full_len: usize,
}

/// Batches over a [`VideoClsCustom`].
#[derive(Debug, Clone)]
pub struct DataLoader {
    dataset: Arc<VideoClsCustom>,
    options: LoaderOptions,
    skipped: Arc<AtomicUsize>,
    /// Buffers of recycled batches, reused so that big batches are not mapped and zeroed anew.
    pool: Arc<Mutex<Vec<Vec<f32>>>>,
}

impl DataLoader {
    /// A loader; `batch_size` must be at least 1.
    pub fn new(dataset: Arc<VideoClsCustom>, options: LoaderOptions) -> Result<DataLoader> {
        if options.batch_size == 0 {
            return Err(DataError::InvalidOption("batch_size must be at least 1".into()));
        }
        if let Some((keep, n)) = &options.parts {
            if options.skip_errors {
                // A skipped clip would shift every part boundary after it.
                return Err(DataError::InvalidOption(
                    "parts and skip_errors cannot be used together".into(),
                ));
            }
            if keep.start >= keep.end || keep.end > *n {
                return Err(DataError::InvalidOption(format!(
                    "parts {keep:?} of {n}: must be a non-empty range within 0..{n}"
                )));
            }
        }
        Ok(DataLoader {
            dataset,
            options,
            skipped: Arc::new(AtomicUsize::new(0)),
            pool: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Batches per epoch.
    pub fn len(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.options.batch_size);
        if self.options.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// True when an epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands a consumed batch's buffer back for reuse by the next batches (optional; saves the
    /// allocation and page faults of a fresh buffer per batch).
    pub fn recycle(&self, batch: Batch) {
        let keep = self.options.num_workers.max(1) * (self.options.prefetch.max(1) + 1);
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < keep {
                pool.push(batch.data);
            }
        }
    }

    /// Samples left out so far because they failed (with `skip_errors`).
    pub fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The sample indices of each batch of `epoch`.
    pub fn batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.options.shuffle {
            Rng::for_sample(self.options.seed, epoch, u64::MAX).shuffle(&mut order);
        }
        let mut batches: Vec<Vec<usize>> = order
            .chunks(self.options.batch_size)
            .map(|c| c.to_vec())
            .collect();
        if self.options.drop_last && batches.last().is_some_and(|b| b.len() < self.options.batch_size) {
            batches.pop();
        }
        batches
    }

    /// Iterates the batches of `epoch`, in order.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        self.epoch_from(epoch, 0)
    }

    /// Iterates the batches of `epoch` from batch `start` on (a resumed run picks its epoch up
    /// where it stopped, with the very batches it would have had).
    pub fn epoch_from(&self, epoch: u64, start: usize) -> EpochIter {
        let loader = self.clone();
        let mut batches = self.batches(epoch);
        batches.drain(..start.min(batches.len()));
        let parts = self.options.parts.clone();
        let batches: Vec<(Vec<usize>, usize)> = batches
            .into_iter()
            .map(|b| {
                let full = b.len();
                let Some((keep, n)) = &parts else {
                    return (b, full);
                };
                let (start, end) = (
                    part_range(full, keep.start, *n).start,
                    part_range(full, keep.end, *n).start,
                );
                (b[start..end.max(start)].to_vec(), full)
            })
            .collect();
        let inner = ordered(
            batches,
            self.options.num_workers,
            self.options.prefetch,
            move || {
                let loader = loader.clone();
                move |(indices, full): &(Vec<usize>, usize)| {
                    let mut b = loader.make_batch(indices, epoch)?;
                    if loader.options.parts.is_some() {
                        b.full_len = *full;
                    }
                    Ok(b)
                }
            },
            |k| {
                Err(DataError::InvalidOption(format!(
                    "loader worker for batch {k} stopped unexpectedly"
                )))
            },
        );
        EpochIter { inner }
    }

    fn make_batch(&self, indices: &[usize], epoch: u64) -> Result<Batch> {
        let per = self.dataset.clip_len();
        let mut data = self
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        // Every value is overwritten: only a grown part gets zeroed.
        data.resize(per * indices.len(), 0.0);
        let mut labels = Vec::with_capacity(indices.len());
        let mut plans = Vec::with_capacity(indices.len());
        for &i in indices {
            let slot = labels.len();
            match self
                .dataset
                .get_into(i, epoch, &mut data[slot * per..(slot + 1) * per])
            {
                Ok(plan) => {
                    labels.push(self.dataset.list().samples[i].label);
                    plans.push(plan);
                }
                Err(e) if self.options.skip_errors => {
                    tracing::warn!("skipping sample {i}: {e}");
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        data.truncate(per * labels.len());
        let mut shape = vec![labels.len()];
        shape.extend(self.dataset.options().clip_shape());
        let full_len = labels.len();
        Ok(Batch {
            data,
            shape,
            labels,
            plans,
            full_len,
        })
    }
}

/// The batches of one epoch; dropping it stops the workers.
pub struct EpochIter {
    inner: Ordered<(Vec<usize>, usize), Result<Batch>>,
}

impl Iterator for EpochIter {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
