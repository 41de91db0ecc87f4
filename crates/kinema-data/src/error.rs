//! Typed errors of the data layer. Each names the file (and line) it is about.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// What can go wrong when loading a dataset or a clip.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A malformed line in a setting, split or annotation file.
    #[error("{path}:{line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A file that is malformed as a whole (bad JSON, no entries...).
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// A video or frame folder named by the dataset does not exist.
    #[error("{path}: video not found (listed in {listed_in}:{line})")]
    MissingVideo {
        path: PathBuf,
        listed_in: PathBuf,
        line: usize,
    },
    /// Decoding a sample failed (the reader's message, which names the video).
    #[error("{}", video_message(path, error))]
    Video {
        path: PathBuf,
        error: kinema_av::AvError,
    },
    /// A bad dataset, sampler or loader option.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// An I/O error on a dataset file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DataError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> DataError {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn line(path: &std::path::Path, line: usize, reason: impl Into<String>) -> DataError {
        DataError::Line {
            path: path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }

    pub(crate) fn file(path: &std::path::Path, reason: impl Into<String>) -> DataError {
        DataError::File {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// The reader's error, prefixed with the video's path only where it does not name it already
/// (so a chain printed with `{:#}` names the file once).
fn video_message(path: &std::path::Path, error: &kinema_av::AvError) -> String {
    let m = error.to_string();
    if m.contains(&path.display().to_string()) {
        m
    } else {
        format!("{}: {m}", path.display())
    }
}
