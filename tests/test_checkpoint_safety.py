"""Checkpoints are safe: an interrupted save keeps the old file, a bad file is refused clearly,
and nothing is ever unpickled.

* ``minigrad.save`` writes a temporary file next to the target and renames it over the target:
  if writing fails half-way (disk full, Ctrl-C), the previous checkpoint is intact and no
  temporary file is left behind.
* ``minigrad.load`` of an empty, truncated, corrupt or non-safetensors file (a pickle, a .npy
  file, text) raises a ValueError that names the file; the model that was to receive the
  weights is untouched.
* No code path unpickles, except the reader of torch.save's zip checkpoints
  (``minigrad/_torch_checkpoint.py``), which by default (weights_only=True) allows only
  tensors and containers: the rest of the package source has no
  pickle/marshal/np.load(allow_pickle=True), and a malicious pickle handed to
  ``minigrad.load`` is not executed. (``pickle.dumps(tensor)`` works, as PyTorch's: what a
  program pickles for itself is its own business.)
"""
from __future__ import annotations

import builtins
import io
import json
import os
import pathlib
import pickle
import re
import struct

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn

pytest.importorskip("safetensors")

PACKAGE = pathlib.Path(minigrad.__file__).parent


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.fc = nn.Linear(12, 2)


def _model(seed):
    minigrad.manual_seed(seed)
    return Net()


def _snapshot(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _assert_same(model, snapshot):
    state = model.state_dict()
    assert set(state) == set(snapshot)
    for key, value in state.items():
        np.testing.assert_array_equal(value.detach().numpy(), snapshot[key], err_msg=key)


def _files(directory):
    return sorted(p.name for p in pathlib.Path(directory).iterdir())


# ----------------------------------------------------------------------------------------------
# Saving is atomic
# ----------------------------------------------------------------------------------------------
class _FailingFile:
    """Wraps a binary file: the first write puts half the bytes on disk, then raises."""

    def __init__(self, raw, exc):
        self._raw, self._exc = raw, exc

    def write(self, data):
        self._raw.write(bytes(data)[: len(data) // 2])
        self._raw.flush()
        raise self._exc

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._raw.close()
        return False


def _break_writes(monkeypatch, exc, target_dir):
    """Make every binary file opened for writing in ``target_dir`` fail half-way."""
    real_open, real_fdopen = builtins.open, os.fdopen

    def in_target(name):
        return isinstance(name, (str, os.PathLike)) and \
            os.path.dirname(os.path.abspath(name)) == str(target_dir)

    def fake_open(file, mode="r", *args, **kwargs):
        raw = real_open(file, mode, *args, **kwargs)
        if "w" in mode and "b" in mode and in_target(file):
            return _FailingFile(raw, exc)
        return raw

    def fake_fdopen(fd, mode="r", *args, **kwargs):
        raw = real_fdopen(fd, mode, *args, **kwargs)
        return _FailingFile(raw, exc) if "w" in mode else raw

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "fdopen", fake_fdopen)


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_a_save_interrupted_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, exc):
    path = tmp_path / "model.safetensors"
    old = _model(0)
    minigrad.save(old.state_dict(), path)
    before = path.read_bytes()

    _break_writes(monkeypatch, exc, tmp_path)
    with pytest.raises(type(exc)):
        minigrad.save(_model(1).state_dict(), path)
    monkeypatch.undo()

    assert path.read_bytes() == before                      # the old checkpoint is intact
    assert _files(tmp_path) == ["model.safetensors"]         # and no temporary file is left
    fresh = _model(2)
    fresh.load_state_dict(minigrad.load(path))
    _assert_same(fresh, _snapshot(old))


def test_a_failed_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    minigrad.save({"w": minigrad.ones(3)}, path)
    before = path.read_bytes()

    def no_rename(src, dst):
        raise OSError("rename failed")
    monkeypatch.setattr(os, "replace", no_rename)
    monkeypatch.setattr(os, "rename", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        minigrad.save({"w": minigrad.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["ckpt.safetensors"]


def test_save_writes_a_temporary_file_in_the_same_directory_then_renames(tmp_path, monkeypatch):
    """Same directory: the rename stays on one filesystem, so it is atomic."""
    path = tmp_path / "m.safetensors"
    renames = []
    real_replace, real_rename = os.replace, os.rename

    def spy(real):
        def wrapper(src, dst):
            renames.append((os.fspath(src), os.fspath(dst)))
            return real(src, dst)
        return wrapper
    monkeypatch.setattr(os, "replace", spy(real_replace))
    monkeypatch.setattr(os, "rename", spy(real_rename))
    minigrad.save(_model(0).state_dict(), path)
    assert len(renames) == 1
    src, dst = renames[0]
    assert os.path.abspath(dst) == str(path)
    assert os.path.dirname(os.path.abspath(src)) == str(tmp_path) and src != dst
    assert _files(tmp_path) == ["m.safetensors"]


def test_a_save_that_cannot_encode_leaves_no_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(AttributeError, match="Can't pickle local object"):
        minigrad.save({"model": _model(0), "f": lambda x: x}, path)    # pickle refuses it
    assert _files(tmp_path) == []


# ----------------------------------------------------------------------------------------------
# Loading refuses bad files clearly and leaves the model untouched
# ----------------------------------------------------------------------------------------------
def _good_bytes(tmp_path):
    path = tmp_path / "good.safetensors"
    minigrad.save(_model(5).state_dict(), path)
    return path.read_bytes()


BAD_FILES = {
    "empty": lambda tmp: b"",
    "three-bytes": lambda tmp: b"\x10\x00\x00",
    "truncated-in-header": lambda tmp: _good_bytes(tmp)[:20],
    "truncated-in-data": lambda tmp: _good_bytes(tmp)[:-7],
    "half": lambda tmp: (lambda b: b[: len(b) // 2])(_good_bytes(tmp)),
    "header-length-huge": lambda tmp: struct.pack("<Q", 2 ** 40) + b"{}",
    "header-not-json": lambda tmp: struct.pack("<Q", 6) + b"{nope}",
    "header-offsets-past-end": lambda tmp: (lambda h: struct.pack("<Q", len(h)) + h + b"\0" * 8)(
        json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()),
    "text": lambda tmp: b"this is not a checkpoint\n" * 4,
    "pickle": lambda tmp: pickle.dumps({"w": [1.0, 2.0]}),
    "npy": lambda tmp: (lambda b: (np.save(b, np.ones(3)), b.getvalue())[1])(io.BytesIO()),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_loading_a_bad_file_names_it_and_leaves_the_model_untouched(tmp_path, kind):
    data = BAD_FILES[kind](tmp_path)
    path = tmp_path / f"broken-{kind}.safetensors"
    path.write_bytes(data)
    model = _model(7)
    before = _snapshot(model)
    # (a bare pickle fails as in torch.load: its weights_only unpickler's error)
    expected = pickle.UnpicklingError if kind == "pickle" else ValueError
    with pytest.raises(expected) as info:
        model.load_state_dict(minigrad.load(path))
    message = str(info.value)
    assert path.name in message, message
    assert type(info.value).__module__ == ("_pickle" if kind == "pickle" else "builtins")
    _assert_same(model, before)


def test_loading_from_a_file_object_names_it(tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(_good_bytes(tmp_path)[:30])
    with open(path, "rb") as fh, pytest.raises(ValueError, match=re.escape(path.name)):
        minigrad.load(fh)
    with pytest.raises(ValueError, match="empty"):
        minigrad.load(io.BytesIO(b""))


def test_loading_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.safetensors"):
        minigrad.load(tmp_path / "nowhere.safetensors")


def test_a_good_checkpoint_round_trips(tmp_path):
    path = tmp_path / "ok.safetensors"
    model = _model(3)
    minigrad.save(model.state_dict(), path)
    other = _model(4)
    other.load_state_dict(minigrad.load(path))
    _assert_same(other, _snapshot(model))


# ----------------------------------------------------------------------------------------------
# Nothing is unpickled
# ----------------------------------------------------------------------------------------------
UNPICKLING = re.compile(
    r"^\s*(import|from)\s+(pickle|cPickle|_pickle|dill|cloudpickle|marshal|shelve|joblib)\b"
    r"|\bpickle\.(loads?|Unpickler)\b|\bUnpickler\b|\bmarshal\.loads?\b"
    r"|allow_pickle\s*=\s*True|\btorch\.load\(|\bnp\.load\(|\bnumpy\.load\(", re.M)


def test_package_source_never_unpickles():
    offenders = []
    for source in sorted(PACKAGE.rglob("*.py")):
        if source.name == "_torch_checkpoint.py":     # torch.save's format is a pickle
            continue
        text = source.read_text(encoding="utf-8")
        for match in UNPICKLING.finditer(text):
            if source.name == "_torch_checkpoint_writer.py" and \
                    match.group(0).lstrip().startswith("import pickle"):
                continue            # it writes torch.save's format (pickles), never unpickles
            line = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{source.relative_to(PACKAGE.parent)}:{line}: {match.group(0)}")
    assert not offenders, "unpickling code paths:\n" + "\n".join(offenders)


class _Trap:
    """Unpickling this would create ``marker``: proof that a loader ran pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("how", ["pickle", "npy-object-array", "torch-zip-like"])
def test_a_malicious_file_is_refused_not_executed(tmp_path, how):
    marker = tmp_path / "PWNED"
    payload = _Trap(str(marker))
    if how == "pickle":
        data = pickle.dumps({"weight": payload})
    elif how == "npy-object-array":
        buf = io.BytesIO()
        np.save(buf, np.array([payload], dtype=object), allow_pickle=True)
        data = buf.getvalue()
    else:
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps(payload))
        data = buf.getvalue()
    path = tmp_path / "evil.safetensors"
    path.write_bytes(data)
    if how == "torch-zip-like":
        # read as torch.save's format: weights_only (the default) refuses the global
        with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
            minigrad.load(path)
    else:
        with pytest.raises(ValueError, match="evil.safetensors"):
            minigrad.load(path, weights_only=False)
    assert not marker.exists(), "minigrad.load executed a pickle"


def test_pickle_round_trips_as_torch():
    """pickle.dumps of a tensor (multiprocessing, joblib, copy) works as PyTorch's: values,
    class, requires_grad and attributes survive; the graph and .grad do not."""
    torch = pytest.importorskip("torch")
    for lib in (minigrad, torch):
        a = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        a.grad = lib.ones(3)
        b = a * 2
        p = lib.nn.Parameter(lib.ones(2), requires_grad=False)
        p.tag = "frozen"
        x = lib.arange(6.0).reshape(2, 3).t()
        c = lib.tensor([1 + 2j, 3j], dtype=lib.complex64)
        got = pickle.loads(pickle.dumps([a, b, p, x, c, lib.tensor(7), lib.empty(0, 3)]))
        a2, b2, p2, x2, c2, s2, e2 = got
        summary = [(type(t).__name__, t.tolist(), str(t.dtype).split(".")[1], t.requires_grad,
                    t.grad_fn is None, t.grad is None, tuple(t.shape)) for t in got]
        summary.append(p2.tag)
        if lib is minigrad:
            mine = summary
    assert mine == summary
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(12, 2))
    clone = pickle.loads(pickle.dumps(model))
    x = minigrad.randn(2, 1, 4, 4)
    np.testing.assert_array_equal(clone(x).detach().numpy(), model(x).detach().numpy())
    assert type(clone.state_dict()[next(iter(clone.state_dict()))]) is minigrad.Tensor
