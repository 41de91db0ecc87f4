//! Times training steps (forward + backward + SGD with momentum and weight decay) of a
//! registry model on random clips, the way `kinema train` runs them; prints one JSON line.
//! The kinema half of `bench/train_step/run.sh`.
//!
//!   cargo run --release -p kinema-train --example train_step -- \
//!       --model i3d_resnet50_v1_custom --batch 2 --frames 8 --size 112 --steps 3
//!
//! A TSN model (`resnet50_v1b_custom --segments 8`) takes `batch * segments` pictures.

use burn::tensor::Device;
use kinema_models::{get_model, GetModelOptions};
use kinema_train::{train_step_timed, Optimizer, OptimizerOptions};

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
    let segments: usize = arg(&args, "--segments", "1").parse()?;

    let dev = Device::flex().autodiff();
    dev.seed(0);
    let o = GetModelOptions {
        nclass: Some(nclass),
        num_segments: Some(segments),
        ..Default::default()
    };
    let mut net = get_model(&model, &o, &dev)?;
    let mut opt = Optimizer::new(OptimizerOptions::default());
    // A TSN model (2-D) takes `segments` pictures per video.
    let shape = if net.input_rank() == 4 {
        vec![batch * segments, 3, size, size]
    } else {
        vec![batch, 3, frames, size, size]
    };
    let n: usize = shape.iter().product();
    // A fixed pseudo-random clip: the values do not change the work.
    let data: Vec<f32> = (0..n)
        .map(|i| ((i * 2654435761) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let labels: Vec<usize> = (0..batch).map(|i| i % nclass).collect();
    let factor = |_: &str| 1.0;
    let mut times = Vec::new();
    // Where a step's time goes: the phases, and inside them oneDNN's convolution passes and the
    // fused BatchNorm (printed per step on stderr; the last timed step's in the JSON).
    let mut profile = serde_json::Map::new();
    for k in 0..warmup + steps {
        let conv0 = kinema_models::layers::onednn_conv_seconds();
        let bn0 = kinema_models::layers::fused_batchnorm_seconds();
        let (s, t) = train_step_timed(
            net,
            &mut opt,
            (&shape, data.clone(), &labels),
            (0.01, 0.0, &factor),
            &dev,
        )?;
        net = s.net;
        let (loss_v, total) = (s.loss, t.forward + t.backward + t.optimizer);
        if k >= warmup {
            times.push(total);
        }
        let conv1 = kinema_models::layers::onednn_conv_seconds();
        let bn1 = kinema_models::layers::fused_batchnorm_seconds();
        let p = [
            ("forward_s", t.forward),
            ("conv_forward_s", conv1.0 - conv0.0),
            ("batchnorm_forward_s", bn1.0 - bn0.0),
            ("backward_s", t.backward),
            ("conv_backward_data_s", conv1.1 - conv0.1),
            ("conv_backward_weights_s", conv1.2 - conv0.2),
            ("batchnorm_backward_s", bn1.1 - bn0.1),
            ("optimizer_s", t.optimizer),
        ];
        eprintln!(
            "step {k}: loss {loss_v:.4} ({total:.3} s: {})",
            p.iter()
                .map(|(n, v)| format!("{} {v:.3}", n.trim_end_matches("_s")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        profile = p
            .iter()
            .map(|(n, v)| (n.to_string(), serde_json::json!((v * 1e4).round() / 1e4)))
            .collect();
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    // The process's peak resident memory (the kernel's high-water mark), as PyTorch's side
    // reports it from getrusage.
    let peak_mb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0);
    println!(
        "{{\"impl\":\"kinema\",\"model\":\"{model}\",\"shape\":{shape:?},\"steps\":{steps},\"median_s\":{median:.4},\"min_s\":{:.4},\"threads\":{},\"peak_rss_mb\":{peak_mb:.1},\"profile\":{}}}",
        times[0],
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        serde_json::Value::Object(profile)
    );
    Ok(())
}
