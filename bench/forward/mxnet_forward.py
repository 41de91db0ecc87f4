"""Times one eval-mode FP32 forward pass per clip of a GluonCV model in MXNet 1.9.1 (oneDNN) and
prints one JSON line: the MXNet half of bench/forward/run.sh.

The net is hybridized twice and timed both ways: `hybridize(static_alloc, static_shape)` as
GluonCV's scripts run it ("plain"), then with `backend='MKLDNN'` (oneDNN's graph pass that fuses
Conv + BatchNorm + ReLU/Add, "fused"). Random init (Xavier, seed 0), a fixed N(0, 1) input,
1 warm-up + --reps timed passes each.

  python mxnet_forward.py --model i3d_resnet50_v1_kinetics400 --shape 1,3,32,224,224 --reps 3
"""
import argparse
import json
import os
import statistics
import time
import warnings

import mxnet as mx
import numpy as np
from gluoncv.model_zoo import get_model

# GluonCV 0.10.5's TSN constructors fetch an ImageNet backbone even with pretrained_base=False;
# give them backbones that never download (as tools/gluoncv_fixtures.py does).
import gluoncv.model_zoo.action_recognition.actionrec_resnetv1b as _arr
import gluoncv.model_zoo.resnetv1b as _rv1b


def _offline(fn):
    def build(pretrained=False, **kw):
        net = fn(pretrained=False, **kw)
        net.initialize()
        return net
    return build


for _d in (18, 34, 50, 101, 152):
    setattr(_arr, 'resnet%d_v1b' % _d, _offline(getattr(_rv1b, 'resnet%d_v1b' % _d)))


def timed(net, x, reps):
    net(x).wait_to_read()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        net(x).wait_to_read()
        ts.append((time.perf_counter() - t0) * 1e3)
    return ts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--shape', required=True)
    ap.add_argument('--num-segments', type=int, default=None)
    ap.add_argument('--reps', type=int, default=3)
    a = ap.parse_args()
    shape = tuple(int(v) for v in a.shape.split(','))
    kw = {} if a.num_segments is None else dict(num_segments=a.num_segments)
    mx.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        net = get_model(a.model, pretrained=False, pretrained_base=False, **kw)
        net.initialize(mx.init.Xavier(), force_reinit=True)
    x = mx.nd.array(np.random.RandomState(1).standard_normal(shape).astype(np.float32))
    net(x).wait_to_read()  # resolve deferred shapes
    net.hybridize(static_alloc=True, static_shape=True)
    plain = timed(net, x, a.reps)
    net.hybridize(backend='MKLDNN', static_alloc=True, static_shape=True)
    fused = timed(net, x, a.reps)
    print(json.dumps(dict(
        impl='mxnet', model=a.model, shape=list(shape),
        plain_median_ms=round(statistics.median(plain), 1),
        median_ms=round(statistics.median(fused), 1), min_ms=round(min(fused), 1),
        reps_ms=[round(t, 1) for t in fused], threads=int(os.environ.get('OMP_NUM_THREADS', '0')),
        version=mx.__version__)), flush=True)


if __name__ == '__main__':
    main()
