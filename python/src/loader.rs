//! decord's `VideoLoader` on kinema-data's loader: batches decoded on Rust worker threads.

use std::path::PathBuf;
use std::sync::Mutex;

use kinema_data::{Ordered, VideoBatch, VideoLoaderOptions};
use numpy::ndarray::Array2;
use numpy::IntoPyArray;
use pyo3::exceptions::{PyStopIteration, PyValueError};
use pyo3::prelude::*;

use crate::{bridge_out, err, frames_out, Context};

type Epoch = Ordered<(usize, usize), kinema_data::Result<VideoBatch>>;

/// decord's `VideoLoader(uris, ctx, shape, interval, skip, shuffle, prefetch=0)`.
///
/// Each batch is `shape[0]` frames of one video, `interval` frames apart, resized to
/// `shape[1] x shape[2]`; `skip` frames lie between batches of a video. `shuffle`: 0 files and
/// batches in order, 1 files interleaved at random with each file's batches in order, 2 all
/// batches at random, 3 files in order with the batches inside each file at random. Iterating
/// yields `(frames [B, H, W, 3] uint8, indices [B, 2] int64)`, indices being
/// `(video, frame)`. `reset()` starts the next epoch (a new shuffle). kinema extras:
/// `num_workers` decoding threads, `seed` of the shuffles, `interpolation` of the resize
/// (decord's bilinear by default).
#[pyclass(module = "kinema")]
pub struct VideoLoader {
    inner: kinema_data::VideoLoader,
    len: usize,
    state: Mutex<(u64, usize, Option<Epoch>)>,
}

#[pymethods]
impl VideoLoader {
    #[new]
    #[pyo3(signature = (uris, ctx, shape, interval, skip, shuffle, prefetch = 0, num_workers = 2, seed = 0, interpolation = "bilinear"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        uris: Vec<PathBuf>,
        ctx: &Bound<'_, PyAny>,
        shape: Vec<i64>,
        interval: i64,
        skip: i64,
        shuffle: i64,
        prefetch: i64,
        num_workers: usize,
        seed: u64,
        interpolation: &str,
    ) -> PyResult<Self> {
        let contexts: Vec<Context> = match ctx.extract::<Context>() {
            Ok(c) => vec![c],
            Err(_) => ctx
                .extract()
                .map_err(|_| PyValueError::new_err("ctx must be kinema.cpu(0) or a list of contexts"))?,
        };
        for c in &contexts {
            c.check_cpu()?;
        }
        if shape.len() != 4 || shape.iter().any(|&s| s <= 0) || shape[3] != 3 {
            return Err(PyValueError::new_err(format!(
                "shape {shape:?}: expected (batch, height, width, 3), all positive"
            )));
        }
        let nonneg = |name: &str, v: i64| {
            if v < 0 {
                Err(PyValueError::new_err(format!("{name} {v}: expected >= 0")))
            } else {
                Ok(v as usize)
            }
        };
        let (interval, skip) = (nonneg("interval", interval)?, nonneg("skip", skip)?);
        let shuffle = nonneg("shuffle", shuffle)?;
        let options = VideoLoaderOptions {
            num_workers,
            prefetch: nonneg("prefetch", prefetch)?.max(1),
            seed,
            interpolation: crate::reader::interpolation(interpolation)?,
            ..VideoLoaderOptions::default()
        };
        let shape = [shape[0] as usize, shape[1] as usize, shape[2] as usize, 3];
        let inner = py
            .detach(|| {
                kinema_data::VideoLoader::new(&uris, shape, interval, skip, shuffle.min(255) as u8, options)
            })
            .map_err(err)?;
        Ok(VideoLoader {
            len: inner.len(),
            inner,
            state: Mutex::new((0, 0, None)),
        })
    }

    /// Batches per epoch.
    fn __len__(&self) -> usize {
        self.len
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Starts the next epoch (a new shuffle for shuffle modes 1-3).
    fn reset(&self) -> PyResult<()> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| err("VideoLoader: a previous call panicked"))?;
        s.0 += 1;
        s.1 = 0;
        s.2 = None;
        Ok(())
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        let batch = py.detach(|| -> PyResult<Option<VideoBatch>> {
            let mut s = self
                .state
                .lock()
                .map_err(|_| err("VideoLoader: a previous call panicked"))?;
            let (epoch, done, it) = &mut *s;
            if *done >= self.len {
                return Ok(None);
            }
            let it = it.get_or_insert_with(|| self.inner.epoch(*epoch));
            match it.next() {
                Some(b) => {
                    *done += 1;
                    b.map(Some).map_err(err)
                }
                None => Ok(None),
            }
        })?;
        let Some(b) = batch else {
            return Err(PyStopIteration::new_err(()));
        };
        let n = b.indices.len();
        let ids: Vec<i64> = b
            .indices
            .iter()
            .flat_map(|p| [p[0] as i64, p[1] as i64])
            .collect();
        let ids = Array2::from_shape_vec((n, 2), ids)
            .map_err(err)?
            .into_pyarray(py)
            .into_any();
        let shape = b.frames.shape();
        let frames = frames_out(py, shape, b.frames.into_vec(), false)?;
        Ok((frames, bridge_out(py, ids)?))
    }

    /// decord's alias of `__next__`.
    fn next(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        self.__next__(py)
    }
}
