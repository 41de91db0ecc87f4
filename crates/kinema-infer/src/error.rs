//! Typed errors of running models.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = InferError> = std::result::Result<T, E>;

/// What can go wrong running a model over videos.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// A bad setting (clip count, window, missing video...).
    #[error("{0}")]
    Invalid(String),
    /// The reader failed.
    #[error(transparent)]
    Av(#[from] kinema_av::AvError),
    /// The data pipeline failed.
    #[error(transparent)]
    Data(#[from] kinema_data::DataError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] kinema_models::ModelError),
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

impl InferError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> InferError {
        InferError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
