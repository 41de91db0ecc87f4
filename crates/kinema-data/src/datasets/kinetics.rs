//! Kinetics: class-per-folder trees, or the published CSV
//! (`label,youtube_id,time_start,time_end,split[,is_cc]`) with clips named
//! `<youtube_id>_<start:06>_<end:06>.mp4` (the usual downloader's names), under a class folder or
//! flat, or `<youtube_id>.mp4`.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::setting::{read_lines, PathRules, SampleList};

/// File extensions taken as videos in class folders: the containers FFmpeg opens that
/// datasets and cameras use.
pub const VIDEO_EXTS: &[&str] = &[
    "mp4", "m4v", "mov", "qt", "mkv", "webm", "avi", "ts", "mts", "m2ts", "mpg", "mpeg", "vob", "flv", "f4v",
    "wmv", "asf", "ogv", "ogg", "3gp", "3g2", "rm", "rmvb", "mxf", "dv", "nut", "y4m", "gif",
];

/// True when `path`'s extension is one of [`VIDEO_EXTS`] (any case).
pub fn has_video_ext(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| VIDEO_EXTS.contains(&e.to_string_lossy().to_lowercase().as_str()))
}

/// Loads `dir/<class>/<video>` (classes = sorted folder names, videos sorted by name); a
/// sub-folder of a class folder counts as a frame folder.
pub fn kinetics_folders(dir: &Path) -> Result<SampleList> {
    class_folders(dir, &has_video_ext)
}

/// [`kinetics_folders`] with the files of a class folder taken when `take(path)` says so
/// (sub-folders always: frame folders); hidden files (`.name`) never.
pub fn class_folders(dir: &Path, take: &dyn Fn(&Path) -> bool) -> Result<SampleList> {
    let mut list = SampleList::default();
    let mut classes: Vec<PathBuf> = sorted_entries(dir)?.into_iter().filter(|p| p.is_dir()).collect();
    classes.sort();
    for (label, class) in classes.iter().enumerate() {
        list.classes.push(
            class
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
        for path in sorted_entries(class)? {
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !hidden && (path.is_dir() || take(&path)) {
                list.samples.push(crate::Sample {
                    path,
                    num_frames: 0,
                    label,
                    listed_in: class.clone(),
                    line: 0,
                });
            }
        }
    }
    if list.samples.is_empty() {
        return Err(DataError::file(dir, "no class folders with videos"));
    }
    Ok(list)
}

/// Splits `list` per class into (train, val): in every class, `val_fraction` of its samples
/// (rounded, at least one when the class has two or more) go to val, picked by `seed`; both
/// keep the list's order.
pub fn split_by_class(list: &SampleList, val_fraction: f64, seed: u64) -> Result<(SampleList, SampleList)> {
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(DataError::InvalidOption(format!(
            "validation fraction {val_fraction}: expected a number in [0, 1)"
        )));
    }
    let mut rng = crate::Rng::new(seed);
    let mut is_val = vec![false; list.samples.len()];
    for label in 0..list.classes.len() {
        let mut idx: Vec<usize> = (0..list.samples.len())
            .filter(|&i| list.samples[i].label == label)
            .collect();
        let n = idx.len();
        let mut k = (n as f64 * val_fraction).round() as usize;
        if val_fraction > 0.0 && n >= 2 {
            k = k.clamp(1, n - 1);
        }
        rng.shuffle(&mut idx);
        for &i in &idx[..k.min(n)] {
            is_val[i] = true;
        }
    }
    let part = |val: bool| SampleList {
        samples: list
            .samples
            .iter()
            .zip(&is_val)
            .filter(|(_, &v)| v == val)
            .map(|(s, _)| s.clone())
            .collect(),
        classes: list.classes.clone(),
        missing: vec![],
    };
    Ok((part(false), part(true)))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

/// Splits one CSV line (fields may be double-quoted, `""` inside quotes is a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out
}

/// Loads a Kinetics annotation CSV. Classes are the sorted distinct labels of the file (the
/// published label order), or `classes` when given (a validation CSV against train's classes).
pub fn kinetics_csv(csv: &Path, classes: Option<&[String]>, rules: &PathRules) -> Result<SampleList> {
    let lines = read_lines(csv)?;
    let mut rows = Vec::new();
    for (line, text) in &lines {
        let f = csv_fields(text);
        if *line == lines[0].0 && f.first().map(|s| s.as_str()) == Some("label") {
            continue;
        }
        if f.len() < 4 {
            return Err(DataError::line(
                csv,
                *line,
                format!("expected `label,youtube_id,time_start,time_end,...`, got {text:?}"),
            ));
        }
        let time = |v: &str| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .ok_or_else(|| DataError::line(csv, *line, format!("time {v:?} is not a number of seconds")))
        };
        let (start, end) = (time(&f[2])?, time(&f[3])?);
        rows.push((
            *line,
            f[0].trim().to_string(),
            f[1].trim().to_string(),
            start,
            end,
        ));
    }
    let classes: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => {
            let mut c: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
            c.sort();
            c.dedup();
            c
        }
    };
    let mut list = SampleList {
        classes,
        ..Default::default()
    };
    for (line, label, id, start, end) in rows {
        let Some(k) = list.classes.iter().position(|c| *c == label) else {
            return Err(DataError::line(
                csv,
                line,
                format!("label {label:?} is not one of the classes"),
            ));
        };
        let clip = format!("{id}_{:06}_{:06}", start as u64, end as u64);
        let candidates = [
            format!("{label}/{clip}.mp4"),
            format!("{clip}.mp4"),
            format!("{label}/{id}.mp4"),
            format!("{id}.mp4"),
            format!("{label}/{clip}"),
            clip.clone(),
        ];
        let found = candidates.iter().find(|c| rules.resolve(c).is_some());
        let entry = found.cloned().unwrap_or_else(|| format!("{label}/{clip}.mp4"));
        rules.push(&mut list, &entry, 0, k, csv, line)?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::csv_fields;

    #[test]
    fn csv_quotes() {
        assert_eq!(csv_fields(r#"a,"b, c",d"#), vec!["a", "b, c", "d"]);
        assert_eq!(csv_fields(r#""say ""hi""",x"#), vec![r#"say "hi""#, "x"]);
    }
}
