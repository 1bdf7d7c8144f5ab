"""Bad arguments to tensor functions (cov, linspace/logspace, roll, unbind, the splits, narrow,
multinomial, cat/stack, as_strided_scatter), each given to PyTorch and to minigrad: both must
raise the same exception type with the same message.

Most rows compare the whole message. A row with a regex compares only what it matches, in both
messages, where minigrad cannot know something PyTorch prints (whether an argument was given
by keyword), PyTorch's text has a quirk of its parser, or the namespace's check of a non-Tensor
input answers before the function does.
"""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

from error_cases import C, check_same_error  # noqa: E402




INF, NAN = float("inf"), float("nan")

CASES = [
    # cov: fweights checked fully (rank, dtype, length, sign), then aweights alike
    C("cov-fweights-2d", lambda T: T.cov(T.ones(5), fweights=T.ones(5, 5))),
    C("cov-fweights-2d-int", lambda T: T.cov(T.ones(5), fweights=T.ones(5, 5, dtype=T.int64))),
    C("cov-aweights-2d", lambda T: T.cov(T.ones(5), aweights=T.ones(5, 5))),
    C("cov-fweights-numel", lambda T: T.cov(T.ones(5), fweights=T.ones(1, dtype=T.int64))),
    C("cov-aweights-numel", lambda T: T.cov(T.ones(5), aweights=T.ones(1))),
    C("cov-fweights-dtype-before-numel", lambda T: T.cov(T.ones(5), fweights=T.ones(1))),
    C("cov-fweights-numel-before-sign",
      lambda T: T.cov(T.ones(5), fweights=-T.ones(2, dtype=T.int64))),
    C("cov-fweights-0d", lambda T: T.cov(T.ones(5), fweights=T.tensor(2))),
    C("cov-aweights-2d-after-fweights",
      lambda T: T.cov(T.ones(5), fweights=T.ones(5, dtype=T.int64), aweights=T.ones(5, 5))),
    C("cov-correction-float", lambda T: T.cov(T.ones(5), correction=1.5)),
    C("cov-correction-bool", lambda T: T.cov(T.ones(5), correction=True)),
    C("cov-fweights-list", lambda T: T.cov(T.ones(5), fweights=[1, 1, 1, 1, 1])),
    C("cov-aweights-list-before-rank", lambda T: T.cov(T.ones(2, 2, 2), aweights=[1.0])),
    # linspace / logspace: arguments that fit none of the four overloads
    C("linspace-steps-float", lambda T: T.linspace(0, 1, 2.5)),
    C("linspace-steps-float-dtype", lambda T: T.linspace(0, 1, 2.5, dtype=T.float32)),
    C("linspace-tensors-steps-float", lambda T: T.linspace(T.tensor(0), T.tensor(1), 2.5)),
    C("linspace-steps-bool", lambda T: T.linspace(0.5, 1, True)),
    C("linspace-steps-float-tensor", lambda T: T.linspace(0, 1, T.tensor(3.0))),
    C("linspace-steps-1d-tensor", lambda T: T.linspace(0, 1, T.tensor([3]))),
    C("linspace-steps-numpy-float", lambda T: T.linspace(0, 1, np.float64(3))),
    C("linspace-start-list", lambda T: T.linspace([1], 2, 3)),
    C("linspace-start-none", lambda T: T.linspace(None, 2, 3)),
    C("linspace-start-1d", lambda T: T.linspace(T.tensor([1.0]), 2, 3)),
    C("logspace-steps-float", lambda T: T.logspace(0, 1, 2.5)),
    C("logspace-steps-float-base", lambda T: T.logspace(0, 1, 2.5, 2)),
    C("logspace-base-none", lambda T: T.logspace(0, 1, 3, None)),
    C("logspace-base-1d", lambda T: T.logspace(0, 1, 3, T.tensor([2.0]))),
    C("logspace-base-complex", lambda T: T.logspace(0, 1, 3, base=2j),
      r"received an invalid combination of arguments - got \(int, int, int, "),
    C("logspace-start-1d", lambda T: T.logspace(T.tensor([1.0]), 2, 3)),
    # roll
    C("roll-no-shifts", lambda T: T.roll(T.ones(5), ())),
    C("roll-no-shifts-dim", lambda T: T.roll(T.ones(5), [], 0)),
    C("roll-0d-dim-0", lambda T: T.roll(T.tensor(3.0), 0, 0)),
    C("roll-0d-dim-minus-1", lambda T: T.roll(T.tensor(3.0), 1, -1)),
    C("roll-0d-dim-1", lambda T: T.roll(T.tensor(3.0), 1, 1)),
    C("roll-two-shifts-no-dims", lambda T: T.roll(T.ones(2, 3), (1, 2))),
    C("roll-shifts-dims-align", lambda T: T.roll(T.ones(5, 5), (2, 1), 0)),
    C("roll-dim-range", lambda T: T.roll(T.ones(5), 0, 2)),
    C("roll-shifts-str", lambda T: T.roll(T.ones(5), "a")),
    C("roll-shifts-none", lambda T: T.roll(T.ones(5), None)),
    C("roll-shifts-list-float", lambda T: T.roll(T.ones(5), [1.5])),
    C("roll-dims-float", lambda T: T.roll(T.ones(5), 1, 0.5)),
    C("roll-dims-list-float", lambda T: T.roll(T.ones(5), 1, [0.5])),
    C("roll-shifts-unpack", lambda T: T.roll(T.ones(2, 3), (1, "a"), (0, 1))),
    C("roll-shifts-float-tensor", lambda T: T.roll(T.ones(5), T.tensor(1.0))),
    C("roll-shift-overflow", lambda T: T.roll(T.ones(5), 2 ** 70)),
    # unbind / unbind_copy
    C("unbind-0d", lambda T: T.unbind(T.tensor(3), 0)),
    C("unbind-0d-minus-1", lambda T: T.unbind(T.tensor(3), -1)),
    C("unbind-0d-dim-1", lambda T: T.unbind(T.tensor(3), 1)),
    C("unbind_copy-0d", lambda T: T.unbind_copy(T.tensor(3))),
    C("unbind-dim-float", lambda T: T.unbind(T.ones(2, 3), 1.0)),
    C("unbind-dim-1d-tensor", lambda T: T.unbind(T.ones(2, 3), T.tensor([1]))),
    C("unbind-list", lambda T: T.unbind([1, 2])),
    C("unbind_copy-list", lambda T: T.unbind_copy([1, 2])),
    # hsplit / vsplit / dsplit / tensor_split
    C("hsplit-str", lambda T: T.hsplit(T.ones(5, 5, 5), "abc")),
    C("vsplit-float", lambda T: T.vsplit(T.ones(5, 5, 5), 1.5)),
    C("dsplit-none", lambda T: T.dsplit(T.ones(5, 5, 5), None)),
    C("hsplit-bool", lambda T: T.hsplit(T.ones(5, 5, 5), True)),
    C("hsplit-1d-tensor", lambda T: T.hsplit(T.ones(5, 5, 5), T.tensor([1, 2]))),
    C("hsplit-list-of-str", lambda T: T.hsplit(T.ones(5, 5, 5), ["a"])),
    C("hsplit-tuple-of-str", lambda T: T.hsplit(T.ones(5, 5, 5), ("a", 1.5, [1]))),
    C("vsplit-list-unpack", lambda T: T.vsplit(T.ones(5, 5, 5), [1, 2.5])),
    C("dsplit-input-list", lambda T: T.dsplit([1, 2], 1),
      r"^dsplit\(\) received an invalid combination of arguments - got \(list, int\), but "
      r"expected one of:\n \* \(Tensor input, int sections\)\n"),
    C("hsplit-0d", lambda T: T.hsplit(T.tensor(1.0), 1)),
    C("vsplit-1d", lambda T: T.vsplit(T.ones(5), 0)),
    C("dsplit-1d", lambda T: T.dsplit(T.ones(5), 0)),
    C("dsplit-not-divisible", lambda T: T.dsplit(T.ones(5, 5, 5), 2)),
    C("tensor_split-str", lambda T: T.tensor_split(T.ones(5, 5), "abc")),
    C("tensor_split-float", lambda T: T.tensor_split(T.ones(5, 5), 2.5)),
    C("tensor_split-list-unpack", lambda T: T.tensor_split(T.ones(5, 5), [1, 2.5])),
    C("tensor_split-sections-float", lambda T: T.tensor_split(T.ones(5, 5), sections=2.5)),
    C("tensor_split-indices-int", lambda T: T.tensor_split(T.ones(5, 5), indices=2)),
    C("tensor_split-nothing", lambda T: T.tensor_split(T.ones(5, 5))),
    C("tensor_split-input-list", lambda T: T.tensor_split([1], 2)),
    C("tensor_split-dim-float", lambda T: T.tensor_split(T.ones(5, 5), 2, 1.0),
      r"(?s).*\(Tensor, int, !float!\)"),
    # narrow / narrow_copy
    C("narrow-start-1d-tensor",
      lambda T: T.narrow(T.ones(20, 10, 5), 1, T.tensor([1, 2], dtype=T.int32), 2)),
    C("narrow-start-bool-tensor", lambda T: T.narrow(T.ones(20, 10, 5), -3, T.tensor(True), 3)),
    C("narrow-start-float-tensor", lambda T: T.narrow(T.ones(20, 10, 5), 1, T.tensor(1.0), 3)),
    C("narrow-start-tensor-on-0d", lambda T: T.narrow(T.tensor(1.0), 0, T.tensor([0]), 1)),
    C("narrow-start-tensor-range", lambda T: T.narrow(T.ones(20, 10, 5), 1, T.tensor(11), 1)),
    C("narrow-start-float", lambda T: T.narrow(T.ones(20, 10, 5), 1, 1.0, 3)),
    C("narrow-dim-float", lambda T: T.narrow(T.ones(20, 10, 5), 1.0, 1, 3)),
    C("narrow-length-none", lambda T: T.narrow(T.ones(20, 10, 5), 1, 1, None)),
    C("narrow-start-tensor-length-float",
      lambda T: T.narrow(T.ones(20, 10, 5), 1, T.tensor(1), 3.0)),
    C("narrow-input-list", lambda T: T.narrow([1], 0, 1, 3),
      r"^narrow\(\) received an invalid combination of arguments - got \(list, int, int, "
      r"int\), but expected one of:\n \* \(Tensor input, int dim, Tensor start, int length\)"),
    C("narrow-length-before-start", lambda T: T.narrow(T.ones(10), 0, 11, -1)),
    C("narrow_copy-dim-past-end", lambda T: T.narrow_copy(T.ones(10, 5, 20), 3, 0, 0)),
    C("narrow_copy-dim-far-past-end", lambda T: T.narrow_copy(T.ones(10, 5, 20), 100, 0, 0)),
    C("narrow_copy-dim-negative", lambda T: T.narrow_copy(T.ones(10, 5, 20), -4, 0, 0)),
    C("narrow_copy-length-negative", lambda T: T.narrow_copy(T.ones(10), 0, 0, -1)),
    C("narrow_copy-length-negative-start", lambda T: T.narrow_copy(T.ones(10), 0, 2, -3)),
    C("narrow_copy-start-then-length", lambda T: T.narrow_copy(T.ones(10), 0, 11, -1)),
    C("narrow_copy-negative-start-past-end", lambda T: T.narrow_copy(T.ones(10), 0, -2, 3)),
    C("narrow_copy-0d", lambda T: T.narrow_copy(T.tensor(1.0), 3, 0, 0)),
    C("narrow_copy-start-float", lambda T: T.narrow_copy(T.ones(20, 10, 5), 1, 1.0, 3)),
    C("narrow_copy-dim-float", lambda T: T.narrow_copy(T.ones(20, 10, 5), 1.0, 1, 3)),
    C("narrow_copy-start-bool", lambda T: T.narrow_copy(T.ones(20, 10, 5), 1, True, 3)),
    C("narrow_copy-input-list", lambda T: T.narrow_copy([1], 0, 1, 3)),
    # multinomial
    C("multinomial-out-double",
      lambda T: T.multinomial(T.zeros(1, 2, dtype=T.float64), 2,
                              out=T.empty(1, 2, dtype=T.float64))),
    C("multinomial-out-int32",
      lambda T: T.multinomial(T.ones(1, 2), 2, out=T.empty(1, 2, dtype=T.int32))),
    C("multinomial-out-before-n", lambda T: T.multinomial(T.ones(2), 0, out=T.empty(2))),
    C("multinomial-out-list", lambda T: T.multinomial(T.ones(2), 1, out=[1])),
    C("multinomial-categories", lambda T: T.multinomial(T.ones(2 ** 24 + 1), 3)),
    C("multinomial-n-before-categories", lambda T: T.multinomial(T.ones(2 ** 24 + 1), 0)),
    C("multinomial-replacement-int", lambda T: T.multinomial(T.ones(3), 2, 1)),
    C("multinomial-generator-int", lambda T: T.multinomial(T.ones(3), 2, generator=1)),
    C("multinomial-replacement-empty-rows",
      lambda T: T.multinomial(T.zeros(3, 0), 1, True)),
    C("multinomial-replacement-empty-rows-n2",
      lambda T: T.multinomial(T.zeros(3, 0), 2, True)),
    C("multinomial-zero-row-before-bad-row",
      lambda T: T.multinomial(T.tensor([[0.0, 0, 0], [1, -1, 1]]), 2, True)),
    C("multinomial-bad-row-before-zero-row",
      lambda T: T.multinomial(T.tensor([[1.0, -1, 1], [0, 0, 0]]), 2, True)),
    C("multinomial-whole-tensor-first",
      lambda T: T.multinomial(T.tensor([[0.0, 0, 0], [1, -1, 1]]), 2, False)),
    C("multinomial-inf-after-negative",
      lambda T: T.multinomial(T.tensor([INF, -1.0]), 2, True)),
    *[C(f"multinomial-{name}-{'with' if rep else 'without'}-replacement-n{n}",
        lambda T, row=row, rep=rep, n=n: T.multinomial(T.tensor([[1.0, 1, 1], row]), n, rep))
      for name, row in (("negative", [1.0, -1, 1]), ("inf", [1.0, INF, 1]),
                        ("minus-inf", [1.0, -INF, 1]), ("nan", [1.0, 1, NAN]),
                        ("zeros", [0.0, 0, 0]))
      for rep in (False, True) for n in (1, 2)],
    # cat / stack
    C("cat-a-tensor", lambda T: T.cat(T.ones(2, 3))),
    C("cat-a-tensor-out", lambda T: T.cat(T.ones(2, 3), out=T.ones(2, 3, dtype=T.float64))),
    C("cat-a-generator", lambda T: T.cat(t for t in [T.ones(2)])),
    C("cat-an-int", lambda T: T.cat(5)),
    C("cat-dim-float", lambda T: T.cat([T.ones(2)], 1.5)),
    C("cat-dim-none", lambda T: T.cat([T.ones(2)], None)),
    C("stack-a-tensor", lambda T: T.stack(T.ones(2, 3))),
    C("stack-dim-float", lambda T: T.stack([T.ones(2)], 1.5)),
    # as_strided_scatter: the bounds of input's storage, in input's itemsize
    C("as_strided_scatter-float32",
      lambda T: T.as_strided_scatter(T.ones(4, 4), T.ones(2, 2), [2, 2], [200, 200],
                                     storage_offset=0)),
    C("as_strided_scatter-float64",
      lambda T: T.as_strided_scatter(T.ones(4, 4, dtype=T.float64), T.ones(2, 2), [2, 2],
                                     [200, 200])),
    C("as_strided_scatter-offset",
      lambda T: T.as_strided_scatter(T.ones(4, 4), T.ones(2, 2), [2, 2], [1, 1], 15)),
    C("as_strided_scatter-negative-offset",
      lambda T: T.as_strided_scatter(T.ones(4, 4), T.ones(2, 2), [2, 2], [1, 1],
                                     storage_offset=-1)),
]


@pytest.mark.parametrize("call, regex", CASES)
def test_same_error_as_torch(call, regex):
    check_same_error(call, regex, whole=True)


def test_multinomial_out_after_the_checks():
    """A valid draw still works after the reordered checks, into out= (resized silently, as
    PyTorch's multinomial does): each row without replacement gives its two non-zero
    categories, as torch's."""
    weights = [[0.0, 1, 1], [1, 1, 0]]
    results = []
    for lib in (torch, minigrad):
        out = lib.empty(5, dtype=lib.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = lib.multinomial(lib.tensor(weights), 2, out=out)
        assert result is out and tuple(out.shape) == (2, 2)
        results.append([sorted(row) for row in out.tolist()])
    assert results[0] == results[1]
