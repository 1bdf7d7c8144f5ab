"""What the side-by-side error tests share (tests/test_error_inputs_nn.py and
tests/test_error_inputs_tensor.py): a row of bad input, and the comparison of the exception
each library raises for it."""
import re
import warnings

import pytest

import minigrad

torch = pytest.importorskip("torch")


def C(case_id, call, regex=None):
    """A row: ``call(lib)`` must raise; with ``regex``, only what it matches is compared."""
    return pytest.param(call, regex, id=case_id)


def raised(call, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            call(lib)
    return info.value


def check_same_error(call, regex, whole=True):
    """torch and minigrad raise the same exception type for ``call``; the messages are equal
    (``whole``) or minigrad's begins with torch's, or both match ``regex``."""
    expected = raised(call, torch)
    got = raised(call, minigrad)
    assert type(got) is type(expected), \
        f"{type(got).__name__}: {got} (torch: {type(expected).__name__}: {expected})"
    if regex is None:
        if whole:
            assert str(got) == str(expected)
        else:
            assert str(got).startswith(str(expected)), \
                f"{got!r} does not begin with {expected!r}"
    else:
        assert re.search(regex, str(expected)) is not None, f"torch's message changed: {expected}"
        assert re.search(regex, str(got)) is not None, f"{got!r} does not match {regex!r}"
