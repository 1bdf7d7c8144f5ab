"""Semantics found by running third-party PyTorch code (the tutorials), checked against torch."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _both(program):
    return program(minigrad), program(torch)


def test_range_is_an_index_sequence():
    """``x[range(n), labels]`` (the from-scratch tutorial's nll) reads a range as a list."""
    def program(lib):
        x = lib.arange(12.0).view(3, 4)
        picked = x[range(2), lib.tensor([0, 2])].tolist()
        rows = x[range(1, 3)].tolist()
        cols = x[:, range(0, 4, 2)].tolist()
        empty = tuple(x[range(0)].shape)
        x[range(2), 0] = 5
        y = lib.arange(4.0, requires_grad=True)
        y[range(1, 3)].sum().backward()
        return picked, rows, cols, empty, x.tolist(), y.grad.tolist()
    mine, theirs = _both(program)
    assert mine == theirs


def test_inplace_version_error_names_the_legacy_type():
    """The "modified by an inplace operation" error names the tensor as torch does:
    ``[torch.FloatTensor [3]]``, ``[torch.LongTensor [2]]``..."""
    def program(lib):
        words = []
        for dtype in (lib.float32, lib.float64, lib.float16):
            a = lib.ones(3, dtype=dtype, requires_grad=True)
            b = a.sigmoid()
            b.add_(1)
            with pytest.raises(RuntimeError) as info:
                b.sum().backward()
            words.append(str(info.value).split("]")[0].replace("minigrad", "torch"))
        return words
    mine, theirs = _both(program)
    assert mine == theirs == ["one of the variables needed for gradient computation has been "
                              f"modified by an inplace operation: [torch.{n}Tensor [3"
                              for n in ("Float", "Double", "Half")]
