"""Turns bench/forward/results/raw.jsonl into the RESULTS.md table (stdout)."""
import datetime
import json
import subprocess
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
threads = sys.argv[2]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
order = ["resnet50_v1b_kinetics400", "i3d_resnet50_v1_kinetics400", "slowfast_4x16_resnet50_kinetics400"]
torch_name = {"resnet50_v1b_kinetics400": "resnet50_v1b", "i3d_resnet50_v1_kinetics400": "i3d_resnet50_v1",
              "slowfast_4x16_resnet50_kinetics400": "slowfast_4x16_resnet50"}


def pick(impl, model, **kw):
    for r in rows:
        if r["impl"] == impl and r["model"] == model and all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


tv = next((r["version"] for r in rows if r["impl"] == "pytorch"), "?")
mv = next((r["version"] for r in rows if r["impl"] == "mxnet"), "?")
print("# Eval-mode forward per clip: kinema vs PyTorch CPU eager vs MXNet + oneDNN\n")
print(f"`bash bench/forward/run.sh`, {datetime.date.today()}, on {cpu} ({threads} threads everywhere; "
      f"PyTorch {tv}, MXNet {mv}; kinema: oneDNN engine ("folded") and burn's ops ("unfolded"), release). Median of the timed passes "
      "after one warm-up, random weights, one fixed input.\n")
print("| model | input | kinema folded ms | kinema unfolded ms | PyTorch ms | MXNet plain ms | MXNet fused ms "
      "| kinema / best other |")
print("|---|---|---|---|---|---|---|---|")
for m in order:
    k = pick("kinema", m, folded=True)
    u = pick("kinema", m, folded=False)
    t = pick("pytorch", torch_name[m])
    x = pick("mxnet", m)
    if not (k and u and t and x):
        print(f"| {m} | missing results | | | | | | |")
        continue
    best = min(t["median_ms"], x["median_ms"], x["plain_median_ms"])
    print(f"| {m} | {k['shape']} | {k['median_ms']:.0f} | {u['median_ms']:.0f} | {t['median_ms']:.0f} | "
          f"{x['plain_median_ms']:.0f} | {x['median_ms']:.0f} | {k['median_ms'] / best:.2f}x |")
print("\nBelow 1.0x kinema is faster than the fastest of the others; the goal is at most 2.0x. "
      "Raw numbers: `bench/forward/results/raw.jsonl`.")
