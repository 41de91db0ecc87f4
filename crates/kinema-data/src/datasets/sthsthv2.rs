//! Something-Something-V2: `something-something-v2-labels.json` (`{"Template": "k"}`) and the
//! train/validation JSON lists (`[{"id": "78687", "template": "Holding [something] ..."}]`);
//! each id is `<root>/<id>.webm` or a frame folder `<root>/<id>/`.

use std::path::Path;

use serde_json::Value;

use crate::error::{DataError, Result};
use crate::setting::{PathRules, SampleList};

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| DataError::line(path, e.line(), format!("bad JSON: {e}")))
}

/// Loads one SSv2 list (`something-something-v2-train.json` or `-validation.json`) with the
/// labels file; the label of an entry is its template with the brackets removed.
pub fn sthsthv2(labels: &Path, list_file: &Path, rules: &PathRules) -> Result<SampleList> {
    let Value::Object(map) = read_json(labels)? else {
        return Err(DataError::file(
            labels,
            "expected an object {\"template\": \"index\"}",
        ));
    };
    let mut classes = vec![String::new(); map.len()];
    for (name, v) in &map {
        let k = v
            .as_str()
            .and_then(|s| s.parse::<usize>().ok())
            .or_else(|| v.as_u64().map(|k| k as usize))
            .filter(|&k| k < classes.len() && classes[k].is_empty())
            .ok_or_else(|| {
                DataError::file(
                    labels,
                    format!(
                        "class {name:?}: index {v} is not a free index below {}",
                        map.len()
                    ),
                )
            })?;
        classes[k] = name.clone();
    }
    let Value::Array(items) = read_json(list_file)? else {
        return Err(DataError::file(
            list_file,
            "expected a list of {\"id\", \"template\"} objects",
        ));
    };
    let mut list = SampleList {
        classes,
        ..Default::default()
    };
    let rules = PathRules {
        video_ext: if rules.video_ext == "mp4" {
            "webm".into()
        } else {
            rules.video_ext.clone()
        },
        ..rules.clone()
    };
    for (k, item) in items.iter().enumerate() {
        let entry = k + 1;
        let id = match item.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(DataError::file(list_file, format!("entry {entry}: no \"id\""))),
        };
        let template = item
            .get("template")
            .and_then(Value::as_str)
            .ok_or_else(|| DataError::file(list_file, format!("entry {entry} (id {id}): no \"template\"")))?
            .replace(['[', ']'], "");
        let label = list.classes.iter().position(|c| *c == template).ok_or_else(|| {
            DataError::file(
                list_file,
                format!(
                    "entry {entry} (id {id}): template {template:?} is not in {}",
                    labels.display()
                ),
            )
        })?;
        rules.push(&mut list, &id, 0, label, list_file, entry)?;
    }
    Ok(list)
}
