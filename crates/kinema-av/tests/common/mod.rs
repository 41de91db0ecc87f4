//! Test videos made with the ffmpeg CLI (tiny, deterministic), and the CLI's own decode as
//! the ground truth.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `(file name, ffmpeg arguments after -y)`; a lavfi source with noise so neighbouring frames
/// differ everywhere.
pub fn specs() -> Vec<(&'static str, Vec<String>)> {
    let src = |size: &str, rate: &str, secs: &str| -> Vec<String> {
        let f = format!("testsrc2=size={size}:rate={rate},noise=alls=12:allf=t");
        vec![
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            f,
            "-t".into(),
            secs.into(),
        ]
    };
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cat = |a: Vec<String>, b: Vec<String>| [a, b].concat();
    vec![
        (
            "h264_bframes.mp4",
            cat(
                src("96x64", "25", "1.6"),
                v(&["-c:v", "libx264", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p"]),
            ),
        ),
        (
            // Open GOPs (non-IDR key frames with leading B pictures) and a short last GOP:
            // FFmpeg's decoder started at the last key frame does not show its last pictures.
            "h264_opengop.mp4",
            cat(
                src("96x64", "25", "2.76"),
                v(&[
                    "-c:v",
                    "libx264",
                    "-x264-params",
                    "keyint=32:open-gop=1:scenecut=0",
                    "-pix_fmt",
                    "yuv420p",
                ]),
            ),
        ),
        (
            "h264_longgop.mkv",
            cat(
                src("96x64", "30", "1.5"),
                v(&["-c:v", "libx264", "-bf", "2", "-g", "300", "-pix_fmt", "yuv420p"]),
            ),
        ),
        (
            "h264_pad98x66.mov",
            cat(
                src("98x66", "24", "1"),
                v(&["-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p"]),
            ),
        ),
        (
            "h264_422.mp4",
            cat(
                src("96x64", "25", "1"),
                v(&["-c:v", "libx264", "-g", "8", "-pix_fmt", "yuv422p"]),
            ),
        ),
        (
            "h264_444_odd99x71.mkv",
            cat(
                src("99x71", "25", "1"),
                v(&["-c:v", "libx264", "-g", "8", "-pix_fmt", "yuv444p"]),
            ),
        ),
        (
            "h264_fullrange.mp4",
            cat(
                src("96x64", "25", "1"),
                v(&["-c:v", "libx264", "-g", "8", "-pix_fmt", "yuvj420p"]),
            ),
        ),
        (
            "h264_bt709.mp4",
            cat(
                src("96x64", "25", "1"),
                v(&[
                    "-c:v",
                    "libx264",
                    "-g",
                    "8",
                    "-pix_fmt",
                    "yuv420p",
                    "-colorspace",
                    "bt709",
                    "-color_primaries",
                    "bt709",
                    "-color_trc",
                    "bt709",
                ]),
            ),
        ),
        (
            "hevc.mp4",
            cat(
                src("128x72", "25", "1.2"),
                v(&[
                    "-c:v",
                    "libx265",
                    "-x265-params",
                    "log-level=error:keyint=12",
                    "-tag:v",
                    "hvc1",
                    "-pix_fmt",
                    "yuv420p",
                ]),
            ),
        ),
        (
            "hevc10.mkv",
            cat(
                src("128x72", "25", "1"),
                v(&[
                    "-c:v",
                    "libx265",
                    "-x265-params",
                    "log-level=error:keyint=10",
                    "-pix_fmt",
                    "yuv420p10le",
                ]),
            ),
        ),
        (
            "vp8.webm",
            cat(
                src("96x64", "25", "1.2"),
                v(&["-c:v", "libvpx", "-g", "10", "-b:v", "300k"]),
            ),
        ),
        (
            "vp9.webm",
            cat(
                src("96x64", "25", "1.2"),
                v(&[
                    "-c:v",
                    "libvpx-vp9",
                    "-g",
                    "10",
                    "-b:v",
                    "300k",
                    "-deadline",
                    "realtime",
                    "-cpu-used",
                    "8",
                ]),
            ),
        ),
        (
            "av1.mkv",
            cat(
                src("128x72", "25", "1"),
                v(&[
                    "-c:v",
                    "libaom-av1",
                    "-g",
                    "10",
                    "-cpu-used",
                    "8",
                    "-b:v",
                    "200k",
                    "-row-mt",
                    "1",
                ]),
            ),
        ),
        (
            "mpeg2_offset.ts",
            cat(
                src("96x64", "25", "1.2"),
                v(&[
                    "-c:v",
                    "mpeg2video",
                    "-bf",
                    "2",
                    "-g",
                    "12",
                    "-q:v",
                    "4",
                    "-output_ts_offset",
                    "3.5",
                ]),
            ),
        ),
        (
            "mpeg4.avi",
            cat(
                src("96x64", "25", "1.2"),
                v(&["-c:v", "mpeg4", "-g", "12", "-q:v", "4"]),
            ),
        ),
        (
            "mpeg4_bframes.mp4",
            cat(
                src("96x64", "25", "1.2"),
                v(&["-c:v", "mpeg4", "-bf", "2", "-g", "12", "-q:v", "4"]),
            ),
        ),
        (
            // AVI stores no presentation times: the display order of the B-frames comes
            // from the picture types (two GOPs, so the second one opens with a leading B)
            "mpeg4_bframes.avi",
            cat(
                src("96x64", "25", "1.2"),
                v(&["-c:v", "mpeg4", "-bf", "2", "-g", "12", "-q:v", "4"]),
            ),
        ),
        (
            // H.264 with B-frames in AVI: no presentation times, and no picture types to
            // order by; the display order comes from one decode pass at open.
            "h264_bframes.avi",
            cat(
                src("96x64", "25", "2"),
                v(&["-c:v", "libx264", "-bf", "3", "-g", "20", "-pix_fmt", "yuv420p"]),
            ),
        ),
        (
            "mpeg2_bframes.avi",
            cat(
                src("96x64", "25", "1.2"),
                v(&["-c:v", "mpeg2video", "-bf", "2", "-g", "12", "-q:v", "4"]),
            ),
        ),
        (
            "mjpeg.avi",
            cat(
                src("96x64", "25", "1"),
                v(&["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj422p"]),
            ),
        ),
        (
            "vfr.mp4",
            cat(
                src("96x64", "30", "2"),
                v(&[
                    "-vf",
                    "select='if(lt(t,0.7),1,not(mod(n,3))+eq(mod(n,7),1))'",
                    "-fps_mode",
                    "vfr",
                    "-c:v",
                    "libx264",
                    "-bf",
                    "2",
                    "-pix_fmt",
                    "yuv420p",
                ]),
            ),
        ),
    ]
}

/// Where the generated videos are (made once per test binary).
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kinema-av-videos");
        std::fs::create_dir_all(&d).unwrap();
        for (name, args) in specs() {
            let out = d.join(name);
            if out.exists() {
                continue;
            }
            let tmp = d.join(format!("tmp_{name}"));
            ffmpeg(
                &[
                    &["-y"][..],
                    &args.iter().map(String::as_str).collect::<Vec<_>>(),
                    &[tmp.to_str().unwrap()],
                ]
                .concat(),
            );
            std::fs::rename(&tmp, &out).unwrap();
        }
        make_derived(&d);
        d
    })
}

/// Videos made from the others: an MP4 cut with an edit list, frame folders, an audio-only
/// file, damaged files.
fn make_derived(d: &Path) {
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let once = |name: &str, f: &dyn Fn(&str)| {
        let out = d.join(name);
        if !out.exists() {
            let tmp = d.join(format!("tmp_{name}"));
            f(tmp.to_str().unwrap());
            std::fs::rename(&tmp, &out).unwrap();
        }
    };
    // Stream copy starting between key frames: the muxer writes an edit list and the
    // demuxer flags the pre-roll packets as discarded.
    once("h264_editlist.mp4", &|t| {
        ffmpeg(&[
            "-y",
            "-ss",
            "0.5",
            "-i",
            &p("h264_bframes.mp4"),
            "-c",
            "copy",
            "-f",
            "mp4",
            t,
        ]);
    });
    once("frames_jpg", &|t| {
        std::fs::create_dir_all(t).unwrap();
        ffmpeg(&[
            "-y",
            "-i",
            &p("h264_bframes.mp4"),
            "-q:v",
            "3",
            "-start_number",
            "1",
            &format!("{t}/img_%05d.jpg"),
        ]);
    });
    once("frames_png", &|t| {
        std::fs::create_dir_all(t).unwrap();
        ffmpeg(&[
            "-y",
            "-i",
            &p("vp9.webm"),
            "-frames:v",
            "12",
            "-start_number",
            "0",
            &format!("{t}/f%03d.png"),
        ]);
    });
    once("audio_only.m4a", &|t| {
        ffmpeg(&[
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.5",
            "-c:a",
            "aac",
            "-f",
            "mp4",
            t,
        ]);
    });
    // Stream copy of `src` into `muxer` with output options `opts`.
    let remux = |src: &str, opts: &[&str], muxer: &str, t: &str| {
        let input = p(src);
        ffmpeg(
            &[
                &["-y", "-i", input.as_str(), "-c", "copy"][..],
                opts,
                &["-f", muxer, t],
            ]
            .concat(),
        );
    };
    once("faststart.mp4", &|t| {
        remux("h264_bframes.mp4", &["-movflags", "+faststart"], "mp4", t)
    });
    // Phone videos: the same pictures with a display matrix (the mov muxer's `rotate` tag).
    for angle in ["90", "180", "270"] {
        once(&format!("rot{angle}.mp4"), &|t| {
            let tag = format!("rotate={angle}");
            remux("h264_bframes.mp4", &["-metadata:s:v:0", &tag], "mp4", t)
        });
    }
    // Timestamps that restart a third of the way in, remuxed: the Matroska muxer "repairs"
    // them by repeating the last time until they pass it again (each frame still shown).
    once("mpeg4_stalled_ts.mkv", &|t| {
        let restart = "setts=ts=if(gte(N\\,10)\\,TS-10*DURATION\\,TS)";
        remux("mpeg4.avi", &["-bsf:v", restart], "matroska", t)
    });
    once("garbage.mp4", &|t| {
        let mut x: u32 = 12345;
        let bytes: Vec<u8> = (0..20000)
            .map(|_| {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        std::fs::write(t, bytes).unwrap();
    });
    once("empty.mp4", &|t| std::fs::write(t, b"").unwrap());
    for (src, name, keep) in [
        ("faststart.mp4", "truncated_faststart.mp4", 0.6),
        ("h264_bframes.mp4", "truncated_moov_at_end.mp4", 0.5),
        ("h264_longgop.mkv", "truncated.mkv", 0.5),
        ("mpeg2_offset.ts", "truncated.ts", 0.45),
    ] {
        once(name, &|t| {
            let b = std::fs::read(d.join(src)).unwrap();
            std::fs::write(t, &b[..(b.len() as f64 * keep) as usize]).unwrap();
        });
    }
}

pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is needed by the tests (scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One JPEG as libjpeg-turbo's `djpeg` decodes it (its defaults: accurate integer IDCT, smooth
/// upsampling; what PIL and OpenCV give): `(rgb, height, width)`, grey replicated to RGB.
pub fn djpeg(file: &Path) -> (Vec<u8>, usize, usize) {
    let out = Command::new("djpeg")
        .arg(file)
        .output()
        .expect("djpeg (Debian's libjpeg-turbo-progs)");
    assert!(
        out.status.success(),
        "djpeg {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // PPM (P6) or PGM (P5): magic, width, height, maxval, one whitespace byte, then the samples.
    let b = out.stdout;
    let mut fields = Vec::new();
    let mut i = 2;
    while fields.len() < 3 {
        while b[i].is_ascii_whitespace() {
            i += 1;
        }
        let s = i;
        while b[i].is_ascii_digit() {
            i += 1;
        }
        fields.push(std::str::from_utf8(&b[s..i]).unwrap().parse::<usize>().unwrap());
    }
    let (w, h, px) = (fields[0], fields[1], &b[i + 1..]);
    let rgb = if &b[..2] == b"P5" {
        px.iter().flat_map(|&v| [v, v, v]).collect()
    } else {
        px.to_vec()
    };
    assert_eq!(rgb.len(), w * h * 3, "djpeg {}", file.display());
    (rgb, h, w)
}

/// The frames of a JPEG frame folder (`img_00001.jpg`, ...) as libjpeg-turbo decodes them.
fn jpeg_folder_truth(dir: &Path) -> (Vec<u8>, usize, usize) {
    let mut all = Vec::new();
    let (mut h, mut w) = (0, 0);
    for n in 1.. {
        let f = dir.join(format!("img_{n:05}.jpg"));
        if !f.is_file() {
            break;
        }
        let (rgb, fh, fw) = djpeg(&f);
        (h, w) = (fh, fw);
        all.extend(rgb);
    }
    (all, h, w)
}

/// The CLI's decode of every frame: `(frames, height, width)`; `vf` adds a filter (scale).
/// JPEG frame folders at their own size: libjpeg-turbo's decode (the reference the reader's
/// docs name for them); resized, the CLI's.
pub fn truth(path: &Path, vf: Option<&str>) -> (Vec<u8>, usize, usize) {
    if vf.is_none() && path.join("img_00001.jpg").is_file() {
        return jpeg_folder_truth(path);
    }
    let input = if path.is_dir() {
        let first = std::fs::read_dir(path).unwrap().next().unwrap().unwrap().path();
        let pat = if first.extension().unwrap() == "png" {
            "f%03d.png"
        } else {
            "img_%05d.jpg"
        };
        path.join(pat).to_str().unwrap().to_string()
    } else {
        path.to_str().unwrap().to_string()
    };
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-i",
        &input,
        "-map",
        "0:v:0",
        "-fps_mode",
        "passthrough",
    ]);
    if let Some(vf) = vf {
        cmd.args(["-vf", vf]);
    }
    let out = cmd
        .args(["-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height:stream_side_data=rotation",
            "-of",
            "default=nw=1",
            &input,
        ])
        .output()
        .unwrap();
    let s = String::from_utf8(probe.stdout).unwrap();
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim().parse::<f64>().unwrap())
    };
    let (w, h) = (
        field("width").unwrap() as usize,
        field("height").unwrap() as usize,
    );
    // The CLI turns pictures a quarter turn when the display matrix says so.
    let quarter =
        field("rotation").is_some_and(|r| (r.abs() - 90.0).abs() < 1.0 || (r.abs() - 270.0).abs() < 1.0);
    let (w, h) = if quarter { (h, w) } else { (w, h) };
    let (w, h) = match vf.and_then(|v| v.strip_prefix("scale=")) {
        Some(s) => {
            let size = s.split(',').next().unwrap();
            let mut p = size.split(':').take(2).map(|x| x.parse::<usize>().unwrap());
            (p.next().unwrap(), p.next().unwrap())
        }
        None => (w, h),
    };
    (out.stdout, h, w)
}

/// A deterministic shuffle (no rand dependency).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in (1..n).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = ((x >> 33) as usize) % (i + 1);
        v.swap(i, j);
    }
    v
}
