//! kinema-train: training and fine-tuning of kinema's video models.
//!
//! - [`TrainConfig`]: GluonCV's `train_recognizer.py` options as a TOML file.
//! - [`train`]: the loop (SGD/AdamW, step/cosine schedules with warm-up, label smoothing,
//!   gradient clipping), validation every epoch, atomic checkpoints with resume, CSV/JSONL logs
//!   and a PNG of the curves; validation is `kinema_infer::evaluate`, the scoring `kinema eval`
//!   does.
//! - [`finetune`]: starting from other weights with a new classifier.

#![forbid(unsafe_code)]

pub mod config;
mod error;
pub mod finetune;
pub mod optim;
pub mod step;
pub mod trainer;

pub use config::{DataConfig, LrMode, TrainConfig, TrainSection};
pub use error::{Result, TrainError};
pub use optim::{Optimizer, OptimizerKind, OptimizerOptions};
pub use step::{cross_entropy, step_parts, train_step, train_step_timed, Part, Step, StepTimes};
pub use trainer::{
    load_checkpoint, save_checkpoint, train, EpochInfo, RunOptions, StepInfo, TrainState, TrainSummary,
};
