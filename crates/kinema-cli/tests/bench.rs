//! `kinema bench`: timings as JSON, and the errors a user meets (a shape the model cannot take,
//! no threads, an unknown model, oneDNN missing at run time).

mod common;
use common::{kinema, ok};

fn fails(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = kinema();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bench_times_a_model_and_reports_the_cpu_and_isa() {
    let out = ok(kinema().args([
        "bench",
        "kinema_motion_default",
        "--reps",
        "3",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--json",
    ]));
    let last = out.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    let (median, min) = (v["median_ms"].as_f64().unwrap(), v["min_ms"].as_f64().unwrap());
    assert!(min > 0.0 && min <= median, "{v}");
    assert_eq!(v["times_ms"].as_array().unwrap().len(), 3);
    assert_eq!(v["engine"], "onednn");
    assert!(!v["isa"].as_str().unwrap().is_empty() && !v["cpu"].as_str().unwrap().is_empty());
    assert_eq!(v["shape"], serde_json::json!([1, 3, 8, 64, 64]));
    // Another shape, on a registry model with random weights, and the burn engine.
    let out = ok(kinema().args([
        "bench",
        "r3d_18_kinetics400",
        "--input-shape",
        "2,3,4,32,32",
        "--reps",
        "1",
        "--warmup",
        "0",
        "--engine",
        "burn",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(v["output_shape"], serde_json::json!([2, 400]));
}

#[test]
fn bad_settings_and_a_missing_onednn_are_named() {
    let e = fails(&["bench", "kinema_motion_default", "--threads", "0"], &[]);
    assert!(e.contains("at least 1"), "{e}");
    let e = fails(
        &["bench", "kinema_motion_default", "--input-shape", "1,3,1,64,64"],
        &[],
    );
    assert!(e.contains("at least 2 frames"), "{e}");
    let e = fails(&["bench", "kinema_motion_default", "--input-shape", "1,3,8"], &[]);
    assert!(e.contains("input shape"), "{e}");
    let e = fails(
        &[
            "bench",
            "c3d_kinetics400",
            "--input-shape",
            "1,3,16,64,64",
            "--reps",
            "1",
        ],
        &[],
    );
    assert!(e.contains("fc6") || e.contains("cannot take"), "{e}");
    let e = fails(&["bench", "i3d_resnet50_v1_kinetic400"], &[]);
    assert!(e.contains("i3d_resnet50_v1_kinetics400"), "{e}");
    let e = fails(
        &["bench", "kinema_motion_default"],
        &[("KINEMA_DNNL_LIB", "/nonexistent/libdnnl.so.2")],
    );
    assert!(
        e.contains("oneDNN") && e.contains("/nonexistent/libdnnl.so.2") && e.contains("install"),
        "{e}"
    );
}
