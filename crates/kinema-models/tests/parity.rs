//! Logits and pooled features against GluonCV on the same `.params`, against torchvision and
//! GluonCV's PyTorch port on the same `.pth` (zip and legacy format), from random-init models
//! exported by `tools/gluoncv_fixtures.py`, `tools/torchvision_fixtures.py` and
//! `tools/gluoncv_torch_fixtures.py` (too large to commit). Run:
//! `make parity` (builds the venvs, exports the fixtures into ~/.cache/kinema/fixtures, runs
//! these with `--ignored`). `KINEMA_FIXTURES` points elsewhere.

use std::path::PathBuf;

use burn::tensor::Device;
use kinema_data::read_npy_f32;
use kinema_models::engine::Plan;
use kinema_models::{get_model, GetModelOptions};

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

/// Loads fixture `name` through the registry (`num_segments` frames/clips per video) and
/// compares features and logits.
fn case(name: &str, num_segments: usize) {
    case_with(name, &format!("{name}.params"), num_segments);
}

/// [`case`] with the weights in `weights` (of the fixtures folder), loaded by its extension.
fn case_with(name: &str, weights: &str, num_segments: usize) {
    compare(name, name, weights, num_segments);
}

/// Fixture `gluoncv_torch.PORT` from GluonCV's PyTorch port, loaded into registry entry `name`.
fn port_case(port: &str, name: &str) {
    let base = format!("gluoncv_torch.{port}");
    compare(name, &base, &format!("{base}.pth"), 1);
}

/// Registry entry `name` with weights `weights` against the fixture files `BASE.*`.
fn compare(name: &str, base: &str, weights: &str, num_segments: usize) {
    let dir = fixtures();
    let file = |ext: &str| dir.join(format!("{base}.{ext}"));
    let dev = Device::flex();
    let (shape, input) = read_npy_f32(&file("input.npy")).unwrap();
    let (_, logits) = read_npy_f32(&file("logits.npy")).unwrap();
    let (_, feats) = read_npy_f32(&file("features.npy")).unwrap();
    let o = GetModelOptions {
        num_segments: Some(num_segments),
        ..Default::default()
    };
    let net = get_model(name, &o, &dev)
        .unwrap()
        .load_weights(&dir.join(weights))
        .unwrap();
    // burn's ops (training, GPU) and the CPU eval engine (oneDNN), both against the reference.
    let (_, f) = net.run(&shape, input.clone(), true, &dev).unwrap();
    let (_, y) = net.run(&shape, input.clone(), false, &dev).unwrap();
    let onednn = |features| {
        Plan::compile(&net.lower(&shape, features).unwrap())
            .unwrap()
            .run(&input)
            .unwrap()
    };
    let (df, dy) = (onednn(true), onednn(false));
    for (engine, f, y) in [("burn", &f, &y), ("onednn", &df, &dy)] {
        let (ef, ey) = (rel_err(f, &feats), rel_err(y, &logits));
        eprintln!("{name} ({weights}, {engine}): features rel err {ef:.2e}, logits rel err {ey:.2e}");
        assert!(
            ef < 1e-4 && ey < 1e-4,
            "{name} on {engine}: features {ef}, logits {ey}"
        );
    }
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn resnet18_v1b_kinetics400() {
    case("resnet18_v1b_kinetics400", 3);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn i3d_resnet50_v1_kinetics400() {
    case("i3d_resnet50_v1_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn r2plus1d_resnet18_kinetics400() {
    case("r2plus1d_resnet18_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn r2plus1d_resnet50_kinetics400() {
    case("r2plus1d_resnet50_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn i3d_nl5_resnet50_v1_kinetics400() {
    case("i3d_nl5_resnet50_v1_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn slowfast_4x16_resnet50_kinetics400() {
    case("slowfast_4x16_resnet50_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn slowfast_8x8_resnet50_kinetics400() {
    case("slowfast_8x8_resnet50_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn c3d_kinetics400() {
    case("c3d_kinetics400", 1);
}

#[test]
#[ignore = "needs the torchvision fixtures: make parity"]
fn r3d_18_kinetics400() {
    case_with("r3d_18_kinetics400", "r3d_18_kinetics400.pth", 1);
}

#[test]
#[ignore = "needs the torchvision fixtures: make parity"]
fn r3d_18_kinetics400_legacy_pth() {
    case_with("r3d_18_kinetics400", "r3d_18_kinetics400.legacy.pth", 1);
}

#[test]
#[ignore = "needs the torchvision fixtures: make parity"]
fn mc3_18_kinetics400() {
    case_with("mc3_18_kinetics400", "mc3_18_kinetics400.pth", 1);
}

#[test]
#[ignore = "needs the torchvision fixtures: make parity"]
fn r2plus1d_18_kinetics400() {
    case_with("r2plus1d_18_kinetics400", "r2plus1d_18_kinetics400.pth", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn inceptionv1_kinetics400() {
    case("inceptionv1_kinetics400", 2);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn inceptionv3_kinetics400() {
    case("inceptionv3_kinetics400", 2);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn vgg16_ucf101() {
    case("vgg16_ucf101", 2);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn i3d_inceptionv1_kinetics400() {
    case("i3d_inceptionv1_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn i3d_inceptionv3_kinetics400() {
    case("i3d_inceptionv3_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn p3d_resnet50_kinetics400() {
    case("p3d_resnet50_kinetics400", 1);
}

#[test]
#[ignore = "needs the GluonCV fixtures: make parity"]
fn i3d_slow_resnet101_f16s4_kinetics700() {
    case("i3d_slow_resnet101_f16s4_kinetics700", 1);
}

// GluonCV's PyTorch port (`gluoncv.torch`): its state dicts into the same registry entries.

#[test]
#[ignore = "needs the GluonCV PyTorch-port fixtures: make parity"]
fn gluoncv_torch_i3d_resnet50_v1_kinetics400() {
    port_case("i3d_resnet50_v1_kinetics400", "i3d_resnet50_v1_kinetics400");
}

#[test]
#[ignore = "needs the GluonCV PyTorch-port fixtures: make parity"]
fn gluoncv_torch_i3d_nl5_resnet50_v1_kinetics400() {
    port_case(
        "i3d_nl5_resnet50_v1_kinetics400",
        "i3d_nl5_resnet50_v1_kinetics400",
    );
}

#[test]
#[ignore = "needs the GluonCV PyTorch-port fixtures: make parity"]
fn gluoncv_torch_i3d_slow_resnet101_f16s4_kinetics700() {
    port_case(
        "i3d_slow_resnet101_f16s4_kinetics700",
        "i3d_slow_resnet101_f16s4_kinetics700",
    );
}

#[test]
#[ignore = "needs the GluonCV PyTorch-port fixtures: make parity"]
fn gluoncv_torch_slowfast_4x16_resnet50_kinetics400() {
    port_case(
        "slowfast_4x16_resnet50_kinetics400",
        "slowfast_4x16_resnet50_kinetics400",
    );
}

#[test]
#[ignore = "needs the GluonCV PyTorch-port fixtures: make parity"]
fn gluoncv_torch_r2plus1d_v1_resnet50_kinetics400() {
    port_case(
        "r2plus1d_v1_resnet50_kinetics400",
        "r2plus1d_resnet50_kinetics400",
    );
}
