#!/usr/bin/env python
"""Export torchvision video-ResNet parity fixtures (random init, no network access needed).

    "$(bash tools/torch-venv.sh)" tools/torchvision_fixtures.py --out ~/.cache/kinema/fixtures

(run with another python, it builds that venv itself and re-runs in it). For each of r3d_18,
mc3_18, r2plus1d_18 this writes into --out, named after kinema's registry entry
(NAME = r3d_18_kinetics400, ...):
    NAME.pth           model.state_dict() saved with torch.save (zip format)
    NAME.legacy.pth    the same in the legacy format (_use_new_zipfile_serialization=False),
                       for r3d_18 only
    NAME.input.npy     float32 input, NCTHW 1x3x8x112x112
    NAME.logits.npy    float32 eval-mode logits
    NAME.features.npy  float32 input of fc (avgpool output, flattened)
    NAME.meta.json     shapes, seeds, versions, sha256 of the files, sanity stats

Weights: torch.manual_seed(0), torchvision's own init (num_classes=400), then -- so that
BatchNorm is not an identity and biases are exercised -- every BatchNorm3d gets weight~U(0.5,1.5),
bias~U(-0.2,0.2), running_mean~U(-0.2,0.2), running_var~U(0.5,2.0), num_batches_tracked=7, and
every bias ~U(-0.1,0.1), all from a torch.Generator seeded 0, in module order.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
    import torchvision
    from torchvision.models import video
except ImportError:
    if os.environ.get('KINEMA_TORCH_VENV_TRIED'):
        raise
    here = os.path.dirname(os.path.abspath(__file__))
    py = subprocess.run(['bash', os.path.join(here, 'torch-venv.sh')], check=True,
                        stdout=subprocess.PIPE, text=True).stdout.strip()
    os.environ['KINEMA_TORCH_VENV_TRIED'] = '1'
    os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])

MODELS = ['r3d_18', 'mc3_18', 'r2plus1d_18']
LEGACY = {'r3d_18'}
IN_SHAPE = (1, 3, 8, 112, 112)
SEED = 0


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def randomize(net, g):
    """BatchNorm weight~U(.5,1.5) bias~U(-.2,.2) mean~U(-.2,.2) var~U(.5,2), other biases
    ~U(-.1,.1), from generator g in module order (so BatchNorm is no identity and biases count).
    Returns the number of BatchNorm3d layers."""
    u = lambda t, lo, hi: t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)
    n_bn = 0
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                n_bn += 1
                u(m.weight, 0.5, 1.5)
                u(m.bias, -0.2, 0.2)
                u(m.running_mean, -0.2, 0.2)
                u(m.running_var, 0.5, 2.0)
                m.num_batches_tracked.fill_(7)
            elif getattr(m, 'bias', None) is not None:
                u(m.bias, -0.1, 0.1)
    return n_bn


def forward(net, x):
    """Eval-mode logits of net on x and the input of its `fc` (the pooled features)."""
    net.eval()
    feats = {}
    h = net.fc.register_forward_pre_hook(lambda mod, inp: feats.__setitem__('f', inp[0].detach().clone()))
    with torch.no_grad():
        y = net(x)
    h.remove()
    return y, feats['f']


def make(arch, out_dir):
    name = arch + '_kinetics400'
    torch.manual_seed(SEED)
    net = getattr(video, arch)(num_classes=400)
    g = torch.Generator().manual_seed(SEED)
    n_bn = randomize(net, g)
    x = torch.randn(IN_SHAPE, generator=g)
    y, f = forward(net, x)
    feats = {'f': f}

    base = os.path.join(out_dir, name)
    files = {'.pth': base + '.pth'}
    torch.save(net.state_dict(), files['.pth'])
    if arch in LEGACY:
        files['.legacy.pth'] = base + '.legacy.pth'
        torch.save(net.state_dict(), files['.legacy.pth'], _use_new_zipfile_serialization=False)
    for suffix, arr in (('.input.npy', x), ('.logits.npy', y), ('.features.npy', feats['f'])):
        files[suffix] = base + suffix
        np.save(files[suffix], arr.numpy().astype(np.float32))
    meta = dict(
        model=name, torchvision_builder='torchvision.models.video.%s(num_classes=400)' % arch,
        input_shape=list(IN_SHAPE), logits_shape=list(y.shape), features_shape=list(feats['f'].shape),
        layout='NCTHW', seed=SEED,
        init='torch.manual_seed(0); torchvision init; BN weight~U(.5,1.5) bias~U(-.2,.2) mean~U(-.2,.2) '
             'var~U(.5,2) num_batches_tracked=7, bias~U(-.1,.1) from torch.Generator(0) in module order; '
             'input ~N(0,1) from the same generator',
        mode='eval, torch.no_grad', n_state_dict_entries=len(net.state_dict()), n_batchnorm=n_bn,
        logits_stats=dict(mean=float(y.mean()), std=float(y.std()), absmax=float(y.abs().max())),
        argmax=[int(i) for i in y.argmax(dim=1)],
        versions=dict(torch=torch.__version__, torchvision=torchvision.__version__, numpy=np.__version__,
                      python=sys.version.split()[0]),
        sha256={s: sha256(p) for s, p in files.items()},
    )
    write_meta(base, meta, ('model', 'input_shape', 'logits_shape', 'n_state_dict_entries', 'logits_stats'))


def write_meta(base, meta, show):
    """BASE.meta.json, and the `show` keys of it as one line of JSON on stdout."""
    with open(base + '.meta.json', 'w') as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({k: meta[k] for k in show}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.expanduser('~/.cache/kinema/fixtures'))
    ap.add_argument('--skip-existing', action='store_true', help='keep fixtures already exported')
    ap.add_argument('models', nargs='*', default=MODELS, help='torchvision names: %s' % ', '.join(MODELS))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for m in a.models:
        if m not in MODELS:
            sys.exit('unknown model %r: expected one of %s' % (m, ', '.join(MODELS)))
        if a.skip_existing and os.path.exists(os.path.join(a.out, m + '_kinetics400.meta.json')):
            continue
        make(m, a.out)


if __name__ == '__main__':
    main()
