//! Every registered name builds and runs; weight-loading errors name what is wrong.

use std::collections::HashSet;
use std::path::Path;

mod common;
use common::tiny_input;

use burn::tensor::Device;
use kinema_models::weights::{parameter_names, NamedTensor};
use kinema_models::{get_model, models, GetModelOptions, Net};

/// Every name builds and runs its smallest input to logits; the features path runs once per
/// architecture (names of one family build the same network here: the class count is fixed).
#[test]
fn every_registered_name_builds_and_runs_a_tiny_input() {
    let dev = Device::flex();
    let mut families = HashSet::new();
    for s in models() {
        let (segments, shape) = tiny_input(s);
        let o = GetModelOptions {
            nclass: Some(3),
            num_segments: Some(segments),
            ..Default::default()
        };
        let net = get_model(s.name, &o, &dev).unwrap();
        let n: usize = shape.iter().product();
        let x: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
        let (dims, y) = net.run(&shape, x.clone(), false, &dev).unwrap();
        assert_eq!(dims, vec![shape[0] / segments, 3], "{}", s.name);
        assert!(y.iter().all(|v| v.is_finite()), "{}", s.name);
        if families.insert(format!("{:?}", s.family)) {
            let (fdims, f) = net.run(&shape, x, true, &dev).unwrap();
            assert_eq!(fdims[0], shape[0] / segments, "{}", s.name);
            assert!(f.iter().all(|v| v.is_finite()), "{}", s.name);
        }
        assert!(net
            .run(
                &[3, 3, 32, 32, 1][..net.input_rank() - 1],
                vec![0.0; 3 * 3 * 32 * 32],
                false,
                &dev
            )
            .is_err());
    }
}

/// Sizes an architecture cannot take are errors that say which sizes it takes (GluonCV would
/// fail, or for P3D and the TSN Inception models silently fold positions into the batch).
#[test]
fn sizes_an_architecture_cannot_take_are_errors_naming_the_ones_it_can() {
    let dev = Device::flex();
    let o = GetModelOptions {
        nclass: Some(3),
        ..Default::default()
    };
    for (name, shape, says) in [
        ("vgg16_custom", vec![1, 3, 256, 256], "224..=255 px"),
        ("inceptionv1_custom", vec![1, 3, 200, 200], "223..=446 px"),
        ("inceptionv1_custom", vec![1, 3, 480, 480], "223..=446 px"),
        ("inceptionv3_custom", vec![1, 3, 224, 224], "299..=554 px"),
        (
            "i3d_inceptionv1_custom",
            vec![1, 3, 4, 64, 64],
            "smallest it takes is 5 x 17 x 17",
        ),
        (
            "i3d_inceptionv3_custom",
            vec![1, 3, 8, 74, 74],
            "smallest it takes is 1 x 75 x 75",
        ),
        ("p3d_resnet50_custom", vec![1, 3, 32, 32, 32], "16..=31 frames"),
        ("p3d_resnet101_custom", vec![1, 3, 15, 32, 32], "16..=31 frames"),
    ] {
        let net = get_model(name, &o, &dev).unwrap();
        let n: usize = shape.iter().product();
        let e = net
            .run(&shape, vec![0.5; n], false, &dev)
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{name} {shape:?}: {e}");
    }
}

/// Writes a `.params` file (MXNet's NDArray-list layout, V2 arrays, f32).
fn write_params(path: &Path, tensors: &[NamedTensor]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0x112u64.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    for t in tensors {
        b.extend_from_slice(&0xF993_FAC9u32.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&(t.shape.len() as u32).to_le_bytes());
        for &d in &t.shape {
            b.extend_from_slice(&(d as i64).to_le_bytes());
        }
        b.extend_from_slice(&1i32.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        for v in &t.data {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    b.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    for t in tensors {
        b.extend_from_slice(&(t.name.len() as u64).to_le_bytes());
        b.extend_from_slice(t.name.as_bytes());
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn weight_errors_name_the_problem() {
    let dev = Device::flex();
    let o = GetModelOptions {
        nclass: Some(5),
        ..Default::default()
    };
    let Net::Tsn(m) = get_model("resnet18_v1b_custom", &o, &dev).unwrap() else {
        unreachable!()
    };
    // GluonCV's names and layouts for this model: the backbone's names, dense weight [out, in].
    let good: Vec<NamedTensor> = parameter_names(&*m)
        .into_iter()
        .map(|(name, shape)| {
            let shape = if shape.len() == 2 {
                vec![shape[1], shape[0]]
            } else {
                shape
            };
            let n: usize = shape.iter().product();
            NamedTensor {
                name: name.strip_prefix("backbone.").unwrap_or(&name).to_string(),
                data: (0..n).map(|i| (i % 7) as f32 * 0.01 + 0.5).collect(),
                shape,
            }
        })
        .collect();
    assert!(
        good.iter().any(|t| t.name == "layer1.0.bn1.running_var")
            && good.iter().any(|t| t.name == "output.weight")
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.params");
    let load = |tensors: &[NamedTensor]| {
        write_params(&file, tensors);
        get_model("resnet18_v1b_custom", &o, &dev)
            .unwrap()
            .load_params(&file)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    load(&good).unwrap();

    let mut missing = good.clone();
    missing.retain(|t| t.name != "layer2.1.conv2.weight");
    let e = load(&missing).unwrap_err();
    assert!(
        e.contains("1 model parameters missing") && e.contains("layer2.1.conv2.weight"),
        "{e}"
    );

    let mut extra = good.clone();
    extra.push(NamedTensor {
        name: "layer9.weight".into(),
        shape: vec![2],
        data: vec![1.0, 2.0],
    });
    let e = load(&extra).unwrap_err();
    assert!(
        e.contains("1 file entries unused") && e.contains("layer9.weight"),
        "{e}"
    );

    // an alias (same contents under another name) is not an unused entry
    let mut alias = good.clone();
    let mut dup = good[3].clone();
    dup.name = "features.3.alias".into();
    alias.push(dup);
    load(&alias).unwrap();

    let mut wrong = good.clone();
    let k = wrong.iter().position(|t| t.name == "output.weight").unwrap();
    wrong[k] = NamedTensor {
        name: "output.weight".into(),
        shape: vec![4, 512],
        data: vec![0.0; 4 * 512],
    };
    let e = load(&wrong).unwrap_err();
    assert!(
        e.contains("parameter output.weight: shape [4, 512] in the file, the model has [5, 512]"),
        "{e}"
    );

    write_params(&file, &good);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let e = get_model("resnet18_v1b_custom", &o, &dev)
        .unwrap()
        .load_params(&file)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("w.params: truncated"), "{e}");
}
