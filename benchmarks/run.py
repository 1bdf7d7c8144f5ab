"""minigrad vs PyTorch, same process, same numbers: ``python benchmarks/run.py``.

For every workload in benchmarks/workloads.py this script

  1. builds it on both sides from the same seeded numpy inputs and weights,
  2. checks minigrad's outputs and gradients against PyTorch's (and, where minigrad's op
     registry exists, runs its samples of the benchmarked ops): a wrong answer is reported
     as WRONG, gets no timing, and makes the script exit with status 1,
  3. warms both sides up, then times them in alternating blocks of consecutive steps --
     round r runs minigrad's block first when r is even, PyTorch's when r is odd; the first
     step of a block is not timed -- and reports the median of each,
  4. measures the memory of one step on each side (see --help for what exactly).

Options: --only NAME[,NAME], --repeat N, --warmup N, --quick (tiny shapes, for the tests),
--device cuda (minigrad on cupy vs torch on CUDA), --memory (per-process peak RSS from fresh
subprocesses), --json (machine-readable), --profile (cProfile of minigrad's side),
--scaling (one conv2d over batch and image sizes), --tune-malloc (minigrad's opt-in).

Idle threads: after a numpy BLAS call OpenBLAS keeps its worker threads spinning for a
while (2^28 cycles by default), and torch's OpenMP threads spin after each parallel region;
right after the other library's step, either steals a core. This script sets
OPENBLAS_THREAD_TIMEOUT=4 (the shortest spin) before numpy is imported, unless the
environment sets it already, and leaves the first step of every block untimed.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")      # before numpy loads OpenBLAS

BLOCK = 4           # steps per side per round; the first of each is not timed

import argparse
import functools
import gc
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:       # run from a checkout without installing
    sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from workloads import (SCALING, SCALING_QUICK, WORKLOADS, Unavailable,  # noqa: E402
                       conv2d_build, scaling_data)

# The strict check runs every workload once in float64 on both sides: summation orders differ,
# but an error above 1e-6 of an array's largest magnitude is a bug. In float32 the same
# check would be flaky: a conv output that is +1e-7 on one side and -1e-7 on the other flips
# relu's mask there, which moves a whole gradient contribution (4% of max |grad x| in the
# Conv1d model, in a few hundred of its 2 million entries). So the float32 run (the one timed)
# is checked loosely: dtype, shapes, no NaN/inf, and a relative error in the 2-norm,
# |mine - ref| / |ref|, below 1% -- the float64 run has already checked the arithmetic.
STRICT = dict(rtol=1e-6, atol=1e-9)
LOOSE = dict(rtol=1e-2, atol=1e-6, norm=True)


class WrongResult(Exception):
    """minigrad's answer differs from PyTorch's: no timing may be reported for it."""


# ----------------------------------------------------------------------------------------------
# Machine and libraries
# ----------------------------------------------------------------------------------------------
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _blas_libraries():
    """numpy's BLAS as threadpoolctl sees it: [{internal_api, version, architecture,
    num_threads}, ...]; [] without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # threadpoolctl is optional
        return []
    return [i for i in threadpool_info() if i.get("user_api") == "blas"]


def _blas_info():
    libs = _blas_libraries()
    if not libs:
        return "unknown (pip install threadpoolctl to see)"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')}"
                     + (f" {i['architecture']} kernels" if i.get("architecture") else "")
                     + f" ({i.get('num_threads')} threads)" for i in libs)


# OpenBLAS kernel sets that use no 512-bit vectors (its names for them)
_NARROW_OPENBLAS_CORES = {"haswell", "zen", "sandybridge", "nehalem", "core2", "penryn",
                          "dunnington", "atom", "bulldozer", "piledriver", "steamroller",
                          "excavator", "barcelona", "prescott", "katmai", "coppermine",
                          "northwood", "opteron", "opteron_sse3", "athlon", "banias"}


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def blas_note(libs=None, flags=None, environ=None):
    """A warning when OpenBLAS runs narrower kernels than the CPU has, or None.

    numpy's matrix products are OpenBLAS's, and OpenBLAS picks its kernels once, when it is
    loaded: by the CPU it detects, or by OPENBLAS_CORETYPE when the environment sets it. On
    an AVX-512 CPU, AVX2 kernels ("Haswell") do about half the multiply-adds per cycle, and
    PyTorch's convolutions (oneDNN) are not bound by that variable: every ratio of a
    workload made of matrix products then shows it."""
    libs = _blas_libraries() if libs is None else libs
    flags = _cpu_flags() if flags is None else flags
    environ = os.environ if environ is None else environ
    narrow = sorted({i["architecture"] for i in libs if i.get("internal_api") == "openblas"
                     and str(i.get("architecture", "")).lower() in _NARROW_OPENBLAS_CORES})
    if not narrow or "avx512f" not in flags:
        return None
    forced = environ.get("OPENBLAS_CORETYPE")
    why = (f"OPENBLAS_CORETYPE={forced} in the environment picks them"
           if forced else "OpenBLAS did not recognise this CPU")
    return (f"NOTE: numpy's OpenBLAS runs {'/'.join(narrow)} kernels (AVX2) on a CPU with "
            f"AVX-512 ({why}): its matrix products run at about half the speed the CPU "
            "allows, PyTorch's do not. Unset OPENBLAS_CORETYPE (or set it to match the CPU) "
            "to compare on equal terms.")


def machine_info(torch, device):
    import minigrad
    info = {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "os": platform.platform(),
        "python": platform.python_version(), "numpy": np.__version__,
        "numpy_blas": _blas_info(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "minigrad": minigrad.__version__,
        "minigrad_threads": minigrad.get_num_threads(),
        "device": device, "dtype": "float32",
        "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "blas_note": blas_note(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    if device == "cuda":
        import cupy
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cupy"] = cupy.__version__
    return info


def require_device(device):
    """Fail with a clear message when the requested device cannot be used by both sides."""
    if device == "cpu":
        return
    import torch
    import minigrad
    problems = []
    if not torch.cuda.is_available():
        problems.append("PyTorch sees no CUDA GPU (torch.cuda.is_available() is False; this torch "
                        f"is {torch.__version__})")
    try:
        import cupy  # noqa: F401
    except ImportError:
        problems.append("cupy is not installed (pip install cupy-cuda12x, or minigrad[cuda])")
    else:
        if not minigrad.cuda.is_available():
            problems.append("cupy is installed but sees no usable GPU "
                            "(minigrad.cuda.is_available() is False)")
    if problems:
        raise SystemExit("benchmarks/run.py --device cuda: no GPU to benchmark on:\n  - "
                         + "\n  - ".join(problems))


def set_threads(torch, n):
    """torch's intra-op threads (when torch is given), minigrad's own (its passes that are
    not matrix products) and numpy's BLAS threads, to n."""
    import minigrad
    if torch is not None:
        torch.set_num_threads(n)
    minigrad.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit("--threads needs threadpoolctl to limit numpy's BLAS threads "
                         "(pip install threadpoolctl)") from None
    threadpool_limits(n, user_api="blas")


def synchronizer(lib, device):
    if device != "cuda":
        return lambda: None
    return lib.cuda.synchronize


# ----------------------------------------------------------------------------------------------
# Correctness pre-check
# ----------------------------------------------------------------------------------------------
def compare(name, mine, ref, rtol=STRICT["rtol"], atol=STRICT["atol"], norm=False):
    """Raise WrongResult unless every array of minigrad's results matches PyTorch's: same
    shape and dtype, finite, and max|mine - ref| <= atol + rtol * max|ref| (with ``norm``:
    the 2-norms, |mine - ref| <= atol + rtol * |ref|)."""
    problems = []
    for key in ref:
        if key not in mine:
            problems.append(f"{key}: missing on minigrad's side")
            continue
        a, b = np.asarray(mine[key]), np.asarray(ref[key])
        if a.shape != b.shape:
            problems.append(f"{key}: shape {a.shape} != torch's {b.shape}")
            continue
        if a.dtype != b.dtype:
            problems.append(f"{key}: dtype {a.dtype} != torch's {b.dtype}")
            continue
        if not np.all(np.isfinite(a)):
            problems.append(f"{key}: minigrad's result has NaN/inf")
            continue
        diff = a.astype(np.float64) - b
        if norm:
            scale = float(np.linalg.norm(b.ravel()))
            err = float(np.linalg.norm(diff.ravel()))
            what = "2-norm of the error", "torch's 2-norm"
        else:
            scale = float(np.max(np.abs(b))) if b.size else 0.0
            err = float(np.max(np.abs(diff))) if b.size else 0.0
            what = "max abs error", "torch's largest |value|"
        allowed = atol + rtol * scale
        if not err <= allowed:
            problems.append(f"{key}: {what[0]} {err:.3g} ({what[1]} is {scale:.3g}; "
                            f"allowed {allowed:.3g})")
    if problems:
        raise WrongResult(f"{name}: minigrad's result differs from PyTorch's:\n    "
                          + "\n    ".join(problems))


def check_float64(workload, data, device, torch, minigrad):
    """One step of the workload in float64 on both sides, compared strictly."""
    d64 = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in data.items()}
    mine = workload.build(minigrad, d64, device)
    ref = workload.build(torch, d64, device)
    mine.step()
    ref.step()
    compare(workload.name + " (float64)", mine.results(), ref.results(), **STRICT)


def registry_precheck(workload, device):
    """Run minigrad's op-registry samples of the benchmarked ops (forward and gradients against
    torch, float32), when the registry exists. Returns a note; raises WrongResult on a mismatch."""
    try:
        from minigrad.testing import registry
        from minigrad.testing.gradcheck import compare_with_torch
        registry.names()
    except ImportError as exc:
        return f"skipped (op registry not available: {exc})"
    checked, skipped, errors = 0, [], []
    for op in workload.registry_ops:
        try:
            info = registry.get(op)
        except KeyError:
            skipped.append(f"{op}: not registered")
            continue
        reason = info.skip_reason()
        if reason:
            skipped.append(f"{op}: {reason}")
            continue
        dtype = np.float32 if info.float32 else np.float64
        for sample in info.samples(dtype=dtype):
            rtol = sample.rtol if sample.rtol is not None else info.rtol
            atol = sample.atol if sample.atol is not None else info.atol
            try:
                compare_with_torch(functools.partial(info.fn, **sample.kwargs),
                                   functools.partial(info.torch_fn, **sample.kwargs),
                                   sample.inputs, rtol=rtol, atol=atol,
                                   requires_grad=sample.requires_grad, device=device,
                                   torch_device=device)
            except AssertionError as exc:
                raise WrongResult(f"{workload.name}: registry sample {op}({sample.desc}) "
                                  f"disagrees with torch: {exc}") from None
            except Exception as exc:  # the checker itself broke: say so, do not hide it
                errors.append(f"{op}({sample.desc}): checker raised {type(exc).__name__}: {exc}")
                continue
            checked += 1
    note = f"{checked} samples of {', '.join(workload.registry_ops)} match torch"
    if skipped:
        note += f" (skipped {'; '.join(skipped)})"
    if errors:
        note += f"; {len(errors)} samples could not be checked, first: {errors[0]}"
    return note


# ----------------------------------------------------------------------------------------------
# Memory of one step
# ----------------------------------------------------------------------------------------------
def minigrad_step_peak(step):
    """Peak bytes allocated and still live during one step, over what was live before (Python
    objects and numpy array buffers, which numpy reports to tracemalloc)."""
    import tracemalloc
    gc.collect()
    tracemalloc.start()
    try:
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def torch_step_peak(step):
    """Peak bytes of tensor memory allocated during one step, over what was live before, from
    torch.profiler's memory records (summed in the order the ops started; an op's temporaries
    that it frees before returning are not seen, so this is a lower bound)."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    gc.collect()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    del torch
    return peak


def _rss_mb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss():
    """Start VmHWM again from the current RSS (Linux: write 5 to /proc/self/clear_refs).
    False where that is not possible; the peak then covers the whole process's life."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child_main(name, side, device, quick, threads=None, steps=5):
    """A fresh process that imports ONE library, builds ONE workload and runs it: its peak RSS
    is what a program that only does this step needs.

    Two views of it: ``peak_rss_mb`` over the whole run (imports, data, first step with its
    one-time allocations: minigrad's scratch-buffer cache, torch's lazily built kernels), and
    ``step_rss_growth_mb``, the peak of the later steps over the RSS between steps -- what
    each training step adds, the number the memory targets compare."""
    workload = next(w for w in WORKLOADS if w.name == name)
    rss_start = _rss_mb("VmRSS")
    if side == "minigrad":
        import minigrad as lib
    else:
        import torch as lib
    if threads:
        set_threads(lib if side == "torch" else None, threads)
    data = workload.data(quick)
    case = workload.build(lib, data, device)
    del data
    gc.collect()
    rss_setup = _rss_mb("VmRSS")
    sync = synchronizer(lib, device)
    case.step()
    sync()
    first_peak = _rss_mb("VmHWM")
    gc.collect()
    reset = _reset_peak_rss()
    rss_between = _rss_mb("VmRSS")
    for _ in range(steps):
        case.step()
    sync()
    peak = _rss_mb("VmHWM")
    print(json.dumps({"rss_start_mb": rss_start, "rss_setup_mb": rss_setup,
                      "first_step_peak_rss_mb": first_peak, "rss_between_steps_mb": rss_between,
                      "peak_rss_mb": max(first_peak, peak),
                      "step_rss_growth_mb": (peak - rss_between) if reset else None,
                      "torch_imported": "torch" in sys.modules}))


def subprocess_memory(name, side, device, quick, threads=None):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", name, side,
           "--device", device] + (["--quick"] if quick else []) + \
        (["--threads", str(threads)] if threads else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"memory subprocess for {name}/{side} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------
def time_interleaved(mg, th, sync_mg, sync_th, repeat, warmup, block=BLOCK):
    """``repeat`` timed steps per side, in alternating blocks of ``block`` consecutive steps
    of one side (minigrad's block first in even rounds, torch's in odd ones); the first step
    of every block is not timed. A library's idle threads keep spinning for a while after
    its last parallel region (torch's OpenMP threads, numpy's OpenBLAS threads): step by
    step interleaving (``block`` 1, every step timed) made each side pay for the other's
    spinning threads, which on the 2-core machine made a 20 ms LeNet step look 1.35x
    slower than it runs alone. The untimed first step absorbs that; blocks still share any
    drift of the machine between both sides."""
    for _ in range(warmup):
        mg.step()
        sync_mg()
        th.step()
        sync_th()
    times = {"minigrad": [], "torch": []}
    sides = [("minigrad", mg, sync_mg), ("torch", th, sync_th)]
    r = 0
    while len(times["minigrad"]) < repeat or len(times["torch"]) < repeat:
        for side, case, sync in (sides if r % 2 == 0 else sides[::-1]):
            for b in range(block):
                t0 = time.perf_counter()
                case.step()
                sync()
                if (b > 0 or block == 1) and len(times[side]) < repeat:
                    times[side].append((time.perf_counter() - t0) * 1e3)
        r += 1
    return times


def run_workload(w, args, torch, minigrad):
    row = {"name": w.name, "title": w.title, "target": w.target}
    data = w.data(args.quick)
    try:
        mg = w.build(minigrad, data, args.device)
    except Unavailable as exc:
        row["status"] = f"n/a: {exc}"
        return row
    th = w.build(torch, data, args.device)
    sync_mg, sync_th = synchronizer(minigrad, args.device), synchronizer(torch, args.device)

    check_float64(w, data, args.device, torch, minigrad)   # raises WrongResult
    mg.step()
    th.step()
    compare(w.name + " (float32)", mg.results(), th.results(), **LOOSE)
    row["registry"] = registry_precheck(w, args.device)

    times = time_interleaved(mg, th, sync_mg, sync_th, args.repeat, args.warmup, args.block)
    for side in times:
        row[f"{side}_ms"] = statistics.median(times[side])
        row[f"{side}_min_ms"] = min(times[side])
        row[f"{side}_times_ms"] = [round(t, 4) for t in times[side]]
    row["ratio"] = row["minigrad_ms"] / row["torch_ms"]
    row["status"] = "ok" if row["ratio"] <= w.target else "SLOWER THAN TARGET"

    if args.profile:
        row["profile"] = profile_minigrad(mg, args.profile_lines)
    row["_cases"] = (mg, th)
    return row


def measure_memory(row, args):
    """Phase 2, after every timing: torch.profiler leaves the process slower (150 ms for a
    sub-millisecond op), so no torch step may be timed after it ran."""
    mg, th = row.pop("_cases")
    if args.device == "cpu":
        # the scratch-buffer cache still holds the previous workload's buffers: it settles on
        # this workload's within two steps (the ResNet-like step after conv2d_large allocated
        # 146 MB in its second step, 138 from its third on, as when it runs alone)
        for _ in range(3):
            mg.step()
        row["minigrad_step_alloc_mb"] = minigrad_step_peak(mg.step) / 2**20
        row["torch_step_alloc_mb"] = torch_step_peak(th.step) / 2**20
    if args.memory:
        for side in ("minigrad", "torch"):
            m = subprocess_memory(row["name"], side, args.device, args.quick, args.threads)
            row[f"{side}_peak_rss_mb"] = m["peak_rss_mb"]
            row[f"{side}_rss_increase_mb"] = m["peak_rss_mb"] - m["rss_setup_mb"]
            row[f"{side}_rss_setup_mb"] = m["rss_setup_mb"]
            row[f"{side}_step_rss_growth_mb"] = m["step_rss_growth_mb"]


def profile_minigrad(case, lines):
    import cProfile
    import io
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(10):
        case.step()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(lines)
    return out.getvalue()


# ----------------------------------------------------------------------------------------------
# Scaling: one conv2d over batch and image sizes
# ----------------------------------------------------------------------------------------------
def run_scaling(args, torch, minigrad):
    """conv2d 3x3, 64 -> 64 channels, pad 1, forward + backward, for each (batch, image) of
    SCALING: median times and one step's peak allocation on both sides, and their ratios.
    Each size is checked against torch (float32, loosely) before it is timed."""
    rows = []
    for batch, hw in (SCALING_QUICK if args.quick else SCALING):
        data = scaling_data(batch, hw, channels=8 if args.quick else 64)
        mg = conv2d_build(minigrad, data, args.device)
        th = conv2d_build(torch, data, args.device)
        mg.step()
        th.step()
        compare(f"scaling {batch}x{hw}", mg.results(), th.results(), **LOOSE)
        work = batch * hw * hw
        repeat = max(3, min(args.repeat, int(args.repeat * 32 * 32 * 32 / work)))
        times = time_interleaved(mg, th, lambda: None, lambda: None, repeat, 1, args.block)
        rows.append({"batch": batch, "image": hw, "repeat": repeat,
                     "minigrad_ms": statistics.median(times["minigrad"]),
                     "torch_ms": statistics.median(times["torch"]), "_cases": (mg, th)})
    for row in rows:                         # after every timing (torch.profiler slows torch)
        mg, th = row.pop("_cases")
        mg.step()            # the scratch-buffer cache holds the previous size's buffers
        row["minigrad_step_alloc_mb"] = minigrad_step_peak(mg.step) / 2**20
        row["torch_step_alloc_mb"] = torch_step_peak(th.step) / 2**20
        row["ratio"] = row["minigrad_ms"] / row["torch_ms"]
        row["memory_ratio"] = row["minigrad_step_alloc_mb"] / max(row["torch_step_alloc_mb"],
                                                                  1e-9)
    return rows


def format_scaling(rows):
    head = ["batch", "image", "minigrad ms", "torch ms", "time ratio", "mg alloc MB",
            "torch alloc MB", "memory ratio"]
    body = [[r["batch"], f"{r['image']}x{r['image']}", f"{r['minigrad_ms']:.2f}",
             f"{r['torch_ms']:.2f}", f"{r['ratio']:.2f}x", f"{r['minigrad_step_alloc_mb']:.1f}",
             f"{r['torch_step_alloc_mb']:.1f}", f"{r['memory_ratio']:.2f}x"] for r in rows]
    return _table(head, body)


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------
def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def format_table(rows, args):
    head = ["workload", "minigrad ms", "torch ms", "ratio", "target", "mg alloc MB",
            "torch alloc MB"]
    if args.memory:
        head += ["mg peak RSS MB", "torch peak RSS MB", "step RSS growth MB, mg / torch"]
    head += ["status"]
    body = []
    for r in rows:
        line = [r["name"], _fmt(r.get("minigrad_ms"), ".2f"), _fmt(r.get("torch_ms"), ".2f"),
                _fmt(r.get("ratio"), ".2f") + ("x" if "ratio" in r else ""),
                f"<= {r['target']}x", _fmt(r.get("minigrad_step_alloc_mb"), ".1f"),
                _fmt(r.get("torch_step_alloc_mb"), ".1f")]
        if args.memory:
            line += [_fmt(r.get("minigrad_peak_rss_mb"), ".0f")
                     + (f" (+{r['minigrad_rss_increase_mb']:.0f})"
                        if "minigrad_rss_increase_mb" in r else ""),
                     _fmt(r.get("torch_peak_rss_mb"), ".0f")
                     + (f" (+{r['torch_rss_increase_mb']:.0f})"
                        if "torch_rss_increase_mb" in r else ""),
                     _fmt(r.get("minigrad_step_rss_growth_mb"), ".0f") + " / "
                     + _fmt(r.get("torch_step_rss_growth_mb"), ".0f")]
        line += [r["status"]]
        body.append(line)
    return _table(head, body)


def _table(head, body):
    """A markdown table."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt_line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt_line(head), sep] + [fmt_line(b) for b in body])


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Memory columns: 'alloc MB' is the peak of memory allocated during one step over "
               "what was live before it -- for minigrad from tracemalloc (numpy buffers and Python "
               "objects), for torch from torch.profiler's memory records (a lower bound: an op's "
               "internal temporaries are not seen). With --memory, 'peak RSS' is the whole "
               "process's peak resident memory (VmHWM) of a fresh process that imports only that "
               "library and runs 6 steps of that one workload, and (+N) its increase over the RSS "
               "after setup (imports, data, weights); 'step RSS growth' is the peak of steps 2-6 "
               "over the RSS between steps (the peak is reset after the first step, which makes "
               "the one-time allocations): what a training step adds, measured the same way on "
               "both sides, so this is the column the memory targets compare.")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--only", action="append", default=[],
                   help="workload name(s), comma-separated or repeated: "
                        + ", ".join(w.name for w in WORKLOADS))
    p.add_argument("--repeat", type=int, default=None,
                   help="timed repetitions per side (default 21, 3 with --quick)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per side (default 3)")
    p.add_argument("--block", type=int, default=BLOCK,
                   help=f"consecutive steps per side in each round, the first one untimed "
                        f"(default {BLOCK}; 1: step by step, every step timed)")
    p.add_argument("--quick", action="store_true", help="tiny shapes and few repetitions")
    p.add_argument("--threads", type=int, default=None,
                   help="set torch's intra-op threads AND numpy's BLAS threads to N (default: "
                        "leave both at their defaults, which the header reports)")
    p.add_argument("--memory", action="store_true",
                   help="also measure per-process peak RSS in fresh subprocesses")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--profile", action="store_true",
                   help="print a cProfile of 10 minigrad steps per workload")
    p.add_argument("--profile-lines", type=int, default=25)
    p.add_argument("--scaling", action="store_true",
                   help="instead of the workloads: one conv2d (3x3, 64 channels) over batch "
                        "1/8/64/256 and image 32/64/128/224, time and memory ratios to torch")
    p.add_argument("--tune-malloc", action="store_true",
                   help="call minigrad.backend.tune_host_allocator() first (glibc: keep freed "
                        "memory for reuse; changes the whole process's allocator, so off by "
                        "default)")
    p.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 21
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    names = [n for item in args.only for n in item.split(",") if n]
    known = {w.name for w in WORKLOADS}
    for n in names:
        if n not in known:
            p.error(f"unknown workload {n!r}; choose from {', '.join(sorted(known))}")
    args.names = names
    return args


def main(argv=None):
    args = parse_args(argv)
    if args._child:
        require_device(args.device)
        child_main(args._child[0], args._child[1], args.device, args.quick, args.threads)
        return 0
    require_device(args.device)

    import torch
    import minigrad
    if args.tune_malloc:
        minigrad.backend.tune_host_allocator()
    if args.threads:
        set_threads(torch, args.threads)
    torch.set_default_dtype(torch.float32)
    minigrad.set_default_dtype(minigrad.float32)
    torch.manual_seed(0)
    minigrad.manual_seed(0)

    info = machine_info(torch, args.device)
    info["malloc_tuned"] = bool(args.tune_malloc)
    if args.scaling:
        rows = run_scaling(args, torch, minigrad)
        if args.json:
            print(json.dumps({"machine": info, "repeat": args.repeat, "scaling": rows},
                             indent=2))
        else:
            print(f"conv2d 3x3 64->64 pad 1, fwd+bwd; torch threads {info['torch_threads']}, "
                  f"minigrad threads {info['minigrad_threads']}, "
                  f"numpy BLAS {info['numpy_blas']}; float32")
            if info["blas_note"]:
                print(info["blas_note"])
            print(format_scaling(rows))
        return 0
    workloads = [w for w in WORKLOADS if not args.names or w.name in args.names]
    rows, failed = [], []
    for w in workloads:
        try:
            rows.append(run_workload(w, args, torch, minigrad))
        except WrongResult as exc:
            print(f"\nWRONG RESULT -- {exc}\n", file=sys.stderr)
            failed.append(w.name)
            rows.append({"name": w.name, "title": w.title, "target": w.target,
                         "status": "WRONG RESULT (not timed)", "error": str(exc)})
    for row in rows:
        if "_cases" in row:
            measure_memory(row, args)

    if args.json:
        print(json.dumps({"machine": info, "repeat": args.repeat, "warmup": args.warmup,
                          "block": args.block,
                          "quick": args.quick, "workloads": rows}, indent=2))
    else:
        print(f"minigrad {info['minigrad']} vs torch {info['torch']} on {args.device}: "
              f"{info['cpu']}, {info['cores']} cores; torch threads {info['torch_threads']}, "
              f"minigrad threads {info['minigrad_threads']}, "
              f"numpy BLAS {info['numpy_blas']}; float32; median of {args.repeat} steps per side "
              f"timed in alternating blocks of {args.block} (the first untimed), after "
              f"{args.warmup} warm-up runs per side.")
        if info["blas_note"]:
            print(info["blas_note"])
        load = info["load_average_1min"]
        if load is not None and load > 0.5 * (info["cores"] or 1):
            print(f"WARNING: load average {load:.1f} on {info['cores']} cores: other processes "
                  "compete for the CPU, so these timings are unreliable (torch's OpenMP threads "
                  "suffer most; try --threads 1).")
        if "gpu" in info:
            print(f"GPU: {info['gpu']}, cupy {info['cupy']}")
        print(format_table(rows, args))
        for r in rows:
            if r.get("registry"):
                print(f"  {r['name']}: registry pre-check {r['registry']}")
            if r.get("profile"):
                print(f"\n--- cProfile of 10 minigrad steps of {r['name']} ---\n{r['profile']}")
    if failed:
        print(f"FAILED: minigrad gave wrong results for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
