"""requires_grad_ and the requires_grad setter take a Python bool only, as PyTorch's (an int,
a numpy bool or a 0-d tensor is refused in its words); Tensor.T's deprecation warnings are
given once a process, as PyTorch's TORCH_WARN_ONCE, every time under set_warn_always."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _outcome(fn):
    try:
        fn()
        return "ok"
    except Exception as exc:  # noqa: BLE001 -- compared across libraries
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("value", [True, False, 1, 0, 1.0, None, "yes", np.True_, "tensor"])
def test_requires_grad_flag_takes_a_bool_only(value):
    def method(lib):
        v = lib.tensor(True) if isinstance(value, str) and value == "tensor" else value
        return _outcome(lambda: lib.ones(2).requires_grad_(v))

    def setter(lib):
        v = lib.tensor(True) if isinstance(value, str) and value == "tensor" else value

        def assign():
            t = lib.ones(2)
            t.requires_grad = v
        return _outcome(assign)
    assert method(minigrad) == method(torch)
    assert setter(minigrad) == setter(torch)


@pytest.mark.parametrize("ndim", [0, 1, 3])
def test_T_deprecation_warns_once_unless_warn_always(ndim):
    seen = []
    for lib in (minigrad, torch):
        before = lib.is_warn_always_enabled()
        lib.set_warn_always(True)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                x = lib.ones([2] * ndim)
                x.T
                x.T
        finally:
            lib.set_warn_always(before)
        seen.append([str(w.message).split(" (Triggered internally")[0] for w in caught])
    assert seen[0] == seen[1] and len(seen[0]) == 2


def test_T_deprecation_is_given_once_a_process():
    x = minigrad.ones(2, 3, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x.T
        x.T
        x.T
    assert len(caught) <= 1
