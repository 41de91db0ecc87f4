//! What the sources hand back: frames (`FrameBatch`), the stream's description (`VideoInfo`),
//! and the `FrameSource` trait datasets are written against.

use crate::error::Result;

/// What `kinema probe` prints: the stream as the reader sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// FFmpeg's codec name (`h264`, `hevc`, `vp9`, `av1`, `mpeg4`, `mjpeg`...).
    pub codec: String,
    /// FFmpeg's demuxer name (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`, `avi`, `image2`...).
    pub container: String,
    /// The container stream read (ffprobe's index: `-map 0:N`); 0 for frame folders.
    pub stream: usize,
    /// Coded width and height.
    pub width: u32,
    pub height: u32,
    /// The decoder's pixel format (`yuv420p`, `yuv420p10le`, `yuvj422p`...); `unknown` until
    /// the first frame is decoded when the container header does not say.
    pub pixel_format: String,
    /// Number of frames (what the ffmpeg CLI decodes with `-fps_mode passthrough`).
    pub frame_count: usize,
    /// Average frame rate.
    pub fps: f64,
    /// Duration in seconds.
    pub duration: f64,
    /// Display rotation in degrees (the display matrix, as ffprobe reports it). Frames come
    /// back turned as the ffmpeg CLI turns them (`out_width` x `out_height` is the turned size)
    /// unless `ReaderOptions::autorotate` is off.
    pub rotation: f64,
    /// Indices of key frames.
    pub key_frames: Vec<usize>,
    /// Size of the frames the reader returns (after the optional resize).
    pub out_width: u32,
    pub out_height: u32,
    /// Set when reading stopped before the end of the file (truncated or damaged).
    pub truncated: Option<String>,
}

/// Frames as one contiguous `[N, H, W, 3]` RGB24 buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameBatch {
    /// `n * height * width * 3` bytes, frame after frame, rows packed.
    pub data: Vec<u8>,
    n: usize,
    height: usize,
    width: usize,
}

impl FrameBatch {
    pub(crate) fn zeros(n: usize, height: usize, width: usize) -> FrameBatch {
        FrameBatch {
            data: vec![0; n * height * width * 3],
            n,
            height,
            width,
        }
    }

    /// `[N, H, W, 3]`.
    pub fn shape(&self) -> [usize; 4] {
        [self.n, self.height, self.width, 3]
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The `k`-th frame, `H * W * 3` bytes.
    ///
    /// # Panics
    /// When `k >= len()`.
    pub fn frame(&self, k: usize) -> &[u8] {
        let fl = self.height * self.width * 3;
        &self.data[k * fl..(k + 1) * fl]
    }

    /// The buffer.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }
}

/// Anything that serves frames by index: video files and frame folders. Datasets and loaders
/// are written against this trait.
pub trait FrameSource: Send {
    /// Number of frames.
    fn len(&self) -> usize;
    /// True when there is no frame.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Average frame rate.
    fn fps(&self) -> f64;
    /// Width of returned frames.
    fn width(&self) -> u32;
    /// Height of returned frames.
    fn height(&self) -> u32;
    /// Frames in the order asked (duplicates allowed) as `[N, H, W, 3]`.
    fn get_batch(&mut self, indices: &[usize]) -> Result<FrameBatch>;
    /// Start and end time of a frame, in seconds.
    fn get_frame_timestamp(&self, idx: usize) -> Result<(f64, f64)>;
    /// Indices of key frames.
    fn key_indices(&self) -> Vec<usize>;
}
