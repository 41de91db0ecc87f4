//! Typed errors of the video reader. Every variant names the file it is about.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = AvError> = std::result::Result<T, E>;

/// What can go wrong when opening or decoding a video.
#[derive(Debug, thiserror::Error)]
pub enum AvError {
    /// The path does not exist.
    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },
    /// The file exists but FFmpeg cannot open or parse it (garbage, empty, truncated header).
    #[error("{path}: cannot open as a video: {reason}")]
    Open { path: PathBuf, reason: String },
    /// The container has no video stream (an audio file, a subtitle file...).
    #[error("{path}: no video stream in the file")]
    NoVideoStream { path: PathBuf },
    /// FFmpeg has no decoder for the stream's codec, or the stream cannot be handled.
    #[error("{path}: unsupported video ({codec}): {reason}")]
    Unsupported {
        path: PathBuf,
        codec: String,
        reason: String,
    },
    /// A frame index outside `0..len`.
    #[error("{path}: frame index {index} out of range (the video has {len} frames)")]
    IndexOutOfRange { path: PathBuf, index: i64, len: usize },
    /// A time before the first frame or after the end of the video.
    #[error("{path}: time {time}s outside the video ({start}s .. {end}s)")]
    TimeOutOfRange {
        path: PathBuf,
        time: f64,
        start: f64,
        end: f64,
    },
    /// The frame exists in the index but the decoder could not produce it (corrupt data).
    #[error("{path}: frame {index} could not be decoded: {reason}")]
    Decode {
        path: PathBuf,
        index: usize,
        reason: String,
    },
    /// The stream is damaged beyond one frame (for example truncated in the middle of its index).
    #[error("{path}: corrupt or truncated video: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Colour conversion / resize set-up failed.
    #[error("{path}: colour conversion failed: {reason}")]
    Convert { path: PathBuf, reason: String },
    /// Encoding a video failed (the writer's file is removed).
    #[error("{path}: cannot encode: {reason}")]
    Encode { path: PathBuf, reason: String },
    /// A bad option value (size, pattern...).
    #[error("invalid reader option: {0}")]
    InvalidOption(String),
    /// An I/O error outside FFmpeg (frame folders).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl AvError {
    /// An I/O error on `path`: `NotFound` when it does not exist.
    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> AvError {
        match e.kind() {
            std::io::ErrorKind::NotFound => AvError::NotFound {
                path: path.to_path_buf(),
            },
            _ => AvError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        }
    }

    /// `Ok(())` when `secs` lies in `start..=end`, else `TimeOutOfRange`.
    pub(crate) fn check_time(path: &std::path::Path, secs: f64, start: f64, end: f64) -> Result<()> {
        if !secs.is_finite() || secs < start || secs > end {
            return Err(AvError::TimeOutOfRange {
                path: path.to_path_buf(),
                time: secs,
                start,
                end,
            });
        }
        Ok(())
    }
}
