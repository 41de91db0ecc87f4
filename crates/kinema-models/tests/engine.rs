//! The oneDNN eval engine against burn's separate ops (the reference), one model
//! of every family (every family of the registry, so a new one is covered), with BatchNorm
//! statistics and biases drawn away from the identity, on the smallest input each takes and a
//! second batch size.

use std::collections::HashSet;
use std::path::Path;

use burn::tensor::Device;
use kinema_models::engine::{PackedWeights, Plan};
use kinema_models::{get_model, models, GetModelOptions, Net};

mod common;
use common::tiny_input;

fn lcg(seed: u32) -> impl FnMut() -> f32 {
    let mut k = seed;
    move || {
        k = k.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (k >> 8) as f32 / (1u32 << 24) as f32
    }
}

/// Relative L2 difference.
fn rel(a: &[f32], b: &[f32]) -> f32 {
    let num: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f32 = b.iter().map(|y| y * y).sum::<f32>().max(1e-20);
    (num / den).sqrt()
}

fn randomized(net: Net, next: &mut impl FnMut() -> f32) -> Net {
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
    net.load_tensors(tensors, Path::new("random")).unwrap()
}

fn compare(name: &str, net: &Net, shape: &[usize], next: &mut impl FnMut() -> f32) {
    let dev = Device::flex();
    let n: usize = shape.iter().product();
    let x: Vec<f32> = (0..n).map(|_| next() * 2.0 - 1.0).collect();
    for features in [false, true] {
        let (dims, want) = net.run(shape, x.clone(), features, &dev).unwrap();
        let g = net
            .lower(shape, features)
            .unwrap_or_else(|e| panic!("{name} {shape:?}: {e}"));
        let mut plan = Plan::compile(&g).unwrap_or_else(|e| panic!("{name} {shape:?}: {e}"));
        assert_eq!(plan.output_shape(), dims.as_slice(), "{name} {shape:?}");
        let got = plan.run(&x).unwrap();
        let r = rel(&got, &want);
        assert!(r < 1e-4, "{name} {shape:?} features={features}: relative L2 {r}");
        // A plan runs again on new input (buffers reused, not stale).
        let x2: Vec<f32> = x.iter().map(|v| -v).collect();
        let (_, want2) = net.run(shape, x2.clone(), features, &dev).unwrap();
        assert!(rel(&plan.run(&x2).unwrap(), &want2) < 1e-4, "{name} second run");
    }
}

#[test]
fn every_family_on_onednn_equals_burns_separate_ops() {
    let dev = Device::flex();
    let mut next = lcg(7);
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
        let net = randomized(get_model(s.name, &o, &dev).unwrap().valid(), &mut next);

        compare(s.name, &net, &shape, &mut next);
        // Another batch: twice the videos.
        let mut two = shape.clone();
        two[0] *= 2;
        compare(s.name, &net, &two, &mut next);
    }
}

/// Frame sizes that are odd, not square and not what any recipe uses, and batches of several
/// videos of several views.
#[test]
fn odd_sizes_and_batches() {
    let dev = Device::flex();
    let mut next = lcg(11);
    for (name, segments, shape) in [
        ("resnet18_v1b_custom", 3, vec![6, 3, 71, 53]),
        ("i3d_resnet50_v1_custom", 1, vec![2, 3, 9, 45, 61]),
        ("i3d_nl5_resnet50_v1_custom", 2, vec![2, 3, 6, 30, 22]),
        ("r2plus1d_resnet18_custom", 1, vec![1, 3, 7, 33, 47]),
        ("r2plus1d_18_custom", 2, vec![4, 3, 5, 40, 28]),
        ("slowfast_4x16_resnet50_custom", 1, vec![1, 3, 36, 50, 38]),
        ("kinema_motion_custom", 3, vec![3, 3, 5, 37, 41]),
    ] {
        let o = GetModelOptions {
            nclass: Some(7),
            num_segments: Some(segments),
            ..Default::default()
        };
        let net = randomized(get_model(name, &o, &dev).unwrap().valid(), &mut next);
        compare(name, &net, &shape, &mut next);
    }
}

/// Plans for two batch sizes share the weights packed for the first, and both are right.
#[test]
fn plans_of_one_model_share_packed_weights() {
    let dev = Device::flex();
    let mut next = lcg(3);
    let o = GetModelOptions {
        nclass: Some(5),
        ..Default::default()
    };
    let net = randomized(
        get_model("r2plus1d_18_custom", &o, &dev).unwrap().valid(),
        &mut next,
    );
    let mut packed = PackedWeights::default();
    let mut counts = Vec::new();
    for shape in [[1, 3, 4, 32, 32], [3, 3, 4, 32, 32]] {
        let n: usize = shape.iter().product();
        let x: Vec<f32> = (0..n).map(|_| next() * 2.0 - 1.0).collect();
        let mut plan = Plan::compile_with(&net.lower(&shape, false).unwrap(), &mut packed).unwrap();
        let (_, want) = net.run(&shape, x.clone(), false, &dev).unwrap();
        assert!(rel(&plan.run(&x).unwrap(), &want) < 1e-4, "{shape:?}");
        counts.push(packed.len());
    }
    assert!(counts[0] > 0);
    // Most layouts oneDNN picks do not depend on the batch: those are not packed again (a layer
    // whose kernel changes with the batch, the classifier's here, gets a second layout).
    assert!(counts[1] < counts[0] + counts[0] / 8, "{counts:?}");
}

#[test]
fn shapes_a_model_cannot_take_are_named_errors() {
    let dev = Device::flex();
    let o = GetModelOptions {
        nclass: Some(3),
        ..Default::default()
    };
    let net = get_model("i3d_resnet50_v1_custom", &o, &dev).unwrap().valid();
    let e = net.lower(&[1, 3, 1, 64, 64], false).unwrap_err().to_string();
    assert!(e.contains("too short"), "{e}");
    let o = GetModelOptions {
        nclass: Some(3),
        num_segments: Some(1),
        ..Default::default()
    };
    let vgg = get_model("vgg16_ucf101", &o, &dev).unwrap().valid();
    let e = vgg.lower(&[1, 3, 200, 200], false).unwrap_err().to_string();
    assert!(e.contains("cannot take this input shape"), "{e}");
    let e = net.lower(&[1, 3, 8, 64], false).unwrap_err().to_string();
    assert!(e.contains("[N*clips, 3, T, H, W]"), "{e}");
    let e = net.lower(&[1, 4, 8, 64, 64], false).unwrap_err().to_string();
    assert!(e.contains("input shape"), "{e}");
    let e = net.lower(&[0, 3, 8, 64, 64], false).unwrap_err().to_string();
    assert!(e.contains("input shape"), "{e}");
    let mut plan = Plan::compile(&net.lower(&[1, 3, 8, 64, 64], false).unwrap()).unwrap();
    let e = plan.run(&[0.0; 5]).unwrap_err().to_string();
    assert!(e.contains("input shape"), "{e}");
}
