//! Logits and pooled features against GluonCV on the same `.params`, from random-init models
//! exported by `tools/gluoncv_fixtures.py` (too large to commit). Run: `make parity`
//! (builds the venv, exports the fixtures into ~/.cache/kinema/fixtures, runs these with
//! `--ignored`). `KINEMA_FIXTURES` points elsewhere.

use std::path::PathBuf;

use burn::tensor::{Device, TensorData};
use burn::Tensor;
use kinema_data::read_npy_f32;
use kinema_models::i3d::{I3dConfig, I3dResNet};
use kinema_models::tsn::TsnResNet;
use kinema_models::weights::{load_named, read_params};

fn fixtures() -> PathBuf {
    std::env::var_os("KINEMA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/kinema/fixtures")
        })
}

/// max |a - b| / max |b|
fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

fn tsn_case(name: &str, depth: usize, segments: usize) {
    let dir = fixtures();
    let file = |ext: &str| dir.join(format!("{name}.{ext}"));
    let dev = Device::flex();
    let (in_shape, input) = read_npy_f32(&file("input.npy")).unwrap();
    let (_, logits) = read_npy_f32(&file("logits.npy")).unwrap();
    let (_, feats) = read_npy_f32(&file("features.npy")).unwrap();
    let net = TsnResNet::new(depth, 400, segments, &dev).unwrap();
    let params = file("params");
    let net = load_named(net, read_params(&params).unwrap(), &params, &|p| {
        p.strip_prefix("backbone.").unwrap_or(p).to_string()
    })
    .unwrap();
    let x = Tensor::<4>::from_data(
        TensorData::new(input, [in_shape[0], in_shape[1], in_shape[2], in_shape[3]]),
        &dev,
    );
    let f: Vec<f32> = net
        .features(x.clone())
        .unwrap()
        .into_data()
        .try_into_vec()
        .unwrap();
    let y: Vec<f32> = net.forward(x).unwrap().into_data().try_into_vec().unwrap();
    let (ef, ey) = (rel_err(&f, &feats), rel_err(&y, &logits));
    eprintln!("{name}: features rel err {ef:.2e}, logits rel err {ey:.2e}");
    assert!(ef < 1e-4 && ey < 1e-4, "{name}: features {ef}, logits {ey}");
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn resnet18_v1b_kinetics400_matches_gluoncv() {
    tsn_case("resnet18_v1b_kinetics400", 18, 3);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn i3d_resnet50_v1_kinetics400_matches_gluoncv() {
    let name = "i3d_resnet50_v1_kinetics400";
    let dir = fixtures();
    let file = |ext: &str| dir.join(format!("{name}.{ext}"));
    let dev = Device::flex();
    let (s, input) = read_npy_f32(&file("input.npy")).unwrap();
    let (_, logits) = read_npy_f32(&file("logits.npy")).unwrap();
    let (_, feats) = read_npy_f32(&file("features.npy")).unwrap();
    let net = I3dResNet::new(&I3dConfig::resnet_v1(50, 400).unwrap(), &dev).unwrap();
    let params = file("params");
    let net = load_named(net, read_params(&params).unwrap(), &params, &|p| p.to_string()).unwrap();
    let x = Tensor::<5>::from_data(TensorData::new(input, [s[0], s[1], s[2], s[3], s[4]]), &dev);
    let f: Vec<f32> = net
        .features(x.clone())
        .unwrap()
        .into_data()
        .try_into_vec()
        .unwrap();
    let y: Vec<f32> = net.forward(x).unwrap().into_data().try_into_vec().unwrap();
    let (ef, ey) = (rel_err(&f, &feats), rel_err(&y, &logits));
    eprintln!("{name}: features rel err {ef:.2e}, logits rel err {ey:.2e}");
    assert!(ef < 1e-4 && ey < 1e-4, "{name}: features {ef}, logits {ey}");
}
