//! `kinema eval --data SETTING`: clip- and video-level top-1/top-5 with multi-view testing,
//! per-class accuracy and a confusion matrix (CSV + PNG).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::model_arg::{resolve, score, DataArgs, ModelArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Write confusion.csv, confusion.png and per_class.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let dev = crate::device();
    let model = resolve(&a.model, &dev)?;
    let card = &model.card;
    let ds = Arc::new(a.data.dataset(card)?);
    let d = &a.data;
    let r = score(&model, ds, (d.batch_size, d.workers), ("eval", a.json), &dev)
        .with_context(|| format!("evaluating on {}", d.data.display()))?;
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let mut csv = String::from("true\\predicted");
        for c in 0..r.confusion.len() {
            csv.push(',');
            csv.push_str(card.classes.get(c).map(String::as_str).unwrap_or("?"));
        }
        csv.push('\n');
        for (c, row) in r.confusion.iter().enumerate() {
            csv.push_str(card.classes.get(c).map(String::as_str).unwrap_or("?"));
            for v in row {
                csv.push_str(&format!(",{v}"));
            }
            csv.push('\n');
        }
        kinema_data::write_atomic(&out.join("confusion.csv"), csv.as_bytes())?;
        let mut pc = String::from("label,class,videos,top1\n");
        for c in &r.per_class {
            pc.push_str(&format!(
                "{},{},{},{:.4}\n",
                c.label,
                card.classes.get(c.label).map(String::as_str).unwrap_or("?"),
                c.count,
                c.top1
            ));
        }
        kinema_data::write_atomic(&out.join("per_class.csv"), pc.as_bytes())?;
        kinema_infer::write_confusion_png(&r, &card.classes, &out.join("confusion.png"))?;
    }
    if a.json {
        let mut v = serde_json::to_value(&r)?;
        v["model"] = card.model.clone().into();
        v["classes"] = serde_json::to_value(&card.classes)?;
        println!("{v}");
        return Ok(());
    }
    println!(
        "{} videos, {} views each: video top-1 {:.4}, top-5 {:.4}; clip top-1 {:.4}, top-5 {:.4}",
        r.num_videos, r.views, r.top1, r.top5, r.clip_top1, r.clip_top5
    );
    for c in &r.per_class {
        println!(
            "  {:<24} {:>4} videos  top-1 {:.3}",
            card.classes.get(c.label).map(String::as_str).unwrap_or("?"),
            c.count,
            c.top1
        );
    }
    Ok(())
}
