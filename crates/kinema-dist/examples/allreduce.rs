//! All-reduce timing over the ranks of an MPI job (what `bench/distributed/run.sh` feeds its
//! scaling model with): for message sizes from 4 bytes to 100 MiB, the median seconds of a sum
//! all-reduce of f32 values, and the bus bandwidth it reaches (2(N-1)/N x bytes / seconds, the
//! ring algorithm's traffic per rank). Rank 0 prints one JSON line per size.
//!
//!   cargo build --release -p kinema-dist --features mpi --example allreduce
//!   mpirun -np 2 target/release/examples/allreduce [MAX_BYTES]

use std::time::Instant;

fn main() {
    let comm = match kinema_dist::Comm::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("allreduce: {e}");
            std::process::exit(2);
        }
    };
    let max: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100 << 20);
    let n = comm.size() as f64;
    let mut bytes = 4usize;
    while bytes <= max {
        let len = bytes / 4;
        let mut v = vec![1f32; len];
        // Fewer repetitions for big messages; a few warm-up rounds first.
        let reps = (((64usize << 20) / bytes).clamp(5, 200)) + 2;
        let mut times = Vec::with_capacity(reps);
        for _ in 0..reps {
            comm.barrier();
            let t = Instant::now();
            comm.all_reduce_sum_f32(&mut v);
            times.push(t.elapsed().as_secs_f64());
        }
        let mut t = times[2..].to_vec();
        t.sort_by(|a, b| a.total_cmp(b));
        let med = t[t.len() / 2];
        if comm.is_root() {
            println!(
                "{{\"ranks\":{},\"bytes\":{bytes},\"seconds\":{med:.9},\"busbw_gbit\":{:.4}}}",
                comm.size(),
                2.0 * (n - 1.0) / n * bytes as f64 * 8.0 / med / 1e9
            );
        }
        bytes *= 4;
    }
}
