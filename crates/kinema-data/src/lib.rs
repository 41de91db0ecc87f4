//! kinema-data: GluonCV's video data stack on kinema's frame-exact reader.
//!
//! - [`VideoClsCustom`]: setting-file datasets with GluonCV's parameters, names and frame
//!   choices ([`ClipSpec`]: the clip parameters every layer shares), and the standard
//!   datasets' published layouts ([`datasets`]).
//! - [`transform`]: GluonCV's crops, flips and normalization, fused into one pass per frame.
//! - [`DataLoader`]: batches from worker threads, bounded prefetch, in order, seeded; and
//!   decord's [`VideoLoader`] over a list of files.
//! - [`synth`]: the synthetic action dataset every end-to-end test runs on.
//!
//! No deep-learning engine here: clips come out as plain `f32` buffers with their shape.

#![forbid(unsafe_code)]

mod atomic;
mod clip;
mod dataset;
pub mod datasets;
mod error;
mod loader;
mod npy;
mod pool;
mod rng;
mod sampling;
mod setting;
pub mod synth;
pub mod transform;
mod video_loader;

pub use atomic::write_atomic;
pub use clip::{parse_triple, ClipOverrides, ClipSpec, IMAGENET_MEAN, IMAGENET_STD};
pub use dataset::{Clip, ClipPlan, DatasetOptions, ResizeMode, VideoClsCustom};
pub use error::{DataError, Result};
pub use loader::{part_range, Batch, DataLoader, EpochIter, LoaderOptions};
pub use npy::{read_npy_f32, write_npy_f32};
pub use pool::Ordered;
pub use rng::Rng;
pub use sampling::Mode;
pub use setting::{read_setting, write_setting, PathRules, Sample, SampleList};
pub use video_loader::{VideoBatch, VideoLoader, VideoLoaderOptions};
