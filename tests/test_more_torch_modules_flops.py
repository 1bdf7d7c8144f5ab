"""torch.utils.flop_counter.FlopCounterMode: the FLOPs of matrix products and convolutions,
forward and backward, per module, counted on minigrad and on torch and compared."""
import importlib

import pytest

import minigrad

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------------------------
# torch.utils.flop_counter
# ----------------------------------------------------------------------------------------------
def _flop_cases(lib):
    F = lib.nn.functional  # noqa: N806
    lib.manual_seed(0)
    lin = lib.nn.Linear(8, 16)

    def backward(module, shape, grad=True):
        def run():
            module(lib.randn(*shape, requires_grad=grad)).sum().backward()
        return run

    def product(a_shape, b_shape, grads=(True, True)):
        def run():
            a = lib.randn(*a_shape, requires_grad=grads[0])
            b = lib.randn(*b_shape, requires_grad=grads[1])
            (a @ b).sum().backward()
        return run

    seq = lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.ReLU(),
                            lib.nn.Sequential(lib.nn.Linear(16, 4)))

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(8, 8)

        def forward(self, v):
            return self.fc(self.fc(v))
    net = Net()
    x = lib.randn(4, 8)
    return [
        lambda: lin(x), lambda: F.linear(x, lib.randn(3, 8)), lambda: lin(lib.randn(2, 4, 8)),
        lambda: lib.mm(x, x.t()), lambda: lib.bmm(lib.randn(2, 3, 4), lib.randn(2, 4, 5)),
        lambda: lib.randn(2, 3, 4) @ lib.randn(4, 5), lambda: lib.randn(3, 4) @ lib.randn(2, 4, 5),
        lambda: lib.randn(2, 1, 3, 4) @ lib.randn(5, 4, 6), lambda: lib.randn(3, 4) @ lib.randn(4),
        lambda: lib.randn(4) @ lib.randn(4, 3), lambda: lib.randn(4) @ lib.randn(4),
        lambda: F.conv2d(lib.randn(2, 3, 9, 9), lib.randn(5, 3, 3, 3), stride=2, padding=1),
        lambda: F.conv2d(lib.randn(2, 4, 9, 9), lib.randn(6, 2, 3, 3), groups=2),
        lambda: F.conv1d(lib.randn(1, 2, 8), lib.randn(3, 2, 3)),
        lambda: F.conv_transpose2d(lib.randn(1, 2, 4, 4), lib.randn(2, 3, 3, 3), stride=2),
        backward(lin, (4, 8)), backward(lin, (4, 8), False), backward(lin, (2, 4, 8)),
        backward(lib.nn.Conv2d(3, 5, 3, stride=2, padding=1), (2, 3, 9, 9)),
        backward(lib.nn.Conv2d(3, 5, 3, stride=2, padding=1), (2, 3, 9, 9), False),
        backward(lib.nn.ConvTranspose2d(2, 3, 3, stride=2), (1, 2, 4, 4)),
        backward(lib.nn.Conv1d(4, 6, 3, groups=2), (2, 4, 10)),
        product((3, 4), (4, 5)), product((2, 3, 4), (2, 4, 5), (True, False)),
        product((2, 3, 4), (4, 5)), product((3, 4), (4,)),
        lambda: seq(x), lambda: seq(lib.randn(4, 8, requires_grad=True)).sum().backward(),
        lambda: net(x),
    ]


def _flop_counts(lib):
    FC = importlib.import_module(f"{lib.__name__}.utils.flop_counter")  # noqa: N806
    found = []
    for case in _flop_cases(lib):
        with FC.FlopCounterMode(display=False) as counter:
            case()
        found.append((counter.get_total_flops(), {m: {str(op): n for op, n in ops.items()}
                                                  for m, ops in counter.get_flop_counts().items()}))
    with FC.FlopCounterMode(display=False) as outer:
        lib.nn.Linear(8, 16)(lib.randn(4, 8))
        with FC.FlopCounterMode(display=False) as inner:
            lib.mm(lib.randn(4, 8), lib.randn(8, 4))
    found.append([{m: {str(op): n for op, n in ops.items()} for m, ops in c.get_flop_counts()
                   .items()} for c in (outer, inner)])
    fresh = FC.FlopCounterMode(display=False)
    found.append((fresh.get_total_flops(), fresh.get_flop_counts()))
    return found


def test_flop_counter_counts_as_torch():
    assert _flop_counts(minigrad) == _flop_counts(torch)


def test_flop_counter_table_and_keys():
    FC = minigrad.utils.flop_counter  # noqa: N806
    seq = minigrad.nn.Sequential(minigrad.nn.Linear(8, 16), minigrad.nn.ReLU())
    reference = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
    with torch.utils.flop_counter.FlopCounterMode(display=False) as theirs:
        reference(torch.randn(4, 8))
    with FC.FlopCounterMode(display=False, depth=1) as ours:
        seq(minigrad.randn(4, 8))
    key = FC.aten.addmm
    assert ours.get_flop_counts()["Global"][key] == theirs.get_flop_counts()["Global"][
        torch.ops.aten.addmm]
    assert repr(key) == repr(torch.ops.aten.addmm) and str(key) == str(torch.ops.aten.addmm)
    lines = ours.get_table().splitlines()
    assert lines[0].split() == ["Module", "FLOP", "%", "Total"]
    assert lines[2].split() == ["Sequential", "1024.000", "100.00%"]
    assert lines[3].split() == ["-", "aten.addmm", "1024.000", "100.00%"]
    with pytest.raises(NotImplementedError, match="custom_mapping"):
        FC.FlopCounterMode(custom_mapping={"a": len})


def test_flop_counter_shares_the_slot_with_a_profiler():
    FC = minigrad.utils.flop_counter  # noqa: N806
    lin = minigrad.nn.Linear(8, 16)
    x = minigrad.randn(4, 8, requires_grad=True)
    with minigrad.profiler.profile() as prof:
        with FC.FlopCounterMode(display=False) as counter:
            with minigrad.profiler.record_function("step"):
                lin(x).sum().backward()
    assert counter.get_total_flops() == 3 * 2 * 4 * 8 * 16
    names = {e.key for e in prof.key_averages()}
    assert {"step", "aten::linear"} <= names
