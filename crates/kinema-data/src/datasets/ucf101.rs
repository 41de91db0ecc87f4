//! UCF101: `classInd.txt` (`1 ApplyEyeMakeup`), `trainlist0N.txt` (`Class/v_..avi 1`) and
//! `testlist0N.txt` (`Class/v_..avi`, label from the class folder).

use std::collections::HashMap;
use std::path::Path;

use crate::datasets::check_split;
use crate::error::{DataError, Result};
use crate::setting::{read_lines, PathRules, SampleList};

/// Loads split `split` (1-3) of UCF101: `lists` is the `ucfTrainTestlist` folder, `rules.root`
/// the folder holding the class folders of videos.
pub fn ucf101(lists: &Path, split: u32, train: bool, rules: &PathRules) -> Result<SampleList> {
    check_split(split)?;
    let class_file = lists.join("classInd.txt");
    let mut list = SampleList::default();
    let mut by_name = HashMap::new();
    for (line, text) in read_lines(&class_file)? {
        let mut f = text.split_whitespace();
        let (Some(id), Some(name), None) = (f.next(), f.next(), f.next()) else {
            return Err(DataError::line(
                &class_file,
                line,
                format!("expected `index ClassName`, got {text:?}"),
            ));
        };
        let id: usize = id
            .parse()
            .ok()
            .filter(|&i| i == list.classes.len() + 1)
            .ok_or_else(|| {
                DataError::line(
                    &class_file,
                    line,
                    format!("class index {id:?}: expected {}", list.classes.len() + 1),
                )
            })?;
        by_name.insert(name.to_string(), id - 1);
        list.classes.push(name.to_string());
    }
    let split_file = lists.join(format!(
        "{}list0{split}.txt",
        if train { "train" } else { "test" }
    ));
    for (line, text) in read_lines(&split_file)? {
        let mut f = text.split_whitespace();
        let entry = f.next().unwrap_or_default();
        let class = entry.split('/').next().unwrap_or_default();
        let label = *by_name.get(class).ok_or_else(|| {
            DataError::line(
                &split_file,
                line,
                format!("class folder {class:?} is not in classInd.txt"),
            )
        })?;
        match (f.next(), f.next()) {
            (None, None) => {}
            (Some(l), None) if l.parse::<usize>().ok() == Some(label + 1) => {}
            _ => {
                return Err(DataError::line(
                    &split_file,
                    line,
                    format!("expected `{class}/video.avi {}`, got {text:?}", label + 1),
                ))
            }
        }
        rules.push(&mut list, entry, 0, label, &split_file, line)?;
    }
    Ok(list)
}
