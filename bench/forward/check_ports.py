"""Checks the PyTorch ports in torch_forward.py against GluonCV's own models, layer by layer.

For each model both sides run one forward pass at the benchmark input shape and record, in
execution order, every conv / batch-norm / max-pool / global-pool / dense layer with its output
shape (convs and pools also with kernel, stride and padding), plus the multiset of parameter
shapes (BN running mean / var included), the parameter totals (with and without BN running
stats) and the conv + dense MACs. The GluonCV side (mxnet) runs in the gluoncv venv, the
PyTorch side in the bench venv; this script re-invokes itself under the gluoncv interpreter
with --side mxnet and reads one JSON line back.

  ~/.cache/kinema/bench-venv/bin/python bench/forward/check_ports.py [--model NAME ...]

env: GLUONCV_VENV (default ~/.cache/kinema/gluoncv-venv: mxnet 1.9.1 + gluoncv)
Exits non-zero if any model differs.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
# benchmark name -> (GluonCV model-zoo name, extra get_model kwargs)
GLUON = {
    "resnet50_v1b": ("resnet50_v1b_kinetics400", {"num_segments": 7}),
    "i3d_resnet50_v1": ("i3d_resnet50_v1_kinetics400", {}),
    "slowfast_4x16_resnet50": ("slowfast_4x16_resnet50_kinetics400", {}),
}
SHAPES = {
    "resnet50_v1b": [7, 3, 224, 224],
    "i3d_resnet50_v1": [1, 3, 32, 224, 224],
    "slowfast_4x16_resnet50": [1, 3, 36, 224, 224],
}


def tup(v, n):
    return list(v) if isinstance(v, (tuple, list)) else [v] * n


def summary(trace, param_shapes, trainable, out_shape):
    macs = sum(e.pop("macs", 0) for e in trace)
    return {
        "trainable": trainable,
        "trace": trace,
        "param_shapes": sorted(param_shapes),
        "params": sum(math.prod(s) for s in param_shapes),
        "macs": macs,
        "out_shape": out_shape,
    }


def mxnet_side(name):
    import mxnet as mx
    from mxnet.gluon import nn
    from gluoncv.model_zoo import get_model

    zoo, kw = GLUON[name]
    if name == "resnet50_v1b":
        # gluoncv's resnet50_v1b_kinetics400 factory drops pretrained_base (so it would download
        # the ImageNet trunk); build the class it wraps with the factory's own arguments instead
        from gluoncv.model_zoo.action_recognition.actionrec_resnetv1b import ActionRecResNetV1b

        net = ActionRecResNetV1b(depth=50, nclass=400, pretrained_base=False, dropout_ratio=0.5,
                                 init_std=0.01, **kw)
    else:
        net = get_model(zoo, nclass=400, pretrained=False, pretrained_base=False, **kw)
    with warnings.catch_warnings():  # "already initialized" for the layers the constructor set up
        warnings.simplefilter("ignore")
        net.initialize()
    trace, seen = [], set()

    def hook(block, inputs, out):
        shape = list(out.shape)
        if isinstance(block, nn.BatchNorm):
            trace.append({"op": "bn", "out": shape})
        elif isinstance(block, nn.Dense):
            w = block.weight.shape
            trace.append({"op": "fc", "out": shape, "w": list(w), "macs": out.size * w[1]})
        elif block.__class__.__name__.startswith("Conv"):
            k = block._kwargs
            n = len(k["kernel"])
            w = block.weight.shape
            trace.append({"op": "conv", "out": shape, "k": tup(k["kernel"], n), "s": tup(k["stride"], n),
                          "p": tup(k["pad"], n), "w": list(w), "macs": out.size * math.prod(w[1:])})
        elif block.__class__.__name__.startswith("GlobalAvgPool"):
            trace.append({"op": "gap", "out": shape})
        elif block.__class__.__name__.startswith("MaxPool"):
            k = block._kwargs
            n = len(k["kernel"])
            trace.append({"op": "maxpool", "out": shape, "k": tup(k["kernel"], n), "s": tup(k["stride"], n),
                          "p": tup(k["pad"], n)})

    def attach(block):
        # GluonCV registers some layers twice (as attribute and inside a HybridSequential)
        if id(block) not in seen and not block._children:
            seen.add(id(block))
            block.register_forward_hook(hook)

    net.apply(attach)
    x = mx.nd.random.uniform(-1, 1, shape=SHAPES[name])
    y = net(x)
    y.wait_to_read()
    params = net.collect_params().values()
    trainable = sum(math.prod(p.shape) for p in params if p.grad_req != "null")
    return summary(trace, [list(p.shape) for p in params], trainable, list(y.shape))


def torch_side(name):
    import torch
    from torch import nn

    sys.path.insert(0, HERE)
    from torch_forward import build_model

    net, shape = build_model(name)
    trace = []

    def hook(m, inputs, out):
        s = list(out.shape)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            trace.append({"op": "bn", "out": s})
        elif isinstance(m, nn.Linear):
            trace.append({"op": "fc", "out": s, "w": list(m.weight.shape), "macs": out.numel() * m.in_features})
        elif isinstance(m, nn.modules.conv._ConvNd):
            w = m.weight.shape
            trace.append({"op": "conv", "out": s, "k": list(m.kernel_size), "s": list(m.stride),
                          "p": list(m.padding), "w": list(w), "macs": out.numel() * math.prod(w[1:])})
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
            trace.append({"op": "gap", "out": s})
        elif isinstance(m, nn.modules.pooling._MaxPoolNd):
            n = len(s) - 2
            trace.append({"op": "maxpool", "out": s, "k": tup(m.kernel_size, n), "s": tup(m.stride, n),
                          "p": tup(m.padding, n)})

    for m in net.modules():
        if not list(m.children()):
            m.register_forward_hook(hook)
    with torch.inference_mode():
        y = net(torch.rand(*shape) * 2 - 1)
    shapes = [list(p.shape) for p in net.parameters()]
    shapes += [list(b.shape) for n, b in net.named_buffers() if not n.endswith("num_batches_tracked")]
    return summary(trace, shapes, sum(p.numel() for p in net.parameters()), list(y.shape))


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"layer {i}: gluoncv {x} vs torch {y}"
    return f"length: gluoncv {len(a)} vs torch {len(b)}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="*", default=list(GLUON), choices=list(GLUON))
    ap.add_argument("--side", choices=["torch", "mxnet"], default="torch", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side == "mxnet":
        print(json.dumps(mxnet_side(a.model[0])))
        return
    gpy = os.path.join(os.environ.get("GLUONCV_VENV", os.path.expanduser("~/.cache/kinema/gluoncv-venv")),
                       "bin", "python")
    ok = True
    for name in a.model:
        r = subprocess.run([gpy, os.path.abspath(__file__), "--side", "mxnet", "--model", name],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"[check] {name}: gluoncv side failed:\n{r.stderr[-4000:]}")
        g = json.loads(r.stdout.strip().splitlines()[-1])
        t = torch_side(name)
        checks = {
            "trace": g["trace"] == t["trace"],
            "param_shapes": g["param_shapes"] == t["param_shapes"],
            "params": g["params"] == t["params"],
            "trainable": g["trainable"] == t["trainable"],
            "macs": g["macs"] == t["macs"],
            "out_shape": g["out_shape"] == t["out_shape"],
        }
        ok &= all(checks.values())
        print(json.dumps({
            "model": name, "gluoncv_model": GLUON[name][0], "match": all(checks.values()), "checks": checks,
            "layers": [len(g["trace"]), len(t["trace"])],
            "params": [g["params"], t["params"]], "trainable": [g["trainable"], t["trainable"]], "gmacs": [round(g["macs"] / 1e9, 4), round(t["macs"] / 1e9, 4)],
            "out_shape": [g["out_shape"], t["out_shape"]],
        }))
        if not checks["trace"]:
            print(f"[check] {name}: first trace difference at {first_diff(g['trace'], t['trace'])}", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
