"""A sweep of convolution shapes, minigrad against PyTorch: ``python benchmarks/conv_sweep.py``.

run.py times a dozen fixed workloads; this script times one convolution step -- forward,
then backward with a fixed upstream gradient (the gradients of the input and the weight,
no bias), float32, CPU -- over a grid of shapes that covers what a model meets:
conv1d/2d/3d; batch 1, 8, 64; channels 3->16, 16->32, 64->64, 256->256; kernels 1 (the
pointwise 1x1), 3, 5, 7; stride 2; dilation 2; groups 2, 4 and one per channel; padding
'same' and 'valid'; conv_transpose1d/2d with stride 2 and output_padding 1; small planes
(7x7, 14x14) and long 1-d signals.

Each case is first checked against torch (float32, loosely, as run.py checks its float32
runs), then timed as run.py times its workloads (``run.time_interleaved``: alternating
blocks, the first step of a block untimed, medians), in one process. As in run.py,
OPENBLAS_THREAD_TIMEOUT=4 is set before numpy loads unless the environment sets it.

    python benchmarks/conv_sweep.py                 # every case, both libraries' defaults
    python benchmarks/conv_sweep.py --threads 1     # torch, minigrad and numpy's BLAS on 1
    python benchmarks/conv_sweep.py --only conv1d --worst 5 --json sweep.json

The table lists every case (median ms per step on each side, their ratio, and the ratio of
the two fastest steps, which a loaded machine moves less), then the ``--worst`` highest
ratios of the medians.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")      # before numpy loads OpenBLAS

import sys
import warnings
import zlib
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import run  # noqa: E402  (puts the checkout on sys.path, as for run.py itself)
import sweep  # noqa: E402
from workloads import _functional_case, _normal, _rng, _uniform  # noqa: E402


class Case(NamedTuple):
    """One convolution: ``op`` is the functional's name, ``x`` the input's shape, ``w`` the
    weight's; ``kw`` the keyword arguments both libraries get."""
    name: str
    op: str
    x: tuple
    w: tuple
    kw: dict


def _conv(op, n, cin, cout, size, k, groups=1, **kw):
    """A convolution case: n images of cin channels of ``size`` (an int per axis), kernel k
    on every axis; the name says what differs from a plain stride-1 convolution."""
    nd = len(size)
    name = f"{op} {n}x{cin}x{'x'.join(map(str, size))} -> {cout} k{k}"
    for key, short in (("stride", "s"), ("padding", "p"), ("dilation", "d")):
        if key in kw:
            name += f" {short}{kw[key]}" if not isinstance(kw[key], str) else f" {kw[key]}"
    if groups != 1:
        name += f" g{groups}"
        kw["groups"] = groups
    return Case(name, op, (n, cin) + tuple(size), (cout, cin // groups) + (k,) * nd, kw)


def _transposed(op, n, cin, cout, size, k, **kw):
    nd = len(size)
    name = f"{op} {n}x{cin}x{'x'.join(map(str, size))} -> {cout} k{k} s{kw['stride']}"
    if kw.get("output_padding"):
        name += f" op{kw['output_padding']}"
    return Case(name, op, (n, cin) + tuple(size), (cin, cout) + (k,) * nd, kw)


def cases():
    """The grid: a few shapes per axis of variation, small enough to run in a few minutes."""
    c1, c2, c3 = "conv1d", "conv2d", "conv3d"
    out = [
        # conv2d: batch
        _conv(c2, 1, 16, 32, (28, 28), 3, padding=1),
        _conv(c2, 8, 16, 32, (28, 28), 3, padding=1),
        _conv(c2, 64, 16, 32, (28, 28), 3, padding=1),
        # channels
        _conv(c2, 8, 3, 16, (32, 32), 3, padding=1),
        _conv(c2, 8, 64, 64, (28, 28), 3, padding=1),
        _conv(c2, 8, 256, 256, (14, 14), 3, padding=1),
        _conv(c2, 1, 256, 256, (14, 14), 3, padding=1),
        # kernels (1x1 pointwise, 5, 7) and a 7x7 stride-2 stem
        _conv(c2, 8, 64, 64, (28, 28), 1),
        _conv(c2, 8, 256, 256, (14, 14), 1),
        _conv(c2, 64, 16, 32, (14, 14), 1),
        _conv(c2, 8, 16, 32, (28, 28), 5, padding=2),
        _conv(c2, 8, 16, 32, (28, 28), 7, padding=3),
        _conv(c2, 8, 3, 16, (64, 64), 7, stride=2, padding=3),
        # stride 2
        _conv(c2, 8, 64, 64, (28, 28), 3, stride=2, padding=1),
        _conv(c2, 8, 64, 128, (28, 28), 1, stride=2),
        _conv(c2, 64, 16, 32, (14, 14), 3, stride=2, padding=1),
        # dilation 2
        _conv(c2, 8, 64, 64, (28, 28), 3, padding=2, dilation=2),
        _conv(c2, 8, 16, 32, (28, 28), 3, dilation=2),
        # groups
        _conv(c2, 8, 64, 64, (28, 28), 3, groups=2, padding=1),
        _conv(c2, 8, 64, 64, (28, 28), 3, groups=4, padding=1),
        _conv(c2, 8, 64, 64, (28, 28), 3, groups=64, padding=1),
        _conv(c2, 8, 64, 128, (28, 28), 3, groups=4, stride=2, padding=1),
        # padding 'same' (an even kernel too) and 'valid'
        _conv(c2, 8, 16, 32, (28, 28), 5, padding="same"),
        _conv(c2, 8, 64, 64, (28, 28), 4, padding="same"),
        _conv(c2, 8, 64, 64, (28, 28), 3, padding="valid"),
        # small planes
        _conv(c2, 64, 64, 64, (7, 7), 3, padding=1),
        _conv(c2, 8, 256, 256, (7, 7), 3, padding=1),
        _conv(c2, 64, 32, 32, (14, 14), 3, padding=1),
        _conv(c2, 1, 64, 64, (7, 7), 3, padding=1),
        _conv(c2, 64, 64, 64, (7, 7), 1),
        # conv1d: long signals, batch, channels, kernels, stride, dilation, groups, padding
        _conv(c1, 1, 16, 32, (16000,), 5, padding=2),
        _conv(c1, 8, 3, 16, (4096,), 7, padding=3),
        _conv(c1, 8, 64, 64, (1024,), 3, padding=1),
        _conv(c1, 64, 16, 32, (128,), 5, padding=2),
        _conv(c1, 8, 256, 256, (256,), 3, padding=1),
        _conv(c1, 8, 64, 64, (1024,), 1),
        _conv(c1, 8, 64, 64, (1024,), 7, padding="same"),
        _conv(c1, 8, 64, 64, (1024,), 3, stride=2, padding=1),
        _conv(c1, 8, 64, 64, (1024,), 3, dilation=2, padding=2),
        _conv(c1, 8, 64, 64, (1024,), 3, groups=4, padding=1),
        _conv(c1, 8, 64, 64, (1024,), 5, groups=64, padding=2),
        _conv(c1, 1, 64, 64, (16000,), 3, stride=2, padding=1),
        _conv(c1, 64, 64, 64, (32,), 3, padding="valid"),
        # conv3d
        _conv(c3, 1, 3, 16, (16, 16, 16), 3, padding=1),
        _conv(c3, 8, 16, 32, (8, 8, 8), 3, padding=1),
        _conv(c3, 8, 16, 32, (8, 8, 8), 1),
        _conv(c3, 8, 16, 32, (16, 16, 16), 3, stride=2, padding=1),
        _conv(c3, 8, 32, 32, (8, 8, 8), 3, groups=2, padding=1),
        _conv(c3, 8, 16, 16, (8, 8, 8), 3, dilation=2, padding=2),
        _conv(c3, 64, 16, 16, (4, 4, 4), 3, padding=1),
        # transposed: stride 2, output_padding 1 (the decoder's doubling)
        _transposed("conv_transpose2d", 8, 64, 32, (14, 14), 3, stride=2, padding=1,
                    output_padding=1),
        _transposed("conv_transpose2d", 8, 256, 128, (7, 7), 3, stride=2, padding=1,
                    output_padding=1),
        _transposed("conv_transpose2d", 1, 16, 3, (32, 32), 4, stride=2, padding=1),
        _transposed("conv_transpose2d", 64, 32, 16, (7, 7), 3, stride=2, padding=1,
                    output_padding=1),
        _transposed("conv_transpose1d", 8, 64, 32, (512,), 3, stride=2, padding=1,
                    output_padding=1),
        _transposed("conv_transpose1d", 1, 16, 16, (8000,), 4, stride=2, padding=1),
    ]
    return out


def case_data(case):
    """Seeded float32 input, weight and upstream gradient (its shape from torch)."""
    import torch
    rng = _rng(zlib.crc32(case.name.encode()))
    fan_in = int(np.prod(case.w[1:]))
    d = {"x": _normal(rng, case.x), "w": _uniform(rng, case.w, fan_in)}
    with torch.no_grad():
        shape = getattr(torch.nn.functional, case.op)(torch.from_numpy(d["x"]),
                                                      torch.from_numpy(d["w"]),
                                                      **case.kw).shape
    d["g"] = _normal(rng, tuple(shape))
    return d


def build(lib, case, d):
    return _functional_case(lib, d, "cpu",
                            lambda F, x, w, b: getattr(F, case.op)(x, w, None, **case.kw))


def time_case(case, torch, minigrad, budget):
    d = case_data(case)
    mg, th = build(minigrad, case, d), build(torch, case, d)
    mg.step()
    th.step()
    run.compare(case.name, mg.results(), th.results(), **run.LOOSE)   # raises WrongResult
    return sweep.timed_row(case.name, mg, th, budget)


def main(argv=None):
    args = sweep.parser(__doc__, 2.5).parse_args(argv)
    # both libraries warn that an even kernel's 'same' padding copies the input: known here
    warnings.filterwarnings("ignore", message="Using padding='same'")

    import torch
    import minigrad
    if args.threads:
        run.set_threads(torch, args.threads)
    torch.manual_seed(0)
    minigrad.manual_seed(0)
    return sweep.report(cases(), lambda case: time_case(case, torch, minigrad, args.budget),
                        torch, args, "float32, forward + backward (input and weight "
                        "gradients), median ms per step", "case", 52)


if __name__ == "__main__":
    sys.exit(main())
