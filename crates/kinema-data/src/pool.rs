//! Ordered parallel map over a job list: job `k` goes to worker `k % workers`, whose bounded
//! queue the consumer reads in turn (PyTorch's scheme: results arrive in job order, at most
//! `prefetch` ready ahead per worker, no reordering buffer). With 0 workers, jobs run in the
//! consumer's thread. Dropping the iterator stops the workers at their next send.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A worker's job function, boxed.
type Work<J, R> = Box<dyn FnMut(&J) -> R + Send>;

/// Results of `jobs`, in order.
pub struct Ordered<J, R> {
    jobs: Arc<Vec<J>>,
    next: usize,
    local: Option<Work<J, R>>,
    receivers: Vec<Receiver<R>>,
    handles: Vec<JoinHandle<()>>,
    lost: Box<dyn Fn(usize) -> R + Send>,
}

/// Runs `make()`-made workers over `jobs`. Each worker gets its own state from `make` (its
/// readers, say). `lost(k)` stands for job `k`'s result if its worker died.
pub fn ordered<J, R, F, W>(
    jobs: Vec<J>,
    workers: usize,
    prefetch: usize,
    make: F,
    lost: impl Fn(usize) -> R + Send + 'static,
) -> Ordered<J, R>
where
    J: Send + Sync + 'static,
    R: Send + 'static,
    F: Fn() -> W,
    W: FnMut(&J) -> R + Send + 'static,
{
    let jobs = Arc::new(jobs);
    let mut receivers = Vec::new();
    let mut handles = Vec::new();
    for w in 0..workers {
        let (tx, rx) = sync_channel(prefetch.max(1));
        let (jobs, mut work) = (jobs.clone(), make());
        let spawned = std::thread::Builder::new()
            .name(format!("kinema-loader-{w}"))
            .spawn(move || {
                for k in (w..jobs.len()).step_by(workers) {
                    if tx.send(work(&jobs[k])).is_err() {
                        break;
                    }
                }
            });
        match spawned {
            Ok(h) => {
                receivers.push(rx);
                handles.push(h);
            }
            Err(e) => {
                // Job k belongs to worker k % workers: without all of them, run here.
                tracing::warn!("could not start loader worker {w}: {e}; loading in this thread");
                receivers.clear();
                handles.drain(..).for_each(|h| drop(h.join()));
                break;
            }
        }
    }
    let local: Option<Work<J, R>> = if receivers.is_empty() {
        Some(Box::new(make()))
    } else {
        None
    };
    Ordered {
        jobs,
        next: 0,
        local,
        receivers,
        handles,
        lost: Box::new(lost),
    }
}

impl<J, R> Iterator for Ordered<J, R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        if self.next >= self.jobs.len() {
            return None;
        }
        let k = self.next;
        self.next += 1;
        if let Some(work) = &mut self.local {
            return Some(work(&self.jobs[k]));
        }
        let rx = &self.receivers[k % self.receivers.len()];
        Some(rx.recv().unwrap_or_else(|_| (self.lost)(k)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.jobs.len() - self.next;
        (left, Some(left))
    }
}

impl<J, R> Drop for Ordered<J, R> {
    fn drop(&mut self) {
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_job_order_with_any_worker_count() {
        for workers in [0, 1, 2, 5] {
            let it = ordered((0..20u64).collect(), workers, 2, || |j: &u64| j * j, |_| u64::MAX);
            assert_eq!(
                it.collect::<Vec<_>>(),
                (0..20u64).map(|j| j * j).collect::<Vec<_>>()
            );
        }
        // per-worker state, and an early drop
        let mut it = ordered(
            (0..100u32).collect(),
            3,
            1,
            || {
                let mut seen = 0;
                move |_: &u32| {
                    seen += 1;
                    seen
                }
            },
            |_| 0,
        );
        assert_eq!(it.next(), Some(1));
        drop(it);
    }
}
