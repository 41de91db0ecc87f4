//! Parsers for the published layouts of the standard action-recognition datasets. Each gives a
//! [`SampleList`](crate::SampleList) like a setting file does, so `VideoClsCustom` loads any of
//! them the same way. Frame counts are left at 0: the reader supplies them.

mod hmdb51;
mod kinetics;
mod sthsthv2;
mod ucf101;

pub use hmdb51::hmdb51;
pub use kinetics::{
    class_folders, has_video_ext, kinetics_csv, kinetics_folders, split_by_class, VIDEO_EXTS,
};
pub use sthsthv2::sthsthv2;
pub use ucf101::ucf101;

use crate::error::{DataError, Result};

/// Split numbers 1..=3 as the published files have them.
fn check_split(split: u32) -> Result<()> {
    if (1..=3).contains(&split) {
        Ok(())
    } else {
        Err(DataError::InvalidOption(format!(
            "split {split}: expected 1, 2 or 3"
        )))
    }
}
