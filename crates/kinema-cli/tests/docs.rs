//! Every `$ kinema ...` and `$ mpirun ... kinema ...` line in a `console` block of docs/*.md
//! runs and succeeds, in a folder that holds `sample.mp4` and the files of `docs/examples/`.

use std::path::Path;
use std::process::Command;

fn commands(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_console = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            in_console = line.trim() == "```console";
            continue;
        }
        if in_console {
            let line = line.trim();
            if let Some(cmd) = line.strip_prefix("$ kinema ") {
                out.push(format!("\"$KINEMA\" {}", cmd.split(" #").next().unwrap().trim()));
            } else if let Some(cmd) = line.strip_prefix("$ mpirun ") {
                // The launcher starts the kinema under test.
                let cmd = cmd
                    .split(" #")
                    .next()
                    .unwrap()
                    .trim()
                    .replacen(" kinema ", " \"$KINEMA\" ", 1);
                out.push(format!("mpirun {cmd}"));
            }
        }
    }
    out
}

#[test]
fn docs_commands_run() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let d = tempfile::tempdir().unwrap();
    let st = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("testsrc2=size=96x64:rate=30,noise=alls=10:allf=t")
        .args(["-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "sample.mp4"])
        .current_dir(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    // Files the chapters use (configs...) are copied next to it.
    if let Ok(rd) = std::fs::read_dir(docs.join("examples")) {
        for e in rd {
            let p = e.unwrap().path();
            std::fs::copy(&p, d.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut ran = 0;
    for entry in std::fs::read_dir(&docs).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_none_or(|e| e != "md") {
            continue;
        }
        for cmd in commands(&std::fs::read_to_string(&p).unwrap()) {
            let out = Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .env("KINEMA", env!("CARGO_BIN_EXE_kinema"))
                // mpirun as root (CI), on a machine of any core count, in a container.
                .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
                .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
                .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
                .current_dir(d.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: `{cmd}` failed: {}",
                p.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 4, "only {ran} documented commands found");
}

/// docs/models.md's table is the registry's (`kinema models list --markdown`).
#[test]
fn models_table_is_generated_from_the_registry() {
    let md =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/models.md")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kinema"))
        .args(["models", "list", "--markdown"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.ends_with(&table),
        "docs/models.md is out of date: regenerate its table with `kinema models list --markdown`"
    );
}
