"""Writes whose operand lies partly in the written memory are refused, as PyTorch refuses
them ("some elements of the input tensor and the written-to tensor refer to a single memory
location"); the same elements laid out alike, disjoint or non-dense views pass.  Each case
runs on both libraries."""
import pytest
import torch

import minigrad

CASES = {
    "setitem shifted": lambda L, x: x.__setitem__(slice(1, None), x[:-1]),
    "copy_ shifted": lambda L, x: x[1:].copy_(x[:-1]),
    "add_ shifted": lambda L, x: x[1:].add_(x[:-1]),
    "mul_ itself": lambda L, x: x.mul_(x),
    "copy_ itself": lambda L, x: x.copy_(x),
    "setitem itself": lambda L, x: x.__setitem__(slice(None), x),
    "add out=": lambda L, x: L.add(x[:-1], 1, out=x[1:]),
    "index_put_": lambda L, x: x.index_put_((L.tensor([0, 1]),), x[1:3]),
    "copy_ of a flipped copy": lambda L, x: x.copy_(x.flip(0)),
    "copy_ of its transpose": lambda L, x: x.view(2, 2).copy_(x.view(2, 2).t()),
    "masked_scatter_": lambda L, x: x.masked_scatter_(x > 1, x),
    "setitem one element": lambda L, x: x.__setitem__(0, x[1]),
    "setitem disjoint": lambda L, x: x.__setitem__(slice(0, 2), x[2:]),
    "setitem strided": lambda L, x: x.__setitem__(slice(0, None, 2), x[1::2]),
    "setitem advanced index": lambda L, x: x.__setitem__(L.tensor([0, 1]), x[2:]),
    "addcmul_": lambda L, x: x[1:].addcmul_(x[:-1], x[:-1]),
    "addcdiv_": lambda L, x: x[1:].addcdiv_(x[:-1], x[1:] + 1),
    "lerp_": lambda L, x: x[1:].lerp_(x[:-1], 0.5),
    "clamp_ tensor bound": lambda L, x: x[1:].clamp_(min=x[:-1]),
    "a row added into the matrix": lambda L, x: x.view(2, 2).add_(x.view(2, 2)[0]),
    "sub_ shifted": lambda L, x: x[:-1].sub_(x[1:]),
}


def _outcome(lib, program):
    x = lib.arange(4.0)
    try:
        program(lib, x)
    except RuntimeError as error:
        return "RuntimeError", str(error)
    return "ok", x.tolist()


@pytest.mark.parametrize("name", sorted(CASES))
def test_partial_overlap_refused_as_pytorch(name):
    assert _outcome(minigrad, CASES[name]) == _outcome(torch, CASES[name])
