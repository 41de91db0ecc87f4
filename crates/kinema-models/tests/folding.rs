//! Eval mode folds BatchNorm into the preceding convolution: the folded models give what burn's
//! separate Conv + BatchNorm + ReLU give, for one model of every family, with BatchNorm
//! statistics and biases that are not an identity. (A test binary of its own: the switch is
//! process-wide.)

use std::collections::HashSet;
use std::path::Path;

use burn::tensor::Device;
use kinema_models::layers::set_batchnorm_folding;
use kinema_models::{get_model, models, GetModelOptions};

mod common;
use common::tiny_input;

fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    let max = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / max.max(1e-12)
}

#[test]
fn folded_batchnorm_equals_burns_separate_ops() {
    let dev = Device::flex();
    let mut seen = HashSet::new();
    for s in models() {
        if !seen.insert(std::mem::discriminant(&s.family)) {
            continue;
        }
        let (segments, shape) = tiny_input(s);
        let o = GetModelOptions {
            nclass: Some(5),
            num_segments: Some(segments),
            ..Default::default()
        };
        let net = get_model(s.name, &o, &dev).unwrap();
        // Running statistics, affine parameters and biases drawn away from the identity.
        let mut k = 0u32;
        let mut next = move || {
            k = k.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (k >> 8) as f32 / (1u32 << 24) as f32
        };
        let mut tensors = net.tensors().unwrap();
        for t in &mut tensors {
            let (lo, hi) = match t.name.rsplit('.').next().unwrap() {
                "running_mean" | "beta" | "bias" => (-0.3, 0.3),
                "running_var" => (0.4, 2.0),
                "gamma" => (0.5, 1.5),
                _ => continue,
            };
            for v in &mut t.data {
                *v = lo + (hi - lo) * next();
            }
        }
        let net = net.load_tensors(tensors, Path::new("random")).unwrap();
        let n: usize = shape.iter().product();
        let x: Vec<f32> = (0..n).map(|_| next() * 2.0 - 1.0).collect();
        for features in [false, true] {
            set_batchnorm_folding(true);
            let (d1, folded) = net.run(&shape, x.clone(), features, &dev).unwrap();
            set_batchnorm_folding(false);
            let (d2, plain) = net.run(&shape, x.clone(), features, &dev).unwrap();
            set_batchnorm_folding(true);
            assert_eq!(d1, d2, "{}", s.name);
            let e = rel_err(&folded, &plain);
            assert!(e < 1e-4, "{} (features {features}): rel err {e}", s.name);
            eprintln!("{}: features {features}, rel err {e:.2e}", s.name);
        }
    }
}
