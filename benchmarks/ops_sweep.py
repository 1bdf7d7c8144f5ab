"""Everyday ops beside PyTorch, forward + backward: ``python benchmarks/ops_sweep.py``.

run.py times whole training steps and conv_sweep.py convolutions; this script times the other
ops a model is made of -- normalisation, activations, losses, reductions, indexing, padding,
resampling, attention, embeddings, products -- one call each at a size a model meets, forward
then ``backward`` of a fixed upstream gradient into every floating input, float32, CPU.

Each case is first run in float64 on both sides and must agree within 1e-6 of each array's
largest magnitude (outputs and every input gradient: the cases draw no random numbers), then
in float32 loosely (as run.py checks its float32 runs); a disagreement is reported as WRONG,
gets no timing and makes the exit status 1. Then both sides are timed with run.py's
``time_interleaved`` (alternating blocks, the first step of a block untimed, medians), in one
process, OPENBLAS_THREAD_TIMEOUT=4 set before numpy loads unless the environment sets it.

    python benchmarks/ops_sweep.py                   # every case, the libraries' defaults
    python benchmarks/ops_sweep.py --threads 1       # torch, minigrad and numpy's BLAS on 1
    python benchmarks/ops_sweep.py --only norm --worst 5 --json ops.json
    python benchmarks/ops_sweep.py --quick           # tiny shapes (what the tests run)

The table lists every case (median ms on each side, their ratio, and the ratio of the two
fastest steps, which a loaded machine moves less), then the ``--worst`` highest ratios.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")      # before numpy loads OpenBLAS

import sys
import warnings
import zlib
from pathlib import Path
from typing import Callable, NamedTuple

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import run  # noqa: E402  (puts the checkout on sys.path, as for run.py itself)
import sweep  # noqa: E402
from workloads import Case as StepCase, _np, _rng  # noqa: E402


class Op(NamedTuple):
    """One case: ``call(lib, *inputs)`` on inputs of ``shapes`` (``quick``: the small ones the
    tests run). ``kinds`` says how each input is drawn: "n" normal, "u" uniform in (0.1, 1),
    "i<k>" integers below k (int64, no gradient)."""
    name: str
    call: Callable
    shapes: tuple
    quick: tuple
    kinds: str = ""


def f(lib):
    """The library's ``nn.functional``."""
    return lib.nn.functional


def _ops():
    return [
        # normalisation
        Op("layer_norm 64x128x768", lambda L, x, w, b: f(L).layer_norm(x, x.shape[-1:], w, b),
           ((64, 128, 768), (768,), (768,)), ((2, 3, 8), (8,), (8,))),
        Op("group_norm 16x64x32x32 g8", lambda L, x, w, b: f(L).group_norm(x, 8, w, b),
           ((16, 64, 32, 32), (64,), (64,)), ((2, 16, 4, 4), (16,), (16,))),
        Op("instance_norm 16x64x32x32", lambda L, x: f(L).instance_norm(x),
           ((16, 64, 32, 32),), ((2, 4, 5, 5),)),
        Op("batch_norm 64x256 (1-d)", lambda L, x, w, b: f(L).batch_norm(
            x, None, None, w, b, training=True), ((64, 256), (256,), (256,)),
           ((4, 6), (6,), (6,))),
        Op("rms_norm 64x128x768", lambda L, x, w: f(L).rms_norm(x, x.shape[-1:], w),
           ((64, 128, 768), (768,)), ((2, 3, 8), (8,))),
        # activations
        Op("gelu 64x128x768", lambda L, x: f(L).gelu(x), ((64, 128, 768),), ((3, 7),)),
        Op("gelu tanh 64x128x768", lambda L, x: f(L).gelu(x, approximate="tanh"),
           ((64, 128, 768),), ((3, 7),)),
        Op("silu 64x128x768", lambda L, x: f(L).silu(x), ((64, 128, 768),), ((3, 7),)),
        Op("mish 64x128x768", lambda L, x: f(L).mish(x), ((64, 128, 768),), ((3, 7),)),
        Op("erf 64x128x512", lambda L, x: x.erf(), ((64, 128, 512),), ((3, 7),)),
        Op("abs 4096x1024", lambda L, x: x.abs(), ((4096, 1024),), ((3, 7),)),
        Op("pow 3 4096x1024", lambda L, x: x ** 3, ((4096, 1024),), ((3, 7),)),
        Op("sigmoid 4096x1024", lambda L, x: x.sigmoid(), ((4096, 1024),), ((3, 7),)),
        Op("tanh 4096x1024", lambda L, x: x.tanh(), ((4096, 1024),), ((3, 7),)),
        Op("leaky_relu 4096x1024", lambda L, x: f(L).leaky_relu(x, 0.1), ((4096, 1024),),
           ((3, 7),)),
        Op("softplus 4096x1024", lambda L, x: f(L).softplus(x), ((4096, 1024),), ((3, 7),)),
        Op("hardswish 4096x1024", lambda L, x: f(L).hardswish(x), ((4096, 1024),), ((3, 7),)),
        Op("softmax 64x128x512", lambda L, x: f(L).softmax(x, -1), ((64, 128, 512),),
           ((2, 3, 5),)),
        Op("log_softmax 512x10000", lambda L, x: f(L).log_softmax(x, 1), ((512, 10000),),
           ((3, 7),)),
        # losses (a mean: one number backpropagated)
        Op("cross_entropy 512x1000", lambda L, x, t: f(L).cross_entropy(x, t),
           ((512, 1000), (512,)), ((4, 5), (4,)), "ni1000"),
        Op("cross_entropy smoothing 512x1000", lambda L, x, t: f(L).cross_entropy(
            x, t, label_smoothing=0.1), ((512, 1000), (512,)), ((4, 5), (4,)), "ni1000"),
        Op("mse_loss 4096x1024", lambda L, x, y: f(L).mse_loss(x, y),
           ((4096, 1024), (4096, 1024)), ((3, 7), (3, 7))),
        Op("bce_with_logits 4096x256", lambda L, x, y: f(L).binary_cross_entropy_with_logits(
            x, y), ((4096, 256), (4096, 256)), ((3, 7), (3, 7)), "nu"),
        Op("smooth_l1 4096x1024", lambda L, x, y: f(L).smooth_l1_loss(x, y),
           ((4096, 1024), (4096, 1024)), ((3, 7), (3, 7))),
        Op("nll_loss 2-d 16x21x64x64", lambda L, x, t: f(L).nll_loss(
            f(L).log_softmax(x, 1), t), ((16, 21, 64, 64), (16, 64, 64)),
           ((2, 3, 4, 4), (2, 4, 4)), "ni21"),
        # reductions and scans
        Op("sum(1) 1024x4096", lambda L, x: x.sum(1), ((1024, 4096),), ((3, 7),)),
        Op("mean + var(0) 4096x1024", lambda L, x: x.var(0) + x.mean(0), ((4096, 1024),),
           ((5, 7),)),
        Op("max(1) 1024x4096", lambda L, x: x.max(1)[0], ((1024, 4096),), ((3, 7),)),
        Op("logsumexp(1) 1024x4096", lambda L, x: x.logsumexp(1), ((1024, 4096),),
           ((3, 7),)),
        Op("cumsum(1) 1024x4096", lambda L, x: x.cumsum(1), ((1024, 4096),), ((3, 7),)),
        Op("norm(dim=1) 4096x1024", lambda L, x: x.norm(dim=1), ((4096, 1024),), ((3, 7),)),
        Op("topk(8) 1024x4096", lambda L, x: x.topk(8, 1)[0], ((1024, 4096),), ((3, 9),)),
        Op("sort(1) 256x4096", lambda L, x: x.sort(1)[0], ((256, 4096),), ((3, 9),)),
        # indexing and layout
        Op("index_select 4096x1024", lambda L, x, i: x.index_select(0, i),
           ((4096, 1024), (1366,)), ((9, 3), (4,)), "ni4096"),
        Op("gather 1024x1024", lambda L, x, i: x.gather(1, i), ((1024, 1024), (1024, 64)),
           ((4, 6), (4, 3)), "ni1024"),
        Op("embedding 30000x256", lambda L, w, i: f(L).embedding(i, w),
           ((30000, 256), (4096,)), ((50, 4), (7,)), "ni30000"),
        Op("embedding_bag 10000x128", lambda L, w, i: f(L).embedding_bag(
            i, w, L.arange(0, i.shape[0], 16)), ((10000, 128), (8192,)), ((50, 4), (32,)),
           "ni10000"),
        Op("boolean mask 4096x1024", lambda L, x: x[x > 0.5], ((4096, 1024),), ((3, 7),)),
        Op("cat(dim 1) 2x 1024x1024", lambda L, x, y: L.cat([x, y], 1),
           ((1024, 1024), (1024, 1024)), ((3, 4), (3, 5))),
        Op("transpose contiguous 64x256x512", lambda L, x: x.transpose(1, 2).contiguous(),
           ((64, 256, 512),), ((2, 3, 4),)),
        Op("where 4096x1024", lambda L, x, y: L.where(x > 0, x, y),
           ((4096, 1024), (4096, 1024)), ((3, 7), (3, 7))),
        # padding, pooling, resampling
        Op("pad reflect 16x64x64x64", lambda L, x: f(L).pad(x, (2, 2, 2, 2), mode="reflect"),
           ((16, 64, 64, 64),), ((2, 3, 5, 5),)),
        Op("pad replicate 16x64x64x64", lambda L, x: f(L).pad(x, (2, 2, 2, 2),
                                                               mode="replicate"),
           ((16, 64, 64, 64),), ((2, 3, 5, 5),)),
        Op("avg_pool2d 3/2 16x64x56x56", lambda L, x: f(L).avg_pool2d(x, 3, 2, 1),
           ((16, 64, 56, 56),), ((2, 3, 7, 7),)),
        Op("adaptive_avg_pool2d 64x256x14x14", lambda L, x: f(L).adaptive_avg_pool2d(x, 1),
           ((64, 256, 14, 14),), ((2, 3, 5, 5),)),
        Op("interpolate bilinear x2 16x64x32x32", lambda L, x: f(L).interpolate(
            x, scale_factor=2, mode="bilinear", align_corners=False), ((16, 64, 32, 32),),
           ((2, 3, 4, 4),)),
        Op("interpolate nearest x2 16x64x32x32", lambda L, x: f(L).interpolate(
            x, scale_factor=2, mode="nearest"), ((16, 64, 32, 32),), ((2, 3, 4, 4),)),
        Op("grid_sample 8x32x64x64", lambda L, x, g: f(L).grid_sample(
            x, g.tanh(), align_corners=False), ((8, 32, 64, 64), (8, 64, 64, 2)),
           ((2, 3, 5, 5), (2, 4, 4, 2))),
        Op("unfold 3x3 8x32x32x32", lambda L, x: f(L).unfold(x, 3, padding=1),
           ((8, 32, 32, 32),), ((2, 3, 5, 5),)),
        # products and attention
        Op("linear 4096x512 -> 1024", lambda L, x, w, b: f(L).linear(x, w, b),
           ((4096, 512), (1024, 512), (1024,)), ((5, 4), (3, 4), (3,))),
        Op("bmm 64x128x64 @ 64x64x128", lambda L, a, b: L.bmm(a, b),
           ((64, 128, 64), (64, 64, 128)), ((2, 3, 4), (2, 4, 5))),
        Op("matmul a @ b^T 32x256x256", lambda L, a, b: a @ b.transpose(-1, -2),
           ((32, 256, 256), (32, 256, 256)), ((2, 3, 4), (2, 5, 4))),
        Op("einsum bhqd,bhkd 8x8x256x64", lambda L, q, k: L.einsum("bhqd,bhkd->bhqk", q, k),
           ((8, 8, 256, 64), (8, 8, 256, 64)), ((1, 2, 3, 4), (1, 2, 5, 4))),
        Op("sdpa causal 8x8x256x64", lambda L, q, k, v: f(L).scaled_dot_product_attention(
            q, k, v, is_causal=True), ((8, 8, 256, 64),) * 3, ((1, 2, 3, 4),) * 3),
        Op("cdist 1024x64, 1024x64", lambda L, a, b: L.cdist(a, b),
           ((1024, 64), (1024, 64)), ((4, 3), (5, 3))),
        Op("cosine_similarity 4096x256", lambda L, a, b: f(L).cosine_similarity(a, b),
           ((4096, 256), (4096, 256)), ((4, 3), (4, 3))),
        Op("conv_transpose2d s2 16x32x32x32", lambda L, x, w: f(L).conv_transpose2d(
            x, w, stride=2, padding=1, output_padding=1), ((16, 32, 32, 32), (32, 16, 3, 3)),
           ((2, 3, 4, 4), (3, 2, 3, 3))),
    ]


def _inputs(op, quick, dtype):
    """The case's inputs as numpy arrays, seeded by its name: the same numbers on both sides
    (float32 arrays are the float64 ones rounded)."""
    rng = _rng(zlib.crc32(op.name.encode()))
    kinds = op.kinds or "n" * len(op.shapes)
    out = []
    for shape, kind in zip(op.quick if quick else op.shapes, _split_kinds(kinds)):
        if kind == "n":
            out.append(rng.standard_normal(shape).astype(dtype))
        elif kind == "u":
            out.append(rng.uniform(0.1, 1.0, shape).astype(dtype))
        else:                                               # "i<k>": integers below k
            high = int(kind[1:])
            if quick:                        # the quick shapes' tables are smaller: fit them
                high = min(high, min(s for s in op.quick[0]))
            out.append(rng.integers(0, high, shape).astype(np.int64))
    return out


def _split_kinds(kinds):
    """'ni1000u' -> ['n', 'i1000', 'u']."""
    out, i = [], 0
    while i < len(kinds):
        j = i + 1
        if kinds[i] == "i":
            while j < len(kinds) and kinds[j].isdigit():
                j += 1
        out.append(kinds[i:j])
        i = j
    return out


def build(lib, op, arrays):
    """A step (forward, then backward of a fixed upstream gradient) as a workloads Case."""
    leaves = [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    last = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe = op.call(lib, *leaves)
    rng = _rng(zlib.crc32(op.name.encode()) + 1)
    upstream = lib.tensor(rng.standard_normal(tuple(probe.shape)).astype(arrays[0].dtype))

    def step():
        for t in leaves:
            t.grad = None
        out = op.call(lib, *leaves)
        out.backward(upstream)
        last["out"] = out

    def results():
        r = {"out": _np(last["out"])}
        for k, t in enumerate(leaves):
            if t.grad is not None:
                r[f"grad {k}"] = _np(t.grad)
        return r
    return StepCase(step, results)


def check(op, torch, minigrad, quick):
    """float64 strictly, then float32 loosely; raises run.WrongResult."""
    for dtype, tol in ((np.float64, run.STRICT), (np.float32, run.LOOSE)):
        arrays = _inputs(op, quick, dtype)
        mg, th = build(minigrad, op, arrays), build(torch, op, arrays)
        mg.step()
        th.step()
        run.compare(f"{op.name} ({np.dtype(dtype).name})", mg.results(), th.results(), **tol)


def time_op(op, torch, minigrad, budget, quick):
    check(op, torch, minigrad, quick)
    arrays = _inputs(op, quick, np.float32)
    mg, th = build(minigrad, op, arrays), build(torch, op, arrays)
    return sweep.timed_row(op.name, mg, th, budget)


def main(argv=None):
    p = sweep.parser(__doc__, 1.5)
    p.add_argument("--quick", action="store_true", help="tiny shapes, for the tests")
    args = p.parse_args(argv)

    import torch
    import minigrad
    if args.threads:
        run.set_threads(torch, args.threads)
    return sweep.report(_ops(), lambda op: time_op(op, torch, minigrad, args.budget,
                                                   args.quick),
                        torch, args, "float32, forward + backward, median ms per call", "op",
                        40)


if __name__ == "__main__":
    sys.exit(main())
