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

import argparse
import json
import statistics
import sys
import time
import warnings
import zlib
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import run  # noqa: E402  (puts the checkout on sys.path, as for run.py itself)
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
    t0 = time.perf_counter()
    mg.step()
    th.step()
    per_step = time.perf_counter() - t0
    # about ``budget`` seconds per case (timed steps and the untimed first of each block)
    repeat = int(max(5, min(21, budget / (1.5 * per_step))))
    times = run.time_interleaved(mg, th, lambda: None, lambda: None, repeat, 1, block=3)
    ms = {side: statistics.median(t) for side, t in times.items()}
    least = {side: min(t) for side, t in times.items()}
    # the ratio of the fastest steps too: on a loaded machine, it moves less than the medians'
    return {"name": case.name, "minigrad_ms": ms["minigrad"], "torch_ms": ms["torch"],
            "ratio": ms["minigrad"] / ms["torch"], "minigrad_min_ms": least["minigrad"],
            "torch_min_ms": least["torch"], "min_ratio": least["minigrad"] / least["torch"],
            "repeat": repeat}


def _table(rows):
    lines = [f"{'case':52s} {'minigrad ms':>11s} {'torch ms':>9s} {'ratio':>6s} "
             f"{'min ratio':>9s}"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['name']:52s} {r['error']}")
        else:
            lines.append(f"{r['name']:52s} {r['minigrad_ms']:11.3f} {r['torch_ms']:9.3f} "
                         f"{r['ratio']:6.2f} {r['min_ratio']:9.2f}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=None,
                   help="torch's, minigrad's and numpy's BLAS threads (default: theirs)")
    p.add_argument("--only", default="", help="only the cases whose name contains this")
    p.add_argument("--worst", type=int, default=10, help="how many worst ratios to list")
    p.add_argument("--budget", type=float, default=2.5,
                   help="seconds of timing per case, about (default 2.5)")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    args = p.parse_args(argv)
    # both libraries warn that an even kernel's 'same' padding copies the input: known here
    warnings.filterwarnings("ignore", message="Using padding='same'")

    import torch
    import minigrad
    if args.threads:
        run.set_threads(torch, args.threads)
    torch.manual_seed(0)
    minigrad.manual_seed(0)
    info = run.machine_info(torch, "cpu")
    print(f"minigrad {info['minigrad']} vs torch {info['torch']}: {info['cpu']}, "
          f"{info['cores']} cores; torch threads {info['torch_threads']}, minigrad threads "
          f"{info['minigrad_threads']}, numpy BLAS {info['numpy_blas']}; float32, forward + "
          f"backward (input and weight gradients), median ms per step; "
          f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT')}")
    if info["blas_note"]:
        print(info["blas_note"])
    rows, failed = [], False
    for case in cases():
        if args.only not in case.name:
            continue
        try:
            row = time_case(case, torch, minigrad, args.budget)
        except run.WrongResult as exc:
            print(f"WRONG RESULT -- {exc}", file=sys.stderr)
            row, failed = {"name": case.name, "error": "WRONG RESULT (not timed)"}, True
        rows.append(row)
        print(_table([row]).splitlines()[1], flush=True)
    timed = sorted((r for r in rows if "error" not in r), key=lambda r: -r["ratio"])
    load = info["load_average_1min"]
    if load is not None and load > 0.5 * (info["cores"] or 1):
        print(f"WARNING: load average {load:.1f} on {info['cores']} cores: other processes "
              "compete for the CPU; the medians are unreliable ('min ratio' less so)")
    print(f"\nworst {min(args.worst, len(timed))} ratios (minigrad / torch, medians):")
    print(_table(timed[:args.worst]))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
