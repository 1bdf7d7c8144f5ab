"""examples/train_digits.py and examples/train_mnist1d.py: short runs on data subsets.

Each run must finish, write its pictures, checkpoint and metrics, learn (the loss falls) and
be deterministic for a seed.  Skipped when the examples' extras are not installed
(pip install -e ".[examples]").
"""
import contextlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tqdm")
pytest.importorskip("matplotlib")
pytest.importorskip("safetensors")

import minigrad  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
sys.path.insert(0, EXAMPLES)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """Run main() in-process without leaving its seed or BLAS thread cap behind."""
    state = minigrad.get_rng_state()
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        limits = contextlib.nullcontext()
    with limits:
        yield
    minigrad.set_rng_state(state)


def _quick(tmp_path, *extra):
    # --threads 0: leave the BLAS threads to the fixture
    return ["--out", str(tmp_path), "--no-progress", "--threads", "0", *extra]


def _learns(hist):
    b = hist["batch_loss"]
    k = max(2, len(b) // 4)
    return np.mean(b[-k:]) < np.mean(b[:k])


# ----------------------------------------------------------------------------------------------
# train_digits.py
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    import train_digits
    return train_digits


def test_digits_short_run(digits, tmp_path, capsys):
    res = digits.main(_quick(tmp_path, "--epochs", "4", "--subset", "600",
                             "--optimizer", "adam"))
    out = capsys.readouterr().out
    for name in ("curves.png", "kernels.png", "feature_maps.png", "confusion.png",
                 "digits.safetensors", "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    with open(tmp_path / "curves.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert _learns(res["history"])
    assert res["history"]["train_loss"][-1] < res["history"]["train_loss"][0]
    assert res["test_acc"] > 0.3  # 10 classes: chance is 0.1
    assert "confusion matrix on the 360 test images" in out and "recall" in out
    assert "digits: test accuracy" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_acc"] == res["test_acc"]
    assert np.array(metrics["confusion_matrix"]).sum() == 360

    # the checkpoint: safetensors, loads back into a fresh LeNet with the same predictions
    from safetensors.numpy import load_file
    raw = load_file(str(tmp_path / "digits.safetensors"))
    assert raw["conv1.weight"].shape == (16, 1, 3, 3) and raw["fc3.bias"].shape == (10,)
    model = digits.LeNet(8)
    model.load_state_dict(minigrad.load(str(tmp_path / "digits.safetensors")))
    xtr, ytr, xte, yte, _ = digits.load_sklearn_digits()
    xtr, ytr = digits.C.take_subset(xtr, ytr, 600, 0)
    xtr, xte, _, _ = digits.normalise(xtr, xte)
    _, acc, _ = digits.C.evaluate(model, xte, yte, minigrad.device("cpu"))
    assert acc == res["test_acc"]


def test_digits_deterministic(digits, tmp_path, capsys):
    args = ["--epochs", "1", "--subset", "160", "--no-plots"]
    a = digits.main(_quick(tmp_path / "a", *args))
    b = digits.main(_quick(tmp_path / "b", *args))
    c = digits.main(_quick(tmp_path / "c", *args, "--seed", "1"))
    assert a["history"]["batch_loss"] == b["history"]["batch_loss"]
    assert a["test_acc"] == b["test_acc"]
    assert a["history"]["batch_loss"] != c["history"]["batch_loss"]


def test_digits_adam_constant_lr(digits, tmp_path, capsys):
    res = digits.main(_quick(tmp_path, "--epochs", "2", "--subset", "300", "--no-plots",
                             "--optimizer", "adam", "--schedule", "constant", "--shift", "0"))
    assert res["history"]["lr"] == [0.003, 0.003]
    assert _learns(res["history"])


def test_digits_from_idx_files(digits, tmp_path, capsys):
    """--idx: MNIST-style 28x28 IDX files (here the 8x8 digits blown up), gzipped or not."""
    from idx import write_idx
    from sklearn.datasets import load_digits
    d = load_digits()
    x = np.pad(np.kron(d.images[:360], np.ones((3, 3))) * 255 / 16, ((0, 0), (2, 2), (2, 2)))
    x, y = x.astype(np.uint8), d.target[:360].astype(np.uint8)
    data = tmp_path / "mnist"
    data.mkdir()
    write_idx(data / "train-images-idx3-ubyte.gz", x[:300])
    write_idx(data / "train-labels-idx1-ubyte.gz", y[:300])
    write_idx(data / "t10k-images-idx3-ubyte", x[300:])
    write_idx(data / "t10k-labels-idx1-ubyte", y[300:])
    res = digits.main(_quick(tmp_path / "run", "--idx", str(data), "--epochs", "2",
                             "--no-plots"))
    out = capsys.readouterr().out
    assert "MNIST IDX 28x28, 300 train / 60 test images of 28x28" in out
    assert "sgd lr 0.01, batch 32, 2 epochs" in out  # --idx's own default lr
    assert _learns(res["history"])
    from safetensors.numpy import load_file
    assert load_file(str(tmp_path / "run" / "digits.safetensors"))["conv1.weight"].shape == \
        (6, 1, 5, 5)


def test_digits_idx_errors_name_the_file(digits, tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + bytes(5))
    with pytest.raises(SystemExit, match="missing MNIST IDX file"):
        digits.main(_quick(tmp_path / "run", "--idx", str(tmp_path), "--no-plots"))
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(SystemExit, match="train-images-idx3-ubyte: truncated IDX file"):
        digits.main(_quick(tmp_path / "run", "--idx", str(tmp_path), "--no-plots"))


def test_digits_script_from_the_command_line(tmp_path):
    """As a user runs it: python examples/train_digits.py ... (from another folder)."""
    pytest.importorskip("sklearn")
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "train_digits.py"),
                        *_quick(tmp_path, "--epochs", "1", "--subset", "100", "--no-plots")],
                       cwd=str(tmp_path), capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 0, r.stderr
    assert "digits: test accuracy" in r.stdout
    assert (tmp_path / "digits.safetensors").exists()


# ----------------------------------------------------------------------------------------------
# train_mnist1d.py
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist1d_data():
    pytest.importorskip("mnist1d")
    import train_mnist1d
    return train_mnist1d.load_mnist1d()  # once: generating the 5,000 signals takes seconds


@pytest.fixture()
def mnist1d(mnist1d_data, monkeypatch):
    import train_mnist1d
    monkeypatch.setattr(train_mnist1d, "load_mnist1d", lambda: mnist1d_data)
    return train_mnist1d


def test_mnist1d_data_is_generated_locally(mnist1d_data):
    import socket
    import train_mnist1d
    xtr, ytr, xte, yte, t = mnist1d_data
    assert xtr.shape == (4000, 1, 40) and xte.shape == (1000, 1, 40) and t.shape == (40,)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert sorted(set(ytr.tolist())) == list(range(10))
    # the guard around make_dataset refuses any connection
    with train_mnist1d.no_network():
        with pytest.raises(RuntimeError, match="generated locally"):
            socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_mnist1d_short_run(mnist1d, tmp_path, capsys):
    res = mnist1d.main(_quick(tmp_path, "--epochs", "2", "--subset", "600"))
    out = capsys.readouterr().out
    for name in ("curves.png", "signals.png", "kernels.png", "mnist1d.safetensors",
                 "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert _learns(res["history"])
    assert res["test_acc"] > 0.15
    assert "CNN (paper)" in out and "94%" in out and "minigrad ConvNet1d (this run)" in out
    assert "600 train / 600 test signals of length 40" in out
    model = mnist1d.ConvNet1d()
    missing, unexpected = model.load_state_dict(minigrad.load(str(tmp_path /
                                                                  "mnist1d.safetensors")))
    assert not missing and not unexpected


def test_mnist1d_deterministic(mnist1d, tmp_path, capsys):
    args = ["--epochs", "1", "--subset", "256", "--no-plots"]
    a = mnist1d.main(_quick(tmp_path / "a", *args))
    b = mnist1d.main(_quick(tmp_path / "b", *args))
    assert a["history"]["batch_loss"] == b["history"]["batch_loss"]
    assert a["test_acc"] == b["test_acc"]


def test_random_shift():
    import _common
    x = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    rng = np.random.default_rng(0)
    y = _common.random_shift(x, 1, rng, fill=-1.0)
    assert y.shape == x.shape
    for i in range(2):  # each sample is its own shift of the original, padded with -1
        p = np.pad(x[i, 0], 1, constant_values=-1.0)
        assert any(np.array_equal(y[i, 0], p[a:a + 4, b:b + 4])
                   for a in range(3) for b in range(3))
    assert np.array_equal(_common.random_shift(x, 0, rng, 0.0), x)


def test_confusion_matrix_text():
    import _common
    cm = _common.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    text = _common.format_confusion_matrix(cm)
    assert "50.0%" in text and "100.0%" in text and "66.7%" in text
