"""Times one eval-mode FP32 forward pass per clip of one model in one anchor runtime and prints one
JSON line: the anchor half of bench/deploy/run.sh.

  --runner torch   PyTorch CPU eager under torch.inference_mode(), torch.set_num_threads(THREADS).
                   TSN-R50 / I3D-R50 / SlowFast are bench/forward/torch_forward.py's ports of
                   GluonCV's models (imported, not copied); R(2+1)D-18 is torchvision's
                   r2plus1d_18 with 400 classes.
  --runner onnx    The same PyTorch model (same seed, so the same weights) exported to ONNX
                   (opset 17, fixed input shape, TorchScript exporter) into a temporary folder and
                   run by onnxruntime's CPU provider: intra_op_num_threads=THREADS,
                   inter_op_num_threads=1, sequential execution, ORT_ENABLE_ALL graph optimizations.
  --runner mxnet   GluonCV's own model (MXNet 1.9.1 + oneDNN, run in the GluonCV venv of
                   tools/gluoncv-venv.sh) hybridized with backend='MKLDNN', static_alloc,
                   static_shape: oneDNN's fused graph (Conv + BN + ReLU/Add). For R(2+1)D-18 this is
                   GluonCV's r2plus1d_resnet18_kinetics400, GluonCV's own R(2+1)D-18.

--model is kinema's registry name. Weights are random (seed 0), the input a fixed N(0, 1) tensor
(numpy RandomState(1)); --warmup untimed passes, then --reps timed ones; median and min in ms.
A runner that cannot run the model still prints one JSON line, with "status" ("n/a" or
"failed") and "reason" instead of timings.

  python anchors.py --runner onnx --model i3d_resnet50_v1_kinetics400 --shape 1,3,32,224,224 \\
      --threads 2 --reps 5 --warmup 2
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FORWARD = os.path.join(HERE, "..", "forward")
NCLASS = 400

# kinema registry name -> (torch_forward.py model name or "torchvision:r2plus1d_18",
#                          GluonCV model name, GluonCV num_segments or None, note on the MXNet side)
MODELS = {
    "resnet50_v1b_kinetics400": ("resnet50_v1b", "resnet50_v1b_kinetics400", 7, None),
    "i3d_resnet50_v1_kinetics400": ("i3d_resnet50_v1", "i3d_resnet50_v1_kinetics400", None, None),
    "slowfast_4x16_resnet50_kinetics400": ("slowfast_4x16_resnet50", "slowfast_4x16_resnet50_kinetics400",
                                           None, None),
    "r2plus1d_18_kinetics400": ("torchvision:r2plus1d_18", "r2plus1d_resnet18_kinetics400", None,
                                "GluonCV's r2plus1d_resnet18_kinetics400"),
}


def fixed_input(shape):
    return np.random.RandomState(1).standard_normal(shape).astype(np.float32)


def summary(times):
    return dict(median_ms=round(statistics.median(times), 2), min_ms=round(min(times), 2),
                reps_ms=[round(t, 2) for t in times])


def time_passes(run, warmup, reps):
    for _ in range(warmup):
        run()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def torch_model(model, shape):
    """Eval-mode PyTorch model with seeded random weights (the same for --runner torch and onnx)."""
    import torch

    name = MODELS[model][0]
    if name.startswith("torchvision:"):
        import torchvision

        torch.manual_seed(0)
        net = getattr(torchvision.models.video, name.split(":", 1)[1])(weights=None, num_classes=NCLASS)
        return net.eval()
    sys.path.insert(0, FORWARD)
    from torch_forward import build_model

    net, port_shape = build_model(name)
    if list(port_shape) != list(shape):
        raise SystemExit(f"{model}: torch_forward's port takes {port_shape}, not {shape}")
    return net


def run_torch(a, shape):
    import torch

    torch.set_num_threads(a.threads)
    net = torch_model(a.model, shape)
    x = torch.from_numpy(fixed_input(shape))
    out = {}

    def step():
        out["y"] = net(x)

    with torch.inference_mode():
        times = time_passes(step, a.warmup, a.reps)
        if not out:
            step()
    assert tuple(out["y"].shape) == (1, NCLASS), out["y"].shape
    return dict(impl="pytorch", version=torch.__version__, threads=torch.get_num_threads(), **summary(times))


def run_onnx(a, shape):
    import onnxruntime as ort
    import torch

    torch.set_num_threads(a.threads)
    net = torch_model(a.model, shape)
    xt = torch.from_numpy(fixed_input(shape))
    with tempfile.TemporaryDirectory(prefix="kinema-deploy-onnx-") as tmp:
        path = os.path.join(tmp, a.model + ".onnx")
        t0 = time.perf_counter()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (xt,), path, dynamo=False, opset_version=17, input_names=["x"],
                              output_names=["logits"], do_constant_folding=True)
        export_s = time.perf_counter() - t0
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        t0 = time.perf_counter()
        sess = ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])
        session_s = time.perf_counter() - t0
    x = xt.numpy()
    feeds = {sess.get_inputs()[0].name: x}
    out = {}

    def step():
        out["y"] = sess.run(None, feeds)[0]

    times = time_passes(step, a.warmup, a.reps)
    if not out:
        step()
    y = out["y"]
    assert y.shape == (1, NCLASS), y.shape
    with torch.inference_mode():  # the exported graph computes what the PyTorch model does
        ref = net(xt).numpy()
    rel = float(np.abs(y - ref).max() / max(np.abs(ref).max(), 1e-12))
    return dict(impl="onnxruntime", version=ort.__version__, torch_version=torch.__version__,
                threads=a.threads, opset=17, export_s=round(export_s, 1), session_s=round(session_s, 1),
                max_abs_diff_over_max_abs_torch=rel, **summary(times))


def run_mxnet(a, shape):
    import mxnet as mx

    sys.path.insert(0, FORWARD)
    # importing it installs its offline backbones for GluonCV's TSN constructors
    import mxnet_forward  # noqa: F401
    from gluoncv.model_zoo import get_model

    _, gluon, segments, note = MODELS[a.model]
    kw = {} if segments is None else dict(num_segments=segments)
    mx.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = get_model(gluon, pretrained=False, pretrained_base=False, **kw)
        net.initialize(mx.init.Xavier(), force_reinit=True)
    x = mx.nd.array(fixed_input(shape))
    net(x).wait_to_read()  # resolve deferred shapes (not timed, not a warm-up of the fused graph)
    net.hybridize(backend="MKLDNN", static_alloc=True, static_shape=True)
    out = {}

    def step():
        out["y"] = net(x)
        out["y"].wait_to_read()

    times = time_passes(step, a.warmup, a.reps)
    if not out:
        step()
    assert out["y"].shape == (1, NCLASS), out["y"].shape
    graph = getattr(net, "_cached_graph", None)
    fused = None
    if graph:
        fused = sum(1 for n in json.loads(graph[1].tojson())["nodes"] if n["op"].startswith("_sg_mkldnn"))
    if not fused:
        raise RuntimeError("the MKLDNN backend fused no operator (no _sg_mkldnn node in the cached graph)")
    res = dict(impl="mxnet_fused", version=mx.__version__, gluon_model=gluon,
               threads=int(os.environ.get("OMP_NUM_THREADS", "0")), fused_ops=fused,
               params=int(sum(p.data().size for p in net.collect_params().values())), **summary(times))
    if note:
        res["note"] = note
    return res


RUNNERS = {"torch": run_torch, "onnx": run_onnx, "mxnet": run_mxnet}
IMPL = {"torch": "pytorch", "onnx": "onnxruntime", "mxnet": "mxnet_fused"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runner", required=True, choices=sorted(RUNNERS))
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--shape", required=True, help="N,3,T,H,W (or N,3,H,W for TSN)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    shape = [int(v) for v in a.shape.split(",")]
    base = dict(impl=IMPL[a.runner], model=a.model, shape=shape, warmup=a.warmup, reps=a.reps)
    try:
        res = RUNNERS[a.runner](a, shape)
    except Exception as e:  # one JSON line whatever happens, so that the table can say why
        traceback.print_exc()
        status = "n/a" if a.runner == "mxnet" and MODELS[a.model][3] else "failed"
        res = dict(status=status, reason=f"{type(e).__name__}: {e}"[:300])
    print(json.dumps({**base, **res}), flush=True)


if __name__ == "__main__":
    main()
