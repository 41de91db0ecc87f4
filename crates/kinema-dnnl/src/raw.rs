//! The generated bindings and the library they are loaded from.

use std::sync::OnceLock;

use crate::{DnnlError, Result};

#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    unused_imports,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
pub(crate) mod bindings {
    include!(concat!(env!("OUT_DIR"), "/dnnl.rs"));
}

/// The soname of the oneDNN the bindings were generated for.
pub(crate) const SONAME: &str = env!("KINEMA_DNNL_SONAME");

static LIB: OnceLock<std::result::Result<bindings::DnnlLib, String>> = OnceLock::new();

/// The file oneDNN is opened from: `KINEMA_DNNL_LIB`, else the soname the bindings were
/// generated for (found by the dynamic loader's search).
pub(crate) fn library_file() -> String {
    std::env::var("KINEMA_DNNL_LIB").unwrap_or_else(|_| SONAME.to_string())
}

/// oneDNN, opened on first use (every function the headers declare must be there).
pub(crate) fn lib() -> Result<&'static bindings::DnnlLib> {
    static FILE: OnceLock<String> = OnceLock::new();
    let file = FILE.get_or_init(library_file);
    LIB.get_or_init(|| open(file).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|reason| DnnlError::Missing {
            soname: file.clone(),
            reason: reason.clone(),
        })
}

/// oneDNN from the file `name`.
pub(crate) fn open(name: &str) -> std::result::Result<bindings::DnnlLib, libloading::Error> {
    // SAFETY: opening oneDNN runs its static initialisers, which have no preconditions.
    unsafe { bindings::DnnlLib::new(name) }
}

type SetThreads = unsafe extern "C" fn(i32);
/// `GOMP_parallel(fn, data, num_threads, flags)`: GNU's entry point for `#pragma omp parallel`,
/// which LLVM's and Intel's runtimes also export.
pub(crate) type Parallel =
    unsafe extern "C" fn(extern "C" fn(*mut std::ffi::c_void), *mut std::ffi::c_void, u32, u32);
pub(crate) type Query = unsafe extern "C" fn() -> i32;

/// The OpenMP runtime oneDNN runs on: its thread-count setter, and (where it has them) the
/// entry points that run kinema's own kernels on the same team of threads.
pub(crate) struct Omp {
    _lib: libloading::Library,
    pub(crate) set_threads: SetThreads,
    pub(crate) team: Option<(Parallel, Query, Query)>,
}

static OMP: OnceLock<Option<Omp>> = OnceLock::new();

/// The OpenMP runtime of the oneDNN loaded (Debian's is GNU's `libgomp`; a sequential or TBB
/// build has none: `None`).
pub(crate) fn omp_runtime() -> Result<Option<&'static Omp>> {
    lib()?;
    // glibc's RTLD_NOLOAD: only a runtime oneDNN already loaded, never a second one.
    const RTLD_NOLOAD: i32 = 0x4;
    let found = OMP.get_or_init(|| {
        ["libgomp.so.1", "libiomp5.so", "libomp.so"]
            .iter()
            .find_map(|name| {
                let flags = libloading::os::unix::RTLD_NOW | RTLD_NOLOAD;
                // SAFETY: with RTLD_NOLOAD nothing new is loaded and no initialiser runs: it takes
                // a reference to a runtime oneDNN already loaded, or fails.
                let lib: libloading::Library =
                    unsafe { libloading::os::unix::Library::open(Some(name), flags) }
                        .ok()?
                        .into();
                // SAFETY: omp_set_num_threads has this signature in every OpenMP runtime.
                let set_threads = *unsafe { lib.get::<SetThreads>(b"omp_set_num_threads\0") }.ok()?;
                // SAFETY: GOMP_parallel and the two queries have these signatures in every
                // runtime that exports them (GNU's ABI, which the others copy).
                let team = unsafe {
                    let parallel = lib.get::<Parallel>(b"GOMP_parallel\0").ok().map(|f| *f);
                    let num = lib.get::<Query>(b"omp_get_thread_num\0").ok().map(|f| *f);
                    let count = lib.get::<Query>(b"omp_get_num_threads\0").ok().map(|f| *f);
                    parallel.zip(num).zip(count).map(|((p, n), c)| (p, n, c))
                };
                Some(Omp {
                    _lib: lib,
                    set_threads,
                    team,
                })
            })
    });
    Ok(found.as_ref())
}

/// `omp_set_num_threads` of oneDNN's OpenMP runtime, when it has one.
pub(crate) fn omp() -> Result<Option<SetThreads>> {
    Ok(omp_runtime()?.map(|o| o.set_threads))
}
