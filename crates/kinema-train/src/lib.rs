//! kinema-train: training, evaluation and fine-tuning of kinema's video models.
//!
//! - [`TrainConfig`]: GluonCV's `train_recognizer.py` options as a TOML file.
//! - [`train`]: the loop (SGD/AdamW, step/cosine schedules with warm-up, label smoothing,
//!   gradient clipping), validation every epoch, atomic checkpoints with resume, CSV/JSONL logs
//!   and a PNG of the curves.
//! - [`evaluate`]: clip- and video-level top-1/top-5 with multi-view testing, per-class
//!   accuracy and the confusion matrix.
//! - [`extract_features`]: pooled features per video to `.npy`, resumable.
//! - [`tag_video`]: a long video scored over sliding windows into a timeline.
//! - [`resolve_model`], [`predict_videos`]: a model by file, registry name or the embedded
//!   default, and top-k labels for videos (the CLI's `--model` and `predict`, Python's
//!   `kinema.models`).

pub mod config;
mod error;
pub mod eval;
pub mod extract;
pub mod finetune;
pub mod optim;
pub mod plot;
pub mod predict;
pub mod tag;
pub mod trainer;

pub use config::{DataConfig, LrMode, TrainConfig, TrainSection};
pub use error::{Result, TrainError};
pub use eval::{argmax, evaluate, mean_rows, run_videos, EvalOptions, EvalReport};
pub use extract::{extract_features, feature_file, ExtractReport, FeatureFile};
pub use optim::{Optimizer, OptimizerKind, OptimizerOptions};
pub use predict::{predict_videos, resolve_model, ModelSource, PredictOptions, Prediction};
pub use tag::{segments, tag_video, window_starts, Segment, TagOptions, WindowScore};
pub use trainer::{
    load_checkpoint, save_checkpoint, train, train_step, EpochInfo, RunOptions, Step, StepInfo, TrainState,
    TrainSummary,
};
