//! What a family's model type offers the zoo: its input rank, its forward passes on raw data,
//! and how weight files name its parameters. Each family implements [`Architecture`] in its
//! own file, so [`crate::Net`] dispatches without knowing any family's rules.

use burn::module::Module;
use burn::tensor::{Device, TensorData};
use burn::Tensor;

use crate::engine::{Graph, Val};
use crate::error::Result;
use crate::weights::{pytorch_name, KeyFn, NamedTensor};

/// A model family's type, as [`crate::Net`] runs and loads it.
pub trait Architecture: Module + Sized {
    /// Input rank: 4 (frames, `[N * segments, 3, H, W]`) or 5 (clips, `[N * clips, 3, T, H, W]`).
    const INPUT_RANK: usize;

    /// The logits of `x` (of rank [`INPUT_RANK`](Self::INPUT_RANK)), or with `features` the
    /// classifier's input, as `[N, K]`.
    fn run_data(&self, x: TensorData, features: bool, dev: &Device) -> Result<Tensor<2>>;

    /// The eval forward from `x` (the input) as graph operations: the logits, or with
    /// `features` the classifier's input, as `[N, K]` (what [`crate::engine::Plan`] runs).
    fn lower(&self, g: &mut Graph, x: Val, features: bool) -> Result<Val>;

    /// The key GluonCV's `.params` give kinema parameter path `path`.
    fn gluon_key(path: &str) -> String {
        path.to_string()
    }

    /// How a PyTorch state dict names kinema's parameter paths; `tensors` are the file's
    /// entries (a family whose checkpoints come in two namings tells them apart by these).
    fn torch_key(_tensors: &[NamedTensor]) -> KeyFn {
        pytorch_name
    }
}

/// [`Architecture::INPUT_RANK`] and [`Architecture::run_data`] for a type whose inherent
/// `features` and `forward` take rank-`$rank` tensors.
macro_rules! forward_of_rank {
    ($rank:literal) => {
        const INPUT_RANK: usize = $rank;

        fn run_data(
            &self,
            x: burn::tensor::TensorData,
            features: bool,
            dev: &burn::tensor::Device,
        ) -> $crate::error::Result<burn::Tensor<2>> {
            let x = burn::Tensor::<$rank>::from_data(x, dev);
            if features {
                self.features(x)
            } else {
                self.forward(x)
            }
        }
    };
}
pub(crate) use forward_of_rank;
