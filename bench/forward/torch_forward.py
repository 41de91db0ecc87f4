"""Times one eval-mode FP32 forward pass per clip of three GluonCV action-recognition models in
PyTorch CPU eager and prints one JSON line. The PyTorch half of bench/forward/run.sh.

  resnet50_v1b            TSN ResNet-50 (GluonCV resnet50_v1b_kinetics400, 7 segments):
                          input [7, 3, 224, 224], features averaged over segments -> [1, 400]
  i3d_resnet50_v1         GluonCV i3d_resnet50_v1_kinetics400: input [1, 3, 32, 224, 224]
  slowfast_4x16_resnet50  GluonCV slowfast_4x16_resnet50_kinetics400: input [1, 3, 36, 224, 224]
                          (T axis = 32 fast frames followed by 4 slow frames, as GluonCV slices)

Weights are random (torch.manual_seed(0)), the input is a fixed random tensor; 1 warm-up pass,
then --reps timed passes under torch.inference_mode(). The builders (build_model) are also used
by bench/forward/check_ports.py, which checks the ports against GluonCV layer by layer.

  python torch_forward.py --model i3d_resnet50_v1 --threads 2 --reps 3
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

NCLASS = 400


def conv3d(cin, cout, k, s=1, p=0):
    return nn.Conv3d(cin, cout, k, s, p, bias=False)


class Bottleneck3d(nn.Module):
    """Bottleneck shared by GluonCV's I3D and SlowFast ResNets: conv1 is 3x1x1 (pad 1 in time)
    when `temporal` (I3D `if_inflate`, SlowFast `head_conv=3`) and 1x1x1 otherwise; conv2 is
    1x3x3 with spatial stride `stride`; the projection shortcut (1x1x1, stride (1, s, s)) runs
    after the residual branch, in GluonCV's order."""

    def __init__(self, cin, planes, stride=1, temporal=False, downsample=False, zero_bn3=False):
        super().__init__()
        cout = planes * 4
        if temporal:
            self.conv1 = conv3d(cin, planes, (3, 1, 1), 1, (1, 0, 0))
        else:
            self.conv1 = conv3d(cin, planes, 1)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = conv3d(planes, planes, (1, 3, 3), (1, stride, stride), (0, 1, 1))
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = conv3d(planes, cout, 1)
        self.bn3 = nn.BatchNorm3d(cout)
        if zero_bn3:  # SlowFast: bn3 gamma_initializer='zeros'
            nn.init.zeros_(self.bn3.weight)
        self.downsample = None
        if downsample:
            self.downsample = nn.Sequential(conv3d(cin, cout, 1, (1, stride, stride)), nn.BatchNorm3d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        idt = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + idt)


def res_layer(cin, planes, temporal_pattern, stride=1, zero_bn3=False):
    """One ResNet stage; the first block gets the stride and (if needed) the projection."""
    blocks = []
    for b, temporal in enumerate(temporal_pattern):
        first = b == 0
        blocks.append(Bottleneck3d(cin, planes, stride if first else 1, temporal,
                                   downsample=first and (stride != 1 or cin != planes * 4),
                                   zero_bn3=zero_bn3))
        cin = planes * 4
    return nn.Sequential(*blocks)


class TSNResNet50(nn.Module):
    """GluonCV ActionRecResNetV1b(depth=50): resnet50_v1b trunk (= torchvision resnet50),
    global average pool, dropout, mean of the features over the segments, one 2048 -> 400
    dense layer (torchvision's fc replaced by Linear(2048, 400))."""

    def __init__(self, num_segments=7, nclass=NCLASS):
        super().__init__()
        import torchvision

        self.num_segments = num_segments
        self.base = torchvision.models.resnet50(weights=None)
        self.base.fc = nn.Linear(2048, nclass)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        b = self.base
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        x = b.layer4(b.layer3(b.layer2(b.layer1(x))))
        x = self.drop(torch.flatten(b.avgpool(x), 1))
        x = x.reshape(-1, self.num_segments, x.shape[1]).mean(dim=1)  # segmental consensus
        return b.fc(x)


class I3DResNet50(nn.Module):
    """GluonCV i3d_resnet50_v1_kinetics400: 5x7x7 stem, stride (2, 2, 2); 1x3x3 max pool,
    stride (2, 2, 2); stages of 3/4/6/3 bottlenecks with the 3x1x1 inflation pattern
    (1,1,1), (1,0,1,0), (1,0,1,0,1,0), (0,1,0); a 2x1x1 temporal max pool after layer1; global
    average pool, dropout 0.5 and a 2048 -> 400 dense layer."""

    INFLATE = ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))

    def __init__(self, nclass=NCLASS):
        super().__init__()
        self.first_stage = nn.Sequential(
            conv3d(3, 64, (5, 7, 7), (2, 2, 2), (2, 3, 3)), nn.BatchNorm3d(64), nn.ReLU(),
            nn.MaxPool3d((1, 3, 3), (2, 2, 2), (0, 1, 1)))
        self.pool2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1))
        cin, layers = 64, []
        for i, pattern in enumerate(self.INFLATE):
            planes = 64 << i
            layers.append(res_layer(cin, planes, [p == 1 for p in pattern], 1 if i == 0 else 2))
            cin = planes * 4
        self.res_layers = nn.ModuleList(layers)
        self.st_avg = nn.AdaptiveAvgPool3d(1)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(cin, nclass)

    def forward(self, x):
        x = self.first_stage(x)
        for i, layer in enumerate(self.res_layers):
            x = layer(x)
            if i == 0:
                x = self.pool2(x)
        x = torch.flatten(self.st_avg(x), 1)
        return self.fc(self.drop(x))


def lateral(c):
    """SlowFast fast->slow fusion: 5x1x1 conv, time stride alpha = 8, channels x2, BN, ReLU."""
    return nn.Sequential(conv3d(c, 2 * c, (5, 1, 1), (8, 1, 1), (2, 0, 0)), nn.BatchNorm3d(2 * c), nn.ReLU())


class SlowFast4x16ResNet50(nn.Module):
    """GluonCV slowfast_4x16_resnet50_kinetics400 (alpha 8, beta_inv 8, fusion ratio 2, fusion
    kernel 5). Input [N, 3, 36, H, W]: frames 0..31 feed the fast path, 32..35 the slow path.
    Fast: 5x7x7 stem (8 ch), all stages with 3x1x1 conv1. Slow: 1x7x7 stem (64 ch), res2/res3
    with 1x1x1 conv1, res4/res5 with 3x1x1. Laterals after pool1, res2, res3, res4 are
    concatenated (slow first) onto the slow path. Head: avg pools, concat(slow, fast) -> 2304,
    dropout 0.5, dense -> 400."""

    def __init__(self, nclass=NCLASS, fast_frames=32, slow_frames=4):
        super().__init__()
        self.fast_frames, self.slow_frames = fast_frames, slow_frames
        w, bi = 64, 8
        depth = (3, 4, 6, 3)
        self.fast_stem = nn.Sequential(
            conv3d(3, w // bi, (5, 7, 7), (1, 2, 2), (2, 3, 3)), nn.BatchNorm3d(w // bi), nn.ReLU(),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        fast_in = (w // bi, w * 4 // bi, w * 8 // bi, w * 16 // bi)
        self.fast_res = nn.ModuleList(
            res_layer(fast_in[i], (w << i) // bi, [True] * depth[i], 1 if i == 0 else 2, zero_bn3=True)
            for i in range(4))
        self.laterals = nn.ModuleList(lateral(c) for c in (w // bi, w * 4 // bi, w * 8 // bi, w * 16 // bi))
        self.slow_stem = nn.Sequential(
            conv3d(3, w, (1, 7, 7), (1, 2, 2), (0, 3, 3)), nn.BatchNorm3d(w), nn.ReLU(),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        slow_in = (w + w // 4, w * 4 + w * 4 // 4, w * 8 + w * 8 // 4, w * 16 + w * 16 // 4)
        self.slow_res = nn.ModuleList(
            res_layer(slow_in[i], w << i, [i >= 2] * depth[i], 1 if i == 0 else 2, zero_bn3=True)
            for i in range(4))
        self.avg = nn.AdaptiveAvgPool3d(1)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(w * 32 // bi + w * 32, nclass)

    def forward(self, x):
        fast = x[:, :, :self.fast_frames]
        slow = x[:, :, self.fast_frames:self.fast_frames + self.slow_frames]
        # fast path first (it produces the laterals), as GluonCV's FastPath / SlowPath
        fast = self.fast_stem(fast)
        lats = [self.laterals[0](fast)]
        for i, layer in enumerate(self.fast_res):
            fast = layer(fast)
            if i < 3:
                lats.append(self.laterals[i + 1](fast))
        fast = torch.flatten(self.avg(fast), 1)
        slow = self.slow_stem(slow)
        for layer, lat in zip(self.slow_res, lats):
            slow = layer(torch.cat([slow, lat], dim=1))
        slow = torch.flatten(self.avg(slow), 1)
        return self.fc(self.drop(torch.cat([slow, fast], dim=1)))


MODELS = {
    "resnet50_v1b": (TSNResNet50, [7, 3, 224, 224]),
    "i3d_resnet50_v1": (I3DResNet50, [1, 3, 32, 224, 224]),
    "slowfast_4x16_resnet50": (SlowFast4x16ResNet50, [1, 3, 36, 224, 224]),
}


def build_model(name):
    """Returns (eval-mode model with seeded random weights, input shape)."""
    if name not in MODELS:
        raise SystemExit(f"unknown model {name}; one of {', '.join(MODELS)}")
    cls, shape = MODELS[name]
    torch.manual_seed(0)
    return cls().eval(), list(shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net, shape = build_model(a.model)
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    times = []
    with torch.inference_mode():
        for k in range(a.warmup + a.reps):
            t = time.perf_counter()
            y = net(x)
            dt = (time.perf_counter() - t) * 1e3
            if k >= a.warmup:
                times.append(dt)
    assert tuple(y.shape) == (1, NCLASS), y.shape
    print(json.dumps({
        "impl": "pytorch",
        "model": a.model,
        "shape": shape,
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "reps_ms": [round(t, 2) for t in times],
        "threads": torch.get_num_threads(),
        "version": torch.__version__,
    }))


if __name__ == "__main__":
    main()
