//! Frame folders (`img_00001.jpg`, ...): every image is one frame. JPEG frames decode with
//! libjpeg-turbo as PIL, OpenCV and GluonCV's frame-folder loaders read them (accurate integer
//! IDCT, smooth chroma upsampling, straight to RGB); PNG frames, and the JPEG frames libjpeg-turbo
//! refuses or warns about (CMYK, 12-bit, damaged data), go through FFmpeg's decoders and the
//! video frames' conversion.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ffmpeg::{codec, decoder, frame, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::convert::{InputKey, RgbOutput, Target};
use crate::error::{AvError, Result};
use crate::options::{check_size, ReaderOptions};
use crate::setup::init;
use crate::types::{FrameBatch, VideoInfo};

/// Expands a printf-style pattern with one integer field (`%d`, `%05d`).
pub(crate) fn expand_pattern(pattern: &str, n: usize) -> Result<String> {
    let bad = || {
        AvError::InvalidOption(format!(
            "frame name pattern '{pattern}' needs exactly one %d or %0Nd field"
        ))
    };
    let start = pattern.find('%').ok_or_else(bad)?;
    let rest = &pattern[start + 1..];
    let dpos = rest.find('d').ok_or_else(bad)?;
    let spec = &rest[..dpos];
    if !spec.chars().all(|c| c.is_ascii_digit()) || rest[dpos + 1..].contains('%') {
        return Err(bad());
    }
    let width: usize = if spec.is_empty() {
        0
    } else {
        spec.parse().map_err(|_| bad())?
    };
    let num = if spec.starts_with('0') {
        format!("{n:0width$}")
    } else {
        format!("{n:width$}")
    };
    Ok(format!("{}{}{}", &pattern[..start], num, &rest[dpos + 1..]))
}

/// A JPEG's size and layout as libjpeg-turbo reads them from its header, when libjpeg-turbo can
/// decode it to RGB.
struct JpegHeader {
    width: u32,
    height: u32,
    pixel_format: &'static str,
}

fn jpeg_header(tj: &mut turbojpeg::Decompressor, bytes: &[u8]) -> Option<JpegHeader> {
    use turbojpeg::{Colorspace, Subsamp};
    let h = tj.read_header(bytes).ok()?;
    // CMYK and YCCK only decode to CMYK; lossless JPEGs may hold more than 8 bits.
    if matches!(h.colorspace, Colorspace::CMYK | Colorspace::YCCK) || h.is_lossless {
        return None;
    }
    // Named as FFmpeg names the decoded picture (its JPEG decoder gives full-range YUV).
    let pixel_format = match h.subsamp {
        Subsamp::Gray => "gray",
        Subsamp::None if h.colorspace == Colorspace::RGB => "gbrp",
        Subsamp::None => "yuvj444p",
        Subsamp::Sub2x1 => "yuvj422p",
        Subsamp::Sub2x2 => "yuvj420p",
        Subsamp::Sub1x2 => "yuvj440p",
        Subsamp::Sub4x1 => "yuvj411p",
        _ => "unknown",
    };
    Some(JpegHeader {
        width: u32::try_from(h.width).ok()?,
        height: u32::try_from(h.height).ok()?,
        pixel_format,
    })
}

/// Decodes one still image (JPEG or PNG, told apart by their magic bytes).
struct ImageDecoder {
    /// libjpeg-turbo, made on the first JPEG.
    turbo: Option<turbojpeg::Decompressor>,
    jpeg: Option<decoder::Video>,
    png: Option<decoder::Video>,
    frame: frame::Video,
    out: Option<RgbOutput>,
    max_pixels: u64,
}

impl ImageDecoder {
    fn new(max_pixels: u64) -> ImageDecoder {
        ImageDecoder {
            max_pixels,
            turbo: None,
            jpeg: None,
            png: None,
            frame: frame::Video::empty(),
            out: None,
        }
    }

    fn turbo(&mut self) -> Option<&mut turbojpeg::Decompressor> {
        if self.turbo.is_none() {
            self.turbo = turbojpeg::Decompressor::new().ok();
        }
        self.turbo.as_mut()
    }

    /// The size and pixel format of the image in `path` (`bytes`), from the JPEG header where
    /// libjpeg-turbo reads the image, else by decoding it.
    fn probe(&mut self, path: &Path, bytes: &[u8]) -> Result<(u32, u32, String)> {
        if bytes.starts_with(&[0xFF, 0xD8]) {
            if let Some(h) = self.turbo().and_then(|tj| jpeg_header(tj, bytes)) {
                return Ok((h.width, h.height, h.pixel_format.into()));
            }
        }
        let f = self.decode_ffmpeg(path, bytes)?;
        Ok((f.width(), f.height(), format!("{:?}", f.format()).to_lowercase()))
    }

    fn decode_ffmpeg(&mut self, path: &Path, bytes: &[u8]) -> Result<&frame::Video> {
        let corrupt = |reason: String| AvError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let (slot, id) = if bytes.starts_with(&[0xFF, 0xD8]) {
            (&mut self.jpeg, codec::Id::MJPEG)
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
            (&mut self.png, codec::Id::PNG)
        } else if bytes.is_empty() {
            return Err(corrupt("empty image file".into()));
        } else {
            return Err(AvError::Unsupported {
                path: path.to_path_buf(),
                codec: "unknown".into(),
                reason: "frame folders hold JPEG or PNG images".into(),
            });
        };
        // FFmpeg 5.1's PNG decoder keeps row state across images (the second image comes out
        // wrong), so PNG gets a fresh decoder per image; JPEG decoders are reused.
        if slot.is_none() || id == codec::Id::PNG {
            let c = ffmpeg::decoder::find(id).ok_or_else(|| AvError::Unsupported {
                path: path.to_path_buf(),
                codec: id.name().into(),
                reason: "this FFmpeg build has no decoder for it".into(),
            })?;
            let mut ctx = codec::Context::new_with_codec(c);
            // SAFETY: plain field write on a context that is not opened yet.
            unsafe { (*ctx.as_mut_ptr()).max_pixels = self.max_pixels.min(i64::MAX as u64) as i64 };
            let d = ctx
                .decoder()
                .video()
                .map_err(|e| corrupt(format!("decoder: {e}")))?;
            *slot = Some(d);
        }
        let dec = slot.as_mut().expect("set above");
        let pkt = Packet::copy(bytes);
        let sent = dec.send_packet(&pkt);
        let mut got = dec.receive_frame(&mut self.frame);
        if got.is_err() {
            let _ = dec.send_eof();
            got = dec.receive_frame(&mut self.frame);
            dec.flush();
        }
        if let Err(e) = sent {
            return Err(corrupt(format!("cannot decode the image: {e}")));
        }
        got.map_err(|e| corrupt(format!("cannot decode the image: {e}")))?;
        Ok(&self.frame)
    }

    /// Decodes a JPEG at its own size with libjpeg-turbo straight into `dst`. `false`: a resize
    /// is asked (FFmpeg's decoder and the CLI's scaler do it: scaling the YUV picture is cheaper,
    /// i3d_224 on the decode benchmark's frame folder 28 ms against 41 through RGB), or libjpeg-turbo refused the image or warned about its
    /// data (nothing usable was written).
    fn decode_turbo(
        &mut self,
        path: &Path,
        bytes: &[u8],
        target: Target,
        want: (u32, u32),
        dst: &mut [u8],
    ) -> Result<bool> {
        if !target.is_native() {
            return Ok(false);
        }
        let max_pixels = self.max_pixels;
        let Some(tj) = self.turbo() else {
            return Ok(false);
        };
        let Some(h) = jpeg_header(tj, bytes) else {
            return Ok(false);
        };
        check_size(path, h.width, h.height, max_pixels)?;
        let (w, ht) = (h.width as usize, h.height as usize);
        if (h.width, h.height) != want || dst.len() != w * ht * 3 {
            return Ok(false);
        }
        let image = turbojpeg::Image {
            pixels: dst,
            width: w,
            pitch: w * 3,
            height: ht,
            format: turbojpeg::PixelFormat::RGB,
        };
        Ok(tj.decompress(bytes, image).is_ok())
    }

    /// Converts FFmpeg's last decoded picture.
    fn convert(&mut self, path: &Path, target: Target, want: (u32, u32), dst: &mut [u8]) -> Result<()> {
        if self.out.is_none() {
            let key = InputKey::of(&self.frame);
            let out =
                RgbOutput::new(key, Rational::new(1, 1), target).map_err(|reason| AvError::Convert {
                    path: path.to_path_buf(),
                    reason,
                })?;
            if out.size() != want {
                return Err(crate::convert::ConvertError::SizeChanged {
                    width: key.width,
                    height: key.height,
                    want,
                }
                .into_av(path));
            }
            self.out = Some(out);
        }
        let out = self.out.as_mut().expect("set above");
        out.convert(&self.frame, dst).map_err(|e| e.into_av(path))
    }

    fn decode_into(&mut self, path: &Path, target: Target, want: (u32, u32), dst: &mut [u8]) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| AvError::io(path, e))?;
        if bytes.starts_with(&[0xFF, 0xD8]) && self.decode_turbo(path, &bytes, target, want, dst)? {
            return Ok(());
        }
        self.decode_ffmpeg(path, &bytes)?;
        self.convert(path, target, want, dst)
    }
}

/// The frames of `dir` named by `pattern` from number `start` on, in order, up to the first
/// number that has no file (one directory listing, not a lookup per frame).
fn list_frames(dir: &Path, pattern: &str, start: usize) -> Result<Vec<PathBuf>> {
    let names: HashSet<OsString> = std::fs::read_dir(dir)
        .map_err(|e| AvError::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.file_name())
        .collect();
    let mut files = Vec::new();
    for n in start.. {
        let name = OsString::from(expand_pattern(pattern, n)?);
        if !names.contains(&name) {
            break;
        }
        files.push(dir.join(name));
    }
    Ok(files)
}

pub(crate) struct FolderReader {
    dir: PathBuf,
    files: Vec<PathBuf>,
    info: VideoInfo,
    opts: ReaderOptions,
    dec: ImageDecoder,
}

impl FolderReader {
    pub fn open(dir: &Path, opts: &ReaderOptions) -> Result<FolderReader> {
        init();
        let files = list_frames(dir, &opts.frame_pattern, opts.frame_start)?;
        if files.is_empty() {
            return Err(AvError::Open {
                path: dir.to_path_buf(),
                reason: format!(
                    "a frame folder, but no '{}' frames from number {}",
                    opts.frame_pattern, opts.frame_start
                ),
            });
        }
        let mut dec = ImageDecoder::new(opts.max_pixels);
        let bytes = std::fs::read(&files[0]).map_err(|e| AvError::io(&files[0], e))?;
        let (width, height, pixel_format) = dec.probe(&files[0], &bytes)?;
        check_size(&files[0], width, height, opts.max_pixels)?;
        let target = Target::of(opts);
        // The output size: the picture's, or for a resize the converter's (made for the
        // picture FFmpeg's decoder gives, which resized frames go through).
        let (out_width, out_height) = if target.is_native() {
            (width, height)
        } else {
            let key = InputKey::of(dec.decode_ffmpeg(&files[0], &bytes)?);
            let out =
                RgbOutput::new(key, Rational::new(1, 1), target).map_err(|reason| AvError::Convert {
                    path: files[0].clone(),
                    reason,
                })?;
            let size = out.size();
            dec.out = Some(out);
            size
        };
        check_size(&files[0], out_width, out_height, opts.max_pixels)?;
        let fps = opts.folder_fps;
        let info = VideoInfo {
            codec: if files[0]
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("png"))
            {
                "png"
            } else {
                "mjpeg"
            }
            .into(),
            container: "image2".into(),
            stream: 0,
            width,
            height,
            pixel_format,
            frame_count: files.len(),
            fps,
            duration: files.len() as f64 / fps,
            rotation: 0.0,
            key_frames: (0..files.len()).collect(),
            out_width,
            out_height,
            truncated: None,
        };
        Ok(FolderReader {
            dir: dir.to_path_buf(),
            files,
            info,
            opts: opts.clone(),
            dec,
        })
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    fn check(&self, idx: usize) -> Result<()> {
        if idx >= self.len() {
            return Err(AvError::IndexOutOfRange {
                path: self.dir.clone(),
                index: idx as i64,
                len: self.len(),
            });
        }
        Ok(())
    }

    fn target(&self) -> Target {
        Target::of(&self.opts)
    }

    fn want(&self) -> (u32, u32) {
        (self.info.out_width, self.info.out_height)
    }

    pub fn frame_timestamp(&self, idx: usize) -> Result<(f64, f64)> {
        self.check(idx)?;
        let fps = self.info.fps;
        Ok((idx as f64 / fps, (idx + 1) as f64 / fps))
    }

    pub fn index_at_time(&self, secs: f64) -> Result<usize> {
        let end = self.info.duration;
        AvError::check_time(&self.dir, secs, 0.0, end)?;
        Ok(((secs * self.info.fps + 1e-9).floor() as usize).min(self.len() - 1))
    }

    pub fn get_into(&mut self, idx: usize, dst: &mut [u8]) -> Result<()> {
        self.check(idx)?;
        let (target, want) = (self.target(), self.want());
        self.dec.decode_into(&self.files[idx], target, want, dst)
    }

    /// Images are independent: a batch is decoded on `num_threads` threads.
    pub fn get_batch(&mut self, indices: &[usize]) -> Result<FrameBatch> {
        for &i in indices {
            self.check(i)?;
        }
        let (h, w) = (self.info.out_height as usize, self.info.out_width as usize);
        let mut out = FrameBatch::zeros(indices.len(), h, w);
        let fl = h * w * 3;
        let threads = crate::decoder::decoder_threads(self.opts.num_threads).min(indices.len().max(1));
        let (target, want) = (self.target(), self.want());
        if threads <= 1 || indices.len() < 4 {
            for (k, &i) in indices.iter().enumerate() {
                self.dec
                    .decode_into(&self.files[i], target, want, &mut out.data[k * fl..(k + 1) * fl])?;
            }
            return Ok(out);
        }
        let per = indices.len().div_ceil(threads);
        let files = &self.files;
        let max_px = self.opts.max_pixels;
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = out
                .data
                .chunks_mut(per * fl)
                .zip(indices.chunks(per))
                .map(|(buf, idx)| {
                    s.spawn(move || {
                        let mut dec = ImageDecoder::new(max_px);
                        for (k, &i) in idx.iter().enumerate() {
                            dec.decode_into(&files[i], target, want, &mut buf[k * fl..(k + 1) * fl])?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(AvError::InvalidOption("decoder thread panicked".into())))
                })
                .collect()
        });
        for r in results {
            r?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::expand_pattern;

    #[test]
    fn patterns_expand_like_printf() {
        assert_eq!(expand_pattern("img_%05d.jpg", 7).unwrap(), "img_00007.jpg");
        assert_eq!(expand_pattern("%d.png", 12).unwrap(), "12.png");
        assert_eq!(expand_pattern("frame%3d.jpg", 1234).unwrap(), "frame1234.jpg");
        assert_eq!(expand_pattern("f%3d.jpg", 7).unwrap(), "f  7.jpg");
        assert!(expand_pattern("img.jpg", 1).is_err());
        assert!(expand_pattern("img_%s.jpg", 1).is_err());
        assert!(expand_pattern("%d_%d.jpg", 1).is_err());
    }
}
