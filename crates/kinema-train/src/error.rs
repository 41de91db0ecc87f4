//! Typed errors of training.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// What can go wrong in a training or evaluation run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A config file that does not parse or holds a bad value.
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    /// A checkpoint that cannot be used.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    /// A bad setting.
    #[error("{0}")]
    Invalid(String),
    /// The data pipeline failed.
    #[error(transparent)]
    Data(#[from] kinema_data::DataError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] kinema_models::ModelError),
    /// Running the model (validation) failed.
    #[error(transparent)]
    Infer(#[from] kinema_infer::InferError),
    /// A collective of a distributed run failed.
    #[error(transparent)]
    Dist(#[from] kinema_dist::DistError),
    /// Training diverged.
    #[error("loss is {loss} at epoch {epoch}, step {step}: training diverged (lower the learning rate)")]
    Diverged { loss: f64, epoch: usize, step: usize },
    /// A training step failed (the cause is in the message, not chained: printed once).
    #[error("step {step}: {cause}")]
    Step { step: u64, cause: Box<TrainError> },
    /// The ranks of a distributed run hold different weights.
    #[error("ranks diverged: after epoch {epoch} the weight hashes by rank are {hashes:x?}")]
    RanksDiverged { epoch: usize, hashes: Vec<u64> },
    /// A picture (curves, confusion matrix, timeline) could not be drawn or written.
    #[error(transparent)]
    Plot(#[from] kinema_plot::PlotError),
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl TrainError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> TrainError {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
