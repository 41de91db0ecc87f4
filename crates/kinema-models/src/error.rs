//! Typed errors of the model zoo: each names the model, file or parameter it is about.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// What can go wrong building a model or loading its weights.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A name the registry does not have.
    #[error("unknown model {name:?}; closest: {}", suggestions.join(", "))]
    UnknownModel { name: String, suggestions: Vec<String> },
    /// A weight file that ends early or is not what it claims to be.
    #[error("{path}: {reason}")]
    BadWeights { path: PathBuf, reason: String },
    /// A tensor whose shape differs from the model's parameter.
    #[error("{path}: parameter {name}: shape {found:?} in the file, the model has {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    /// Parameters of the model that the file does not have, or file entries no parameter takes.
    #[error("{path}: {} model parameters missing from the file ({}){}", missing.len(), preview(missing), unused_note(unused))]
    KeysMismatch {
        path: PathBuf,
        missing: Vec<String>,
        unused: Vec<String>,
    },
    /// A download that failed: no server, an HTTP error, an interrupted transfer, an archive
    /// that is not what it should be.
    #[error("{url}: {reason}")]
    Download { url: String, reason: String },
    /// A downloaded file whose hash is not the published one (it is not kept).
    #[error("{url}: {file} has {algorithm} {found}, the published one starts {expected}: refusing it")]
    Checksum {
        url: String,
        file: String,
        algorithm: &'static str,
        expected: String,
        found: String,
    },
    /// A model with no published weights, or whose weights are not in the store.
    #[error("{name}: {reason}")]
    NoWeights { name: String, reason: String },
    /// A bad option (input shape, class count...).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The CPU engine (oneDNN) failed: the library missing, a primitive it cannot make.
    #[error("CPU engine (oneDNN): {0}")]
    Engine(String),
    /// A data-layer failure (an atomic write of a downloaded file, say).
    #[error(transparent)]
    Data(#[from] kinema_data::DataError),
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn preview(v: &[String]) -> String {
    let mut s: Vec<&str> = v.iter().take(5).map(String::as_str).collect();
    if v.len() > 5 {
        s.push("...");
    }
    s.join(", ")
}

fn unused_note(v: &[String]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!("; {} file entries unused ({})", v.len(), preview(v))
    }
}

impl ModelError {
    pub(crate) fn bad(path: &std::path::Path, reason: impl Into<String>) -> ModelError {
        ModelError::BadWeights {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
