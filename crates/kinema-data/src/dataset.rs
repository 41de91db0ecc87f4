//! `VideoClsCustom`: GluonCV's setting-file dataset, its parameters and its clip layout.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use kinema_av::{ReaderOptions, VideoReader};

use crate::clip::ClipSpec;
use crate::error::{DataError, Result};
use crate::rng::Rng;
use crate::sampling::Mode;
use crate::setting::{read_setting, PathRules, Sample, SampleList};
use crate::transform::{render, to_gray, Crop, CropBox, Normalize};

/// How decoded frames are resized to `new_width` x `new_height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResizeMode {
    /// `Fast` in training (the pixels get augmented anyway), `Exact` in val/test.
    #[default]
    Auto,
    /// decord's resize (one bilinear libswscale pass into RGB): the pixels GluonCV's decord
    /// loader gets.
    Exact,
    /// Bilinear scale in the video's YUV format, then RGB: cheaper, ~1 level apart.
    Fast,
}

impl std::str::FromStr for ResizeMode {
    type Err = DataError;
    fn from_str(s: &str) -> Result<ResizeMode> {
        match s {
            "auto" => Ok(ResizeMode::Auto),
            "exact" => Ok(ResizeMode::Exact),
            "fast" => Ok(ResizeMode::Fast),
            _ => Err(DataError::InvalidOption(format!(
                "resize {s:?}: expected auto, exact or fast"
            ))),
        }
    }
}

/// GluonCV's `VideoClsCustom` parameters, same names and defaults, plus kinema's own (last).
#[derive(Debug, Clone)]
pub struct DatasetOptions {
    /// Training set (random offsets, crops, flips) when true and not `test_mode`.
    pub train: bool,
    /// Test mode: spread segments even on short videos; `num_crop` views.
    pub test_mode: bool,
    /// File names of frame folders (printf style, 1-based like GluonCV's `img_%05d.jpg`).
    pub name_pattern: String,
    /// Extension added to setting-file entries without one.
    pub video_ext: String,
    /// False: frames become grey (BT.601 luma in all three channels).
    pub is_color: bool,
    /// Input modality; `rgb` only (GluonCV's loaders likewise).
    pub modality: String,
    /// How clips are cut and normalized (segments, frames, step, sizes, SlowFast layout).
    pub clip: ClipSpec,
    /// Crops per view: 1 (centre in val/test, multi-scale in train), 3 or 10.
    pub num_crop: usize,
    /// Kept for GluonCV compatibility: kinema tells videos from frame folders by the path.
    pub video_loader: bool,
    /// Kept for GluonCV compatibility: kinema always decodes with its own reader.
    pub use_decord: bool,
    /// Augmentation family; `v1` (resize to new size, multi-scale crop / centre crop).
    pub data_aug: String,
    /// Build without reading the setting file (an empty dataset whose sampling can be used).
    pub lazy_init: bool,
    /// Drop and count setting-file entries whose video is missing instead of failing.
    pub skip_missing: bool,
    /// Seed of every random choice (offsets, jitter, crops, flips).
    pub seed: u64,
    /// Decoder threads per reader (0 = one per core). 1 by default, like GluonCV's decord
    /// readers: a loader's parallelism comes from its workers.
    pub reader_threads: usize,
    /// How frames are resized while decoding.
    pub resize: ResizeMode,
    /// Random horizontal flips in training (GluonCV always flips; a dataset whose labels
    /// have a left and a right, like kinema's synthetic one, must not).
    pub flip: bool,
    /// Scales of the training crop relative to the shorter side (GluonCV's `--scale-ratios`,
    /// default `1,0.875,0.75,0.66`).
    pub scale_ratios: Vec<f64>,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        DatasetOptions {
            train: true,
            test_mode: false,
            name_pattern: "img_%05d.jpg".into(),
            video_ext: "mp4".into(),
            is_color: true,
            modality: "rgb".into(),
            clip: ClipSpec::default(),
            num_crop: 1,
            video_loader: false,
            use_decord: false,
            data_aug: "v1".into(),
            lazy_init: false,
            skip_missing: false,
            seed: 0,
            reader_threads: 1,
            resize: ResizeMode::Auto,
            flip: true,
            scale_ratios: vec![1.0, 0.875, 0.75, 0.66],
        }
    }
}

impl DatasetOptions {
    /// GluonCV's mode from `train` and `test_mode`.
    pub fn mode(&self) -> Mode {
        match (self.train, self.test_mode) {
            (_, true) => Mode::Test,
            (true, false) => Mode::Train,
            (false, false) => Mode::Val,
        }
    }

    /// The normalization of the clip's values.
    pub fn normalize(&self) -> Normalize {
        Normalize {
            mean: self.clip.mean,
            std: self.clip.std,
        }
    }

    /// The spatial crops of the mode: multi-scale + flip in training, else centre / three / ten.
    pub fn crop(&self) -> Result<Crop> {
        match (self.mode(), self.num_crop) {
            (Mode::Train, 1) => {
                let mut c = Crop::gluoncv_train();
                if let Crop::MultiScale {
                    flip_prob,
                    scale_ratios,
                    ..
                } = &mut c
                {
                    if !self.flip {
                        *flip_prob = 0.0;
                    }
                    if self.scale_ratios.is_empty()
                        || self.scale_ratios.iter().any(|r| !(*r > 0.0 && *r <= 1.0))
                    {
                        return Err(DataError::InvalidOption(format!(
                            "scale_ratios {:?}: expected ratios in (0, 1]",
                            self.scale_ratios
                        )));
                    }
                    scale_ratios.clone_from(&self.scale_ratios);
                }
                Ok(c)
            }
            (Mode::Train, n) => Err(DataError::InvalidOption(format!(
                "num_crop {n} in training: multi-crop views are for val/test"
            ))),
            (_, 1) => Ok(Crop::Center),
            (_, 3) => Ok(Crop::Three),
            (_, 10) => Ok(Crop::Ten),
            (_, n) => Err(DataError::InvalidOption(format!(
                "num_crop {n}: expected 1, 3 or 10"
            ))),
        }
    }

    fn validate(&self) -> Result<()> {
        self.clip.validate()?;
        self.crop()?;
        let bad = |m: String| Err(DataError::InvalidOption(m));
        if self.modality != "rgb" {
            return bad(format!("modality {:?}: only \"rgb\" is supported", self.modality));
        }
        if self.data_aug != "v1" {
            return bad(format!("data_aug {:?}: only \"v1\" is supported", self.data_aug));
        }
        if (self.clip.new_width == 0) != (self.clip.new_height == 0) {
            return bad("new_width and new_height must both be set or both be 0".into());
        }
        Ok(())
    }

    /// Shape of one sample's tensor: `[views, 3, T, H, W]`, or `[views, 3, H, W]` when
    /// `new_length == 1` (GluonCV squeezes T for 2D models). views = num_segments x num_crop.
    pub fn clip_shape(&self) -> Vec<usize> {
        let views = self.clip.num_segments * self.num_crop;
        let (h, w) = (self.clip.target_height as usize, self.clip.target_width as usize);
        if self.clip.new_length == 1 && !self.clip.slowfast {
            vec![views, 3, h, w]
        } else {
            vec![views, 3, self.clip.frames_per_view(), h, w]
        }
    }
}

/// What one sample reads: frame ids (GluonCV's `frame_id_list`) and crops.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClipPlan {
    /// Sample index in the dataset.
    pub index: usize,
    /// Frame count the sampling used (the reader's).
    pub num_frames: usize,
    /// 0-based frame ids in reading order.
    pub frame_indices: Vec<usize>,
    /// Crops (in the decoded frame's coordinates), one per crop view.
    pub crops: Vec<CropBox>,
    /// Size of the decoded frames the crops refer to.
    pub frame_size: (u32, u32),
}

/// One loaded sample.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Normalized f32 tensor, shape [`DatasetOptions::clip_shape`].
    pub data: Vec<f32>,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Class label.
    pub label: usize,
    /// What was read.
    pub plan: ClipPlan,
}

/// GluonCV's `VideoClsCustom` on kinema's reader.
#[derive(Debug)]
pub struct VideoClsCustom {
    options: DatasetOptions,
    list: SampleList,
    warned_length: AtomicBool,
}

impl VideoClsCustom {
    /// Loads `setting` (paths relative to `root`). Missing videos are errors naming the file
    /// and line unless `skip_missing`.
    pub fn new(root: impl AsRef<Path>, setting: impl AsRef<Path>, options: DatasetOptions) -> Result<Self> {
        options.validate()?;
        let list = if options.lazy_init {
            SampleList::default()
        } else {
            let rules = PathRules {
                root: root.as_ref().to_path_buf(),
                video_ext: options.video_ext.clone(),
                skip_missing: options.skip_missing,
            };
            read_setting(setting.as_ref(), &rules)?
        };
        Self::from_list(list, options)
    }

    /// A dataset over an already parsed list (a standard dataset's parser output).
    pub fn from_list(list: SampleList, options: DatasetOptions) -> Result<Self> {
        options.validate()?;
        if !list.missing.is_empty() {
            tracing::warn!(count = list.missing.len(), first = %list.missing[0].display(), "skipped missing videos");
        }
        Ok(VideoClsCustom {
            options,
            list,
            warned_length: AtomicBool::new(false),
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.list.samples.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.list.samples.is_empty()
    }

    /// The options.
    pub fn options(&self) -> &DatasetOptions {
        &self.options
    }

    /// The samples and class names.
    pub fn list(&self) -> &SampleList {
        &self.list
    }

    /// Sample `index`.
    pub fn sample(&self, index: usize) -> Result<&Sample> {
        self.list.samples.get(index).ok_or_else(|| {
            DataError::InvalidOption(format!(
                "sample {index} out of range (the dataset has {})",
                self.len()
            ))
        })
    }

    /// Opens sample `index`'s reader at the decode size of the options.
    pub fn open(&self, index: usize) -> Result<VideoReader> {
        let s = self.sample(index)?;
        let o = &self.options;
        let mut ro = ReaderOptions {
            num_threads: o.reader_threads,
            frame_pattern: o.name_pattern.clone(),
            frame_start: 1,
            // A clip is read once: a small cache is enough.
            cache_bytes: 64 << 20,
            ..Default::default()
        };
        if o.clip.new_width > 0 {
            ro = ro.size(o.clip.new_width, o.clip.new_height);
            ro.interpolation = kinema_av::Interpolation::Bilinear;
            ro.fast_resize = match o.resize {
                ResizeMode::Exact => false,
                ResizeMode::Fast => true,
                ResizeMode::Auto => o.mode() == Mode::Train,
            };
        }
        let video = |error| DataError::Video {
            path: s.path.clone(),
            error,
        };
        let reader = VideoReader::open_with(&s.path, &ro).map_err(video)?;
        if reader.is_empty() {
            return Err(DataError::File {
                path: s.path.clone(),
                reason: "the video has no frames".into(),
            });
        }
        if s.num_frames != 0
            && s.num_frames != reader.len()
            && !self.warned_length.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "{}:{}: the setting file says {} frames, {} has {}; using the videos' own frame counts (said once)",
                s.listed_in.display(),
                s.line,
                s.num_frames,
                s.path.display(),
                reader.len()
            );
        }
        Ok(reader)
    }

    /// The frames and crops sample `index` reads in `epoch` (the reader supplies the length).
    pub fn plan(&self, index: usize, epoch: u64, reader: &VideoReader) -> Result<ClipPlan> {
        let o = &self.options;
        let mut rng = Rng::for_sample(o.seed, epoch, index as u64);
        let frame_indices = o.clip.frame_indices(reader.len(), o.mode(), &mut rng);
        self.plan_frames(index, frame_indices, reader, &mut rng)
    }

    /// The crops for `frame_indices` of `reader`'s video.
    fn plan_frames(
        &self,
        index: usize,
        frame_indices: Vec<usize>,
        reader: &VideoReader,
        rng: &mut Rng,
    ) -> Result<ClipPlan> {
        let o = &self.options;
        let (w, h) = (reader.width(), reader.height());
        let crops = o
            .crop()?
            .boxes(w, h, o.clip.target_width, o.clip.target_height, rng)
            .map_err(|e| DataError::File {
                path: reader.path().to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(ClipPlan {
            index,
            num_frames: reader.len(),
            frame_indices,
            crops,
            frame_size: (w, h),
        })
    }

    /// Loads sample `index` for `epoch` (the epoch varies the random choices in training).
    pub fn get(&self, index: usize, epoch: u64) -> Result<Clip> {
        let shape = self.options.clip_shape();
        let mut data = vec![0f32; shape.iter().product()];
        let plan = self.get_into(index, epoch, &mut data)?;
        Ok(Clip {
            data,
            shape,
            label: self.list.samples[index].label,
            plan,
        })
    }

    /// Like [`get`](Self::get), writing the tensor into `out` (`clip_shape` elements), e.g. a
    /// slot of a batch.
    pub fn get_into(&self, index: usize, epoch: u64, out: &mut [f32]) -> Result<ClipPlan> {
        self.check_out(out)?;
        let mut reader = self.open(index)?;
        let plan = self.plan(index, epoch, &reader)?;
        self.read(&mut reader, plan, out)
    }

    /// The clip of frames `start .. start + len` of sample `index`, read through an open
    /// `reader` of it (from [`open`](Self::open)) into `out` (`clip_shape` elements): the
    /// window is sampled as a video of its own (segments centred, held at the last frame near
    /// the end), with this dataset's crops. What a sliding-window tagger reads.
    pub fn get_window_into(
        &self,
        index: usize,
        reader: &mut VideoReader,
        (start, len): (usize, usize),
        out: &mut [f32],
    ) -> Result<ClipPlan> {
        self.check_out(out)?;
        if start >= reader.len() {
            return Err(DataError::InvalidOption(format!(
                "window start {start} is past the end of {} ({} frames)",
                reader.path().display(),
                reader.len()
            )));
        }
        let ids = self.options.clip.window_indices(reader.len(), start, len);
        let mut rng = Rng::for_sample(self.options.seed, 0, index as u64);
        let plan = self.plan_frames(index, ids, reader, &mut rng)?;
        self.read(reader, plan, out)
    }

    fn check_out(&self, out: &[f32]) -> Result<()> {
        let want: usize = self.options.clip_shape().iter().product();
        if out.len() != want {
            return Err(DataError::InvalidOption(format!(
                "output buffer holds {} values, a clip has {want}",
                out.len()
            )));
        }
        Ok(())
    }

    /// Decodes `plan`'s frames and writes its views into `out`.
    fn read(&self, reader: &mut VideoReader, plan: ClipPlan, out: &mut [f32]) -> Result<ClipPlan> {
        let mut frames = reader
            .get_batch(&plan.frame_indices)
            .map_err(|error| DataError::Video {
                path: reader.path().to_path_buf(),
                error,
            })?;
        self.fill(&plan, &mut frames.data, out);
        Ok(plan)
    }

    /// Elements of one clip tensor.
    pub fn clip_len(&self) -> usize {
        self.options.clip_shape().iter().product()
    }

    /// Writes the views of `plan` into `out` (`clip_shape` elements): view = crop x segments
    /// + segment, the frames of a segment along T.
    fn fill(&self, plan: &ClipPlan, frames: &mut [u8], out: &mut [f32]) {
        let o = &self.options;
        if !o.is_color {
            to_gray(frames);
        }
        let (w, h) = plan.frame_size;
        let (tw, th) = (o.clip.target_width, o.clip.target_height);
        let plane = (tw * th) as usize;
        let t_len = o.clip.frames_per_view();
        let segs = o.clip.num_segments;
        let frame_bytes = (w * h * 3) as usize;
        for (k, crop) in plan.crops.iter().enumerate() {
            for (f, frame) in frames.chunks_exact(frame_bytes).enumerate() {
                let (seg, t) = (f / t_len, f % t_len);
                let view = k * segs + seg;
                let base = (view * 3 * t_len + t) * plane;
                render(
                    frame,
                    w,
                    h,
                    crop,
                    tw,
                    th,
                    &o.normalize(),
                    &mut out[base..],
                    t_len * plane,
                );
            }
        }
    }

    /// Path of sample `index` (for messages).
    pub fn path(&self, index: usize) -> Option<&PathBuf> {
        self.list.samples.get(index).map(|s| &s.path)
    }
}
