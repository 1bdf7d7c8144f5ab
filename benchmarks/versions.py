"""minigrad against an older minigrad: did a change make the first-order path slower?

    git worktree add ../minigrad-old <commit>        # the version to compare with
    python benchmarks/versions.py ../minigrad-old    # medians, new / old, per workload

Each workload of benchmarks/workloads.py (the same code and numbers for both versions) runs
in its own subprocess per version; the two versions alternate round by round, so a machine
that gets busier or quieter affects both alike. Reported: the median step time of each
version over all rounds and their ratio (new / old; below 1.05 is "unchanged within 5%").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import numpy as np
import minigrad
assert minigrad.__file__.startswith(sys.argv[1]), (minigrad.__file__, sys.argv[1])
from workloads import WORKLOADS
w = {w.name: w for w in WORKLOADS}[sys.argv[3]]
case = w.build(minigrad, w.data(False), "cpu")
for _ in range(int(sys.argv[5])):
    case.step()
times = []
for _ in range(int(sys.argv[4])):
    t0 = time.perf_counter()
    case.step()
    times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""


def _run(checkout, name, steps, warmup, threads):
    env = dict(os.environ, OPENBLAS_THREAD_TIMEOUT="1")
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(checkout), str(HERE), name,
                          str(steps), str(warmup)], env=env, capture_output=True, text=True,
                         cwd=str(checkout))
    if out.returncode:
        raise SystemExit(f"{name} on {checkout} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old", help="a checkout of the older minigrad (e.g. a git worktree)")
    p.add_argument("--only", action="append", help="workload name (repeatable)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds per version")
    p.add_argument("--steps", type=int, default=5, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from workloads import WORKLOADS
    names = args.only or ["mnist_step", "conv2d", "conv1d_text", "maxpool2d", "linear"]
    known = {w.name for w in WORKLOADS}
    print(f"{'workload':<14} {'old ms':>9} {'new ms':>9} {'new/old':>8}")
    for name in names:
        if name not in known:
            raise SystemExit(f"unknown workload {name!r}; known: {sorted(known)}")
        times = {"old": [], "new": []}
        for r in range(args.rounds):
            order = (("old", args.old), ("new", ROOT)) if r % 2 == 0 else \
                (("new", ROOT), ("old", args.old))
            for label, checkout in order:
                times[label] += _run(Path(checkout).resolve(), name, args.steps, args.warmup,
                                     args.threads)
        old, new = (statistics.median(times[k]) * 1e3 for k in ("old", "new"))
        print(f"{name:<14} {old:>9.2f} {new:>9.2f} {new / old:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
