"""minigrad.save / minigrad.load: safetensors checkpoints, both ways with PyTorch."""
import io
import os
from collections import OrderedDict

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def _net(nn_):
    return nn_.Sequential(nn_.Linear(4, 3), nn_.BatchNorm1d(3), nn_.ReLU(), nn_.Linear(3, 2))


def _assert_same_state(ours, theirs):
    assert list(ours) == list(theirs)
    for k in ours:
        a, b = ours[k], theirs[k]
        assert a.dtype.name == str(b.dtype).split(".")[1], k
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_state_dict_round_trip(tmp_path):
    net = _net(nn)
    net(minigrad.randn(5, 4))                   # running stats and num_batches_tracked move
    path = tmp_path / "net.safetensors"
    minigrad.save(net.state_dict(), path)
    loaded = minigrad.load(path)
    assert type(loaded) is OrderedDict and list(loaded) == list(net.state_dict())
    for k, v in net.state_dict().items():
        assert loaded[k].dtype == v.dtype and np.array_equal(loaded[k].numpy(), v.numpy())
    other = _net(nn)
    other.load_state_dict(loaded)
    for a, b in zip(other.state_dict().values(), net.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())
    assert sorted(os.listdir(tmp_path)) == ["net.safetensors"]       # no temporary left


def test_minigrad_file_loads_into_torch(tmp_path):
    net = _net(nn)
    net(minigrad.randn(5, 4))
    path = str(tmp_path / "from_minigrad.safetensors")
    minigrad.save(net.state_dict(), path)
    state = safetensors_torch.load_file(path)
    tnet = _net(torch.nn)
    tnet.load_state_dict(state)                 # strict: same keys, shapes and dtypes
    _assert_same_state(net.state_dict(), tnet.state_dict())
    net.eval(), tnet.eval()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(net(minigrad.tensor(x)).detach().numpy(),
                               tnet(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_torch_file_loads_into_minigrad(tmp_path):
    tnet = _net(torch.nn)
    tnet(torch.randn(5, 4))
    path = str(tmp_path / "from_torch.safetensors")
    safetensors_torch.save_file(tnet.state_dict(), path)
    net = _net(nn)
    net.load_state_dict(minigrad.load(path))
    _assert_same_state(net.state_dict(), tnet.state_dict())


def test_optimizer_state_and_nested_checkpoint_round_trip(tmp_path):
    net = _net(nn)
    opt = minigrad.optim.Adam(net.parameters(), lr=0.01, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        net(minigrad.randn(6, 4)).pow(2).mean().backward()
        opt.step()
    checkpoint = {"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
                  "history": [1.5, float("inf")], "note": None, "ok": True}
    path = tmp_path / "ckpt.safetensors"
    minigrad.save(checkpoint, path)
    back = minigrad.load(path)
    assert back["epoch"] == 3 and back["note"] is None and back["ok"] is True
    assert back["history"] == [1.5, float("inf")]
    assert list(back["model"]) == list(net.state_dict())
    osd, bsd = opt.state_dict(), back["optimizer"]
    assert bsd["param_groups"] == osd["param_groups"]        # tuples (betas), ints, None kept
    assert sorted(bsd["state"]) == sorted(osd["state"]) and all(
        isinstance(k, int) for k in bsd["state"])
    for i, st in osd["state"].items():
        assert list(bsd["state"][i]) == list(st)
        for k, v in st.items():
            assert np.array_equal(bsd["state"][i][k].numpy(), v.numpy()), (i, k)
    # training resumes identically from the checkpoint
    x = minigrad.randn(6, 4)
    net2 = _net(nn)
    net2.load_state_dict(back["model"])
    opt2 = minigrad.optim.Adam(net2.parameters(), lr=0.01, amsgrad=True)
    opt2.load_state_dict(back["optimizer"])
    for model, o in ((net, opt), (net2, opt2)):
        o.zero_grad()
        model(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(net.parameters(), net2.parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())


def test_plain_tensor_file_objects_and_dtypes():
    buf = io.BytesIO()
    t = minigrad.tensor([[1, 2], [3, 4]], dtype=minigrad.int32)
    minigrad.save({"a": t, "b": minigrad.tensor([True, False]),
                   "c": minigrad.ones(2, dtype=minigrad.float16)}, buf)
    buf.seek(0)
    back = minigrad.load(buf)
    assert back["a"].dtype == minigrad.int32 and back["a"].tolist() == [[1, 2], [3, 4]]
    assert back["b"].dtype == minigrad.bool and back["c"].dtype == minigrad.float16
    buf = io.BytesIO()
    minigrad.save(minigrad.arange(3), buf)
    buf.seek(0)
    assert minigrad.load(buf).tolist() == [0, 1, 2]
    # a non-contiguous view is stored by value
    buf = io.BytesIO()
    minigrad.save({"t": minigrad.arange(6).reshape(2, 3).t()}, buf)
    buf.seek(0)
    assert minigrad.load(buf)["t"].tolist() == [[0, 3], [1, 4], [2, 5]]


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    minigrad.save({"w": minigrad.ones(3)}, path)
    good = path.read_bytes()

    def crash(src, dst):
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        minigrad.save({"w": minigrad.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]      # the temporary was removed
    assert minigrad.load(path)["w"].tolist() == [1, 1, 1]


def test_bad_files_give_clear_errors(tmp_path):
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.safetensors' is empty"):
        minigrad.load(empty)
    good = tmp_path / "good.safetensors"
    minigrad.save({"w": minigrad.ones(100)}, good)
    data = good.read_bytes()
    for cut in (4, 20, len(data) - 10):
        trunc = tmp_path / f"cut{cut}.safetensors"
        trunc.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.safetensors'.*(truncated|too short)"):
            minigrad.load(trunc)
    foreign = tmp_path / "model.pt"          # torch.save's zip format loads too
    torch.save({"w": torch.ones(2)}, foreign)
    assert minigrad.load(foreign)["w"].tolist() == torch.load(foreign)["w"].tolist()
    text = tmp_path / "notes.txt"
    text.write_text("hello world, not a checkpoint")
    with pytest.raises(ValueError, match="notes.txt' is not a safetensors file"):
        minigrad.load(text)
    with pytest.raises(FileNotFoundError):
        minigrad.load(tmp_path / "missing.safetensors")


def test_unsupported_objects_fall_back_to_the_zip_format():
    # what safetensors cannot hold is pickled in torch.save's zip format (see
    # test_save_zip_pickle.py); what pickle cannot hold is refused
    for obj in (nn.Linear(2, 2), {"x": object()}, {(1, 2): minigrad.ones(1)}):
        buf = io.BytesIO()
        minigrad.save(obj, buf)
        assert buf.getvalue().startswith(b"PK\x03\x04")
        assert type(minigrad.load(io.BytesIO(buf.getvalue()), weights_only=False)) is type(obj)
    with pytest.raises(AttributeError, match="Can't pickle local object"):
        minigrad.save({"f": lambda x: x}, io.BytesIO())


def test_map_location():
    buf = io.BytesIO()
    minigrad.save({"w": minigrad.ones(2)}, buf)
    buf.seek(0)
    assert minigrad.load(buf, map_location="cpu")["w"].device == "cpu"
    buf.seek(0)
    assert minigrad.load(buf, map_location={"cuda:0": "cpu"})["w"].device == "cpu"
