//! `kinema probe VIDEO [--json]`.

use std::path::PathBuf;

use anyhow::Context;
use kinema_av::{ReaderOptions, VideoReader};

#[derive(clap::Args)]
pub struct Args {
    /// A video file or a frame folder.
    video: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The container stream to describe (ffprobe's index; default: FFmpeg's best video stream).
    #[arg(long)]
    stream: Option<usize>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let opts = ReaderOptions {
        stream: a.stream,
        ..Default::default()
    };
    let mut vr =
        VideoReader::open_with(&a.video, &opts).with_context(|| format!("probing {}", a.video.display()))?;
    // Decoding the first frame confirms the size and pixel format against the container header.
    vr.get(0)
        .with_context(|| format!("decoding the first frame of {}", a.video.display()))?;
    let i = vr.info();
    if a.json {
        let v = serde_json::json!({
            "path": a.video,
            "codec": i.codec,
            "container": i.container,
            "stream": i.stream,
            // The frames' size (turned as the display matrix says); the stored pictures' too.
            "width": i.out_width,
            "height": i.out_height,
            "stored_width": i.width,
            "stored_height": i.height,
            "pixel_format": i.pixel_format,
            "frames": i.frame_count,
            "fps": i.fps,
            "duration": i.duration,
            "rotation": i.rotation,
            "key_frames": i.key_frames,
            "truncated": i.truncated,
        });
        println!("{v}");
    } else {
        println!("{}", a.video.display());
        println!("  codec        {} ({})", i.codec, i.pixel_format);
        println!("  container    {}", i.container);
        println!("  size         {}x{}", i.out_width, i.out_height);
        println!("  frames       {}", i.frame_count);
        println!("  fps          {:.3}", i.fps);
        println!("  duration     {:.3} s", i.duration);
        if i.rotation != 0.0 {
            println!(
                "  rotation     {} degrees (frames are turned; stored as {}x{})",
                i.rotation, i.width, i.height
            );
        }
        let k: Vec<String> = i.key_frames.iter().take(20).map(|k| k.to_string()).collect();
        let more = if i.key_frames.len() > 20 {
            format!(" ... ({} in all)", i.key_frames.len())
        } else {
            String::new()
        };
        println!("  key frames   {}{more}", k.join(", "));
        if let Some(t) = &i.truncated {
            println!("  warning      reading stopped early: {t}");
        }
    }
    Ok(())
}
