"""minigrad.load of checkpoints written by torch.save (PyTorch's zip format), side by side
with torch.load: values, dtypes, shapes, strides, offsets, shared memory, whole modules,
optimizer/scheduler state, and the weights_only refusals."""
import io
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn

torch = pytest.importorskip("torch")


def _saved(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _both(obj, **kwargs):
    """(what torch.load gives, what minigrad.load gives) for the bytes torch.save wrote."""
    data = _saved(obj)
    return torch.load(io.BytesIO(data), **kwargs), minigrad.load(io.BytesIO(data), **kwargs)


def _same_tensor(ours, theirs):
    assert isinstance(ours, minigrad.Tensor), type(ours)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.stride() == theirs.stride()
    assert ours.storage_offset() == theirs.storage_offset()
    assert ours.requires_grad == theirs.requires_grad
    assert isinstance(ours, nn.Parameter) == isinstance(theirs, torch.nn.Parameter)
    np.testing.assert_array_equal(ours.detach().float().numpy() if theirs.dtype ==
                                  torch.bfloat16 else ours.detach().numpy(),
                                  theirs.detach().float().numpy() if theirs.dtype ==
                                  torch.bfloat16 else theirs.detach().numpy())


def _same(ours, theirs):
    """Recursive comparison of what the two loaders returned."""
    if isinstance(theirs, torch.Tensor):
        _same_tensor(ours, theirs)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            _same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)) and not isinstance(theirs, torch.Size):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    elif isinstance(theirs, torch.Size):
        assert isinstance(ours, minigrad.Size) and tuple(ours) == tuple(theirs)
    elif isinstance(theirs, torch.dtype):
        assert ours is getattr(minigrad, str(theirs).split(".")[-1])
    elif isinstance(theirs, torch.device):
        assert str(ours) == str(theirs)
    else:
        assert type(ours) is type(theirs) and ours == theirs


def _models():
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64, 5))
    lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)
    enc = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    return {"conv": (conv, (2, 3, 4, 4)), "lstm": (lstm, (2, 5, 3)),
            "transformer": (enc, (2, 5, 8))}


def _minigrad_twin(name):
    return {"conv": lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                                          nn.ReLU(), nn.Flatten(), nn.Linear(64, 5)),
            "lstm": lambda: nn.LSTM(3, 4, num_layers=2, batch_first=True),
            "transformer": lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                              batch_first=True)}[name]()


def _out(y):
    return (y[0] if isinstance(y, tuple) else y).detach().numpy()


@pytest.mark.parametrize("name", ["conv", "lstm", "transformer"])
def test_state_dict_loads_and_runs_as_in_torch(name):
    model, shape = _models()[name]
    model.train()
    model(torch.randn(*shape))                          # BN running stats move
    model.eval()
    theirs, ours = _both(model.state_dict())
    _same(ours, theirs)
    assert ours._metadata == theirs._metadata
    twin = _minigrad_twin(name)
    twin.load_state_dict(ours)
    twin.eval()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(_out(twin(minigrad.tensor(x))), _out(model(torch.tensor(x))),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["conv", "lstm", "transformer"])
def test_whole_saved_module_loads_as_minigrad_module(name):
    model, shape = _models()[name]
    model.eval()
    theirs, ours = _both(model, weights_only=False)
    assert type(ours).__name__ == type(theirs).__name__
    assert isinstance(ours, nn.Module) and ours.training is False
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(_out(ours(minigrad.tensor(x))), _out(theirs(torch.tensor(x))),
                               rtol=1e-5, atol=1e-5)
    # the module keeps working: it trains, and its parameters are minigrad's
    ours.train()
    loss = ours(minigrad.tensor(x))
    (loss[0] if isinstance(loss, tuple) else loss).sum().backward()
    assert all(p.grad is not None for p in ours.parameters())


def test_whole_module_needs_weights_only_false():
    data = _saved(torch.nn.Linear(2, 3))
    with pytest.raises(pickle.UnpicklingError) as theirs:
        torch.load(io.BytesIO(data))
    with pytest.raises(pickle.UnpicklingError) as ours:
        minigrad.load(io.BytesIO(data))
    for info in (theirs, ours):
        message = str(info.value)
        assert "Weights only load failed" in message
        assert "Unsupported global: GLOBAL torch.nn.modules.linear.Linear was not an allowed " \
               "global by default" in message
        assert "add_safe_globals" in message and "weights_only" in message
    # allowlisted, as in torch (minigrad's class stands for torch's name)
    with torch.serialization.safe_globals([torch.nn.Linear]):
        theirs = torch.load(io.BytesIO(data))
    with minigrad.serialization.safe_globals([nn.Linear]):
        ours = minigrad.load(io.BytesIO(data))
    assert isinstance(ours, nn.Linear)
    np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())


def test_whole_module_with_norms_activations_and_attention():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.LayerNorm(8), torch.nn.GELU(),
                                torch.nn.Unflatten(1, (4, 2)), torch.nn.GroupNorm(2, 4),
                                torch.nn.Flatten(), torch.nn.Linear(8, 3)).eval()
    x = np.random.default_rng(4).standard_normal((5, 6)).astype(np.float32)
    theirs, ours = _both(model, weights_only=False)
    assert repr(ours).replace("minigrad", "torch") == repr(theirs)
    np.testing.assert_allclose(_out(ours(minigrad.tensor(x))), _out(theirs(torch.tensor(x))),
                               rtol=1e-5, atol=1e-6)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    q = np.random.default_rng(5).standard_normal((2, 3, 8)).astype(np.float32)
    theirs, ours = _both(mha, weights_only=False)
    np.testing.assert_allclose(_out(ours(*[minigrad.tensor(q)] * 3)),
                               _out(theirs(*[torch.tensor(q)] * 3)), rtol=1e-5, atol=1e-6)


def test_tensor_with_python_attributes_and_weights_only_none():
    t = torch.arange(3.0)
    t.note = "kept"
    data = _saved({"t": t, "cfg": _Config(1)})
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(data), weights_only=None)
    with pytest.raises(pickle.UnpicklingError):             # None means True, as in torch
        minigrad.load(io.BytesIO(data), weights_only=None)
    theirs, ours = _both(t)
    _same(ours, theirs)
    assert ours.note == theirs.note == "kept"


def test_optimizer_scheduler_epoch_checkpoint():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    sched.step()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": 3, "best": 0.25, "name": "run"}
    theirs, ours = _both(ckpt)
    _same(ours, theirs)
    # the state resumes in minigrad's optimizer and scheduler
    twin = nn.Linear(3, 2)
    twin.load_state_dict(ours["model"])
    opt2 = minigrad.optim.Adam(twin.parameters(), lr=0.01)
    opt2.load_state_dict(ours["optimizer"])
    sched2 = minigrad.optim.lr_scheduler.StepLR(opt2, step_size=2)
    sched2.load_state_dict(ours["scheduler"])
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    model(torch.tensor(x)).sum().backward()
    twin(minigrad.tensor(x)).sum().backward()
    opt.zero_grad()
    model(torch.tensor(x)).sum().backward()
    opt2.zero_grad()
    twin(minigrad.tensor(x)).sum().backward()
    opt.step()
    opt2.step()
    sched.step()
    sched2.step()
    np.testing.assert_allclose(twin.weight.detach().numpy(), model.weight.detach().numpy(),
                               rtol=1e-6, atol=1e-7)
    assert sched2.get_last_lr() == pytest.approx(sched.get_last_lr())


def test_shared_storages_views_and_non_contiguous_tensors():
    base = torch.arange(24.0)
    grid = base.view(4, 6)
    ckpt = {"base": base, "slice": base[5:11], "grid_t": grid.t(), "cols": grid[:, 1::2],
            "again": base, "other": torch.ones(3)}
    theirs, ours = _both(ckpt)
    _same(ours, theirs)
    assert ours["again"] is ours["base"]                      # pickle's memo, as in torch
    ptr = ours["base"].untyped_storage().data_ptr()
    for k in ("slice", "grid_t", "cols"):
        assert ours[k].untyped_storage().data_ptr() == ptr, k
        assert ours[k].untyped_storage().nbytes() == theirs[k].untyped_storage().nbytes()
    assert ours["other"].untyped_storage().data_ptr() != ptr
    assert ours["grid_t"].is_contiguous() == theirs["grid_t"].is_contiguous() is False
    # writes through one show through the others, in both
    for loaded in (theirs, ours):
        loaded["base"][6] = 100.0
    _same(ours, theirs)


def test_tied_weights_share_memory_after_loading():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(5, 4)
    head = torch.nn.Linear(4, 5, bias=False)
    head.weight = emb.weight
    model = torch.nn.ModuleDict({"emb": emb, "head": head})
    theirs, ours = _both(model.state_dict())
    _same(ours, theirs)
    assert ours["emb.weight"].untyped_storage().data_ptr() == \
        ours["head.weight"].untyped_storage().data_ptr()
    # a whole module: one Parameter object, as in torch
    theirs, ours = _both(model, weights_only=False)
    assert ours.head.weight is ours.emb.weight
    assert theirs.head.weight is theirs.emb.weight


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int8", "int16",
                                   "int32", "int64", "uint8", "bool", "complex64",
                                   "complex128"])
def test_every_dtype(dtype):
    rng = np.random.default_rng(3)
    values = torch.tensor(rng.standard_normal((3, 4)) * 50)
    if dtype.startswith("complex"):
        values = torch.complex(values, values.flip(0))
    t = values.to(getattr(torch, dtype))
    theirs, ours = _both({"t": t, "t_view": t[1:, ::2], "p": [t.T], "dtype": t.dtype})
    _same(ours, theirs)


def test_parameters_requires_grad_and_nested_containers():
    p = torch.nn.Parameter(torch.randn(2, 3))
    frozen = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    leaf = torch.randn(3, requires_grad=True)
    ckpt = OrderedDict(p=p, frozen=frozen, leaf=leaf, nested={"a": [1, 2.5, (None, True)],
                                                             "b": {3: "x", "size": p.shape},
                                                             "dev": torch.device("cpu")},
                       raw=b"bytes", cx=1 + 2j, s={1, 2}, scalar=torch.tensor(7))
    theirs, ours = _both(ckpt)
    _same(ours, theirs)


def test_parameter_with_python_attributes():
    p = torch.nn.Parameter(torch.ones(2))
    p.tag = "decay"
    theirs, ours = _both(p)
    _same(ours, theirs)
    assert ours.tag == theirs.tag == "decay"


def test_paths_file_objects_map_location_and_mmap(tmp_path):
    t = {"w": torch.arange(6.0).view(2, 3)}
    path = tmp_path / "model.pt"
    torch.save(t, path)
    for kwargs in ({}, {"map_location": "cpu"}, {"map_location": torch.device("cpu")},
                   {"map_location": {"cpu": "cpu"}}, {"mmap": True}):
        expected = torch.load(path, **kwargs)
        mg_kwargs = {k: (minigrad.device("cpu") if isinstance(v, torch.device) else v)
                     for k, v in kwargs.items()}
        _same(minigrad.load(path, **mg_kwargs), expected)
        _same(minigrad.load(str(path), **mg_kwargs), expected)
        with open(path, "rb") as fh:
            _same(minigrad.load(fh, **mg_kwargs), expected)
    seen = []

    def fn(storage, location):
        seen.append(location)
        return storage
    _same(minigrad.load(path, map_location=fn), expected)
    assert seen == ["cpu"]


def test_weights_only_refuses_arbitrary_classes_as_torch():
    data = _saved({"w": torch.ones(2), "cfg": _Config(3)})
    for loader, safe in ((torch.load, torch.serialization.safe_globals),
                         (minigrad.load, minigrad.serialization.safe_globals)):
        with pytest.raises(pickle.UnpicklingError) as info:
            loader(io.BytesIO(data))
        name = f"{__name__}._Config"
        assert f"Unsupported global: GLOBAL {name} was not an allowed global by default" \
            in str(info.value)
        with safe([_Config]):
            loaded = loader(io.BytesIO(data))
        assert isinstance(loaded["cfg"], _Config) and loaded["cfg"].depth == 3
        loaded = loader(io.BytesIO(data), weights_only=False)
        assert loaded["cfg"].depth == 3
    assert minigrad.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)) == \
        torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))


def test_weights_only_refuses_numpy_and_full_load_gives_it():
    data = _saved({"arr": np.arange(3.0), "epoch": np.int64(4)})
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL numpy"):
        torch.load(io.BytesIO(data))
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL numpy"):
        minigrad.load(io.BytesIO(data))
    theirs = torch.load(io.BytesIO(data), weights_only=False)
    ours = minigrad.load(io.BytesIO(data), weights_only=False)
    np.testing.assert_array_equal(ours["arr"], theirs["arr"])
    assert ours["epoch"] == theirs["epoch"] and type(ours["epoch"]) is type(theirs["epoch"])


def test_a_malicious_pickle_is_not_run_with_weights_only(tmp_path):
    marker = tmp_path / "PWNED"
    data = _saved({"w": _Trap(str(marker))})
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        torch.load(io.BytesIO(data))
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        minigrad.load(io.BytesIO(data))
    assert not marker.exists()


def test_torch_global_without_minigrad_equivalent_is_named():
    data = _saved({"layout": torch.nn.Identity(), "w": torch.ones(1)})
    ours = minigrad.load(io.BytesIO(data), weights_only=False)
    assert isinstance(ours["layout"], nn.Identity)
    with pytest.raises(AttributeError, match=r"torch\.nn\.NoSuchThing.*no equivalent"):
        minigrad._torch_checkpoint._minigrad_equivalent("torch.nn", "NoSuchThing")


def test_damaged_zip_is_refused_clearly():
    data = _saved({"w": torch.ones(4)})
    with pytest.raises(RuntimeError):
        torch.load(io.BytesIO(data[: len(data) // 2]))
    with pytest.raises(RuntimeError, match="zip"):
        minigrad.load(io.BytesIO(data[: len(data) // 2]))


def test_legacy_format_is_refused_by_name():
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf, _use_new_zipfile_serialization=False)
    assert torch.load(io.BytesIO(buf.getvalue()))["w"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"legacy torch\.save format.*PyTorch 1\.6"):
        minigrad.load(io.BytesIO(buf.getvalue()))


class _Config:
    def __init__(self, depth):
        self.depth = depth


class _Trap:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))
