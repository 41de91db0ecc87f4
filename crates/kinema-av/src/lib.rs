#![deny(clippy::undocumented_unsafe_blocks)]
//! kinema-av: a frame-exact, random-access video reader on the system FFmpeg.
//!
//! [`VideoReader`] follows decord's API (`len`, `get_batch`, `fps`, key frames) and returns at
//! native size exactly the RGB24 bytes the ffmpeg CLI decodes for each frame index. All of
//! kinema's FFmpeg FFI lives in this crate; every `unsafe` block here says why it is sound in a
//! `// SAFETY:` comment (enforced by clippy).
//!
//! Modules use each other in one direction only, each only modules listed before it (no two
//! import each other; check with `grep -rn 'crate::\|super::' src`):
//! 1. `error`, `cache`, `index`, `nal`: leaves. Then `setup` (FFmpeg init), `options`
//!    (`ReaderOptions`, `check_size`), `types` (`FrameBatch`, `VideoInfo`, `FrameSource`),
//!    `input`, `packets` (on `nal`), `decoder` (on `index`, `packets`), `convert` (on `options`).
//! 2. The sources: `file` (exact mode; inside it `mod.rs` <- `random` <- `batch`, `mod.rs` <-
//!    `sequential`, and `open` on `mod.rs` and `random`), `approx`, `folder`; also `writer`
//!    (its tests read back through `reader`).
//! 3. `reader`, the front door, on the sources, `options` and `types`. This file only
//!    re-exports.

mod approx;
mod cache;
mod convert;
mod decoder;
mod error;
mod file;
mod folder;
mod index;
mod input;
mod nal;
mod options;
mod packets;
mod reader;
mod setup;
mod types;
mod writer;

pub use error::{AvError, Result};
pub use options::{Interpolation, ReaderOptions, SeekMode};
pub use reader::{Frames, VideoReader};
pub use setup::ffmpeg_versions;
pub use types::{FrameBatch, FrameSource, VideoInfo};
pub use writer::{VideoWriter, WriterFormat, WriterOptions};

#[cfg(test)]
mod send_check {
    fn assert_send<T: Send>() {}
    #[test]
    fn reader_is_send() {
        assert_send::<crate::reader::VideoReader>();
    }
}
