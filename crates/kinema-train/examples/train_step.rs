//! Times training steps (forward + backward + SGD with momentum and weight decay) of a
//! registry model on random clips, the way `kinema train` runs them; prints one JSON line.
//! The kinema half of `bench/train_step/run.sh`.
//!
//!   cargo run --release -p kinema-train --example train_step -- \
//!       --model i3d_resnet50_v1_custom --batch 2 --frames 8 --size 112 --steps 3

use std::time::Instant;

use burn::tensor::Device;
use kinema_models::{get_model, GetModelOptions};
use kinema_train::{train_step, Optimizer, OptimizerOptions};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let model = arg(&args, "--model", "r2plus1d_resnet18_custom");
    let batch: usize = arg(&args, "--batch", "2").parse()?;
    let frames: usize = arg(&args, "--frames", "8").parse()?;
    let size: usize = arg(&args, "--size", "112").parse()?;
    let steps: usize = arg(&args, "--steps", "3").parse()?;
    let warmup: usize = arg(&args, "--warmup", "1").parse()?;
    let nclass: usize = arg(&args, "--nclass", "400").parse()?;

    let dev = Device::flex().autodiff();
    dev.seed(0);
    let o = GetModelOptions {
        nclass: Some(nclass),
        ..Default::default()
    };
    let mut net = get_model(&model, &o, &dev)?;
    let mut opt = Optimizer::new(OptimizerOptions::default());
    let shape = [batch, 3, frames, size, size];
    let n: usize = shape.iter().product();
    // A fixed pseudo-random clip: the values do not change the work.
    let data: Vec<f32> = (0..n)
        .map(|i| ((i * 2654435761) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let labels: Vec<usize> = (0..batch).map(|i| i % nclass).collect();
    let factor = |_: &str| 1.0;
    let mut times = Vec::new();
    for k in 0..warmup + steps {
        let t = Instant::now();
        let s = train_step(
            net,
            &mut opt,
            (&shape, data.clone(), &labels),
            (0.01, 0.0, &factor),
            &dev,
        )?;
        net = s.net;
        if k >= warmup {
            times.push(t.elapsed().as_secs_f64());
        }
        eprintln!(
            "step {k}: loss {:.4} ({:.2} s)",
            s.loss,
            t.elapsed().as_secs_f64()
        );
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{{\"impl\":\"kinema\",\"model\":\"{model}\",\"shape\":{shape:?},\"steps\":{steps},\"median_s\":{median:.4},\"min_s\":{:.4},\"threads\":{}}}",
        times[0],
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    Ok(())
}
