//! Feature extraction (GluonCV's `feat_extract.py`): per video, the pooled features the
//! model's classifier takes, averaged over the views asked for, one `.npy` file each. Files are
//! written atomically and finished ones are skipped, so an interrupted run picks up where it
//! stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;
use kinema_data::{read_npy_f32, write_npy_f32, SampleList, VideoClsCustom};
use kinema_models::Model;
use serde::Serialize;

use crate::error::{InferError, Result};
use crate::eval::{mean_rows, run_videos, EvalOptions};

/// What an extraction did.
#[derive(Debug, Clone, Serialize)]
pub struct ExtractReport {
    /// Files written by this run.
    pub written: usize,
    /// Files already there (from an earlier run), left as they were.
    pub skipped: usize,
    /// Values per feature vector (0 when nothing was written).
    pub feat_dim: usize,
    /// Per sample (setting-file order): the video and its feature file.
    pub files: Vec<FeatureFile>,
}

/// A video and the file its features go to.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureFile {
    /// The video (as the setting file names it, joined to the root).
    pub video: PathBuf,
    /// Its `.npy` file.
    pub file: PathBuf,
}

/// The feature file of `video`: its path under `root` mirrored under `out`, extension `.npy`
/// (videos of the same name in different class folders do not collide).
pub fn feature_file(out: &Path, root: &Path, video: &Path) -> PathBuf {
    let rel = match video.strip_prefix(root) {
        Ok(r) if !r.as_os_str().is_empty() => r.to_path_buf(),
        _ => PathBuf::from(video.file_name().unwrap_or(video.as_os_str())),
    };
    // `walk/v1.mp4` -> `walk/v1.npy` (GluonCV drops the extension too); a frame folder keeps
    // its whole name (`v1.5` -> `v1.5.npy`). Two videos that would share a file are an error.
    if video.is_dir() || video.extension().is_none() {
        let mut name = rel.into_os_string();
        name.push(".npy");
        out.join(name)
    } else {
        out.join(rel.with_extension("npy"))
    }
}

/// A finished feature file: it parses as `.npy` (writes are atomic, so a file that exists is
/// whole unless something else wrote it).
fn finished(path: &Path) -> bool {
    path.is_file() && read_npy_f32(path).is_ok()
}

/// Extracts the features of every sample of `dataset` (its options say the views: segments,
/// clips, crops) into files under `out` named by [`feature_file`] from `root`.
/// `progress(done, total)` counts the videos still to do.
pub fn extract_features(
    model: &Model,
    dataset: &VideoClsCustom,
    (root, out): (&Path, &Path),
    o: &EvalOptions,
    dev: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<ExtractReport> {
    let list = dataset.list();
    let files: Vec<FeatureFile> = list
        .samples
        .iter()
        .map(|s| FeatureFile {
            video: s.path.clone(),
            file: feature_file(out, root, &s.path),
        })
        .collect();
    let mut seen = std::collections::HashMap::new();
    for FeatureFile { video, file } in &files {
        if let Some(other) = seen.insert(file.clone(), video.clone()) {
            return Err(InferError::Invalid(format!(
                "{} and {} would both write {}: give them different names",
                other.display(),
                video.display(),
                file.display()
            )));
        }
    }
    let todo: Vec<usize> = (0..files.len()).filter(|&i| !finished(&files[i].file)).collect();
    let skipped = files.len() - todo.len();
    let pending = SampleList {
        samples: todo.iter().map(|&i| list.samples[i].clone()).collect(),
        classes: list.classes.clone(),
        missing: vec![],
    };
    let mut written = 0;
    let mut feat_dim = 0;
    if !pending.samples.is_empty() {
        let sub = Arc::new(VideoClsCustom::from_list(pending, dataset.options().clone())?);
        let mut save = |plan: &kinema_data::ClipPlan, _label: usize, rows: &[f32], k: usize| -> Result<()> {
            let mean = mean_rows(rows, k);
            let file = &files[todo[plan.index]].file;
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).map_err(|e| InferError::io(dir, e))?;
            }
            write_npy_f32(file, &[k], &mean)?;
            feat_dim = k;
            written += 1;
            Ok(())
        };
        run_videos(model, sub, o, true, dev, &mut save, progress)?;
    }
    if feat_dim == 0 {
        // Nothing new: the size of what is there.
        if let Some(f) = files.first() {
            feat_dim = read_npy_f32(&f.file)
                .map(|(shape, _)| shape.iter().product())
                .unwrap_or(0);
        }
    }
    Ok(ExtractReport {
        written,
        skipped,
        feat_dim,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_files_mirror_the_dataset_tree() {
        let (out, root) = (Path::new("/o"), Path::new("/data"));
        assert_eq!(
            feature_file(out, root, Path::new("/data/walk/v1.mp4")),
            PathBuf::from("/o/walk/v1.npy")
        );
        // A frame folder has no extension to drop.
        assert_eq!(
            feature_file(out, root, Path::new("/data/walk/v1")),
            PathBuf::from("/o/walk/v1.npy")
        );
        // Outside the root: the file name alone.
        assert_eq!(
            feature_file(out, root, Path::new("/elsewhere/x.avi")),
            PathBuf::from("/o/x.npy")
        );
    }
}
