//! Thousands of open / decode / close cycles keep the resident set flat.

mod common;

use kinema_av::VideoReader;

fn rss_kib() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn cycle(paths: &[std::path::PathBuf], k: usize) {
    let p = &paths[k % paths.len()];
    let mut vr = VideoReader::open(p).unwrap();
    let n = vr.len();
    vr.get_batch(&[k % n, (k * 7) % n, 0]).unwrap();
    vr.get((k * 3) % n).unwrap();
}

#[test]
fn open_decode_close_keeps_rss_flat() {
    let names = [
        "h264_bframes.mp4",
        "vp9.webm",
        "hevc.mp4",
        "mpeg4.avi",
        "frames_jpg",
        "av1.mkv",
    ];
    let paths: Vec<_> = names.iter().map(|n| common::dir().join(n)).collect();
    for k in 0..300 {
        cycle(&paths, k);
    }
    let before = rss_kib();
    for k in 0..3000 {
        cycle(&paths, k);
    }
    let after = rss_kib();
    let grew = after.saturating_sub(before);
    eprintln!("RSS {before} KiB -> {after} KiB over 3000 cycles");
    assert!(
        grew < 16 * 1024,
        "RSS grew by {grew} KiB over 3000 open/decode/close cycles"
    );
}
