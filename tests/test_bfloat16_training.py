"""bfloat16 beside torch: gradients, training, autocast and checkpoints (the dtype, its ops
and their values are in test_bfloat16.py, whose helpers these tests share)."""
import io
import os
import sys
import warnings

import numpy as np
import pytest
import torch

import minigrad

sys.path.insert(0, os.path.dirname(__file__))
from test_bfloat16 import MB, SAMPLE, TB, _close, _name, _pair, _r, _same, _values  # noqa: E402


# -- autograd and training ----------------------------------------------------------------------
GRADS = {
    "sigmoid_mul": lambda lib, x: (x.sigmoid() * x).sum(),
    "tanh": lambda lib, x: x.tanh().pow(2).mean(),
    # (weighted: a plain sum of softmax, or of a normalised row's squares, is constant)
    "softmax": lambda lib, x: (lib.softmax(x.reshape(40, 100), 1) *
                               lib.linspace(-2, 2, 100, dtype=lib.bfloat16)).sum(),
    "layer_norm": lambda lib, x: (lib.nn.functional.layer_norm(x.reshape(40, 100), (100,)) *
                                  lib.linspace(-2, 2, 100, dtype=lib.bfloat16)).sum(),
    "gelu": lambda lib, x: lib.nn.functional.gelu(x).sum(),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_are_bfloat16_and_close_to_torch(name):
    m, t = _pair(SAMPLE)
    m.requires_grad_()
    t.requires_grad_()
    GRADS[name](minigrad, m).backward()
    GRADS[name](torch, t).backward()
    assert m.grad.dtype == MB
    _close(m.grad, t.grad, ulps=4)


def _train(lib, kind, optimizer, steps=6):
    rng = np.random.default_rng(3)
    if kind == "mlp":
        xs = rng.standard_normal((steps, 16, 10)).astype(np.float32)
        ys = rng.integers(0, 4, (steps, 16))
        layers = [lib.nn.Linear(10, 32), lib.nn.ReLU(), lib.nn.Linear(32, 4)]
    else:
        xs = rng.standard_normal((steps, 4, 1, 8, 8)).astype(np.float32)
        ys = rng.integers(0, 4, (steps, 4))
        layers = [lib.nn.Conv2d(1, 4, 3), lib.nn.ReLU(), lib.nn.Flatten(),
                  lib.nn.Linear(4 * 6 * 6, 4)]
    net = lib.nn.Sequential(*layers)
    init = np.random.default_rng(4)
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(lib.tensor((init.standard_normal(tuple(p.shape)) * 0.3).astype(np.float32)))
    net = net.bfloat16()
    opt = (lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd" else
           lib.optim.AdamW(net.parameters(), lr=1e-2))
    losses = []
    for step in range(steps):       # one batch again and again: the loss must go down
        x, y = xs[0], ys[0]
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(net(lib.tensor(x).bfloat16()), lib.tensor(y))
        loss.backward()
        assert all(p.grad.dtype == lib.bfloat16 for p in net.parameters())
        opt.step()
        losses.append(loss.float().item())
    assert all(_name(p.dtype) == "bfloat16" for p in net.parameters())
    return np.array(losses)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_small_networks_train_in_bfloat16_like_torch(kind, optimizer):
    mine, theirs = _train(minigrad, kind, optimizer), _train(torch, kind, optimizer)
    np.testing.assert_allclose(mine, theirs, rtol=0.05, atol=0.02)
    assert mine[-1] < mine[0]


# -- autocast -----------------------------------------------------------------------------------
def test_cpu_autocast_defaults_to_bfloat16_like_torch():
    assert _name(minigrad.get_autocast_dtype("cpu")) == _name(torch.get_autocast_dtype("cpu"))

    def run(lib):
        a = lib.tensor(_r(4, 6))
        w = lib.tensor(_r(3, 6, seed=1))
        with lib.autocast("cpu"):
            out = [lib.nn.functional.linear(a, w), a @ w.T,
                   lib.nn.functional.conv1d(a.reshape(1, 4, 6), w.reshape(3, 1, 6)[:, :, :2]
                                            .repeat(1, 4, 1)),
                   lib.softmax(a, 0), a.double() @ w.double().T,
                   lib.tensor(_r(2, 2), dtype=lib.float16) @ lib.ones(2, 2)]
            logits = out[0]
            out += [lib.nn.functional.cross_entropy(logits, lib.tensor([0, 1, 2, 0])),
                    lib.nn.functional.mse_loss(logits, logits.detach() + 1)]
        return out
    for mine, theirs in zip(run(minigrad), run(torch)):
        assert _name(mine.dtype) == _name(theirs.dtype)
        _close(mine, theirs, ulps=2)


def test_cpu_autocast_float16_still_works_and_float32_is_refused_like_torch():
    for lib in (minigrad, torch):
        with lib.autocast("cpu", dtype=lib.float16):
            assert _name((lib.ones(2, 3) @ lib.ones(3, 2)).dtype) == "float16"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with minigrad.autocast("cpu", dtype=minigrad.float32), \
                torch.autocast("cpu", dtype=torch.float32):
            assert minigrad.is_autocast_enabled("cpu") is torch.is_autocast_enabled("cpu")
    texts = [str(w.message).replace("torch.", "minigrad.") for w in caught]
    assert len(texts) == 2 and texts[0] == texts[1]


# -- serialization ------------------------------------------------------------------------------
def test_save_load_roundtrip_and_torch_reads_it():
    st = pytest.importorskip("safetensors.torch")
    m, t = _pair(np.array([[1.5, -3.25, 1e-3, np.inf], [np.nan, 0.0, -0.0, 3e38]], np.float32))
    buffer = io.BytesIO()
    net = minigrad.nn.Linear(3, 2).bfloat16()
    minigrad.save({"x": m, "net": net.state_dict()}, buffer)
    back = minigrad.load(io.BytesIO(buffer.getvalue()))
    _same(back["x"], t)
    assert back["net"]["weight"].dtype == MB
    theirs = st.load(buffer.getvalue())
    assert theirs["x"].dtype == TB
    np.testing.assert_array_equal(_values(theirs["x"]), _values(t))
    # and a torch bfloat16 file loads as bfloat16, without a widening warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = minigrad.load(io.BytesIO(st.save({"w": t})))
    _same(loaded["w"], t)


def test_inplace_change_of_a_saved_tensor_is_still_caught():
    # what an op keeps is a float32 copy; its version is the bfloat16 tensor's
    for fn in (lambda a: a.sigmoid(), lambda a: a.exp()):
        a = minigrad.ones(3, dtype=MB, requires_grad=True)
        b = fn(a)
        b.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()
    a = minigrad.ones(3, dtype=MB, requires_grad=True) * 1
    b = a * a
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        b.sum().backward()
