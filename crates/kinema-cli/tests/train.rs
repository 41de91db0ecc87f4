//! `kinema train`, `eval` and `predict` end to end on tiny synthetic data, and a real kill of a
//! training process and its resume, and the embedded default on videos it never saw.

use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{kinema, ok, synth};

const CONFIG: &str = r#"
model = "kinema_motion_custom"
out = "run"
seed = 1
[data]
root = "syn"
train = "syn/train.txt"
val = "syn/val.txt"
classes = "syn/classes.txt"
new_length = 4
new_step = 2
new_width = 40
new_height = 40
input_size = 32
flip = false
num_workers = 1
[train]
epochs = 2
batch_size = 2
lr = 0.05
checkpoint_every = 1
log_interval = 1
"#;

#[test]
fn train_eval_predict_and_a_killed_run_resumes() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "syn", "2", "4", "2", ("40", "48"), ("12", "16"));
    let cfg = d.path().join("train.toml");
    std::fs::write(&cfg, CONFIG).unwrap();

    // Uninterrupted reference run.
    let s = ok(kinema()
        .arg("train")
        .arg(&cfg)
        .args(["--out"])
        .arg(d.path().join("whole"))
        .arg("--json"));
    let j: serde_json::Value = serde_json::from_str(s.trim()).unwrap();
    assert_eq!(j["finished"], true);
    assert_eq!(j["epochs"].as_array().unwrap().len(), 2);

    // The same run, killed after its second step checkpoint, then resumed.
    let run = d.path().join("run");
    let mut child = kinema()
        .arg("train")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        let steps = std::fs::read_to_string(run.join("log.csv"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if steps >= 3 || t0.elapsed() > Duration::from_secs(300) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    ok(kinema().arg("train").arg(&cfg).arg("--resume"));
    let a = std::fs::read(d.path().join("whole/model.safetensors")).unwrap();
    let b = std::fs::read(run.join("model.safetensors")).unwrap();
    let parse = |bytes: &[u8]| -> Vec<f32> {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        bytes[8 + n..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (va, vb) = (parse(&a), parse(&b));
    assert_eq!(va.len(), vb.len());
    let scale = va.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let err = va.iter().zip(&vb).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale;
    assert!(err < 1e-4, "resumed weights differ: rel err {err}");

    // eval --json and its files.
    let model = run.join("best.safetensors");
    let s = ok(kinema()
        .args(["eval", "--data"])
        .arg(d.path().join("syn/val.txt"))
        .arg("--model")
        .arg(&model)
        .args(["--num-clips", "2", "--num-crops", "3", "--json", "--out"])
        .arg(d.path().join("eval")));
    let j: serde_json::Value = serde_json::from_str(s.trim()).unwrap();
    assert_eq!(j["num_videos"], 4);
    assert_eq!(j["views"], 6);
    for k in ["top1", "top5", "clip_top1"] {
        let v = j[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{k} {v}");
    }
    assert_eq!(j["top5"].as_f64().unwrap(), 1.0); // 2 classes
    let conf = std::fs::read_to_string(d.path().join("eval/confusion.csv")).unwrap();
    assert!(conf.starts_with("true\\predicted,move_left,move_right"), "{conf}");
    assert!(d.path().join("eval/confusion.png").exists());

    // predict: class names from the model's card.
    let video = d.path().join("syn/val/move_right/00001.mp4");
    let s = ok(kinema()
        .arg("predict")
        .arg(&video)
        .arg("--model")
        .arg(&model)
        .args(["--topk", "2", "--json"]));
    let j: serde_json::Value = serde_json::from_str(s.trim()).unwrap();
    let top = j["top"].as_array().unwrap();
    assert_eq!(top.len(), 2);
    let names: Vec<&str> = top.iter().map(|l| l["label"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"move_left") && names.contains(&"move_right"),
        "{names:?}"
    );
    let sum: f64 = top.iter().map(|l| l["score"].as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-4, "{sum}");

    // Errors name the thing.
    let out = kinema()
        .arg("predict")
        .arg(d.path().join("nope.mp4"))
        .arg("--model")
        .arg(&model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.mp4"));
    let out = kinema()
        .args(["predict", "x.mp4", "--model", "i3d_resnet50_v1_kinetic400"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("i3d_resnet50_v1_kinetics400"));
}

#[test]
fn embedded_default_labels_videos_it_never_saw() {
    let d = tempfile::tempdir().unwrap();
    // A seed the default was not trained on, every class, two videos each, the sizes and
    // lengths `kinema synth` makes by default.
    synth(d.path(), "new", "12", "1", "424242", ("112", "160"), ("40", "72"));
    let s = ok(kinema()
        .args(["eval", "--data"])
        .arg(d.path().join("new/val.txt"))
        .arg("--json"));
    let j: serde_json::Value = serde_json::from_str(s.trim()).unwrap();
    assert_eq!(j["num_videos"], 24);
    assert_eq!(j["model"], "kinema_motion_custom");
    assert!(
        j["top1"].as_f64().unwrap() >= 0.8,
        "default model top-1 {}",
        j["top1"]
    );
    let s = ok(kinema()
        .arg("predict")
        .arg(d.path().join("new/val/move_left/00001.mp4"))
        .args(["--topk", "12", "--json"]));
    let j: serde_json::Value = serde_json::from_str(s.trim()).unwrap();
    assert_eq!(j["top"].as_array().unwrap().len(), 12);
    // The registry name gives the same model.
    let s2 = ok(kinema()
        .arg("predict")
        .arg(d.path().join("new/val/move_left/00001.mp4"))
        .args(["--topk", "12", "--json", "--model", "kinema_motion_default"]));
    assert_eq!(s, s2);
}
