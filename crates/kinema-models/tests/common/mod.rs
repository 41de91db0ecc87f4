//! Helpers the model test binaries share.

use kinema_models::registry::Family;
use kinema_models::ModelSpec;

/// The smallest input an architecture takes, as (segments or clips per video, input shape).
/// VGG16 and Inception v3 frames are large (fc6 / the last fixed average pool decide the size):
/// one frame per video keeps the debug-build test short (their parity tests average two).
pub fn tiny_input(s: &ModelSpec) -> (usize, Vec<usize>) {
    match s.family {
        // fc6 takes exactly the values a 224 px frame leaves
        Family::TsnVgg16 => (1, vec![1, 3, 224, 224]),
        // the final fixed-size average pool must leave 1x1
        Family::TsnInceptionV1 => (2, vec![2, 3, 223, 223]),
        Family::TsnInceptionV3 => (1, vec![1, 3, 299, 299]),
        Family::TsnResNet(_) => (2, vec![4, 3, 32, 32]),
        // fc6 takes exactly the values a 16 x 112 x 112 clip leaves
        Family::C3d => (2, vec![2, 3, 16, 112, 112]),
        Family::I3dInceptionV1 => (2, vec![2, 3, 5, 17, 17]),
        Family::I3dInceptionV3 => (2, vec![2, 3, 1, 75, 75]),
        // one frame must be left for layer4
        Family::P3d(_) => (2, vec![2, 3, 16, 32, 32]),
        Family::I3dSlow(_) => (2, vec![2, 3, 1, 32, 32]),
        _ => (2, vec![2, 3, s.input.frames_per_view(), 32, 32]),
    }
}
