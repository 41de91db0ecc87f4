//! The oneDNN eval engine against burn's forward, family by family, on random weights and
//! shapes that are not the registry's defaults (other sizes, batches, segment counts).

use burn::tensor::Device;
use kinema_models::engine::Plan;
use kinema_models::{get_model, GetModelOptions};

fn input(shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    // A deterministic pseudo-random pattern in [-1, 1].
    (0..n)
        .map(|i| {
            let v = (i as u64).wrapping_mul(2654435761) % 10007;
            v as f32 / 5003.5 - 1.0
        })
        .collect()
}

/// Relative L2 difference.
fn rel(a: &[f32], b: &[f32]) -> f32 {
    let num: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f32 = b.iter().map(|y| y * y).sum::<f32>().max(1e-20);
    (num / den).sqrt()
}

fn check(name: &str, nclass: usize, segments: usize, shape: &[usize]) {
    let dev = Device::flex();
    let o = GetModelOptions {
        nclass: Some(nclass),
        num_segments: Some(segments),
        ..Default::default()
    };
    let net = get_model(name, &o, &dev).unwrap().valid();
    let x = input(shape);
    for features in [false, true] {
        let (dims, want) = net.run(shape, x.clone(), features, &dev).unwrap();
        let g = net.lower(shape, features).unwrap();
        let mut plan = Plan::compile(&g).unwrap();
        assert_eq!(plan.output_shape(), dims.as_slice(), "{name}");
        let got = plan.run(&x).unwrap();
        let r = rel(&got, &want);
        assert!(r < 1e-4, "{name} {shape:?} features={features}: relative L2 {r}");
    }
}

#[test]
fn tsn_resnets() {
    check("resnet18_v1b_custom", 7, 3, &[6, 3, 64, 80]);
    check("resnet50_v1b_custom", 5, 1, &[1, 3, 96, 64]);
}
