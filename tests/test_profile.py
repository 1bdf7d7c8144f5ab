"""minigrad.profile: FLOPs equal torch.utils.flop_counter's on the same models, forward and
backward; the table, the data and the chart; the model is left as it was."""
import io
import sys

import numpy as np
import pytest
import torch as real_torch
from torch.utils.flop_counter import FlopCounterMode

import minigrad as torch
from minigrad.testing.models import seed001_net


def lenet(lib):
    """d2l.ai's LeNet (seed 002): sigmoid activations and average pooling."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84),
        nn.Sigmoid(), nn.Linear(84, 10))


def small_resnet(lib):
    """ResNet-like: BasicBlocks (3x3 conv, BatchNorm, ReLU, shortcut), two of stride 2 with a
    1x1-conv shortcut, global average pooling, a Linear head."""
    nn, F = lib.nn, lib.nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + identity)

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def odd_convs(lib):
    """Groups, dilation, stride, a transposed convolution (grouped too), Conv1d via a view."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(4, 8, 3, groups=2, dilation=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        nn.MaxPool2d(2), nn.Conv2d(6, 6, 1, bias=False))


def odd_shapes(lib):
    """Unbatched input (a Conv1d on (C, L)), grouped Conv1d, ConvTranspose1d, a Linear on a
    3-d input without bias, then on single vectors."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv1d(2, 4, 3, stride=2, groups=2), nn.ConvTranspose1d(4, 6, 3, stride=2),
        nn.Linear(9, 5, bias=False), nn.Flatten(0), nn.Linear(30, 3))


MODELS = {  # name: (builder, input shape)
    "lenet": (lenet, (4, 1, 28, 28)),
    "small_resnet": (small_resnet, (2, 3, 32, 32)),
    "seed001_net": (seed001_net, (8, 784)),
    "odd_convs": (odd_convs, (2, 4, 9, 9)),
    "odd_shapes": (odd_shapes, (2, 9)),
}


def torch_flops(builder, shape, input_requires_grad):
    real_torch.manual_seed(0)
    model = builder(real_torch).eval()
    x = real_torch.randn(*shape, requires_grad=input_requires_grad)
    with FlopCounterMode(display=False) as forward:
        out = model(x)
    with FlopCounterMode(display=False) as backward:
        out.backward(real_torch.randn_like(out))
    return forward.get_total_flops(), backward.get_total_flops()


@pytest.mark.parametrize("input_requires_grad", [False, True])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_flops_equal_torch_flop_counter(name, input_requires_grad):
    builder, shape = MODELS[name]
    torch.manual_seed(0)
    p = torch.profile(builder(torch), shape, input_requires_grad=input_requires_grad,
                      measure=False, verbose=False)
    fwd, bwd = torch_flops(builder, shape, input_requires_grad)
    assert (p.total_flops, p.total_backward_flops) == (fwd, bwd), name
    assert p.total_flops > 0 and p.total_backward_flops > 0


def test_conv_flops_by_hand():
    """'A 5x5 kernel on a 32x32 RGB image', 8 kernels: 28x28 positions x 8 x 3x5x5 x 2."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5), torch.nn.ReLU())
    p = torch.profile(net, (1, 3, 32, 32), measure=False, verbose=False)
    conv = p.row("0")
    assert conv.flops == 28 * 28 * 8 * 3 * 5 * 5 * 2 == p.total_flops
    assert conv.backward_flops == conv.flops                # weight gradient only
    assert conv.other_flops == 8 * 28 * 28                  # the bias additions
    assert conv.workspace_bytes == 3 * 5 * 5 * 28 * 28 * 4  # the im2col matrix, float32
    assert p.row("1").flops == 0 and p.row("1").other_flops == 8 * 28 * 28
    assert conv.output_shape == [1, 8, 28, 28] and conv.params == 8 * 3 * 25 + 8


def test_rows_table_and_measurements():
    torch.manual_seed(0)
    model = small_resnet(torch)
    buf = io.StringIO()
    p = torch.profile(model, (2, 3, 16, 16), repeat=1, file=buf)
    text = buf.getvalue()
    assert text == str(p) + "\n"
    for label in ("Layer (type)", "FLOPs fwd", "FLOPs bwd", "kept for bwd", "im2col",
                  "3.conv1 (Conv2d)", "4.downsample.0 (Conv2d)", "Total"):
        assert label in text, label
    block = p.row("4")
    inside = [r for r in p.rows if r.is_leaf and r.name.startswith("4.")]
    assert block.flops == sum(r.flops for r in inside) > 0
    assert p.row("").flops == p.total_flops
    assert p.row("4.conv1").output_shape == [2, 32, 8, 8]
    assert p.total_params == sum(t.numel() for t in model.parameters())
    for r in p.rows:
        assert r.forward_ms is not None and r.forward_ms > 0, r.label
        assert r.backward_ms is not None and r.backward_ms >= 0, r.label
        assert r.saved_bytes is not None and r.saved_bytes >= 0, r.label
    assert p.forward_ms > 0 and p.backward_ms > 0
    assert p.total_saved_bytes >= max(r.saved_bytes for r in p.rows if r.is_leaf) > 0


def test_saved_bytes_follow_what_backward_needs():
    """A Linear keeps its input (for the weight-gradient); a layer without parameters on an
    input that does not require grad builds no graph and keeps nothing."""
    lin = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(1000, 5))
    p = torch.profile(lin, (16, 1000), repeat=1, verbose=False)
    assert p.row("0").saved_bytes == 0 and p.row("0").backward_ms is None
    assert p.row("0").backward_flops == 0
    assert p.row("1").saved_bytes >= 16 * 1000 * 4


def test_profile_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = small_resnet(torch)
    model.train()
    model[1].weight.grad = torch.ones(16)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.profile(model, (2, 3, 8, 8), repeat=1, verbose=False)
    assert model.training and all(m.training for m in model.modules())
    np.testing.assert_array_equal(model[1].weight.grad.numpy(), np.ones(16, np.float32))
    assert all(p.grad is None for n, p in model.named_parameters() if n != "1.weight")
    for k, v in model.state_dict().items():      # BatchNorm's running stats untouched
        np.testing.assert_array_equal(v.numpy(), before[k].numpy(), err_msg=k)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    p = torch.profile(lenet(torch), (2, 1, 28, 28), repeat=1, verbose=False)
    path = tmp_path / "profile.png"
    fig = p.plot(path)
    assert path.stat().st_size > 1000 and fig is not None
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    p = torch.profile(lenet(torch), (1, 1, 28, 28), measure=False, verbose=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "minigrad\[examples\]"'):
        p.plot()


def test_bad_arguments():
    with pytest.raises(ValueError, match="input_size"):
        torch.profile(lenet(torch))
    x = torch.randn(1, 1, 28, 28)
    p = torch.profile(lenet(torch), x, measure=False, verbose=False)    # a tensor is input_data
    assert p.rows[0].input_shapes == [[1, 1, 28, 28]]
