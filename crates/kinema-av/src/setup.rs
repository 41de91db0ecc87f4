//! FFmpeg set-up shared by every reader and the writer: the one-time `init`, and the library
//! versions this build runs on.

/// FFmpeg library versions this build runs on, e.g. `libavcodec 59.37.100`.
pub fn ffmpeg_versions() -> String {
    let v = |x: u32| format!("{}.{}.{}", x >> 16, (x >> 8) & 0xff, x & 0xff);
    // SAFETY: version queries take no arguments and have no side effects.
    unsafe {
        format!(
            "libavformat {}, libavcodec {}, libavfilter {}, libswscale {}",
            v(ffmpeg_next::ffi::avformat_version()),
            v(ffmpeg_next::ffi::avcodec_version()),
            v(ffmpeg_next::ffi::avfilter_version()),
            v(ffmpeg_next::ffi::swscale_version())
        )
    }
}

/// One-time FFmpeg set-up: quiet logging (errors come back as
/// [`AvError`](crate::error::AvError)s), unless `KINEMA_FFMPEG_LOG` names a level (`error`,
/// `warning`, `info`, `debug`).
pub(crate) fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ffmpeg_next::init();
        let level = match std::env::var("KINEMA_FFMPEG_LOG").as_deref() {
            Ok("error") => ffmpeg_next::ffi::AV_LOG_ERROR,
            Ok("warning") => ffmpeg_next::ffi::AV_LOG_WARNING,
            Ok("info") => ffmpeg_next::ffi::AV_LOG_INFO,
            Ok("debug") => ffmpeg_next::ffi::AV_LOG_DEBUG,
            _ => ffmpeg_next::ffi::AV_LOG_QUIET,
        };
        // SAFETY: sets a global integer inside libavutil.
        unsafe { ffmpeg_next::ffi::av_log_set_level(level) };
    });
}
