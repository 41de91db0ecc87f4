//! The non-local block (GluonCV's `NonLocal`, embedded Gaussian): theta/phi/g 1x1x1
//! projections to `embed_dim = C / 2`, attention `softmax(theta^T phi / sqrt(embed_dim))` over
//! all T*H*W positions, `y = g attn^T`, then `x + BN(W(y))`. Parameter names: `theta`, `phi`,
//! `g`, `W` (convolutions with bias; `w` here, renamed on load), `bn`.

use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::activation::softmax;
use burn::tensor::Device;
use burn::Tensor;

use crate::engine::{Graph, Val};
use crate::error::Result;
use crate::layers::{conv_bn3d, forward_conv3d};

/// Embedded-Gaussian non-local block over `[N, C, T, H, W]`.
#[derive(Module, Debug)]
pub struct NonLocal {
    theta: Conv3d,
    phi: Conv3d,
    g: Conv3d,
    /// GluonCV's `W` (the output projection).
    w: Conv3d,
    bn: BatchNorm,
    embed_dim: usize,
}

impl NonLocal {
    /// A block for `channels` input channels.
    pub fn new(channels: usize, dev: &Device) -> NonLocal {
        let e = channels / 2;
        let proj = |cin: usize, cout: usize| {
            Conv3dConfig::new([cin, cout], [1, 1, 1])
                .with_bias(true)
                .init(dev)
        };
        NonLocal {
            theta: proj(channels, e),
            phi: proj(channels, e),
            g: proj(channels, e),
            w: proj(e, channels),
            bn: BatchNormConfig::new(channels).with_epsilon(1e-5).init(dev),
            embed_dim: e,
        }
    }

    /// [`forward`](Self::forward) as graph operations; `p` is the block's parameter path.
    pub fn lower(&self, g: &mut Graph, p: &str, x: Val) -> Result<Val> {
        let s = g.shape(x).to_vec();
        let (n, e, l) = (s[0], self.embed_dim, s[2..].iter().product::<usize>());
        let mut proj = |name: &str, c: &Conv3d| -> Result<Val> {
            let y = g.conv(&format!("{p}.{name}"), c, None, false, None, x)?;
            g.reshape(y, &[n, e, l])
        };
        let (theta, phi, gv) = (
            proj("theta", &self.theta)?,
            proj("phi", &self.phi)?,
            proj("g", &self.g)?,
        );
        let scores = g.matmul(theta, true, phi, false, (e as f32).powf(-0.5))?;
        let attn = g.softmax(scores);
        let y = g.matmul(gv, false, attn, true, 1.0)?;
        let y = g.reshape(y, &[n, e, s[2], s[3], s[4]])?;
        g.conv(&format!("{p}.w"), &self.w, Some(&self.bn), false, Some(x), y)
    }

    /// `x + BN(W(attention(x)))`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let [n, _, t, h, w] = x.dims();
        let (e, l) = (self.embed_dim, t * h * w);
        let theta = forward_conv3d(&self.theta, x.clone()).reshape([n, e, l]);
        let phi = forward_conv3d(&self.phi, x.clone()).reshape([n, e, l]);
        let g = forward_conv3d(&self.g, x.clone()).reshape([n, e, l]);
        // [n, l, l]: query position i against key position j
        let scores = theta
            .swap_dims(1, 2)
            .matmul(phi)
            .mul_scalar((e as f32).powf(-0.5));
        let attn = softmax(scores, 2);
        let y = g.matmul(attn.swap_dims(1, 2)).reshape([n, e, t, h, w]);
        x + conv_bn3d(&self.w, Some(&self.bn), false, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// Against a plain-loop computation of the same block (BN at its initial identity-like
    /// state: gamma 1, beta 0, mean 0, var 1).
    #[test]
    fn matches_a_plain_loop() {
        let dev = Device::flex();
        let nl = NonLocal::new(4, &dev);
        let (c, t, h, w) = (4usize, 2usize, 2usize, 3usize);
        let l = t * h * w;
        let xs: Vec<f32> = (0..c * l).map(|i| ((i * 37) % 11) as f32 / 5.0 - 1.0).collect();
        let x = Tensor::<5>::from_data(TensorData::new(xs.clone(), [1, c, t, h, w]), &dev);
        let got: Vec<f32> = nl.forward(x).into_data().try_into_vec().unwrap();
        let weights = |conv: &Conv3d| -> (Vec<f32>, Vec<f32>) {
            let wv: Vec<f32> = conv.weight.val().into_data().try_into_vec().unwrap();
            let bv: Vec<f32> = conv
                .bias
                .as_ref()
                .unwrap()
                .val()
                .into_data()
                .try_into_vec()
                .unwrap();
            (wv, bv)
        };
        let apply = |conv: &Conv3d, input: &[f32], cin: usize, cout: usize| -> Vec<f32> {
            let (wv, bv) = weights(conv);
            (0..cout)
                .flat_map(|o| {
                    let (wv, bv) = (&wv, &bv);
                    (0..l).map(move |p| {
                        bv[o] + (0..cin).map(|i| wv[o * cin + i] * input[i * l + p]).sum::<f32>()
                    })
                })
                .collect()
        };
        let e = c / 2;
        let (th, ph, g) = (
            apply(&nl.theta, &xs, c, e),
            apply(&nl.phi, &xs, c, e),
            apply(&nl.g, &xs, c, e),
        );
        let mut y = vec![0f32; e * l];
        for i in 0..l {
            let s: Vec<f32> = (0..l)
                .map(|j| (0..e).map(|k| th[k * l + i] * ph[k * l + j]).sum::<f32>() / (e as f32).sqrt())
                .collect();
            let m = s.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let z: f32 = s.iter().map(|v| (v - m).exp()).sum();
            for k in 0..e {
                y[k * l + i] = (0..l).map(|j| g[k * l + j] * (s[j] - m).exp() / z).sum();
            }
        }
        let wy = apply(&nl.w, &y, e, c);
        let eps = 1e-5f32;
        for (k, (a, xv)) in got.iter().zip(&xs).enumerate() {
            let want = xv + wy[k] / (1.0 + eps).sqrt();
            assert!((a - want).abs() < 1e-4, "{k}: {a} vs {want}");
        }
    }
}
