"""The five seed documents' code listings run unchanged on minigrad (examples/seeds/).

What is checked, for every script in examples/seeds/:

* the listings in the scripts are the documents' text (when the documents are at hand: set
  MINIGRAD_SEEDS_DIR to the folder holding 000_*.txt ... 004_*.txt);
* run on minigrad, each prints exactly what the same listings print when run on PyTorch with
  the same numbers: every ``torch.randn``/``torch.rand`` a listing calls and every layer it
  builds (Conv1d, Conv2d, Linear) gets minigrad's values, copied across; the only differences
  allowed are ``torch.Size`` -> ``minigrad.Size`` and the names inside ``grad_fn=<...>``;
* the documents' own numbers and printouts, exactly (``minigrad.Size([3, 2, 4])`` where the
  documents print ``torch.Size([3, 2, 4])``);
* each script runs as a program and prints the same as when imported (deterministic).
"""
from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "examples" / "seeds"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(SEEDS))

import minigrad  # noqa: E402
import _listing  # noqa: E402
import seed000_conv1d_explained as s000  # noqa: E402
import seed001_convolution_details as s001  # noqa: E402
import seed002_understanding_convolutions as s002  # noqa: E402
import seed003_what_is_convolution as s003  # noqa: E402
import seed004_whats_convolution as s004  # noqa: E402

SCRIPTS = {"000": s000, "001": s001, "002": s002, "003": s003, "004": s004}
RANDOM = ("randn", "rand")                    # the random draws the listings make
LAYERS = ("Conv1d", "Conv2d", "Linear")       # the layers they build


# ---- running a script, recording (minigrad) or replaying (torch) its random numbers -------------
def _called_from_listing():
    return sys._getframe(2).f_code.co_filename == "<listing>"


def _record(mp):
    """Patch minigrad so that the listings' random draws and new layers' weights are recorded."""
    draws, inits = [], []
    for name in RANDOM:
        def draw(*args, _orig=getattr(minigrad, name), **kwargs):
            out = _orig(*args, **kwargs)
            if _called_from_listing():
                draws.append(out.numpy().copy())
            return out
        mp.setattr(minigrad, name, draw)
    for name in LAYERS:
        cls = getattr(minigrad.nn, name)

        def init(self, *args, _orig=cls.__init__, **kwargs):
            _orig(self, *args, **kwargs)
            inits.append([(n, p.detach().numpy().copy()) for n, p in self.named_parameters()])
        mp.setattr(cls, "__init__", init)
    return draws, inits


def _replay(mp, torch, draws, inits):
    """Patch torch so that the listings' random draws and new layers' weights are minigrad's."""
    draws, inits = list(draws), list(inits)
    for name in RANDOM:
        def draw(*args, _orig=getattr(torch, name), **kwargs):
            out = _orig(*args, **kwargs)
            if _called_from_listing():
                value = draws.pop(0)
                assert value.shape == tuple(out.shape), "the listings drew in another order"
                out = torch.from_numpy(value.copy())
            return out
        mp.setattr(torch, name, draw)
    for name in LAYERS:
        cls = getattr(torch.nn, name)

        def init(self, *args, _orig=cls.__init__, **kwargs):
            _orig(self, *args, **kwargs)
            params = inits.pop(0)
            named = list(self.named_parameters())
            assert [n for n, _ in named] == [n for n, _ in params]
            with torch.no_grad():
                for (_, p), (_, value) in zip(named, params):
                    p.copy_(torch.from_numpy(value))
        mp.setattr(cls, "__init__", init)
    return draws, inits


def _capture(module, lib):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ns = module.main(lib=lib)
    return buf.getvalue(), ns


_RUNS = {}


def run_minigrad(key):
    """(stdout, namespace, draws, inits) of the script on minigrad, seed 0 (run once)."""
    if key not in _RUNS:
        with pytest.MonkeyPatch.context() as mp:
            draws, inits = _record(mp)
            out, ns = _capture(SCRIPTS[key], "minigrad")
        _RUNS[key] = (out, ns, draws, inits)
    return _RUNS[key]


def run_torch_same_numbers(key):
    torch = pytest.importorskip("torch")
    _, _, draws, inits = run_minigrad(key)
    with pytest.MonkeyPatch.context() as mp:
        left = _replay(mp, torch, draws, inits)
        out, ns = _capture(SCRIPTS[key], "torch")
    assert left == ([], []), "PyTorch's run used fewer random numbers or layers than minigrad's"
    return out, ns


def lines(text):
    return text.splitlines()


def section(out, title):
    """The lines a script printed under ``## title``."""
    chunks = out.split("\n## ")
    for chunk in chunks[1:]:
        head, _, body = chunk.partition("\n")
        if head == title:
            return body.rstrip("\n")
    raise KeyError(title)


# ---- the listings are the documents' ----------------------------------------------------------
def _seed_documents():
    # The documents sit in shared/seeds beside the checkout (as in CI) or inside it.
    candidates = [os.environ.get("MINIGRAD_SEEDS_DIR"), ROOT / "shared" / "seeds",
                  ROOT.parent / "shared" / "seeds"]
    for folder in candidates:
        if folder and glob.glob(str(Path(folder) / "000_*.txt")):
            return {Path(p).name[:3]: Path(p).read_text()
                    for p in glob.glob(str(Path(folder) / "00[0-4]_*.txt"))}
    return None


@pytest.mark.parametrize("key", sorted(SCRIPTS))
def test_listings_are_the_documents_text(key):
    docs = _seed_documents()
    if docs is None:
        pytest.skip("seed documents not found (set MINIGRAD_SEEDS_DIR)")
    doc = docs[key]
    listings = [entry for entry in SCRIPTS[key].LISTINGS if not entry[0].startswith("(")]
    assert listings
    for entry in listings:
        source = entry[1].strip("\n")
        if key == "001":     # the page lost its indentation; the script restores it
            source = "\n".join(line.lstrip() for line in source.splitlines())
        if key == "003":     # the page printed the listing on one line
            assert " ".join(source.split()) in " ".join(doc.split()), entry[0]
        else:
            assert source in doc, entry[0]


# ---- the drop-in ------------------------------------------------------------------------------
def test_drop_in_changes_only_the_torch_imports():
    src = ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
           "from torch import nn\nfrom torch.nn import functional as F\n"
           "import matplotlib.pyplot as plt\nx = torch.randn(2)  # import torch\n")
    assert _listing.drop_in(src) == (
        "import minigrad as torch\nimport minigrad.nn as nn\nimport minigrad.nn.functional as F\n"
        "from minigrad import nn\nfrom minigrad.nn import functional as F\n"
        "import matplotlib.pyplot as plt\nx = torch.randn(2)  # import torch\n")
    assert _listing.drop_in(src, "torch") == src
    assert _listing.omit_lines("import numpy as np\nplt.show()\nx = 1\n", ["plt"]) == \
        "import numpy as np\nx = 1\n"


def test_drop_in_import_forms():
    ns = {}
    exec("import minigrad as torch\nimport minigrad.nn as nn\nimport minigrad.nn.functional as F\n"
         "from minigrad import nn as nn2\nfrom minigrad.nn import functional as F2\n", ns)
    assert ns["torch"] is minigrad
    assert ns["nn"] is ns["nn2"] is minigrad.nn is ns["torch"].nn
    assert ns["F"] is ns["F2"] is minigrad.nn.functional
    for name in ("Conv1d", "Conv2d", "MaxPool1d", "Linear", "Module", "Parameter", "Softmax"):
        assert hasattr(minigrad.nn, name), name
    for name in ("conv1d", "conv2d", "max_pool2d", "relu"):
        assert hasattr(minigrad.nn.functional, name), name


def test_resize_as_in_seed_001():
    img = minigrad.arange(784.0) / 255
    assert img.resize_(28, 28) is img and img.size() == minigrad.Size([28, 28])
    assert img[1, 0].item() == pytest.approx(28 / 255)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        minigrad.ones(3, requires_grad=True).resize_(3)


# ---- minigrad prints what PyTorch prints, on the same numbers ---------------------------------
def _normalise_minigrad(text):
    # grad_fn names are the libraries' own (PyTorch's MaxPool1d ends in SqueezeBackward1), and
    # a longer name may move ``grad_fn=<...>`` to the next line
    return re.sub(r",\s+grad_fn=<\w+>", ", grad_fn=<>", text)


def _normalise_torch(text):
    return _normalise_minigrad(text.replace("torch.Size(", "minigrad.Size("))


@pytest.mark.parametrize("key", sorted(SCRIPTS))
def test_same_printout_as_pytorch_on_the_same_numbers(key):
    out, _, draws, inits = run_minigrad(key)
    torch_out, _ = run_torch_same_numbers(key)
    assert _normalise_minigrad(out) == _normalise_torch(torch_out)


# ---- seed 000: Conv1d, MaxPool1d, the first output column by hand ------------------------------
DOC000_DATA = [[[0.1239, 0.5952, 1.0756, -2.2702, 1.6780, 0.0190, 0.4516, 0.4840, -0.0495,
                 -0.4430, -0.4189],
                [-0.9282, 0.4426, 1.2979, 1.0455, -1.7439, -0.7124, -1.0452, 0.8563, -0.6842,
                 0.9176, -0.3238]]]
DOC000_CONV = [[[0.1685, 0.0135, -0.1587, -0.5499, 1.1779, 0.1952, 0.6602, 0.2691],
                [0.5304, -0.3837, -0.2284, 1.5512, -0.1850, 0.7031, -0.0674, 0.1530],
                [-1.0494, 2.0614, -0.5140, 0.4273, -1.5438, -0.4942, -0.6291, 0.0829]]]


def test_seed000_document():
    out, ns, _, _ = run_minigrad("000")
    assert ("\nInput shape = minigrad.Size([1, 2, 11]).\n"
            "Convolution output shape = minigrad.Size([1, 3, 8])\n"
            "Maxpool output shape = minigrad.Size([1, 3, 4])\n") in out
    assert section(out, "Extract parameters") == \
        "W(params[0]),B(params[1]) =  [minigrad.Size([3, 2, 4]), minigrad.Size([3])]"
    by_hand = lines(section(out, "Verify by applying kernel weights manually"))
    assert by_hand[:2] == ["multiplication output shape =  minigrad.Size([3, 2, 4])",
                           "summing across all dimensions except output channel"]
    assert by_hand[2].startswith("tensor([") and by_hand[2].endswith(", grad_fn=<AddBackward0>)")
    assert "by hand == conv(data)[0, :, 0]: True" in out
    np.testing.assert_allclose((ns["mul"].sum(dim=(1, 2)) + ns["params"][1]).detach().numpy(),
                               ns["cd"][0, :, 0].detach().numpy(), atol=1e-6)


def test_seed000_documents_numbers():
    """The document's printed input prints as it does there, and MaxPool1d(2) of its printed
    conv output is its printed maxpool output."""
    data = minigrad.tensor(DOC000_DATA)
    assert repr(data) == (
        "tensor([[[ 0.1239,  0.5952,  1.0756, -2.2702,  1.6780,  0.0190,  0.4516,\n"
        "           0.4840, -0.0495, -0.4430, -0.4189],\n"
        "         [-0.9282,  0.4426,  1.2979,  1.0455, -1.7439, -0.7124, -1.0452,\n"
        "           0.8563, -0.6842,  0.9176, -0.3238]]])")
    assert repr(data[:, :, :4]) == ("tensor([[[ 0.1239,  0.5952,  1.0756, -2.2702],\n"
                                    "         [-0.9282,  0.4426,  1.2979,  1.0455]]])")
    mpcd = minigrad.nn.MaxPool1d(2)(minigrad.tensor(DOC000_CONV))
    assert repr(mpcd) == ("tensor([[[ 0.1685, -0.1587,  1.1779,  0.6602],\n"
                          "         [ 0.5304,  1.5512,  0.7031,  0.1530],\n"
                          "         [ 2.0614,  0.4273, -0.4942,  0.0829]]])")


def test_seed000_against_pytorch():
    torch = pytest.importorskip("torch")
    _, ns, _, _ = run_minigrad("000")
    conv = torch.nn.Conv1d(2, 3, 4)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(ns["conv"].weight.detach().numpy()))
        conv.bias.copy_(torch.from_numpy(ns["conv"].bias.detach().numpy()))
    data = torch.from_numpy(ns["data"].numpy())
    cd = conv(data)
    np.testing.assert_allclose(ns["cd"].detach().numpy(), cd.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(ns["mpcd"].detach().numpy(),
                               torch.nn.MaxPool1d(2)(cd).detach().numpy(), atol=1e-6)


# ---- seed 001 -----------------------------------------------------------------------------------
def test_seed001_document():
    out, ns, _, _ = run_minigrad("001")
    assert "\nsize: minigrad.Size([2, 1, 1])\n" in out
    assert lines(section(out, "2D Convolution")) == [
        "img show: minigrad.Size([28, 28])", "kernel: minigrad.Size([1, 1, 3, 3])",
        "img before conv2d: minigrad.Size([1, 1, 28, 28])", "minigrad.Size([1, 1, 28, 28])"]
    # the trace prints, line by line, what the document's comments say
    comments = re.findall(r"#(torch\.Size\(\[[\d, ]+\]\))", s001.FORWARD_TRACE)
    assert len(comments) == 9
    trace = lines(section(out, "(run the traced forward on a batch of 64)"))
    assert trace == [c.replace("torch.Size", "minigrad.Size") for c in comments]
    assert trace[6] == "minigrad.Size([64, 800])"               # 4*4*50, fc1's in_features
    assert lines(section(out, "nn.Conv2d parameters")) == [
        "minigrad.Size([10, 5, 2, 2])", "200", "minigrad.Size([10])", "10"]
    assert section(out, "Should we use bias in conv2d?") == \
        "Conv2d(1, 20, kernel_size=(5, 5), stride=(1, 1), bias=False)"
    assert ns["w"].shape == minigrad.Size([20, 1, 5, 5]) and ns["b"].shape == minigrad.Size([20])
    assert "stride 2 vs stride 1 + max-pool: same shape True, same values False" in out


def test_seed001_documents_numbers():
    """F.conv1d on the document's printed inputs and filters gives its printed result (up to
    the rounding of the printed inputs to 4 decimals), and exactly what PyTorch gives on them."""
    F = minigrad.nn.functional
    inputs = [[[-1.3681, 0.8410]], [[-1.1009, 0.0678]]]
    filters = [[[1.5199, 0.8276]]]
    res = F.conv1d(minigrad.tensor(inputs), minigrad.tensor(filters), padding=0)
    assert res.size() == minigrad.Size([2, 1, 1])
    np.testing.assert_allclose(res.numpy().reshape(-1), [-1.3833, -1.6172], atol=3e-4)
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.conv1d(torch.tensor(inputs), torch.tensor(filters))
    assert repr(res) == repr(expected) == "tensor([[[-1.3834]],\n\n        [[-1.6171]]])"


def test_seed001_against_pytorch():
    torch = pytest.importorskip("torch")
    _, ns, _, _ = run_minigrad("001")
    Ft = torch.nn.functional
    img2 = torch.from_numpy(ns["img2"].numpy())
    k = torch.from_numpy(ns["k"].numpy())
    np.testing.assert_allclose(ns["res"].numpy(), Ft.conv2d(img2, k, padding=1).numpy(),
                               atol=1e-6)
    assert float(ns["res"].abs().max()) > 0               # the stand-in digit has edges
    tt, kk = torch.from_numpy(ns["tt"].numpy()), torch.from_numpy(ns["kk"].numpy())
    np.testing.assert_allclose(ns["res1"].numpy(), Ft.conv2d(tt, kk, stride=2).numpy(), atol=1e-5)
    np.testing.assert_allclose(ns["res2"].numpy(),
                               Ft.max_pool2d(Ft.conv2d(tt, kk, stride=1), 2).numpy(), atol=1e-5)


# ---- seed 002 -----------------------------------------------------------------------------------
def test_seed002_document():
    out, ns, _, _ = run_minigrad("002")
    assert section(out, "In [11]") == "tensor([[19., 25.],\n        [37., 43.]])"
    training = lines(section(out, "In [28]: learning the kernel"))
    assert training[:2] == ["minigrad.Size([6, 8])", "minigrad.Size([6, 7])"]
    assert [t.split(",")[0] for t in training[2:]] == [f"Epoch {k}" for k in (5, 10, 15, 20)]
    assert all(re.fullmatch(r"Epoch \d+, loss \d+\.\d{3}", t) for t in training[2:])
    assert training[-1] == "Epoch 20, loss 0.000"              # as in the document
    learned = ns["conv2d"].weight.data.reshape(-1).numpy()
    np.testing.assert_allclose(learned, [1.0, -1.0], atol=0.05)
    assert re.fullmatch(r"tensor\(\[\[\[\[ 1\.00\d\d, -[01]\.\d{4}\]\]\]\]\)|"
                        r"tensor\(\[\[\[\[ 0\.99\d\d, -[01]\.\d{4}\]\]\]\]\)",
                        section(out, "In [29]"))
    assert section(out, "(the Conv2D class at work)") == "minigrad.Size([6, 7]) True"
    assert section(out, "(padding and stride)") == (
        "padding 1: tensor([[ 0.,  3.,  8.,  4.],\n"
        "        [ 9., 19., 25., 10.],\n"
        "        [21., 37., 43., 16.],\n"
        "        [ 6.,  7.,  8.,  0.]])\n"
        "padding 1, stride (3, 2): tensor([[0., 8.],\n"
        "        [6., 8.]])\n"
        "output shape: floor((3-2+2+3)/3) x floor((3-2+2+2)/2) = 2 x 2 (1, 1, 2, 2)")
    assert lines(section(out, "In [76]"))[:7] == [
        "Input shape: minigrad.Size([1, 1, 32, 32])",
        "Conv2d: minigrad.Size([1, 20, 28, 28])",
        "MaxPool2d: minigrad.Size([1, 20, 14, 14])",
        "Conv2d: minigrad.Size([1, 20, 10, 10])",
        "MaxPool2d: minigrad.Size([1, 20, 5, 5])",
        "Flatten: minigrad.Size([1, 500])",
        "minigrad.Size([1, 10])"]
    assert re.fullmatch(r"tensor\(\[\d\]\)", lines(section(out, "In [76]"))[7])


def test_seed002_corr2d_and_its_gradient():
    """The seed's own corr2d (Y[i, j] = (...).sum() into a zeros tensor) is differentiable."""
    _, ns, _, _ = run_minigrad("002")
    corr2d = ns["corr2d"]
    X = minigrad.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = minigrad.tensor([[0.0, 1.0], [2.0, 3.0]], requires_grad=True)
    Y = corr2d(X, K)
    assert Y.tolist() == [[19.0, 25.0], [37.0, 43.0]]
    Y.sum().backward()
    assert K.grad.tolist() == [[8.0, 12.0], [20.0, 24.0]]      # each K[a, b] sees 4 X values


def test_seed002_training_against_pytorch():
    """The In [28] loop from minigrad's starting kernel, in PyTorch: same losses, same kernel."""
    torch = pytest.importorskip("torch")
    out, ns, _, inits = run_minigrad("002")
    start = dict(inits[0])["weight"]                    # conv2d is the first layer built
    assert start.shape == (1, 1, 1, 2)
    conv2d = torch.nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    with torch.no_grad():
        conv2d.weight.copy_(torch.from_numpy(start))
    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    Y = torch.nn.functional.conv2d(X.reshape(1, 1, 6, 8), torch.tensor([[[[1.0, -1.0]]]]))
    X = X.reshape(1, 1, 6, 8)
    printed = []
    for i in range(20):
        l = ((conv2d(X) - Y) ** 2)
        conv2d.zero_grad()
        l.sum().backward()
        conv2d.weight.data[:] -= 3e-2 * conv2d.weight.grad
        if (i + 1) % 5 == 0:
            printed.append(f'Epoch {i + 1}, loss {l.sum():.3f}')
    assert lines(section(out, "In [28]: learning the kernel"))[2:] == printed
    np.testing.assert_allclose(ns["conv2d"].weight.data.numpy(), conv2d.weight.data.numpy(),
                               atol=1e-5)


def test_seed002_lenet_against_pytorch():
    torch = pytest.importorskip("torch")
    _, ns, _, _ = run_minigrad("002")
    lenet = ns["lenet"]
    Ft = torch.nn.functional
    p = {n: torch.from_numpy(v.detach().numpy()) for n, v in lenet.named_parameters()}
    x = torch.from_numpy(ns["input"].numpy())
    x = Ft.max_pool2d(Ft.relu(Ft.conv2d(x, p["conv1.weight"], p["conv1.bias"])), 2, 2)
    x = Ft.max_pool2d(Ft.relu(Ft.conv2d(x, p["conv2.weight"], p["conv2.bias"])), 2, 2)
    x = Ft.relu(Ft.linear(x.view(-1, 500), p["fc1.weight"], p["fc1.bias"]))
    logits = Ft.linear(x, p["fc2.weight"], p["fc2.bias"])
    with contextlib.redirect_stdout(io.StringIO()):
        got = lenet(ns["input"])
    assert got.tolist() == torch.argmax(torch.softmax(logits, dim=1), dim=1).tolist()


# ---- seed 003 -----------------------------------------------------------------------------------
def test_seed003_document():
    out, ns, _, _ = run_minigrad("003")
    # the document's printout, with the line breaks PyTorch prints
    assert section(out, "print(net)") == (
        "Net(\n"
        "  (conv1): Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (conv2): Conv2d(6, 16, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (fc1): Linear(in_features=576, out_features=120, bias=True)\n"
        "  (fc2): Linear(in_features=120, out_features=84, bias=True)\n"
        "  (fc3): Linear(in_features=84, out_features=10, bias=True)\n"
        ")")
    assert lines(section(out, "the sizes of conv1's and conv2's weights")) == [
        "minigrad.Size([6, 1, 3, 3])", "minigrad.Size([16, 6, 3, 3])"]
    # the listing's bug: the same NameError as in PyTorch (checked by the printout comparison)
    assert section(out, "(calling the net as written)") == \
        "net(x) as written: NameError: name 'num_flat_features' is not defined"
    assert section(out, "(calling it as the author meant)") == \
        "with return num_features: minigrad.Size([1, 10])"
    assert len(list(ns["net"].parameters())) == 10


def test_seed003_num_flat_features_bug_is_pytorchs():
    torch = pytest.importorskip("torch")
    for lib in (minigrad, torch):
        nb = _listing.Notebook("minigrad" if lib is minigrad else "torch")
        nb.run(s003.NET)
        with pytest.raises(NameError, match="name 'num_flat_features' is not defined"):
            nb.ns["net"](lib.zeros(1, 1, 32, 32))


def test_seed003_fixed_net_against_pytorch():
    torch = pytest.importorskip("torch")
    _, ns, _, _ = run_minigrad("003")
    fixed = ns["fixed"]
    p = {n: torch.from_numpy(v.detach().numpy()) for n, v in fixed.named_parameters()}
    Ft = torch.nn.functional
    x = torch.from_numpy(ns["x"].numpy())
    x = Ft.max_pool2d(Ft.relu(Ft.conv2d(x, p["conv1.weight"], p["conv1.bias"])), (2, 2))
    x = Ft.max_pool2d(Ft.relu(Ft.conv2d(x, p["conv2.weight"], p["conv2.bias"])), 2)
    x = x.view(-1, 576)
    x = Ft.relu(Ft.linear(x, p["fc1.weight"], p["fc1.bias"]))
    x = Ft.relu(Ft.linear(x, p["fc2.weight"], p["fc2.bias"]))
    expected = Ft.linear(x, p["fc3.weight"], p["fc3.bias"])
    np.testing.assert_allclose(fixed(ns["x"]).detach().numpy(), expected.detach().numpy(),
                               atol=1e-5)


# ---- seed 004 -----------------------------------------------------------------------------------
def test_seed004_document():
    out, ns, _, _ = run_minigrad("004")
    assert section(out, "In [1]") == ""
    assert section(out, "In [2]") == "Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1))"
    assert section(out, "In [3]") == (
        "OrderedDict([('weight', tensor([[[[ 1.,  0., -1.],\n"
        "          [ 2.,  0., -2.],\n"
        "          [ 1.,  0., -1.]]]])), ('bias', tensor([0.]))])")
    assert section(out, "In [4]") == "tensor([[[[0., 0., 1., 0., 0.],\n" + \
        ",\n".join(["          [0., 0., 1., 0., 0.]"] * 4) + "]]])"
    assert re.fullmatch(r"tensor\(\[\[\[\[-4\.,  0\.,  4\.\],\n"
                        r"          \[-4\.,  0\.,  4\.\],\n"
                        r"          \[-4\.,  0\.,  4\.\]\]\]\], grad_fn=<\w+>\)",
                        section(out, "In [5]"))
    assert section(out, "In [6]") == "Conv2d(1, 1, kernel_size=(2, 2), stride=(1, 1))"
    z1 = lines(section(out, "In [8]"))
    assert z1[0] == "z1: tensor([[[[4., 4., 4.],"
    assert z1[-1] == "shape: minigrad.Size([3, 3])"
    assert section(out, "In [9]") == ("OrderedDict([('weight', tensor([[[[1., 1.],\n"
                                      "          [1., 1.]]]])), ('bias', tensor([0.]))])")
    assert lines(section(out, "In [10]"))[-1] == "shape: minigrad.Size([2, 2])"
    assert re.fullmatch(r"z4: tensor\(\[\[\[\[4\.\]\]\]\], grad_fn=<\w+>\)\n"
                        r"z4: minigrad\.Size\(\[1, 1\]\)", section(out, "In [12]"))
    assert re.fullmatch(r"z5: tensor\(\[\[\[\[1\., 2\.\],\n          \[2\., 4\.\]\]\]\], "
                        r"grad_fn=<\w+>\)\n"
                        r"z5: minigrad\.Size\(\[1, 1\]\)",        # the lab prints z4's shape
                        section(out, "In [13]"))
    assert section(out, "(the output-size formula)") == (
        "M_new = (M - K + 2p)/s + 1\n"
        "conv1: (4 - 2 + 2*0)/1 + 1 = 3 -> 3; output (3, 3)\n"
        "conv3: (4 - 2 + 2*0)/2 + 1 = 2 -> 2; output (2, 2)\n"
        "conv4: (4 - 2 + 2*0)/3 + 1 = 1.667 -> 1; output (1, 1)\n"
        "conv5: (4 - 2 + 2*1)/3 + 1 = 2.333 -> 2; output (2, 2)")
    assert re.fullmatch(r"tensor\(\[\[\[\[0\., 0\.\],\n          \[0\., 0\.\]\]\]\], "
                        r"grad_fn=<\w+>\)", section(out, "In [16]"))
    assert ns["z"].tolist() == [[[[-4.0, 0.0, 4.0]] * 3]]
    assert ns["z5"].tolist() == [[[[1.0, 2.0], [2.0, 4.0]]]]


def test_seed004_state_dict_writes_through():
    """``conv.state_dict()['weight'][0][0] = ...`` changes the layer (PyTorch's tensors share
    the parameters' memory)."""
    conv = minigrad.nn.Conv2d(1, 1, kernel_size=3)
    conv.state_dict()['weight'][0][0] = minigrad.tensor([[1.0, 0, -1.0], [2.0, 0, -2.0],
                                                         [1.0, 0.0, -1.0]])
    conv.state_dict()['bias'][0] = 0.0
    assert conv.weight.tolist() == [[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]]
    assert conv.bias.tolist() == [0.0]
    assert conv.weight.requires_grad and conv.weight.grad_fn is None


# ---- the scripts as programs --------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(SCRIPTS))
def test_script_runs_as_a_program_deterministically(key):
    out, _, _, _ = run_minigrad(key)
    path = Path(SCRIPTS[key].__file__)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == out
