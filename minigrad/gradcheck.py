"""``python -m minigrad.gradcheck``: check every registered op against PyTorch and finite differences.

    python -m minigrad.gradcheck                 # every op, every sample, on the CPU
    python -m minigrad.gradcheck --op conv2d     # one op (repeat --op for more)
    python -m minigrad.gradcheck --fast          # two samples per op
    python -m minigrad.gradcheck --device cuda   # minigrad on the GPU (torch on CPU or GPU)
    python -m minigrad.gradcheck --order 2       # also second derivatives (torch + FD)
    python -m minigrad.gradcheck --list          # the registered op names

Each sample of each op (see ``minigrad/testing/registry.py``) is checked three ways, in
float64: forward against torch, gradients against torch (one shared random upstream
gradient), gradients against central finite differences; with ``--order 2`` also the second
derivatives against torch's (``autograd.grad`` with ``create_graph=True``, twice) and against
finite differences of the first derivative (``gradgradcheck``).  The table shows, per op, the
number of samples, the worst absolute and relative error met and the status.  Exit status: 0
when everything passes, 1 when something fails, 2 for a usage error (unknown op, no GPU).
"""
from __future__ import annotations

import argparse
import sys
import time

from . import backend, cuda
from .testing import registry

# Tolerances of the checks (float64 throughout).
TORCH_RTOL, TORCH_ATOL = 1e-6, 1e-9
FD_EPS, FD_ATOL, FD_RTOL = 1e-6, 1e-5, 1e-3


def _parse(argv):
    p = argparse.ArgumentParser(
        prog="python -m minigrad.gradcheck",
        description="Check minigrad's ops against PyTorch and finite differences.")
    p.add_argument("--op", action="append", metavar="NAME",
                   help="check only this op (repeatable); see --list")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="where minigrad runs (torch runs on cuda too when it can)")
    p.add_argument("--fast", action="store_true", help="only the first two samples of each op")
    p.add_argument("--order", type=int, default=1, choices=(1, 2),
                   help="2: also check second derivatives (float64, CPU)")
    p.add_argument("--list", action="store_true", help="print the registered op names and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print every failure in full")
    return p.parse_args(argv)


def _torch_device(device):
    """torch runs on the GPU when minigrad does and torch can; otherwise on the CPU."""
    if device == "cpu":
        return "cpu"
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_op(info, device="cpu", torch_device="cpu", fast=False, order=1):
    """Run every check on every sample of one op (``order`` 2: second derivatives too).

    Returns a dict: samples (count), max_abs, max_rel (worst errors), failures (messages),
    skipped (a reason, or None).
    """
    result = {"name": info.name, "samples": 0, "max_abs": 0.0, "max_rel": 0.0,
              "failures": [], "skipped": info.skip_reason()}
    if result["skipped"]:
        return result
    samples = list(info.samples())
    if fast:
        samples = samples[:2]
    for k, sample in enumerate(samples):
        result["samples"] += 1
        where = f"{info.name}[{k}] ({sample.desc})"
        try:
            cmp = info.compare(sample, rtol=TORCH_RTOL, atol=TORCH_ATOL, device=device,
                               torch_device=torch_device)
            result["max_abs"] = max(result["max_abs"], cmp.max_abs_err)
            result["max_rel"] = max(result["max_rel"], cmp.max_rel_err)
        except Exception as exc:  # a wrong value and a crash are both failures of the op
            result["failures"].append(f"{where} vs torch: {type(exc).__name__}: {exc}")
            continue
        if not info.finite_differences_apply(sample):
            continue
        try:
            report, e_abs, e_rel = info.gradcheck(sample, device=device, eps=FD_EPS,
                                                  atol=FD_ATOL, rtol=FD_RTOL)
        except Exception as exc:
            result["failures"].append(f"{where} gradcheck: {type(exc).__name__}: {exc}")
            continue
        result["max_abs"] = max(result["max_abs"], e_abs)
        result["max_rel"] = max(result["max_rel"], e_rel)
        if report:
            result["failures"].append(f"{where} vs finite differences: {report}")
    if order == 2:
        _check_second_order(info, samples, result)
    return result


def _check_second_order(info, samples, result):
    """Second derivatives of every sample: against torch, then finite differences. An op
    registered as first-order only must refuse, with an error that names it."""
    for k, sample in enumerate(samples):
        if not any(sample.requires_grad):
            continue
        where = f"{info.name}[{k}] ({sample.desc}) second order"
        try:
            info.compare_second_order(sample, rtol=TORCH_RTOL, atol=TORCH_ATOL)
        except RuntimeError as exc:
            if not info.second_order and "not implemented" in str(exc):
                result["first_order_only"] = True
                continue
            result["failures"].append(f"{where} vs torch: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:
            result["failures"].append(f"{where} vs torch: {type(exc).__name__}: {exc}")
            continue
        if not info.second_order:
            result["failures"].append(f"{where}: registered as first-order only, but its "
                                      "second derivative did not raise")
            continue
        if info.finite_differences_apply(sample):
            report = info.gradgradcheck(sample, eps=FD_EPS, atol=FD_ATOL, rtol=FD_RTOL)
            if report:
                result["failures"].append(f"{where} vs finite differences: {report}")


def _status(r):
    if r["skipped"]:
        return f"skip: {r['skipped']}"
    if r["failures"]:
        return f"FAIL ({len(r['failures'])})"
    if r.get("first_order_only"):
        return "ok (first order only)"
    return "ok"


def _print_table(results, out):
    width = max([len("op")] + [len(r["name"]) for r in results])
    out.write(f"{'op':<{width}}  {'samples':>7}  {'max abs err':>11}  {'max rel err':>11}  "
              "status\n")
    out.write("-" * (width + 48) + "\n")
    for r in results:
        if r["skipped"]:
            errs = f"{'-':>11}  {'-':>11}"
        else:
            errs = f"{r['max_abs']:>11.2e}  {r['max_rel']:>11.2e}"
        out.write(f"{r['name']:<{width}}  {r['samples']:>7}  {errs}  {_status(r)}\n")


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)

    if args.list:
        for name in registry.names():
            print(name)
        return 0
    if args.order == 2 and args.device != "cpu":
        print("error: --order 2 runs on the CPU only", file=sys.stderr)
        return 2
    if args.device == "cuda":
        if not cuda.is_available():
            print("error: --device cuda, but minigrad cannot use a GPU here "
                  f"({backend._cupy_error or 'no CUDA device'}). Install cupy on a machine "
                  "with an NVIDIA GPU, or run with --device cpu.", file=sys.stderr)
            return 2
    names = args.op or registry.names()
    try:
        infos = [registry.get(n) for n in names]
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        import torch  # noqa: F401
    except ImportError:
        print("error: the checks compare with PyTorch, which is not installed: pip install torch "
              "(or pip install 'minigrad[test]')", file=sys.stderr)
        return 2

    torch_device = _torch_device(args.device)
    start = time.perf_counter()
    results = [check_op(info, args.device, torch_device, args.fast, args.order)
               for info in infos]
    elapsed = time.perf_counter() - start

    out = sys.stdout
    orders = "first and second derivatives" if args.order == 2 else "first derivatives"
    out.write(f"minigrad gradcheck ({orders}): minigrad on {args.device}, torch on "
              f"{torch_device}, float64; "
              f"torch rtol {TORCH_RTOL:g}, finite differences eps {FD_EPS:g} "
              f"atol {FD_ATOL:g} rtol {FD_RTOL:g}\n\n")
    _print_table(results, out)
    failed = [r for r in results if r["failures"]]
    n_samples = sum(r["samples"] for r in results)
    skipped = [r for r in results if r["skipped"]]
    out.write(f"\n{len(results)} ops, {n_samples} samples in {elapsed:.1f} s: "
              f"{len(failed)} failed, {len(skipped)} skipped\n")
    for r in failed:
        out.write(f"\n== {r['name']} ==\n")
        for msg in (r["failures"] if args.verbose else r["failures"][:3]):
            out.write(msg.rstrip() + "\n")
        if not args.verbose and len(r["failures"]) > 3:
            out.write(f"... and {len(r['failures']) - 3} more (use -v)\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
