"""What conv_sweep.py and ops_sweep.py share: one case timed beside torch, the table, the
command line and the report.

    parser(doc, budget)          the sweeps' options (--threads, --only, --worst, --budget,
                                 --json); a sweep adds its own
    timed_row(name, mg, th, b)   one checked case timed with run.py's ``time_interleaved``
                                 for about ``b`` seconds -> its row (medians, ratios)
    report(items, ...)           the header, a row per case as it ends (a wrong answer:
                                 WRONG, not timed), the load warning, the worst ratios,
                                 the JSON file; -> the exit status
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import run


def parser(doc, budget):
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=None,
                   help="torch's, minigrad's and numpy's BLAS threads (default: theirs)")
    p.add_argument("--only", default="", help="only the cases whose name contains this")
    p.add_argument("--worst", type=int, default=10, help="how many worst ratios to list")
    p.add_argument("--budget", type=float, default=budget,
                   help=f"seconds of timing per case, about (default {budget})")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    return p


def timed_row(name, mg, th, budget):
    """Both sides' steps (already checked against each other) timed in alternating blocks
    for about ``budget`` seconds -> the row: medians, their ratio, and the ratio of the
    fastest steps (on a loaded machine it moves less than the medians')."""
    t0 = time.perf_counter()
    mg.step()
    th.step()
    per_step = time.perf_counter() - t0
    repeat = int(max(5, min(21, budget / (1.5 * max(per_step, 1e-6)))))
    times = run.time_interleaved(mg, th, lambda: None, lambda: None, repeat, 1, block=3)
    ms = {side: statistics.median(t) for side, t in times.items()}
    least = {side: min(t) for side, t in times.items()}
    return {"name": name, "minigrad_ms": ms["minigrad"], "torch_ms": ms["torch"],
            "ratio": ms["minigrad"] / ms["torch"], "minigrad_min_ms": least["minigrad"],
            "torch_min_ms": least["torch"], "min_ratio": least["minigrad"] / least["torch"],
            "repeat": repeat}


def table(rows, label, width):
    lines = [f"{label:{width}s} {'minigrad ms':>11s} {'torch ms':>9s} {'ratio':>6s} "
             f"{'min ratio':>9s}"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['name']:{width}s} {r['error']}")
        else:
            lines.append(f"{r['name']:{width}s} {r['minigrad_ms']:11.3f} {r['torch_ms']:9.3f} "
                         f"{r['ratio']:6.2f} {r['min_ratio']:9.2f}")
    return "\n".join(lines)


def report(items, time_one, torch, args, what, label, width):
    """Time every item (``time_one(item)`` -> its row; ``item.name`` filtered by --only),
    printing as they end; -> 1 if an answer was wrong, else 0."""
    info = run.machine_info(torch, "cpu")
    print(f"minigrad {info['minigrad']} vs torch {info['torch']}: {info['cpu']}, "
          f"{info['cores']} cores; torch threads {info['torch_threads']}, minigrad threads "
          f"{info['minigrad_threads']}, numpy BLAS {info['numpy_blas']}; {what}; "
          f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT')}")
    if info["blas_note"]:
        print(info["blas_note"])
    print(table([], label, width))
    rows, failed = [], False
    for item in items:
        if args.only not in item.name:
            continue
        try:
            row = time_one(item)
        except run.WrongResult as exc:
            print(f"WRONG RESULT -- {exc}", file=sys.stderr)
            row, failed = {"name": item.name, "error": "WRONG RESULT (not timed)"}, True
        rows.append(row)
        print(table([row], label, width).splitlines()[1], flush=True)
    timed = sorted((r for r in rows if "error" not in r), key=lambda r: -r["ratio"])
    load = info["load_average_1min"]
    if load is not None and load > 0.5 * (info["cores"] or 1):
        print(f"WARNING: load average {load:.1f} on {info['cores']} cores: other processes "
              "compete for the CPU; the medians are unreliable ('min ratio' less so)")
    print(f"\nworst {min(args.worst, len(timed))} ratios (minigrad / torch, medians):")
    print(table(timed[:args.worst], label, width))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    return 1 if failed else 0
