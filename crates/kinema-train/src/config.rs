//! The training config (`kinema train CONFIG.toml`): GluonCV's `train_recognizer.py` options as
//! a TOML file. Unknown keys are errors (a typo must not silently fall back to a default).
//! Relative paths are resolved against the config file's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kinema_data::{ClipSpec, DatasetOptions, ResizeMode};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::optim::{OptimizerKind, OptimizerOptions};

/// A whole training run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Registry model name (`_custom` names need `nclass`).
    pub model: String,
    /// Classes (default: the lines of `data.classes`, else the model's own count).
    #[serde(default)]
    pub nclass: Option<usize>,
    /// Output folder: checkpoints, logs, curves.
    #[serde(default = "default_out")]
    pub out: PathBuf,
    /// Seed of the weight init, the shuffle and every augmentation.
    #[serde(default)]
    pub seed: u64,
    /// Weights to start from (fine-tuning): a file (relative to the config's folder) or the
    /// registry name of a model with weights; `--init` overrides it.
    #[serde(default)]
    pub init: Option<String>,
    /// Data.
    pub data: DataConfig,
    /// Optimisation.
    #[serde(default)]
    pub train: TrainSection,
    /// Where the config came from (not in the file).
    #[serde(skip)]
    pub base: PathBuf,
}

fn default_out() -> PathBuf {
    PathBuf::from("runs/train")
}

/// The `[data]` section: setting files and GluonCV's clip parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataConfig {
    /// Folder the setting files' paths are relative to.
    pub root: PathBuf,
    /// Training setting file.
    pub train: PathBuf,
    /// Validation setting file (optional).
    #[serde(default)]
    pub val: Option<PathBuf>,
    /// Folder the validation setting file's paths are relative to (GluonCV's
    /// `--val-data-dir`; default `root`).
    #[serde(default)]
    pub val_root: Option<PathBuf>,
    /// Class names, one per line (label k = line k).
    #[serde(default)]
    pub classes: Option<PathBuf>,
    /// GluonCV's clip parameters (`num_segments`, `new_length`, `new_step`, `new_width`,
    /// `new_height`, `input_size` or `target_width`/`target_height`, `temporal_jitter`,
    /// `slowfast`, `slow_temporal_stride`, `fast_temporal_stride`, `mean`, `std`), keys of
    /// this section like the others.
    #[serde(flatten)]
    pub clip: ClipSpec,
    /// Random horizontal flips in training.
    #[serde(default = "yes")]
    pub flip: bool,
    /// Scales of the training crop (GluonCV's `--scale-ratios`; default 1, .875, .75, .66).
    #[serde(default)]
    pub scale_ratios: Option<Vec<f64>>,
    /// Loader worker threads.
    #[serde(default = "s2")]
    pub num_workers: usize,
    /// Leave out training clips whose video fails to decode (each named in a warning, the
    /// count in the epoch log) instead of stopping the run. Off by default: a damaged video
    /// stops training with its name and frame.
    #[serde(default)]
    pub skip_errors: bool,
    /// Keys no field takes: an error after parsing (serde cannot deny unknown keys next to a
    /// flattened table itself).
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, toml::Value>,
}

/// The `[train]` section (every key optional).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    /// Epochs.
    pub epochs: usize,
    /// Clips per step: the global batch, shared among the ranks of a distributed run.
    pub batch_size: usize,
    /// Split each batch into this many slices, each forwarded on its own (BatchNorm statistics
    /// per slice) with the gradients summed: gradient accumulation for little memory, and what
    /// `mpirun -np k` computes (so one process with `micro_batches = k` gives its weights).
    pub micro_batches: usize,
    /// `sgd` or `adamw`.
    pub optimizer: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// SGD momentum (AdamW's beta1).
    pub momentum: f64,
    /// Weight decay.
    pub wd: f64,
    /// No weight decay on BatchNorm parameters and biases.
    pub no_wd: bool,
    /// `step`, `cosine` or `constant`.
    pub lr_mode: LrMode,
    /// Step schedule: multiply by `lr_decay` at each of these epochs.
    pub lr_decay_epoch: Vec<usize>,
    /// Step schedule factor.
    pub lr_decay: f64,
    /// Linear warm-up from `warmup_lr` over this many epochs.
    pub warmup_epochs: usize,
    /// Learning rate at the start of the warm-up.
    pub warmup_lr: f64,
    /// Label smoothing epsilon.
    pub label_smoothing: f64,
    /// Clip the global gradient norm (0: off; GluonCV's `clip_grad`).
    pub clip_grad: f64,
    /// Also checkpoint every this many steps (0: only at the end of each epoch).
    pub checkpoint_every: usize,
    /// Validate every this many epochs (0: never).
    pub val_interval: usize,
    /// Fine-tuning: freeze everything but the classifier.
    pub freeze_backbone: bool,
    /// Fine-tuning: learning-rate factor of the backbone (1: same as the classifier).
    pub backbone_lr_mult: f64,
    /// Log every this many steps.
    pub log_interval: usize,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection {
            epochs: 10,
            batch_size: 8,
            micro_batches: 1,
            optimizer: OptimizerKind::Sgd,
            lr: 0.01,
            momentum: 0.9,
            wd: 1e-4,
            no_wd: false,
            lr_mode: LrMode::Step,
            lr_decay_epoch: vec![],
            lr_decay: 0.1,
            warmup_epochs: 0,
            warmup_lr: 0.0,
            label_smoothing: 0.0,
            clip_grad: 0.0,
            checkpoint_every: 0,
            val_interval: 1,
            freeze_backbone: false,
            backbone_lr_mult: 1.0,
            log_interval: 10,
        }
    }
}

/// Learning-rate schedules (GluonCV's `lr_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrMode {
    /// Multiply by `lr_decay` at each `lr_decay_epoch`.
    Step,
    /// Half a cosine from `lr` down to 0.
    Cosine,
    /// `lr` throughout (after the warm-up).
    Constant,
}

fn s2() -> usize {
    2
}
fn yes() -> bool {
    true
}

impl TrainConfig {
    /// Reads and checks a config file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        TrainConfig::parse(&text, &base).map_err(|reason| TrainError::Config {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses config text; `base` is the folder relative paths start from.
    pub fn parse(text: &str, base: &Path) -> std::result::Result<TrainConfig, String> {
        let mut c: TrainConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.base = base.to_path_buf();
        c.validate()?;
        Ok(c)
    }

    /// Checks the values again (after a command line changed some).
    pub fn check(&self) -> Result<()> {
        self.validate().map_err(TrainError::Invalid)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let t = &self.train;
        if t.epochs == 0 || t.batch_size == 0 {
            return Err("train.epochs and train.batch_size must be at least 1".into());
        }
        if t.micro_batches == 0 || t.micro_batches > t.batch_size {
            return Err(format!(
                "train.micro_batches {}: must be in 1..={} (train.batch_size)",
                t.micro_batches, t.batch_size
            ));
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(format!("train.lr {}: must be positive", t.lr));
        }
        if !(0.0..1.0).contains(&t.label_smoothing) {
            return Err(format!(
                "train.label_smoothing {}: must be in [0, 1)",
                t.label_smoothing
            ));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return Err(format!("train.momentum {}: must be in [0, 1)", t.momentum));
        }
        if t.wd < 0.0 || t.clip_grad < 0.0 || t.backbone_lr_mult < 0.0 {
            return Err("train.wd, train.clip_grad and train.backbone_lr_mult must not be negative".into());
        }
        if let Some(k) = self.data.unknown.keys().next() {
            return Err(format!("[data]: unknown key `{k}`"));
        }
        self.data.clip.validate().map_err(|e| format!("[data]: {e}"))?;
        if self.nclass == Some(0) {
            return Err("nclass must be at least 1".into());
        }
        Ok(())
    }

    /// `p` resolved against the config's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// Where `init` points: a file next to the config if there is one, else the name as given
    /// (a registry name, or a path that the loader reports missing).
    pub fn init_source(&self) -> Option<PathBuf> {
        self.init.as_ref().map(|i| {
            let p = self.resolve(Path::new(i));
            if p.exists() {
                p
            } else {
                PathBuf::from(i)
            }
        })
    }

    /// The dataset options of the training (`train`) or validation split.
    pub fn dataset_options(&self, train: bool) -> DatasetOptions {
        let d = &self.data;
        let mut o = DatasetOptions {
            train,
            clip: d.clip.clone(),
            seed: self.seed,
            flip: d.flip,
            resize: ResizeMode::Auto,
            ..Default::default()
        };
        o.clip.temporal_jitter &= train;
        if let Some(r) = &d.scale_ratios {
            o.scale_ratios.clone_from(r);
        }
        o
    }

    /// The optimizer settings.
    pub fn optimizer_options(&self) -> OptimizerOptions {
        let t = &self.train;
        OptimizerOptions {
            kind: t.optimizer,
            momentum: t.momentum,
            wd: t.wd,
            no_wd_1d: t.no_wd,
            clip_grad_norm: t.clip_grad,
            ..Default::default()
        }
    }

    /// Learning rate at fractional epoch `e` (GluonCV's `LRSequential`: linear warm-up, then
    /// the schedule over the remaining epochs).
    pub fn lr_at(&self, e: f64) -> f64 {
        let t = &self.train;
        let warm = t.warmup_epochs as f64;
        if e < warm {
            return t.warmup_lr + (t.lr - t.warmup_lr) * e / warm;
        }
        match t.lr_mode {
            LrMode::Constant => t.lr,
            LrMode::Step => {
                let passed = t.lr_decay_epoch.iter().filter(|&&d| e >= d as f64).count();
                t.lr * t.lr_decay.powi(passed as i32)
            }
            LrMode::Cosine => {
                let span = (t.epochs as f64 - warm).max(1e-9);
                let p = ((e - warm) / span).clamp(0.0, 1.0);
                t.lr * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "model = \"r2plus1d_resnet18_custom\"\n[data]\nroot = \"d\"\ntrain = \"d/train.txt\"\n";

    #[test]
    fn parses_with_defaults_and_resolves_paths() {
        let c = TrainConfig::parse(MIN, Path::new("/cfg")).unwrap();
        assert_eq!(c.train.epochs, 10);
        assert_eq!(c.resolve(&c.data.train), PathBuf::from("/cfg/d/train.txt"));
        assert_eq!(c.dataset_options(true).clip.target_width, 224);
    }

    #[test]
    fn typos_and_bad_values_are_errors_with_their_line() {
        let e = TrainConfig::parse(&format!("{MIN}[train]\nepochz = 3\n"), Path::new("")).unwrap_err();
        assert!(e.contains("epochz") && e.contains("line 6"), "{e}");
        let e = TrainConfig::parse(&format!("{MIN}[train]\nlr = -1.0\n"), Path::new("")).unwrap_err();
        assert!(e.contains("train.lr"), "{e}");
        let e = TrainConfig::parse(&format!("{MIN}new_lenght = 3\n"), Path::new("")).unwrap_err();
        assert!(e.contains("[data]") && e.contains("new_lenght"), "{e}");
        let e = TrainConfig::parse(&format!("{MIN}new_step = 0\n"), Path::new("")).unwrap_err();
        assert!(e.contains("new_step"), "{e}");
        let c = TrainConfig::parse(
            &format!("{MIN}input_size = 112\nslowfast = true\nnew_length = 16\n"),
            Path::new(""),
        )
        .unwrap();
        assert_eq!((c.data.clip.target_width, c.data.clip.target_height), (112, 112));
        assert!(c.data.clip.slowfast);
        let e = TrainConfig::parse("model = 3\n", Path::new("")).unwrap_err();
        assert!(e.contains("model"), "{e}");
        for k in ["0", "9"] {
            let text = format!("{MIN}[train]\nbatch_size = 8\nmicro_batches = {k}\n");
            let e = TrainConfig::parse(&text, Path::new("")).unwrap_err();
            assert!(e.contains("train.micro_batches") && e.contains("1..=8"), "{e}");
        }
        let c = TrainConfig::parse(&format!("{MIN}[train]\nmicro_batches = 2\n"), Path::new("")).unwrap();
        assert_eq!(c.train.micro_batches, 2);
    }

    #[test]
    fn schedules() {
        let mut c = TrainConfig::parse(MIN, Path::new("")).unwrap();
        c.train.lr = 0.1;
        c.train.lr_decay_epoch = vec![4, 8];
        assert!((c.lr_at(3.9) - 0.1).abs() < 1e-12);
        assert!((c.lr_at(4.0) - 0.01).abs() < 1e-12);
        assert!((c.lr_at(9.0) - 0.001).abs() < 1e-12);
        c.train.lr_mode = LrMode::Cosine;
        c.train.warmup_epochs = 2;
        assert!((c.lr_at(1.0) - 0.05).abs() < 1e-12);
        assert!((c.lr_at(2.0) - 0.1).abs() < 1e-12);
        assert!((c.lr_at(6.0) - 0.05).abs() < 1e-12);
        assert!(c.lr_at(10.0).abs() < 1e-12);
    }

    /// Every config the repository ships parses, names a registered model, and its `init`
    /// (when it names a model rather than a file) is a registered model too.
    #[test]
    fn shipped_configs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let c = TrainConfig::load(&p).unwrap_or_else(|e| panic!("{e}"));
            kinema_models::spec(&c.model).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            // A registry name must be registered; a file is made by an earlier stage.
            if let Some(i) = c.init.as_deref().filter(|i| !i.contains('/') && !i.contains('.')) {
                kinema_models::spec(i).unwrap_or_else(|e| panic!("{}: init: {e}", p.display()));
            }
            c.dataset_options(true).crop().unwrap();
            n += 1;
        }
        assert!(n >= 7, "{n} configs");
    }
}
