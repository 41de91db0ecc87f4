//! Fuzz target: arbitrary bytes as a video file -> open, probe, random and sequential decode.
//! Errors are fine; panics, crashes, hangs and leaks are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("kinema-fuzz-{}.bin", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    // Smaller limits than the defaults keep one input well inside libFuzzer's memory limit.
    let opts = kinema_av::ReaderOptions {
        num_threads: 1,
        max_pixels: 2048 * 2048,
        cache_bytes: 64 << 20,
        ..Default::default()
    };
    if let Ok(mut vr) = kinema_av::VideoReader::open_with(&path, &opts) {
        let n = vr.len();
        let _ = vr.get_frame_timestamp(0);
        let _ = vr.get_batch(&[n / 2, 0, n.saturating_sub(1), n / 2]);
        let _ = vr.get(n.saturating_sub(1));
        let _ = vr.get_batch_at_times(&[0.0, 0.5]);
        if let Ok(frames) = vr.frames() {
            for f in frames.take(64) {
                let _ = f;
            }
        }
    }
    let _ = std::fs::remove_file(&path);
});
