"""The scaling picture of docs/benchmarks.md: minigrad's time and memory over torch's, for one
conv2d (3x3, 64 -> 64 channels, pad 1, forward + backward) across batch and image sizes.

    python benchmarks/run.py --scaling --threads 1 --json > scaling1.json
    python benchmarks/run.py --scaling --threads 2 --json > scaling2.json
    python benchmarks/plot_scaling.py scaling1.json scaling2.json   # -> docs/images/...

Each JSON file is one run of ``run.py --scaling``; each becomes one line per panel, labelled
with its thread count.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "images" / "benchmark_scaling.png"


def main(paths):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=90)
    for path in paths:
        report = json.loads(Path(path).read_text())
        rows = report["scaling"]
        label = f"{report['machine']['torch_threads']} thread(s)"
        names = [f"{r['batch']}x{r['image']}" for r in rows]
        ax_t.plot(names, [r["ratio"] for r in rows], "o-", label=label)
        ax_m.plot(names, [r["memory_ratio"] for r in rows], "o-", label=label)
    for ax, title in ((ax_t, "time, minigrad / torch"),
                      (ax_m, "peak memory of a step, minigrad / torch")):
        ax.axhline(1.0, color="gray", lw=0.8, ls="--")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("batch x image side (64 channels)", fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
