//! The `kinema` binary end to end: probe, frames, bench-decode protocol, errors.

use std::path::Path;
use std::process::Command;

mod common;
use common::kinema;

fn sample(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("sample.mp4");
    let st = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("testsrc2=size=64x48:rate=25,noise=alls=10:allf=t")
        .args([
            "-t", "1.2", "-c:v", "libx264", "-bf", "2", "-g", "10", "-pix_fmt", "yuv420p",
        ])
        .arg(&p)
        .status()
        .expect("ffmpeg CLI");
    assert!(st.success());
    p
}

#[test]
fn probe_json() {
    let d = tempfile::tempdir().unwrap();
    let v = sample(d.path());
    let out = kinema().arg("probe").arg(&v).arg("--json").output().unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["frames"], 30);
    assert_eq!(j["codec"], "h264");
    assert_eq!(j["width"], 64);
    assert_eq!(j["key_frames"][0], 0);
    assert!((j["fps"].as_f64().unwrap() - 25.0).abs() < 1e-9);
}

#[test]
fn frames_writes_pngs() {
    let d = tempfile::tempdir().unwrap();
    let v = sample(d.path());
    let out_dir = d.path().join("out");
    let out = kinema()
        .arg("frames")
        .arg(&v)
        .args(["--indices", "0,29,7", "--resize", "32x24", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for i in [0, 29, 7] {
        let f = std::fs::File::open(out_dir.join(format!("frame_{i:06}.png"))).unwrap();
        let r = png::Decoder::new(std::io::BufReader::new(f)).read_info().unwrap();
        assert_eq!((r.info().width, r.info().height), (32, 24));
    }
}

#[test]
fn bench_decode_protocol() {
    let d = tempfile::tempdir().unwrap();
    let v = sample(d.path());
    let dump = d.path().join("dump.rgb");
    let out = kinema()
        .arg("bench-decode")
        .arg(&v)
        .args(["rand32", "5,3,5,29", "--reps", "3", "--warmup", "1", "--dump"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let last = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let j: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(j["times_ms"].as_array().unwrap().len(), 3);
    assert_eq!(j["shape"], serde_json::json!([4, 48, 64, 3]));
    let bytes = std::fs::read(&dump).unwrap();
    assert_eq!(bytes.len(), 4 * 48 * 64 * 3);
    assert_eq!(
        bytes[..9216],
        bytes[2 * 9216..3 * 9216],
        "duplicate index 5 gives the same frame"
    );

    for (op, idx, n) in [("seq", "all", 30), ("open", "", 0), ("i3d_224", "1,3,5", 3)] {
        let mut c = kinema();
        c.arg("bench-decode")
            .arg(&v)
            .args([op, idx, "--reps", "1", "--warmup", "0", "--dump"])
            .arg(&dump);
        if op == "i3d_224" {
            c.args(["--resize", "224x224"]);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{op}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string();
        let j: serde_json::Value = serde_json::from_str(&last).unwrap();
        if op != "open" {
            assert_eq!(j["shape"][0], n, "{op}");
            assert_eq!(
                std::fs::metadata(&dump).unwrap().len() as usize,
                n * j["shape"][1].as_u64().unwrap() as usize * j["shape"][2].as_u64().unwrap() as usize * 3
            );
        }
        if op == "i3d_224" {
            assert_eq!(j["shape"][1], 224);
        }
    }
}

#[test]
fn errors_exit_nonzero_and_name_the_file() {
    let out = kinema().args(["probe", "/no/such/video.mp4"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/no/such/video.mp4") && err.contains("no such file"),
        "{err}"
    );

    let d = tempfile::tempdir().unwrap();
    let v = sample(d.path());
    let out = kinema()
        .arg("frames")
        .arg(&v)
        .args(["--indices", "30", "--out"])
        .arg(d.path().join("o"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"));
    let out = kinema()
        .arg("bench-decode")
        .arg(&v)
        .args(["bogus", ""])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// `--device cuda` on a machine that cannot run it (a kinema without CUDA, no driver, no NVRTC,
/// no such device) ends in an error naming the device and the reason, never a panic; where a
/// GPU is there, it predicts.
#[test]
fn a_cuda_device_that_cannot_run_is_a_named_error() {
    let d = tempfile::tempdir().unwrap();
    let v = sample(d.path());
    for device in ["cuda", "cuda:4096"] {
        let out = kinema()
            .args(["--device", device, "predict"])
            .arg(&v)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{device}: {err}");
        if !out.status.success() {
            assert_eq!(out.status.code(), Some(1), "{device}: {err}");
            assert!(err.contains(&format!("device \"{device}\"")), "{device}: {err}");
        } else {
            assert_eq!(device, "cuda", "no machine has 4097 GPUs");
        }
    }
}

/// synth -> data check -> data sample -> data bench, and their errors.
#[test]
fn synth_and_data_verbs() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("syn");
    let run = |args: &[&str]| kinema().args(args).current_dir(d.path()).output().unwrap();
    let o = run(&[
        "synth",
        "--out",
        "syn",
        "--classes",
        "3",
        "--videos-per-class",
        "2",
        "--val-per-class",
        "1",
        "--seed",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((j["train"].as_u64(), j["val"].as_u64()), (Some(6), Some(3)));

    let o = run(&["data", "check", "syn/train.txt", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["label_histogram"], serde_json::json!([2, 2, 2]));
    assert_eq!(j["wrong_length"].as_array().unwrap().len(), 0);

    // a line with a wrong count, a missing video: reported, non-zero exit
    let setting = std::fs::read_to_string(out.join("train.txt")).unwrap();
    let first = setting
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    std::fs::write(out.join("bad.txt"), format!("{first} 3 0\ngone.mp4 10 1\n")).unwrap();
    let o = run(&["data", "check", "syn/bad.txt", "--json"]);
    assert!(!o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["missing"].as_array().unwrap().len(), 1);
    assert_eq!(j["wrong_length"][0]["listed"].as_u64(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 missing"));

    let o = run(&[
        "data",
        "sample",
        "syn/train.txt",
        "--line",
        "1",
        "--mode",
        "val",
        "--num-segments",
        "2",
        "--new-length",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = j["num_frames"].as_u64().unwrap() as usize;
    let tick = (n - 3 + 1) as f64 / 2.0;
    let starts = [(tick / 2.0) as usize, (tick / 2.0 + tick) as usize];
    let want: Vec<usize> = starts.iter().flat_map(|&s| s..s + 3).collect();
    assert_eq!(j["frame_indices"], serde_json::json!(want));
    assert_eq!(j["clip_shape"], serde_json::json!([2, 3, 3, 224, 224]));
    assert_eq!(j["crops"][0]["x"].as_u64(), Some(58));

    // Boolean options are flags as users type them; `--slowfast=false` still reads. SlowFast
    // 16 frames: 8 fast (stride 2) + 1 slow (stride 16) along T.
    for (flag, t) in [
        ("--slowfast", 9),
        ("--slowfast=false", 16),
        ("--temporal-jitter", 16),
    ] {
        let o = run(&[
            "data",
            "sample",
            "syn/train.txt",
            "--line",
            "1",
            "--new-length",
            "16",
            flag,
            "--json",
        ]);
        assert!(
            o.status.success(),
            "{flag}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["clip_shape"][2], t, "{flag}: {j}");
    }

    for (args, needle) in [
        (
            vec!["data", "sample", "syn/train.txt", "--line", "6"],
            "out of range",
        ),
        (
            vec!["data", "sample", "syn/train.txt", "--line", "0", "--mode", "eval"],
            "mode \"eval\"",
        ),
        (
            vec![
                "data",
                "sample",
                "syn/train.txt",
                "--line",
                "0",
                "--num-crop",
                "4",
                "--mode",
                "test",
            ],
            "num_crop 4",
        ),
        (vec!["data", "sample", "syn/nope.txt", "--line", "0"], "nope.txt"),
        (vec!["synth", "--out", "x", "--classes", "20"], "classes 20"),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(needle), "{args:?}: {err}");
    }

    let o = run(&[
        "data",
        "bench",
        "syn/train.txt",
        "--model-input",
        "i3d",
        "--workers",
        "2",
        "--batch-size",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["clips"].as_u64(), Some(6));
    assert_eq!(j["batch_shape"], serde_json::json!([2, 1, 3, 32, 224, 224]));
    assert!(j["clips_per_sec"].as_f64().unwrap() > 0.0);
}

/// models list / forward, and their errors.
#[test]
fn models_list_and_forward() {
    let d = tempfile::tempdir().unwrap();
    let o = kinema().args(["models", "list", "--json"]).output().unwrap();
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"i3d_resnet50_v1_kinetics400") && names.contains(&"resnet50_v1b_hmdb51"));

    let input = d.path().join("x.npy");
    let short = d.path().join("short.npy");
    kinema_data::write_npy_f32(&short, &[1, 3, 4, 32, 32], &vec![0.25; 3 * 4 * 32 * 32]).unwrap();
    let n = 2 * 3 * 5 * 32 * 32;
    kinema_data::write_npy_f32(&input, &[2, 3, 5, 32, 32], &vec![0.25; n]).unwrap();
    let out = d.path().join("y.npy");
    let run = |args: &[&str]| kinema().args(args).output().unwrap();
    let o = run(&[
        "models",
        "forward",
        "i3d_resnet50_v1_custom",
        "--nclass",
        "7",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (shape, y) = kinema_data::read_npy_f32(&out).unwrap();
    assert_eq!(shape, vec![2, 7]);
    assert!(y.iter().all(|v| v.is_finite()));
    let o = run(&[
        "models",
        "forward",
        "i3d_resnet50_v1_custom",
        "--nclass",
        "7",
        "--num-segments",
        "2",
        "--features",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(kinema_data::read_npy_f32(&out).unwrap().0, vec![1, 2048]);

    for (args, needle) in [
        (
            vec![
                "models",
                "forward",
                "i3d_resnet50_v2_kinetics400",
                "--input",
                "x",
                "--out",
                "y",
            ],
            "closest: i3d_resnet50_v1_kinetics400",
        ),
        (
            vec![
                "models",
                "forward",
                "i3d_resnet50_v1_custom",
                "--nclass",
                "2",
                "--input",
                short.to_str().unwrap(),
                "--out",
                "y.npy",
            ],
            "needs at least 5",
        ),
        (
            vec![
                "models",
                "forward",
                "resnet18_v1b_custom",
                "--input",
                input.to_str().unwrap(),
                "--out",
                "y.npy",
            ],
            "give nclass",
        ),
        (
            vec![
                "models",
                "forward",
                "resnet18_v1b_kinetics400",
                "--input",
                input.to_str().unwrap(),
                "--out",
                "y.npy",
            ],
            "takes a 4-D input",
        ),
        (
            vec![
                "models",
                "forward",
                "resnet18_v1b_kinetics400",
                "--weights",
                input.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--out",
                "y.npy",
            ],
            "not an MXNet .params file",
        ),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn models_pull_without_a_server_names_the_url() {
    let d = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = kinema()
        .args(["models", "pull", "i3d_resnet50_v1_kinetics400", "--root"])
        .arg(d.path())
        .args(["--repo", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains(&format!(
            "http://127.0.0.1:{port}/gluon/models/i3d_resnet50_v1_kinetics400-568a722e.zip"
        )),
        "{e}"
    );
    assert!(std::fs::read_dir(d.path()).unwrap().next().is_none());
}

/// `data split` takes every container FFmpeg opens (an MPEG-TS `.ts` too) and lists each file
/// it leaves out with the reason; `data check` decodes the first frame of every video, and
/// with `--decode` every frame, naming the video and the frame that fails.
#[test]
fn data_split_lists_what_it_leaves_out_and_check_decode_finds_broken_frames() {
    let d = tempfile::tempdir().unwrap();
    common::synth(d.path(), "syn", "2", "3", "4", ("40", "48"), ("30", "36"));
    let classes = d.path().join("clips");
    for (class, src) in [("a", "move_left"), ("b", "move_right")] {
        std::fs::create_dir_all(classes.join(class)).unwrap();
        for e in std::fs::read_dir(d.path().join("syn/train").join(src)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, classes.join(class).join(p.file_name().unwrap())).unwrap();
        }
    }
    let first = |class: &str| {
        let mut v: Vec<_> = std::fs::read_dir(classes.join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
            .collect();
        v.sort();
        v[0].clone()
    };
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(first("a"))
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(classes.join("a/zz_clip.ts"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(classes.join("b/notes.txt"), "not a video").unwrap();
    std::fs::write(classes.join("b/.hidden"), "x").unwrap();
    let out = kinema()
        .args(["data", "split"])
        .arg(&classes)
        .args(["--val", "0.3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.txt") && !err.contains(".hidden"), "{err}");
    let lists = std::fs::read_to_string(classes.join("train.txt")).unwrap()
        + &std::fs::read_to_string(classes.join("val.txt")).unwrap();
    assert!(
        lists.contains("a/zz_clip.ts") && !lists.contains("notes.txt"),
        "{lists}"
    );

    // Damage the middle of one video: its first frame still decodes.
    let broken = first("b");
    let mut bytes = std::fs::read(&broken).unwrap();
    let n = bytes.len();
    bytes[n / 2..n / 2 + 400].iter_mut().for_each(|b| *b = 0x55);
    std::fs::write(&broken, bytes).unwrap();
    let all = classes.join("all.txt");
    std::fs::write(&all, lists).unwrap();
    let out = kinema().args(["data", "check"]).arg(&all).output().unwrap();
    let first_only = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(first_only.contains("unreadable     0"), "{first_only}");
    let out = kinema()
        .args(["data", "check", "--decode", "--workers", "2"])
        .arg(&all)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let name = broken.file_name().unwrap().to_string_lossy();
    assert!(
        text.contains("unreadable     1") && text.contains(&*name) && text.contains("frame "),
        "{text}"
    );
}
