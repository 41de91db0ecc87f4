//! `kinema extract --data SETTING --out DIR`: the pooled features (the classifier's input) of
//! every video to `.npy`, views averaged; finished files are skipped, so a stopped run resumes.

use std::path::PathBuf;

use anyhow::{Context, Result};
use kinema_infer::{extract_features, EvalOptions};

use crate::model_arg::{resolve, DataArgs, ModelArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Output folder: one `.npy` per video (the setting file's folders mirrored) and
    /// `features.csv` (video, label, file).
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let dev = crate::device();
    let model = resolve(&a.model, &dev)?;
    let card = &model.card;
    let ds = a.data.dataset(card)?;
    let root = a.data.root();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let pb = crate::progress::bar(ds.len() as u64, "extract", a.json);
    let o = EvalOptions::for_model(&model, a.data.batch_size, a.data.workers);
    let r = extract_features(&model, &ds, (&root, &a.out), &o, &dev, &|done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64)
    })
    .with_context(|| format!("extracting features of {}", a.data.data.display()))?;
    pb.finish_and_clear();
    let mut csv = String::from("video,label,file\n");
    for (f, s) in r.files.iter().zip(&ds.list().samples) {
        let rel = f.file.strip_prefix(&a.out).unwrap_or(&f.file);
        csv.push_str(&format!("{},{},{}\n", f.video.display(), s.label, rel.display()));
    }
    kinema_data::write_atomic(&a.out.join("features.csv"), csv.as_bytes())?;
    if a.json {
        let mut v = serde_json::to_value(&r)?;
        v["model"] = card.model.clone().into();
        v["out"] = a.out.display().to_string().into();
        println!("{v}");
    } else {
        println!(
            "{} videos: {} feature files written, {} already there ({} values each) in {}",
            r.files.len(),
            r.written,
            r.skipped,
            r.feat_dim,
            a.out.display()
        );
    }
    Ok(())
}
