//! kinema's pictures as PNG files: training curves, a confusion matrix and a tagged video's
//! timeline with frame thumbnails.
//!
//! Plain data in, a PNG file out: the crate knows nothing of kinema's types, so training and
//! inference code can both use it. Charts, axes and shapes are drawn with
//! [plotters](https://docs.rs/plotters) on an in-memory RGB bitmap; text is DejaVu Sans,
//! embedded in the binary (no system fonts, no fontconfig) and laid out with ab_glyph; every
//! file is written atomically (a temporary file beside it, renamed over it), so a reader
//! never sees half a picture.
//!
//! ```
//! use kinema_plot::{curves_png, Panel, Series};
//!
//! let dir = tempfile::tempdir()?;
//! let epochs = |f: fn(f64) -> f64| (1..=10).map(|e| (e as f64, f(e as f64))).collect();
//! let loss = Panel {
//!     title: "Loss".into(),
//!     x_label: "epoch".into(),
//!     y_label: "loss".into(),
//!     series: vec![Series::new("train", epochs(|e| 2.0 / e)), Series::new("val", epochs(|e| 2.2 / e))],
//!     y_range: None,
//! };
//! curves_png(&dir.path().join("curves.png"), "Training curves", &[loss])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Odd input gives a picture or a [`PlotError`], never a panic: non-finite values are left
//! out (a gap in a curve), empty series give empty axes, long names are shortened with `…`,
//! and input that cannot be drawn (an empty or ragged matrix, a thumbnail whose pixels do not
//! match its size) is an [`PlotError::Input`] naming the file and what is wrong.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod common;
mod confusion;
mod curves;
mod timeline;

use std::path::PathBuf;

pub use confusion::confusion_png;
pub use curves::{curves_png, Panel, Series};
pub use timeline::{timeline_png, Thumbnail, TimelineSegment, TimelineWindow};

/// Why a picture was not written. Every variant names the file it was for.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The data cannot be drawn (empty or ragged matrix, bad thumbnail, bad duration, ...).
    #[error("{}: {reason}", path.display())]
    Input {
        /// The picture's path.
        path: PathBuf,
        /// What is wrong with the input.
        reason: String,
    },
    /// plotters failed while drawing (or the embedded font did not load).
    #[error("{}: drawing failed: {reason}", path.display())]
    Draw {
        /// The picture's path.
        path: PathBuf,
        /// plotters' message.
        reason: String,
    },
    /// The bitmap could not be encoded as PNG.
    #[error("{}: PNG encoding failed: {source}", path.display())]
    Encode {
        /// The picture's path.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: png::EncodingError,
    },
    /// Writing the file (or its temporary file, or renaming it) failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path that failed: the picture or its temporary file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, PlotError>;
