//! Training end to end on a tiny synthetic dataset: a run stopped mid-epoch and resumed ends
//! with the weights of an uninterrupted run; logs, curves and checkpoints are written; a
//! checkpoint and a config with mistakes give their errors.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use kinema_data::synth::{synth, SynthOptions};
use kinema_models::weights::read_safetensors;
use kinema_models::{get_model, GetModelOptions, Model};
use kinema_train::finetune::init_from;
use kinema_train::{train, RunOptions, TrainConfig};

fn dataset(dir: &Path) -> PathBuf {
    let out = dir.join("syn");
    synth(
        &SynthOptions {
            out: out.clone(),
            classes: 2,
            videos_per_class: 4,
            val_per_class: 2,
            seed: 5,
            min_size: 40,
            max_size: 48,
            min_frames: 12,
            max_frames: 16,
            threads: 1,
            ..Default::default()
        },
        &|_, _| {},
    )
    .unwrap();
    out
}

fn config(dir: &Path, out: &str) -> TrainConfig {
    let text = format!(
        r#"
model = "kinema_motion_custom"
out = "{out}"
seed = 3
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
lr_mode = "cosine"
warmup_epochs = 1
label_smoothing = 0.1
clip_grad = 5.0
checkpoint_every = 1
log_interval = 1
"#
    );
    TrainConfig::parse(&text, dir).unwrap()
}

fn weights(p: &Path) -> Vec<(String, Vec<f32>)> {
    read_safetensors(p)
        .unwrap()
        .0
        .into_iter()
        .map(|t| (t.name, t.data))
        .collect()
}

#[test]
fn stopped_and_resumed_run_matches_an_uninterrupted_one() {
    let d = tempfile::tempdir().unwrap();
    dataset(d.path());
    let whole = config(d.path(), "whole");
    let s = train(&whole, &RunOptions::default(), &|_| {}).unwrap();
    assert!(s.finished && s.epochs.len() == 2);
    let out = d.path().join("whole");
    for f in [
        "log.csv",
        "log.jsonl",
        "epochs.csv",
        "curves.png",
        "model.safetensors",
        "best.safetensors",
        "checkpoint.safetensors",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("log.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8, "{csv}"); // header + 4 steps x 2 epochs
    let png = std::fs::read(out.join("curves.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // Stop after 3 steps (mid-epoch 2 of 4 batches each... epoch 1 has 4 batches), then resume.
    let parts = config(d.path(), "parts");
    let s1 = train(
        &parts,
        &RunOptions {
            max_steps: Some(3),
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    assert!(!s1.finished);
    let s2 = train(
        &parts,
        &RunOptions {
            resume: true,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    assert!(s2.finished);
    let (a, b) = (
        weights(&out.join("model.safetensors")),
        weights(&d.path().join("parts/model.safetensors")),
    );
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let scale = va.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        let err = va.iter().zip(vb).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale;
        assert!(err < 1e-4, "{na}: rel err {err}");
    }
    // Same validation numbers too.
    let ea = std::fs::read_to_string(out.join("epochs.csv")).unwrap();
    let eb = std::fs::read_to_string(d.path().join("parts/epochs.csv")).unwrap();
    let col = |t: &str| {
        t.lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(col(&ea), col(&eb));

    // The saved model loads with its card and predicts the config's classes.
    let Model { net, card, .. } = Model::from_file(&out.join("best.safetensors"), &Device::flex()).unwrap();
    assert_eq!(card.classes, vec!["move_left", "move_right"]);
    assert_eq!(card.input.input_size(), Some(32));
    assert!(net.num_params() > 1000);

    // Fine-tuning to 3 classes from it: the body comes from the file, the classifier starts fresh.
    let dev = Device::flex();
    let o = GetModelOptions {
        nclass: Some(3),
        ..Default::default()
    };
    let fresh = get_model("kinema_motion_custom", &o, &dev).unwrap();
    let tuned = init_from(fresh, &out.join("best.safetensors")).unwrap();
    let file: std::collections::HashMap<String, Vec<f32>> =
        weights(&out.join("best.safetensors")).into_iter().collect();
    for t in tuned.tensors().unwrap() {
        if t.name.starts_with("fc.") {
            assert_eq!(t.shape[0], 3, "{}", t.name);
        } else {
            assert_eq!(&t.data, &file[&t.name], "{}", t.name);
        }
    }
}

#[test]
fn bad_checkpoints_and_configs_are_named_errors() {
    let d = tempfile::tempdir().unwrap();
    dataset(d.path());
    let c = config(d.path(), "run");
    std::fs::create_dir_all(d.path().join("run")).unwrap();
    std::fs::write(d.path().join("run/checkpoint.safetensors"), b"garbage").unwrap();
    let e = train(
        &c,
        &RunOptions {
            resume: true,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("checkpoint.safetensors"), "{e}");

    let mut c = config(d.path(), "run2");
    c.model = "r2plus1d_resnet18_kinetic400".into();
    let e = train(&c, &RunOptions::default(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown model") && e.contains("r2plus1d_resnet18_kinetics400"),
        "{e}"
    );

    let mut c = config(d.path(), "run3");
    c.data.train = "syn/nope.txt".into();
    let e = train(&c, &RunOptions::default(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.txt"), "{e}");

    let p = d.path().join("bad.toml");
    std::fs::write(
        &p,
        "model = \"kinema_motion_custom\"\n[data]\nroot = \".\"\ntrain = \"t.txt\"\n[train]\nlr = \"fast\"\n",
    )
    .unwrap();
    let e = TrainConfig::load(&p).unwrap_err().to_string();
    assert!(e.contains("bad.toml") && e.contains("lr"), "{e}");
}

/// A step over parts of a batch, checked against plain steps on each part alone: with SGD at
/// learning rate 1 (no momentum, no weight decay) a weight moves by minus its gradient, so the
/// parts' step must move each weight by the parts' moves weighted by their share of the batch
/// (3/4 and 1/4), and leave the BatchNorm statistics at the mean of each part's (1/2 and 1/2).
#[test]
fn a_step_over_parts_sums_weighted_gradients_and_averages_batch_norm_statistics() {
    use kinema_dist::Comm;
    use kinema_train::{step_parts, Part};
    use kinema_train::{train_step, Optimizer, OptimizerKind, OptimizerOptions};

    let dev = Device::flex().autodiff();
    let o = GetModelOptions {
        nclass: Some(3),
        ..Default::default()
    };
    // Copies of one random model (burn's seed is global: other tests draw at the same time).
    let start = get_model("kinema_motion_custom", &o, &dev)
        .unwrap()
        .tensors()
        .unwrap();
    let fresh = || {
        get_model("kinema_motion_custom", &o, &dev)
            .unwrap()
            .load_tensors(start.clone(), Path::new("start"))
            .unwrap()
    };
    let sgd = || {
        Optimizer::new(OptimizerOptions {
            kind: OptimizerKind::Sgd,
            momentum: 0.0,
            wd: 0.0,
            ..Default::default()
        })
    };
    let per_clip = 3 * 4 * 32 * 32;
    let shape = |n: usize| vec![n, 3, 4, 32, 32];
    let mut rng = kinema_data::Rng::for_sample(1, 2, 3);
    let data: Vec<f32> = (0..4 * per_clip)
        .map(|_| rng.uniform() as f32 * 2.0 - 1.0)
        .collect();
    let labels = [0usize, 2, 1, 2];
    let no_factor = |_: &str| 1.0;
    let values = |net: &kinema_models::Net| -> Vec<(String, Vec<f32>)> {
        net.tensors()
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.data))
            .collect()
    };
    let w0 = values(&fresh());

    let alone = |range: std::ops::Range<usize>| {
        let n = range.len();
        let s = train_step(
            fresh(),
            &mut sgd(),
            (
                &shape(n),
                data[range.start * per_clip..range.end * per_clip].to_vec(),
                &labels[range],
            ),
            (1.0, 0.0, &no_factor),
            &dev,
        )
        .unwrap();
        values(&s.net)
    };
    let (a, b) = (alone(0..3), alone(3..4));

    let parts = vec![
        Part {
            shape: shape(3),
            data: data[..3 * per_clip].to_vec(),
            labels: &labels[..3],
        },
        Part {
            shape: shape(1),
            data: data[3 * per_clip..].to_vec(),
            labels: &labels[3..],
        },
    ];
    let s = step_parts(
        fresh(),
        &mut sgd(),
        parts,
        4,
        (1.0, 0.0, &no_factor),
        &Comm::single(),
        &dev,
    )
    .unwrap();
    let got = values(&s.step.net);
    let mut checked = (0, 0);
    for (((name, w), (_, wa)), ((_, wb), (_, wg))) in w0.iter().zip(&a).zip(b.iter().zip(&got)) {
        let stat = name.ends_with("running_mean") || name.ends_with("running_var");
        let scale = wg.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        for i in 0..w.len() {
            let want = if stat {
                (wa[i] + wb[i]) / 2.0
            } else {
                w[i] + 0.75 * (wa[i] - w[i]) + 0.25 * (wb[i] - w[i])
            };
            assert!(
                (wg[i] - want).abs() <= 1e-4 * scale,
                "{name}[{i}]: {} instead of {want}",
                wg[i]
            );
        }
        if stat {
            checked.1 += 1;
        } else if a.iter().any(|(n, x)| n == name && x != w) {
            checked.0 += 1;
        }
    }
    assert!(checked.0 > 4 && checked.1 > 4, "{checked:?}");
    // The loss is the batch mean: the parts' mean losses weighted by their sizes.
    assert!(s.step.loss.is_finite() && s.step.loss > 0.0);
}

/// A damaged training video stops the run with its name; with `data.skip_errors` its clips are
/// left out and the run finishes.
#[test]
fn a_damaged_video_stops_training_or_is_left_out_when_asked() {
    let d = tempfile::tempdir().unwrap();
    let root = dataset(d.path());
    let list = std::fs::read_to_string(root.join("train.txt")).unwrap();
    let first = list
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let video = root.join(&first);
    let bytes = std::fs::read(&video).unwrap();
    std::fs::write(&video, &bytes[..bytes.len() / 3]).unwrap();
    let mut c = config(d.path(), "strict");
    c.train.epochs = 1;
    let e = train(&c, &RunOptions::default(), &|_| {})
        .unwrap_err()
        .to_string();
    let name = video.file_name().unwrap().to_string_lossy().into_owned();
    assert!(e.contains(&name) && e.contains("step"), "{e}");
    let mut c = config(d.path(), "lenient");
    c.train.epochs = 1;
    c.data.skip_errors = true;
    let s = train(&c, &RunOptions::default(), &|_| {}).unwrap();
    assert!(s.finished);
    assert!(s.epochs[0].train_loss.is_finite());
}
