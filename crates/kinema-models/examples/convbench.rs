//! Times kinema's eval-mode kernels alone on I3D-R50's shapes (one conv or pool per line;
//! best of 5 calls, 2 GFLOP per MAC pair). `KEEP=1` keeps every output alive, so each call
//! writes fresh memory as it does inside a network. A name prefix as the argument runs only the
//! matching cases (`pool` runs the pools).
//!
//! `cargo run --release -p kinema-models --example convbench [PREFIX]`

use kinema_models::kernels::conv::{conv3d, ConvGeom, Epilogue};
use std::time::Instant;
/// (name, input [n, c, t, h, w], output channels, kernel, stride, padding).
type Case = (
    &'static str,
    [usize; 5],
    usize,
    [usize; 3],
    [usize; 3],
    [usize; 3],
);

fn main() {
    // I3D-R50's shapes.
    let table: [Case; 12] = [
        (
            "stem 5x7x7 s2",
            [1, 3, 32, 224, 224],
            64,
            [5, 7, 7],
            [2, 2, 2],
            [2, 3, 3],
        ),
        (
            "l1 1x1 64-64",
            [1, 64, 8, 56, 56],
            64,
            [1, 1, 1],
            [1, 1, 1],
            [0, 0, 0],
        ),
        (
            "l1 3x1x1 64-64",
            [1, 64, 8, 56, 56],
            64,
            [3, 1, 1],
            [1, 1, 1],
            [1, 0, 0],
        ),
        (
            "l1 1x3x3 64-64",
            [1, 64, 8, 56, 56],
            64,
            [1, 3, 3],
            [1, 1, 1],
            [0, 1, 1],
        ),
        (
            "l1 1x1 64-256",
            [1, 64, 8, 56, 56],
            256,
            [1, 1, 1],
            [1, 1, 1],
            [0, 0, 0],
        ),
        (
            "l1 1x1 256-64",
            [1, 256, 8, 56, 56],
            64,
            [1, 1, 1],
            [1, 1, 1],
            [0, 0, 0],
        ),
        (
            "l2 1x1 512-128",
            [1, 512, 4, 28, 28],
            128,
            [1, 1, 1],
            [1, 1, 1],
            [0, 0, 0],
        ),
        (
            "l2 1x3x3 128-128",
            [1, 128, 4, 28, 28],
            128,
            [1, 3, 3],
            [1, 1, 1],
            [0, 1, 1],
        ),
        (
            "l3 1x1 1024-256",
            [1, 1024, 4, 14, 14],
            256,
            [1, 1, 1],
            [1, 1, 1],
            [0, 0, 0],
        ),
        (
            "l3 1x3x3 256-256",
            [1, 256, 4, 14, 14],
            256,
            [1, 3, 3],
            [1, 1, 1],
            [0, 1, 1],
        ),
        (
            "l3 3x1x1 1024-256",
            [1, 1024, 4, 14, 14],
            256,
            [3, 1, 1],
            [1, 1, 1],
            [1, 0, 0],
        ),
        (
            "l4 1x1 512-2048",
            [1, 512, 2, 7, 7],
            2048,
            [1, 1, 1],
            [1, 1, 1],
            [0, 0, 0],
        ),
    ];
    let cases = table.map(|(name, x, cout, kernel, stride, pad)| {
        let g = ConvGeom {
            kernel,
            stride,
            pad_begin: pad,
            pad_end: pad,
        };
        (name, x, cout, g)
    });
    let only = std::env::args().nth(1);
    if only.as_deref() == Some("pool") {
        let shape = [1, 64, 16, 112, 112];
        let x: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| ((i * 7919) % 1000) as f32)
            .collect();
        for (k, s, p) in [
            ([1, 3, 3], [2, 2, 2], [0, 1, 1]),
            ([2, 1, 1], [2, 1, 1], [0, 0, 0]),
        ] {
            let mut best = f64::MAX;
            for _ in 0..10 {
                let t = Instant::now();
                let r = kinema_models::kernels::pool::max_pool3d(&x, shape, k, s, p, false);
                std::hint::black_box(&r);
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!("pool {k:?}: {:.2} ms", best * 1e3);
        }
        return;
    }
    for (name, s, cout, g) in cases {
        if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        let [n, cin, d, h, w] = s;
        let x: Vec<f32> = (0..n * cin * d * h * w)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let taps = g.kernel.iter().product::<usize>();
        let wt: Vec<f32> = (0..cout * cin * taps)
            .map(|i| ((i * 31) % 100) as f32 / 100.0)
            .collect();
        let o = g.output([d, h, w]).unwrap();
        let macs = (n * cout * cin * taps * o.iter().product::<usize>()) as f64;
        let ep = Epilogue {
            relu: true,
            ..Default::default()
        };
        let _ = conv3d(&x, s, &wt, cout, &g, &ep);
        let mut best = f64::MAX;
        let mut keep = Vec::new();
        let mut all = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let r = conv3d(&x, s, &wt, cout, &g, &ep);
            let e = t.elapsed().as_secs_f64();
            all.push(format!("{:.1}", e * 1e3));
            if std::env::var_os("KEEP").is_some() {
                keep.push(r);
            } else {
                std::hint::black_box(&r);
            }
            best = best.min(e);
        }
        eprintln!("  {all:?}");
        println!(
            "{name}: {:.1} ms, {:.1} GFLOP/s",
            best * 1e3,
            2.0 * macs / best / 1e9
        );
    }
}
