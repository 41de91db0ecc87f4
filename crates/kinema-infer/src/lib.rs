//! kinema-infer: running kinema's models over videos — what `kinema eval`, `predict`, `tag` and
//! `extract`, the trainer's validation and the Python package share.
//!
//! - [`run_videos`]: a model over every view of a dataset, in order, on the parallel loader;
//!   [`evaluate`] scores it (clip- and video-level top-1/top-5, per-class accuracy, confusion;
//!   [`write_confusion_png`] draws the matrix).
//! - [`predict_videos`]: top-k labels for videos, views averaged.
//! - [`tag_video`]: a long video scored over sliding windows into a timeline;
//!   [`write_timeline_png`] draws it with frames of the video under it.
//! - [`extract_features`]: pooled features per video to `.npy`, resumable.
//!
//! The model itself ([`kinema_models::Model`]: network and card) comes from kinema-models.

#![forbid(unsafe_code)]

mod error;
pub mod eval;
pub mod extract;
pub mod predict;
pub mod tag;

pub use error::{InferError, Result};
pub use eval::{argmax, evaluate, mean_rows, run_videos, write_confusion_png, EvalOptions, EvalReport};
pub use extract::{extract_features, feature_file, ExtractReport, FeatureFile};
pub use predict::{clip_options, predict_videos, video_list, Label, PredictOptions, Prediction};
pub use tag::{
    segments, tag_video, window_starts, write_timeline_png, Segment, TagOptions, Timeline, WindowScore,
};
