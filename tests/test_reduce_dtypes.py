"""Result dtypes of the reductions against PyTorch: ``sum``/``prod`` in the requested dtype
(numpy would widen int32 to int64 and uint8 to uint64), ``all``/``any`` keeping uint8 (a
PyTorch legacy), and the rounding ops' dtypes. Found by PyTorch's own OpInfo samples
(tests/test_opinfo_db.py) and the differential fuzzer."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]


def _both(fn_name, x, *args, **kwargs):
    out = []
    for lib in (torch, minigrad):
        kw = {k: getattr(lib, v) if k == "dtype" and v is not None else v
              for k, v in kwargs.items()}
        try:
            out.append((getattr(lib, fn_name)(lib.tensor(x), *args, **kw), None))
        except Exception as exc:  # noqa: BLE001 (compared below)
            out.append((None, exc))
    (theirs, their_error), (mine, my_error) = out
    if their_error is not None or my_error is not None:
        assert type(my_error) is type(their_error), f"{my_error!r} vs {their_error!r}"
        return
    assert mine.dtype.name == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any_dtype(name, dtype):
    x = np.random.default_rng(0).integers(0, 3, (3, 4)).astype(dtype)
    _both(name, x)
    _both(name, x, 1)
    _both(name, x, 0, keepdim=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", [None] + DTYPES)
@pytest.mark.parametrize("name", ["sum", "prod"])
def test_sum_prod_requested_dtype(name, dtype, out):
    x = np.random.default_rng(1).integers(0, 4, (3, 5)).astype(dtype)
    _both(name, x, 1, dtype=out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc"])
def test_rounding_dtypes(name, dtype):
    """Integers come back unchanged, bool is refused by PyTorch's kernel (round of bool gave
    float16, floor and ceil gave bool)."""
    _both(name, np.array([1, 0, 1]).astype(dtype))
