#!/usr/bin/env python
"""Writes the tiny PyTorch checkpoints the `.pth` reader's tests read (crates/kinema-models/
tests/data/torch_*.pth), with torch.save itself. Run with the bench venv's python (torch):

    ~/.cache/kinema/bench-venv/bin/python tools/pth_test_data.py crates/kinema-models/tests/data

The expected values are asserted in crates/kinema-models/src/weights/pth.rs's tests; change both
together. torch.save writes a random serialization id (zip) and memory addresses as storage keys
(legacy), so the bytes differ from run to run; the values do not.
"""
import collections
import os
import sys

import torch


def small():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd = collections.OrderedDict()
    sd['a.weight'] = base
    # A view into a.weight's storage: offset 8, strides (1, 6), shape (3, 3).
    sd['view'] = base[1:, 2:5].t()
    sd['half'] = torch.tensor([1.5, -2.0, 65504.0, 2.0 ** -24], dtype=torch.float16)
    sd['bf16'] = torch.tensor([1.0, -3.5, 0.15625], dtype=torch.bfloat16)
    sd['double'] = torch.tensor([[0.1, -1e-3]], dtype=torch.float64)
    sd['int'] = torch.tensor([-3, 4], dtype=torch.int32)
    sd['long'] = torch.tensor([[5], [6]], dtype=torch.int64)
    sd['scalar'] = torch.tensor(2.5)
    sd['bn.num_batches_tracked'] = torch.tensor(7)
    return sd


def main(out):
    os.makedirs(out, exist_ok=True)
    p = lambda n: os.path.join(out, n)
    torch.save(small(), p('torch_small.pth'))
    torch.save(small(), p('torch_small_legacy.pth'), _use_new_zipfile_serialization=False)
    # Protocol 5: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL instead of protocol 2's opcodes.
    torch.save(small(), p('torch_small_p5.pth'), pickle_protocol=5)
    # A training checkpoint: the state dict under 'state_dict', beside other entries; an
    # nn.Parameter (pickled through torch._utils._rebuild_parameter).
    sd = collections.OrderedDict()
    sd['w'] = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    sd['bn.num_batches_tracked'] = torch.tensor(1)
    ckpt = {'epoch': 3, 'arch': 'r3d_18', 'lr': 0.01, 'state_dict': sd,
            'optimizer': {'state': {}, 'param_groups': [{'lr': 0.01, 'params': [0]}]}}
    torch.save(ckpt, p('torch_nested.pth'))
    torch.save({'c': torch.tensor([1 + 2j], dtype=torch.complex64)}, p('torch_complex.pth'))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'crates/kinema-models/tests/data')
