//! Bad input gets a typed error naming the file, never a panic; API details (timestamps,
//! times, key frames, cache, decord-style position) behave.

mod common;

use kinema_av::{AvError, ReaderOptions, VideoReader};

fn open_err(name: &str) -> AvError {
    match VideoReader::open(common::dir().join(name)) {
        Ok(_) => panic!("{name} opened"),
        Err(e) => e,
    }
}

#[test]
fn missing_file() {
    let e = VideoReader::open("/nonexistent/video.mp4").err().unwrap();
    assert!(matches!(e, AvError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/video.mp4"));
}

#[test]
fn garbage_and_empty_files() {
    for name in ["garbage.mp4", "empty.mp4"] {
        let e = open_err(name);
        assert!(matches!(e, AvError::Open { .. }), "{name}: {e}");
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn no_video_stream() {
    let e = open_err("audio_only.m4a");
    assert!(matches!(e, AvError::NoVideoStream { .. }), "{e}");
}

#[test]
fn truncated_files_error_or_serve_what_is_there() {
    let e = open_err("truncated_moov_at_end.mp4");
    assert!(matches!(e, AvError::Open { .. }), "{e}");
    for name in ["truncated_faststart.mp4", "truncated.mkv", "truncated.ts"] {
        let path = common::dir().join(name);
        let mut vr = match VideoReader::open(&path) {
            Ok(v) => v,
            Err(e) => {
                assert!(e.to_string().contains(name), "{e}");
                continue;
            }
        };
        let n = vr.len();
        assert!(n > 0);
        // Every frame either decodes or fails with an error naming it; never a panic.
        let mut ok = 0;
        for i in 0..n {
            match vr.get(i) {
                Ok(_) => ok += 1,
                Err(AvError::Decode { index, .. }) => assert_eq!(index, i),
                Err(e) => panic!("{name}: frame {i}: unexpected {e}"),
            }
        }
        assert!(ok > 0, "{name}: nothing decoded");
        for f in vr.frames().unwrap() {
            if let Err(e) = f {
                assert!(matches!(e, AvError::Decode { .. }), "{e}");
            }
        }
    }
}

#[test]
fn truncated_faststart_keeps_exact_frames_before_the_cut() {
    let path = common::dir().join("truncated_faststart.mp4");
    let (truth, h, w) = common::truth(&common::dir().join("h264_bframes.mp4"), None);
    let fl = h * w * 3;
    let mut vr = VideoReader::open(&path).unwrap();
    assert!(vr.info().truncated.is_some() || vr.len() < truth.len() / fl);
    let b = vr.get_batch(&[0, 1, 2]).unwrap();
    for i in 0..3 {
        assert!(b.frame(i) == &truth[i * fl..(i + 1) * fl]);
    }
}

#[test]
fn index_and_time_out_of_range() {
    let mut vr = VideoReader::open(common::dir().join("h264_bframes.mp4")).unwrap();
    let n = vr.len();
    let e = vr.get(n).err().unwrap();
    assert!(
        matches!(e, AvError::IndexOutOfRange { index, len, .. } if index == n as i64 && len == n),
        "{e}"
    );
    assert!(vr.get_batch(&[0, n + 5]).is_err());
    assert!(vr.get_frame_timestamp(n).is_err());
    assert!(matches!(
        vr.get_batch_at_times(&[-1.0]).err().unwrap(),
        AvError::TimeOutOfRange { .. }
    ));
    assert!(vr.get_batch_at_times(&[f64::NAN]).is_err());
    assert!(vr.get_batch_at_times(&[1e9]).is_err());
}

#[test]
fn bad_options() {
    let path = common::dir().join("h264_bframes.mp4");
    let e = VideoReader::open_with(
        &path,
        &ReaderOptions {
            width: Some(0),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, AvError::InvalidOption(_)), "{e}");
    let dir = common::dir().join("frames_jpg");
    let e = VideoReader::open_with(
        &dir,
        &ReaderOptions {
            frame_pattern: "img.jpg".into(),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, AvError::InvalidOption(_)), "{e}");
    let e = VideoReader::open_with(
        &dir,
        &ReaderOptions {
            frame_pattern: "x_%03d.jpg".into(),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("x_%03d.jpg"), "{e}");
}

#[test]
fn corrupt_image_in_a_frame_folder_names_the_file() {
    let d = tempfile::tempdir().unwrap();
    let src = common::dir().join("frames_jpg");
    for i in 1..=5 {
        let n = format!("img_{i:05}.jpg");
        std::fs::copy(src.join(&n), d.path().join(&n)).unwrap();
    }
    std::fs::write(d.path().join("img_00003.jpg"), b"\xff\xd8not a jpeg at all").unwrap();
    let mut vr = VideoReader::open(d.path()).unwrap();
    assert_eq!(vr.len(), 5);
    let e = vr.get(2).err().unwrap();
    assert!(e.to_string().contains("img_00003.jpg"), "{e}");
    assert!(vr.get_batch(&[0, 1, 3, 4]).is_ok());
    assert!(vr.get_batch(&[0, 1, 2, 3, 4]).is_err());
}

#[test]
fn timestamps_times_and_keys() {
    let path = common::dir().join("mpeg2_offset.ts");
    let mut vr = VideoReader::open(&path).unwrap();
    let (s0, e0) = vr.get_frame_timestamp(0).unwrap();
    assert!(s0 > 3.0, "the TS stream starts at its offset, got {s0}");
    assert!(
        (e0 - s0 - 0.04).abs() < 1e-6,
        "25 fps frames last 40 ms: {s0} {e0}"
    );
    assert!((vr.fps() - 25.0).abs() < 1e-6);
    let n = vr.len();
    let mid = n / 2;
    let (sm, em) = vr.get_frame_timestamp(mid).unwrap();
    assert_eq!(vr.index_at_time(sm).unwrap(), mid);
    assert_eq!(vr.index_at_time((sm + em) / 2.0).unwrap(), mid);
    let by_time = vr.get_batch_at_times(&[sm, s0]).unwrap();
    let by_index = vr.get_batch(&[mid, 0]).unwrap();
    assert_eq!(by_time, by_index);
    assert_eq!(vr.key_indices()[0], 0);
    assert!(vr.key_indices().len() >= 2);

    let vfr = VideoReader::open(common::dir().join("vfr.mp4")).unwrap();
    let mut gaps = std::collections::BTreeSet::new();
    for i in 0..vfr.len() - 1 {
        let (a, b) = vfr.get_frame_timestamp(i).unwrap();
        assert!(b > a);
        assert!(
            (vfr.get_frame_timestamp(i + 1).unwrap().0 - b).abs() < 1e-6,
            "frames tile the timeline"
        );
        gaps.insert(((b - a) * 1000.0).round() as i64);
    }
    assert!(gaps.len() >= 2, "variable frame durations: {gaps:?}");
}

#[test]
fn random_access_inside_a_gop_hits_the_cache() {
    let path = common::dir().join("h264_longgop.mkv");
    let (truth, h, w) = common::truth(&path, None);
    let fl = h * w * 3;
    let mut vr = VideoReader::open(&path).unwrap();
    let n = vr.len();
    // The last frame first (non-reference pictures on the way are skipped), then the whole
    // single GOP backwards: at most one extra pass, not one decode per frame.
    vr.get(n - 1).unwrap();
    for i in (0..n).rev() {
        assert!(
            vr.get(i).unwrap().data == truth[i * fl..(i + 1) * fl],
            "frame {i}"
        );
    }
    let (decoded, _) = vr.decode_stats();
    assert!(
        decoded <= 2 * n as u64 + 8,
        "reading one GOP backwards decoded {decoded} packets for {n} frames"
    );
    // Everything is cached now: going back anywhere inside the GOP decodes nothing.
    let (cached, bytes) = vr.cache_stats();
    assert_eq!(cached, n);
    assert!(bytes > 0);
    for i in common::shuffled(n, 4) {
        assert!(vr.get(i).unwrap().data == truth[i * fl..(i + 1) * fl]);
    }
    assert_eq!(vr.decode_stats().0, decoded, "cache hits decode nothing");

    let small = ReaderOptions {
        cache_bytes: 100_000,
        ..Default::default()
    };
    let mut vr = VideoReader::open_with(&path, &small).unwrap();
    vr.get(n - 1).unwrap();
    vr.get(1).unwrap();
    assert!(vr.cache_stats().1 <= 100_000, "the cache stays within its budget");
}

#[test]
fn decord_style_position() {
    let mut vr = VideoReader::open(common::dir().join("vp9.webm")).unwrap();
    let n = vr.len();
    let f0 = vr.next_frame().unwrap().unwrap();
    assert_eq!(f0, vr.get(0).unwrap());
    vr.skip_frames(3).unwrap();
    assert_eq!(vr.position(), 4);
    assert_eq!(vr.next_frame().unwrap().unwrap(), vr.get(4).unwrap());
    vr.seek(n).unwrap();
    assert!(vr.next_frame().unwrap().is_none());
    assert!(vr.seek(n + 1).is_err());
    // A forward pass of next_frame from frame 0 (the sequential decoder), broken by a jump
    // back and restarted, gives every frame of the batch reader.
    for path in ["vp9.webm", "h264_bframes.mp4", "mpeg4.avi"] {
        let mut vr = VideoReader::open(common::dir().join(path)).unwrap();
        let n = vr.len();
        let all = vr.get_batch(&(0..n).collect::<Vec<_>>()).unwrap();
        let mut got = Vec::new();
        vr.seek(0).unwrap();
        for i in 0..n {
            if i == n / 2 {
                vr.seek(2).unwrap();
                assert_eq!(vr.next_frame().unwrap().unwrap().frame(0), all.frame(2), "{path}");
                vr.seek(i).unwrap();
            }
            got.push(vr.next_frame().unwrap().unwrap());
        }
        assert!(vr.next_frame().unwrap().is_none());
        for (i, f) in got.iter().enumerate() {
            assert_eq!(f.frame(0), all.frame(i), "{path} frame {i}");
        }
        vr.seek(0).unwrap();
        assert_eq!(
            vr.next_frame().unwrap().unwrap().frame(0),
            all.frame(0),
            "{path} again"
        );
    }
}

#[test]
fn probe_metadata() {
    let mut vr = VideoReader::open(common::dir().join("hevc10.mkv")).unwrap();
    vr.get(0).unwrap(); // the pixel format is confirmed by the first decoded frame
    let i = vr.info();
    assert_eq!(i.codec, "hevc");
    assert_eq!(i.container, "matroska,webm");
    assert_eq!(i.pixel_format, "yuv420p10le");
    assert_eq!((i.width, i.height), (128, 72));
    assert!((vr.duration() - 1.0).abs() < 0.1, "{}", vr.duration());
    assert_eq!(vr.rotation(), 0.0);
}

#[test]
fn rotation_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("rot.mp4");
    common::ffmpeg(&[
        "-y",
        "-i",
        common::dir().join("h264_bframes.mp4").to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        out.to_str().unwrap(),
    ]);
    // Both seek modes read the display matrix.
    for mode in [kinema_av::SeekMode::Exact, kinema_av::SeekMode::Approximate] {
        let opts = ReaderOptions {
            seek_mode: mode,
            ..Default::default()
        };
        let vr = VideoReader::open_with(&out, &opts).unwrap();
        assert_eq!(vr.rotation().abs(), 90.0, "{mode:?}");
    }
}

#[test]
fn readers_work_on_many_threads() {
    let path = common::dir().join("h264_bframes.mp4");
    let (truth, h, w) = common::truth(&path, None);
    let fl = h * w * 3;
    std::thread::scope(|s| {
        for t in 0..4 {
            let (path, truth) = (&path, &truth);
            s.spawn(move || {
                let mut vr = VideoReader::open(path).unwrap();
                for i in common::shuffled(vr.len(), t) {
                    assert!(vr.get(i).unwrap().data == truth[i * fl..(i + 1) * fl]);
                }
            });
        }
    });
}

#[test]
fn frames_above_max_pixels_are_refused() {
    for name in ["h264_bframes.mp4", "vp9.webm"] {
        let opts = ReaderOptions {
            max_pixels: 1000,
            ..Default::default()
        };
        let e = VideoReader::open_with(common::dir().join(name), &opts)
            .err()
            .unwrap();
        assert!(e.to_string().contains("max_pixels"), "{name}: {e}");
    }
    // Frame folders: FFmpeg's image decoder refuses the picture itself; the error names the file.
    let opts = ReaderOptions {
        max_pixels: 1000,
        ..Default::default()
    };
    let e = VideoReader::open_with(common::dir().join("frames_jpg"), &opts)
        .err()
        .unwrap();
    assert!(e.to_string().contains("img_00001.jpg"), "{e}");
    let opts = ReaderOptions {
        max_pixels: 1000,
        seek_mode: kinema_av::SeekMode::Approximate,
        ..Default::default()
    };
    assert!(VideoReader::open_with(common::dir().join("hevc.mp4"), &opts).is_err());
    // A resize target above the limit is refused too.
    let opts = ReaderOptions {
        max_pixels: 200 * 200,
        ..Default::default()
    }
    .size(400, 400);
    assert!(VideoReader::open_with(common::dir().join("h264_bframes.mp4"), &opts).is_err());
}

#[test]
fn approximate_mode_has_no_video_stream_error_too() {
    let opts = ReaderOptions {
        seek_mode: kinema_av::SeekMode::Approximate,
        ..Default::default()
    };
    let e = VideoReader::open_with(common::dir().join("audio_only.m4a"), &opts)
        .err()
        .unwrap();
    assert!(matches!(e, AvError::NoVideoStream { .. }), "{e}");
}
