//! `kinema bench-decode`: the external-decoder protocol of `shared/bench/decode` (its README):
//! `VIDEO OP INDICES --reps R --warmup W --dump FILE [--resize WxH]`; every repetition opens
//! the video anew; the last stdout line is `{"times_ms": [...], "shape": [N, H, W, 3]}`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use kinema_av::{ReaderOptions, VideoReader};

#[derive(clap::Args)]
pub struct Args {
    /// Video file or frame folder.
    video: PathBuf,
    /// open | seq | rand32 | batch32 | tsn7 | i3d | slowfast | i3d_224
    op: String,
    /// `all` (seq), empty (open) or comma-separated indices in request order.
    indices: String,
    #[arg(long, default_value_t = 5)]
    reps: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Write the last repetition's frames (raw RGB24, request order) here.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Resize to WIDTHxHEIGHT at decode.
    #[arg(long)]
    resize: Option<String>,
    /// Decoder threads (0 = FFmpeg's automatic choice).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let mut opts = ReaderOptions {
        num_threads: a.threads,
        ..Default::default()
    };
    if let Some(s) = &a.resize {
        let (w, h) = crate::parse_size(s)?;
        opts = opts.size(w, h);
    }
    let idx = match a.op.as_str() {
        "open" | "seq" => Vec::new(),
        "rand32" | "batch32" | "tsn7" | "i3d" | "slowfast" | "i3d_224" => crate::parse_indices(&a.indices)?,
        other => anyhow::bail!("unknown op '{other}'"),
    };
    let mut times = Vec::new();
    let mut stats = (0u64, 0u64);
    let mut last: Option<(Vec<u8>, [usize; 4])> = None;
    // seq keeps nothing while timed (like the harness's own libraries, whose frames are checked
    // in a separate untimed pass): one extra untimed pass produces the dump.
    let extra = usize::from(a.op == "seq" && a.dump.is_some());
    for rep in 0..a.warmup + a.reps + extra {
        let keep = rep + 1 == a.warmup + a.reps + extra && a.dump.is_some();
        let t0 = Instant::now();
        let mut vr = VideoReader::open_with(&a.video, &opts)
            .with_context(|| format!("opening {}", a.video.display()))?;
        let out = match a.op.as_str() {
            "open" => {
                std::hint::black_box(vr.len());
                None
            }
            "seq" => {
                let (h, w) = (vr.height() as usize, vr.width() as usize);
                let n = vr.len();
                let fl = h * w * 3;
                let mut all = if keep {
                    Vec::with_capacity(n * fl)
                } else {
                    Vec::new()
                };
                let mut buf = vec![0u8; fl];
                let mut count = 0;
                let mut it = vr.frames()?;
                while it.next_into(&mut buf)?.is_some() {
                    count += 1;
                    if keep {
                        all.extend_from_slice(&buf);
                    }
                }
                Some((all, [count, h, w, 3]))
            }
            "rand32" => {
                let (h, w) = (vr.height() as usize, vr.width() as usize);
                let mut all = Vec::with_capacity(idx.len() * h * w * 3);
                for &i in &idx {
                    let f = vr.get(i)?;
                    all.extend_from_slice(&f.data);
                }
                Some((all, [idx.len(), h, w, 3]))
            }
            _ => {
                let b = vr.get_batch(&idx)?;
                let s = b.shape();
                Some((b.into_vec(), s))
            }
        };
        stats = vr.decode_stats();
        drop(vr);
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if rep >= a.warmup && rep < a.warmup + a.reps {
            times.push(ms);
        }
        if keep {
            last = out;
        } else if let Some(o) = out {
            last = Some((Vec::new(), o.1));
        }
    }
    let shape = last.as_ref().map(|l| l.1);
    if let (Some(path), Some((data, _))) = (&a.dump, &last) {
        if a.op != "open" {
            let mut f =
                std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            f.write_all(data)?;
        }
    }
    let reply = serde_json::json!({
        "times_ms": times,
        "shape": shape,
        "packets_decoded": stats.0,
        "packets_skipped": stats.1,
        "impl": format!("kinema {} ({})", env!("CARGO_PKG_VERSION"), kinema_av::ffmpeg_versions()),
    });
    println!("{reply}");
    Ok(())
}
