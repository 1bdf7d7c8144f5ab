"""Dtype, creation, conversion and storage probes against PyTorch.

Each test runs the same code on ``torch`` and ``minigrad`` and compares values, dtypes, error
types and words: ``asarray``'s explicit ``requires_grad=False``, ``arange`` by the keyword
``end``, with NaN/inf steps and past an int64's count, integer ``logspace`` past its dtype,
the factories' ``pin_memory=`` keyword, the refusal of a
non-native byte order, ``dtype.to_complex`` of a non-floating dtype, and the byte-level
``UntypedStorage`` API (constructor, indexing, ``tolist``, ``fill_``, ``copy_``, repr,
``Tensor.set_`` onto one), and a Tensor subclass's repr under its own class name.
"""
import warnings

import numpy as np
import pytest
import torch

import minigrad
from torch_agreement import neutral, same_outcome

LIBS = (torch, minigrad)


def _same_outcome_and_value(fn):
    """``same_outcome``, and where both accept: a tensor's dtype, shape, requires_grad and
    values equal, anything else equal with the library's name as torch's."""
    got, want = same_outcome(fn)
    if want[0] == "ok":
        a, b = want[1], got[1]
        if isinstance(a, torch.Tensor):
            assert neutral(a.dtype) == neutral(b.dtype) and tuple(a.shape) == tuple(b.shape)
            assert a.requires_grad == b.requires_grad
            np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        else:
            assert neutral(a) == neutral(b), (a, b)

# ---------------------------------------------------------------------------------- asarray
@pytest.mark.parametrize("requires_grad", [None, False, True])
def test_asarray_of_a_grad_leaf(requires_grad):
    for lib in LIBS:
        t = lib.ones(3, requires_grad=True)
        kw = {} if requires_grad is None else {"requires_grad": requires_grad}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = lib.asarray(t, **kw)
        # PyTorch returns the leaf itself, its flag cleared by an explicit False
        assert r is t
        assert r.requires_grad == (requires_grad is not False)


@pytest.mark.parametrize("requires_grad", [None, False, True])
def test_asarray_of_a_graph_tensor(requires_grad):
    results = []
    for lib in LIBS:
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        kw = {} if requires_grad is None else {"requires_grad": requires_grad}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = lib.asarray(y, **kw)
        results.append((r is y, r.requires_grad, r.grad_fn is None,
                        r.data_ptr() == y.data_ptr()))
    assert results[0] == results[1]


def test_asarray_converting_dtype_without_grad():
    _same_outcome_and_value(lambda L: L.asarray(L.ones(2, requires_grad=True), dtype=L.float64,
                              requires_grad=False))
    _same_outcome_and_value(lambda L: L.asarray(L.ones(2, requires_grad=True), dtype=L.float64))


# ----------------------------------------------------------------------------------- arange
@pytest.mark.parametrize("code", [
    "L.arange(end=3)",
    "L.arange(end=5, dtype=L.float32)",
    "L.arange(0, end=4)",
    "L.arange(1, 6, step=2)",
    "L.arange(1e20)",
    "L.arange(-1e20, 1e20, 1e-5)",
    "L.arange(0, 2 ** 63 - 1, 1e-300)",
    "L.arange(0, 1, float('nan'))",
    "L.arange(0, 1, float('nan'), dtype=L.int64)",
    "L.arange(0, 1, float('inf'))",
    "L.arange(0, -1, float('-inf'))",
    "L.arange(0, 1, float('inf'), dtype=L.int32)",
    "L.arange(2 ** 62, 2 ** 63 - 1, 2 ** 60)",
    "L.arange(-2 ** 63, 2 ** 62, 2 ** 61)",
    "L.arange(10 ** 19)",
    "L.arange(0, 10 ** 19, 10 ** 18, dtype=L.int32)",
    "L.arange(0, 10 ** 19, 10 ** 18, dtype=L.float32)",
    "L.arange(0, 10 ** 19, dtype=L.uint8)",
    "L.arange(0, 5, 10 ** 19, dtype=L.int32)",
    "L.arange(-10 ** 19, 0)",
    "L.arange(0, 2 ** 64, dtype=L.float32)",
    "L.arange(0, 2 ** 62, 2 ** 60, dtype=L.float16)",
    "L.linspace(0, 1, 2 ** 70)",
])
def test_arange_keywords_and_sizes(code):
    _same_outcome_and_value(lambda L: eval(code))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("args", ["0, 10, 3", "0, 40, 3", "0, 3, 4, 0.5", "0, 20, 5, 3",
                                  "0, 70, 8, 2", "0, 3, 4, -2"])
def test_integer_logspace_past_the_dtype(dtype, args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # (no numpy cast warning either)
        _same_outcome_and_value(lambda L: eval(f"L.logspace({args}, dtype=L.{dtype})"))


# ------------------------------------------------------------------------------- pin_memory
@pytest.mark.parametrize("code", [
    "L.zeros(2, pin_memory=False)",
    "L.ones(2, 3, pin_memory=None)",
    "L.empty(2, pin_memory=False).shape",
    "L.full((2,), 1.5, pin_memory=False)",
    "L.eye(2, pin_memory=False)",
    "L.arange(3, pin_memory=False)",
    "L.linspace(0, 1, 3, pin_memory=False)",
    "L.logspace(0, 1, 3, pin_memory=False)",
    "L.zeros_like(L.ones(2), pin_memory=False)",
    "L.ones_like(L.ones(2), pin_memory=False)",
    "L.empty_like(L.ones(2), pin_memory=False).shape",
    "L.full_like(L.ones(2), 3, pin_memory=False)",
    "L.tril_indices(3, 3, pin_memory=False)",
    "L.triu_indices(3, 3, 1, pin_memory=False)",
    "L.zeros(2, pin_memory=1)",
])
def test_factories_take_pin_memory(code):
    _same_outcome_and_value(lambda L: eval(code))


@pytest.mark.skipif(torch.cuda.is_available() or minigrad.cuda.is_available(),
                    reason="pinning is allowed with an accelerator")
@pytest.mark.parametrize("code", ["L.zeros(2, pin_memory=True)",
                                  "L.arange(3, pin_memory=True)",
                                  "L.zeros_like(L.ones(2), pin_memory=True)"])
def test_pinning_without_an_accelerator_is_refused(code):
    _same_outcome_and_value(lambda L: eval(code))


# ------------------------------------------------------------------------- dtypes and numpy
@pytest.mark.parametrize("make", ["tensor", "from_numpy", "as_tensor"])
def test_non_native_byte_order_is_refused(make):
    swapped = np.array([1, 2], dtype=np.dtype(np.int32).newbyteorder())
    _same_outcome_and_value(lambda L: getattr(L, make)(swapped))


@pytest.mark.parametrize("name", ["int32", "int64", "uint8", "bool", "int8", "int16"])
def test_to_complex_of_a_non_floating_dtype(name):
    _same_outcome_and_value(lambda L: getattr(L, name).to_complex())


def test_to_complex_and_to_real_of_floating_dtypes():
    for name in ("float32", "float64", "complex64", "complex128"):
        _same_outcome_and_value(lambda L: (getattr(L, name).to_complex(),
                                           getattr(L, name).to_real()))


# --------------------------------------------------------------------------- UntypedStorage
@pytest.mark.parametrize("code", [
    "L.arange(3, dtype=L.int16).untyped_storage()[1]",
    "L.arange(3, dtype=L.int16).untyped_storage()[-1]",
    "L.arange(3, dtype=L.int16).untyped_storage()[10]",
    "L.arange(3, dtype=L.int16).untyped_storage()[1.5]",
    "L.arange(3, dtype=L.int16).untyped_storage()[2:4].tolist()",
    "L.arange(3, dtype=L.int16)[1:].untyped_storage().tolist()",
    "list(L.arange(2, dtype=L.int16).untyped_storage())",
    "L.ones(2, 3).t().untyped_storage().tolist()",
    "L.tensor([1.5], dtype=L.bfloat16).untyped_storage().tolist()",
    "L.tensor(True).untyped_storage().tolist()",
    "L.UntypedStorage([1, 2, 3]).tolist()",
    "L.UntypedStorage(3).nbytes()",
    "L.UntypedStorage([1.5])",
    "repr(L.UntypedStorage([1, 2]))",
    "L.UntypedStorage(2, device='cpu').device",
])
def test_untyped_storage_bytes(code):
    _same_outcome_and_value(lambda L: eval(code))


def test_untyped_storage_slices_and_writes_share_memory():
    def run(L):
        t = L.arange(3, dtype=L.int16)
        s = t.untyped_storage()
        part = s[2:4]
        s[0] = 7
        s[2:4] = 1
        return (t.tolist(), part.tolist(), part.data_ptr() - s.data_ptr(),
                s.fill_(2).tolist(), t.tolist())
    _same_outcome_and_value(run)


def test_untyped_storage_clone_and_copy():
    def run(L):
        t = L.zeros(2)
        s = t.untyped_storage()
        c = s.clone()
        s.copy_(L.ones(2).untyped_storage())
        return c.data_ptr() != s.data_ptr(), c.tolist(), t.tolist()
    _same_outcome_and_value(run)


def test_set_onto_an_untyped_storage():
    def run(L):
        t = L.arange(4.)
        whole = L.tensor([]).set_(t.untyped_storage())
        shorts = L.tensor([], dtype=L.int16).set_(t.untyped_storage())
        part = L.tensor([]).set_(t.untyped_storage(), 1, (2,))
        part[0] = 9.
        wide = L.tensor([], dtype=L.float64).set_(L.arange(3.).untyped_storage())
        return (whole.tolist(), tuple(shorts.shape), part.tolist(), t.tolist(),
                tuple(wide.shape))
    _same_outcome_and_value(run)


# -------------------------------------------------------------------------------- printing
def test_a_tensor_subclass_prints_under_its_own_name():
    texts = []
    for lib in LIBS:
        class Marked(lib.Tensor):
            pass
        x = lib.ones(2).as_subclass(Marked)
        texts.append((repr(x), str(x), f"{x}", repr(lib.ones(2)),
                      repr(lib.nn.Parameter(lib.ones(2)))))
    assert texts[0] == texts[1]


# ---------------------------------------------------------------------------- legacy types
@pytest.mark.parametrize("code", [
    "L.FloatTensor.is_cuda",
    "L.FloatTensor([1], device='cuda')",
    "L.LongTensor([1], device='cuda:0')",
    "L.FloatTensor([1.5], device=L.device('cpu'))",
    "repr(L.DoubleTensor)",
])
def test_legacy_type_devices(code):
    _same_outcome_and_value(lambda L: eval(code))


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "ByteTensor",
                                  "BoolTensor", "HalfTensor", "IntTensor"])
def test_cuda_legacy_types_stand_for_gpu_tensors(name):
    from minigrad._legacy_types import CUDA_TYPES      # (cuda.py's names, once exported)
    want, got = getattr(torch.cuda, name), CUDA_TYPES[name]
    assert neutral(repr(want)) == neutral(repr(got))
    assert neutral(want.dtype) == neutral(got.dtype) and want.is_cuda and got.is_cuda
    assert not isinstance(torch.ones(1, dtype=want.dtype), want)
    assert not isinstance(minigrad.ones(1, dtype=got.dtype), got)


# ------------------------------------------------------------------------- the dtype class
@pytest.mark.parametrize("code", [
    "repr(L.dtype)",
    "type(L.float32).__name__",
    "L.float32.__module__",
    "isinstance(L.float64, L.dtype)",
    "L.zeros(L.float32)",
    "L.zeros([L.float32])",
    "L.zeros(2, L.float32)",
    "L.zeros(np.array([2, 3]))",
    "L.zeros([np.float64(2)])",
    "L.zeros(2, np.float64(2))",
    "L.full(np.array([2]), 1.)",
])
def test_the_dtype_class_and_its_name_in_errors(code):
    _same_outcome_and_value(lambda L: eval(code))


# ---- torch.cuda's legacy tensor types, exposed on minigrad.cuda ----------------------------
def test_cuda_legacy_types():
    for L in (torch, minigrad):
        T = L.cuda.FloatTensor
        assert T.is_cuda and not L.FloatTensor.is_cuda
        assert not isinstance(L.ones(2), T) and isinstance(L.ones(2), L.FloatTensor)
        assert repr(T) == f"<class '{L.__name__}.cuda.FloatTensor'>"
        assert L.cuda.LongTensor.dtype == L.int64 and L.cuda.BoolTensor.dtype == L.bool
        if not L.cuda.is_available():
            with pytest.raises(TypeError, match="cuda.FloatTensor not available"):
                T([1.0])
