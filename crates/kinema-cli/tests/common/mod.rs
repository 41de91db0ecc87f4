//! Helpers of the CLI's integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

pub fn kinema() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kinema"))
}

pub fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `kinema synth` into `dir/name`: sizes and frame counts as (min, max).
pub fn synth(
    dir: &Path,
    name: &str,
    classes: &str,
    per_class: &str,
    seed: &str,
    sizes: (&str, &str),
    frames: (&str, &str),
) {
    ok(kinema()
        .args(["synth", "--out"])
        .arg(dir.join(name))
        .args([
            "--classes",
            classes,
            "--videos-per-class",
            per_class,
            "--val-per-class",
            "2",
        ])
        .args(["--seed", seed, "--min-size", sizes.0, "--max-size", sizes.1])
        .args(["--min-frames", frames.0, "--max-frames", frames.1]));
}
