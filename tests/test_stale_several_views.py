"""The views an op returns together (split, unbind, chunk; iterating a tensor unbinds it) of a
tensor that requires grad may not tell their history once their memory has been written in
place after they were made, in any mode and by any route, as in PyTorch; unsafe_split's
pieces, which PyTorch does not track, may."""
import pytest
import torch

import minigrad


def _both(program):
    """program(lib) on both libraries: the same outcome (value or error words)."""
    out = []
    for lib in (torch, minigrad):
        try:
            out.append(("ok", program(lib)))
        except RuntimeError as exc:
            out.append(("error", str(exc)))
    assert out[0][0] == out[1][0], out
    if out[0][0] == "error":
        assert out[0][1] == out[1][1]
    return out[0]


def test_iterating_a_parameter_then_writing_a_view_of_each_row():
    def program(lib):
        w = lib.nn.Parameter(lib.zeros(3, 4))
        for row in w:
            lib.nn.init.uniform_(row.view(2, 2), -1, 1)
    kind, said = _both(program)
    assert kind == "error" and said.startswith("Output 1 of Unbind is a view")


def test_writing_each_row_itself_is_allowed():
    def program(lib):
        w = lib.nn.Parameter(lib.zeros(3, 4))
        for row in w:
            lib.nn.init.constant_(row, 1.0)
        return float(w.sum())
    assert _both(program) == ("ok", 12.0)


@pytest.mark.parametrize("how", ["base", "sibling"])
@pytest.mark.parametrize("op", ["unbind", "split", "chunk"])
def test_a_no_grad_write_makes_the_other_pieces_stale(op, how):
    def program(lib):
        w = lib.ones(4, 2, requires_grad=True, dtype=lib.float64)
        pieces = {"unbind": lambda: w.unbind(0), "split": lambda: w.split(2),
                  "chunk": lambda: w.chunk(2)}[op]()
        with lib.no_grad():
            (w if how == "base" else pieces[1]).mul_(2)
        pieces[0].sum().backward()
        return w.grad.tolist()
    kind, said = _both(program)
    assert kind == "error" and "returns multiple views" in said


def test_pieces_made_after_the_write_are_fine():
    def program(lib):
        w = lib.ones(4, 2, requires_grad=True, dtype=lib.float64)
        with lib.no_grad():
            w.mul_(2)
        a, b = w.split(2)
        (a.sum() + 3 * b.sum()).backward()
        return w.grad.tolist()
    assert _both(program)[0] == "ok"


def test_unsafe_split_pieces_are_not_tracked():
    def program(lib):
        y = lib.ones(6, requires_grad=True, dtype=lib.float64) * 2
        a, b, c = y.unsafe_split(2)
        b.add_(1)
        (a.sum() + b.sum() + c.sum()).backward()
        return y.grad is None
    assert _both(program)[0] == "ok"
