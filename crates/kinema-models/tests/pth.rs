//! A PyTorch state dict for a registry model (torchvision's keys) loads by file extension, and
//! every missing, unused or mis-shaped key is an error naming it.

use std::io::Write;
use std::path::Path;

use burn::tensor::Device;
use kinema_models::weights::{parameter_names, read_pth, NamedTensor};
use kinema_models::{get_model, GetModelOptions, Net};

/// Writes `tensors` as `torch.save` does since 1.6: a zip of `archive/data.pkl` (pickle
/// protocol 2: an OrderedDict of `_rebuild_tensor_v2` calls on FloatStorages) and one
/// `archive/data/N` per tensor. (The reader's own tests read files torch wrote; this writes
/// files too large to commit.)
fn write_pth(path: &Path, tensors: &[NamedTensor]) {
    fn text(b: &mut Vec<u8>, s: &str) {
        b.push(b'X');
        b.extend((s.len() as u32).to_le_bytes());
        b.extend(s.as_bytes());
    }
    fn int(b: &mut Vec<u8>, v: usize) {
        b.push(b'J');
        b.extend((v as i32).to_le_bytes());
    }
    fn global(b: &mut Vec<u8>, module: &str, name: &str) {
        b.push(b'c');
        b.extend(format!("{module}\n{name}\n").as_bytes());
    }
    let mut p = vec![0x80, 2];
    global(&mut p, "collections", "OrderedDict");
    p.extend(b")R(");
    for (i, t) in tensors.iter().enumerate() {
        text(&mut p, &t.name);
        global(&mut p, "torch._utils", "_rebuild_tensor_v2");
        p.extend(b"((");
        text(&mut p, "storage");
        global(&mut p, "torch", "FloatStorage");
        text(&mut p, &i.to_string());
        text(&mut p, "cpu");
        int(&mut p, t.data.len());
        p.extend(b"tQ");
        int(&mut p, 0);
        p.push(b'(');
        for &d in &t.shape {
            int(&mut p, d);
        }
        p.extend(b"t(");
        for k in 0..t.shape.len() {
            int(&mut p, t.shape[k + 1..].iter().product());
        }
        p.extend(b"t\x89");
        global(&mut p, "collections", "OrderedDict");
        p.extend(b")RtR");
    }
    p.extend(b"u.");
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let o = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("archive/data.pkl", o).unwrap();
    w.write_all(&p).unwrap();
    w.start_file("archive/byteorder", o).unwrap();
    w.write_all(b"little").unwrap();
    for (i, t) in tensors.iter().enumerate() {
        w.start_file(format!("archive/data/{i}"), o).unwrap();
        let b: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        w.write_all(&b).unwrap();
    }
    w.start_file("archive/version", o).unwrap();
    w.write_all(b"3\n").unwrap();
    w.finish().unwrap();
}

const MODEL: &str = "mc3_18_custom";

fn model() -> Net {
    let o = GetModelOptions {
        nclass: Some(3),
        ..Default::default()
    };
    get_model(MODEL, &o, &Device::flex()).unwrap()
}

/// The state dict torchvision's `mc3_18(num_classes=3)` has, with distinct values per tensor:
/// its keys, PyTorch's layouts (`fc.weight` `[out, in]`), and BatchNorm's counters.
fn torchvision_state_dict() -> Vec<NamedTensor> {
    let Net::VideoResNet(m) = model() else {
        unreachable!("{MODEL} is a torchvision video ResNet")
    };
    let mut out = Vec::new();
    for (k, (name, shape)) in parameter_names(&*m).into_iter().enumerate() {
        let shape = if shape.len() == 2 {
            vec![shape[1], shape[0]]
        } else {
            shape
        };
        let n: usize = shape.iter().product();
        let name = name.replace(".gamma", ".weight").replace(".beta", ".bias");
        if name.ends_with(".running_var") {
            let counter = name.replace(".running_var", ".num_batches_tracked");
            out.push(NamedTensor {
                name: counter,
                shape: vec![],
                data: vec![100.0],
            });
        }
        out.push(NamedTensor {
            name,
            data: (0..n)
                .map(|i| 0.5 + k as f32 * 1e-3 + (i % 11) as f32 * 1e-2)
                .collect(),
            shape,
        });
    }
    out
}

#[test]
fn a_torchvision_state_dict_loads_by_extension() {
    let sd = torchvision_state_dict();
    assert!(
        [
            "stem.0.weight",
            "layer1.0.conv1.0.weight",
            "layer2.0.downsample.1.bias",
            "fc.weight"
        ]
        .iter()
        .all(|k| sd.iter().any(|t| t.name == *k)),
        "torchvision's keys"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mc3.pth");
    write_pth(&file, &sd);
    // The reader drops the counters and keeps the rest as written.
    let back = read_pth(&file).unwrap();
    assert_eq!(
        back.len(),
        sd.iter()
            .filter(|t| !t.name.ends_with("num_batches_tracked"))
            .count()
    );
    let loaded = model().load_weights(&file).unwrap().tensors().unwrap();
    for (kinema, torch) in [
        ("stem.1.gamma", "stem.1.weight"),
        ("layer4.1.conv2.1.running_mean", "layer4.1.conv2.1.running_mean"),
        ("fc.weight", "fc.weight"),
    ] {
        let got = loaded.iter().find(|t| t.name == kinema).unwrap();
        let want = sd.iter().find(|t| t.name == torch).unwrap();
        assert_eq!((&got.shape, &got.data), (&want.shape, &want.data), "{kinema}");
    }
    // `.pt` is the same format; `nn.DataParallel`'s `module.` prefix is dropped.
    let pt = dir.path().join("mc3.pt");
    let prefixed: Vec<NamedTensor> = sd
        .iter()
        .map(|t| NamedTensor {
            name: format!("module.{}", t.name),
            ..t.clone()
        })
        .collect();
    write_pth(&pt, &prefixed);
    model().load_weights(&pt).unwrap();
    // Under kinema's paths, for callers that edit the state dict first.
    let ours = model().read_pth(&file).unwrap();
    assert!(ours.iter().any(|t| t.name == "layer1.0.conv1.1.gamma"));
    assert!(!ours.iter().any(|t| t.name == "layer1.0.conv1.1.weight"));
}

#[test]
fn missing_unused_and_mis_shaped_keys_are_named() {
    let sd = torchvision_state_dict();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.pth");
    let load = |tensors: &[NamedTensor]| {
        write_pth(&file, tensors);
        model().load_weights(&file).unwrap_err().to_string()
    };
    let missing: Vec<NamedTensor> = sd
        .iter()
        .filter(|t| t.name != "layer3.1.conv2.1.running_var")
        .cloned()
        .collect();
    let e = load(&missing);
    assert!(
        e.contains("w.pth")
            && e.contains("1 model parameters missing")
            && e.contains("layer3.1.conv2.1.running_var"),
        "{e}"
    );
    let mut extra = sd.clone();
    extra.push(NamedTensor {
        name: "layer5.0.conv1.0.weight".into(),
        shape: vec![2],
        data: vec![42.0, -42.0],
    });
    let e = load(&extra);
    assert!(
        e.contains("1 file entries unused") && e.contains("layer5.0.conv1.0.weight"),
        "{e}"
    );
    let mut wrong = sd.clone();
    let bias = wrong.iter_mut().find(|t| t.name == "fc.bias").unwrap();
    bias.shape = vec![4];
    bias.data = vec![0.0; 4];
    let e = load(&wrong);
    assert!(
        e.contains("parameter fc.bias") && e.contains("[4]") && e.contains("[3]"),
        "{e}"
    );
}
