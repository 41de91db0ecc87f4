//! `VideoWriter`: RGB24 frames -> H.264 (libx264) in MP4, or MPEG-4 part 2 with an XviD
//! FourCC in AVI (UCF101's and HMDB51's format), written atomically.
//!
//! The synthetic dataset and the tests make real encoded videos with it. The file appears under
//! its name only after [`VideoWriter::finish`] succeeded (temp file in the same folder, then a
//! rename), so a failed or interrupted run never leaves a half-written video behind.

use std::path::{Path, PathBuf};

use ffmpeg_next::{codec, encoder, format, frame, software::scaling, Dictionary, Packet, Rational};

use crate::error::{AvError, Result};
use crate::setup::init;

/// Which encoder and container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriterFormat {
    /// H.264 (libx264) in MP4.
    #[default]
    H264Mp4,
    /// MPEG-4 part 2 (FFmpeg's encoder) tagged `XVID` in AVI, B-frames included: how UCF101
    /// and HMDB51 are distributed.
    XvidAvi,
}

impl WriterFormat {
    /// The file extension of this format.
    pub fn extension(self) -> &'static str {
        match self {
            WriterFormat::H264Mp4 => "mp4",
            WriterFormat::XvidAvi => "avi",
        }
    }
}

/// How to encode: frame rate, quality and GOP layout.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Encoder and container.
    pub format: WriterFormat,
    /// Frames per second (constant frame rate).
    pub fps: u32,
    /// x264 constant rate factor (0 = lossless, 18-23 = visually good).
    pub crf: u32,
    /// x264 preset (`ultrafast` .. `veryslow`).
    pub preset: String,
    /// Maximum distance between key frames.
    pub gop: u32,
    /// Maximum consecutive B-frames.
    pub max_b_frames: u32,
    /// Encoder threads (x264 frame threads); 1 keeps the output independent of the machine.
    pub threads: u32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            format: WriterFormat::H264Mp4,
            fps: 25,
            crf: 20,
            preset: "veryfast".into(),
            gop: 32,
            max_b_frames: 2,
            threads: 1,
        }
    }
}

/// Encodes RGB24 frames of one size into an H.264 MP4 file.
pub struct VideoWriter {
    path: PathBuf,
    tmp: PathBuf,
    octx: format::context::Output,
    encoder: encoder::Video,
    scaler: scaling::Context,
    rgb: frame::Video,
    yuv: frame::Video,
    enc_tb: Rational,
    width: u32,
    height: u32,
    written: i64,
    finished: bool,
}

impl VideoWriter {
    /// Starts `path` (an `.mp4`) for `width` x `height` RGB24 frames. Both sizes must be even
    /// (4:2:0 chroma).
    pub fn create(path: impl AsRef<Path>, width: u32, height: u32, options: &WriterOptions) -> Result<Self> {
        init();
        let path = path.as_ref().to_path_buf();
        let fail = |reason: String| AvError::Encode {
            path: path.clone(),
            reason,
        };
        if width < 2 || height < 2 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(fail(format!(
                "frame size {width}x{height} must be even and at least 2x2"
            )));
        }
        if options.fps == 0 {
            return Err(fail("fps must be positive".into()));
        }
        let name = path
            .file_name()
            .ok_or_else(|| fail("the path has no file name".into()))?
            .to_string_lossy()
            .into_owned();
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let fferr = |what: &str, e: ffmpeg_next::Error| fail(format!("{what}: {e}"));

        let xvid = options.format == WriterFormat::XvidAvi;
        let muxer = options.format.extension();
        let mut octx = format::output_as(&tmp, muxer).map_err(|e| fferr("cannot create the file", e))?;
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let codec = if xvid {
            encoder::find(codec::Id::MPEG4)
                .ok_or_else(|| fail("FFmpeg has no MPEG-4 part 2 encoder".into()))?
        } else {
            encoder::find_by_name("libx264")
                .or_else(|| encoder::find(codec::Id::H264))
                .ok_or_else(|| fail("FFmpeg has no H.264 encoder (libx264)".into()))?
        };
        let mut ost = octx.add_stream(codec).map_err(|e| fferr("add stream", e))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| fferr("encoder", e))?;
        let enc_tb = Rational::new(1, options.fps as i32);
        enc.set_width(width);
        enc.set_height(height);
        enc.set_format(format::Pixel::YUV420P);
        enc.set_time_base(enc_tb);
        enc.set_frame_rate(Some(Rational::new(options.fps as i32, 1)));
        enc.set_gop(options.gop.max(1));
        enc.set_max_b_frames(options.max_b_frames as usize);
        enc.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            count: options.threads.max(1) as usize,
            ..Default::default()
        });
        if global_header {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut opts = Dictionary::new();
        if xvid {
            // A fixed quantiser (the CLI's -q:v) from the crf: 20 -> 4, visually good.
            let q = (options.crf / 5).clamp(2, 31) as i32;
            let mut flags = codec::Flags::QSCALE;
            if global_header {
                flags |= codec::Flags::GLOBAL_HEADER;
            }
            enc.set_flags(flags);
            enc.set_global_quality(q * ffmpeg_next::ffi::FF_QP2LAMBDA);
            // One thread: the bitstream then does not depend on the machine.
            enc.set_threading(codec::threading::Config {
                kind: codec::threading::Type::Slice,
                count: 1,
                ..Default::default()
            });
        } else {
            opts.set("preset", &options.preset);
            opts.set("crf", &options.crf.to_string());
            opts.set("x264-params", &x264_params());
        }
        let encoder = enc
            .open_with(opts)
            .map_err(|e| fferr("cannot open the encoder", e))?;
        ost.set_parameters(&encoder);
        if xvid {
            // SAFETY: the stream's codec parameters were just filled by set_parameters; the
            // tag is a plain integer field the AVI muxer writes as the FourCC.
            unsafe {
                (*(*ost.as_mut_ptr()).codecpar).codec_tag = u32::from_le_bytes(*b"XVID");
            }
        }
        ost.set_time_base(enc_tb);
        octx.write_header().map_err(|e| fferr("write header", e))?;

        let scaler = scaling::Context::get(
            format::Pixel::RGB24,
            width,
            height,
            format::Pixel::YUV420P,
            width,
            height,
            scaling::Flags::BICUBIC,
        )
        .map_err(|e| fferr("colour conversion", e))?;
        Ok(VideoWriter {
            path,
            tmp,
            octx,
            encoder,
            scaler,
            rgb: frame::Video::new(format::Pixel::RGB24, width, height),
            yuv: frame::Video::new(format::Pixel::YUV420P, width, height),
            enc_tb,
            width,
            height,
            written: 0,
            finished: false,
        })
    }

    /// Appends one frame: `width * height * 3` RGB24 bytes, rows without padding.
    pub fn write_rgb(&mut self, rgb: &[u8]) -> Result<()> {
        let row = self.width as usize * 3;
        if rgb.len() != row * self.height as usize {
            return Err(self.error(format!(
                "frame has {} bytes, expected {} ({}x{}x3)",
                rgb.len(),
                row * self.height as usize,
                self.width,
                self.height
            )));
        }
        let stride = self.rgb.stride(0);
        let dst = self.rgb.data_mut(0);
        for (y, src) in rgb.chunks_exact(row).enumerate() {
            dst[y * stride..y * stride + row].copy_from_slice(src);
        }
        self.scaler
            .run(&self.rgb, &mut self.yuv)
            .map_err(|e| self.error(format!("colour conversion: {e}")))?;
        self.yuv.set_pts(Some(self.written));
        self.written += 1;
        self.encoder
            .send_frame(&self.yuv)
            .map_err(|e| self.error(format!("encode: {e}")))?;
        self.drain()
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> usize {
        self.written as usize
    }

    /// Flushes the encoder, writes the trailer and moves the file to its name.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.encoder
            .send_eof()
            .map_err(|e| self.error(format!("flush: {e}")))?;
        self.drain()?;
        self.octx
            .write_trailer()
            .map_err(|e| self.error(format!("write trailer: {e}")))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| AvError::io(&self.path, e))?;
        self.finished = true;
        Ok(self.path.clone())
    }

    fn drain(&mut self) -> Result<()> {
        let ost_tb = self.octx.stream(0).map(|s| s.time_base()).unwrap_or(self.enc_tb);
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            if packet.duration() <= 0 {
                // Without a duration the MP4 edit list ends before the last frame's display time.
                packet.set_duration(1);
            }
            packet.rescale_ts(self.enc_tb, ost_tb);
            packet
                .write_interleaved(&mut self.octx)
                .map_err(|e| self.error(format!("write packet: {e}")))?;
        }
        Ok(())
    }

    fn error(&self, reason: String) -> AvError {
        AvError::Encode {
            path: self.path.clone(),
            reason,
        }
    }
}

/// x264's private options. Fixed GOPs: scene-cut key frames would make the layout depend on the
/// content. On CPUs with AVX-512, x264 (r3095, Debian 12) is capped at its AVX2 code: its AVX-512
/// path reads memory it has not written, so the same frames encoded after other videos in the
/// same process came out different (5-7 of 16 synthetic videos with four encoder threads;
/// byte-identical again with `asm=AVX2` or with `MALLOC_PERTURB_` set).
fn x264_params() -> String {
    let mut params = String::from("scenecut=0");
    #[cfg(target_arch = "x86_64")]
    {
        // "AVX2" names x264's whole AVX2 level (FMA3, BMI1/2, LZCNT included); every CPU with
        // AVX-512 has them, checked anyway so that the cap never asks for a missing feature.
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("bmi2")
            && std::arch::is_x86_feature_detected!("lzcnt")
        {
            params.push_str(":asm=AVX2");
        }
    }
    params
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::VideoReader;

    #[test]
    fn writes_a_readable_video_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.mp4");
        let (w, h) = (64u32, 48u32);
        let mut writer = VideoWriter::create(&path, w, h, &WriterOptions::default()).unwrap();
        for i in 0..40u32 {
            let frame: Vec<u8> = (0..w * h * 3)
                .map(|k| ((k / 3 % w + i * 4) % 256) as u8)
                .collect();
            writer.write_rgb(&frame).unwrap();
        }
        assert!(!path.exists(), "visible before finish");
        assert!(writer.write_rgb(&[0u8; 10]).is_err());
        writer.finish().unwrap();
        let reader = VideoReader::open(&path).unwrap();
        assert_eq!(reader.len(), 40);
        assert_eq!((reader.width(), reader.height()), (w, h));
        assert!((reader.fps() - 25.0).abs() < 1e-6);
        assert_eq!(reader.key_indices(), &[0, 32]);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left behind"
        );
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.mp4");
        let mut writer = VideoWriter::create(&path, 32, 32, &WriterOptions::default()).unwrap();
        writer.write_rgb(&[128u8; 32 * 32 * 3]).unwrap();
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(VideoWriter::create(&path, 33, 32, &WriterOptions::default()).is_err());
    }
}
