//! Every frame of every test video equals the ffmpeg CLI's decode, byte for byte: sequential
//! pass, batches in random order with duplicates, single frames in random order.

mod common;

use kinema_av::{ReaderOptions, VideoReader};

fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

fn check_exact(name: &str) {
    let path = common::dir().join(name);
    let (truth, h, w) = common::truth(&path, None);
    let fl = h * w * 3;
    let n = truth.len() / fl;
    assert!(n >= 10, "{name}: only {n} frames in the truth");
    let mut vr = VideoReader::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(vr.len(), n, "{name}: frame count");
    assert_eq!(
        (vr.width() as usize, vr.height() as usize),
        (w, h),
        "{name}: size"
    );
    let tf = |i: usize| &truth[i * fl..(i + 1) * fl];

    // Sequential pass.
    let mut count = 0;
    for (i, f) in vr.frames().unwrap().enumerate() {
        let f = f.unwrap_or_else(|e| panic!("{name}: frame {i}: {e}"));
        assert!(
            f.data == tf(i),
            "{name}: sequential frame {i} differs at byte {:?}",
            first_diff(&f.data, tf(i))
        );
        count += 1;
    }
    assert_eq!(count, n, "{name}: sequential pass length");

    // One batch: random order, with duplicates.
    let mut idx = common::shuffled(n, 7);
    idx.truncate(n.min(17));
    idx.push(idx[0]);
    idx.push(n - 1);
    idx.push(idx[3]);
    let b = vr.get_batch(&idx).unwrap();
    assert_eq!(b.shape(), [idx.len(), h, w, 3]);
    for (k, &i) in idx.iter().enumerate() {
        assert!(b.frame(k) == tf(i), "{name}: batch slot {k} (frame {i}) differs");
    }

    // Each frame of the last two GOPs on a fresh reader (decoding starts at its key frame,
    // and the stream ends soon after), batch and single-frame paths.
    let keys = vr.key_indices();
    let from = keys.len().checked_sub(2).map_or(0, |k| keys[k]);
    for i in from..n {
        let mut fresh = VideoReader::open(&path).unwrap();
        let b = fresh
            .get_batch(&[i])
            .unwrap_or_else(|e| panic!("{name}: fresh get_batch([{i}]): {e}"));
        assert!(b.frame(0) == tf(i), "{name}: fresh get_batch([{i}]) differs");
        let mut fresh = VideoReader::open(&path).unwrap();
        let f = fresh
            .get(i)
            .unwrap_or_else(|e| panic!("{name}: fresh get({i}): {e}"));
        assert!(f.data == tf(i), "{name}: fresh get({i}) differs");
    }

    // Single frames in random order on a fresh reader, then again on a reader without cache.
    for cache in [512usize << 20, 0] {
        let opts = ReaderOptions {
            cache_bytes: cache,
            ..Default::default()
        };
        let mut vr = VideoReader::open_with(&path, &opts).unwrap();
        for i in common::shuffled(n, 3) {
            let f = vr.get(i).unwrap_or_else(|e| panic!("{name}: get({i}): {e}"));
            assert!(f.data == tf(i), "{name}: get({i}) differs (cache {cache})");
        }
    }
}

macro_rules! exact {
    ($($test:ident => $file:expr),* $(,)?) => {$(
        #[test]
        fn $test() {
            check_exact($file);
        }
    )*};
}

exact! {
    h264_bframes_mp4 => "h264_bframes.mp4",
    h264_long_gop_mkv => "h264_longgop.mkv",
    h264_open_gop => "h264_opengop.mp4",
    h264_row_padding_mov => "h264_pad98x66.mov",
    h264_yuv422 => "h264_422.mp4",
    h264_yuv444_odd_size => "h264_444_odd99x71.mkv",
    h264_full_range => "h264_fullrange.mp4",
    h264_bt709 => "h264_bt709.mp4",
    h264_edit_list => "h264_editlist.mp4",
    hevc_8bit => "hevc.mp4",
    hevc_10bit => "hevc10.mkv",
    vp8_webm => "vp8.webm",
    vp9_webm => "vp9.webm",
    av1_mkv => "av1.mkv",
    mpeg2_ts_offset => "mpeg2_offset.ts",
    mpeg4_avi => "mpeg4.avi",
    mpeg4_bframes_mp4 => "mpeg4_bframes.mp4",
    mpeg4_bframes_avi => "mpeg4_bframes.avi",
    mpeg2_bframes_avi => "mpeg2_bframes.avi",
    h264_bframes_avi => "h264_bframes.avi",
    mjpeg_avi => "mjpeg.avi",
    vfr_mp4 => "vfr.mp4",
    jpeg_folder => "frames_jpg",
    rotated_90 => "rot90.mp4",
    rotated_180 => "rot180.mp4",
    rotated_270 => "rot270.mp4",
    mpeg4_stalled_timestamps => "mpeg4_stalled_ts.mkv",
}

/// The interpolation picks how to resize; without a resize, frames are the CLI's whatever it
/// is, also for the formats swscale converts through its scaler (10-bit, odd sizes, 4:2:2).
#[test]
fn interpolation_does_not_change_native_frames() {
    for name in [
        "hevc10.mkv",
        "h264_444_odd99x71.mkv",
        "h264_422.mp4",
        "h264_pad98x66.mov",
    ] {
        let path = common::dir().join(name);
        let (truth, h, w) = common::truth(&path, None);
        let fl = h * w * 3;
        let n = truth.len() / fl;
        for interpolation in [kinema_av::Interpolation::Bilinear, kinema_av::Interpolation::Area] {
            let opts = ReaderOptions {
                interpolation,
                ..Default::default()
            };
            let mut vr = VideoReader::open_with(&path, &opts).unwrap();
            let idx: Vec<usize> = (0..n).collect();
            let b = vr.get_batch(&idx).unwrap();
            for i in 0..n {
                assert!(
                    b.frame(i) == &truth[i * fl..(i + 1) * fl],
                    "{name}: frame {i} differs with {interpolation:?}"
                );
            }
        }
    }
}

/// A turned video resized: the size asked for is the turned picture's, and the pixels are the
/// CLI's (it turns before the user's `-vf scale`); `autorotate: false` gives the frames as
/// stored (the CLI's `-noautorotate`).
#[test]
fn rotation_applies_before_the_resize_and_can_be_turned_off() {
    for name in ["rot90.mp4", "rot270.mp4", "rot180.mp4"] {
        let opts = ReaderOptions::default().size(40, 56);
        assert_resized_like_cli(name, "scale=40:56", &opts, (40, 56));
        let vr = VideoReader::open(common::dir().join(name)).unwrap();
        let turned = (vr.width(), vr.height());
        let raw = ReaderOptions {
            autorotate: false,
            ..Default::default()
        };
        let mut vr = VideoReader::open_with(common::dir().join(name), &raw).unwrap();
        let plain = VideoReader::open(common::dir().join("h264_bframes.mp4")).unwrap();
        assert_eq!(
            (vr.width(), vr.height()),
            (plain.width(), plain.height()),
            "{name}"
        );
        if name != "rot180.mp4" {
            assert_eq!(turned, (plain.height(), plain.width()), "{name}");
        }
        let (truth, h, w) = common::truth(&common::dir().join("h264_bframes.mp4"), None);
        let fl = h * w * 3;
        for i in [0, 5, vr.len() - 1] {
            assert!(
                vr.get(i).unwrap().data == truth[i * fl..(i + 1) * fl],
                "{name} raw frame {i}"
            );
        }
    }
}

#[test]
fn png_folder_with_pattern() {
    let path = common::dir().join("frames_png");
    let (truth, h, w) = common::truth(&path, None);
    let opts = ReaderOptions {
        frame_pattern: "f%03d.png".into(),
        frame_start: 0,
        ..Default::default()
    };
    let mut vr = VideoReader::open_with(&path, &opts).unwrap();
    assert_eq!(vr.len(), 12);
    let fl = h * w * 3;
    let idx = [11, 0, 5, 5, 3, 1, 2, 4, 6, 7, 8, 9, 10];
    let b = vr.get_batch(&idx).unwrap();
    for (k, &i) in idx.iter().enumerate() {
        assert!(b.frame(k) == &truth[i * fl..(i + 1) * fl], "png frame {i}");
    }
}

/// Resized frames equal the CLI's `-vf scale=W:H` (same swscale set-up, flags=bicubic).
#[test]
fn resize_matches_cli_scale() {
    for (name, w, h) in [
        ("h264_bframes.mp4", 64, 48),
        ("hevc10.mkv", 100, 50),
        ("frames_jpg", 224, 224),
        ("h264_444_odd99x71.mkv", 33, 17),
    ] {
        let path = common::dir().join(name);
        let (truth, th, tw) = common::truth(&path, Some(&format!("scale={w}:{h}")));
        assert_eq!((tw, th), (w, h));
        let fl = w * h * 3;
        let n = truth.len() / fl;
        let mut vr =
            VideoReader::open_with(&path, &ReaderOptions::default().size(w as u32, h as u32)).unwrap();
        assert_eq!((vr.width(), vr.height(), vr.len()), (w as u32, h as u32, n));
        let idx: Vec<usize> = common::shuffled(n, 11).into_iter().take(9).collect();
        let b = vr.get_batch(&idx).unwrap();
        for (k, &i) in idx.iter().enumerate() {
            assert!(
                b.frame(k) == &truth[i * fl..(i + 1) * fl],
                "{name} resized frame {i}"
            );
        }
    }
}

/// Six shuffled frames of `name` read with `opts` (a resize to `w` x `h`) equal the CLI's
/// frames through `-vf VF`.
fn assert_resized_like_cli(name: &str, vf: &str, opts: &ReaderOptions, (w, h): (usize, usize)) {
    let path = common::dir().join(name);
    let (truth, _, _) = common::truth(&path, Some(vf));
    let fl = w * h * 3;
    let mut vr = VideoReader::open_with(&path, opts).unwrap();
    let idx: Vec<usize> = common::shuffled(vr.len(), 3).into_iter().take(6).collect();
    let b = vr.get_batch(&idx).unwrap();
    for (k, &i) in idx.iter().enumerate() {
        assert!(
            b.frame(k) == &truth[i * fl..(i + 1) * fl],
            "{name} frame {i} vs -vf {vf}"
        );
    }
}

/// `fast_resize` scales in the source format first: it equals the CLI's two-step
/// `-vf scale=W:H,format=<source format>` followed by the RGB conversion.
#[test]
fn fast_resize_matches_cli_two_step_scale() {
    for (name, fmt, w, h) in [
        ("h264_bframes.mp4", "yuv420p", 96, 72),
        ("hevc10.mkv", "yuv420p10le", 100, 50),
    ] {
        let opts = ReaderOptions {
            fast_resize: true,
            ..ReaderOptions::default().size(w as u32, h as u32)
        };
        assert_resized_like_cli(name, &format!("scale={w}:{h},format={fmt}"), &opts, (w, h));
    }
}

/// decord's interpolation: equal to the CLI's `-vf scale=W:H:flags=bilinear` (and to decord's
/// own resized frames, checked by tools/gluoncv_clip_parity.py).
#[test]
fn bilinear_resize_matches_cli() {
    let opts = ReaderOptions {
        interpolation: kinema_av::Interpolation::Bilinear,
        ..ReaderOptions::default().size(150, 90)
    };
    assert_resized_like_cli(
        "h264_bframes.mp4",
        "scale=150:90:flags=bilinear",
        &opts,
        (150, 90),
    );
}

/// One side given: the other keeps the aspect ratio, like `scale=W:-1`.
#[test]
fn resize_one_side_keeps_aspect() {
    let path = common::dir().join("h264_bframes.mp4");
    let opts = ReaderOptions {
        width: Some(48),
        ..Default::default()
    };
    let vr = VideoReader::open_with(&path, &opts).unwrap();
    assert_eq!((vr.width(), vr.height()), (48, 32));
}

/// On constant-frame-rate files with honest headers the approximate mode returns the same
/// frames as the exact one, without scanning at open.
#[test]
fn approximate_mode_matches_exact_on_cfr() {
    use kinema_av::SeekMode;
    for name in [
        "h264_bframes.mp4",
        "h264_longgop.mkv",
        "h264_opengop.mp4",
        "vp9.webm",
        "hevc.mp4",
        "mpeg4.avi",
        "av1.mkv",
    ] {
        let path = common::dir().join(name);
        let mut exact = VideoReader::open(&path).unwrap();
        let opts = ReaderOptions {
            seek_mode: SeekMode::Approximate,
            ..Default::default()
        };
        let mut approx = VideoReader::open_with(&path, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(approx.len(), exact.len(), "{name}: frame count");
        assert!((approx.fps() - exact.fps()).abs() < 1e-6, "{name}: fps");
        let n = exact.len();
        let idx: Vec<usize> = common::shuffled(n, 5)
            .into_iter()
            .take(12)
            .chain([0, n - 1, 3, 3])
            .collect();
        let a = approx.get_batch(&idx).unwrap_or_else(|e| panic!("{name}: {e}"));
        let e = exact.get_batch(&idx).unwrap();
        for (k, &i) in idx.iter().enumerate() {
            assert!(a.frame(k) == e.frame(k), "{name}: approximate frame {i} differs");
        }
        for i in common::shuffled(n, 9).into_iter().take(8) {
            assert!(
                approx.get(i).unwrap() == exact.get(i).unwrap(),
                "{name}: approximate get({i})"
            );
        }
        // The last GOP's frames, each on a fresh reader (the decoder starts at a key frame and
        // shows the end of the stream in its flush).
        let last_key = *exact.key_indices().last().unwrap();
        for i in last_key..n {
            let mut fresh = VideoReader::open_with(&path, &opts).unwrap();
            assert!(
                fresh.get(i).unwrap_or_else(|e| panic!("{name}: {e}")) == exact.get(i).unwrap(),
                "{name}: approximate get({i}) on a fresh reader"
            );
        }
        let all: Vec<_> = approx.frames().unwrap().map(|f| f.unwrap()).collect();
        assert_eq!(all.len(), n);
        assert!(
            all[n / 2] == exact.get(n / 2).unwrap(),
            "{name}: approximate sequential pass"
        );
        assert!(approx.get(n).is_err());
    }
}

/// Sparse batches leave non-reference pictures undecoded, and the frames are still exact.
#[test]
fn sparse_batches_skip_unreferenced_pictures_exactly() {
    for name in ["h264_bframes.mp4", "hevc.mp4", "h264_longgop.mkv"] {
        let path = common::dir().join(name);
        let (truth, h, w) = common::truth(&path, None);
        let fl = h * w * 3;
        let n = truth.len() / fl;
        let mut vr = VideoReader::open(&path).unwrap();
        let idx: Vec<usize> = (0..n).step_by(3).rev().collect();
        let b = vr.get_batch(&idx).unwrap();
        for (k, &i) in idx.iter().enumerate() {
            assert!(b.frame(k) == &truth[i * fl..(i + 1) * fl], "{name}: frame {i}");
        }
        let (sent, skipped) = vr.decode_stats();
        assert!(skipped > 0, "{name}: no picture was skipped ({sent} decoded)");
        assert!(
            sent + skipped <= n as u64 + 2,
            "{name}: {sent} + {skipped} packets for {n} frames"
        );
        // A single-frame read afterwards of a skipped frame is still right.
        let j = (0..n).find(|j| j % 3 != 0 && *j > 3).unwrap();
        assert!(
            vr.get(j).unwrap().data == truth[j * fl..(j + 1) * fl],
            "{name}: frame {j} after a sparse batch"
        );
    }
}

/// A file with two video streams: the reader takes FFmpeg's best one (decord's and torchcodec's
/// choice: here the second, marked default, larger and of the higher bitrate, which every
/// FFmpeg's rule and decord 0.6 pick), and `stream(i)` any other; each equals the CLI's decode
/// of that stream. A stream that is not video is a named error.
#[test]
fn the_best_video_stream_is_read_and_any_other_on_request() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("two.mp4");
    common::ffmpeg(&[
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x90:rate=10",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=240x136:rate=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300",
        "-t",
        "2",
        "-map",
        "0:v",
        "-map",
        "1:v",
        "-map",
        "2:a",
        "-c:v",
        "libx264",
        "-g",
        "6",
        "-bf",
        "2",
        "-c:a",
        "aac",
        "-disposition:v:0",
        "0",
        "-disposition:v:1",
        "default",
        path.to_str().unwrap(),
    ]);
    let cli = |map: &str| {
        let out = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
            .arg(&path)
            .args([
                "-map",
                map,
                "-fps_mode",
                "passthrough",
                "-pix_fmt",
                "rgb24",
                "-f",
                "rawvideo",
                "-",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    for (opts, map, (w, h)) in [
        (ReaderOptions::default(), "0:1", (240, 136)),
        (ReaderOptions::default().stream(0), "0:0", (160, 90)),
        (ReaderOptions::default().stream(1), "0:1", (240, 136)),
    ] {
        let truth = cli(map);
        let fl = w * h * 3;
        let mut vr = VideoReader::open_with(&path, &opts).unwrap();
        assert_eq!(
            (vr.width() as usize, vr.height() as usize, vr.len()),
            (w, h, truth.len() / fl),
            "{map}"
        );
        for (i, f) in vr.frames().unwrap().enumerate() {
            assert!(f.unwrap().data == truth[i * fl..(i + 1) * fl], "{map} frame {i}");
        }
    }
    let err = |i| match VideoReader::open_with(&path, &ReaderOptions::default().stream(i)) {
        Ok(_) => panic!("stream {i} opened"),
        Err(e) => e.to_string(),
    };
    let e = err(2);
    assert!(e.contains("stream 2 is Audio") && e.contains("[0, 1]"), "{e}");
    let e = err(7);
    assert!(e.contains("no stream 7"), "{e}");
    // FFmpeg 5 and later prefer the stream marked default over a higher bitrate.
    let first_default = d.path().join("first_default.mp4");
    common::ffmpeg(&[
        "-y",
        "-i",
        path.to_str().unwrap(),
        "-map",
        "0",
        "-c",
        "copy",
        "-disposition:v:0",
        "default",
        "-disposition:v:1",
        "0",
        first_default.to_str().unwrap(),
    ]);
    let vr = VideoReader::open(&first_default).unwrap();
    assert_eq!((vr.width(), vr.height()), (160, 90));
}

/// JPEG frames of other layouts (grey, 4:4:4 at an odd size, 4:2:2, progressive) equal
/// libjpeg-turbo's `djpeg`, as PIL and OpenCV read them; a batch on several threads too.
#[test]
fn jpeg_folders_of_every_layout_equal_libjpeg_turbo() {
    for (pix, size, progressive) in [
        ("gray", "64x48", false),
        ("yuvj444p", "67x35", false),
        ("yuvj422p", "66x50", false),
        ("yuvj420p", "80x60", true),
    ] {
        let d = tempfile::tempdir().unwrap();
        let pattern = d.path().join("img_%05d.jpg");
        let mut args = vec!["-y", "-f", "lavfi", "-i"];
        let src = format!("testsrc2=size={size}:rate=10");
        args.extend([src.as_str(), "-frames:v", "6", "-pix_fmt", pix, "-q:v", "4"]);
        args.push(pattern.to_str().unwrap());
        common::ffmpeg(&args);
        if progressive {
            // Re-encode the first frame progressive with libjpeg-turbo's own tool.
            let f = d.path().join("img_00001.jpg");
            let ppm = std::process::Command::new("djpeg")
                .arg(&f)
                .output()
                .unwrap()
                .stdout;
            let ppm_path = d.path().join("f.ppm");
            std::fs::write(&ppm_path, ppm).unwrap();
            let jpg = std::process::Command::new("cjpeg")
                .args(["-progressive", "-quality", "90"])
                .arg(&ppm_path)
                .output()
                .unwrap();
            assert!(jpg.status.success());
            std::fs::remove_file(&ppm_path).unwrap();
            std::fs::write(&f, jpg.stdout).unwrap();
        }
        let mut vr = VideoReader::open(d.path()).unwrap_or_else(|e| panic!("{pix}: {e}"));
        assert_eq!(vr.len(), 6, "{pix}");
        let b = vr.get_batch(&[5, 0, 3, 1, 2, 4, 0]).unwrap();
        for (k, i) in [5, 0, 3, 1, 2, 4, 0].into_iter().enumerate() {
            let (rgb, h, w) = common::djpeg(&d.path().join(format!("img_{:05}.jpg", i + 1)));
            assert_eq!((vr.width() as usize, vr.height() as usize), (w, h), "{pix}");
            assert!(b.frame(k) == rgb.as_slice(), "{pix} frame {i} differs from djpeg");
            assert!(
                vr.get(i).unwrap().data == rgb,
                "{pix} get({i}) differs from djpeg"
            );
        }
    }
}
