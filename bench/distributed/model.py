"""Scaling of kinema's data-parallel training: the measured numbers of bench/distributed/run.sh
and a ring all-reduce model fed with them.

Measured (this box): median seconds of a training step (the first step left out) on 1 rank and
on 2 ranks with the same global batch, one thread each; the all-reduce seconds, bytes and
buckets of a step; all-reduce time against message size over shared memory and over TCP
between two network namespaces (plain, and shaped to 1 Gb/s).

Model (weak scaling, as GluonCV measured: each machine keeps the 1-rank run's batch):
    step(N) = compute + sum over buckets b of [2(N-1)/N * bytes_b / bw + 2(N-1) * lat]
    speedup(N) = N * compute / step(N)
compute = the measured 1-rank step; buckets = kinema's (1 MiB first, then 25 MiB);
bw = link rate x the efficiency MPI over TCP reached on the 1 Gb/s link (bus bandwidth of the
measured all-reduce nearest kinema's 25 MiB bucket / 1 Gb/s); lat = the 2-rank all-reduce time of 4 bytes over TCP (one
exchange; a ring of N needs N-1 such steps each way, counted as (N-1) x lat). The all-reduce is
not overlapped with the backward pass (it starts after it), so nothing is subtracted.

usage: python3 model.py RESULTS_DIR  (prints the Markdown report)
"""

import json
import os
import platform
import statistics
import subprocess
import sys

GLUONCV = {2: 1.6, 4: 3.2, 8: 6.0}
FIRST, BUCKET = 1 << 20, 25 << 20


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load(path):
    with open(path) as f:
        return json.load(f)["timing"]


def lines(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]


def buckets(total):
    out, at = [], 0
    while at < total:
        n = min(FIRST if not out else BUCKET, total - at)
        out.append(n)
        at += n
    return out


def main(d):
    runs = {}
    for f in sorted(os.listdir(d)):
        if f.endswith("-1.json") or f.endswith("-2.json"):
            model, ranks = f[:-5].rsplit("-", 1)
            runs.setdefault(model, {})[int(ranks)] = load(os.path.join(d, f))
    shm = lines(os.path.join(d, "allreduce-shm.jsonl"))
    tcp = lines(os.path.join(d, "allreduce-tcp.jsonl"))
    tcp1 = lines(os.path.join(d, "allreduce-tcp-1gbit.jsonl"))
    threads = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print("# Distributed training: measured scaling and a model\n")
    print(f"CPU: {cpu()}, {threads} cores; `bash bench/distributed/run.sh`. "
          "Each rank runs one compute thread; steps are the median after the first.\n")
    print("## Measured on this box: 1 rank vs 2 ranks, same global batch\n")
    print("| model | global batch | 1 rank s/step | 2 ranks s/step | speedup | all-reduce s/step (2 ranks) | bytes/step | buckets |")
    print("|---|---|---|---|---|---|---|---|")
    compute = {}
    for model, r in sorted(runs.items()):
        if 1 not in r or 2 not in r:
            continue
        t1 = statistics.median(r[1]["step_each"][1:] or r[1]["step_each"])
        t2 = statistics.median(r[2]["step_each"][1:] or r[2]["step_each"])
        ar = statistics.median(r[2]["allreduce_each"][1:] or r[2]["allreduce_each"] or [0])
        compute[model] = (t1, r[2]["allreduce_bytes"])
        batch = r[1].get("batch", "")
        print(f"| {model} | {batch} | {t1:.3f} | {t2:.3f} | **{t1 / t2:.2f}x** | {ar:.3f} | "
              f"{r[2]['allreduce_bytes'] / 2**20:.1f} MiB | {r[2]['buckets']} |")
    print()

    def table(rows, title):
        if not rows:
            return
        print(f"### {title}\n")
        print("| bytes | microseconds | bus bandwidth Gb/s |")
        print("|---|---|---|")
        for x in rows:
            print(f"| {x['bytes']} | {x['seconds'] * 1e6:.1f} | {x['busbw_gbit']:.2f} |")
        print()

    print("## All-reduce, 2 ranks (`target/release/examples/allreduce`)\n")
    table(shm, "Shared memory (one machine)")
    table(tcp, "TCP between two network namespaces (veth, scripts/netns-mpi.sh)")
    table(tcp1, "TCP, link shaped to 1 Gb/s (tc tbf)")
    if not tcp or not tcp1:
        print("No TCP measurement (needs root for network namespaces): no model.\n")
        return
    lat = min(x["seconds"] for x in tcp if x["bytes"] <= 64)
    big = min(tcp1, key=lambda x: abs(x["bytes"] - BUCKET))
    eff = min(1.0, big["busbw_gbit"] / 1.0)
    if shm:
        # The model against this box: its all-reduce term with the shared-memory curve (the
        # measured bandwidth at each bucket's size) beside the all-reduce measured in training.
        def at(size):
            return min(shm, key=lambda x: abs(x["bytes"] - size))
        print("## The model against this box\n")
        print("The measured time runs from rank 0's arrival at the all-reduce, so it also holds "
              "any wait for the slower rank (the ranks' halves of a batch are not equally costly).\n")
        print("| model | predicted all-reduce s/step (2 ranks, shared memory) | measured |")
        print("|---|---|---|")
        for model, r in sorted(runs.items()):
            if 2 not in r:
                continue
            pred = sum(b * 8 / (at(b)["busbw_gbit"] * 1e9) + at(4)["seconds"] for b in buckets(r[2]["allreduce_bytes"]))
            meas = statistics.median(r[2]["allreduce_each"][1:] or r[2]["allreduce_each"] or [0])
            print(f"| {model} | {pred:.3f} | {meas:.3f} |")
        print()
    print("## Model: N machines, ring all-reduce\n")
    print(f"Fed with: latency per ring step {lat * 1e6:.1f} us (4-byte all-reduce over TCP), "
          f"MPI-over-TCP efficiency {eff:.2f} of the link rate ({big['busbw_gbit']:.3f} Gb/s bus "
          f"bandwidth on the 1 Gb/s link at {big['bytes'] >> 20} MiB, the size nearest a bucket), the 1-rank step as compute, "
          "kinema's buckets (1 MiB, then 25 MiB). Each machine keeps the 1-rank batch (weak "
          "scaling, as GluonCV's numbers: 1.6x on 2 machines, 3.2x on 4, 6x on 8).\n")
    print("| model | link | " + " | ".join(f"N={n}" for n in (2, 4, 8, 16)) + " |")
    print("|---|---|" + "---|" * 4)
    for model, (t1, nbytes) in sorted(compute.items()):
        bs = buckets(nbytes)
        for gbit in (10, 25, 100):
            bw = gbit * 1e9 / 8 * eff
            cells = []
            for n in (2, 4, 8, 16):
                comm = sum(2 * (n - 1) / n * b / bw + 2 * (n - 1) * lat for b in bs)
                cells.append(f"{n * t1 / (t1 + comm):.2f}x ({comm:.3f} s)")
            print(f"| {model} | {gbit} Gb/s | " + " | ".join(cells) + " |")
    print("| GluonCV (8 GPUs per machine, Horovod) | - | " +
          " | ".join(f"{GLUONCV[n]}x" if n in GLUONCV else "-" for n in (2, 4, 8, 16)) + " |")
    print("\nCells: predicted speedup over one machine (all-reduce seconds per step). A CPU step "
          "takes seconds, so even 10 Gb/s keeps the all-reduce a small share of it; GPU steps "
          "are 10-100x shorter, which is why GluonCV's GPU machines scale less.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results"))
