//! GluonCV's `VideoClsCustom` on kinema-data: `(clip, label)` samples as numpy arrays.

use std::path::PathBuf;

use kinema_data::DatasetOptions;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::IntoPyArray;
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::clip::clip_from_kwargs;
use crate::err;

/// GluonCV's `VideoClsCustom(root, setting, train=True, test_mode=False, ...)`, same
/// parameters and defaults, kinema's frame choices (the ones GluonCV picks in val/test mode).
/// The clip parameters (`num_segments`, `new_length`, `new_step`, `new_width`, `new_height`,
/// `target_width`, `target_height` or `input_size`, `temporal_jitter`, `slowfast`,
/// `slow_temporal_stride`, `fast_temporal_stride`, `mean`, `std`) are keyword arguments, and
/// so is everything after `modality` (a positional argument there is an error, not a value
/// bound to another parameter than GluonCV's signature would).
///
/// `ds[i]` is `(clip, label)`: clip float32, normalized with ImageNet's mean and std, shaped
/// `[views, 3, T, H, W]` (`[views, 3, H, W]` when `new_length == 1`), views =
/// `num_segments * num_crop`. Training augmentation is drawn from `seed` and the epoch set with
/// `set_epoch`, so a run is reproducible. kinema extras: `seed`, `skip_missing` (count and skip
/// missing videos instead of failing), `reader_threads`.
#[pyclass(module = "kinema.data")]
pub struct VideoClsCustom {
    inner: kinema_data::VideoClsCustom,
    epoch: std::sync::atomic::AtomicU64,
}

#[pymethods]
impl VideoClsCustom {
    #[new]
    #[pyo3(signature = (
        root, setting, train = true, test_mode = false, name_pattern = "img_%05d.jpg",
        video_ext = "mp4", is_color = true, modality = "rgb", *, num_crop = 1,
        video_loader = false, use_decord = false, data_aug = "v1",
        lazy_init = false, transform = None, seed = 0, skip_missing = false, reader_threads = 1,
        **clip
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        root: PathBuf,
        setting: PathBuf,
        train: bool,
        test_mode: bool,
        name_pattern: &str,
        video_ext: &str,
        is_color: bool,
        modality: &str,
        num_crop: usize,
        video_loader: bool,
        use_decord: bool,
        data_aug: &str,
        lazy_init: bool,
        transform: Option<&Bound<'_, PyAny>>,
        seed: u64,
        skip_missing: bool,
        reader_threads: usize,
        clip: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        if transform.is_some_and(|t| !t.is_none()) {
            return Err(PyValueError::new_err(
                "transform: kinema applies GluonCV's video transforms itself (resize, crop, flip, \
                 normalize, from the size parameters); pass transform=None",
            ));
        }
        let options = DatasetOptions {
            train,
            test_mode,
            name_pattern: name_pattern.to_string(),
            video_ext: video_ext.to_string(),
            is_color,
            modality: modality.to_string(),
            clip: clip_from_kwargs(clip)?,
            num_crop,
            video_loader,
            use_decord,
            data_aug: data_aug.to_string(),
            lazy_init,
            skip_missing,
            seed,
            reader_threads,
            ..DatasetOptions::default()
        };
        let inner = py
            .detach(|| kinema_data::VideoClsCustom::new(&root, &setting, options))
            .map_err(err)?;
        Ok(VideoClsCustom {
            inner,
            epoch: 0.into(),
        })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// `(clip, label)` of sample `index` (negative counts from the end).
    fn __getitem__(&self, py: Python<'_>, index: i64) -> PyResult<(Py<PyAny>, usize)> {
        let n = self.inner.len() as i64;
        let i = if index < 0 { index + n } else { index };
        if !(0..n).contains(&i) {
            return Err(PyIndexError::new_err(format!(
                "sample {index} out of range (the dataset has {n})"
            )));
        }
        let epoch = self.epoch.load(std::sync::atomic::Ordering::Relaxed);
        let clip = py.detach(|| self.inner.get(i as usize, epoch)).map_err(err)?;
        let array = ArrayD::from_shape_vec(IxDyn(&clip.shape), clip.data).map_err(err)?;
        Ok((array.into_pyarray(py).into_any().unbind(), clip.label))
    }

    /// The epoch the training augmentation is drawn for (PyTorch samplers' `set_epoch`).
    fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, std::sync::atomic::Ordering::Relaxed);
    }

    /// Shape of one clip.
    #[getter]
    fn clip_shape(&self) -> Vec<usize> {
        self.inner.options().clip_shape()
    }

    /// Class names (from the setting file's folder names or `classes.txt`, else numbers).
    #[getter]
    fn classes(&self) -> Vec<String> {
        self.inner.list().classes.clone()
    }

    /// `(path, num_frames, label)` of every sample, as in the setting file.
    #[getter]
    fn clips(&self) -> Vec<(PathBuf, usize, usize)> {
        self.inner
            .list()
            .samples
            .iter()
            .map(|s| (s.path.clone(), s.num_frames, s.label))
            .collect()
    }
}

/// kinema's synthetic action dataset (`kinema synth`): real H.264 videos of a moving shape,
/// one action class per motion, plus `train.txt`, `val.txt` and `classes.txt` under `out`.
/// The same seed writes byte-identical files. Returns the summary as a dict.
#[pyfunction]
#[pyo3(signature = (out, classes = 10, videos_per_class = 60, val_per_class = None, seed = 0, min_size = 112, max_size = 160, min_frames = 40, max_frames = 72, threads = 0))]
#[allow(clippy::too_many_arguments)]
pub fn synth<'py>(
    py: Python<'py>,
    out: PathBuf,
    classes: usize,
    videos_per_class: usize,
    val_per_class: Option<usize>,
    seed: u64,
    min_size: u32,
    max_size: u32,
    min_frames: usize,
    max_frames: usize,
    threads: usize,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let o = kinema_data::synth::SynthOptions {
        out,
        classes,
        videos_per_class,
        val_per_class: val_per_class.unwrap_or((videos_per_class / 3).max(1)),
        seed,
        min_size,
        max_size,
        min_frames,
        max_frames,
        threads,
        ..Default::default()
    };
    let s = py
        .detach(|| kinema_data::synth::synth(&o, &|_, _| {}))
        .map_err(err)?;
    let d = pyo3::types::PyDict::new(py);
    d.set_item("out", s.out)?;
    d.set_item("train", s.train)?;
    d.set_item("val", s.val)?;
    d.set_item("classes", s.classes)?;
    d.set_item("frames", s.frames)?;
    Ok(d)
}
