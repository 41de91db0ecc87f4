//! VideoClsCustom and DataLoader end to end on a small synthetic dataset that the test writes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use kinema_av::{ReaderOptions, VideoReader};
use kinema_data::synth::{synth, SynthOptions};
use kinema_data::{part_range, ClipSpec, DataLoader, DatasetOptions, LoaderOptions, Mode, VideoClsCustom};

/// The small synthetic dataset of these tests, written to `out`.
fn small_synth(out: PathBuf) -> SynthOptions {
    SynthOptions {
        out,
        classes: 4,
        videos_per_class: 3,
        val_per_class: 1,
        seed: 5,
        min_size: 64,
        max_size: 96,
        min_frames: 20,
        max_frames: 40,
        ..Default::default()
    }
}

fn dataset_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kinema-data-synth");
        synth(&small_synth(dir.clone()), &|_, _| {}).unwrap();
        dir
    })
}

/// Every file under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn options(mode: Mode) -> DatasetOptions {
    DatasetOptions {
        train: mode == Mode::Train,
        test_mode: mode == Mode::Test,
        clip: ClipSpec {
            new_width: 80,
            new_height: 64,
            target_width: 48,
            target_height: 48,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn open(setting: &str, o: DatasetOptions) -> VideoClsCustom {
    let dir = dataset_dir();
    VideoClsCustom::new(dir, dir.join(setting), o).unwrap()
}

#[test]
fn synthetic_setting_files_load_and_are_consistent() {
    let dir = dataset_dir();
    let ds = open("train.txt", options(Mode::Val));
    assert_eq!(ds.len(), 12);
    assert_eq!(ds.list().histogram(), vec![3, 3, 3, 3]);
    let classes = std::fs::read_to_string(dir.join("classes.txt")).unwrap();
    assert_eq!(
        classes.lines().collect::<Vec<_>>(),
        vec!["move_left", "move_right", "move_up", "move_down"]
    );
    for s in &ds.list().samples {
        let r = VideoReader::open(&s.path).unwrap();
        assert_eq!(r.len(), s.num_frames, "{}", s.path.display());
        assert!((20..=40).contains(&r.len()));
        assert!(r.width().is_multiple_of(2) && (64..=96).contains(&r.width()));
    }
    assert_eq!(open("val.txt", options(Mode::Val)).len(), 4);
}

#[test]
fn synth_is_deterministic() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kinema-data-synth-again");
    // One encoder thread here, four in a second run, one per core in `dataset_dir`: no file may
    // depend on it (x264's AVX-512 code once made 5-7 of these 16 videos differ).
    let o = SynthOptions {
        threads: 1,
        ..small_synth(out.clone())
    };
    synth(&o, &|_, _| {}).unwrap();
    let four = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kinema-data-synth-four");
    synth(
        &SynthOptions {
            threads: 4,
            ..small_synth(four.clone())
        },
        &|_, _| {},
    )
    .unwrap();
    let files = tree(dataset_dir());
    assert_eq!(files.len(), 4 * 4 + 3, "{files:?}");
    for f in &files {
        let want = std::fs::read(dataset_dir().join(f)).unwrap();
        assert!(
            std::fs::read(out.join(f)).unwrap() == want,
            "{} (1 thread)",
            f.display()
        );
        assert!(
            std::fs::read(four.join(f)).unwrap() == want,
            "{} (4 threads)",
            f.display()
        );
    }
    assert_eq!(tree(&out), files);
    let bad = SynthOptions {
        classes: 13,
        ..o.clone()
    };
    assert!(synth(&bad, &|_, _| {})
        .unwrap_err()
        .to_string()
        .contains("classes 13"));
}

/// The val clip's centre crop equals the reader's frames at the planned indices, normalized.
#[test]
fn clip_tensor_holds_the_planned_frames() {
    let o = DatasetOptions {
        clip: ClipSpec {
            num_segments: 2,
            new_length: 3,
            new_step: 2,
            ..options(Mode::Val).clip
        },
        ..options(Mode::Val)
    };
    let ds = open("train.txt", o.clone());
    let clip = ds.get(4, 0).unwrap();
    assert_eq!(clip.shape, vec![2, 3, 3, 48, 48]);
    assert_eq!(clip.plan.frame_indices.len(), 6);
    let b = clip.plan.crops[0];
    assert_eq!((b.x, b.y, b.w, b.h, b.flip), (16, 8, 48, 48, false));
    // val mode resizes exactly as decord does: bilinear, one pass
    let ro = ReaderOptions {
        interpolation: kinema_av::Interpolation::Bilinear,
        ..ReaderOptions::default().size(80, 64)
    };
    let mut r = VideoReader::open_with(&ds.list().samples[4].path, &ro).unwrap();
    let frames = r.get_batch(&clip.plan.frame_indices).unwrap();
    let n = kinema_data::transform::Normalize::IMAGENET;
    for (f, &id) in clip.plan.frame_indices.iter().enumerate() {
        let frame = frames.frame(f);
        let (seg, t) = (f / 3, f % 3);
        for (y, x, c) in [(0usize, 0usize, 0usize), (47, 47, 2), (20, 33, 1)] {
            let px = frame[((8 + y) * 80 + 16 + x) * 3 + c] as f32;
            let want = (px / 255.0 - n.mean[c]) / n.std[c];
            let got = clip.data[(((seg * 3 + c) * 3 + t) * 48 + y) * 48 + x];
            assert!(
                (got - want).abs() < 1e-5,
                "frame {id} ({y},{x},{c}): {got} vs {want}"
            );
        }
    }
}

#[test]
fn model_input_layouts() {
    let tsn = open(
        "train.txt",
        DatasetOptions {
            clip: ClipSpec {
                num_segments: 3,
                ..options(Mode::Train).clip
            },
            ..options(Mode::Train)
        },
    );
    assert_eq!(tsn.get(0, 0).unwrap().shape, vec![3, 3, 48, 48]);
    let sf = DatasetOptions {
        clip: ClipSpec {
            new_length: 16,
            slowfast: true,
            slow_temporal_stride: 8,
            fast_temporal_stride: 2,
            ..options(Mode::Val).clip
        },
        ..options(Mode::Val)
    };
    let clip = open("train.txt", sf).get(1, 0).unwrap();
    assert_eq!(clip.shape, vec![1, 3, 10, 48, 48]);
    assert_eq!(clip.plan.frame_indices.len(), 10);
    let three = DatasetOptions {
        num_crop: 3,
        clip: ClipSpec {
            new_length: 4,
            target_width: 64,
            target_height: 64,
            ..options(Mode::Test).clip
        },
        ..options(Mode::Test)
    };
    let clip = open("val.txt", three).get(0, 0).unwrap();
    assert_eq!(clip.shape, vec![3, 3, 4, 64, 64]);
    assert_eq!(
        clip.plan.crops.iter().map(|c| c.x).collect::<Vec<_>>(),
        vec![0, 16, 8]
    );
    assert!(clip.data.iter().all(|v| v.is_finite() && v.abs() < 3.0));
    let bad = DatasetOptions {
        num_crop: 3,
        ..options(Mode::Train)
    };
    assert!(VideoClsCustom::new(dataset_dir(), dataset_dir().join("train.txt"), bad).is_err());
}

#[test]
fn train_randomness_is_seeded_per_epoch() {
    let ds = open(
        "train.txt",
        DatasetOptions {
            seed: 3,
            clip: ClipSpec {
                num_segments: 2,
                ..options(Mode::Train).clip
            },
            ..options(Mode::Train)
        },
    );
    let a = ds.get(2, 0).unwrap();
    assert_eq!(a.data, ds.get(2, 0).unwrap().data);
    let differs = (1..6).any(|e| {
        let b = ds.get(2, e).unwrap();
        b.plan.frame_indices != a.plan.frame_indices || b.plan.crops != a.plan.crops
    });
    assert!(differs);
}

#[test]
fn loader_batches_do_not_depend_on_workers() {
    let ds = Arc::new(open(
        "train.txt",
        DatasetOptions {
            seed: 9,
            clip: ClipSpec {
                num_segments: 2,
                ..options(Mode::Train).clip
            },
            ..options(Mode::Train)
        },
    ));
    let run = |workers: usize, epoch: u64| {
        let loader = DataLoader::new(
            ds.clone(),
            LoaderOptions {
                batch_size: 5,
                shuffle: true,
                seed: 1,
                num_workers: workers,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(loader.len(), 3);
        loader.epoch(epoch).map(|b| b.unwrap()).collect::<Vec<_>>()
    };
    let a = run(0, 0);
    assert_eq!(
        a.iter().map(|b| b.labels.len()).collect::<Vec<_>>(),
        vec![5, 5, 2]
    );
    assert_eq!(a[0].shape, vec![5, 2, 3, 48, 48]);
    for workers in [1, 2, 3] {
        let b = run(workers, 0);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.labels, y.labels);
            assert_eq!(x.data, y.data, "{workers} workers");
        }
    }
    let mut seen: Vec<usize> = a.iter().flat_map(|b| b.plans.iter().map(|p| p.index)).collect();
    seen.sort();
    assert_eq!(seen, (0..12).collect::<Vec<_>>());
    let e1: Vec<usize> = run(2, 1)
        .iter()
        .flat_map(|b| b.plans.iter().map(|p| p.index))
        .collect();
    assert_ne!(
        e1,
        a.iter()
            .flat_map(|b| b.plans.iter().map(|p| p.index))
            .collect::<Vec<_>>()
    );
    // dropping an epoch early stops its workers
    let loader = DataLoader::new(
        ds.clone(),
        LoaderOptions {
            batch_size: 2,
            num_workers: 2,
            drop_last: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(loader.len(), 6);
    assert_eq!(loader.epoch(0).take(1).count(), 1);
}

#[test]
fn batch_parts_are_contiguous_slices_made_as_in_the_whole_batch() {
    assert_eq!(part_range(5, 0, 2), 0..3);
    assert_eq!(part_range(5, 1, 2), 3..5);
    assert_eq!(part_range(7, 2, 3), 5..7);
    for (len, parts) in [(0, 3), (1, 4), (10, 3), (12, 5)] {
        let cover: Vec<usize> = (0..parts).flat_map(|p| part_range(len, p, parts)).collect();
        assert_eq!(cover, (0..len).collect::<Vec<_>>(), "{len} in {parts}");
    }
    let ds = Arc::new(open(
        "train.txt",
        DatasetOptions {
            seed: 4,
            ..options(Mode::Train)
        },
    ));
    let run = |parts: Option<(std::ops::Range<usize>, usize)>| {
        let loader = DataLoader::new(
            ds.clone(),
            LoaderOptions {
                batch_size: 5,
                shuffle: true,
                seed: 3,
                parts,
                ..Default::default()
            },
        )
        .unwrap();
        loader.epoch(1).map(|b| b.unwrap()).collect::<Vec<_>>()
    };
    let whole = run(None);
    // Rank 1 of 2 with 2 micro-batches each: parts 2..4 of 4.
    let (head, tail) = (run(Some((0..2, 4))), run(Some((2..4, 4))));
    for ((w, h), t) in whole.iter().zip(&head).zip(&tail) {
        assert_eq!((h.full_len, t.full_len), (w.labels.len(), w.labels.len()));
        let split = part_range(w.labels.len(), 2, 4).start;
        assert_eq!(h.labels, w.labels[..split]);
        assert_eq!(t.labels, w.labels[split..]);
        assert_eq!([h.data.clone(), t.data.clone()].concat(), w.data);
    }
}

#[test]
fn failing_samples_are_named_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let good = dataset_dir().join("train/move_left/00001.mp4");
    std::fs::write(dir.path().join("broken.mp4"), b"not a video at all").unwrap();
    std::fs::write(
        dir.path().join("s.txt"),
        format!(
            "{} 0 0\nbroken.mp4 10 1\n{} 999 0\n",
            good.display(),
            good.display()
        ),
    )
    .unwrap();
    let ds = Arc::new(VideoClsCustom::new(dir.path(), dir.path().join("s.txt"), options(Mode::Val)).unwrap());
    // a wrong frame count in the file: the video's own count is used
    assert_eq!(
        ds.get(2, 0).unwrap().plan.num_frames,
        VideoReader::open(&good).unwrap().len()
    );
    let err = ds.get(1, 0).unwrap_err().to_string();
    assert!(err.contains("broken.mp4"), "{err}");
    for workers in [0, 2] {
        let strict = DataLoader::new(
            ds.clone(),
            LoaderOptions {
                batch_size: 3,
                num_workers: workers,
                ..Default::default()
            },
        )
        .unwrap();
        let e = strict.epoch(0).next().unwrap().unwrap_err().to_string();
        assert!(e.contains("broken.mp4"), "{e}");
        let lenient = DataLoader::new(
            ds.clone(),
            LoaderOptions {
                batch_size: 3,
                num_workers: workers,
                skip_errors: true,
                ..Default::default()
            },
        )
        .unwrap();
        let b = lenient.epoch(0).next().unwrap().unwrap();
        assert_eq!((b.labels.len(), b.shape[0], lenient.skipped()), (2, 2, 1));
    }
    std::fs::write(dir.path().join("m.txt"), "broken.mp4 1 0\nmissing.mp4 1 0\n").unwrap();
    let e = VideoClsCustom::new(dir.path(), dir.path().join("m.txt"), options(Mode::Val))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.mp4") && e.contains("m.txt:2"), "{e}");
    let lenient = DatasetOptions {
        skip_missing: true,
        ..options(Mode::Val)
    };
    let ds = VideoClsCustom::new(dir.path(), dir.path().join("m.txt"), lenient).unwrap();
    assert_eq!((ds.len(), ds.list().missing.len()), (1, 1));
}

/// A frame folder and the video it came from give the same clip.
#[test]
fn frame_folders_and_videos_are_interchangeable() {
    let dir = tempfile::tempdir().unwrap();
    let video = dataset_dir().join("val/move_up/00001.mp4");
    let folder = dir.path().join("clip");
    std::fs::create_dir(&folder).unwrap();
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&video)
        .args(["-map", "0:v:0", "-fps_mode", "passthrough"])
        .arg(folder.join("img_%05d.png"))
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::write(
        dir.path().join("s.txt"),
        format!("{} 0 2\nclip 0 2\n", video.display()),
    )
    .unwrap();
    let o = DatasetOptions {
        name_pattern: "img_%05d.png".into(),
        clip: ClipSpec {
            new_width: 0,
            new_height: 0,
            new_length: 8,
            ..options(Mode::Val).clip
        },
        ..options(Mode::Val)
    };
    let ds = VideoClsCustom::new(dir.path(), dir.path().join("s.txt"), o).unwrap();
    let (a, b) = (ds.get(0, 0).unwrap(), ds.get(1, 0).unwrap());
    assert_eq!(a.plan.frame_indices, b.plan.frame_indices);
    assert_eq!(a.data, b.data);
}

/// decord's VideoLoader: its batch starts, its shuffles, frames equal to the reader's.
#[test]
fn video_loader_follows_decord() {
    use kinema_data::{VideoLoader, VideoLoaderOptions};
    let dir = dataset_dir();
    let files = [
        dir.join("train/move_left/00001.mp4"),
        dir.join("val/move_up/00001.mp4"),
    ];
    let lens: Vec<usize> = files
        .iter()
        .map(|f| VideoReader::open(f).unwrap().len())
        .collect();
    let (bs, interval, skip) = (4, 1, 3);
    let span = bs * (interval + 1) - interval; // 7
    let expect: Vec<(usize, usize)> = lens
        .iter()
        .enumerate()
        .flat_map(|(i, &n)| {
            (0..n)
                .step_by(span + skip)
                .take_while(move |b| b + span + 1 < n)
                .map(move |b| (i, b))
        })
        .collect();
    let opts = |workers| VideoLoaderOptions {
        num_workers: workers,
        seed: 4,
        ..Default::default()
    };
    let vl = VideoLoader::new(&files, [bs, 32, 40, 3], interval, skip, 0, opts(2)).unwrap();
    assert_eq!(vl.order(0), expect);
    assert_eq!(vl.len(), expect.len());
    let batches: Vec<_> = vl.epoch(0).map(|b| b.unwrap()).collect();
    let mut r = VideoReader::open_with(
        &files[1],
        &ReaderOptions {
            num_threads: 1,
            // decord's scaler, the loader's default
            interpolation: kinema_av::Interpolation::Bilinear,
            ..ReaderOptions::default().size(40, 32)
        },
    )
    .unwrap();
    let last = batches.last().unwrap();
    assert_eq!(last.frames.shape(), [4, 32, 40, 3]);
    let ids: Vec<usize> = last.indices.iter().map(|p| p[1]).collect();
    assert!(last.indices.iter().all(|p| p[0] == 1));
    assert_eq!(
        ids.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>(),
        vec![2, 2, 2]
    );
    assert_eq!(last.frames, r.get_batch(&ids).unwrap());
    for shuffle in 1..=3u8 {
        let s = VideoLoader::new(&files, [bs, 32, 40, 3], interval, skip, shuffle, opts(0)).unwrap();
        let mut o = s.order(0);
        if shuffle != 2 {
            // per-file order kept (1) / file order kept (3)
            let per_file_sorted = (0..2).all(|f| {
                o.iter()
                    .filter(|p| p.0 == f)
                    .collect::<Vec<_>>()
                    .windows(2)
                    .all(|w| w[0].1 < w[1].1)
            });
            let files_in_order = o.windows(2).all(|w| w[0].0 <= w[1].0);
            assert!(
                if shuffle == 1 {
                    per_file_sorted
                } else {
                    files_in_order
                },
                "shuffle {shuffle}: {o:?}"
            );
        }
        o.sort();
        assert_eq!(o, expect, "shuffle {shuffle}");
    }
    assert!(VideoLoader::new(&files, [bs, 32, 40, 4], 0, 0, 0, opts(0)).is_err());
    assert!(
        VideoLoader::new(&[dir.join("nope.mp4")], [bs, 32, 40, 3], 0, 0, 0, opts(0))
            .unwrap_err()
            .to_string()
            .contains("nope.mp4")
    );
}
