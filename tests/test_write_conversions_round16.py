"""Writes and saved tensors beside torch (the lead's mends from fuzzing round 14): a complex
value written into a real or bool tensor through an index, a 2-d value through a mask, the
order of the freed-graph and modified-in-place refusals, var's degrees-of-freedom warning."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (torch, minigrad)


def _caught(fn):
    """(exception type name, first words of its message) or (None, result)."""
    try:
        return None, fn()
    except Exception as exc:  # noqa: BLE001 -- compared across libraries
        return type(exc).__name__, str(exc).split("(")[0][:60]


def _warned(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message)[:70] for w in caught]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_complex_value_written_through_an_index(dtype):
    def run(lib):
        x = lib.zeros(4, dtype=getattr(lib, dtype))
        x[1] = lib.tensor(2.5 + 1j)
        x[2:] = lib.tensor([0 + 3j, -1.5 + 0j])
        return x.tolist()
    minigrad._warn_once.state.given.clear()   # (its once-a-process warning given anew)
    (a, _), (b, words) = (_warned(lambda: run(lib)) for lib in LIBS)
    assert a == b
    # once a process (PyTorch's TORCH_WARN_ONCE), here the first time in it
    expected = [] if dtype == "bool" else \
        ["Casting complex values to real discards the imaginary part"]
    assert words == expected


def test_complex_value_written_into_a_real_graph_tensor_gives_its_gradient():
    grads = []
    for lib in LIBS:
        x = lib.zeros(3, dtype=lib.float64, requires_grad=True).clone()
        z = lib.tensor([1 + 2j, 3j], dtype=lib.complex128, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x[1:] = z
        (x * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        grads.append(np.asarray(z.grad.tolist()))
    np.testing.assert_array_equal(*grads)


@pytest.mark.parametrize("value_shape", [(2, 2), (1, 1, 3), (3, 1)])
def test_deep_value_through_a_mask_is_refused_as_torch(value_shape):
    def run(lib):
        a = lib.tensor(np.arange(12.0).reshape(3, 4))
        a[a > 6.5] = lib.ones(*value_shape, dtype=lib.float64)
        return a.tolist()
    ta, ma = (_caught(lambda: run(lib)) for lib in LIBS)
    assert ta == ma


def test_second_backward_after_an_inplace_write_says_freed_first():
    said = []
    for lib in LIBS:
        x = lib.ones(3, requires_grad=True)
        y = x.sigmoid()
        z = y.sum()
        z.backward()
        y.mul_(2)
        said.append(_caught(z.backward))
    assert said[0] == said[1] and said[0][1].startswith("Trying to backward through the graph")


def test_var_without_degrees_of_freedom_warns_in_torch_words():
    outs = []
    for lib in LIBS:
        x = lib.tensor([[1.0, 2.0, 4.0]], dtype=lib.float64)
        out, words = _warned(lambda: x.var(0))
        outs.append((np.isnan(out.numpy()).all(), words))
    assert outs[0] == outs[1]
