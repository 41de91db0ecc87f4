//! kinema-dist: the collectives of data-parallel training.
//!
//! - [`Comm`]: this process's place in the job (rank, size, local rank) and the operations
//!   training needs: sum all-reduce (plain and bucketed, [`Comm::all_reduce_buckets`]),
//!   broadcast of bytes from rank 0, all-gather of a hash, abort of the whole job.
//!   Built with the `mpi` feature it runs on MPI (rsmpi; `mpirun`, `srun --mpi=pmix`); without
//!   it, or started without a launcher, it is one process and every collective is the identity.
//! - [`launcher`]: which launcher (if any) started this process, read from its environment, so a
//!   kinema built without MPI refuses to run as N unconnected copies.
//! - [`Watchdog`]: ends the whole job when a step makes no progress for too long.
//! - [`buckets`]: how a flat gradient is cut into all-reduce buckets.

#![forbid(unsafe_code)]

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Result alias of this crate.
pub type Result<T, E = DistError> = std::result::Result<T, E>;

/// What can go wrong setting up or running a distributed job.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// Started by a launcher this build cannot join.
    #[error("{0}")]
    Launcher(String),
    /// MPI could not be set up.
    #[error("MPI: {0}")]
    Mpi(String),
    /// A collective got arguments that differ from what it needs.
    #[error("{0}")]
    Invalid(String),
}

/// The launcher that started this process, as its environment tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Which launcher: `OpenMPI`, `PMI` (MPICH's hydra, Slurm's PMI-2) or `PMIx`.
    pub launcher: &'static str,
    /// This process's rank.
    pub rank: usize,
    /// Number of processes, when the environment says.
    pub size: Option<usize>,
}

/// Reads which launcher started this process from `env` (a lookup such as
/// `|k| std::env::var(k).ok()`): OpenMPI's `OMPI_COMM_WORLD_*`, PMI's `PMI_RANK`/`PMI_SIZE`,
/// or PMIx's `PMIX_RANK` (with Slurm's `SLURM_NTASKS` for the size). `None` when none did.
pub fn launcher(env: &dyn Fn(&str) -> Option<String>) -> Option<Launch> {
    let num = |k: &str| env(k).and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(rank) = num("OMPI_COMM_WORLD_RANK") {
        return Some(Launch {
            launcher: "OpenMPI",
            rank,
            size: num("OMPI_COMM_WORLD_SIZE"),
        });
    }
    if let Some(rank) = num("PMI_RANK") {
        return Some(Launch {
            launcher: "PMI",
            rank,
            size: num("PMI_SIZE"),
        });
    }
    if let Some(rank) = num("PMIX_RANK") {
        return Some(Launch {
            launcher: "PMIx",
            rank,
            size: num("SLURM_STEP_NUM_TASKS").or_else(|| num("PMIX_SIZE")),
        });
    }
    // srun without an MPI plugin (`--mpi=none`) sets no PMI variables, only its own: a job step's
    // task (the batch script itself has no step task count).
    if let (Some(rank), Some(size)) = (num("SLURM_PROCID"), num("SLURM_STEP_NUM_TASKS")) {
        return Some(Launch {
            launcher: "Slurm (srun)",
            rank,
            size: Some(size),
        });
    }
    None
}

/// A build without MPI started by a launcher: refused when this process is one of several ranks
/// (every rank would train alone into the same output folder), let through as one process.
pub fn without_mpi(launch: &Launch) -> Result<()> {
    if launch.size.is_some_and(|s| s > 1) || launch.rank > 0 {
        return Err(DistError::Launcher(format!(
            "started by {} as rank {} of {}, but this kinema was built without MPI: every rank \
             would train alone into the same output folder. Build it with MPI (the default \
             features of kinema-cli; it needs libopenmpi-dev) or start one process",
            launch.launcher,
            launch.rank,
            launch.size.map_or("several".to_string(), |s| s.to_string())
        )));
    }
    Ok(())
}

/// Checks that MPI's world is the job the launcher started: an MPI library that does not match the
/// launcher (MPICH's hydra starting an OpenMPI build, srun without the PMI plugin MPI needs)
/// comes up as N single-process worlds, which would train N unconnected copies.
pub fn agrees(launch: &Launch, rank: usize, size: usize) -> Result<()> {
    if launch.size.is_some_and(|s| s != size) || launch.rank != rank {
        return Err(DistError::Launcher(format!(
            "started by {} as rank {} of {}, but MPI sees rank {rank} of {size}: the MPI library \
             does not match the launcher (use this build's mpirun, or srun --mpi=pmix)",
            launch.launcher,
            launch.rank,
            launch.size.map_or("several".to_string(), |s| s.to_string())
        )));
    }
    Ok(())
}

/// True when this build can join an MPI job.
pub const HAS_MPI: bool = cfg!(feature = "mpi");

/// Time and volume spent in the gradient all-reduce.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReduceStats {
    /// Seconds from the first bucket's start to the last one's result.
    pub seconds: f64,
    /// Bytes each rank contributed.
    pub bytes: u64,
    /// Buckets reduced.
    pub buckets: usize,
}

/// Cuts `total` values into all-reduce buckets of about `bucket` values, the first of at most
/// `first` (PyTorch DDP's 1 MiB first bucket: its reduction starts while the rest is packed).
/// Every range is non-empty; together they cover `0..total` in order.
pub fn buckets(total: usize, first: usize, bucket: usize) -> Vec<Range<usize>> {
    let (first, bucket) = (first.max(1), bucket.max(1));
    let mut out = Vec::new();
    let mut at = 0;
    while at < total {
        let len = if out.is_empty() { first } else { bucket };
        let end = (at + len).min(total);
        out.push(at..end);
        at = end;
    }
    out
}

/// A process's place in the job, and the collectives over it.
pub struct Comm {
    rank: usize,
    size: usize,
    local_rank: usize,
    local_size: usize,
    #[cfg(feature = "mpi")]
    mpi: Option<mpi_comm::MpiComm>,
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comm")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .field("local_rank", &self.local_rank)
            .finish()
    }
}

impl Comm {
    /// One process alone: rank 0 of 1, every collective the identity.
    pub fn single() -> Comm {
        Comm {
            rank: 0,
            size: 1,
            local_rank: 0,
            local_size: 1,
            #[cfg(feature = "mpi")]
            mpi: None,
        }
    }

    /// The job this process belongs to: MPI's world when a launcher started it (and this build
    /// has MPI), one process otherwise. A build without MPI started as one of several ranks is
    /// refused, naming the launcher.
    pub fn from_env() -> Result<Comm> {
        let launch = launcher(&|k| std::env::var(k).ok());
        let Some(launch) = launch else {
            return Ok(Comm::single());
        };
        #[cfg(feature = "mpi")]
        {
            let comm = mpi_comm::MpiComm::init()?;
            agrees(&launch, comm.rank, comm.size)?;
            Ok(comm)
        }
        #[cfg(not(feature = "mpi"))]
        {
            without_mpi(&launch)?;
            Ok(Comm::single())
        }
    }

    /// This process's rank (0-based).
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of processes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Rank among the processes of this machine.
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }

    /// Number of processes on this machine.
    pub fn local_size(&self) -> usize {
        self.local_size
    }

    /// True on rank 0 (the one that reads and writes files).
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// True when there is more than one process.
    pub fn is_distributed(&self) -> bool {
        self.size > 1
    }

    /// Sums `values` element-wise over every rank, in place.
    pub fn all_reduce_sum_f64(&self, values: &mut [f64]) {
        #[cfg(feature = "mpi")]
        if let Some(m) = &self.mpi {
            m.all_reduce_sum_f64(values);
        }
        let _ = values;
    }

    /// Sums `values` element-wise over every rank, in place.
    pub fn all_reduce_sum_f32(&self, values: &mut [f32]) {
        #[cfg(feature = "mpi")]
        if let Some(m) = &self.mpi {
            m.all_reduce_sum_f32(values);
        }
        let _ = values;
    }

    /// Sums `buf` element-wise over every rank into `out`, bucket by bucket: `pack(range, part)`
    /// fills each bucket of `buf` (in the order of `ranges`, which must cover `0..buf.len()`),
    /// and the bucket is reduced on a thread of its own while the next is packed. Every rank
    /// must use the same ranges. Returns the time from the first bucket's start to the last
    /// one's result, and the bytes this rank contributed.
    pub fn all_reduce_packed(
        &self,
        buf: &mut [f32],
        out: &mut [f32],
        ranges: &[Range<usize>],
        pack: &mut dyn FnMut(Range<usize>, &mut [f32]),
    ) -> Result<ReduceStats> {
        check_ranges(buf.len(), out.len(), ranges)?;
        #[cfg(feature = "mpi")]
        if let Some(m) = &self.mpi {
            return Ok(m.all_reduce_packed(buf, out, ranges, pack));
        }
        let t = Instant::now();
        for r in ranges {
            pack(r.clone(), &mut buf[r.clone()]);
        }
        out.copy_from_slice(buf);
        Ok(ReduceStats {
            seconds: t.elapsed().as_secs_f64(),
            bytes: buf.len() as u64 * 4,
            buckets: ranges.len(),
        })
    }

    /// Rank 0's `bytes`, on every rank (other ranks' `bytes` are replaced).
    pub fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
        #[cfg(feature = "mpi")]
        if let Some(m) = &self.mpi {
            m.broadcast_bytes(bytes);
        }
        let _ = bytes;
    }

    /// Every rank's `value`, by rank.
    pub fn all_gather_u64(&self, value: u64) -> Vec<u64> {
        #[cfg(feature = "mpi")]
        if let Some(m) = &self.mpi {
            return m.all_gather_u64(value);
        }
        vec![value]
    }

    /// Waits until every rank is here.
    pub fn barrier(&self) {
        #[cfg(feature = "mpi")]
        if let Some(m) = &self.mpi {
            m.barrier();
        }
    }

    /// Ends the whole job with exit code `code` (MPI_Abort); one process just exits.
    pub fn abort(&self, code: i32) -> ! {
        abort(code)
    }

    /// Starts a watchdog that ends the job when [`Watchdog::beat`] is not called for `timeout`.
    pub fn watchdog(&self, timeout: Duration) -> Watchdog {
        Watchdog::start(self.rank, timeout)
    }
}

/// `ranges` cover `0..len` in order, and `out` is as long as the input.
fn check_ranges(len: usize, out: usize, ranges: &[Range<usize>]) -> Result<()> {
    let mut at = 0;
    for r in ranges {
        if r.start != at || r.end < r.start {
            break;
        }
        at = r.end;
    }
    if at != len || out != len || ranges.iter().map(|r| r.len()).sum::<usize>() != len {
        return Err(DistError::Invalid(format!(
            "all-reduce buckets {ranges:?} do not cover {len} values in order (output {out})"
        )));
    }
    Ok(())
}

/// Ends the whole job with exit code `code`: MPI_Abort on the world when MPI is running (from
/// any thread: a panic hook, a watchdog), else the process exits.
pub fn abort(code: i32) -> ! {
    #[cfg(feature = "mpi")]
    if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
        mpi_comm::abort_world(code);
    }
    std::process::exit(code)
}

/// Ends the whole job when the training makes no progress for a while (a rank that hangs, a
/// collective that never completes), instead of hanging for ever. It is armed by the first
/// [`beat`](Watchdog::beat), so that start-up (rank 0 reading or downloading weights while the
/// others wait) does not count.
pub struct Watchdog {
    state: Arc<WatchState>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct WatchState {
    start: Instant,
    /// Milliseconds since `start` of the last beat (`u64::MAX`: not armed yet).
    last: AtomicU64,
    step: AtomicU64,
    stop: AtomicBool,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("step", &self.state.step.load(Ordering::Relaxed))
            .finish()
    }
}

impl Watchdog {
    fn start(rank: usize, timeout: Duration) -> Watchdog {
        let state = Arc::new(WatchState {
            start: Instant::now(),
            last: AtomicU64::new(u64::MAX),
            step: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let s = state.clone();
        let poll = (timeout / 20).clamp(Duration::from_millis(10), Duration::from_millis(500));
        let thread = std::thread::Builder::new()
            .name("kinema-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(poll);
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                let last = s.last.load(Ordering::Relaxed);
                if last == u64::MAX {
                    continue;
                }
                let idle = (s.start.elapsed().as_millis() as u64).saturating_sub(last);
                if idle > timeout.as_millis() as u64 {
                    eprintln!(
                        "kinema: rank {rank}: no progress for {:.1} s after step {} (--dist-timeout {} s): \
                         a rank hangs or died; aborting the job",
                        idle as f64 / 1000.0,
                        s.step.load(Ordering::Relaxed),
                        timeout.as_secs_f64()
                    );
                    abort(3);
                }
            })
            .ok();
        Watchdog { state, thread }
    }

    /// Progress: `step` optimizer steps done.
    pub fn beat(&self, step: u64) {
        self.state.step.store(step, Ordering::Relaxed);
        self.state
            .last
            .store(self.state.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(feature = "mpi")]
mod mpi_comm {
    //! The MPI implementation (rsmpi).

    use std::time::Instant;

    use mpi::collective::SystemOperation;
    use mpi::environment::Universe;
    use mpi::topology::{Communicator, SimpleCommunicator};
    use mpi::traits::*;
    use mpi::Threading;

    use std::ops::Range;

    use super::{Comm, DistError, ReduceStats, Result};

    /// MPI's world. The communicator handle is made per call (it is a constant), so that a
    /// [`Comm`] is Send and Sync.
    pub(super) struct MpiComm {
        /// Finalizes MPI when dropped.
        _universe: Universe,
    }

    fn world() -> SimpleCommunicator {
        SimpleCommunicator::world()
    }

    pub(super) fn abort_world(code: i32) -> ! {
        SimpleCommunicator::world().abort(code)
    }

    impl MpiComm {
        pub(super) fn init() -> Result<Comm> {
            // The bucketed all-reduce runs on a thread of its own and the watchdog may abort
            // from another: MPI must allow calls from several threads.
            let (universe, threading) = mpi::initialize_with_threading(Threading::Multiple)
                .ok_or_else(|| DistError::Mpi("MPI was already initialized".into()))?;
            if threading < Threading::Serialized {
                return Err(DistError::Mpi(format!(
                    "the MPI library gives thread support {threading:?}; kinema needs at least \
                     Serialized (OpenMPI and MPICH both provide Multiple)"
                )));
            }
            let world = world();
            let rank = world.rank() as usize;
            let size = world.size() as usize;
            let local = world.split_shared(rank as i32);
            let (local_rank, local_size) = (local.rank() as usize, local.size() as usize);
            tracing::debug!(
                "MPI rank {rank} of {size} (local {local_rank} of {local_size}), threads {threading:?}"
            );
            Ok(Comm {
                rank,
                size,
                local_rank,
                local_size,
                mpi: Some(MpiComm { _universe: universe }),
            })
        }

        pub(super) fn all_reduce_sum_f64(&self, values: &mut [f64]) {
            let send = values.to_vec();
            world().all_reduce_into(&send[..], values, SystemOperation::sum());
        }

        pub(super) fn all_reduce_sum_f32(&self, values: &mut [f32]) {
            let send = values.to_vec();
            world().all_reduce_into(&send[..], values, SystemOperation::sum());
        }

        pub(super) fn all_reduce_packed(
            &self,
            buf: &mut [f32],
            out: &mut [f32],
            ranges: &[Range<usize>],
            pack: &mut dyn FnMut(Range<usize>, &mut [f32]),
        ) -> ReduceStats {
            let t = Instant::now();
            let (tx, rx) = std::sync::mpsc::sync_channel::<(&[f32], &mut [f32])>(ranges.len());
            std::thread::scope(|s| {
                let reducer = s.spawn(move || {
                    let world = world();
                    for (send, recv) in rx {
                        world.all_reduce_into(send, recv, SystemOperation::sum());
                    }
                });
                // Disjoint buckets of both buffers, handed over one by one once packed.
                let (mut rest_in, mut rest_out) = (&mut *buf, &mut *out);
                for r in ranges {
                    let (head, tail) = std::mem::take(&mut rest_in).split_at_mut(r.len());
                    let (out_head, out_tail) = std::mem::take(&mut rest_out).split_at_mut(r.len());
                    (rest_in, rest_out) = (tail, out_tail);
                    pack(r.clone(), head);
                    if tx.send((&*head, out_head)).is_err() {
                        break;
                    }
                }
                drop(tx);
                // The reducer only ends by returning; a panic there is a bug worth stopping on.
                if reducer.join().is_err() {
                    abort_world(4);
                }
            });
            ReduceStats {
                seconds: t.elapsed().as_secs_f64(),
                bytes: buf.len() as u64 * 4,
                buckets: ranges.len(),
            }
        }

        pub(super) fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
            let w = world();
            let root = w.process_at_rank(0);
            let mut len = bytes.len() as u64;
            root.broadcast_into(&mut len);
            bytes.resize(len as usize, 0);
            // Large messages in pieces: MPI counts are 32-bit.
            for chunk in bytes.chunks_mut(1 << 30) {
                root.broadcast_into(chunk);
            }
        }

        pub(super) fn all_gather_u64(&self, value: u64) -> Vec<u64> {
            let mut out = vec![0u64; world().size() as usize];
            world().all_gather_into(&value, &mut out[..]);
            out
        }

        pub(super) fn barrier(&self) {
            world().barrier();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_in_order_with_a_small_first() {
        let b = buckets(10, 3, 4);
        assert_eq!(b, vec![0..3, 3..7, 7..10]);
        assert!(buckets(0, 3, 4).is_empty());
        assert_eq!(buckets(2, 3, 4), vec![0..2]);
    }

    #[test]
    fn launcher_is_read_from_each_launchers_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(a, _)| *a == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(launcher(&env(&[])), None);
        let l = launcher(&env(&[
            ("OMPI_COMM_WORLD_RANK", "1"),
            ("OMPI_COMM_WORLD_SIZE", "4"),
        ]))
        .unwrap();
        assert_eq!((l.launcher, l.rank, l.size), ("OpenMPI", 1, Some(4)));
        let l = launcher(&env(&[("PMI_RANK", "0"), ("PMI_SIZE", "2")])).unwrap();
        assert_eq!((l.launcher, l.rank, l.size), ("PMI", 0, Some(2)));
        let l = launcher(&env(&[("PMIX_RANK", "3"), ("SLURM_STEP_NUM_TASKS", "8")])).unwrap();
        assert_eq!((l.launcher, l.rank, l.size), ("PMIx", 3, Some(8)));
        let l = launcher(&env(&[("SLURM_PROCID", "1"), ("SLURM_STEP_NUM_TASKS", "2")])).unwrap();
        assert_eq!((l.launcher, l.rank, l.size), ("Slurm (srun)", 1, Some(2)));
        // A batch script (no job step) is not a launch.
        assert_eq!(
            launcher(&env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4")])),
            None
        );
    }

    #[test]
    fn a_build_without_mpi_refuses_to_be_one_of_several_ranks() {
        let l = |rank, size| Launch {
            launcher: "OpenMPI",
            rank,
            size,
        };
        let e = without_mpi(&l(1, Some(2))).unwrap_err().to_string();
        assert!(e.contains("rank 1 of 2") && e.contains("without MPI"), "{e}");
        assert!(without_mpi(&l(0, Some(4))).is_err());
        assert!(without_mpi(&l(3, None)).is_err());
        assert!(without_mpi(&l(0, Some(1))).is_ok());
    }

    #[test]
    fn an_mpi_world_that_is_not_the_launched_job_is_refused() {
        let l = Launch {
            launcher: "PMI",
            rank: 1,
            size: Some(4),
        };
        assert!(agrees(&l, 1, 4).is_ok());
        let e = agrees(&l, 0, 1).unwrap_err().to_string();
        assert!(e.contains("rank 1 of 4") && e.contains("rank 0 of 1"), "{e}");
    }

    #[test]
    fn one_process_collectives_are_the_identity() {
        let c = Comm::single();
        let mut v = vec![1.0f64, 2.0];
        c.all_reduce_sum_f64(&mut v);
        assert_eq!(v, vec![1.0, 2.0]);
        let (mut buf, mut out) = (vec![0f32; 3], vec![0f32; 3]);
        let mut packed = Vec::new();
        let stats = c
            .all_reduce_packed(&mut buf, &mut out, &[0..2, 2..3], &mut |r, b| {
                packed.push(r.clone());
                b.iter_mut().zip(r).for_each(|(x, i)| *x = i as f32 + 1.0);
            })
            .unwrap();
        assert_eq!(packed, vec![0..2, 2..3]);
        assert_eq!(out, vec![1.0, 2.0, 3.0]);
        assert_eq!((stats.bytes, stats.buckets), (12, 2));
        assert!(c
            .all_reduce_packed(&mut buf, &mut out, &[0..1, 1..2], &mut |_, _| {})
            .is_err());
        assert_eq!(c.all_gather_u64(7), vec![7]);
        let mut b = vec![1u8, 2];
        c.broadcast_bytes(&mut b);
        assert_eq!(b, vec![1, 2]);
    }
}
