//! Times eval-mode forward passes of a registry model on one random input; prints one JSON line.
//! The kinema half of `bench/forward/run.sh`.
//!
//!   cargo run --release -p kinema-models --example forward -- \
//!       --model i3d_resnet50_v1_kinetics400 --shape 1,3,32,224,224 --reps 3

use std::time::Instant;

use burn::tensor::Device;
use kinema_models::{get_model, GetModelOptions};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let model = arg(&args, "--model", "resnet50_v1b_kinetics400");
    let shape: Vec<usize> = arg(&args, "--shape", "7,3,224,224")
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let segments: usize = arg(&args, "--num-segments", "1").parse()?;
    let reps: usize = arg(&args, "--reps", "3").parse()?;
    let warmup: usize = arg(&args, "--warmup", "1").parse()?;
    // --no-fold: burn's separate Conv, BatchNorm and ReLU ops (what folding is measured against).
    let unfolded = args.iter().any(|a| a == "--no-fold");
    kinema_models::layers::set_batchnorm_folding(!unfolded);

    let dev = Device::flex();
    dev.seed(0);
    let o = GetModelOptions {
        nclass: Some(400),
        num_segments: Some(segments),
        ..Default::default()
    };
    let net = get_model(&model, &o, &dev)?.valid();
    let n: usize = shape.iter().product();
    // A fixed pseudo-random input: the values do not change the work.
    let data: Vec<f32> = (0..n)
        .map(|i| ((i * 2654435761) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let mut times = Vec::new();
    for k in 0..warmup + reps {
        let t = Instant::now();
        let (dims, _) = net.run(&shape, data.clone(), false, &dev)?;
        let s = t.elapsed().as_secs_f64();
        if k >= warmup {
            times.push(s * 1e3);
        }
        eprintln!("pass {k}: {dims:?} in {:.1} ms", s * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"impl\":\"kinema\",\"model\":\"{model}\",\"shape\":{shape:?},\"folded\":{},\"median_ms\":{:.1},\"min_ms\":{:.1},\"reps_ms\":{:?},\"threads\":{}}}",
        !unfolded,
        times[times.len() / 2],
        times[0],
        times.iter().map(|t| (t * 10.0).round() / 10.0).collect::<Vec<_>>(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    Ok(())
}
