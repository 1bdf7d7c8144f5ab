"""minigrad.save of what safetensors cannot hold (a whole module, an optimizer object, a dict
with a set or a numpy array): PyTorch's zip checkpoint format, side by side with torch.save /
torch.load: round trips, shared memory, the weights_only refusal, and files torch.load reads."""
import io
import pickle
import zipfile

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn

torch = pytest.importorskip("torch")


def _copy_weights(src, dst):
    """Copy the torch module ``src``'s parameters and buffers into minigrad's ``dst``."""
    theirs = src.state_dict()
    dst.load_state_dict({k: minigrad.tensor(v.detach().numpy()) for k, v in theirs.items()})


def _round_trip(lib, obj, **kwargs):
    buf = io.BytesIO()
    lib.save(obj, buf)
    return lib.load(io.BytesIO(buf.getvalue()), **kwargs)


def _out(y):
    return (y[0] if isinstance(y, tuple) else y).detach().numpy()


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.register_buffer("scale", torch.tensor([2.0, 0.5, 1.0]))
        self.tag = "net"

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    """The minigrad twin of TorchNet (module level, so that pickle finds it by name)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.register_buffer("scale", minigrad.tensor([2.0, 0.5, 1.0]))
        self.tag = "net"

    def forward(self, x):
        return self.fc(x) * self.scale


def _pairs():
    torch.manual_seed(0)
    return {
        "conv": (torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1),
                                     torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                     torch.nn.Flatten(), torch.nn.Linear(64, 5)),
                 nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                               nn.Flatten(), nn.Linear(64, 5)), (2, 3, 4, 4)),
        "lstm": (torch.nn.LSTM(3, 4, num_layers=2, batch_first=True),
                 nn.LSTM(3, 4, num_layers=2, batch_first=True), (2, 5, 3)),
        "custom": (TorchNet(), Net(), (2, 4)),
        "transformer": (torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                         batch_first=True),
                        nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
                        (2, 5, 8)),
    }


@pytest.mark.parametrize("name", ["conv", "lstm", "custom", "transformer"])
def test_whole_module_round_trip(name):
    theirs, ours, shape = _pairs()[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    theirs.train()
    theirs(torch.tensor(x))                     # BN running stats move
    _copy_weights(theirs, ours)
    theirs.eval()
    ours.eval()
    loaded_t = _round_trip(torch, theirs, weights_only=False)
    loaded_m = _round_trip(minigrad, ours, weights_only=False)
    assert type(loaded_m) is type(ours) and type(loaded_t) is type(theirs)
    assert loaded_m.training is loaded_t.training is False
    assert [k for k, _ in loaded_m.named_parameters()] == \
        [k for k, _ in loaded_t.named_parameters()]
    assert [k for k, _ in loaded_m.named_buffers()] == [k for k, _ in loaded_t.named_buffers()]
    for (k, a), (_, b) in zip(loaded_m.state_dict().items(), loaded_t.state_dict().items()):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], k
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=k)
    for a, b in zip(loaded_m.parameters(), loaded_t.parameters()):
        assert isinstance(a, nn.Parameter) and a.requires_grad == b.requires_grad
    np.testing.assert_allclose(_out(loaded_m(minigrad.tensor(x))),
                               _out(loaded_t(torch.tensor(x))), rtol=1e-5, atol=1e-6)
    if name == "custom":
        assert loaded_m.tag == loaded_t.tag == "net"
    # it trains on: gradients reach every loaded parameter
    loaded_m.train()
    y = loaded_m(minigrad.tensor(x))
    (y[0] if isinstance(y, tuple) else y).sum().backward()
    assert all(p.grad is not None for p in loaded_m.parameters())


def test_lazy_module_stays_lazy():
    results = [_round_trip(lib, lib.nn.LazyLinear(3), weights_only=False)
               for lib in (torch, minigrad)]
    theirs, ours = results
    assert type(ours.weight).__name__ == type(theirs.weight).__name__ == "UninitializedParameter"
    assert ours.has_uninitialized_params() and theirs.has_uninitialized_params()
    assert tuple(ours(minigrad.ones(2, 4)).shape) == tuple(theirs(torch.ones(2, 4)).shape)
    assert type(ours.weight) is nn.Parameter and tuple(ours.weight.shape) == (3, 4)


def test_optimizer_object_round_trip():
    theirs, ours, _ = _pairs()["custom"]
    _copy_weights(theirs, ours)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=0.01, weight_decay=0.1)
    opt_m = minigrad.optim.Adam(ours.parameters(), lr=0.01, weight_decay=0.1)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    theirs(torch.tensor(x)).sum().backward()
    ours(minigrad.tensor(x)).sum().backward()
    opt_t.step()
    opt_m.step()
    loaded_t = _round_trip(torch, opt_t, weights_only=False)
    loaded_m = _round_trip(minigrad, opt_m, weights_only=False)
    assert type(loaded_m) is minigrad.optim.Adam
    assert type(loaded_m).__name__ == type(loaded_t).__name__
    sd_t, sd_m = loaded_t.state_dict(), loaded_m.state_dict()
    assert sd_m["param_groups"][0]["params"] == sd_t["param_groups"][0]["params"]
    for key in ("lr", "weight_decay", "betas", "eps", "amsgrad"):
        assert sd_m["param_groups"][0][key] == sd_t["param_groups"][0][key]
    assert sorted(sd_m["state"]) == sorted(sd_t["state"])
    for i in sd_t["state"]:
        for key in ("step", "exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(np.asarray(sd_m["state"][i][key]),
                                       np.asarray(sd_t["state"][i][key]), rtol=1e-6)
    # the loaded optimizer's state is keyed by the very parameters its groups hold
    params = loaded_m.param_groups[0]["params"]
    assert all(any(p is q for q in params) for p in loaded_m.state)


def test_dict_with_numpy_array_set_and_tuple_keys():
    arr = np.arange(6.0).reshape(2, 3)
    w = np.random.default_rng(2).standard_normal((3, 2)).astype(np.float32)
    results = []
    for lib in (torch, minigrad):
        ckpt = {"w": lib.tensor(w), "arr": arr, "tags": {"a", "b"}, (1, 2): "pair",
                "frozen": frozenset([3]), "epoch": 4}
        results.append(_round_trip(lib, ckpt, weights_only=False))
    theirs, ours = results
    assert list(ours) == list(theirs)
    assert type(ours["arr"]) is type(theirs["arr"]) is np.ndarray
    np.testing.assert_array_equal(ours["arr"], theirs["arr"])
    np.testing.assert_array_equal(ours["w"].numpy(), theirs["w"].numpy())
    for key in ("tags", (1, 2), "frozen", "epoch"):
        assert type(ours[key]) is type(theirs[key]) and ours[key] == theirs[key]


def test_shared_tensors_stay_shared():
    base = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    results = []
    for lib in (torch, minigrad):
        w = lib.tensor(base)
        obj = {"w": w, "row": w[1], "col": w[:, 2], "t": w.t(), "again": w, "tags": {1}}
        results.append(_round_trip(lib, obj, weights_only=False))
    theirs, ours = results
    assert (ours["again"] is ours["w"]) and (theirs["again"] is theirs["w"])
    for key in ("row", "col", "t"):
        assert ours[key].stride() == theirs[key].stride(), key
        assert ours[key].storage_offset() == theirs[key].storage_offset(), key
        np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy())
    for loaded in (theirs, ours):
        loaded["row"].add_(100)                 # writes through to the whole and the views
    np.testing.assert_array_equal(ours["w"].numpy(), theirs["w"].numpy())
    np.testing.assert_array_equal(ours["col"].numpy(), theirs["col"].numpy())
    np.testing.assert_array_equal(ours["t"].numpy(), theirs["t"].numpy())


def test_tied_weights_of_a_saved_module_stay_tied():
    results = []
    for lib in (torch, minigrad):
        model = lib.nn.Sequential(lib.nn.Embedding(5, 3), lib.nn.Linear(3, 5, bias=False))
        model[1].weight = model[0].weight
        results.append(_round_trip(lib, model, weights_only=False))
    theirs, ours = results
    assert (ours[1].weight is ours[0].weight) and (theirs[1].weight is theirs[0].weight)
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 1


def test_whole_module_needs_weights_only_false():
    data = {}
    for lib in (torch, minigrad):
        buf = io.BytesIO()
        lib.save(lib.nn.Sequential(lib.nn.Linear(2, 3)), buf)
        data[lib.__name__] = buf.getvalue()
    with pytest.raises(pickle.UnpicklingError) as theirs:
        torch.load(io.BytesIO(data["torch"]))
    with pytest.raises(pickle.UnpicklingError) as ours:
        minigrad.load(io.BytesIO(data["minigrad"]))
    for info, lib in ((theirs, "torch"), (ours, "minigrad")):
        message = str(info.value)
        assert "Weights only load failed" in message
        assert f"Unsupported global: GLOBAL {lib}.nn.modules.container.Sequential was not an " \
               "allowed global by default" in message
        assert "weights_only" in message
    assert minigrad.serialization.get_unsafe_globals_in_checkpoint(
        io.BytesIO(data["minigrad"])) == ["minigrad.nn.modules.container.Sequential",
                                          "minigrad.nn.modules.linear.Linear"]
    # allowlisted, it loads with the default weights_only, as in torch
    with minigrad.serialization.safe_globals([nn.Sequential, nn.Linear]):
        loaded = minigrad.load(io.BytesIO(data["minigrad"]))
    assert isinstance(loaded, nn.Sequential) and isinstance(loaded[0], nn.Linear)


def _fallback_checkpoint(lib):
    """A checkpoint of tensors and containers that safetensors cannot hold (the set)."""
    rng = np.random.default_rng(3)
    w = lib.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    return {"w": w, "row": w[2], "t": w.t(), "ids": lib.tensor([3, 1, 2]),
            "half": lib.tensor(rng.standard_normal(5).astype(np.float16)),
            "mask": lib.tensor([True, False]), "scalar": lib.tensor(2.5, dtype=lib.float64),
            "bf": lib.ones(3, dtype=lib.bfloat16), "empty": lib.zeros(0, 2),
            "p": lib.nn.Parameter(lib.tensor([1.0, 2.0])),
            "frozen": lib.nn.Parameter(lib.tensor([3.0]), requires_grad=False),
            "nested": [w, (lib.tensor([1j]), 3)], "seen": {1, 2}, "dtype": lib.float16,
            "size": w.shape, "device": lib.device("cpu")}


def _same(ours, theirs):
    """ours (loaded by torch from minigrad's file) equals theirs (torch's own round trip)."""
    if isinstance(theirs, torch.Tensor):
        assert type(ours) is type(theirs)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert ours.stride() == theirs.stride() and ours.requires_grad == theirs.requires_grad
        assert ours.storage_offset() == theirs.storage_offset()
        np.testing.assert_array_equal(ours.detach().float().numpy() if ours.dtype ==
                                      torch.bfloat16 else ours.detach().numpy(),
                                      theirs.detach().float().numpy() if theirs.dtype ==
                                      torch.bfloat16 else theirs.detach().numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            _same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert type(ours) is type(theirs) and ours == theirs


@pytest.mark.parametrize("weights_only", [False, True])
def test_fallback_file_loads_in_torch(tmp_path, weights_only):
    path = tmp_path / "ckpt.pt"
    minigrad.save(_fallback_checkpoint(minigrad), path)
    assert zipfile.is_zipfile(path)
    ours = torch.load(path, weights_only=weights_only)
    theirs = _round_trip(torch, _fallback_checkpoint(torch), weights_only=weights_only)
    _same(ours, theirs)
    assert ours["row"].untyped_storage().data_ptr() == ours["w"].untyped_storage().data_ptr()
    assert ours["nested"][0] is ours["w"]
    # and minigrad reads it back, with the same layout
    back = minigrad.load(path, weights_only=weights_only)
    for key in ("w", "row", "t", "ids", "half", "scalar", "p", "frozen"):
        assert back[key].stride() == ours[key].stride(), key
        assert back[key].storage_offset() == ours[key].storage_offset(), key
        np.testing.assert_array_equal(back[key].detach().numpy(), ours[key].detach().numpy())
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad
    assert back["dtype"] is minigrad.float16 and back["seen"] == {1, 2}
    assert back["size"] == minigrad.Size([4, 3]) and str(back["device"]) == "cpu"


def test_archive_layout_matches_torch(tmp_path):
    names = {}
    for lib in (torch, minigrad):
        path = tmp_path / f"{lib.__name__}" / "model.pth"
        path.parent.mkdir()
        lib.save({"w": lib.ones(2), "s": {1}}, path)
        with zipfile.ZipFile(path) as archive:
            names[lib.__name__] = archive.namelist()
            assert archive.read("model/byteorder") in (b"little", b"big")
            assert archive.read("model/version") == b"3\n"
            assert len(archive.read("model/data/0")) == 8
            info = archive.getinfo("model/data/0")
            assert info.compress_type == zipfile.ZIP_STORED
    for member in ("model/data.pkl", "model/byteorder", "model/version", "model/data/0"):
        assert member in names["torch"] and member in names["minigrad"]
    # a file object gets the folder 'archive', as in torch
    for lib in (torch, minigrad):
        buf = io.BytesIO()
        lib.save({"s": {1}}, buf)
        assert zipfile.ZipFile(buf).namelist()[0] == "archive/data.pkl"


def test_state_dicts_stay_safetensors(tmp_path):
    model = nn.Linear(2, 3)
    path = tmp_path / "sd.safetensors"
    minigrad.save({"model": model.state_dict(), "epoch": 2}, path)
    assert not zipfile.is_zipfile(path)
    safetensors_torch = pytest.importorskip("safetensors.torch")
    loaded = safetensors_torch.load_file(str(path))
    np.testing.assert_array_equal(loaded["model.weight"].numpy(), model.weight.detach().numpy())


_MODULE_LEVEL = {"f": lambda x: x}        # a lambda: pickle cannot find it by its name


def test_unpicklable_objects_raise_and_leave_no_file(tmp_path):
    def local():
        class Local:
            pass
        return Local()
    for obj, error in ((_MODULE_LEVEL, pickle.PicklingError), ({"g": lambda x: x}, AttributeError),
                       ({"x": local()}, AttributeError)):
        with pytest.raises(error) as theirs:
            torch.save(obj, io.BytesIO())
        path = tmp_path / "bad.pt"
        with pytest.raises(error) as ours:
            minigrad.save(obj, path)
        assert "pickle" in str(ours.value) and "pickle" in str(theirs.value)
        assert list(tmp_path.iterdir()) == []
