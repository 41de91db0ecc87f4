"""One training epoch in PyTorch CPU eager on a GluonCV setting file (`path num_frames label`),
read with decord through torch.utils.data (the last partial batch dropped, as kinema train
drops it): the PyTorch half of bench/train_epoch/run.sh.

The sampling is GluonCV's VideoClsCustom in training mode (TSN segments, a random offset in
each, `new_length` frames `new_step` apart), frames decoded at new_width x new_height, a
multi-scale random crop (scale ratios 1, .875, .75, .66 of the short side) resized to
input_size, ImageNet mean/std. Models: torchvision's r2plus1d_18 (GluonCV's r2plus1d_resnet18
layout) and resnet18 with segment averaging (TSN). SGD: momentum 0.9, weight decay 1e-4.
Prints one JSON line: clips/s over the epoch (every step, data loading included) and the peak
resident memory of the process and of its loader workers.

  python torch_epoch.py --setting train.txt --root R --model r2plus1d_18 --nclass 6 ...
"""
import argparse
import json
import os
import random
import resource
import time

import decord
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1, 1)
SCALES = [1.0, 0.875, 0.75, 0.66]


class Clips(torch.utils.data.Dataset):
    def __init__(self, a):
        self.a = a
        self.items = []
        with open(a.setting) as f:
            for line in f:
                if line.strip():
                    path, n, label = line.split()
                    self.items.append((os.path.join(a.root, path), int(n), int(label)))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        a = self.a
        path, _, label = self.items[i]
        vr = decord.VideoReader(path, width=a.new_width, height=a.new_height, num_threads=1)
        n = len(vr)
        skip = (a.new_length - 1) * a.new_step + 1
        avg = (n - skip + 1) // a.num_segments
        if avg > 0:
            offsets = [s * avg + random.randrange(avg) for s in range(a.num_segments)]
        else:
            offsets = [0] * a.num_segments
        ids = [min(o + j * a.new_step, n - 1) for o in offsets for j in range(a.new_length)]
        frames = torch.from_numpy(vr.get_batch(ids).asnumpy())  # (S*L, H, W, 3) uint8
        h, w = frames.shape[1:3]
        side = min(h, w) * random.choice(SCALES)
        ch, cw = int(side), int(side)
        y, x = random.randint(0, h - ch), random.randint(0, w - cw)
        clip = frames[:, y:y + ch, x:x + cw].permute(0, 3, 1, 2).float()
        clip = F.interpolate(clip, size=(a.input_size, a.input_size), mode="bilinear", align_corners=False)
        clip = clip.div_(255.0).permute(1, 0, 2, 3)  # (3, S*L, H, W)
        clip = (clip - MEAN) / STD
        if a.num_segments > 1:  # TSN: (S, 3, H, W)
            clip = clip.permute(1, 0, 2, 3).contiguous()
        return clip, label


class TSN(nn.Module):
    def __init__(self, nclass, segments):
        super().__init__()
        self.net = torchvision.models.resnet18(num_classes=nclass)
        self.segments = segments

    def forward(self, x):  # (N, S, 3, H, W)
        n = x.shape[0]
        y = self.net(x.flatten(0, 1))
        return y.view(n, self.segments, -1).mean(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--setting", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--model", choices=["r2plus1d_18", "tsn_resnet18"], required=True)
    p.add_argument("--nclass", type=int, required=True)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--num-segments", type=int, default=1)
    p.add_argument("--new-length", type=int, default=8)
    p.add_argument("--new-step", type=int, default=2)
    p.add_argument("--new-width", type=int, default=128)
    p.add_argument("--new-height", type=int, default=128)
    p.add_argument("--input-size", type=int, default=112)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    random.seed(0)
    if a.model == "r2plus1d_18":
        model = torchvision.models.video.r2plus1d_18(num_classes=a.nclass)
    else:
        model = TSN(a.nclass, a.num_segments)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    ds = Clips(a)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers, drop_last=True)
    clips, losses = 0, []
    t0 = time.perf_counter()
    for x, y in dl:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clips += x.shape[0]
        losses.append(loss.item())
    seconds = time.perf_counter() - t0
    shape = [a.batch, a.num_segments, 3, a.input_size, a.input_size] if a.num_segments > 1 else [a.batch, 3, a.new_length, a.input_size, a.input_size]
    print(json.dumps({
        "impl": "pytorch", "model": a.model, "version": torch.__version__, "threads": torch.get_num_threads(),
        "workers": a.workers, "shape": shape, "clips": clips, "seconds": seconds, "clips_per_s": clips / seconds,
        "first_loss": losses[0], "last_loss": losses[-1],
        # ru_maxrss is in KiB on Linux; the loader workers are separate processes.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
