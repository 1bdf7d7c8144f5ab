"""``Tensor.storage()`` (PyTorch's deprecated TypedStorage) on both libraries: the elements of
the memory a tensor and its views share, read and written through, with PyTorch's sizes,
errors and warning."""
import warnings

import numpy as np
import pytest

import minigrad
from minigrad import _storage

torch = pytest.importorskip("torch")


def _each(fn):
    out = []
    for lib in (minigrad, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out.append(fn(lib))
            except Exception as exc:  # noqa: BLE001
                out.append(exc)
    return out


@pytest.mark.parametrize("case", [
    lambda L: L.arange(6.0).reshape(2, 3).storage().size(),
    lambda L: len(L.arange(6.0).reshape(2, 3)[:, 1].storage()),
    lambda L: L.arange(6.0).reshape(2, 3)[:, 1].storage_offset(),
    lambda L: L.arange(6, dtype=L.int16).storage().tolist(),
    lambda L: L.arange(6.0).storage()[4],
    lambda L: L.arange(6.0).storage()[-1],
    lambda L: L.arange(6, dtype=L.int64).storage().element_size(),
    lambda L: L.arange(6.0, dtype=L.float64).storage().nbytes(),
    lambda L: list(L.tensor([True, False]).storage()),
    lambda L: L.arange(6.0).storage().type().split(".")[-1],
    lambda L: L.is_storage(L.ones(2).storage()),
    lambda L: L.is_storage(L.ones(2)),
    lambda L: L.ones(2).storage().is_shared(),
])
def test_reads_match_pytorch(case):
    mine, theirs = _each(case)
    assert not isinstance(theirs, Exception)
    assert mine == theirs


@pytest.mark.parametrize("case", [
    lambda L: L.arange(6.0).storage()[6],
    lambda L: L.arange(6.0).storage()[-7],
])
def test_refusals_match_pytorch(case):
    mine, theirs = _each(case)
    assert isinstance(theirs, Exception)
    assert type(mine) is type(theirs) and str(mine) == str(theirs)


def test_views_share_one_storage_and_writes_go_through():
    def case(L):
        x = L.arange(6.0).reshape(2, 3)
        view = x.t()[1:]
        same = view.storage().data_ptr() == x.storage().data_ptr()
        s = view.storage()
        s[0] = 9.0
        s.fill_(s[1] + 1)        # every element of the block, not only the view's
        return same, x.numpy().copy()
    (same, mine), (same_t, theirs) = _each(case)
    assert same and same_t
    np.testing.assert_array_equal(mine, theirs)


def test_the_deprecation_warning_is_given_once_per_process(monkeypatch):
    monkeypatch.setattr(_storage, "_warned", [])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        minigrad.ones(2).storage()
        minigrad.ones(2).storage()
    messages = [str(w.message) for w in seen]
    assert len(messages) == 1 and messages[0].startswith("TypedStorage is deprecated")
    assert seen[0].filename == __file__          # it points at the caller's line
