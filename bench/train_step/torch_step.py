"""Times training steps (forward + backward + SGD with momentum 0.9 and weight decay 1e-4) of
I3D ResNet-50 V1 (GluonCV's i3d_resnet50_v1 layout) and R(2+1)D-18 (torchvision's
r2plus1d_18, GluonCV's r2plus1d_resnet18 layout) in PyTorch CPU eager; prints one JSON line.
The PyTorch half of bench/train_step/run.sh.

  python torch_step.py --model i3d_resnet50_v1 --batch 2 --frames 8 --size 112 --steps 3
"""
import argparse
import json
import os
import resource
import time

import torch
from torch import nn


def conv(cin, cout, k, s, p):
    return nn.Conv3d(cin, cout, k, s, p, bias=False)


class Bottleneck(nn.Module):
    """GluonCV's I3D bottleneck, 3x1x1 inflation style (conv1 temporal) when inflated."""

    def __init__(self, cin, planes, ss, inflate):
        super().__init__()
        cout = planes * 4
        if inflate:
            self.conv1 = conv(cin, planes, (3, 1, 1), 1, (1, 0, 0))
        else:
            self.conv1 = conv(cin, planes, 1, 1, 0)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = conv(planes, planes, (1, 3, 3), (1, ss, ss), (0, 1, 1))
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = conv(planes, cout, 1, 1, 0)
        self.bn3 = nn.BatchNorm3d(cout)
        self.down = None
        if ss != 1 or cin != cout:
            self.down = nn.Sequential(conv(cin, cout, 1, (1, ss, ss), 0), nn.BatchNorm3d(cout))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + idt)


class I3DResNet50(nn.Module):
    """5x7x7 stem (temporal stride 2), 1x3x3 max pool (temporal stride 2), stages of 3/4/6/3
    bottlenecks inflated as GluonCV's i3d_resnet50_v1, a 2x1x1 temporal max pool after the
    first stage, global average pool, one dense layer."""

    def __init__(self, nclass):
        super().__init__()
        self.stem = nn.Sequential(conv(3, 64, (5, 7, 7), (2, 2, 2), (2, 3, 3)), nn.BatchNorm3d(64), nn.ReLU())
        self.pool1 = nn.MaxPool3d((1, 3, 3), (2, 2, 2), (0, 1, 1))
        alt = lambda n: [i % 2 == 0 for i in range(n)]
        inflate = [[True] * 3, alt(4), alt(6), [False, True, False]]
        cin, stages = 64, []
        for i, pattern in enumerate(inflate):
            planes = 64 << i
            blocks = []
            for b, inf in enumerate(pattern):
                blocks.append(Bottleneck(cin, planes, (1 if i == 0 else 2) if b == 0 else 1, inf))
                cin = planes * 4
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.pool2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1))
        self.fc = nn.Linear(cin, nclass)

    def forward(self, x):
        x = self.pool1(self.stem(x))
        for i, s in enumerate(self.stages):
            x = s(x)
            if i == 0:
                x = self.pool2(x)
        return self.fc(x.mean(dim=(2, 3, 4)))


class Tsn(nn.Module):
    """GluonCV's TSN: a 2-D network on every segment, class scores averaged per video."""

    def __init__(self, net, segments):
        super().__init__()
        self.net, self.segments = net, segments

    def forward(self, x):
        y = self.net(x)
        return y.view(-1, self.segments, y.shape[-1]).mean(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="r2plus1d_resnet18")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--nclass", type=int, default=400)
    ap.add_argument("--segments", type=int, default=8, help="TSN: pictures per video")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (bench/gpu/run.sh)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    # A CUDA step is timed to its end, not to the end of its launches.
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    if a.model == "i3d_resnet50_v1":
        net = I3DResNet50(a.nclass)
    elif a.model == "r2plus1d_resnet18":
        import torchvision

        net = torchvision.models.video.r2plus1d_18(num_classes=a.nclass)
    elif a.model == "tsn_resnet50":
        import torchvision

        net = Tsn(torchvision.models.resnet50(num_classes=a.nclass), a.segments)
    else:
        raise SystemExit(f"unknown model {a.model}")
    net.train().to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    if a.model == "tsn_resnet50":
        shape = [a.batch * a.segments, 3, a.size, a.size]
    else:
        shape = [a.batch, 3, a.frames, a.size, a.size]
    x = (torch.rand(*shape) * 2 - 1).to(dev)
    y = (torch.arange(a.batch) % a.nclass).to(dev)
    times = []
    for k in range(a.warmup + a.steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        sync()
        dt = time.perf_counter() - t
        if k >= a.warmup:
            times.append(dt)
    times.sort()
    print(json.dumps({
        "impl": "pytorch",
        "version": torch.__version__,
        "model": a.model,
        "device": a.device,
        "shape": shape,
        "steps": a.steps,
        "median_s": round(times[len(times) // 2], 4),
        "min_s": round(times[0], 4),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
