//! HMDB51: `<class>_test_split<N>.txt` per class, lines `video.avi T` with T = 1 (train),
//! 2 (test) or 0 (unused). Classes sorted by name, videos under `<root>/<class>/`.

use std::path::Path;

use crate::datasets::check_split;
use crate::error::{DataError, Result};
use crate::setting::{read_lines, PathRules, SampleList};

/// Loads split `split` (1-3) of HMDB51 from the folder of split files.
pub fn hmdb51(lists: &Path, split: u32, train: bool, rules: &PathRules) -> Result<SampleList> {
    check_split(split)?;
    let suffix = format!("_test_split{split}.txt");
    let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(lists)
        .map_err(|e| DataError::io(lists, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(&suffix).map(|c| (c.to_string(), e.path()))
        })
        .collect();
    if files.is_empty() {
        return Err(DataError::file(lists, format!("no `<class>{suffix}` files")));
    }
    files.sort();
    let want = if train { "1" } else { "2" };
    let mut list = SampleList::default();
    for (label, (class, file)) in files.iter().enumerate() {
        list.classes.push(class.clone());
        for (line, text) in read_lines(file)? {
            let mut f = text.split_whitespace();
            let (Some(video), Some(tag), None) = (f.next(), f.next(), f.next()) else {
                return Err(DataError::line(
                    file,
                    line,
                    format!("expected `video.avi 0|1|2`, got {text:?}"),
                ));
            };
            if !matches!(tag, "0" | "1" | "2") {
                return Err(DataError::line(
                    file,
                    line,
                    format!("split tag {tag:?}: expected 0, 1 or 2"),
                ));
            }
            if tag == want {
                rules.push(&mut list, &format!("{class}/{video}"), 0, label, file, line)?;
            }
        }
    }
    Ok(list)
}
