//! Generates the bindings from the installed oneDNN headers (Debian's `libdnnl-dev`, 2.x, or a
//! 3.x install named by `DNNL_INCLUDE_DIR`) as a run-time-loaded library, and tells the crate
//! which major version it was built against (`cfg(dnnl_v3)`, the soname to open).

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dnnl_v3)");
    println!("cargo:rerun-if-env-changed=DNNL_INCLUDE_DIR");
    println!("cargo:rerun-if-changed=wrapper.h");
    let dirs: Vec<PathBuf> = std::env::var_os("DNNL_INCLUDE_DIR")
        .map(|d| vec![PathBuf::from(d)])
        .unwrap_or_else(|| vec!["/usr/include".into(), "/usr/local/include".into()]);
    let Some(dir) = dirs.iter().find(|d| d.join("oneapi/dnnl/dnnl.h").exists()) else {
        panic!(
            "oneDNN's headers (oneapi/dnnl/dnnl.h) are not in {dirs:?}: install them with \
             `bash scripts/install-deps.sh` (Debian's libdnnl-dev) or set DNNL_INCLUDE_DIR"
        );
    };
    let version = std::fs::read_to_string(dir.join("oneapi/dnnl/dnnl_version.h")).unwrap_or_default();
    let major: u32 = version
        .lines()
        .find_map(|l| l.strip_prefix("#define DNNL_VERSION_MAJOR "))
        .and_then(|v| v.trim().parse().ok())
        .expect("DNNL_VERSION_MAJOR in dnnl_version.h");
    if major >= 3 {
        println!("cargo:rustc-cfg=dnnl_v3");
    }
    println!("cargo:rustc-env=KINEMA_DNNL_SONAME=libdnnl.so.{major}");
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("oneapi/dnnl/dnnl.h").display()
    );

    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_arg(format!("-I{}", dir.display()))
        .allowlist_function("dnnl_.*")
        .allowlist_type("dnnl_.*")
        .allowlist_var("DNNL_.*")
        // An exported variable: a raw pointer field would make the loaded library neither Send nor Sync.
        .blocklist_item("DNNL_RUNTIME_F32_VAL_REP")
        .prepend_enum_name(false)
        .layout_tests(false)
        // The headers' comments hold C snippets that rustdoc would run as doctests.
        .generate_comments(false)
        .dynamic_library_name("DnnlLib")
        .dynamic_link_require_all(true)
        .generate()
        .expect("bindgen on oneDNN's dnnl.h");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("dnnl.rs");
    bindings.write_to_file(out).expect("write the bindings");
}
