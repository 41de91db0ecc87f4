//! Parallel loops for kinema's own CPU kernels (BatchNorm, the optimizer) on the threads
//! oneDNN's primitives run on: its OpenMP team. After a primitive, OpenMP's threads spin for
//! a while waiting for the next one; a kernel run on a second pool (rayon) then competes with
//! them for the cores (15% of a training step's cycles on two cores). On the same team it
//! starts at once on threads that are already awake. Where oneDNN has no OpenMP runtime (not
//! loaded, or a sequential or TBB build), the loops run on rayon.

use std::any::Any;
use std::ffi::c_void;
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::raw::{self, Query};

/// Part `t` of `0..n` cut into `parts` consecutive ranges whose lengths differ by at most one.
fn part(n: usize, t: usize, parts: usize) -> Range<usize> {
    let (base, extra) = (n / parts, n % parts);
    let start = t * base + t.min(extra);
    start..start + base + usize::from(t < extra)
}

/// What each thread of a parallel region reads.
struct Region<'a> {
    n: usize,
    f: &'a (dyn Fn(Range<usize>) + Sync),
    thread_num: Query,
    num_threads: Query,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

extern "C" fn run_region(data: *mut c_void) {
    // SAFETY: `data` is the `Region` `for_ranges` passes to GOMP_parallel, which returns only
    // after every thread of the team has returned from here, so the reference outlives its use.
    let region = unsafe { &*(data as *const Region) };
    // SAFETY: plain queries of the calling thread's place in its team.
    let (t, nt) = unsafe { ((region.thread_num)(), (region.num_threads)()) };
    let range = part(region.n, t.max(0) as usize, nt.max(1) as usize);
    if range.is_empty() {
        return;
    }
    // A panic must not unwind into the C runtime: kept, and resumed on the calling thread.
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| (region.f)(range))) {
        let mut slot = region.panic.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(p);
    }
}

/// Whether the loops run on oneDNN's OpenMP team here (else on rayon).
pub fn on_openmp() -> bool {
    matches!(raw::omp_runtime(), Ok(Some(o)) if o.team.is_some())
}

/// Calls `f` on consecutive ranges covering `0..n`, one per thread, in parallel; returns when
/// every call has. A panic in `f` is resumed here.
pub fn for_ranges(n: usize, f: &(dyn Fn(Range<usize>) + Sync)) {
    match n {
        0 => return,
        // One item: nothing to share out.
        1 => return f(0..1),
        _ => {}
    }
    let team = raw::omp_runtime().ok().flatten().and_then(|o| o.team);
    match team {
        Some((parallel, thread_num, num_threads)) => {
            // The team's size: the count `set_num_threads` gave oneDNN's primitives.
            crate::apply_threads();
            let region = Region {
                n,
                f,
                thread_num,
                num_threads,
                panic: Mutex::new(None),
            };
            // SAFETY: `run_region` reads `region` only until GOMP_parallel returns (every team
            // thread joins before it does); 0 threads: the calling thread's OpenMP count; no
            // flags.
            unsafe { parallel(run_region, &region as *const Region as *mut c_void, 0, 0) };
            if let Some(p) = region.panic.into_inner().unwrap_or_else(|e| e.into_inner()) {
                resume_unwind(p);
            }
        }
        None => {
            let parts = rayon::current_num_threads().clamp(1, n);
            (0..parts).into_par_iter().for_each(|t| f(part(n, t, parts)));
        }
    }
}

/// `(0..n).map(f)` computed in parallel, in order.
pub fn map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let parts = Mutex::new(Vec::new());
    for_ranges(n, &|r: Range<usize>| {
        let start = r.start;
        let values: Vec<T> = r.map(&f).collect();
        parts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((start, values));
    });
    let mut parts = parts.into_inner().unwrap_or_else(|e| e.into_inner());
    parts.sort_unstable_by_key(|(start, _)| *start);
    parts.into_iter().flat_map(|(_, v)| v).collect()
}

/// A pointer the threads of one loop share, each writing its own part.
struct Shared<T>(*mut T);

// SAFETY: only `zip_chunks` makes them, and its threads touch disjoint parts of the slice.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn at(&self, i: usize) -> *mut T {
        // SAFETY: callers stay inside the slice the pointer was taken from.
        unsafe { self.0.add(i) }
    }
}

/// `data.chunks_mut(chunk).enumerate()`, each `f(index, chunk)` in parallel.
pub fn chunks_mut<T: Send>(data: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let mut none: [(); 0] = [];
    zip_chunks(data, &mut none, chunk, |i, c, _| f(i, c));
}

/// `a.chunks_mut(chunk).zip(b.chunks_mut(chunk)).enumerate()`, each `f(index, a's, b's)` in
/// parallel; `b` empty (every chunk of it empty) or as long as `a`.
pub fn zip_chunks<T: Send, U: Send>(
    a: &mut [T],
    b: &mut [U],
    chunk: usize,
    f: impl Fn(usize, &mut [T], &mut [U]) + Sync,
) {
    assert!(
        b.is_empty() || b.len() == a.len(),
        "zip_chunks: lengths {} and {}",
        a.len(),
        b.len()
    );
    let chunk = chunk.max(1);
    let (len, len_b) = (a.len(), b.len());
    let (pa, pb) = (Shared(a.as_mut_ptr()), Shared(b.as_mut_ptr()));
    for_ranges(len.div_ceil(chunk), &|r: Range<usize>| {
        let (start, end) = (r.start * chunk, (r.end * chunk).min(len));
        let (start_b, end_b) = (start.min(len_b), end.min(len_b));
        // SAFETY: `for_ranges` gives each thread its own range of chunks, so these parts of
        // `a` and `b` (borrowed mutably for the whole call) are disjoint and in bounds.
        let (ma, mb) = unsafe {
            (
                std::slice::from_raw_parts_mut(pa.at(start), end - start),
                std::slice::from_raw_parts_mut(pb.at(start_b), end_b - start_b),
            )
        };
        for (i, ca) in ma.chunks_mut(chunk).enumerate() {
            let cb = if mb.is_empty() {
                &mut [][..]
            } else {
                &mut mb[i * chunk..i * chunk + ca.len()]
            };
            f(r.start + i, ca, cb);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn parts_cover_the_range_once_in_order() {
        for n in [1, 2, 7, 64, 1000] {
            for parts in 1..=9 {
                let all: Vec<usize> = (0..parts).flat_map(|t| part(n, t, parts)).collect();
                assert_eq!(all, (0..n).collect::<Vec<_>>(), "n {n}, {parts} parts");
            }
        }
    }

    #[test]
    fn loops_visit_every_index_once_on_the_openmp_team() {
        crate::available().expect("oneDNN");
        // Debian's oneDNN is built on GNU OpenMP: the loops must run on its team.
        if crate::raw::omp().expect("runtime").is_some() {
            assert!(
                on_openmp(),
                "oneDNN has an OpenMP runtime but its team was not found"
            );
        }
        crate::set_num_threads(2).unwrap();
        for n in [0, 1, 2, 3, 1001] {
            let seen: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            for_ranges(n, &|r| {
                r.for_each(|i| _ = seen[i].fetch_add(1, Ordering::Relaxed))
            });
            assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 1), "n {n}");
            assert_eq!(map(n, |i| i * 3), (0..n).map(|i| i * 3).collect::<Vec<_>>());
        }
        let mut v = vec![0usize; 103];
        chunks_mut(&mut v, 10, |i, c| {
            let len = c.len();
            c.iter_mut().for_each(|x| *x = i * 100 + len);
        });
        let want: Vec<usize> = (0..103)
            .map(|j| (j / 10) * 100 + if j >= 100 { 3 } else { 10 })
            .collect();
        assert_eq!(v, want);
        let (mut a, mut b) = (vec![1.0f32; 37], vec![2.0f32; 37]);
        zip_chunks(&mut a, &mut b, 8, |i, ca, cb| {
            ca.iter_mut()
                .zip(cb.iter_mut())
                .for_each(|(x, y)| (*x, *y) = (*y + i as f32, *x));
        });
        let want: Vec<f32> = (0..37).map(|j| 2.0 + (j / 8) as f32).collect();
        assert_eq!((a, b), (want, vec![1.0; 37]));
    }

    #[test]
    fn a_panic_in_a_loop_reaches_the_caller() {
        let caught = catch_unwind(|| for_ranges(64, &|r| assert!(!r.contains(&40), "index 40")));
        let msg = caught.expect_err("the panic is resumed");
        let text = (msg.downcast_ref::<String>().map(String::as_str))
            .or_else(|| msg.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(text.contains("index 40"), "{text}");
        // The team still works afterwards.
        assert_eq!(map(5, |i| i), vec![0, 1, 2, 3, 4]);
    }
}
