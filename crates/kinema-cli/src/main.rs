//! `kinema`: the command-line tool. Each verb lives in its own module.

#![forbid(unsafe_code)]

mod bench;
mod bench_decode;
mod data;
mod eval;
mod extract;
mod frames;
mod model_arg;
mod models;
mod predict;
mod probe;
mod progress;
mod synth;
mod tag;
mod train;

use clap::{Parser, Subcommand};

/// kinema: video understanding in Rust: frame-exact video reading, GluonCV's data pipeline and
/// models, training and inference.
#[derive(Parser)]
#[command(name = "kinema", version, about, long_about = None)]
struct Cli {
    /// Compute device: cpu (default, burn's Flex backend), cuda, cuda:N or wgpu (the GPU
    /// backends need a kinema built with `--features cuda` / `--features wgpu`).
    #[arg(long, global = true, default_value = "cpu")]
    device: String,
    #[command(subcommand)]
    cmd: Cmd,
}

static DEVICE: std::sync::OnceLock<burn::tensor::Device> = std::sync::OnceLock::new();
static DEVICE_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `--device` as given.
pub(crate) fn device_name() -> String {
    DEVICE_NAME.get().cloned().unwrap_or_else(|| "cpu".into())
}

/// The device `--device` picked (the CPU until `main` has set it).
pub(crate) fn device() -> burn::tensor::Device {
    DEVICE.get().cloned().unwrap_or_else(burn::tensor::Device::flex)
}

#[derive(Subcommand)]
enum Cmd {
    /// Describe a video: codec, size, frames, fps, duration, key frames.
    Probe(probe::Args),
    /// Write chosen frames as PNG files.
    Frames(frames::Args),
    /// Speak the decode benchmark's external-decoder protocol (shared/bench/decode).
    BenchDecode(bench_decode::Args),
    /// Write the synthetic action dataset (H.264 videos + setting files).
    Synth(synth::Args),
    /// Datasets: check a setting file, show a sample's frames, time the loader.
    Data(Box<data::Args>),
    /// The model zoo: list the registered models, run one on an .npy input.
    Models(models::Args),
    /// Train a model as a config file says (checkpoints, resume, logs, curves).
    Train(train::Args),
    /// Accuracy of a model on a setting file (multi-view, per class, confusion matrix).
    Eval(Box<eval::Args>),
    /// Label videos: top-k classes with scores.
    Predict(predict::Args),
    /// Label a folder of videos, or a long video over sliding windows into a timeline.
    Tag(Box<tag::Args>),
    /// Pooled features (the classifier's input) of every video to .npy, resumable.
    Extract(Box<extract::Args>),
    /// Time a model's eval forward here: median and min ms, the CPU and oneDNN's ISA.
    Bench(Box<bench::Args>),
}

fn main() -> std::process::ExitCode {
    // Output piped into `head` and closed early ends the process like any Unix tool.
    sigpipe::reset();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINEMA_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match kinema_models::device_by_name(&cli.device) {
        Ok(d) => {
            let _ = DEVICE.set(d);
            let _ = DEVICE_NAME.set(cli.device.clone());
        }
        Err(e) => {
            eprintln!("error: --device: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let r = match cli.cmd {
        Cmd::Probe(a) => probe::run(a),
        Cmd::Frames(a) => frames::run(a),
        Cmd::BenchDecode(a) => bench_decode::run(a),
        Cmd::Synth(a) => synth::run(a),
        Cmd::Data(a) => data::run(*a),
        Cmd::Models(a) => models::run(a),
        Cmd::Train(a) => train::run(a),
        Cmd::Eval(a) => eval::run(*a),
        Cmd::Predict(a) => predict::run(a),
        Cmd::Tag(a) => tag::run(*a),
        Cmd::Extract(a) => extract::run(*a),
        Cmd::Bench(a) => bench::run(*a),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Parses `WxH`.
pub(crate) fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow::anyhow!("size '{s}' is not WIDTHxHEIGHT"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| anyhow::anyhow!("size '{s}' is not WIDTHxHEIGHT"))
    };
    Ok((p(w)?, p(h)?))
}

/// Parses `0,10,20` (and ranges `5-9`).
pub(crate) fn parse_indices(s: &str) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || anyhow::anyhow!("bad frame index '{part}' (want N or A-B)");
        if let Some((a, b)) = part.split_once('-') {
            let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if b < a {
                return Err(bad());
            }
            out.extend(a..=b);
        } else {
            out.push(part.parse().map_err(|_| bad())?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_indices_parse() {
        assert_eq!(parse_size("224x112").unwrap(), (224, 112));
        assert!(parse_size("224").is_err());
        assert_eq!(parse_indices("0,10, 3-5").unwrap(), vec![0, 10, 3, 4, 5]);
        assert!(parse_indices("x").is_err());
        assert!(parse_indices("5-3").is_err());
        assert!(parse_indices("").unwrap().is_empty());
    }
}
