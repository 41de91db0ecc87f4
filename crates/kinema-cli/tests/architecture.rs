//! The rules of docs/architecture.md that code can check: no two files of a crate import each
//! other, and `unsafe` is forbidden wherever no FFI lives.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace's crates' source folders.
fn source_roots() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    out.push(root.join("python/src"));
    out.sort();
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A file's module path inside its crate (`lib.rs` is `[]`, `a/mod.rs` and `a.rs` are `[a]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "main" | "mod")) {
        parts.pop();
    }
    parts
}

/// The module paths a line names after `prefix` (`crate::` or `super::`).
fn paths_after(line: &str, prefix: &str) -> Vec<Vec<String>> {
    line.match_indices(prefix)
        .filter(|(i, _)| *i == 0 || !line.as_bytes()[i - 1].is_ascii_alphanumeric())
        .map(|(i, _)| {
            line[i + prefix.len()..]
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s| !s.is_empty())
                .collect()
        })
        .collect()
}

#[test]
fn no_two_files_of_a_crate_import_each_other() {
    let mut pairs = Vec::new();
    for src in source_roots() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let modules: BTreeMap<Vec<String>, PathBuf> =
            files.iter().map(|f| (module_of(&src, f), f.clone())).collect();
        // The longest module path that is a file.
        let file_of = |path: &[String]| -> Vec<String> {
            (0..=path.len())
                .rev()
                .map(|k| path[..k].to_vec())
                .find(|p| modules.contains_key(p))
                .unwrap_or_default()
        };
        let mut edges = BTreeSet::new();
        for (m, f) in &modules {
            let text = std::fs::read_to_string(f).unwrap();
            // Unit tests may reach anywhere in their file's module.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let facade = matches!(
                f.file_stem().and_then(|s| s.to_str()),
                Some("lib" | "main" | "mod")
            );
            let parent: Vec<String> = m[..m.len().saturating_sub(1)].to_vec();
            for line in code.lines().map(str::trim) {
                // A crate root or folder re-exporting its children is a facade, not an import.
                if line.starts_with("//") || (facade && line.starts_with("pub use ")) {
                    continue;
                }
                let absolute = paths_after(line, "crate::");
                let relative = paths_after(line, "super::")
                    .into_iter()
                    .map(|p| parent.iter().cloned().chain(p).collect());
                for target in absolute
                    .into_iter()
                    .chain(relative)
                    .map(|p: Vec<String>| file_of(&p))
                {
                    if &target != m {
                        edges.insert((m.clone(), target));
                    }
                }
            }
        }
        for (a, b) in &edges {
            if a < b && edges.contains(&(b.clone(), a.clone())) {
                pairs.push(format!(
                    "{}: {} <-> {}",
                    src.display(),
                    a.join("::"),
                    b.join("::")
                ));
            }
        }
    }
    assert!(
        pairs.is_empty(),
        "files that import each other:\n{}",
        pairs.join("\n")
    );
}

#[test]
fn unsafe_code_is_forbidden_outside_ffi() {
    for src in source_roots() {
        let krate = src
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let root = ["lib.rs", "main.rs"]
            .iter()
            .map(|f| src.join(f))
            .find(|p| p.exists())
            .unwrap();
        let text = std::fs::read_to_string(&root).unwrap();
        match krate.as_str() {
            // FFmpeg's and oneDNN's FFI, and Python's (pyo3's macros expand to unsafe code).
            "kinema-av" | "kinema-dnnl" => assert!(
                text.contains("#![deny(clippy::undocumented_unsafe_blocks)]"),
                "{krate}"
            ),
            "python" => {}
            _ => assert!(
                text.contains("#![forbid(unsafe_code)]"),
                "{krate}: no #![forbid(unsafe_code)]"
            ),
        }
    }
}
