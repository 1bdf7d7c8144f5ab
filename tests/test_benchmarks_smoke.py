"""benchmarks/run.py works, and its correctness pre-check rejects a wrong answer.

The harness runs in a subprocess (it imports torch and runs torch.profiler, which would slow
every later torch call in this test process). Nothing here looks at timings: speed is never
asserted in tests.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"


def _load_run_module(script="run.py"):
    """A script of benchmarks/ imported as a module (its folder on the path meanwhile)."""
    spec = importlib.util.spec_from_file_location("benchmarks_" + script[:-3], RUN.parent / script)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(RUN.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(RUN.parent))
    return module


def _harness(*args, prelude=""):
    """Run the harness in a fresh interpreter; ``prelude`` (Python) runs before it."""
    code = (f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(RUN.parent)!r}]\n{prelude}\n"
            f"import run\nsys.exit(run.main({list(args)!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(ROOT), timeout=600)


def test_quick_run_checks_and_reports_every_workload():
    out = _harness("--quick", "--json", "--repeat", "2", "--warmup", "1")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    names = [w["name"] for w in report["workloads"]]
    assert names == ["mnist_step", "conv2d", "conv1d_text", "maxpool2d", "linear",
                     "conv2d_large", "conv2d_bigkernel", "conv2d_depthwise",
                     "conv2d_depthwise_s2", "conv1d_depthwise", "resnet_step", "lstm_text",
                     "transformer_step"]
    assert report["machine"]["torch_threads"] >= 1
    for w in report["workloads"]:
        if w["status"].startswith("n/a"):      # minigrad lacks a piece it needs (yet)
            continue
        assert w["status"] in ("ok", "SLOWER THAN TARGET"), w
        assert len(w["minigrad_times_ms"]) == len(w["torch_times_ms"]) == 2
        assert w["minigrad_ms"] > 0 and w["torch_ms"] > 0
        assert w["minigrad_step_alloc_mb"] >= 0 and w["torch_step_alloc_mb"] >= 0
    # the ops whose pieces exist now must not be skipped
    by_name = {w["name"]: w for w in report["workloads"]}
    assert not by_name["linear"]["status"].startswith("n/a")


def test_memory_is_measured_alike_on_both_sides():
    """--memory: fresh processes per side, the peak RSS over setup and the per-step growth
    (the peak reset after the first step), the same way for minigrad and torch."""
    out = _harness("--quick", "--only", "conv2d", "--repeat", "1", "--json", "--memory")
    assert out.returncode == 0, out.stderr[-3000:]
    row = json.loads(out.stdout)["workloads"][0]
    for side in ("minigrad", "torch"):
        assert row[f"{side}_peak_rss_mb"] >= row[f"{side}_rss_setup_mb"] > 0
        growth = row[f"{side}_step_rss_growth_mb"]
        assert growth is None or growth >= 0       # None where the peak cannot be reset


def test_scaling_table_checks_and_reports_ratios():
    out = _harness("--quick", "--scaling", "--json", "--repeat", "2")
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads(out.stdout)["scaling"]
    assert [(r["batch"], r["image"]) for r in rows] == [(1, 8), (4, 8), (2, 16)]
    for r in rows:
        assert r["minigrad_ms"] > 0 and r["torch_ms"] > 0 and r["ratio"] > 0
        assert r["minigrad_step_alloc_mb"] >= 0 and r["memory_ratio"] >= 0


def test_blas_threads_stop_spinning_and_malloc_is_opt_in():
    """The harness shortens OpenBLAS's idle spin (its threads would steal torch's core) and
    leaves malloc alone unless --tune-malloc asks."""
    out = _harness("--quick", "--only", "linear", "--repeat", "1", "--json")
    machine = json.loads(out.stdout)["machine"]
    assert machine["openblas_thread_timeout"] == "4" and machine["malloc_tuned"] is False
    out = _harness("--quick", "--only", "linear", "--repeat", "1", "--json", "--tune-malloc")
    assert json.loads(out.stdout)["machine"]["malloc_tuned"] is True


def test_table_output_and_only():
    out = _harness("--quick", "--only", "linear", "--repeat", "1")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| linear" in out.stdout and "mnist_step" not in out.stdout
    assert "torch threads" in out.stdout


def test_a_wrong_gradient_is_rejected_and_not_timed():
    # Break minigrad's Linear backward by 1% on the weight gradient.
    prelude = (
        "import minigrad.ops.linear as m\n"
        "_bw = m.Linear.backward\n"
        "def wrong(self, g):\n"
        "    gx, gw, *rest = _bw(self, g)\n"
        "    return (gx, gw * 1.01, *rest)\n"
        "m.Linear.backward = wrong\n")
    out = _harness("--quick", "--only", "linear", "--json", prelude=prelude)
    assert out.returncode == 1
    row = json.loads(out.stdout)["workloads"][0]
    assert row["status"].startswith("WRONG RESULT")
    assert "minigrad_ms" not in row and "grad w" in row["error"]
    assert "WRONG RESULT" in out.stderr


def test_a_wrong_forward_is_rejected():
    prelude = (
        "import minigrad.ops.linear as m\n"
        "_fw = m.Linear.forward\n"
        "m.Linear.forward = lambda self, *a: _fw(self, *a) + 1e-2\n")
    out = _harness("--quick", "--only", "linear", prelude=prelude)
    assert out.returncode == 1
    assert "out: max abs error" in out.stderr


def test_compare_rules():
    run = _load_run_module()
    a = np.linspace(-3, 3, 100)
    run.compare("same", {"a": a.copy()}, {"a": a})
    run.compare("float64 rounding", {"a": a * (1 + 1e-12)}, {"a": a})
    for bad in ({"a": a * (1 + 1e-5)}, {"a": a[:50]}, {"a": a.astype(np.float32)}, {},
                {"a": np.where(a > 0, np.nan, a)}):
        with pytest.raises(run.WrongResult):
            run.compare("bad", bad, {"a": a})
    # float32, loosely: rounding and a rare flipped relu mask pass, a 2% error does not
    b = a.astype(np.float32)
    flipped = b * np.float32(1 + 1e-6)
    flipped[3] += 0.05
    run.compare("float32", {"a": flipped}, {"a": b}, **run.LOOSE)
    for bad in ({"a": b * np.float32(1.02)}, {"a": a}, {"a": np.where(b > 0, np.inf, b)}):
        with pytest.raises(run.WrongResult):
            run.compare("bad float32", bad, {"a": b}, **run.LOOSE)


def test_cuda_without_a_gpu_fails_clearly():
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    out = _harness("--device", "cuda", "--quick")
    assert out.returncode != 0
    assert "no GPU" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_report_says_when_openblas_runs_narrower_kernels_than_the_cpu_has():
    run = _load_run_module()
    haswell = [{"internal_api": "openblas", "architecture": "Haswell", "num_threads": 2}]
    skylake = [{"internal_api": "openblas", "architecture": "SkylakeX", "num_threads": 2}]
    avx512 = {"avx2", "fma", "avx512f"}
    note = run.blas_note(haswell, avx512, {"OPENBLAS_CORETYPE": "Haswell"})
    assert "Haswell kernels" in note and "OPENBLAS_CORETYPE=Haswell" in note
    assert "did not recognise" in run.blas_note(haswell, avx512, {})
    assert run.blas_note(skylake, avx512, {}) is None          # the CPU's own kernels
    assert run.blas_note(haswell, {"avx2", "fma"}, {}) is None  # an AVX2 CPU: nothing lost
    assert run.blas_note([], avx512, {}) is None                # BLAS unknown: say nothing


def test_ops_sweep_checks_every_case_before_timing_it(monkeypatch):
    """benchmarks/ops_sweep.py's cases (tiny shapes): each agrees with torch, float64
    strictly and float32 loosely, before it is timed; a case whose minigrad answer is made
    wrong is refused (run.WrongResult), and the report marks it WRONG, untimed, exit 1."""
    import torch
    sweep = _load_run_module("ops_sweep.py")
    ops = sweep._ops()
    assert len(ops) >= 50
    for op in ops:
        sweep.check(op, torch, minigrad, quick=True)
    gelu = next(op for op in ops if op.name.startswith("gelu 64"))
    monkeypatch.setattr(minigrad.nn.functional, "gelu", lambda x, approximate="none": x * 0.5)
    with pytest.raises(sweep.run.WrongResult):
        sweep.check(gelu, torch, minigrad, quick=True)
    args = sweep.sweep.parser("", 0.01).parse_args(["--only", "gelu 64"])
    assert sweep.sweep.report(ops, lambda op: sweep.time_op(op, torch, minigrad, 0.01, True),
                              torch, args, "test", "op", 40) == 1
