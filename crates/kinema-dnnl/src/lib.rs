//! A thin, safe layer over oneDNN's C API: the library is opened at run time (a kinema without
//! oneDNN starts, and says what is missing when a model needs it), every handle has one owner
//! that destroys it, every call's status becomes a typed [`DnnlError`].
//!
//! What differs between oneDNN 2.x (Debian 12's 2.6.3) and 3.x lives in [`ops`]: how
//! primitive descriptors are made and how memory descriptors are held. The rest is the same C
//! API in both.

#![deny(clippy::undocumented_unsafe_blocks)]

mod conv;
mod ops;
pub mod pool;
mod program;
mod raw;

use std::ffi::{c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub use conv::{ConvShape, DiffDst, TrainConv};
pub use ops::{
    concat, convolution_backward_data, convolution_backward_weights, convolution_forward,
    convolution_forward_training, eltwise_forward, inner_product_forward, matmul, pooling_forward, reorder,
    softmax_forward, ConvParams, PoolAlg, PoolParams,
};
pub use program::{Constant, HostFn, MemId, Program};
use raw::{bindings as b, lib};

/// What a oneDNN call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DnnlError {
    /// The shared library (or its threading runtime) could not be opened.
    #[error(
        "oneDNN ({soname}) could not be loaded: {reason}. Install it with `bash scripts/install-deps.sh` \
         (Debian: `apt-get install libdnnl2`), or set KINEMA_DNNL_LIB to the library's path"
    )]
    Missing {
        /// The file looked for.
        soname: String,
        /// The loader's message.
        reason: String,
    },
    /// A call returned a status other than success.
    #[error("oneDNN {call} failed: {status}")]
    Call {
        /// The C function.
        call: &'static str,
        /// oneDNN's status, spelled out.
        status: &'static str,
    },
    /// An argument the wrapper refuses before calling oneDNN.
    #[error("oneDNN: {0}")]
    Invalid(String),
}

/// `Result` with a [`DnnlError`].
pub type Result<T> = std::result::Result<T, DnnlError>;

fn status_name(s: b::dnnl_status_t) -> &'static str {
    match s {
        b::dnnl_out_of_memory => "out of memory",
        b::dnnl_invalid_arguments => "invalid arguments",
        b::dnnl_unimplemented => "unimplemented (no implementation for these shapes, layouts or data types)",
        b::dnnl_runtime_error => "runtime error",
        b::dnnl_not_required => "not required",
        _ => "unknown status",
    }
}

/// `Ok` when `s` is `dnnl_success`, the call named otherwise.
fn check(s: b::dnnl_status_t, call: &'static str) -> Result<()> {
    if s == b::dnnl_success {
        Ok(())
    } else {
        Err(DnnlError::Call {
            call,
            status: status_name(s),
        })
    }
}

/// Whether oneDNN can be opened here (the error says why not).
pub fn available() -> Result<()> {
    lib().map(|_| ())
}

/// Keeps the heap memory a training step frees in the process, for the next step to reuse.
/// A step frees and allocates the same large buffers (activations, reorder targets, scratch
/// space) every time; glibc hands those above its thresholds back to the kernel, and each
/// step then faults their pages in and has them zeroed again (R(2+1)D-18 at [2,3,8,112,112]:
/// 41k page faults and 0.17 s of system time a step; 5k and 0.03 s with this). What is kept
/// is what the step needed at its peak. Applied once; a no-op off glibc, and where the user
/// set glibc's malloc tunables (`GLIBC_TUNABLES`, `MALLOC_*_`) themselves.
pub fn keep_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let user_set = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("malloc"))
            || std::env::vars_os().any(|(k, _)| {
                let k = k.to_string_lossy();
                k.starts_with("MALLOC_") && k.ends_with('_')
            });
        if user_set {
            return;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes glibc's allocation thresholds, at any time, from any
        // thread; the values are within the ranges it accepts (the mmap threshold's maximum
        // is 32 MiB on 64-bit targets).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        }
    });
}

/// oneDNN's version, `(major, minor, patch)`.
pub fn version() -> Result<(i32, i32, i32)> {
    let l = lib()?;
    // SAFETY: dnnl_version returns a pointer to a static struct owned by the library.
    let v = unsafe { &*l.dnnl_version() };
    Ok((v.major, v.minor, v.patch))
}

/// The instruction set oneDNN dispatches to on this CPU (`avx2`, `avx512_core`,
/// `avx512_core_amx`...), as `ONEDNN_MAX_CPU_ISA` names them.
pub fn effective_isa() -> Result<&'static str> {
    let l = lib()?;
    // SAFETY: a query with no arguments.
    let isa = unsafe { l.dnnl_get_effective_cpu_isa() };
    Ok(match isa {
        b::dnnl_cpu_isa_sse41 => "sse41",
        b::dnnl_cpu_isa_avx => "avx",
        b::dnnl_cpu_isa_avx2 => "avx2",
        b::dnnl_cpu_isa_avx2_vnni => "avx2_vnni",
        b::dnnl_cpu_isa_avx512_core => "avx512_core",
        b::dnnl_cpu_isa_avx512_core_vnni => "avx512_core_vnni",
        b::dnnl_cpu_isa_avx512_core_bf16 => "avx512_core_bf16",
        b::dnnl_cpu_isa_avx512_core_amx => "avx512_core_amx",
        _ => "other",
    })
}

static THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREADS_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Sets how many threads oneDNN's primitives use (its OpenMP runtime's count), for every
/// thread that executes a primitive from now on; 0 is refused.
pub fn set_num_threads(n: usize) -> Result<()> {
    if n == 0 {
        return Err(DnnlError::Invalid("the thread count must be at least 1".into()));
    }
    lib()?;
    raw::omp()?;
    THREADS.store(n, Ordering::Relaxed);
    Ok(())
}

/// The thread count [`set_num_threads`] asked for (0: never set, OpenMP's default).
fn threads() -> usize {
    THREADS.load(Ordering::Relaxed)
}

/// The thread count [`set_num_threads`] asked for, applied to the calling thread (OpenMP's
/// count is per calling thread) before it runs a primitive.
fn apply_threads() {
    let n = THREADS.load(Ordering::Relaxed);
    if n == 0 || THREADS_HERE.with(|t| t.get()) == n {
        return;
    }
    if let Ok(Some(set)) = raw::omp() {
        // SAFETY: omp_set_num_threads takes a plain int and changes only this thread's setting.
        unsafe { set(n as i32) };
    }
    THREADS_HERE.with(|t| t.set(n));
}

/// A oneDNN data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// 32-bit float.
    F32,
    /// bfloat16.
    Bf16,
    /// Signed 8-bit.
    S8,
    /// Unsigned 8-bit.
    U8,
    /// Signed 32-bit.
    S32,
}

impl DataType {
    fn raw(self) -> b::dnnl_data_type_t {
        match self {
            DataType::F32 => b::dnnl_f32,
            DataType::Bf16 => b::dnnl_bf16,
            DataType::S8 => b::dnnl_s8,
            DataType::U8 => b::dnnl_u8,
            DataType::S32 => b::dnnl_s32,
        }
    }
}

/// A plain (row-major) layout tag by rank, or `Any` (the primitive picks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Row major: `a`, `ab`, `abc`, `abcd` (`nchw`), `abcde` (`ncdhw`).
    Plain,
    /// Channels last: `nhwc` / `ndhwc`.
    ChannelsLast,
    /// Whatever the primitive prefers (only where a primitive descriptor is made).
    Any,
}

fn tag(layout: Layout, ndims: usize) -> Result<b::dnnl_format_tag_t> {
    Ok(match (layout, ndims) {
        (Layout::Any, _) => b::dnnl_format_tag_any,
        (Layout::Plain, 1) => b::dnnl_a,
        (Layout::Plain, 2) => b::dnnl_ab,
        (Layout::Plain, 3) => b::dnnl_abc,
        (Layout::Plain, 4) => b::dnnl_abcd,
        (Layout::Plain, 5) => b::dnnl_abcde,
        (Layout::Plain, 6) => b::dnnl_abcdef,
        (Layout::ChannelsLast, 3) => b::dnnl_acb,
        (Layout::ChannelsLast, 4) => b::dnnl_acdb,
        (Layout::ChannelsLast, 5) => b::dnnl_acdeb,
        _ => {
            return Err(DnnlError::Invalid(format!(
                "no {layout:?} layout for {ndims} dimensions"
            )))
        }
    })
}

fn dims_of(dims: &[usize]) -> Result<b::dnnl_dims_t> {
    let mut d: b::dnnl_dims_t = [0; b::DNNL_MAX_NDIMS as usize];
    if dims.is_empty() || dims.len() > d.len() {
        return Err(DnnlError::Invalid(format!("{} dimensions", dims.len())));
    }
    for (o, &v) in d.iter_mut().zip(dims) {
        *o = v as b::dnnl_dim_t;
    }
    Ok(d)
}

pub use ops::MemoryDesc;

/// The CPU engine.
#[derive(Debug)]
pub struct Engine {
    raw: b::dnnl_engine_t,
}

// SAFETY: a oneDNN engine may be used from any thread (primitives are created and run against
// it concurrently in oneDNN's own tests); kinema owns it through this one handle.
unsafe impl Send for Engine {}
// SAFETY: as above, the engine is immutable after creation.
unsafe impl Sync for Engine {}

impl Engine {
    /// The process's CPU engine (opens the library on first use). One for the whole process,
    /// never destroyed, so every stream, memory and primitive made on it can outlive its
    /// callers.
    pub fn cpu() -> Result<&'static Engine> {
        static CPU: OnceLock<std::result::Result<Engine, String>> = OnceLock::new();
        CPU.get_or_init(|| {
            let l = lib().map_err(|e| e.to_string())?;
            let mut raw = ptr::null_mut();
            check(
                // SAFETY: out-pointer to a local; index 0 is the only CPU engine.
                unsafe { l.dnnl_engine_create(&mut raw, b::dnnl_cpu, 0) },
                "dnnl_engine_create",
            )
            .map_err(|e| e.to_string())?;
            Ok(Engine { raw })
        })
        .as_ref()
        .map_err(|e| match lib() {
            Err(missing) => missing,
            Ok(_) => DnnlError::Invalid(e.clone()),
        })
    }
}

/// An in-order stream on an [`Engine`].
#[derive(Debug)]
pub struct Stream {
    raw: b::dnnl_stream_t,
}

// SAFETY: a stream is used by one thread at a time (kinema's plans hold it behind `&mut`).
unsafe impl Send for Stream {}

impl Stream {
    /// A stream on `engine`.
    pub fn new(engine: &Engine) -> Result<Stream> {
        let l = lib()?;
        let mut raw = ptr::null_mut();
        check(
            // SAFETY: out-pointer to a local; the engine is alive.
            unsafe { l.dnnl_stream_create(&mut raw, engine.raw, b::dnnl_stream_default_flags) },
            "dnnl_stream_create",
        )?;
        Ok(Stream { raw })
    }

    /// Waits for every primitive submitted so far.
    pub fn wait(&mut self) -> Result<()> {
        let l = lib()?;
        // SAFETY: the stream is alive.
        check(unsafe { l.dnnl_stream_wait(self.raw) }, "dnnl_stream_wait")
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Ok(l) = lib() {
            // SAFETY: created by dnnl_stream_create, destroyed once.
            unsafe { l.dnnl_stream_destroy(self.raw) };
        }
    }
}

/// A memory object: a descriptor and its buffer. A base object owns a buffer oneDNN
/// allocated; a view ([`Memory::view`]) sees part of a base's buffer through another
/// descriptor and keeps the base alive. Private to the crate: callers reach memories only
/// through a [`Program`] (or as a [`Constant`]).
#[derive(Debug)]
pub(crate) struct Memory {
    raw: b::dnnl_memory_t,
    md: MemoryDesc,
    base: Option<std::sync::Arc<Memory>>,
}

// SAFETY: the handle is only executed on by one stream at a time (kinema's plans run under
// `&mut`); the buffer it points to lives as long as the object (or its base).
unsafe impl Send for Memory {}
// SAFETY: memories are private to this crate. Those of a `Program` are written (as a
// destination or by `write`) only through `&mut Program`, so one thread at a time; a
// `Constant`'s is never written after it is packed, so shared references only read it.
unsafe impl Sync for Memory {}

/// `DNNL_MEMORY_ALLOCATE`: let the library allocate the buffer.
const ALLOCATE: *mut c_void = usize::MAX as *mut c_void;

impl Memory {
    fn create(engine: &Engine, md: &MemoryDesc, handle: *mut c_void) -> Result<b::dnnl_memory_t> {
        let l = lib()?;
        let mut raw = ptr::null_mut();
        check(
            // SAFETY: md is valid; handle is ALLOCATE, null (no buffer yet) or a pointer into a
            // buffer that the caller keeps alive for the object's lifetime.
            unsafe { l.dnnl_memory_create(&mut raw, md.as_raw(), engine.raw, handle) },
            "dnnl_memory_create",
        )?;
        Ok(raw)
    }

    /// A new buffer for `md` (allocated and owned by oneDNN, aligned for its kernels).
    pub fn alloc(engine: &Engine, md: &MemoryDesc) -> Result<Memory> {
        Ok(Memory {
            raw: Memory::create(engine, md, ALLOCATE)?,
            md: md.clone(),
            base: None,
        })
    }

    /// `md` over `len` values at `ptr`, a buffer the caller owns.
    ///
    /// # Safety
    /// `ptr` must point to `len` `f32` values that stay alive, and that nothing else writes,
    /// until the returned object is dropped; they are written only if it is used as a
    /// destination.
    pub(crate) unsafe fn wrap(engine: &Engine, md: &MemoryDesc, ptr: *mut f32, len: usize) -> Result<Memory> {
        if md.size_bytes() > len * std::mem::size_of::<f32>() {
            return Err(DnnlError::Invalid(format!(
                "a buffer of {len} values is smaller than {} bytes",
                md.size_bytes()
            )));
        }
        Ok(Memory {
            raw: Memory::create(engine, md, ptr as *mut c_void)?,
            md: md.clone(),
            base: None,
        })
    }

    /// `md` over `base`'s buffer from byte `offset` (a reshape, a strided view, a buffer
    /// reused for another value); refused if it does not fit.
    pub fn view(
        engine: &Engine,
        md: &MemoryDesc,
        base: &std::sync::Arc<Memory>,
        offset: usize,
    ) -> Result<Memory> {
        if base.base.is_some() {
            return Err(DnnlError::Invalid("a view must be of a base buffer".into()));
        }
        if offset
            .checked_add(md.extent_bytes())
            .is_none_or(|end| end > base.md.size_bytes())
        {
            return Err(DnnlError::Invalid(format!(
                "a view of {} bytes at {offset} does not fit a buffer of {}",
                md.extent_bytes(),
                base.md.size_bytes()
            )));
        }
        let p = base.data_ptr()?;
        // SAFETY: offset + the view's size is within the base buffer (checked above), which
        // this object keeps alive through its Arc.
        let raw = Memory::create(engine, md, unsafe { p.add(offset) } as *mut c_void)?;
        Ok(Memory {
            raw,
            md: md.clone(),
            base: Some(base.clone()),
        })
    }

    fn data_ptr(&self) -> Result<*mut u8> {
        let l = lib()?;
        let mut p: *mut c_void = ptr::null_mut();
        check(
            // SAFETY: the object is alive; the call writes its handle.
            unsafe { l.dnnl_memory_get_data_handle(self.raw, &mut p) },
            "dnnl_memory_get_data_handle",
        )?;
        if p.is_null() {
            return Err(DnnlError::Invalid("the memory has no buffer".into()));
        }
        Ok(p as *mut u8)
    }

    fn f32_len(&self) -> Result<usize> {
        if !self.md.is_plain() {
            return Err(DnnlError::Invalid("host access needs a plain f32 layout".into()));
        }
        Ok(self.md.dims().iter().product())
    }

    /// Copies the values out (a plain `f32` memory; call after the stream is waited on).
    pub fn read(&self, out: &mut [f32]) -> Result<()> {
        let n = self.f32_len()?;
        if out.len() != n {
            return Err(DnnlError::Invalid(format!(
                "{} values read into {}",
                n,
                out.len()
            )));
        }
        let p = self.data_ptr()? as *const f32;
        // SAFETY: a plain f32 buffer of n values (the descriptor says so), not written while
        // the stream is idle; out is a distinct Rust buffer.
        unsafe { ptr::copy_nonoverlapping(p, out.as_mut_ptr(), n) };
        Ok(())
    }

    /// Copies `values` in (a plain `f32` memory; call while no primitive runs).
    pub fn write(&mut self, values: &[f32]) -> Result<()> {
        let n = self.f32_len()?;
        if values.len() != n {
            return Err(DnnlError::Invalid(format!(
                "{} values written into {}",
                values.len(),
                n
            )));
        }
        let p = self.data_ptr()? as *mut f32;
        // SAFETY: as in read; the stream is idle, so nothing else touches the buffer.
        unsafe { ptr::copy_nonoverlapping(values.as_ptr(), p, n) };
        Ok(())
    }

    /// Its descriptor.
    pub fn desc(&self) -> &MemoryDesc {
        &self.md
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        if let Ok(l) = lib() {
            // SAFETY: created by dnnl_memory_create, destroyed once; a library-allocated buffer
            // is freed with it, a view's buffer belongs to its base.
            unsafe { l.dnnl_memory_destroy(self.raw) };
        }
    }
}

/// Post-ops fused into a primitive's output, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PostOp {
    /// `dst = op(x) + scale * dst` (the residual already in the destination).
    Sum(f32),
    /// `max(x, 0)`.
    Relu,
    /// `alpha * x`.
    Scale(f32),
}

/// Primitive attributes (post-ops).
#[derive(Debug)]
pub struct Attr {
    raw: b::dnnl_primitive_attr_t,
}

impl Attr {
    /// Attributes with `post_ops` (none: the default attributes).
    pub fn new(post_ops: &[PostOp]) -> Result<Attr> {
        let l = lib()?;
        let mut raw = ptr::null_mut();
        check(
            // SAFETY: out-pointer to a local.
            unsafe { l.dnnl_primitive_attr_create(&mut raw) },
            "dnnl_primitive_attr_create",
        )?;
        let attr = Attr { raw };
        if post_ops.is_empty() {
            return Ok(attr);
        }
        let mut po = ptr::null_mut();
        // SAFETY: out-pointer to a local.
        check(unsafe { l.dnnl_post_ops_create(&mut po) }, "dnnl_post_ops_create")?;
        let r = (|| {
            for op in post_ops {
                match *op {
                    PostOp::Sum(scale) => ops::append_sum(l, po, scale)?,
                    PostOp::Relu => ops::append_eltwise(l, po, b::dnnl_eltwise_relu, 0.0)?,
                    PostOp::Scale(a) => ops::append_eltwise(l, po, b::dnnl_eltwise_linear, a)?,
                }
            }
            check(
                // SAFETY: both handles are alive; the attribute copies the post-ops.
                unsafe { l.dnnl_primitive_attr_set_post_ops(attr.raw, po) },
                "dnnl_primitive_attr_set_post_ops",
            )
        })();
        // SAFETY: created above, destroyed once (the attribute holds its own copy).
        unsafe { l.dnnl_post_ops_destroy(po) };
        r.map(|()| attr)
    }

    /// These attributes with the scratch space handed to each execution
    /// ([`Arg::Scratchpad`], sized by [`Query::Scratchpad`]) instead of oneDNN's own. Its own
    /// is sized on the thread that makes the primitive and used by whichever thread runs it,
    /// so a primitive made on one thread and run on another overruns it.
    pub fn user_scratchpad(self) -> Result<Attr> {
        let l = lib()?;
        check(
            // SAFETY: the attribute is alive; the mode is one of the enum's values.
            unsafe { l.dnnl_primitive_attr_set_scratchpad_mode(self.raw, b::dnnl_scratchpad_mode_user) },
            "dnnl_primitive_attr_set_scratchpad_mode",
        )?;
        Ok(self)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        if let Ok(l) = lib() {
            // SAFETY: created by dnnl_primitive_attr_create, destroyed once.
            unsafe { l.dnnl_primitive_attr_destroy(self.raw) };
        }
    }
}

/// Which memory of a primitive descriptor to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// The source.
    Src,
    /// The weights.
    Weights,
    /// The destination.
    Dst,
    /// The source's gradient (a backward-data pass's output).
    DiffSrc,
    /// The weights' gradient.
    DiffWeights,
    /// The destination's gradient (a backward pass's input).
    DiffDst,
    /// The scratch space (with [`Attr::user_scratchpad`]; no dimensions when none is needed).
    Scratchpad,
}

/// A primitive descriptor: an implementation picked for one operation, its layouts decided.
#[derive(Debug)]
pub struct PrimitiveDesc {
    raw: b::dnnl_primitive_desc_t,
}

// SAFETY: a primitive descriptor is immutable once created.
unsafe impl Send for PrimitiveDesc {}

impl PrimitiveDesc {
    /// The memory descriptor the implementation chose for `q` (index 0).
    pub fn query(&self, q: Query) -> Result<MemoryDesc> {
        let what = match q {
            Query::Src => b::dnnl_query_src_md,
            Query::Weights => b::dnnl_query_weights_md,
            Query::Dst => b::dnnl_query_dst_md,
            Query::DiffSrc => b::dnnl_query_diff_src_md,
            Query::DiffWeights => b::dnnl_query_diff_weights_md,
            Query::DiffDst => b::dnnl_query_diff_dst_md,
            Query::Scratchpad => b::dnnl_query_scratchpad_md,
        };
        ops::query_md(self.raw, what, 0)
    }

    /// The implementation's name (`brg:avx512_core`, `jit:avx2`, `ref:any`...).
    pub fn implementation(&self) -> String {
        let Ok(l) = lib() else { return String::new() };
        let mut s: *const std::ffi::c_char = ptr::null();
        // SAFETY: the query writes a pointer to a string the descriptor owns.
        let st = unsafe {
            l.dnnl_primitive_desc_query(
                self.raw,
                b::dnnl_query_impl_info_str,
                0,
                &mut s as *mut _ as *mut c_void,
            )
        };
        if st != b::dnnl_success || s.is_null() {
            return String::new();
        }
        // SAFETY: a NUL-terminated string alive as long as the descriptor.
        unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
    }
}

impl Drop for PrimitiveDesc {
    fn drop(&mut self) {
        if let Ok(l) = lib() {
            // SAFETY: created by a *_primitive_desc_create call, destroyed once.
            unsafe { l.dnnl_primitive_desc_destroy(self.raw) };
        }
    }
}

/// An argument's role in [`Primitive::execute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// The (first) source; a reorder's `from`.
    Src,
    /// Source `i` of a concat.
    MultipleSrc(usize),
    /// The weights.
    Weights,
    /// The bias.
    Bias,
    /// The destination; a reorder's `to`.
    Dst,
    /// The source's gradient.
    DiffSrc,
    /// The weights' gradient.
    DiffWeights,
    /// The bias's gradient.
    DiffBias,
    /// The destination's gradient.
    DiffDst,
    /// The scratch space of a primitive made with [`Attr::user_scratchpad`].
    Scratchpad,
}

impl Arg {
    fn raw(self) -> i32 {
        (match self {
            Arg::Src => b::DNNL_ARG_SRC,
            Arg::MultipleSrc(i) => b::DNNL_ARG_MULTIPLE_SRC + i as u32,
            Arg::Weights => b::DNNL_ARG_WEIGHTS,
            Arg::Bias => b::DNNL_ARG_BIAS,
            Arg::Dst => b::DNNL_ARG_DST,
            Arg::DiffSrc => b::DNNL_ARG_DIFF_SRC,
            Arg::DiffWeights => b::DNNL_ARG_DIFF_WEIGHTS,
            Arg::DiffBias => b::DNNL_ARG_DIFF_BIAS,
            Arg::DiffDst => b::DNNL_ARG_DIFF_DST,
            Arg::Scratchpad => b::DNNL_ARG_SCRATCHPAD,
        }) as i32
    }
}

/// A primitive, ready to run (inside a [`Program`]).
#[derive(Debug)]
pub(crate) struct Primitive {
    raw: b::dnnl_primitive_t,
    /// The memories it reads and writes, as its descriptor says: what `execute` checks.
    args: Vec<(Arg, MemoryDesc)>,
}

// SAFETY: oneDNN primitives are stateless and may be executed from any thread.
unsafe impl Send for Primitive {}
// SAFETY: as above (execution takes distinct memories and a stream per caller).
unsafe impl Sync for Primitive {}

impl Primitive {
    /// The primitive of `pd`.
    pub fn new(pd: &PrimitiveDesc) -> Result<Primitive> {
        let l = lib()?;
        let mut raw = ptr::null_mut();
        check(
            // SAFETY: out-pointer to a local; pd is alive.
            unsafe { l.dnnl_primitive_create(&mut raw, pd.raw) },
            "dnnl_primitive_create",
        )?;
        // Every argument the descriptor names (a descriptor of no dimensions: not taken).
        let named = |a: Arg| {
            ops::query_md(pd.raw, b::dnnl_query_exec_arg_md, a.raw())
                .ok()
                .filter(|md| !md.dims().is_empty())
                .map(|md| (a, md))
        };
        let mut args: Vec<(Arg, MemoryDesc)> = [
            Arg::Src,
            Arg::Weights,
            Arg::Bias,
            Arg::Dst,
            Arg::DiffSrc,
            Arg::DiffWeights,
            Arg::DiffBias,
            Arg::DiffDst,
            Arg::Scratchpad,
        ]
        .into_iter()
        .filter_map(named)
        .collect();
        args.extend((0..).map(Arg::MultipleSrc).map_while(named));
        Ok(Primitive { raw, args })
    }

    /// Every argument the primitive takes given once, with the descriptor it was made for
    /// (dimensions, data type, layout), and nothing else.
    pub fn check(&self, args: &[(Arg, &Memory)]) -> Result<()> {
        for (arg, want) in &self.args {
            match args
                .iter()
                .filter(|(a, _)| a == arg)
                .map(|(_, m)| m)
                .collect::<Vec<_>>()[..]
            {
                [m] if m.desc() == want => {}
                [m] => {
                    return Err(DnnlError::Invalid(format!(
                        "argument {arg:?} is {:?}, the primitive takes {want:?}",
                        m.desc()
                    )))
                }
                [] => return Err(DnnlError::Invalid(format!("argument {arg:?} is missing"))),
                _ => return Err(DnnlError::Invalid(format!("argument {arg:?} is given twice"))),
            }
        }
        if let Some((a, _)) = args.iter().find(|(a, _)| self.args.iter().all(|(b, _)| b != a)) {
            return Err(DnnlError::Invalid(format!(
                "the primitive takes no argument {a:?}"
            )));
        }
        Ok(())
    }

    /// Submits the primitive on `stream` with `args`, refused unless [`check`](Self::check)
    /// passes (call [`Stream::wait`] before reading).
    pub fn execute(&self, stream: &mut Stream, args: &[(Arg, &Memory)]) -> Result<()> {
        let l = lib()?;
        self.check(args)?;
        apply_threads();
        let raw: Vec<b::dnnl_exec_arg_t> = args
            .iter()
            .map(|(a, m)| b::dnnl_exec_arg_t {
                arg: a.raw(),
                memory: m.raw,
            })
            .collect();
        check(
            // SAFETY: every argument the primitive takes is given once, with the descriptor it
            // was made for (checked above), over a buffer of at least that descriptor's size
            // (Memory::alloc / Memory::view check it); the memories are alive for the call.
            unsafe { l.dnnl_primitive_execute(self.raw, stream.raw, raw.len() as i32, raw.as_ptr()) },
            "dnnl_primitive_execute",
        )
    }
}

impl Drop for Primitive {
    fn drop(&mut self) {
        if let Ok(l) = lib() {
            // SAFETY: created by dnnl_primitive_create, destroyed once.
            unsafe { l.dnnl_primitive_destroy(self.raw) };
        }
    }
}

#[cfg(test)]
mod tests;
