"""Tensor creation, conversion and Python protocols beside PyTorch (round 16): numpy ufuncs on
a tensor give a tensor back, ``in`` refusing a non-number, requires_grad refusals of asarray
and frombuffer, read-only buffer warnings, eye's integer arguments, numbers cast to a given
dtype, iteration by unbind, sequences on the left of ``*``/``+``, half-precision arange,
integer arange/linspace bound checks, 0-d tensor elements read in the asked dtype, the
``*_like`` factories' ``input=`` and keyword-only dtypes, and refused non-dtype ``dtype=``."""
import functools
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import outcome  # noqa: E402

LIBS = [torch, minigrad]


@pytest.mark.parametrize("ufunc, args", [
    (np.exp, ([1.0, 2.0],)),
    (np.sqrt, (4.0,)),
    (np.add, ([1.0, 2.0], 1)),
    (np.maximum, ([1, 5], np.array([3, 3]))),
    (np.greater, ([1.0, 2.0], 1)),
    (np.isnan, (1.0,)),
])
def test_numpy_ufunc_of_a_tensor_is_a_tensor(ufunc, args):
    outs = []
    for lib in LIBS:
        call = [lib.tensor(a) if i == 0 else a for i, a in enumerate(args)]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch's old signature
            out = ufunc(*call)
        assert isinstance(out, lib.Tensor)
        outs.append(out)
    assert str(outs[1].dtype).split(".")[-1] == str(outs[0].dtype).split(".")[-1]
    assert tuple(outs[1].shape) == tuple(outs[0].shape)
    np.testing.assert_allclose(outs[1].numpy(), outs[0].numpy(), rtol=1e-6)


def test_numpy_ufunc_with_two_results_gives_tensors():
    outs = []
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            outs.append(np.divmod(lib.tensor([5, 7]), 2))
    for t, m in zip(*outs):
        assert isinstance(m, minigrad.Tensor)
        assert m.tolist() == t.tolist()


def test_numpy_ufunc_refuses_a_tensor_that_requires_grad():
    got = [outcome(lambda lib=lib: np.exp(lib.tensor([1.0], requires_grad=True)))[0]
           for lib in LIBS]
    assert got[0] == got[1] == "RuntimeError"


@pytest.mark.parametrize("element", ["a", None, [1]])
def test_contains_refuses_a_non_number(element):
    got = [outcome(lambda lib=lib: element in lib.tensor([1, 2])) for lib in LIBS]
    assert got[0][0] == got[1][0] == "RuntimeError"
    assert got[1][1] == got[0][1]


@pytest.mark.parametrize("make", [
    lambda lib: lib.asarray([1, 2], requires_grad=True),
    lambda lib: lib.asarray(np.arange(3), requires_grad=True),
    lambda lib: lib.frombuffer(bytearray(4), dtype=lib.uint8, requires_grad=True),
])
def test_integer_asarray_and_frombuffer_refuse_requires_grad(make):
    got = [outcome(lambda lib=lib: make(lib)) for lib in LIBS]
    assert got[0][0] == got[1][0] == "RuntimeError"
    assert got[1][1].startswith(got[0][1])


_WARNINGS_SCRIPT = """
import warnings, numpy as np
import {lib} as lib
a = np.arange(3.0)
a.flags.writeable = False
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    lib.frombuffer(b"abcd", dtype=lib.uint8)
    lib.frombuffer(b"abcd", dtype=lib.uint8)
    lib.asarray(a)
    lib.as_tensor(a)
    lib.frombuffer(bytearray(4), dtype=lib.uint8)
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    lib.asarray(x.detach())
    lib.asarray(x, requires_grad=True)
    lib.asarray(x * 2)
    lib.asarray(x)
print([("buffer" in str(x.message), "NumPy array" in str(x.message),
       "unspecified requires_grad" in str(x.message)) for x in w])
"""


# (PyTorch warns once a process: each library is asked in a fresh one. One fresh process per
# library runs both warning scripts, this one's and _GRAD_SCALAR_SCRIPT's, which look for
# different warnings; each prints one line)
_GRAD_SCALAR_SCRIPT = """
import warnings
import {lib} as lib
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    lib.tensor([lib.tensor(1.0, requires_grad=True), 2.0])
    lib.tensor([lib.tensor(1, dtype=lib.int64), 2])
print(['requires_grad=True to a scalar' in str(x.message) for x in w])
"""


@functools.lru_cache(maxsize=None)
def _fresh_process_lines(name):
    code = (textwrap.dedent(_WARNINGS_SCRIPT.format(lib=name))
            + textwrap.dedent(_GRAD_SCALAR_SCRIPT.format(lib=name)))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return run.stdout.strip().splitlines()


def test_read_only_buffer_array_and_kept_flag_warn_once_each():
    outs = [_fresh_process_lines(name)[0] for name in ("torch", "minigrad")]
    assert outs[0] == outs[1] == ("[(True, False, False), (False, True, False), "
                                  "(False, False, True)]")


@pytest.mark.parametrize("args", [(2.0,), (2, 3.0), (True,), (np.int64(2),), (2, np.int32(3))])
def test_eye_takes_integers_only(args):
    got = []
    for lib in LIBS:
        kind, value = outcome(lambda lib=lib: lib.eye(*args))
        # (a float m is refused in other words by PyTorch's overload resolution)
        got.append((kind, value.tolist() if kind == "ok" else value[:40] * (len(args) == 1)))
    assert got[0] == got[1]


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor(2 ** 70, dtype=lib.float32),
    lambda lib: lib.tensor(2 ** 70, dtype=lib.float64),
    lambda lib: lib.tensor(2 ** 70, dtype=lib.int64),
    lambda lib: lib.tensor(np.int64(300), dtype=lib.uint8),
    lambda lib: lib.tensor(np.uint8(200), dtype=lib.int8),
    lambda lib: lib.tensor(np.int64(-1), dtype=lib.uint8),
    lambda lib: lib.tensor(np.float64(1e40), dtype=lib.float32),
])
def test_single_numbers_cast_to_a_given_dtype(make):
    got = []
    for lib in LIBS:
        kind, value = outcome(lambda lib=lib: make(lib))
        got.append((kind, value.tolist() if kind == "ok" else value[:30]))
    assert got[0] == got[1]


def test_iterating_a_tensor_gives_unbind_views():
    got = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        rows = list(x)
        names = [r.grad_fn.name() for r in rows]
        refused = outcome(lambda rows=rows: rows[0].mul_(2))[0]
        (rows[0] * 3 + rows[1]).backward()
        got.append((names, refused, x.grad.tolist()))
    assert got[0] == got[1]


@pytest.mark.parametrize("expr", [
    lambda lib: [0] * lib.tensor(3),
    lambda lib: "ab" * lib.tensor(2),
    lambda lib: (1,) * lib.tensor(2),
    lambda lib: [1, 2] + lib.tensor([1.0, 2.0]),
    lambda lib: (1, 2) + lib.tensor([1.0, 2.0]),
])
def test_sequence_operand_on_the_left_is_python_s(expr):
    got = []
    for lib in LIBS:
        kind, value = outcome(lambda lib=lib: expr(lib))
        got.append((kind, value if kind == "ok" else value.replace("minigrad", "torch")))
    assert got[0] == got[1]


@pytest.mark.parametrize("args", [(2049, 2200, 1), (0, 1, 0.1), (-0.0, 5, 0.85),
                                  (-2.5, 40.0, 0.37), (60000, 70000, 7), (3.0, -40.0, -1.09),
                                  (0, 40000, 0.5)])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_arange_rounds_as_torch(args, dtype):
    with np.errstate(all="ignore"):
        t, m = (lib.arange(*args, dtype=getattr(lib, dtype)).float().numpy() for lib in LIBS)
    assert t.shape == m.shape
    np.testing.assert_array_equal(m, t)
    np.testing.assert_array_equal(np.signbit(m), np.signbit(t))


@pytest.mark.parametrize("args", [(-5.0, -5.07, 0.387), (-2.12, -2.75, 1.63), (0.0, -0.07, 0.23),
                                  (0.5, 3.7, 0.4), (3, -1, -1.5)])
def test_integer_arange_checks_the_bounds_before_truncating(args):
    got = []
    for lib in LIBS:
        kind, value = outcome(lambda lib=lib: lib.arange(*args, dtype=lib.int64))
        got.append((kind, value.tolist() if kind == "ok" else value[:50]))
    assert got[0] == got[1]


@pytest.mark.parametrize("element", [(1.0, "float32"), (1, "int64"), (True, "bool"),
                                     (1 + 0j, "complex64"), (1 + 2j, "complex64")])
@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool", "float32", "float64", "complex64"])
def test_zero_dim_tensor_elements_read_in_the_asked_dtype(element, dtype):
    value, elem_dtype = element
    got = []
    for lib in LIBS:
        el = lib.tensor(value, dtype=getattr(lib, elem_dtype))
        kind, out = outcome(lambda lib=lib, el=el: lib.tensor([el, 1], dtype=getattr(lib, dtype)))
        got.append((kind, out.tolist() if kind == "ok" else out[:50]))
    assert got[0] == got[1]


def test_element_requiring_grad_warns_when_read_as_a_float():
    # (in a fresh process per library: _fresh_process_lines)
    outs = [_fresh_process_lines(name)[1] for name in ("torch", "minigrad")]
    assert outs[0] == outs[1] == "[True]"


def test_full_like_refuses_a_tensor_fill_value_in_its_own_name():
    got = [outcome(lambda lib=lib: lib.full_like(lib.zeros(2), lib.tensor([3.0])))
           for lib in LIBS]
    assert got[0] == got[1]


def test_size_of_numpy_integers_prints_plain_numbers():
    t, m = (str(lib.Size([np.int64(3), 2])) for lib in LIBS)
    assert m == t.replace("torch", "minigrad")


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros_like(input=lib.zeros(2)),
    lambda lib: lib.ones_like(input=lib.zeros(2), dtype=lib.int64),
    lambda lib: lib.full_like(input=lib.zeros(2), fill_value=3),
    lambda lib: lib.empty_like(input=lib.zeros(2)).zero_(),
    lambda lib: lib.ones_like(lib.zeros(2), lib.float64),
    lambda lib: lib.full_like(lib.zeros(2), 3, lib.float64),
    lambda lib: lib.full((2,), 3, lib.float64),
    lambda lib: lib.tensor([1], lib.float64),
    lambda lib: lib.as_tensor([1], lib.float64),
    lambda lib: lib.eye(2, 2, lib.float64),
])
def test_factory_arguments_by_name_and_keyword_only_dtype(call):
    got = []
    for lib in LIBS:
        kind, value = outcome(lambda lib=lib: call(lib))
        got.append((kind, value.tolist() if kind == "ok" else None))
    assert got[0] == got[1]


@pytest.mark.parametrize("buffer", [lambda: memoryview(bytearray(8))[::2],
                                    lambda: np.arange(4, dtype=np.int32)[::2],
                                    lambda: np.arange(4, dtype=np.int32)])
def test_frombuffer_needs_contiguous_bytes(buffer):
    got = []
    for lib in LIBS:
        kind, value = outcome(lambda lib=lib: lib.frombuffer(buffer(), dtype=lib.uint8))
        got.append((kind, value.tolist() if kind == "ok" else value))
    assert got[0] == got[1]


@pytest.mark.parametrize("args", [(-78.5, 65.6, 0), (13.7, -16.4, 1), (3, 300, 1), (-5.5, 3, 1),
                                  (300, 3, 0), (3, -1.5, 2), (-5, 3, 3)])
def test_integer_linspace_checks_only_the_bounds_it_uses(args):
    got = []
    for lib in LIBS:
        kind, value = outcome(lambda lib=lib: lib.linspace(*args, dtype=lib.uint8))
        got.append((kind, value.tolist() if kind == "ok" else value[:50]))
    assert got[0] == got[1]


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, dtype=np.dtype("float64")),
    lambda lib: lib.ones(2, dtype="float32"),
    lambda lib: lib.full((2,), 1, dtype=np.float32),
    lambda lib: lib.linspace(0, 1, 3, dtype=np.dtype("float32")),
    lambda lib: lib.zeros(2, dtype=float),
    lambda lib: lib.arange(3, dtype=int),
])
def test_factory_dtype_must_be_a_dtype(call):
    got = []
    for lib in LIBS:
        kind, value = outcome(lambda lib=lib: call(lib))
        got.append((kind, str(value.dtype).split(".")[-1] if kind == "ok" else None))
    assert got[0] == got[1]
