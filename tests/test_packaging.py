"""The package as users get it.

* ``test_build_check_and_install`` (marked ``packaging``, about 30-60 s, needs the package
  registry for the isolated build and numpy): ``python -m build`` makes the sdist and the
  wheel, ``twine check`` accepts both, the wheel installs into a fresh virtualenv and its
  ``minigrad-gradcheck`` command checks ``add``; the unpacked sdist holds its test suite,
  which collects without errors and passes its documentation tests.
  Skip it with ``pytest -m "not packaging"``.
* The release metadata agree (version, changelog, license).
* A missing optional package ends an example with one line naming the extra to install,
  never a traceback.
"""
from __future__ import annotations

import configparser
import contextlib
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import minigrad  # noqa: E402

VERSION = minigrad.__version__


def run(cmd, timeout=300, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


# ---- metadata ------------------------------------------------------------------------------------
def test_version_license_and_changelog_agree():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["metadata"]["version"] == VERSION
    assert cfg["metadata"]["license"] == "MIT"
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "the minigrad authors" in license_text
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(VERSION)}\b", changelog, re.M), "no CHANGELOG section"
    extras = cfg["options.extras_require"]["test"]
    assert "build" in extras and "twine" in extras


def test_manifest_ships_what_the_tests_need():
    manifest = (ROOT / "MANIFEST.in").read_text()
    for pattern in ("LICENSE", "CHANGELOG.md", "recursive-include tests",
                    "recursive-include examples", "recursive-include benchmarks",
                    "recursive-include docs"):
        assert pattern in manifest


# ---- optional packages: one line, the extra to install --------------------------------------------
def _run_without(modules, script, *args):
    """Run ``script`` with ``modules`` made unimportable; returns the finished process."""
    code = textwrap.dedent(f"""\
        import runpy, sys
        for name in {modules!r}:
            sys.modules[name] = None
        sys.argv = [{str(script)!r}] + {list(args)!r}
        runpy.run_path({str(script)!r}, run_name="__main__")
        """)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


@pytest.mark.parametrize("script, missing, args", [
    ("learn_edge_kernel.py", ["matplotlib", "matplotlib.pyplot"], ["--plot", "x.png"]),
    ("train_digits.py", ["tqdm"], ["--epochs", "1"]),
    ("train_digits.py", ["sklearn"], ["--epochs", "1"]),
    ("train_mnist1d.py", ["mnist1d"], ["--epochs", "1"]),
    ("train_mnist1d.py", ["safetensors"], ["--epochs", "1"]),
])
def test_missing_optional_package_gives_one_line(script, missing, args, tmp_path):
    proc = _run_without(missing, ROOT / "examples" / script, *args, "--out" if "train" in script
                        else "--seed", str(tmp_path) if "train" in script else "0")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert missing[0] in lines[0] and 'pip install "minigrad[examples]"' in lines[0]


# ---- build, check, install --------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(path):
    """Hold an exclusive lock on the file ``path`` (no lock where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:                 # (Windows: the tests run in one process there)
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and wheel, built once per test run. Under xdist the tests that use them may
    run on two workers, and two builds at once in the source tree collide (setuptools stages
    the sdist in <root>/minigrad-<version>/: "No such file or directory" in one of them), so
    the workers share one build through the run's temporary directory, under a lock."""
    pytest.importorskip("build")
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / "dist-shared"
    with _locked(shared / "dist-shared.lock"):
        if not list(out.glob("minigrad-*.whl")):
            out.mkdir(exist_ok=True)
            run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out),
                 str(ROOT)], timeout=600)
    sdist = next(out.glob("minigrad-*.tar.gz"))
    wheel = next(out.glob("minigrad-*.whl"))
    return sdist, wheel


@pytest.mark.packaging
def test_build_check_and_install(dist, tmp_path):
    pytest.importorskip("twine")
    torch = pytest.importorskip("torch")
    sdist, wheel = dist
    assert sdist.name == f"minigrad-{VERSION}.tar.gz"
    assert wheel.name.startswith(f"minigrad-{VERSION}-py3-none-any")
    run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)])

    names = zipfile.ZipFile(wheel).namelist()
    assert "minigrad/__init__.py" in names
    assert not any(n.startswith(("tests/", "examples/", "docs/")) for n in names)
    assert any(n.endswith("LICENSE") for n in names)

    # a fresh virtualenv with the wheel; PyTorch, the gradcheck's reference, is borrowed from
    # this environment by appending its folder to the new one's path (after the wheel's own)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         str(wheel)], timeout=600)
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
               ).stdout.strip()
    Path(site, "borrowed_torch.pth").write_text(str(Path(torch.__file__).parents[1]) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = run([str(python), "-c", "import minigrad; print(minigrad.__version__, "
                 "minigrad.__file__)"], cwd=tmp_path, env=env).stdout.split()
    assert where[0] == VERSION and where[1].startswith(str(venv))
    proc = run([str(bindir / "minigrad-gradcheck"), "--op", "add", "--fast"], cwd=tmp_path,
               env=env)
    assert re.search(r"^add\s+2\s.*\bok$", proc.stdout, re.M), proc.stdout
    assert "0 failed" in proc.stdout


@pytest.mark.packaging
def test_sdist_carries_its_tests(dist, tmp_path):
    sdist, _ = dist
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("LICENSE", "CHANGELOG.md", "README.md", "tests/conftest.py",
                   "tests/test_docs.py", "examples/learn_edge_kernel.py", "examples/_common.py",
                   "examples/seeds/seed002_corr2d_and_lenet.py", "benchmarks/run.py",
                   "docs/convolution.md", "docs/images/conv_windows.png"):
        assert needed in names, needed
    unpacked = tmp_path / f"minigrad-{VERSION}"
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_SEEDS_DIR"}
    env["PYTHONPATH"] = str(unpacked)
    collected = run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                     "no:cacheprovider"], cwd=unpacked, env=env)
    assert "error" not in collected.stdout.lower().split("\n")[-2], collected.stdout[-2000:]
    # (setup.cfg's addopts already has -q; a second -q would hide the "N passed" line; -n 0:
    # one file in this process, not xdist workers that each start python and torch again)
    ran = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-x",
               "tests/test_docs.py"], cwd=unpacked, env=env)
    assert re.search(r"\d+ passed", ran.stdout), ran.stdout[-2000:]
