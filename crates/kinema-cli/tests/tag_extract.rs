//! `kinema extract` and `kinema tag` end to end with the embedded default model on synthetic
//! videos it never trained on: features equal the model's own, a stopped extraction resumes,
//! a folder is labelled, a long video made of three actions becomes a timeline of them.

mod common;

use std::path::Path;

use common::{kinema, ok, synth};
use kinema_data::{read_npy_f32, VideoClsCustom};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// `kinema extract --data DATA --out OUT --json`, its JSON.
fn extract(data: &Path, out: &Path) -> serde_json::Value {
    json(&ok(kinema()
        .args(["extract", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .arg("--json")))
}

#[test]
fn extract_writes_the_models_features_and_resumes() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "syn", "2", "1", "99", ("64", "96"), ("30", "40"));
    let (data, out) = (d.path().join("syn/val.txt"), d.path().join("feats"));
    let j = extract(&data, &out);
    assert_eq!((j["written"].as_u64(), j["skipped"].as_u64()), (Some(4), Some(0)));
    assert_eq!(j["feat_dim"], 128);
    let csv = std::fs::read_to_string(out.join("features.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");

    // The files hold what the model computes on the same clips.
    let dev = burn::tensor::Device::flex();
    let kinema_models::Model { net, card, .. } = kinema_models::Model::embedded_default(&dev).unwrap();
    let ds = VideoClsCustom::new(d.path().join("syn"), &data, card.dataset_options()).unwrap();
    let files: Vec<std::path::PathBuf> = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().into())
        .collect();
    for (i, file) in files.iter().enumerate() {
        assert!(file.starts_with(&out) && file.extension().unwrap() == "npy");
        let (shape, got) = read_npy_f32(file).unwrap();
        assert_eq!(shape, vec![128]);
        let clip = ds.get(i, 0).unwrap();
        let (_, want) = net.run(&clip.shape, clip.data, true, &dev).unwrap();
        let err = got.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-4, "{}: features differ by {err}", file.display());
    }

    // A run that lost a file writes only that one again, with the same values.
    let before = std::fs::read(&files[2]).unwrap();
    std::fs::remove_file(&files[2]).unwrap();
    let j = extract(&data, &out);
    assert_eq!((j["written"].as_u64(), j["skipped"].as_u64()), (Some(1), Some(3)));
    assert_eq!(std::fs::read(&files[2]).unwrap(), before);

    // Views averaged: 3 clips x 3 crops give other values of the same size.
    let multi = d.path().join("multi");
    ok(kinema()
        .args(["extract", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&multi)
        .args(["--num-clips", "3", "--num-crops", "3"]));
    let rel = files[0].strip_prefix(&out).unwrap();
    let (shape, m) = read_npy_f32(&multi.join(rel)).unwrap();
    assert_eq!(shape, vec![128]);
    assert_ne!(m, read_npy_f32(&files[0]).unwrap().1);

    let bad = kinema()
        .args(["extract", "--data", "nope.txt", "--out"])
        .arg(d.path().join("x"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nope.txt"));
}

/// Scales `parts` to one size and joins them into one H.264 video.
fn concat(parts: &[&Path], out: &Path) {
    let mut c = std::process::Command::new("ffmpeg");
    c.args(["-v", "error", "-y"]);
    let mut graph = String::new();
    for (i, p) in parts.iter().enumerate() {
        c.arg("-i").arg(p);
        graph.push_str(&format!("[{i}:v]scale=128:96,setsar=1[v{i}];"));
    }
    for i in 0..parts.len() {
        graph.push_str(&format!("[v{i}]"));
    }
    graph.push_str(&format!("concat=n={}:v=1[v]", parts.len()));
    let st = c
        .args([
            "-filter_complex",
            &graph,
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success());
}

/// `kinema tag INPUT --out OUT --json EXTRA...`, its JSON.
fn tag(input: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    json(&ok(kinema()
        .arg("tag")
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .args(extra)))
}

#[test]
fn tag_labels_a_folder_and_a_long_video() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "syn", "12", "1", "11", ("112", "160"), ("48", "64"));
    let v = |c: &str| d.path().join(format!("syn/val/{c}/00001.mp4"));

    // A folder (searched recursively): one line per video, the top label as predict says it.
    let folder = d.path().join("folder");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::copy(v("move_left"), folder.join("a.mp4")).unwrap();
    std::fs::copy(v("zoom_in"), folder.join("sub/b.mp4")).unwrap();
    std::fs::write(folder.join("notes.txt"), "not a video").unwrap();
    let out = d.path().join("tags");
    let j = tag(&folder, &out, &[]);
    let vids = j["videos"].as_array().unwrap();
    assert_eq!(vids.len(), 2);
    assert_eq!(vids[0]["top"][0]["label"], "move_left");
    assert_eq!(vids[1]["top"][0]["label"], "zoom_in");
    let csv = std::fs::read_to_string(out.join("tags.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(",move_left,"), "{csv}");

    // A long video: three actions one after the other.
    let long = d.path().join("long.mp4");
    concat(&[&v("move_left"), &v("zoom_in"), &v("move_up")], &long);
    let frames = kinema_av::VideoReader::open(&long).unwrap().len();
    let out = d.path().join("timeline");
    let j = tag(&long, &out, &[]);
    let windows = j["windows"].as_array().unwrap();
    assert!(windows.len() >= 5, "{j}");
    assert_eq!(windows[0]["start_frame"], 0);
    assert_eq!(windows.last().unwrap()["end_frame"].as_u64(), Some(frames as u64));
    let segs = j["segments"].as_array().unwrap();
    let labels: Vec<&str> = segs.iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels.first(), Some(&"move_left"), "{labels:?}");
    assert_eq!(labels.last(), Some(&"move_up"), "{labels:?}");
    assert!(labels.contains(&"zoom_in"), "{labels:?}");
    // Segments tile the video.
    for p in segs.windows(2) {
        assert_eq!(p[0]["end"], p[1]["start"]);
    }
    for f in ["timeline.json", "timeline.csv", "segments.csv"] {
        assert!(out.join(f).exists(), "{f}");
    }
    assert_eq!(&std::fs::read(out.join("timeline.png")).unwrap()[1..4], b"PNG");

    // A stream that starts late (MPEG-TS starts at 1.4 s): the timeline is in stream time and
    // its picture (frames under it) is made all the same.
    let ts = d.path().join("long.ts");
    let o = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&long)
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(&ts)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out_ts = d.path().join("timeline_ts");
    let j = tag(&ts, &out_ts, &[]);
    let first = j["segments"][0]["start"].as_f64().unwrap();
    assert!(first > 1.0, "{j}");
    assert_eq!(&std::fs::read(out_ts.join("timeline.png")).unwrap()[1..4], b"PNG");

    // Window and stride in seconds; nonsense is refused with the option's name.
    let j = tag(&long, &out, &["--window", "2", "--stride", "1"]);
    assert_eq!(j["window_frames"], 50);
    assert_eq!(j["stride_frames"], 25);
    let bad = kinema()
        .arg("tag")
        .arg(&long)
        .args(["--stride", "0", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--stride"));
}
