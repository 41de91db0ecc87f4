//! How to open a video: `ReaderOptions` and the modes it picks (`SeekMode`, `Interpolation`),
//! their validation, and the `max_pixels` size check every source applies.

use std::path::Path;

use crate::error::{AvError, Result};

/// How frames are located in a video file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeekMode {
    /// Scan every packet at open; frame `i` is exactly the CLI's frame `i` (the default).
    #[default]
    Exact,
    /// Trust the container header (frame count, frame rate, key-frame index) and seek by
    /// time: opens without reading the file, holds no packets in memory, but on variable frame
    /// rate or a misleading header frame `i` may not be the CLI's frame `i`.
    Approximate,
}

/// The scaler's interpolation when frames are resized (libswscale's flag of that name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// The ffmpeg CLI's default (`-vf scale=W:H`).
    #[default]
    Bicubic,
    /// decord's (its `VideoReader(width=, height=)` gives these pixels).
    Bilinear,
    /// Area averaging (good for large downscales).
    Area,
    /// Lanczos.
    Lanczos,
}

impl Interpolation {
    pub(crate) fn sws_name(self) -> &'static str {
        match self {
            Interpolation::Bicubic => "bicubic",
            Interpolation::Bilinear => "bilinear",
            Interpolation::Area => "area",
            Interpolation::Lanczos => "lanczos",
        }
    }
}

/// How to open a video. `Default` is native size, one decoder thread per core, a 512 MiB
/// frame cache, up to 16 decoders, `img_%05d.jpg` numbered from 1 for frame folders.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderOptions {
    /// Output width; with only one of width/height set the other keeps the aspect ratio.
    pub width: Option<u32>,
    /// Output height.
    pub height: Option<u32>,
    /// Exact (default) or approximate frame location (video files only).
    pub seek_mode: SeekMode,
    /// Decoder threads; 0 = one per core. Frame folders decode a batch's images on this many
    /// threads.
    pub num_threads: usize,
    /// Bytes of decoded frames kept for random single-frame access (0 disables the cache).
    pub cache_bytes: usize,
    /// Decoders kept alive at once, each positioned in a different GOP; 0 (the default) picks
    /// as many as `cache_bytes` allows at ~20 frames of decoder state each, from 2 to 16.
    pub max_decoders: usize,
    /// File-name pattern of frame folders (printf-style, one integer field).
    pub frame_pattern: String,
    /// Number of the first frame file of a frame folder.
    pub frame_start: usize,
    /// Frame rate reported for frame folders (they carry no timing).
    pub folder_fps: f64,
    /// Largest frame (width x height, decoded or resized) accepted: a damaged header claiming
    /// a giant picture is an error instead of gigabytes of allocation. 8192 x 8192 by default
    /// (8K UHD fits).
    pub max_pixels: u64,
    /// Resize in the video's own pixel format and convert to RGB after (about 3x cheaper than
    /// the one-pass conversion). Not byte-equal to the CLI's `-vf scale=W:H` (about 1 level
    /// apart on average): meant for training pipelines. Off by default.
    pub fast_resize: bool,
    /// Interpolation of the resize: bicubic (the CLI's, default) or decord's bilinear...
    pub interpolation: Interpolation,
    /// Turn frames as the container's display matrix says (phone videos), as the ffmpeg CLI
    /// and decord do; `width`/`height` then apply to the turned picture. `false`: frames as
    /// stored (the CLI's `-noautorotate`).
    pub autorotate: bool,
    /// The container stream to read (ffprobe's stream index). `None`: FFmpeg's best video
    /// stream, as decord and torchcodec pick it.
    pub stream: Option<usize>,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            width: None,
            height: None,
            seek_mode: SeekMode::Exact,
            num_threads: 0,
            cache_bytes: 512 << 20,
            max_decoders: 0,
            frame_pattern: "img_%05d.jpg".into(),
            frame_start: 1,
            folder_fps: 30.0,
            max_pixels: 8192 * 8192,
            fast_resize: false,
            interpolation: Interpolation::Bicubic,
            autorotate: true,
            stream: None,
        }
    }
}

impl ReaderOptions {
    /// Resize every frame to `width` x `height` inside the colour conversion.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = Some(width);
        self.height = Some(height);
        self
    }

    /// Read container stream `index` instead of the best video stream.
    pub fn stream(mut self, index: usize) -> Self {
        self.stream = Some(index);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if let Some(v) = v {
                if v == 0 || v > 16384 {
                    return Err(AvError::InvalidOption(format!("{name} {v} is not in 1..=16384")));
                }
            }
        }
        if !(self.folder_fps.is_finite() && self.folder_fps > 0.0) {
            return Err(AvError::InvalidOption(format!(
                "folder_fps {} must be > 0",
                self.folder_fps
            )));
        }
        Ok(())
    }
}

/// Refuses a frame size above `max_pixels` (see `ReaderOptions::max_pixels`).
pub(crate) fn check_size(path: &Path, width: u32, height: u32, max_pixels: u64) -> Result<()> {
    if width as u64 * height as u64 > max_pixels {
        return Err(AvError::Unsupported {
            path: path.to_path_buf(),
            codec: format!("{width}x{height}"),
            reason: format!("frames larger than max_pixels ({max_pixels}) are refused"),
        });
    }
    Ok(())
}
