//! `mpirun -np 2 kinema train` for real (OpenMPI on this machine): the same weights and logs as
//! one process with `micro_batches = 2`, for the embedded default's net and an R(2+1)D-18; a
//! killed two-rank run resumes to the same result; a rank that fails, hangs or dies ends the
//! whole job with a non-zero exit and a message naming the rank.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kinema_models::weights::read_safetensors;

mod common;
use common::{kinema, ok, synth};

fn config(model: &str, epochs: usize, micro: usize) -> String {
    format!(
        r#"
model = "{model}"
seed = 3
[data]
root = "syn"
train = "syn/train.txt"
val = "syn/val.txt"
classes = "syn/classes.txt"
new_length = 4
new_step = 2
new_width = 40
new_height = 40
input_size = 32
flip = false
num_workers = 1
[train]
epochs = {epochs}
batch_size = 4
micro_batches = {micro}
lr = 0.05
lr_mode = "cosine"
warmup_epochs = 1
label_smoothing = 0.1
clip_grad = 5.0
checkpoint_every = 1
log_interval = 1
"#
    )
}

/// `mpirun -np N kinema` (as root too, as CI runs), one thread per rank.
fn mpirun(np: usize) -> Command {
    let found = Command::new("mpirun").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "mpirun not found: install OpenMPI (bash scripts/install-deps.sh installs openmpi-bin)"
    );
    let mut c = Command::new("mpirun");
    c.args(["-np", &np.to_string(), "--oversubscribe", "--bind-to", "none"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        // Containers often forbid the cross-memory attach of shared-memory transfers.
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .arg(env!("CARGO_BIN_EXE_kinema"));
    c
}

fn train_args(c: &mut Command, cfg: &Path, out: &Path) {
    c.arg("train")
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .args(["--threads", "1"]);
}

/// Largest difference between two weight files relative to each tensor's largest value.
fn max_rel_diff(a: &Path, b: &Path) -> f32 {
    let (ta, tb) = (read_safetensors(a).unwrap().0, read_safetensors(b).unwrap().0);
    assert_eq!(ta.len(), tb.len());
    let mut worst = 0f32;
    for (x, y) in ta.iter().zip(&tb) {
        assert_eq!((&x.name, &x.shape), (&y.name, &y.shape));
        let scale = x.data.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        let err = x
            .data
            .iter()
            .zip(&y.data)
            .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        worst = worst.max(err / scale);
    }
    worst
}

/// A log file without its timing column (clips/s, seconds).
fn log_without_timing(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.pop();
            f.join(",")
        })
        .collect()
}

fn dataset(dir: &Path) {
    synth(dir, "syn", "2", "4", "5", ("40", "48"), ("12", "16"));
}

#[test]
fn two_ranks_give_the_weights_and_logs_of_one_process_with_two_micro_batches() {
    let d = tempfile::tempdir().unwrap();
    dataset(d.path());
    for (model, epochs) in [("kinema_motion_custom", 2), ("r2plus1d_resnet18_custom", 1)] {
        let (one, two) = (
            d.path().join(format!("{model}_1")),
            d.path().join(format!("{model}_2")),
        );
        let cfg_micro = d.path().join(format!("{model}_micro.toml"));
        let cfg_global = d.path().join(format!("{model}.toml"));
        std::fs::write(&cfg_micro, config(model, epochs, 2)).unwrap();
        std::fs::write(&cfg_global, config(model, epochs, 1)).unwrap();
        let mut c = kinema();
        train_args(&mut c, &cfg_micro, &one);
        ok(&mut c);
        let mut c = mpirun(2);
        train_args(&mut c, &cfg_global, &two);
        ok(&mut c);
        let err = max_rel_diff(&one.join("model.safetensors"), &two.join("model.safetensors"));
        assert!(err <= 1e-4, "{model}: weights differ by {err} (relative)");
        // Only rank 0 writes: one header and one line per step, as one process writes them.
        let (la, lb) = (
            log_without_timing(&one.join("log.csv")),
            log_without_timing(&two.join("log.csv")),
        );
        assert_eq!(la.len(), 1 + 2 * epochs, "{la:?}");
        assert_eq!(la, lb, "{model}: step logs differ");
        let (ea, eb) = (
            log_without_timing(&one.join("epochs.csv")),
            log_without_timing(&two.join("epochs.csv")),
        );
        assert_eq!(ea, eb, "{model}: epoch logs differ");
        for f in ["checkpoint.safetensors", "best.safetensors", "curves.png"] {
            assert!(two.join(f).exists(), "{model}: {f} missing");
        }
    }
    // Ranks and micro-batches together: 2 ranks x 2 micro-batches = one process with 4.
    let (cfg4, cfg2) = (d.path().join("micro4.toml"), d.path().join("micro2.toml"));
    std::fs::write(&cfg4, config("kinema_motion_custom", 2, 4)).unwrap();
    std::fs::write(&cfg2, config("kinema_motion_custom", 2, 2)).unwrap();
    let (one, two) = (d.path().join("micro4"), d.path().join("ranks2_micro2"));
    let mut c = kinema();
    train_args(&mut c, &cfg4, &one);
    ok(&mut c);
    let mut c = mpirun(2);
    train_args(&mut c, &cfg2, &two);
    ok(&mut c);
    let err = max_rel_diff(&one.join("model.safetensors"), &two.join("model.safetensors"));
    assert!(
        err <= 1e-4,
        "2 ranks x 2 micro-batches: weights differ by {err} (relative)"
    );
    assert_eq!(
        log_without_timing(&one.join("log.csv")),
        log_without_timing(&two.join("log.csv"))
    );
}

/// Ranks of a running job started with `marker` on their command line, as (rank, pid).
fn ranks_of(marker: &Path) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmd).contains(&*marker.to_string_lossy()) {
            continue;
        }
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let rank = env
            .split(|b| *b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok())
            .find_map(|kv| kv.strip_prefix("OMPI_COMM_WORLD_RANK="))
            .and_then(|r| r.parse().ok());
        if let Some(r) = rank {
            out.push((r, pid));
        }
    }
    out
}

/// Waits until `file` has at least `lines` lines (or the child ends, or 5 minutes pass).
fn wait_for_lines(child: &mut Child, file: &Path, lines: usize) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(300) {
        let n = std::fs::read_to_string(file)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if n >= lines || child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to end (at most `limit`); its exit success and stderr+stdout.
fn finish(mut child: Child, limit: Duration) -> (bool, String) {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut text = String::new();
            for s in [
                child.stderr.take().map(read_all),
                child.stdout.take().map(read_all),
            ]
            .into_iter()
            .flatten()
            {
                text.push_str(&s);
            }
            return (status.success(), text);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("the job did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_all(mut r: impl std::io::Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

#[test]
fn a_killed_two_rank_run_resumes_to_the_same_result() {
    let d = tempfile::tempdir().unwrap();
    dataset(d.path());
    let cfg = d.path().join("train.toml");
    std::fs::write(&cfg, config("kinema_motion_custom", 3, 1)).unwrap();
    let whole = d.path().join("whole");
    let mut c = mpirun(2);
    train_args(&mut c, &cfg, &whole);
    ok(&mut c);

    let run = d.path().join("run");
    let mut c = mpirun(2);
    train_args(&mut c, &cfg, &run);
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Killed (every process of the job) once its third step is logged: the checkpoint on disk
    // is then the second step's or the third's, whichever the kill found.
    wait_for_lines(&mut child, &run.join("log.csv"), 4);
    for (_, pid) in ranks_of(&run) {
        signal(pid, "-KILL");
    }
    let _ = child.kill();
    let _ = child.wait();
    let done = std::fs::read_to_string(run.join("log.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(done < 6, "the run finished ({done} steps) before it was killed");

    let mut c = mpirun(2);
    train_args(&mut c, &cfg, &run);
    ok(c.arg("--resume"));
    let err = max_rel_diff(&whole.join("model.safetensors"), &run.join("model.safetensors"));
    assert!(err <= 1e-4, "resumed weights differ by {err} (relative)");
    assert_eq!(
        log_without_timing(&whole.join("epochs.csv")),
        log_without_timing(&run.join("epochs.csv"))
    );
}

#[test]
fn a_rank_that_fails_hangs_or_dies_ends_the_job_naming_it() {
    let d = tempfile::tempdir().unwrap();
    dataset(d.path());

    // Fails: one training video is damaged; the rank whose share holds it stops the job.
    let broken: PathBuf = {
        let list = std::fs::read_to_string(d.path().join("syn/train.txt")).unwrap();
        let first = list
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        d.path().join("syn").join(first)
    };
    let good = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, &good[..good.len() / 3]).unwrap();
    let cfg = d.path().join("train.toml");
    std::fs::write(&cfg, config("kinema_motion_custom", 2, 1)).unwrap();
    let mut c = mpirun(2);
    train_args(&mut c, &cfg, &d.path().join("failing"));
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (success, text) = finish(child, Duration::from_secs(120));
    assert!(!success, "{text}");
    assert!(
        text.contains("kinema: rank ") && text.contains("step ") && text.contains("aborting the job"),
        "{text}"
    );
    let name = broken.file_name().unwrap().to_string_lossy();
    assert!(text.contains(&*name), "the damaged video is not named: {text}");
    std::fs::write(&broken, &good).unwrap();

    // Disagrees: rank 1 started with another config (mpirun's MPMD form).
    let other = d.path().join("other.toml");
    std::fs::write(
        &other,
        config("kinema_motion_custom", 2, 1).replace("lr = 0.05", "lr = 0.02"),
    )
    .unwrap();
    let out = d.path().join("disagreeing");
    let mut c = mpirun(1);
    train_args(&mut c, &cfg, &out);
    c.args([":", "-np", "1", env!("CARGO_BIN_EXE_kinema")]);
    train_args(&mut c, &other, &out);
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (success, text) = finish(child, Duration::from_secs(120));
    assert!(!success, "{text}");
    assert!(
        text.contains("rank 1's config or training list differs"),
        "{text}"
    );

    // Hangs: rank 1 stopped mid-run; rank 0's watchdog ends the job.
    std::fs::write(&cfg, config("kinema_motion_custom", 200, 1)).unwrap();
    let out = d.path().join("hanging");
    let mut c = mpirun(2);
    train_args(&mut c, &cfg, &out);
    let mut child = c
        .args(["--dist-timeout", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lines(&mut child, &out.join("log.csv"), 3);
    let ranks = ranks_of(&out);
    let stopped: Vec<u32> = ranks.iter().filter(|r| r.0 == 1).map(|r| r.1).collect();
    assert!(!stopped.is_empty(), "rank 1 not found among {ranks:?}");
    stopped.iter().for_each(|p| signal(*p, "-STOP"));
    let (success, text) = finish(child, Duration::from_secs(120));
    stopped.iter().for_each(|p| signal(*p, "-KILL"));
    assert!(!success, "{text}");
    assert!(text.contains("rank 0: no progress"), "{text}");

    // Dies: rank 1 killed mid-run; mpirun ends the job and names it.
    let out = d.path().join("dying");
    let mut c = mpirun(2);
    train_args(&mut c, &cfg, &out);
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_lines(&mut child, &out.join("log.csv"), 3);
    ranks_of(&out)
        .iter()
        .filter(|r| r.0 == 1)
        .for_each(|r| signal(r.1, "-KILL"));
    let (success, text) = finish(child, Duration::from_secs(120));
    assert!(!success, "{text}");
    assert!(text.contains("rank 1"), "{text}");
}

/// Two "machines" (network namespaces on this box, a 1 Gb/s link between them, MPI over TCP,
/// the remote rank launched as ssh would): the weights and logs of one process with two
/// micro-batches. Needs root, as CI runs; elsewhere it says so and checks nothing.
#[test]
fn two_hosts_over_tcp_give_the_one_process_result() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"));
    if !root.unwrap_or(false) {
        eprintln!("two_hosts_over_tcp_give_the_one_process_result: not root, no network namespaces");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    dataset(d.path());
    let (cfg_micro, cfg) = (d.path().join("micro.toml"), d.path().join("train.toml"));
    std::fs::write(&cfg_micro, config("kinema_motion_custom", 2, 2)).unwrap();
    std::fs::write(&cfg, config("kinema_motion_custom", 2, 1)).unwrap();
    let (one, two) = (d.path().join("one"), d.path().join("two"));
    let mut c = kinema();
    train_args(&mut c, &cfg_micro, &one);
    ok(&mut c);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/netns-mpi.sh");
    let mut c = Command::new("bash");
    c.arg(script)
        .args([
            "--hosts",
            "2",
            "--rate",
            "1gbit",
            "--",
            env!("CARGO_BIN_EXE_kinema"),
        ])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    train_args(&mut c, &cfg, &two);
    let out = ok(&mut c);
    assert!(out.contains("finished"), "{out}");
    let err = max_rel_diff(&one.join("model.safetensors"), &two.join("model.safetensors"));
    assert!(err <= 1e-4, "weights differ by {err} (relative)");
    assert_eq!(
        log_without_timing(&one.join("log.csv")),
        log_without_timing(&two.join("log.csv"))
    );
}
