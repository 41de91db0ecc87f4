//! Video-level consensus of 3-D models: global average pooling of each clip, then the mean over
//! the clips of a video (GluonCV's `num_segments` averaging).

use burn::Tensor;

use crate::error::{ModelError, Result};

/// An error unless `clips` splits into videos of `segments` clips each.
pub fn check_clips(clips: usize, segments: usize) -> Result<()> {
    if segments == 0 || !clips.is_multiple_of(segments) {
        return Err(ModelError::InvalidOption(format!(
            "{clips} clips do not split into videos of {segments} clips"
        )));
    }
    Ok(())
}

/// `[N * segments, C, T, H, W]` -> `[N, C]`: the mean over T, H, W, then over each video's clips.
pub fn video_pool(x: Tensor<5>, segments: usize) -> Tensor<2> {
    let [clips, c, _, _, _] = x.dims();
    x.mean_dims(&[2, 3, 4])
        .reshape([clips / segments, segments, c])
        .mean_dim(1)
        .reshape([clips / segments, c])
}
