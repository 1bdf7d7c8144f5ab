"""``import minigrad`` changes nothing process-wide: malloc, threads, warnings, numpy state.

Each check runs in a fresh interpreter (this process has imported everything already).
"""
import json
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import json, os, sys, warnings
    import numpy as np
    def state():
        return {"env": {k: v for k, v in os.environ.items()
                        if "THREAD" in k or "MALLOC" in k or k.startswith(("OMP", "MKL"))},
                "warnings": [repr(f) for f in warnings.filters],
                "errstate": np.geterr(), "printoptions": repr(np.get_printoptions()),
                "torch": "torch" in sys.modules}
    before = state()
    if sys.argv[1] == "import":
        import minigrad  # noqa: F401
    after = state()
    # a plain numpy program: five 20 MiB arrays made and freed; what stays resident?
    arrays = [np.ones(20 << 18, dtype=np.float32) for _ in range(5)]
    del arrays
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    print(json.dumps({"before": before, "after": after, "rss_mb": rss}))
""")


def _probe(mode):
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_leaves_threads_warnings_and_numpy_settings_alone():
    result = _probe("import")
    before, after = result["before"], result["after"]
    assert after["env"] == before["env"]
    assert after["warnings"] == before["warnings"]
    assert after["errstate"] == before["errstate"]
    assert after["printoptions"] == before["printoptions"]
    assert not after["torch"], "import minigrad must not import torch"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_import_leaves_malloc_alone():
    """With malloc's thresholds raised (what minigrad once did at import) the 100 MiB freed
    stayed resident; untouched, glibc gives it back. Compare with a run that never imports."""
    plain, imported = _probe("plain"), _probe("import")
    # importing minigrad itself costs some MB of code and data; 100 MiB kept would show
    assert imported["rss_mb"] - plain["rss_mb"] < 60, (plain, imported)
