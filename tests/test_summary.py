"""minigrad.summary: output shapes and parameter counts per layer, hooks gone afterwards."""
import io

import importlib

import pytest
import torch as real_torch

import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.summary import ModelSummary
from minigrad.testing.models import seed001_net


def run(model, *args, **kwargs):
    buf = io.StringIO()
    result = torch.summary(model, *args, file=buf, **kwargs)
    return result, buf.getvalue()


def hook_counts(model):
    return [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]


def torch_count(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# The seeds' networks, written the same way in minigrad and in PyTorch
# ----------------------------------------------------------------------------------------------
def make_M(nn, F):
    """Seed 001's net (MNIST, 28x28), built with the framework that ``nn`` belongs to."""
    return seed001_net(importlib.import_module(nn.__name__.split(".")[0]))


def make_LeNet5(nn, F, lib):
    """Seed 002's LeNet5: its forward prints shapes and returns an argmax."""
    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 20, 5, 1)
            self.conv2 = nn.Conv2d(20, 20, 5, 1)
            self.fc1 = nn.Linear(20 * 5 * 5, 500)
            self.fc2 = nn.Linear(500, 10)

        def forward(self, x):
            print("Input shape:", x.shape)
            x = self.conv1(x)
            print("Conv2d:", x.shape)
            x = F.relu(x)
            x = F.max_pool2d(x, 2, 2)
            print("MaxPool2d:", x.shape)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2, 2)
            x = x.view(-1, 20 * 5 * 5)
            print("Flatten:", x.shape)
            x = F.relu(self.fc1(x))
            x = self.fc2(x)
            x = nn.Softmax(dim=1)(x)
            return lib.argmax(x, dim=1)
    return LeNet5()


def test_seed_001_net_shapes_and_counts():
    model = make_M(nn, F)
    s, text = run(model, (64, 784))
    shapes = {r.name: r.output_shape for r in s.rows}
    assert shapes == {"": [64, 10], "conv1": [64, 20, 24, 24], "conv2": [64, 50, 8, 8],
                      "fc1": [64, 500], "fc2": [64, 10]}
    reference = make_M(real_torch.nn, real_torch.nn.functional)
    assert s.total_params == torch_count(reference) == 431080
    for name, module in reference.named_children():
        assert s.row(name).num_params == torch_count(module), name
    assert s.row("fc1").input_shapes == [[64, 800]]        # 4*4*50: seed 001's question
    assert s.trainable_params == 431080 and s.non_trainable_params == 0
    assert "  conv2 (Conv2d)    [64, 50, 8, 8]       25,050    True" in text
    assert "Total params: 431,080" in text
    assert f"Params size (MB): {431080 * 4 / 1e6:.2f}" in text


def test_seed_001_conv_5_10_2_2():
    conv = nn.Conv2d(5, 10, 2, 2)
    s, text = run(conv, (1, 5, 8, 8))
    assert text == (
        "=====================================================\n"
        "Layer (type)    Output Shape     Param #    Trainable\n"
        "=====================================================\n"
        "Conv2d          [1, 10, 4, 4]        210    True\n"
        "=====================================================\n"
        "Total params: 210\n"
        "Trainable params: 210\n"
        "Non-trainable params: 0\n"
        "-----------------------------------------------------\n"
        "Input size (MB): 0.00\n"
        "Forward/backward pass size (MB): 0.00\n"
        "Params size (MB): 0.00\n"
        "Estimated Total Size (MB): 0.00\n"
        "=====================================================\n")
    assert s.rows[0].params == [("weight", (10, 5, 2, 2), 200), ("bias", (10,), 10)]
    assert s.total_params == torch_count(real_torch.nn.Conv2d(5, 10, 2, 2)) == 210
    assert str(s) + "\n" == text and repr(s) == str(s)


def test_seed_002_lenet5_prints_and_argmax(capsys):
    model = make_LeNet5(nn, F, torch)
    s = torch.summary(model, (1, 1, 32, 32))
    out = capsys.readouterr().out
    assert "Input shape: minigrad.Size([1, 1, 32, 32])" in out      # forward's own prints
    assert "Flatten: minigrad.Size([1, 500])" in out
    assert out.index("Flatten:") < out.index("Layer (type)")        # table after the forward
    assert s.rows[0].output_shape == [1]                            # argmax
    assert [r.output_shape for r in s.rows[1:]] == [[1, 20, 28, 28], [1, 20, 10, 10], [1, 500],
                                                     [1, 10]]
    reference = make_LeNet5(real_torch.nn, real_torch.nn.functional, real_torch)
    assert s.total_params == torch_count(reference)


def test_nested_bn_frozen_and_uncalled():
    def build(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(
                    nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                    nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 10)))
                self.unused = nn.Linear(2, 2)

            def forward(self, x):
                return self.body(x)
        net = Net()
        net.body[0].weight.requires_grad_(False)
        return net
    net = build(nn)
    s, text = run(net, (2, 3, 4, 4))
    assert s.total_params == torch_count(build(real_torch.nn))
    frozen = 8 * 3 * 3 * 3
    assert s.non_trainable_params == frozen
    assert s.trainable_params == s.total_params - frozen
    assert [(r.name, r.depth) for r in s.rows] == [
        ("", 0), ("body", 1), ("body.0", 2), ("body.1", 2), ("body.2", 2), ("body.3", 2),
        ("body.3.0", 3), ("body.3.1", 3), ("unused", 1)]
    assert s.row("body.0").trainable == "Partial"
    assert s.row("body.2").trainable is None and s.row("body.1").trainable is True
    assert not s.row("unused").called
    assert "      body.3.1 (Linear)" in text and "(not called)" in text
    assert "Buffers (not parameters, e.g. BatchNorm statistics): 17" in text
    assert text.splitlines()[3].startswith("Net ")
    assert text.splitlines()[4].startswith("  body (Sequential) ")


def test_multi_input_model_and_dtype():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 4)
            self.b = nn.Linear(5, 4)

        def forward(self, x, y):
            return self.a(x) + self.b(y), self.a(x)

    s, text = run(Two().double(), [(2, 3), (2, 5)], dtype=torch.float64)
    assert s.input_size == [[2, 3], [2, 5]]
    assert s.rows[0].output_shapes == [[2, 4], [2, 4]]
    assert "[2, 4], [2, 4]" in text
    assert s.input_bytes == (2 * 3 + 2 * 5) * 8
    assert [r.recursive for r in s.rows] == [False, False, False, True]   # a called twice
    assert s.total_params == (3 * 4 + 4) + (5 * 4 + 4)
    assert "(recursive)" in text


def test_input_data_and_verbose_false(capsys):
    x = torch.randn(3, 1, 6, 6)
    s = torch.summary(nn.Conv2d(1, 2, 3), input_data=x, verbose=False)
    assert capsys.readouterr().out == ""
    assert isinstance(s, ModelSummary) and s.rows[0].output_shape == [3, 2, 4, 4]


def test_hooks_removed_and_state_restored():
    model = make_M(nn, F)
    calls = []
    handle = model.conv1.register_forward_hook(lambda m, i, o: calls.append(o.shape))
    before = hook_counts(model)
    model.train()
    model.fc2.eval()
    state = torch.get_rng_state()
    run(model, (1, 784))
    assert hook_counts(model) == before
    assert model.training and model.conv1.training and not model.fc2.training
    assert torch.get_rng_state().equal(state)         # random input from a private generator
    assert len(calls) == 1                            # the user's hook ran, and stays
    handle.remove()
    model(torch.randn(1, 784))
    assert len(calls) == 1


def test_hooks_removed_when_forward_raises():
    model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.Flatten(), nn.Linear(4 * 4 * 20, 10))
    model.train()
    before = hook_counts(model)
    with pytest.raises(RuntimeError) as info:
        run(model, (1, 1, 28, 28))            # the Linear gets 24*24*20 features, not 4*4*20
    message = str(info.value)
    assert "in 2 (Linear) (called with input shapes [1, 11520])" in message
    assert "ran before it: 0 (Conv2d), 1 (Flatten)" in message
    assert hook_counts(model) == before
    assert all(m.training for m in model.modules())


def test_bad_input_size():
    with pytest.raises(ValueError, match="including the batch axis"):
        torch.summary(nn.Linear(2, 2), "2")
    with pytest.raises(ValueError, match="input_size"):
        torch.summary(nn.Linear(2, 2))
