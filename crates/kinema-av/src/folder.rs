//! Frame folders (`img_00001.jpg`, ...): every image is one frame, decoded by FFmpeg's own JPEG
//! / PNG decoders and converted exactly like video frames, so a dataset cannot tell the two
//! apart.

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

/// Decodes one still image (JPEG or PNG, told apart by their magic bytes).
struct ImageDecoder {
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
            jpeg: None,
            png: None,
            frame: frame::Video::empty(),
            out: None,
        }
    }

    fn decode(&mut self, path: &Path) -> Result<&frame::Video> {
        let bytes = std::fs::read(path).map_err(|e| AvError::io(path, e))?;
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
        let pkt = Packet::copy(&bytes);
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

    fn decode_into(&mut self, path: &Path, target: Target, want: (u32, u32), dst: &mut [u8]) -> Result<()> {
        self.decode(path)?;
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
        let mut files = Vec::new();
        let mut n = opts.frame_start;
        loop {
            let f = dir.join(expand_pattern(&opts.frame_pattern, n)?);
            if !f.is_file() {
                break;
            }
            files.push(f);
            n += 1;
        }
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
        let f0 = dec.decode(&files[0])?;
        let (width, height) = (f0.width(), f0.height());
        check_size(&files[0], width, height, opts.max_pixels)?;
        let pixel_format = format!("{:?}", f0.format()).to_lowercase();
        let target = Target::of(opts);
        let out = RgbOutput::new(InputKey::of(f0), Rational::new(1, 1), target).map_err(|reason| {
            AvError::Convert {
                path: files[0].clone(),
                reason,
            }
        })?;
        let (out_width, out_height) = out.size();
        check_size(&files[0], out_width, out_height, opts.max_pixels)?;
        dec.out = Some(out);
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
