//! The training loop: batches from the loader, forward on the autodiff device, label-smoothed
//! cross-entropy, backward, one optimizer step; validation each epoch; checkpoints written
//! atomically (every epoch, and every N steps when asked) so a killed run resumes to the same
//! result; logs as CSV and JSONL.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;
use kinema_data::{part_range, DataLoader, LoaderOptions, SampleList, VideoClsCustom};
use kinema_dist::{Comm, Watchdog};
use kinema_models::weights::{decode_safetensors, NamedTensor};
use kinema_models::{get_model, ClipSpec, GetModelOptions, Model, ModelCard, Net};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::optim::Optimizer;
use crate::step::train_step;
use kinema_infer::{evaluate, EvalOptions};
use kinema_plot::{curves_png, Panel, Series};

/// Latest checkpoint (model + optimizer + position), in the output folder.
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// Best model by validation top-1 (weights + card only).
pub const BEST: &str = "best.safetensors";
/// Model after the last epoch (weights + card only).
pub const FINAL: &str = "model.safetensors";

const STATE_KEY: &str = "kinema.train_state";

static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How a run starts.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Continue from `out/checkpoint.safetensors` when it exists.
    pub resume: bool,
    /// Start from these weights (fine-tuning): a kinema model file or GluonCV `.params`; the
    /// classifier is left out when its class count differs.
    pub init: Option<PathBuf>,
    /// Stop (as if killed) after this many optimizer steps of this process.
    pub max_steps: Option<usize>,
    /// Device (default CPU); an autodiff device is made from it.
    pub device: Option<Device>,
    /// The distributed job this process is a rank of (`None`: one process).
    pub comm: Option<Arc<Comm>>,
    /// Told of every step, validation batch and checkpoint, so that it can end a job that
    /// makes no progress.
    pub watchdog: Option<Arc<Watchdog>>,
}

/// Where a run's time went (this process).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunTiming {
    /// Processes in the job.
    pub ranks: usize,
    /// Micro-batches per rank.
    pub micro_batches: usize,
    /// Clips per step, all ranks together.
    pub batch: usize,
    /// Optimizer steps done by this run.
    pub steps: u64,
    /// Seconds of those steps (loading, forward, backward, all-reduce, update).
    pub step_seconds: f64,
    /// Seconds of them spent in the gradient all-reduce.
    pub allreduce_seconds: f64,
    /// Seconds of each step, in order.
    pub step_each: Vec<f64>,
    /// Seconds of each step's all-reduce, in order (distributed runs).
    pub allreduce_each: Vec<f64>,
    /// Bytes of gradient each rank all-reduces per step.
    pub allreduce_bytes: u64,
    /// All-reduce buckets per step.
    pub buckets: usize,
}

/// Where a run stands; stored in the checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Epoch being trained (0-based).
    pub epoch: usize,
    /// Batches of that epoch already done.
    pub batch: usize,
    /// Optimizer steps in all.
    pub global_step: u64,
    /// Best validation top-1 so far.
    pub best_top1: f64,
    /// Epoch of the best.
    pub best_epoch: Option<usize>,
    /// Running sums of the current epoch: loss, correct, seen.
    pub epoch_loss: f64,
    /// Correct training predictions this epoch.
    pub epoch_correct: usize,
    /// Training clips seen this epoch.
    pub epoch_seen: usize,
    /// Parts each batch was cut into (ranks x micro-batches; 0: not recorded). A run resumed
    /// with another count continues, but not to the same result: BatchNorm sees other slices.
    #[serde(default)]
    pub parts: usize,
}

/// What the progress callback gets after each step.
#[derive(Debug, Clone, Serialize)]
pub struct StepInfo {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Batch within the epoch (1-based count done).
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
    /// Loss of this batch.
    pub loss: f64,
    /// Training top-1 of the epoch so far.
    pub train_top1: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Clips per second of this step (load + compute).
    pub clips_per_s: f64,
}

/// One epoch's numbers (a line of `epochs.csv`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochInfo {
    /// Epoch (1-based in the logs, like GluonCV's).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training top-1.
    pub train_top1: f64,
    /// Validation clip top-1 (when validated).
    pub val_top1: Option<f64>,
    /// Validation top-5.
    pub val_top5: Option<f64>,
    /// Learning rate at the epoch's end.
    pub lr: f64,
    /// Seconds the epoch took.
    pub seconds: f64,
}

/// The training curves: loss, top-1 (train and validation, with validation top-5) and the
/// learning rate per epoch.
fn write_curves(path: &Path, epochs: &[EpochInfo]) -> Result<()> {
    let e = |f: &dyn Fn(&EpochInfo) -> f64| epochs.iter().map(|x| (x.epoch as f64, f(x))).collect::<Vec<_>>();
    let panel = |title: &str, y: &str, series: Vec<Series>, y_range| Panel {
        title: title.into(),
        x_label: "epoch".into(),
        y_label: y.into(),
        series,
        y_range,
    };
    let panels = [
        panel(
            "Loss",
            "loss",
            vec![Series::new("train", e(&|x| x.train_loss))],
            None,
        ),
        panel(
            "Accuracy",
            "top-1",
            vec![
                Series::new("train top-1", e(&|x| x.train_top1)),
                Series::new("val top-1", e(&|x| x.val_top1.unwrap_or(f64::NAN))),
                Series::new("val top-5", e(&|x| x.val_top5.unwrap_or(f64::NAN))),
            ],
            Some((0.0, 1.0)),
        ),
        panel("Learning rate", "lr", vec![Series::new("lr", e(&|x| x.lr))], None),
    ];
    Ok(curves_png(path, "Training curves", &panels)?)
}

/// The run's result.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// Output folder.
    pub out: PathBuf,
    /// Epochs finished.
    pub epochs: Vec<EpochInfo>,
    /// Best validation top-1 and its epoch.
    pub best_top1: f64,
    /// Epoch of the best (1-based).
    pub best_epoch: Option<usize>,
    /// False when stopped early by `max_steps`.
    pub finished: bool,
    /// Where the time went.
    pub timing: RunTiming,
}

fn class_names(c: &TrainConfig, nclass_hint: Option<usize>) -> Result<Vec<String>> {
    if let Some(p) = &c.data.classes {
        let p = c.resolve(p);
        let text = std::fs::read_to_string(&p).map_err(|e| TrainError::io(&p, e))?;
        let names: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if names.is_empty() {
            return Err(TrainError::Invalid(format!("{}: no class names", p.display())));
        }
        return Ok(names);
    }
    let n = c
        .nclass
        .or(nclass_hint)
        .ok_or_else(|| TrainError::Invalid("give nclass or data.classes (a file of class names)".into()))?;
    Ok((0..n).map(|k| format!("class_{k}")).collect())
}

fn append(path: &Path, line: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    writeln!(f, "{line}").map_err(|e| TrainError::io(path, e))
}

/// Trains as `config` says; `progress` is called after every step.
///
/// Distributed (`run.comm` of several ranks): every rank loads its contiguous share of each
/// global batch; rank 0 reads the checkpoint or initial weights and broadcasts them; gradients
/// are summed over the ranks; only rank 0 writes files.
///
/// An error on any rank of a distributed run ends the whole job (MPI_Abort, exit code 1) after
/// printing the rank and the cause: the other ranks would otherwise wait for it for ever.
pub fn train(config: &TrainConfig, run: &RunOptions, progress: &dyn Fn(&StepInfo)) -> Result<TrainSummary> {
    let r = train_ranks(config, run, progress);
    if let (Err(e), Some(comm)) = (&r, &run.comm) {
        if comm.is_distributed() {
            eprintln!(
                "kinema: rank {} of {}: error: training into {}: {e}",
                comm.rank(),
                comm.size(),
                config.out.display()
            );
            eprintln!("kinema: rank {}: aborting the job", comm.rank());
            comm.abort(1);
        }
    }
    r
}

fn train_ranks(config: &TrainConfig, run: &RunOptions, progress: &dyn Fn(&StepInfo)) -> Result<TrainSummary> {
    let single = Arc::new(Comm::single());
    let comm = run.comm.clone().unwrap_or(single);
    let root = comm.is_root();
    let watchdog = run.watchdog.clone();
    let beat = move |step: u64| {
        if let Some(w) = &watchdog {
            w.beat(step);
        }
    };
    let base_dev = run.device.clone().unwrap_or_else(Device::flex);
    let dev = base_dev.clone().autodiff();
    let out = config.resolve(&config.out);
    if root {
        std::fs::create_dir_all(&out).map_err(|e| TrainError::io(&out, e))?;
    }

    let spec = kinema_models::spec(&config.model)?;
    let classes = class_names(config, (spec.nclass > 0).then_some(spec.nclass))?;
    let nclass = config.nclass.unwrap_or(classes.len());
    if nclass != classes.len() {
        return Err(TrainError::Invalid(format!(
            "nclass {nclass} but {} class names",
            classes.len()
        )));
    }
    let train_opts = config.dataset_options(true);
    let data_root = config.resolve(&config.data.root);
    let train_ds = Arc::new(VideoClsCustom::new(
        &data_root,
        config.resolve(&config.data.train),
        train_opts.clone(),
    )?);
    if let Some(bad) = train_ds.list().samples.iter().find(|s| s.label >= nclass) {
        return Err(TrainError::Invalid(format!(
            "{}: label {} of {} is not below nclass {nclass}",
            config.data.train.display(),
            bad.label,
            bad.path.display()
        )));
    }
    // The global batch is cut into ranks x micro-batches contiguous parts; this rank loads its own.
    let micro = config.train.micro_batches.max(1);
    let parts = comm.size() * micro;
    let mine = comm.rank() * micro..(comm.rank() + 1) * micro;
    let mut loader_opts = LoaderOptions {
        batch_size: config.train.batch_size,
        shuffle: true,
        seed: config.seed,
        drop_last: train_ds.len() > config.train.batch_size,
        num_workers: config.data.num_workers,
        ..Default::default()
    };
    let smallest = DataLoader::new(train_ds.clone(), loader_opts.clone())?
        .batches(0)
        .iter()
        .map(Vec::len)
        .min()
        .unwrap_or(0);
    if smallest < parts {
        return Err(TrainError::Invalid(format!(
            "a batch of {smallest} clips cannot be cut into {} ranks x {micro} micro-batches: \
             raise train.batch_size (the global batch) or use fewer",
            comm.size()
        )));
    }
    if comm.is_distributed() {
        if config.data.skip_errors {
            return Err(TrainError::Invalid(
                "data.skip_errors cannot be used with several ranks (a left-out clip would shift \
                 every rank's share of the batch): check the data first (kinema data check \
                 --decode) or train in one process"
                    .into(),
            ));
        }
        loader_opts.parts = Some((mine.clone(), parts));
    }
    loader_opts.skip_errors = config.data.skip_errors;
    let loader = DataLoader::new(train_ds.clone(), loader_opts)?;
    let batches = loader.len();
    let card = ModelCard {
        model: config.model.clone(),
        classes: classes.clone(),
        // The card says how to feed the model at inference: no training jitter.
        input: ClipSpec {
            temporal_jitter: false,
            ..train_opts.clip.clone()
        },
    };
    let segments = spec.family.segments_in_model(config.data.clip.num_segments);

    let gm = GetModelOptions {
        nclass: Some(nclass),
        num_segments: Some(segments),
        ..Default::default()
    };
    // burn's seed is global: seed and draw the initial weights under one lock, so that runs in
    // other threads of the process cannot interleave their draws with this one's.
    let mut net = {
        let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        dev.seed(config.seed);
        base_dev.seed(config.seed);
        get_model(&config.model, &gm, &dev)?
    };
    let mut opt = Optimizer::new(config.optimizer_options());
    let mut state = TrainState::default();
    let ckpt = out.join(CHECKPOINT);
    if root {
        if run.resume && ckpt.exists() {
            let (n, o, s) = load_checkpoint(&ckpt, net, opt, &base_dev)?;
            (net, opt, state) = (n, o, s);
            tracing::info!(
                "resuming from {} at epoch {}, batch {}",
                ckpt.display(),
                state.epoch + 1,
                state.batch
            );
            if state.parts != 0 && state.parts != parts {
                tracing::warn!(
                    "the checkpoint's batches were cut into {} parts (ranks x micro-batches), this run cuts \
                     them into {parts}: it continues, but BatchNorm sees other slices than the \
                     interrupted run did",
                    state.parts
                );
            }
        } else {
            if run.resume {
                tracing::warn!(
                    "--resume: no checkpoint at {}; starting from the beginning",
                    ckpt.display()
                );
            }
            if !run.resume {
                for f in ["log.csv", "log.jsonl", "epochs.csv", "epochs.jsonl"] {
                    let _ = std::fs::remove_file(out.join(f));
                }
            }
            if let Some(init) = run.init.clone().or_else(|| config.init_source()) {
                net = crate::finetune::init_from(net, &init)?;
            }
        }
    }
    if comm.is_distributed() {
        // Rank 0's weights, optimizer state and position, on every rank: no shared file system.
        let mut bytes = if root {
            checkpoint_bytes(&net, &opt, &state, &card)?
        } else {
            Vec::new()
        };
        comm.broadcast_bytes(&mut bytes);
        if !root {
            let from = PathBuf::from(format!("<rank 0's {}>", CHECKPOINT));
            let fresh = Optimizer::new(config.optimizer_options());
            (net, opt, state) = load_checkpoint_bytes(&bytes, &from, net, fresh, &base_dev)?;
        }
    }
    state.parts = parts;
    let log_csv = out.join("log.csv");
    let epochs_csv = out.join("epochs.csv");
    if root {
        if !log_csv.exists() {
            append(&log_csv, "epoch,batch,global_step,loss,train_top1,lr,clips_per_s")?;
        }
        if !epochs_csv.exists() {
            append(
                &epochs_csv,
                "epoch,train_loss,train_top1,val_top1,val_top5,lr,seconds",
            )?;
        }
    }
    let mut epochs: Vec<EpochInfo> = if root {
        read_epochs(&out.join("epochs.jsonl"))
    } else {
        Vec::new()
    };
    let factor = crate::finetune::lr_factor(&config.train);
    let mut steps_here = 0usize;
    let mut timing = RunTiming {
        ranks: comm.size(),
        micro_batches: micro,
        batch: config.train.batch_size,
        ..Default::default()
    };
    let val_ds = match &config.data.val {
        Some(v) => Some(Arc::new(VideoClsCustom::new(
            config
                .data
                .val_root
                .as_ref()
                .map_or(data_root.clone(), |r| config.resolve(r)),
            config.resolve(v),
            config.dataset_options(false),
        )?)),
        None => None,
    };
    let val_len = val_ds.as_ref().map_or(0, |v| v.len());
    check_ranks_agree(config, &train_ds, val_len, &comm)?;
    // Checkpoints hold the ranks' averaged BatchNorm statistics; only rank 0 writes.
    let checkpoint = |net: Net, opt: &Optimizer, state: &TrainState| -> Result<Net> {
        let net = crate::step::average_batch_norm_stats(net, &comm)?;
        if root {
            save_checkpoint(&ckpt, &net, opt, state, &card)?;
        }
        beat(state.global_step);
        Ok(net)
    };
    beat(state.global_step);

    while state.epoch < config.train.epochs {
        let epoch = state.epoch;
        let t_epoch = std::time::Instant::now();
        let mut t_step = std::time::Instant::now();
        for batch in loader.epoch_from(epoch as u64, state.batch) {
            // The clip buffer moves into the input tensor: no copy, nothing to recycle.
            let kinema_data::Batch {
                data,
                shape,
                labels,
                full_len,
                ..
            } = batch.map_err(|e| TrainError::Step {
                step: state.global_step + 1,
                cause: Box::new(e.into()),
            })?;
            if full_len < parts {
                // Only with data.skip_errors (one process): too few clips of this batch decoded.
                tracing::warn!(
                    "batch {} of epoch {}: {full_len} clips decoded, fewer than its {parts} parts: left out",
                    state.batch + 1,
                    epoch + 1,
                );
                state.batch += 1;
                continue;
            }
            let lr = config.lr_at(epoch as f64 + state.batch as f64 / batches.max(1) as f64);
            let step = if parts == 1 {
                let mut shape = shape;
                let (b, views) = (shape[0], shape[1]);
                shape.splice(0..2, [b * views]);
                train_step(
                    net,
                    &mut opt,
                    (&shape, data, &labels),
                    (lr, config.train.label_smoothing, &factor),
                    &dev,
                )
                .map_err(|e| TrainError::Step {
                    step: state.global_step + 1,
                    cause: Box::new(e),
                })?
            } else {
                let my_parts = split_parts(&shape, data, &labels, full_len, mine.clone(), parts);
                let s = crate::step::step_parts(
                    net,
                    &mut opt,
                    my_parts,
                    full_len,
                    (lr, config.train.label_smoothing, &factor),
                    &comm,
                    &dev,
                )
                .map_err(|e| TrainError::Step {
                    step: state.global_step + 1,
                    cause: Box::new(e),
                })?;
                if let Some(r) = s.reduce {
                    timing.allreduce_seconds += r.seconds;
                    timing.allreduce_each.push(r.seconds);
                    timing.allreduce_bytes = r.bytes;
                    timing.buckets = r.buckets;
                }
                s.step
            };
            let loss_v = step.loss;
            if !loss_v.is_finite() {
                return Err(TrainError::Diverged {
                    loss: loss_v,
                    epoch: epoch + 1,
                    step: state.batch + 1,
                });
            }
            let correct = step.correct;
            net = step.net;
            state.batch += 1;
            state.global_step += 1;
            state.epoch_loss += loss_v * full_len as f64;
            state.epoch_correct += correct;
            state.epoch_seen += full_len;
            steps_here += 1;
            timing.steps += 1;
            let seconds = t_step.elapsed().as_secs_f64();
            timing.step_seconds += seconds;
            timing.step_each.push(seconds);
            beat(state.global_step);
            let info = StepInfo {
                epoch,
                batch: state.batch,
                batches,
                loss: loss_v,
                train_top1: state.epoch_correct as f64 / state.epoch_seen.max(1) as f64,
                lr,
                clips_per_s: full_len as f64 / seconds.max(1e-9),
            };
            if root && (state.batch % config.train.log_interval.max(1) == 0 || state.batch == batches) {
                append(
                    &log_csv,
                    &format!(
                        "{},{},{},{:.6},{:.4},{:.6},{:.2}",
                        epoch + 1,
                        info.batch,
                        state.global_step,
                        info.loss,
                        info.train_top1,
                        lr,
                        info.clips_per_s
                    ),
                )?;
                append(
                    &out.join("log.jsonl"),
                    &serde_json::to_string(&info).unwrap_or_default(),
                )?;
            }
            progress(&info);
            let every = config.train.checkpoint_every;
            if every > 0 && state.global_step % every as u64 == 0 && state.batch < batches {
                net = checkpoint(net, &opt, &state)?;
            }
            if run.max_steps.is_some_and(|m| steps_here >= m) {
                checkpoint(net, &opt, &state)?;
                return Ok(TrainSummary {
                    out,
                    best_top1: state.best_top1,
                    best_epoch: state.best_epoch.map(|e| e + 1),
                    epochs,
                    finished: false,
                    timing,
                });
            }
            // The next step's time is its loading and compute, not this one's logs and checkpoint.
            t_step = std::time::Instant::now();
        }
        if loader.skipped() > 0 {
            tracing::warn!(
                "{} training clips left out so far: their videos failed to decode (data.skip_errors)",
                loader.skipped()
            );
        }
        // End of epoch: the ranks' BatchNorm statistics averaged, validate, log, checkpoint.
        net = crate::step::average_batch_norm_stats(net, &comm)?;
        let (mut val_top1, mut val_top5) = (None, None);
        let interval = config.train.val_interval;
        if let Some(v) = &val_ds {
            if interval > 0 && ((epoch + 1) % interval == 0 || epoch + 1 == config.train.epochs) {
                let (top1, top5) = validate(&net, &card, v, config, segments, &comm, &base_dev, &|| {
                    beat(state.global_step)
                })?;
                val_top1 = Some(top1);
                val_top5 = Some(top5);
                if top1 > state.best_top1 || state.best_epoch.is_none() {
                    state.best_top1 = top1;
                    state.best_epoch = Some(epoch);
                    if root {
                        net.save_safetensors(&out.join(BEST), &card.to_metadata())?;
                    }
                }
            }
        }
        if comm.is_distributed() {
            let hashes = comm.all_gather_u64(crate::step::weight_hash(&net)?);
            if hashes.iter().any(|h| *h != hashes[0]) {
                return Err(TrainError::RanksDiverged {
                    epoch: epoch + 1,
                    hashes,
                });
            }
        }
        let e = EpochInfo {
            epoch: epoch + 1,
            train_loss: state.epoch_loss / state.epoch_seen.max(1) as f64,
            train_top1: state.epoch_correct as f64 / state.epoch_seen.max(1) as f64,
            val_top1,
            val_top5,
            lr: config.lr_at((epoch + 1) as f64),
            seconds: t_epoch.elapsed().as_secs_f64(),
        };
        let opt_s = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
        if root {
            append(
                &epochs_csv,
                &format!(
                    "{},{:.6},{:.4},{},{},{:.6},{:.1}",
                    e.epoch,
                    e.train_loss,
                    e.train_top1,
                    opt_s(e.val_top1),
                    opt_s(e.val_top5),
                    e.lr,
                    e.seconds
                ),
            )?;
            append(
                &out.join("epochs.jsonl"),
                &serde_json::to_string(&e).unwrap_or_default(),
            )?;
            tracing::info!(
                "epoch {}: loss {:.4}, train top-1 {:.3}, val top-1 {}",
                e.epoch,
                e.train_loss,
                e.train_top1,
                opt_s(e.val_top1)
            );
        }
        epochs.push(e);
        state.epoch += 1;
        state.batch = 0;
        state.epoch_loss = 0.0;
        state.epoch_correct = 0;
        state.epoch_seen = 0;
        net = checkpoint(net, &opt, &state)?;
        if root {
            write_curves(&out.join("curves.png"), &epochs)?;
        }
    }
    if root {
        net.save_safetensors(&out.join(FINAL), &card.to_metadata())?;
    }
    Ok(TrainSummary {
        out,
        best_top1: state.best_top1,
        best_epoch: state.best_epoch.map(|e| e + 1),
        epochs,
        finished: true,
        timing,
    })
}

/// Every rank must train the same model on the same list with the same settings, or the
/// gradients they sum do not belong together (and collectives of different sizes may hang): a
/// hash of the config's training-relevant values and of the training list, compared with rank 0's.
fn check_ranks_agree(config: &TrainConfig, ds: &VideoClsCustom, val: usize, comm: &Comm) -> Result<()> {
    if !comm.is_distributed() {
        return Ok(());
    }
    let mut h = crate::step::Fnv::default();
    let mut eat = |bytes: &[u8]| h.eat(bytes.iter().map(|&b| u64::from(b)));
    eat(format!(
        "{:?}",
        (
            &config.model,
            config.seed,
            config.nclass,
            &config.train,
            &config.data.clip,
            val
        )
    )
    .as_bytes());
    for s in &ds.list().samples {
        eat(s
            .path
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default());
        eat(&s.label.to_le_bytes());
    }
    let all = comm.all_gather_u64(h.0);
    if let Some(r) = all.iter().position(|x| *x != all[0]) {
        return Err(TrainError::Invalid(format!(
            "rank {r}'s config or training list differs from rank 0's (model, seed, [train], clip \
             parameters, or the samples and labels of the list): every rank must read the same"
        )));
    }
    Ok(())
}

/// This rank's parts (`mine` of `parts` cut from a global batch of `full` clips) of the batch it
/// loaded (`shape` `[n, views, ...]`, its clips being exactly those parts), as model inputs.
fn split_parts<'a>(
    shape: &[usize],
    data: Vec<f32>,
    labels: &'a [usize],
    full: usize,
    mine: std::ops::Range<usize>,
    parts: usize,
) -> Vec<crate::step::Part<'a>> {
    let per_clip = data.len() / labels.len().max(1);
    let views = shape[1];
    let offset = part_range(full, mine.start, parts).start;
    mine.map(|j| {
        let r = part_range(full, j, parts);
        let (a, b) = (r.start - offset, r.end - offset);
        let mut s = shape.to_vec();
        s.splice(0..2, [(b - a) * views]);
        crate::step::Part {
            shape: s,
            data: data[a * per_clip..b * per_clip].to_vec(),
            labels: &labels[a..b],
        }
    })
    .collect()
}

/// Validation top-1 and top-5 over clips; distributed, each rank scores its contiguous share of
/// the samples and the counts are summed.
#[allow(clippy::too_many_arguments)]
fn validate(
    net: &Net,
    card: &ModelCard,
    ds: &Arc<VideoClsCustom>,
    config: &TrainConfig,
    segments: usize,
    comm: &Comm,
    dev: &Device,
    beat: &(dyn Fn() + Sync),
) -> Result<(f64, f64)> {
    let opts = EvalOptions {
        // Each rank's share of the global batch, as in training.
        batch_size: config.train.batch_size.div_ceil(comm.size()),
        num_workers: config.data.num_workers,
        segments_in_model: segments,
    };
    let model = Model::new(net.valid(), card.clone());
    let share = if comm.is_distributed() {
        let r = part_range(ds.len(), comm.rank(), comm.size());
        let list = SampleList {
            samples: ds.list().samples[r].to_vec(),
            ..ds.list().clone()
        };
        (!list.samples.is_empty())
            .then(|| VideoClsCustom::from_list(list, ds.options().clone()))
            .transpose()?
            .map(Arc::new)
    } else {
        Some(ds.clone())
    };
    let mut counts = [0f64; 3];
    if let Some(share) = share {
        let r = evaluate(&model, share, &opts, dev, &|_, _| beat())?;
        let clips = r.num_clips as f64;
        counts = [
            (r.clip_top1 * clips).round(),
            (r.clip_top5 * clips).round(),
            clips,
        ];
    }
    comm.all_reduce_sum_f64(&mut counts);
    let clips = counts[2].max(1.0);
    Ok((counts[0] / clips, counts[1] / clips))
}

fn read_epochs(path: &Path) -> Vec<EpochInfo> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
        .unwrap_or_default()
}

/// Writes model weights (`model.` prefix), optimizer state (`optim.`), the card and the run
/// position into one safetensors file, atomically.
pub fn save_checkpoint(
    path: &Path,
    net: &Net,
    opt: &Optimizer,
    state: &TrainState,
    card: &ModelCard,
) -> Result<()> {
    let bytes = checkpoint_bytes(net, opt, state, card)?;
    Ok(kinema_data::write_atomic(path, &bytes)?)
}

/// A checkpoint as [`save_checkpoint`] writes it, in memory (what rank 0 broadcasts).
pub fn checkpoint_bytes(net: &Net, opt: &Optimizer, state: &TrainState, card: &ModelCard) -> Result<Vec<u8>> {
    let mut tensors: Vec<NamedTensor> = net
        .tensors()?
        .into_iter()
        .map(|mut t| {
            t.name = format!("model.{}", t.name);
            t
        })
        .collect();
    for mut t in opt.state_tensors()? {
        t.name = format!("optim.{}", t.name);
        tensors.push(t);
    }
    let mut meta = card.to_metadata();
    let mut s = serde_json::to_value(state).unwrap_or_default();
    s["optimizer_steps"] = opt.steps.into();
    meta.insert(STATE_KEY.into(), s.to_string());
    Ok(kinema_models::weights::encode_safetensors(&tensors, &meta)?)
}

/// Reads a checkpoint back into a freshly built `net` and `opt`.
pub fn load_checkpoint(
    path: &Path,
    net: Net,
    opt: Optimizer,
    dev: &Device,
) -> Result<(Net, Optimizer, TrainState)> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    load_checkpoint_bytes(&bytes, path, net, opt, dev)
}

/// Reads a checkpoint held in memory (`path` names it in errors) into a freshly built `net` and
/// `opt`.
pub fn load_checkpoint_bytes(
    bytes: &[u8],
    path: &Path,
    net: Net,
    mut opt: Optimizer,
    dev: &Device,
) -> Result<(Net, Optimizer, TrainState)> {
    let bad = |reason: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let (tensors, meta) = decode_safetensors(bytes, path)?;
    let s = meta
        .get(STATE_KEY)
        .ok_or_else(|| bad("no training state: not a checkpoint (use --init for weights)".into()))?;
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| bad(e.to_string()))?;
    let state: TrainState = serde_json::from_value(v.clone()).map_err(|e| bad(e.to_string()))?;
    opt.steps = v["optimizer_steps"].as_u64().unwrap_or(state.global_step);
    let (mut model, mut optim) = (Vec::new(), Vec::new());
    for mut t in tensors {
        if let Some(n) = t.name.strip_prefix("model.") {
            t.name = n.to_string();
            model.push(t);
        } else if let Some(n) = t.name.strip_prefix("optim.") {
            t.name = n.to_string();
            optim.push(t);
        } else {
            return Err(bad(format!("entry {} is neither model. nor optim.", t.name)));
        }
    }
    let net = net.load_tensors(model, path)?;
    opt.load_state(optim, dev)?;
    Ok((net, opt, state))
}
