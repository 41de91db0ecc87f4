//! `kinema._kinema`: the Rust half of the `kinema` Python package.
//!
//! decord's `VideoReader` and `VideoLoader`, GluonCV's `VideoClsCustom` and `get_model` on
//! kinema's reader, loaders and model zoo. Frames come back as numpy arrays that own the Rust buffer (no copy); decoding
//! runs with the interpreter released, so Python threads decode in parallel. The Python half
//! (`pysrc/kinema`) adds the bridges (`native`, `numpy`, `torch`) and decord's module layout.

mod clip;
mod data;
mod loader;
mod models;
mod reader;

use numpy::ndarray::Array;
use numpy::IntoPyArray;
use pyo3::create_exception;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

create_exception!(
    _kinema,
    KinemaError,
    PyRuntimeError,
    "A video, dataset or option kinema cannot use; the message names it and says why."
);

/// decord's `DECORDContext`: where to decode. kinema decodes on the CPU only.
#[pyclass(module = "kinema", frozen, eq, from_py_object)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// decord's (and DLPack's) device type: 1 = CPU, 2 = GPU.
    #[pyo3(get)]
    device_type: i32,
    #[pyo3(get)]
    device_id: i32,
}

#[pymethods]
impl Context {
    fn __repr__(&self) -> String {
        let kind = if self.device_type == 1 { "cpu" } else { "gpu" };
        format!("{kind}({})", self.device_id)
    }
}

impl Context {
    /// The error for a context kinema cannot decode on.
    fn check_cpu(&self) -> PyResult<()> {
        if self.device_type == 1 {
            Ok(())
        } else {
            Err(KinemaError::new_err(format!(
                "{}: kinema decodes on the CPU only; pass ctx=kinema.cpu(0)",
                self.__repr__()
            )))
        }
    }
}

/// decord's `cpu(dev_id=0)`.
#[pyfunction]
#[pyo3(signature = (dev_id = 0))]
fn cpu(dev_id: i32) -> Context {
    Context {
        device_type: 1,
        device_id: dev_id,
    }
}

/// decord's `gpu(dev_id=0)`; readers refuse it with a clear error (no GPU decoding).
#[pyfunction]
#[pyo3(signature = (dev_id = 0))]
fn gpu(dev_id: i32) -> Context {
    Context {
        device_type: 2,
        device_id: dev_id,
    }
}

/// A Rust error as a `KinemaError` with its message.
pub(crate) fn err(e: impl std::fmt::Display) -> PyErr {
    KinemaError::new_err(e.to_string())
}

/// `[n, h, w, 3]` frames as a numpy array that takes the buffer over (no copy), handed to the
/// current bridge (`kinema.bridge.bridge_out`).
pub(crate) fn frames_out(
    py: Python<'_>,
    shape: [usize; 4],
    data: Vec<u8>,
    single: bool,
) -> PyResult<Py<PyAny>> {
    let [n, h, w, c] = shape;
    let array = if single {
        Array::from_shape_vec((h, w, c), data)
            .map_err(err)?
            .into_pyarray(py)
            .into_any()
    } else {
        Array::from_shape_vec((n, h, w, c), data)
            .map_err(err)?
            .into_pyarray(py)
            .into_any()
    };
    bridge_out(py, array)
}

/// Passes an array through `kinema.bridge.bridge_out` (native, numpy or torch).
pub(crate) fn bridge_out(py: Python<'_>, array: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    static BRIDGE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let f = BRIDGE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("kinema.bridge")?.getattr("bridge_out")?.unbind())
    })?;
    Ok(f.bind(py).call1((array,))?.unbind())
}

/// FFmpeg library versions this module runs on.
#[pyfunction]
fn ffmpeg_versions() -> String {
    kinema_av::ffmpeg_versions()
}

#[pymodule]
fn _kinema(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("KinemaError", m.py().get_type::<KinemaError>())?;
    m.add_class::<Context>()?;
    m.add_function(wrap_pyfunction!(cpu, m)?)?;
    m.add_function(wrap_pyfunction!(gpu, m)?)?;
    m.add_function(wrap_pyfunction!(ffmpeg_versions, m)?)?;
    m.add_class::<reader::VideoReader>()?;
    m.add_class::<reader::FrameIter>()?;
    m.add_class::<loader::VideoLoader>()?;
    m.add_class::<data::VideoClsCustom>()?;
    m.add_function(wrap_pyfunction!(data::synth, m)?)?;
    m.add_class::<models::Model>()?;
    m.add_function(wrap_pyfunction!(models::get_model, m)?)?;
    m.add_function(wrap_pyfunction!(models::get_model_list, m)?)?;
    Ok(())
}
