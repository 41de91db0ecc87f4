#!/usr/bin/env python
"""Export parity fixtures from GluonCV's PyTorch port (`gluoncv.torch`), random init, offline.

    "$(bash tools/torch-venv.sh)" tools/gluoncv_torch_fixtures.py --out ~/.cache/kinema/fixtures

(run with another python, it builds that venv itself and re-runs in it; the venv gets
`gluoncv==0.10.5.post0` without its dependencies). For each model this writes, under
BASE = gluoncv_torch.NAME (NAME the port's model name):
    BASE.pth            model.state_dict(), torch.save (zip format), aliases included
    BASE.input.npy      float32 input in kinema's layout (SlowFast: the fast frames, then the
                        slow frames the port takes from them, x[:, :, ::alpha])
    BASE.logits.npy     float32 eval-mode logits
    BASE.features.npy   float32 input of fc
    BASE.meta.json      kinema's registry name, shapes, seeds, versions, sha256 of the files

gluoncv's package __init__ refuses torch >= 2 and gluoncv.torch's imports a module torch 2
removed, so the four model files are imported with the packages around them stubbed out; they
need only torch. I3D's constructor inflates ImageNet weights it would download: that step is
replaced by a no-op (the weights are random anyway). Init as tools/torchvision_fixtures.py
(BatchNorm and biases randomised: a fresh non-local block is an identity otherwise).
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import types
from types import SimpleNamespace as NS

try:
    import numpy as np
    import torch
    if importlib.util.find_spec('gluoncv') is None:
        raise ImportError('gluoncv')
except ImportError:
    if os.environ.get('KINEMA_TORCH_VENV_TRIED'):
        raise
    here = os.path.dirname(os.path.abspath(__file__))
    py = subprocess.run(['bash', os.path.join(here, 'torch-venv.sh')], check=True,
                        stdout=subprocess.PIPE, text=True).stdout.strip()
    os.environ['KINEMA_TORCH_VENV_TRIED'] = '1'
    os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchvision_fixtures import forward, randomize, sha256, write_meta  # noqa: E402

SEED = 0
# port name -> (kinema registry name, input NCTHW as the port takes it, SlowFast alpha or None)
MODELS = {
    'i3d_resnet50_v1_kinetics400': ('i3d_resnet50_v1_kinetics400', (1, 3, 8, 64, 64), None),
    'i3d_nl5_resnet50_v1_kinetics400': ('i3d_nl5_resnet50_v1_kinetics400', (1, 3, 8, 64, 64), None),
    'i3d_slow_resnet101_f16s4_kinetics700': ('i3d_slow_resnet101_f16s4_kinetics700', (1, 3, 4, 64, 64), None),
    'slowfast_4x16_resnet50_kinetics400': ('slowfast_4x16_resnet50_kinetics400', (1, 3, 32, 64, 64), 8),
    'r2plus1d_v1_resnet50_kinetics400': ('r2plus1d_resnet50_kinetics400', (1, 3, 8, 64, 64), None),
}


def port_modules():
    """gluoncv.torch's action-recognition model modules, imported without running the package
    __init__ files above them."""
    if 'gluoncv.torch.model_zoo.action_recognition' in sys.modules:
        from gluoncv.torch.model_zoo.action_recognition import i3d_resnet, i3d_slow, r2plus1dv1, slowfast
        return i3d_resnet, i3d_slow, r2plus1dv1, slowfast
    root = os.path.dirname(importlib.util.find_spec('gluoncv').origin)
    for name in ('gluoncv', 'gluoncv.torch', 'gluoncv.torch.model_zoo',
                 'gluoncv.torch.model_zoo.action_recognition', 'gluoncv.torch.utils'):
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = [os.path.join(root, *name.split('.')[1:])]
            sys.modules[name] = m
    from gluoncv.torch.model_zoo.action_recognition import i3d_resnet, i3d_slow, r2plus1dv1, slowfast
    i3d_resnet.I3D_ResNetV1.inflate_weights = lambda self: None
    return i3d_resnet, i3d_slow, r2plus1dv1, slowfast


def build(name, nclass):
    i3d_resnet, i3d_slow, r2plus1dv1, slowfast = port_modules()
    mod = (i3d_slow if name.startswith('i3d_slow_') else i3d_resnet if name.startswith('i3d_')
           else slowfast if name.startswith('slowfast_') else r2plus1dv1)
    cfg = NS(CONFIG=NS(
        DATA=NS(NUM_CLASSES=nclass, NUM_SEGMENT=1, NUM_CROP=1),
        MODEL=NS(PRETRAINED=False, PRETRAINED_BASE=True, BN_EVAL=False, PARTIAL_BN=False, BN_FROZEN=False),
        INFERENCE=NS(FEAT=False)))
    return getattr(mod, name)(cfg)


def make(name, out_dir):
    kinema_name, in_shape, alpha = MODELS[name]
    nclass = 700 if name.endswith('kinetics700') else 400
    torch.manual_seed(SEED)
    net = build(name, nclass)
    g = torch.Generator().manual_seed(SEED)
    n_bn = randomize(net, g)
    x = torch.randn(in_shape, generator=g)
    y, f = forward(net, x)
    feats = {'f': f}
    # kinema's SlowFast input: the fast frames, then the slow ones (what the port samples).
    xk = torch.cat([x, x[:, :, ::alpha]], 2) if alpha else x

    base = os.path.join(out_dir, 'gluoncv_torch.' + name)
    files = {'.pth': base + '.pth'}
    torch.save(net.state_dict(), files['.pth'])
    for suffix, arr in (('.input.npy', xk), ('.logits.npy', y), ('.features.npy', feats['f'].flatten(1))):
        files[suffix] = base + suffix
        np.save(files[suffix], arr.numpy().astype(np.float32))
    meta = dict(
        model=name, kinema_name=kinema_name, nclass=nclass, port_input_shape=list(in_shape),
        input_shape=list(xk.shape), logits_shape=list(y.shape), features_shape=list(feats['f'].shape),
        layout='NCTHW', seed=SEED, mode='eval, torch.no_grad',
        n_state_dict_entries=len(net.state_dict()), n_batchnorm=n_bn,
        logits_stats=dict(mean=float(y.mean()), std=float(y.std()), absmax=float(y.abs().max())),
        versions=dict(torch=torch.__version__, numpy=np.__version__, python=sys.version.split()[0],
                      gluoncv=_gluoncv_version()),
        sha256={s: sha256(p) for s, p in files.items()},
    )
    write_meta(base, meta, ('model', 'kinema_name', 'input_shape', 'logits_shape', 'n_state_dict_entries'))


def _gluoncv_version():
    from importlib.metadata import version
    return version('gluoncv')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.expanduser('~/.cache/kinema/fixtures'))
    ap.add_argument('--skip-existing', action='store_true', help='keep fixtures already exported')
    ap.add_argument('models', nargs='*', default=list(MODELS), help='port names: %s' % ', '.join(MODELS))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for m in a.models:
        if m not in MODELS:
            sys.exit('unknown model %r: expected one of %s' % (m, ', '.join(MODELS)))
        if a.skip_existing and os.path.exists(os.path.join(a.out, 'gluoncv_torch.%s.meta.json' % m)):
            continue
        make(m, a.out)


if __name__ == '__main__':
    main()
