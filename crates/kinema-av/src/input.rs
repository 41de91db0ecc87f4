//! Opening a container: `avformat_open_input` + `avformat_find_stream_info`. The probe decodes
//! pictures (a noisy 720p H.264 key frame alone costs ~10 ms), so it is kept cheap: skipped for
//! containers whose header describes the stream (the exact reader learns the pixel format from
//! its first decoded frame), otherwise run with single-threaded probe decoders (a
//! frame-threaded one must be fed a packet per thread before its first picture) and, for header
//! formats, a probe size that stops after the first picture.

use std::ffi::CString;
use std::path::Path;
use std::ptr;

use ffmpeg::format;
use ffmpeg_next as ffmpeg;

use crate::error::{AvError, Result};

/// Containers whose header lists every stream with its size, time base and frame rate.
pub(crate) const HEADER_FORMATS: [&str; 3] = ["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi"];

/// Opens `path`. With `light`, containers with a complete header skip the probe entirely (the
/// caller confirms the layout on its first decoded frame); returns whether the probe ran.
pub(crate) fn open_input(path: &Path, light: bool) -> Result<(format::context::Input, bool), String> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| "path contains a NUL byte".to_string())?;
    // SAFETY: `ps` starts null as avformat_open_input requires; on failure FFmpeg frees it. The
    // options array has one dictionary per stream, each freed after use; the context is handed
    // to `Input::wrap`, which closes it on drop.
    unsafe {
        let mut ps = ptr::null_mut();
        let r = ffmpeg::ffi::avformat_open_input(&mut ps, c.as_ptr(), ptr::null(), ptr::null_mut());
        if r < 0 {
            return Err(ffmpeg::Error::from(r).to_string());
        }
        let name = std::ffi::CStr::from_ptr((*(*ps).iformat).name).to_string_lossy();
        let header = HEADER_FORMATS.contains(&name.as_ref()) && (*ps).nb_streams > 0;
        if header && light {
            return Ok((format::context::Input::wrap(ps), false));
        }
        if header {
            // The header already describes every stream; probing needs one decoded picture
            // (for the pixel format), not the default 5 MB of packets.
            (*ps).probesize = 32;
        }
        let n = (*ps).nb_streams as usize;
        let mut opts: Vec<*mut ffmpeg::ffi::AVDictionary> = vec![ptr::null_mut(); n.max(1)];
        let (k, v) = (
            CString::new("threads").expect("no NUL"),
            CString::new("1").expect("no NUL"),
        );
        for o in opts.iter_mut() {
            ffmpeg::ffi::av_dict_set(o, k.as_ptr(), v.as_ptr(), 0);
        }
        let r = ffmpeg::ffi::avformat_find_stream_info(ps, opts.as_mut_ptr());
        for o in opts.iter_mut() {
            ffmpeg::ffi::av_dict_free(o);
        }
        if r < 0 {
            ffmpeg::ffi::avformat_close_input(&mut ps);
            return Err(ffmpeg::Error::from(r).to_string());
        }
        Ok((format::context::Input::wrap(ps), true))
    }
}

/// The video stream a reader decodes, as its container header describes it.
pub(crate) struct VideoStream {
    pub index: usize,
    pub params: ffmpeg::codec::Parameters,
    pub time_base: ffmpeg::Rational,
    pub codec_name: String,
    pub width: u32,
    pub height: u32,
    /// `Pixel::None` when the header does not say (known after the first decoded frame).
    pub pix: format::Pixel,
    pub sar: ffmpeg::Rational,
    /// Display rotation in degrees (0 without a display matrix).
    pub rotation: f64,
}

/// The stream to decode: `choice` (a container stream index) when given, else the one decord
/// and torchcodec read, FFmpeg's best video stream (`av_find_best_stream`; cover art only if
/// there is nothing else). With several video streams the choice rests on what the probe
/// learnt, so a container opened without it (`probed` false) is probed first, as decord's
/// open does. An error when there is no video stream, or this FFmpeg cannot decode it.
pub(crate) fn video_stream(
    ictx: &mut format::context::Input,
    path: &Path,
    choice: Option<usize>,
    probed: bool,
) -> Result<VideoStream> {
    use ffmpeg::media;
    let video: Vec<(usize, bool)> = ictx
        .streams()
        .filter(|s| s.parameters().medium() == media::Type::Video)
        .map(|s| {
            let cover = (s.disposition().bits() & ffmpeg::ffi::AV_DISPOSITION_ATTACHED_PIC) != 0;
            (s.index(), cover)
        })
        .collect();
    let index = match choice {
        Some(i) => {
            if !video.iter().any(|v| v.0 == i) {
                let what = match ictx.stream(i) {
                    Some(s) => format!("stream {i} is {:?}, not video", s.parameters().medium()),
                    None => format!("there is no stream {i} ({} streams)", ictx.nb_streams()),
                };
                return Err(AvError::InvalidOption(format!(
                    "{}: {what}; its video streams are {:?}",
                    path.display(),
                    video.iter().map(|v| v.0).collect::<Vec<_>>()
                )));
            }
            i
        }
        None => {
            let real: Vec<usize> = video.iter().filter(|v| !v.1).map(|v| v.0).collect();
            if real.len() > 1 {
                if !probed {
                    // SAFETY: `ictx` owns a valid, opened format context; null options mean
                    // FFmpeg's defaults (what decord's open runs).
                    unsafe {
                        ffmpeg::ffi::avformat_find_stream_info(ictx.as_mut_ptr(), std::ptr::null_mut())
                    };
                }
                ictx.streams()
                    .best(media::Type::Video)
                    .map(|s| s.index())
                    .filter(|i| real.contains(i))
                    .unwrap_or(real[0])
            } else {
                real.first()
                    .or(video.first().map(|v| &v.0))
                    .copied()
                    .ok_or_else(|| AvError::NoVideoStream {
                        path: path.to_path_buf(),
                    })?
            }
        }
    };
    let stream = ictx.stream(index).expect("index of a listed stream");
    let params = stream.parameters();
    let codec_name = params.id().name().to_string();
    if ffmpeg::decoder::find(params.id()).is_none() {
        return Err(AvError::Unsupported {
            path: path.to_path_buf(),
            codec: codec_name,
            reason: "this FFmpeg build has no decoder for it".into(),
        });
    }
    // SAFETY: reading plain fields of a stream owned by `ictx`, and its display-matrix side
    // data, which FFmpeg guarantees to be 9 int32 when present.
    let (width, height, pix, sar, rotation) = unsafe {
        let st = stream.as_ptr();
        let par = (*st).codecpar;
        let mut size: usize = 0;
        let dm = ffmpeg::ffi::av_stream_get_side_data(
            st,
            ffmpeg::ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
            &mut size,
        );
        let rot = if !dm.is_null() && size >= 36 {
            let r = ffmpeg::ffi::av_display_rotation_get(dm as *const i32);
            if r.is_finite() {
                r
            } else {
                0.0
            }
        } else {
            0.0
        };
        let fmt: ffmpeg::ffi::AVPixelFormat = std::mem::transmute((*par).format);
        (
            (*par).width as u32,
            (*par).height as u32,
            format::Pixel::from(fmt),
            ffmpeg::Rational::from((*par).sample_aspect_ratio),
            rot,
        )
    };
    Ok(VideoStream {
        index: stream.index(),
        params,
        time_base: stream.time_base(),
        codec_name,
        width,
        height,
        pix,
        sar,
        rotation,
    })
}
