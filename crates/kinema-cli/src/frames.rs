//! `kinema frames VIDEO --indices 0,10,20 [--resize WxH] --out DIR`: PNG files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use kinema_av::{ReaderOptions, VideoReader};

#[derive(clap::Args)]
pub struct Args {
    /// A video file or a frame folder.
    video: PathBuf,
    /// The container stream to read (ffprobe's index; default: FFmpeg's best video stream).
    #[arg(long)]
    stream: Option<usize>,
    /// Frame indices, comma-separated (ranges A-B allowed).
    #[arg(long)]
    indices: String,
    /// Resize to WIDTHxHEIGHT at decode.
    #[arg(long)]
    resize: Option<String>,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let idx = crate::parse_indices(&a.indices)?;
    anyhow::ensure!(!idx.is_empty(), "--indices names no frame");
    let mut opts = ReaderOptions {
        stream: a.stream,
        ..Default::default()
    };
    if let Some(s) = &a.resize {
        let (w, h) = crate::parse_size(s)?;
        opts = opts.size(w, h);
    }
    let mut vr =
        VideoReader::open_with(&a.video, &opts).with_context(|| format!("opening {}", a.video.display()))?;
    let batch = vr.get_batch(&idx)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let [_, h, w, _] = batch.shape();
    for (k, &i) in idx.iter().enumerate() {
        let p = a.out.join(format!("frame_{i:06}.png"));
        write_png(&p, w as u32, h as u32, batch.frame(k))?;
        println!("{}", p.display());
    }
    Ok(())
}

/// Writes an RGB24 PNG atomically (temp file + rename).
pub fn write_png(path: &Path, w: u32, h: u32, rgb: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("png.tmp");
    {
        let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header()?;
        wr.write_image_data(rgb)?;
        wr.finish()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
