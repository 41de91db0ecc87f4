//! The model families, one file each: a config, its blocks, its forward pass, and its
//! [`crate::arch::Architecture`] (input rank, weight-file key rules).

pub mod c3d;
pub mod i3d;
pub mod inception;
pub mod motion;
pub mod p3d;
pub mod r2plus1d;
pub mod resnet;
pub mod slowfast;
pub mod tsn;
pub mod vgg;
pub mod video_resnet;
