//! GluonCV's `get_model` on kinema's model zoo: a model to run on clips or to label videos.

use std::path::PathBuf;
use std::sync::Mutex;

use burn::tensor::Device;
use kinema_infer::{predict_videos, PredictOptions};
use kinema_models::{Model as Built, ModelCard, ModelSource};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::clip::clip_to_dict;
use crate::err;

/// A built model (eval mode) with its card: class names and how to feed it.
///
/// `model(clip)` runs a float32 batch (`[N, 3, T, H, W]` for 3-D models, `[N, 3, H, W]` for
/// TSN) and returns the logits `[N, classes]`; `model.features(clip)` the pooled features the
/// classifier takes; `model.predict(videos)` the top labels of each video, views averaged.
#[pyclass(module = "kinema.models")]
pub struct Model {
    /// The network and its card, one call at a time.
    built: Mutex<Built>,
    /// A copy of the card, read without waiting for a running call.
    card: ModelCard,
}

impl Model {
    fn run(&self, py: Python<'_>, clip: PyReadonlyArrayDyn<'_, f32>, features: bool) -> PyResult<Py<PyAny>> {
        let shape = clip.shape().to_vec();
        let data = clip.as_array().iter().copied().collect::<Vec<f32>>();
        let (dims, y) = py
            .detach(|| {
                let built = self
                    .built
                    .lock()
                    .map_err(|_| "a previous call on this model panicked".to_string())?;
                if shape.len() != built.net.input_rank() {
                    return Err(format!(
                        "{}: expected a clip batch of {} dimensions, got shape {shape:?}",
                        self.card.model,
                        built.net.input_rank()
                    ));
                }
                built
                    .run(&shape, data, features, &Device::flex())
                    .map_err(|e| e.to_string())
            })
            .map_err(PyValueError::new_err)?;
        let (n, k) = (dims[0], dims.get(1).copied().unwrap_or(1));
        Ok(Array2::from_shape_vec((n, k), y)
            .map_err(err)?
            .into_pyarray(py)
            .into_any()
            .unbind())
    }
}

#[pymethods]
impl Model {
    /// Logits `[N, classes]` of a float32 clip batch.
    fn __call__(&self, py: Python<'_>, clip: PyReadonlyArrayDyn<'_, f32>) -> PyResult<Py<PyAny>> {
        self.run(py, clip, false)
    }

    /// The classifier's input `[N, features]` for a float32 clip batch.
    fn features(&self, py: Python<'_>, clip: PyReadonlyArrayDyn<'_, f32>) -> PyResult<Py<PyAny>> {
        self.run(py, clip, true)
    }

    /// Top labels per video: a list of `{"video", "top": [{"label", "index", "score"}]}`,
    /// in the order given. The frames read are the card's (GluonCV's test-time sampling);
    /// `num_clips` temporal clips per video are averaged (3-D models).
    #[pyo3(signature = (videos, topk = 5, num_clips = None, batch_size = 4, num_workers = 2))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        videos: Vec<PathBuf>,
        topk: usize,
        num_clips: Option<usize>,
        batch_size: usize,
        num_workers: usize,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let o = PredictOptions {
            num_clips,
            batch_size,
            workers: num_workers,
            topk,
        };
        let preds = py
            .detach(|| {
                let built = self
                    .built
                    .lock()
                    .map_err(|_| "a previous call on this model panicked".to_string())?;
                predict_videos(&built, &videos, &o, "<python>", &Device::flex(), &|_, _| {})
                    .map_err(|e| e.to_string())
            })
            .map_err(err)?;
        preds
            .into_iter()
            .map(|p| {
                let d = PyDict::new(py);
                d.set_item("video", p.video)?;
                let top = p
                    .top
                    .into_iter()
                    .map(|l| {
                        let t = PyDict::new(py);
                        t.set_item("label", l.label)?;
                        t.set_item("index", l.index)?;
                        t.set_item("score", l.score)?;
                        Ok(t)
                    })
                    .collect::<PyResult<Vec<_>>>()?;
                d.set_item("top", top)?;
                Ok(d)
            })
            .collect()
    }

    /// Registry name the weights fit.
    #[getter]
    fn name(&self) -> String {
        self.card.model.clone()
    }

    /// Class names, label order.
    #[getter]
    fn classes(&self) -> Vec<String> {
        self.card.classes.clone()
    }

    /// How to feed it, with GluonCV's names (`num_segments`, `new_length`, `new_step`,
    /// `new_width`, `new_height`, `target_width`, `target_height`, `input_size` (square
    /// crops), `mean`, `std`, `slowfast`, ...): keyword arguments `VideoClsCustom` takes.
    #[getter]
    fn input<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        clip_to_dict(py, &self.card.input)
    }

    fn __repr__(&self) -> String {
        format!(
            "<kinema.models.Model {}: {} classes, {} frames every {}, {} px>",
            self.card.model,
            self.card.classes.len(),
            self.card.input.new_length,
            self.card.input.new_step,
            self.card.input.target_width
        )
    }
}

/// GluonCV's `get_model(name, nclass=None, pretrained=False)`: a registry name, a kinema
/// `.safetensors` model file, or `None` for the embedded default (`kinema_motion_default`).
/// `pretrained=True` loads GluonCV's published weights from the model store's cache;
/// `weights=` a `.params`, `.pth`/`.pt` or `.safetensors` file; `classes=` names the outputs.
#[pyfunction]
#[pyo3(signature = (name = None, nclass = None, pretrained = false, weights = None, classes = None))]
pub fn get_model(
    py: Python<'_>,
    name: Option<String>,
    nclass: Option<usize>,
    pretrained: bool,
    weights: Option<PathBuf>,
    classes: Option<Vec<String>>,
) -> PyResult<Model> {
    let src = ModelSource {
        model: name,
        weights,
        classes,
        nclass,
        pretrained,
    };
    let built = py
        .detach(|| Built::load(&src, &Device::flex()).map_err(|e| e.to_string()))
        .map_err(err)?;
    Ok(Model {
        card: built.card.clone(),
        built: Mutex::new(built),
    })
}

/// GluonCV's `get_model_list()`: every registry name.
#[pyfunction]
pub fn get_model_list() -> Vec<String> {
    kinema_models::models()
        .iter()
        .map(|m| m.name.to_string())
        .collect()
}
