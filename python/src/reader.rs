//! decord's `VideoReader` on kinema's frame-exact reader.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use kinema_av::{FrameBatch, Interpolation, ReaderOptions};
use numpy::{PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyIndexError, PyStopIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PySlice, PySliceMethods};

use crate::{cpu, err, frames_out, Context};

/// decord's `VideoReader(uri, ctx=cpu(0), width=-1, height=-1, num_threads=0, fault_tol=-1)`.
///
/// Frame `i` is exactly the ffmpeg CLI's frame `i`. `width`/`height` below 1 keep the video's
/// own size (as in decord); resizing uses decord's bilinear scaler unless `interpolation`
/// says otherwise. kinema never replaces a frame it cannot decode by a neighbour: such a frame
/// raises `KinemaError` naming its index, so `fault_tol` (decord's limit on replaced frames)
/// is accepted and never reached.
#[pyclass(module = "kinema")]
pub struct VideoReader {
    inner: Mutex<kinema_av::VideoReader>,
    len: usize,
    uri: String,
    /// The bytes of a file-like `uri`, kept on disk for FFmpeg while the reader lives.
    _tmp: Option<tempfile::NamedTempFile>,
}

/// The path of `uri` (str or os.PathLike), or a temporary file holding a file-like's bytes.
fn source(uri: &Bound<'_, PyAny>) -> PyResult<(PathBuf, String, Option<tempfile::NamedTempFile>)> {
    if uri.hasattr("read")? {
        let bytes: PyBackedBytes = uri.call_method0("read")?.extract()?;
        let mut tmp = tempfile::Builder::new()
            .prefix("kinema-")
            .tempfile()
            .map_err(|e| err(format!("cannot buffer the file-like object: {e}")))?;
        tmp.write_all(&bytes)
            .map_err(|e| err(format!("cannot buffer the file-like object: {e}")))?;
        let name = format!("{} bytes", bytes.len());
        return Ok((tmp.path().to_path_buf(), name, Some(tmp)));
    }
    let path: PathBuf = uri.extract().map_err(|_| {
        PyValueError::new_err(format!(
            "uri must be a path (str or os.PathLike) or a file-like object, not {}",
            uri.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })?;
    let name = path.display().to_string();
    Ok((path, name, None))
}

pub(crate) fn interpolation(name: &str) -> PyResult<Interpolation> {
    Ok(match name {
        "bilinear" => Interpolation::Bilinear,
        "bicubic" => Interpolation::Bicubic,
        "area" => Interpolation::Area,
        "lanczos" => Interpolation::Lanczos,
        other => {
            return Err(PyValueError::new_err(format!(
                "interpolation {other:?}: expected 'bilinear', 'bicubic', 'area' or 'lanczos'"
            )))
        }
    })
}

/// `indices` (int, list, tuple, range, numpy array, tensor) as in-range frame numbers, negative
/// ones counted from the end, as decord's `_validate_indices` does.
pub(crate) fn frame_indices(indices: &Bound<'_, PyAny>, len: usize) -> PyResult<Vec<usize>> {
    let py = indices.py();
    let np = py.import("numpy")?;
    let kw = pyo3::types::PyDict::new(py);
    kw.set_item("dtype", "int64")?;
    let flat = np
        .call_method("asarray", (indices,), Some(&kw))
        .map_err(|e| PyValueError::new_err(format!("indices must be integers: {e}")))?
        .call_method1("reshape", (-1,))?;
    let flat: PyReadonlyArray1<i64> = flat.extract()?;
    let n = len as i64;
    let mut out = Vec::with_capacity(flat.len()?);
    let mut bad = Vec::new();
    for &i in flat.as_array().iter() {
        let j = if i < 0 { i + n } else { i };
        if (0..n).contains(&j) {
            out.push(j as usize);
        } else {
            bad.push(i);
        }
    }
    if !bad.is_empty() {
        let shown: Vec<String> = bad.iter().take(8).map(|i| i.to_string()).collect();
        return Err(PyIndexError::new_err(format!(
            "frame indices out of range for a video of {len} frames: [{}{}]",
            shown.join(", "),
            if bad.len() > 8 { ", ..." } else { "" }
        )));
    }
    Ok(out)
}

/// The frame numbers a Python slice picks from a video of `len` frames.
fn slice_indices(slice: &Bound<'_, PySlice>, len: usize) -> PyResult<Vec<usize>> {
    let s = slice.indices(len as isize)?;
    Ok((0..s.slicelength)
        .map(|k| (s.start + k as isize * s.step) as usize)
        .collect())
}

/// One frame index (negative counts from the end).
fn one_index(idx: i64, len: usize) -> PyResult<usize> {
    let j = if idx < 0 { idx + len as i64 } else { idx };
    if (0..len as i64).contains(&j) {
        Ok(j as usize)
    } else {
        Err(PyIndexError::new_err(format!(
            "frame index {idx} out of range for a video of {len} frames"
        )))
    }
}

impl VideoReader {
    fn lock(&self) -> PyResult<MutexGuard<'_, kinema_av::VideoReader>> {
        self.inner
            .lock()
            .map_err(|_| err(format!("{}: a previous call on this reader panicked", self.uri)))
    }

    /// Runs `f` on the reader with the interpreter released.
    fn decode<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut kinema_av::VideoReader) -> kinema_av::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut r = self.lock()?;
            f(&mut r).map_err(err)
        })
    }

    fn out(py: Python<'_>, b: FrameBatch, single: bool) -> PyResult<Py<PyAny>> {
        let shape = b.shape();
        frames_out(py, shape, b.into_vec(), single)
    }
}

#[pymethods]
impl VideoReader {
    #[new]
    #[pyo3(signature = (uri, ctx = None, width = -1, height = -1, num_threads = 0, fault_tol = None, interpolation = "bilinear", stream_index = None))]
    #[allow(clippy::too_many_arguments)] // decord's signature
    fn new(
        py: Python<'_>,
        uri: &Bound<'_, PyAny>,
        ctx: Option<Context>,
        width: i64,
        height: i64,
        num_threads: i64,
        fault_tol: Option<&Bound<'_, PyAny>>,
        interpolation: &str,
        stream_index: Option<usize>,
    ) -> PyResult<Self> {
        ctx.unwrap_or_else(|| cpu(0)).check_cpu()?;
        if let Some(f) = fault_tol {
            f.extract::<f64>()
                .map_err(|_| PyValueError::new_err("fault_tol must be a number"))?;
        }
        if num_threads < 0 {
            return Err(PyValueError::new_err(format!(
                "num_threads {num_threads}: expected 0 (auto) or a positive count"
            )));
        }
        let (path, name, tmp) = source(uri)?;
        let mut options = ReaderOptions {
            num_threads: num_threads as usize,
            interpolation: self::interpolation(interpolation)?,
            // torchcodec's name; default: FFmpeg's best video stream, as decord.
            stream: stream_index,
            ..ReaderOptions::default()
        };
        let inner = py.detach(|| -> kinema_av::Result<kinema_av::VideoReader> {
            if width >= 1 || height >= 1 {
                // decord keeps the video's own size on the side given as -1 (no aspect ratio).
                let (w, h) = if width >= 1 && height >= 1 {
                    (width as u32, height as u32)
                } else {
                    let native = kinema_av::VideoReader::open_with(&path, &options)?;
                    let pick = |v: i64, own: u32| if v >= 1 { v as u32 } else { own };
                    (pick(width, native.width()), pick(height, native.height()))
                };
                options = options.size(w, h);
            }
            kinema_av::VideoReader::open_with(&path, &options)
        });
        let inner = inner.map_err(err)?;
        Ok(VideoReader {
            len: inner.len(),
            inner: Mutex::new(inner),
            uri: name,
            _tmp: tmp,
        })
    }

    fn __len__(&self) -> usize {
        self.len
    }

    fn __repr__(&self) -> PyResult<String> {
        let r = self.lock()?;
        Ok(format!(
            "<kinema.VideoReader {:?}: {} frames, {}x{}, {:.3} fps, {}>",
            self.uri,
            self.len,
            r.width(),
            r.height(),
            r.fps(),
            r.codec_name()
        ))
    }

    /// `vr[i]` (negative counts from the end) is one `[H, W, 3]` frame; `vr[a:b:s]` a batch.
    fn __getitem__(&self, py: Python<'_>, idx: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(slice) = idx.cast::<PySlice>() {
            let picks = slice_indices(slice, self.len)?;
            let b = self.decode(py, |r| r.get_batch(&picks))?;
            return Self::out(py, b, false);
        }
        let i: i64 = idx
            .extract()
            .map_err(|_| PyValueError::new_err("a frame index must be an int or a slice"))?;
        let i = one_index(i, self.len)?;
        // decord's vr[i] is seek_accurate(i) + next(): the frame, and the position after it.
        let b = self.decode(py, |r| {
            let b = r.get(i)?;
            r.seek(i + 1)?;
            Ok(b)
        })?;
        Self::out(py, b, true)
    }

    /// Frames in order from the first, decoding forward.
    fn __iter__(slf: Bound<'_, Self>) -> FrameIter {
        FrameIter {
            reader: slf.unbind(),
            next: 0,
        }
    }

    /// The frame at the current position (`[H, W, 3]`), then moves on; `StopIteration` at the
    /// end.
    fn next(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.decode(py, |r| r.next_frame())? {
            Some(b) => Self::out(py, b, true),
            None => Err(PyStopIteration::new_err(())),
        }
    }

    /// `[N, H, W, 3]` uint8 frames in the order asked (duplicates allowed, negative indices
    /// from the end).
    fn get_batch(&self, py: Python<'_>, indices: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let picks = frame_indices(indices, self.len)?;
        let b = self.decode(py, |r| r.get_batch(&picks))?;
        Self::out(py, b, false)
    }

    /// Indices of the key frames.
    fn get_key_indices(&self) -> PyResult<Vec<usize>> {
        Ok(self.lock()?.key_indices().to_vec())
    }

    /// The container stream read (ffprobe's index, torchcodec's `stream_index`): FFmpeg's best
    /// video stream unless `stream_index=` chose another.
    fn stream_index(&self) -> PyResult<usize> {
        Ok(self.lock()?.info().stream)
    }

    /// Average frame rate.
    fn get_avg_fps(&self) -> PyResult<f64> {
        Ok(self.lock()?.fps())
    }

    /// `(start, end)` seconds of frames: float32 `[2]` for an int, `[N, 2]` otherwise. As in
    /// decord (`(pts - start_time) * time_base`), times count from the stream's start, the
    /// first frame's time: frame 0 starts at 0 on a stream that starts at 0.54 s (MPEG-PS).
    fn get_frame_timestamp<'py>(
        &self,
        py: Python<'py>,
        idx: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let single = idx.extract::<i64>().is_ok();
        let picks = if let Ok(slice) = idx.cast::<PySlice>() {
            slice_indices(slice, self.len)?
        } else {
            frame_indices(idx, self.len)?
        };
        let r = self.lock()?;
        let start = if self.len > 0 {
            r.get_frame_timestamp(0).map_err(err)?.0
        } else {
            0.0
        };
        let mut out = Vec::with_capacity(picks.len() * 2);
        for &i in &picks {
            let (a, b) = r.get_frame_timestamp(i).map_err(err)?;
            out.push((a - start) as f32);
            out.push((b - start) as f32);
        }
        drop(r);
        let arr = numpy::PyArray1::from_vec(py, out);
        if single {
            Ok(arr.into_any())
        } else {
            Ok(arr.reshape([picks.len(), 2])?.into_any())
        }
    }

    /// Moves to frame `pos`; the next `next()` returns it. decord's fast seek may land on a
    /// key frame; kinema's lands on `pos` exactly, so it is the same as `seek_accurate`.
    fn seek(&self, py: Python<'_>, pos: i64) -> PyResult<()> {
        self.seek_accurate(py, pos)
    }

    /// Moves to frame `pos` exactly.
    fn seek_accurate(&self, py: Python<'_>, pos: i64) -> PyResult<()> {
        if pos < 0 || pos >= self.len as i64 {
            return Err(PyIndexError::new_err(format!(
                "seek to {pos}: out of range for a video of {} frames",
                self.len
            )));
        }
        self.decode(py, |r| r.seek(pos as usize))
    }

    /// Moves `num` frames forward without returning them.
    #[pyo3(signature = (num = 1))]
    fn skip_frames(&self, py: Python<'_>, num: i64) -> PyResult<()> {
        if num <= 0 {
            return Err(PyValueError::new_err(format!(
                "skip_frames({num}): expected num > 0"
            )));
        }
        self.decode(py, |r| r.skip_frames(num as usize))
    }

    /// Frame width of the output (after resizing).
    #[getter]
    fn width(&self) -> PyResult<u32> {
        Ok(self.lock()?.width())
    }

    /// Frame height of the output.
    #[getter]
    fn height(&self) -> PyResult<u32> {
        Ok(self.lock()?.height())
    }

    /// Duration in seconds.
    #[getter]
    fn duration(&self) -> PyResult<f64> {
        Ok(self.lock()?.duration())
    }

    /// FFmpeg's name of the codec (`h264`, `vp9`, ...).
    #[getter]
    fn codec_name(&self) -> PyResult<String> {
        Ok(self.lock()?.codec_name().to_string())
    }
}

/// `iter(vr)`: every frame from the first, decoded forward.
#[pyclass(module = "kinema")]
pub struct FrameIter {
    reader: Py<VideoReader>,
    next: usize,
}

#[pymethods]
impl FrameIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let reader = self.reader.bind(py).borrow();
        if self.next >= reader.len {
            return Ok(None);
        }
        let i = self.next;
        // seek + next: from frame 0 on, the reader's sequential decoder
        let b = reader.decode(py, |r| {
            r.seek(i)?;
            r.next_frame()
        })?;
        self.next += 1;
        match b {
            Some(b) => VideoReader::out(py, b, true).map(Some),
            None => Ok(None),
        }
    }
}
