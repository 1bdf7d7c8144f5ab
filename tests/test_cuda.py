"""The cupy half of minigrad on a CUDA GPU: every registry op, modules, optimizers, data, checkpoints.

Runs only where ``minigrad.cuda.is_available()`` (cupy installed and a GPU visible); everywhere
else each test is skipped with the reason, so CI (no GPU) stays green.  The oracle is torch
(on CUDA when torch sees the GPU, else on the CPU) and, for the whole-model checks, the numpy
backend fed the same numbers.
"""
import numpy as np
import pytest

import minigrad
from minigrad.testing import registry

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not minigrad.cuda.is_available(),
                       reason="needs cupy and an NVIDIA GPU (minigrad.cuda.is_available() is "
                              "False here)"),
]


def _torch_device():
    torch = pytest.importorskip("torch")
    return "cuda" if torch.cuda.is_available() else "cpu"


def _cases(dtype):
    cases = []
    for info in registry.entries():
        if info.skip_reason() or (dtype != np.float64 and not info.float32):
            continue
        for k, sample in enumerate(list(info.samples(dtype=dtype))[:4]):
            cases.append(pytest.param(info, sample, id=f"{info.name}-{k}"))
    return cases


@pytest.mark.parametrize("info,sample", _cases(np.float64) if minigrad.cuda.is_available() else [])
def test_registry_op_on_cuda_float64(info, sample):
    if not any(sample.requires_grad):
        info.compare(sample, grad=False, device="cuda", torch_device=_torch_device())
    else:
        info.compare(sample, grad=True, device="cuda", torch_device=_torch_device())


@pytest.mark.parametrize("info,sample", _cases(np.float32) if minigrad.cuda.is_available() else [])
def test_registry_op_on_cuda_float32(info, sample):
    info.compare(sample, grad=any(sample.requires_grad), rtol=1e-4, atol=1e-5, device="cuda",
                 torch_device=_torch_device())


def _net():
    nn = minigrad.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def test_model_on_cuda_matches_numpy_backend():
    minigrad.manual_seed(0)
    cpu_net = _net().double()
    gpu_net = _net().double()
    gpu_net.load_state_dict(cpu_net.state_dict())
    gpu_net.cuda()
    assert all(p.device == "cuda:0" for p in gpu_net.parameters())
    x = minigrad.randn(8, 1, 8, 8, dtype=minigrad.float64)
    y = minigrad.randint(0, 10, (8,))
    opt_cpu = minigrad.optim.SGD(cpu_net.parameters(), lr=0.1, momentum=0.9)
    opt_gpu = minigrad.optim.SGD(gpu_net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        for net, opt, dev in ((cpu_net, opt_cpu, "cpu"), (gpu_net, opt_gpu, "cuda")):
            opt.zero_grad()
            loss = minigrad.nn.functional.cross_entropy(net(x.to(dev)), y.to(dev))
            loss.backward()
            opt.step()
    for (name, a), (_, b) in zip(cpu_net.state_dict().items(), gpu_net.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.cpu().numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_dataloader_batches_stay_on_device():
    from minigrad.utils.data import DataLoader, TensorDataset
    x = minigrad.randn(10, 3, device="cuda")
    y = minigrad.arange(10, device="cuda")
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True):
        assert xb.device == "cuda:0" and yb.device == "cuda:0"


def test_checkpoint_saved_on_gpu_loads_on_cpu_and_back(tmp_path):
    net = _net().cuda()
    path = tmp_path / "net.safetensors"
    minigrad.save(net.state_dict(), path)
    state = minigrad.load(path)
    assert all(t.device == "cpu" for t in state.values())
    cpu_net = _net()
    cpu_net.load_state_dict(state)
    back = _net().cuda()
    back.load_state_dict(minigrad.load(path, map_location="cuda"))
    for a, b in zip(cpu_net.parameters(), back.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().cpu().numpy())


def test_mixed_devices_raise_naming_both():
    a = minigrad.ones(3)
    b = minigrad.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="cpu.*cuda:0|cuda:0.*cpu"):
        a + b
