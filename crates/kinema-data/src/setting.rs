//! Sample lists: GluonCV's setting files (`path num_frames label` per line) and the resolution
//! of each path to a video file or a frame folder.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// One video of a dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sample {
    /// The video file or frame folder.
    pub path: PathBuf,
    /// Frame count from the list (0 = unknown; the reader's count is used).
    pub num_frames: usize,
    /// 0-based class label.
    pub label: usize,
    /// The list file and 1-based line this sample came from (for error messages).
    pub listed_in: PathBuf,
    /// Line in `listed_in`.
    pub line: usize,
}

/// Samples plus class names (empty when the list does not name its classes).
#[derive(Debug, Clone, Default)]
pub struct SampleList {
    /// The samples, in list order.
    pub samples: Vec<Sample>,
    /// Class names, index = label.
    pub classes: Vec<String>,
    /// Entries dropped because their video was missing (with `skip_missing`).
    pub missing: Vec<PathBuf>,
}

impl SampleList {
    /// Number of classes: the class list's length, or one more than the largest label.
    pub fn num_classes(&self) -> usize {
        let from_labels = self.samples.iter().map(|s| s.label + 1).max().unwrap_or(0);
        self.classes.len().max(from_labels)
    }

    /// Samples per label (index = label).
    pub fn histogram(&self) -> Vec<usize> {
        let mut h = vec![0; self.num_classes()];
        for s in &self.samples {
            h[s.label] += 1;
        }
        h
    }
}

/// How list entries become paths on disk.
#[derive(Debug, Clone)]
pub struct PathRules {
    /// Folder relative paths are joined to (absolute paths are kept).
    pub root: PathBuf,
    /// Extension appended to entries whose file name has none and that are not frame folders
    /// (GluonCV's `video_ext`).
    pub video_ext: String,
    /// Drop (and count) entries whose video is missing instead of failing.
    pub skip_missing: bool,
}

impl PathRules {
    /// Rules with GluonCV's default extension `mp4`, failing on missing videos.
    pub fn new(root: impl Into<PathBuf>) -> PathRules {
        PathRules {
            root: root.into(),
            video_ext: "mp4".into(),
            skip_missing: false,
        }
    }

    /// The file or folder an entry names, `None` when nothing exists there.
    pub fn resolve(&self, entry: &str) -> Option<PathBuf> {
        let direct = self.root.join(entry);
        if direct.exists() {
            return Some(direct);
        }
        let has_ext = Path::new(entry)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains('.'));
        if !has_ext && !self.video_ext.is_empty() {
            let with_ext = self.root.join(format!("{entry}.{}", self.video_ext));
            if with_ext.exists() {
                return Some(with_ext);
            }
        }
        None
    }

    /// Adds a resolved sample to `list`, or records it as missing (or fails).
    pub(crate) fn push(
        &self,
        list: &mut SampleList,
        entry: &str,
        num_frames: usize,
        label: usize,
        listed_in: &Path,
        line: usize,
    ) -> Result<()> {
        match self.resolve(entry) {
            Some(path) => {
                list.samples.push(Sample {
                    path,
                    num_frames,
                    label,
                    listed_in: listed_in.to_path_buf(),
                    line,
                });
                Ok(())
            }
            None if self.skip_missing => {
                list.missing.push(self.root.join(entry));
                Ok(())
            }
            None => Err(DataError::MissingVideo {
                path: self.root.join(entry),
                listed_in: listed_in.to_path_buf(),
                line,
            }),
        }
    }
}

/// Reads a text file as numbered lines (1-based), skipping blank ones.
pub(crate) fn read_lines(path: &Path) -> Result<Vec<(usize, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .filter(|(_, l)| !l.is_empty())
        .collect())
}

/// Parses a GluonCV setting file: `path num_frames label` per line. The last two fields are the
/// numbers, so paths may contain spaces. Blank lines are skipped; anything else malformed is an
/// error naming the file and line.
pub fn read_setting(setting: &Path, rules: &PathRules) -> Result<SampleList> {
    let mut list = SampleList::default();
    for (line, text) in read_lines(setting)? {
        let mut fields = text.rsplitn(3, char::is_whitespace);
        let (label, frames, entry) = match (fields.next(), fields.next(), fields.next()) {
            (Some(l), Some(f), Some(p)) if !p.trim().is_empty() => (l, f.trim(), p.trim()),
            _ => {
                return Err(DataError::line(
                    setting,
                    line,
                    format!("expected `path num_frames label`, got {text:?}"),
                ))
            }
        };
        let num = |what: &str, v: &str| {
            v.parse::<usize>().map_err(|_| {
                DataError::line(
                    setting,
                    line,
                    format!("{what} {v:?} is not a non-negative integer"),
                )
            })
        };
        let num_frames = num("num_frames", frames)?;
        let label = num("label", label)?;
        rules.push(&mut list, entry, num_frames, label, setting, line)?;
    }
    if list.samples.is_empty() && list.missing.is_empty() {
        return Err(DataError::file(setting, "no samples in the setting file"));
    }
    Ok(list)
}

/// Writes a setting file (`path num_frames label`, paths relative to `root` where they lie
/// under it), atomically.
pub fn write_setting(samples: &[Sample], root: &Path, out: &Path) -> Result<()> {
    let mut text = String::new();
    for s in samples {
        let p = s.path.strip_prefix(root).unwrap_or(&s.path);
        text.push_str(&format!("{} {} {}\n", p.display(), s.num_frames, s.label));
    }
    crate::atomic::write_atomic(out, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resolves_and_reports_lines() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.mp4"), b"x").unwrap();
        std::fs::write(root.join("b c.mp4"), b"x").unwrap();
        std::fs::create_dir(root.join("frames")).unwrap();
        let setting = root.join("s.txt");
        std::fs::write(&setting, "a 10 0\n\nb c.mp4 0 2\nframes 30 1\n").unwrap();
        let list = read_setting(&setting, &PathRules::new(root)).unwrap();
        assert_eq!(list.samples.len(), 3);
        assert_eq!(list.samples[0].path, root.join("a.mp4"));
        assert_eq!(list.samples[1].path, root.join("b c.mp4"));
        assert_eq!((list.samples[2].num_frames, list.samples[2].label), (30, 1));
        assert_eq!(list.samples[2].line, 4);
        assert_eq!(list.histogram(), vec![1, 1, 1]);

        let bad = |text: &str| {
            std::fs::write(&setting, text).unwrap();
            read_setting(&setting, &PathRules::new(root))
                .unwrap_err()
                .to_string()
        };
        assert!(bad("a.mp4 10 0\na.mp4 10\n").contains("s.txt:2: expected"));
        assert!(bad("a.mp4 ten 0\n").contains(":1: num_frames \"ten\""));
        assert!(bad("a.mp4 1 -3\n").contains(":1: label \"-3\""));
        assert!(bad("\n\n").contains("no samples"));
        let missing = bad("a.mp4 1 0\nnope.mp4 1 0\n");
        assert!(
            missing.contains("nope.mp4: video not found") && missing.contains("s.txt:2"),
            "{missing}"
        );
        let mut rules = PathRules::new(root);
        rules.skip_missing = true;
        let list = read_setting(&setting, &rules).unwrap();
        assert_eq!((list.samples.len(), list.missing.len()), (1, 1));
        let err = read_setting(&root.join("none.txt"), &rules)
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.txt"), "{err}");
    }
}
