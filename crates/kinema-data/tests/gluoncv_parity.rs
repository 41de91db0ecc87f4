//! Frame ids and crop boxes against GluonCV's own choices, exported once by
//! `tools/gluoncv_indices.py` into `tests/data/gluoncv_reference.json`.

use kinema_data::transform::Crop;
use kinema_data::{ClipSpec, Mode, Rng};
use serde_json::Value;

fn reference() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/gluoncv_reference.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn get(p: &Value, k: &str, default: usize) -> usize {
    p.get(k).and_then(Value::as_u64).map_or(default, |v| v as usize)
}

#[test]
fn val_and_test_frame_ids_equal_gluoncv() {
    let r = reference();
    let cases = r["cases"].as_array().unwrap();
    assert!(cases.len() > 1000);
    let mut checked = 0;
    for c in cases {
        let p = &c["params"];
        let s = ClipSpec {
            num_segments: get(p, "num_segments", 1),
            new_length: get(p, "new_length", 1),
            new_step: get(p, "new_step", 1),
            temporal_jitter: false,
            slowfast: p.get("slowfast").and_then(Value::as_bool).unwrap_or(false),
            slow_temporal_stride: get(p, "slow_temporal_stride", 16),
            fast_temporal_stride: get(p, "fast_temporal_stride", 2),
            ..Default::default()
        };
        let n = c["num_frames"].as_u64().unwrap() as usize;
        let mode: Mode = c["mode"].as_str().unwrap().parse().unwrap();
        let want: Vec<usize> = c["frame_indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let got = s.frame_indices(n, mode, &mut Rng::new(0));
        assert_eq!(got, want, "{p} n={n} {mode:?}");
        assert_eq!(got.len(), s.num_segments * s.frames_per_view(), "{p}");
        checked += 1;
    }
    assert_eq!(checked, cases.len());
}

#[test]
fn crop_boxes_equal_gluoncv() {
    let r = reference();
    for c in r["crops"].as_array().unwrap() {
        let (w, h, t) = (
            get(c, "width", 0) as u32,
            get(c, "height", 0) as u32,
            get(c, "size", 0) as u32,
        );
        let crop = match c["kind"].as_str().unwrap() {
            "center" => Crop::Center,
            "three" => Crop::Three,
            "ten" => Crop::Ten,
            k => panic!("unknown kind {k}"),
        };
        let got = crop.boxes(w, h, t, t, &mut Rng::new(0)).unwrap();
        let want = c["boxes"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{c}");
        for (g, b) in got.iter().zip(want) {
            let wb = (
                get(b, "x", 0) as u32,
                get(b, "y", 0) as u32,
                b["flip"].as_bool().unwrap(),
            );
            assert_eq!((g.x, g.y, g.flip), wb, "{} {w}x{h} crop {t}", c["kind"]);
            assert_eq!((g.w, g.h), (t, t));
        }
    }
}

/// The crop resize against OpenCV's `cv2.resize` (bilinear), which GluonCV's multi-scale crop
/// uses: at most one level apart.
#[test]
fn bilinear_resize_is_within_one_level_of_opencv() {
    use kinema_data::transform::{render, CropBox, Normalize};
    let (w, h) = (37u32, 29u32);
    let img: Vec<u8> = (0..h)
        .flat_map(|y| {
            (0..w).flat_map(move |x| {
                (0..3).map(move |c| (((x * 7 + y * 13 + c * 50) % 256) ^ ((x * y) % 7 * 9)) as u8)
            })
        })
        .collect();
    let ident = Normalize {
        mean: [0.0; 3],
        std: [1.0 / 255.0; 3],
    };
    let r = reference();
    let (mut total, mut exact) = (0usize, 0usize);
    for case in r["resizes"].as_array().unwrap() {
        let (tw, th) = (get(case, "width", 0), get(case, "height", 0));
        let want: Vec<i64> = case["pixels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let plane = tw * th;
        let mut out = vec![0f32; 3 * plane];
        let full = CropBox {
            x: 0,
            y: 0,
            w,
            h,
            flip: false,
        };
        render(&img, w, h, &full, tw as u32, th as u32, &ident, &mut out, plane);
        for (i, &v) in want.iter().enumerate() {
            let (px, c) = (i / 3, i % 3);
            let got = out[c * plane + px].round() as i64;
            assert!(
                (got - v).abs() <= 1,
                "{tw}x{th} pixel {px} channel {c}: {got} vs OpenCV {v}"
            );
            total += 1;
            exact += (got == v) as usize;
        }
    }
    eprintln!("{exact} of {total} values equal OpenCV's");
    assert!(
        exact * 100 >= total * 99,
        "only {exact} of {total} values equal OpenCV's"
    );
}
