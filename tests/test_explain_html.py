"""explain.html: the page's numbers are minigrad's outputs and gradients, and PyTorch's.

The data tests run everywhere. The browser tests load the page in headless Chromium
(Debian's ``chromium`` package), select a state through the address (``#step=5&mode=backward``)
or by pressing keys (``&keys=RRB``), dump the DOM, and read the displayed numbers back;
they are skipped where no Chromium is installed.
"""
import html.parser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch as real_torch
import torch.nn.functional as TF

import minigrad as torch
from minigrad import explain
from minigrad.explain import _html

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install "
                                   "chromium (or brew install --cask chromium)")


def chromium_args():
    args = [CHROMIUM, "--headless", "--disable-gpu", "--hide-scrollbars", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:      # CI containers run as root
        args.append("--no-sandbox")
    return args


class Dom(html.parser.HTMLParser):
    """Every element with an id: its text and classes."""

    def __init__(self, text):
        super().__init__()
        self.by_id, self.open = {}, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        entry = {"tag": tag, "text": "", "class": set((a.get("class") or "").split())}
        if "id" in a:
            self.by_id[a["id"]] = entry
        if tag not in ("br", "meta", "input", "img", "link"):
            self.open.append(entry)

    def handle_endtag(self, tag):
        if self.open:
            self.open.pop()

    def handle_data(self, data):
        for entry in self.open:
            entry["text"] += data

    def text(self, id_):
        return self.by_id[id_]["text"].strip()

    def classes(self, id_):
        return self.by_id[id_]["class"]


def load(path, state="", budget=None):
    """The page's DOM after load, at ``#state``."""
    url = Path(path).resolve().as_uri() + ("#" + state if state else "")
    args = chromium_args() + ["--dump-dom", url]
    if budget:
        args.insert(-2, f"--virtual-time-budget={budget}")
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return Dom(out.stdout)


def close(text, value):
    v = float(value)
    if not np.isfinite(v):
        return text == explain.fmt(v)
    return abs(float(text) - v) <= 1e-4 * (1 + abs(v)) + 5e-5


def check_grid(dom, prefix, array):
    """Cells prefix-r-c of a displayed grid equal ``array`` (2-d)."""
    for (r, c), v in np.ndenumerate(array):
        t = dom.text(f"{prefix}-{r}-{c}")
        assert close(t, v), (prefix, r, c, t, v)


def torch_grads(op, x, w, b, kw, upstream):
    xt = real_torch.tensor(x, requires_grad=True)
    args = []
    wt = bt = None
    if w is not None:
        wt = real_torch.tensor(w, requires_grad=True)
        args.append(wt)
        if b is not None:
            bt = real_torch.tensor(b, requires_grad=True)
            args.append(bt)
    else:
        args.append(kw["kernel_size"])
    y = getattr(TF, op)(xt, *args, **{k: v for k, v in kw.items() if k != "kernel_size"})
    y.backward(real_torch.tensor(upstream, dtype=y.dtype))
    return (y.detach().numpy(), xt.grad.numpy(), None if wt is None else wt.grad.numpy(),
            None if bt is None else bt.grad.numpy())


def forward_shape(op, x, w, kw):
    args = [real_torch.tensor(w)] if w is not None else [kw["kernel_size"]]
    return tuple(getattr(TF, op)(real_torch.tensor(x), *args,
                                 **{k: v for k, v in kw.items() if k != "kernel_size"}).shape)


def arange(*shape):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def small_ints(seed, *shape):
    return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(np.float32)


CASES = {   # name: (op, x, w, b, kwargs)
    "conv2d_s2_p1": ("conv2d", arange(1, 1, 5, 5), arange(1, 1, 3, 3), None,
                     dict(stride=2, padding=1)),
    "conv2d_3_maps_bias": ("conv2d", small_ints(0, 1, 3, 4, 4), small_ints(1, 1, 3, 2, 2),
                           np.array([0.5], np.float32), {}),
    "conv2d_groups_dilation": ("conv2d", small_ints(2, 1, 4, 5, 5), small_ints(3, 2, 2, 2, 2),
                               None, dict(groups=2, dilation=2, padding=1)),
    "conv1d": ("conv1d", arange(1, 2, 7), small_ints(4, 2, 2, 3), None, dict(stride=2)),
    "conv_transpose2d": ("conv_transpose2d", arange(1, 2, 2, 2), small_ints(5, 2, 2, 3, 3),
                         np.array([1.0, -1.0, 0.5, 0.0], np.float32)[:4],
                         dict(stride=2, padding=1, output_padding=1, groups=2)),
    "max_pool2d_ties": ("max_pool2d", np.array([[[[1, 3, 3, 0, 5], [3, 2, 1, 1, 5],
                                                  [0, 0, 4, 4, 2], [1, 2, 4, 4, 0]]]],
                                                np.float32), None, None,
                        dict(kernel_size=2, padding=1, ceil_mode=True)),
    "max_pool1d": ("max_pool1d", np.array([[[1, 5, 5, 2, 0, 7, 7]]], np.float32), None, None,
                   dict(kernel_size=3, stride=2)),
    "avg_pool2d": ("avg_pool2d", arange(1, 2, 5, 5), None, None,
                   dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
}


def bias_for(name, case):
    op, x, w, b, kw = case
    if op == "conv_transpose2d" and b is not None:      # C_out = (C_out/G) * G
        b = b[:w.shape[1] * kw.get("groups", 1)]
    return b


@pytest.mark.parametrize("name", sorted(CASES))
def test_data_equals_torch(name):
    """Outputs, every one-hot backward and the all-ones backward equal PyTorch's."""
    op, x, w, _, kw = CASES[name]
    b = bias_for(name, CASES[name])
    data, y = _html.build(op, x, w, b, **kw)
    y_torch, *_ = torch_grads(op, x, w, b, kw, np.zeros(forward_shape(op, x, w, kw)))
    np.testing.assert_allclose(y, y_torch, rtol=1e-5, atol=1e-5)
    assert len(data["steps"]) == y.size
    for step, grads in list(zip(data["steps"], data["backward"])) + [(None, data["backward_all"])]:
        g = np.ones_like(y) if step is None else np.zeros_like(y)
        if step is not None:
            g[tuple(step["index"])] = 1
            assert close(step["value"], y[tuple(step["index"])])
        _, gx, gw, gb = torch_grads(op, x, w, b, kw, g)
        shown = np.zeros(gx.shape[1:] if gx.ndim == x.ndim else gx.shape)
        for *idx, text in grads["gx"]:
            shown[tuple(idx[:1] + idx[-(x.ndim - 2):])] = float(text)
        np.testing.assert_allclose(shown, gx[0], atol=1e-4)
        if gw is not None:
            shown = np.zeros(gw.shape)
            for *idx, text in grads["gw"]:
                shown[tuple(idx[:2] + idx[-(w.ndim - 2):])] = float(text)
            np.testing.assert_allclose(shown, gw, atol=1e-4)
        if gb is not None:
            shown = np.zeros(gb.shape)
            for i, text in grads["gb"]:
                shown[i] = float(text)
            np.testing.assert_allclose(shown, gb, atol=1e-4)


def test_max_pool_winner_is_torchs_index():
    """Ties go to the first max in window order, as torch's return_indices says."""
    op, x, _, _, kw = CASES["max_pool2d_ties"]
    data, _ = _html.build(op, x, **kw)
    _, idx = TF.max_pool2d(real_torch.tensor(x), return_indices=True, **kw)
    p = kw["padding"]
    W = x.shape[-1]
    for step in data["steps"]:
        c, r, q = step["winner"]
        assert (r - p) * W + (q - p) == idx[0, c, step["i"], step["j"]].item(), step
    assert any("ties go to the first" in s["why"] for s in data["steps"])


def test_errors():
    with pytest.raises(ValueError, match="op must be one of"):
        explain.html("conv3d", arange(1, 1, 3, 3), path=os.devnull)
    with pytest.raises(TypeError, match="needs a weight"):
        explain.html("conv2d", arange(1, 1, 3, 3), path=os.devnull)
    with pytest.raises(ValueError, match="too big to draw"):
        explain.html("conv2d", arange(1, 1, 40, 40), arange(1, 1, 3, 3), path=os.devnull)
    with pytest.raises(RuntimeError):        # F.conv2d's own check: channels do not match
        explain.html("conv2d", arange(1, 2, 4, 4), arange(1, 3, 2, 2), path=os.devnull)


def test_page_is_self_contained(tmp_path):
    path = explain.html("conv2d", arange(1, 3, 4, 4), arange(2, 3, 2, 2), path=tmp_path / "p.html")
    text = Path(path).read_text(encoding="utf-8")
    assert "<script" in text and "<style>" in text
    for needle in ("http://", "https://", "src=", "<link", "@import", "fetch("):
        assert needle not in text, needle


def test_cli_writes_the_page(tmp_path, capsys):
    out = tmp_path / "cli.html"
    run = subprocess.run([sys.executable, "-m", "minigrad.explain", "conv2d", "--input-shape",
                          "1,1,5,5", "--kernel", "3", "--stride", "2", "--padding", "1",
                          "--html", str(out)], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Warning" not in run.stderr and out.stat().st_size > 5000
    # the rest through the command's main() in this process (the run above covers
    # ``python -m``; a fresh interpreter per call only repeated the imports)
    capsys.readouterr()
    assert _html.main(["conv2d", "--input-shape", "1,1,3,3", "--kernel", "2"]) == 0
    stdout = capsys.readouterr().out
    assert "0x0+1x1+3x2+4x3=19" in stdout, stdout
    with pytest.raises(SystemExit) as exited:      # a 2-d shape for a 1-d op: one line
        _html.main(["conv1d", "--input-shape", "1,1,5,5", "--html", str(out)])
    stderr = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in stderr
    assert "error: Expected 2D (unbatched) or 3D (batched) input to conv1d" in stderr


# ----------------------------------------------------------------------------------------------
# In the browser
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    made = {}
    for name, case in CASES.items():
        op, x, w, _, kw = case
        made[name] = explain.html(op, x, w, bias_for(name, case), path=folder / f"{name}.html",
                                  **kw)
    return made


def parse_products(text):
    """'0x0 + 1x1 + (-3)x2 = 4' -> sum of the products, printed result."""
    expr, result = text.rsplit("=", 1)
    total = 0.0
    for term in expr.split(" + "):
        a, b = term.strip().split("x")
        total += float(a.strip("()")) * float(b.strip("()"))
    return total, float(result)


@needs_browser
def test_forward_step_shows_window_products_and_output(pages):
    x = arange(1, 1, 5, 5)
    w = arange(1, 1, 3, 3)
    y = TF.conv2d(real_torch.tensor(x), real_torch.tensor(w), stride=2, padding=1).numpy()
    dom = load(pages["conv2d_s2_p1"], "step=5")
    assert dom.text("step-label") == f"step 5 of 9: out[0,0,1,1] = {explain.fmt(y[0, 0, 1, 1])}"
    label, products = dom.text("sum").split(" = ", 1)
    assert label == "out[0,0,1,1]"
    total, shown = parse_products(products)
    assert total == shown == y[0, 0, 1, 1]
    check_grid(dom, "out-0", y[0, 0])
    check_grid(dom, "in-0", np.pad(x[0, 0], 1))
    window = {(r, q) for r in range(2, 5) for q in range(2, 5)}     # rows/cols 2-4, padded
    for r in range(7):
        for q in range(7):
            assert ("win" in dom.classes(f"in-0-{r}-{q}")) == ((r, q) in window)
    assert dom.text("where") == ("window: rows 2-4 (start = 1*2), cols 2-4 (start = 1*2) of "
                                 "the padded input")
    assert "cur" in dom.classes("out-0-1-1") and "todo" in dom.classes("out-0-2-2")
    assert "todo" not in dom.classes("out-0-0-0")
    assert "hidden" in dom.classes("backbox")
    assert "out = floor((M + 2p - d(K-1) - 1) / s) + 1" in dom.text("formula")
    assert "floor((5 + 2*1 - 1*(3-1) - 1) / 2) + 1 = floor(4/2) + 1 = 3" in dom.text("formula")


@needs_browser
def test_backward_mode_shows_minigrads_gradients(pages):
    op, x, w, _, kw = CASES["conv2d_s2_p1"]
    dom = load(pages["conv2d_s2_p1"], "step=5&mode=backward")
    assert "hidden" not in dom.classes("backbox") and dom.text("mode") == "backward"
    g = np.zeros((1, 1, 3, 3), np.float32)
    g[0, 0, 1, 1] = 1
    _, gx, gw, _ = torch_grads(op, x, w, None, kw, g)
    check_grid(dom, "up-0", g[0, 0])
    check_grid(dom, "gx-0", gx[0, 0])
    check_grid(dom, "gw-0-0", gw[0, 0])
    dom = load(pages["conv2d_s2_p1"], "step=1&mode=backward&cell=all")
    _, gx, gw, _ = torch_grads(op, x, w, None, kw, np.ones((1, 1, 3, 3), np.float32))
    check_grid(dom, "gx-0", gx[0, 0])
    check_grid(dom, "gw-0-0", gw[0, 0])


@needs_browser
def test_three_maps_added_together(pages):
    op, x, w, b, kw = CASES["conv2d_3_maps_bias"]
    y = TF.conv2d(real_torch.tensor(x), real_torch.tensor(w), real_torch.tensor(b)).numpy()
    dom = load(pages["conv2d_3_maps_bias"], "step=4")
    step = (1, 0)                                        # step 4 of a 3x3 output: row 1, col 0
    parts = []
    for c in range(3):
        line = dom.text(f"line-{c}")
        assert line.startswith(f"channel {c}:")
        total, shown = parse_products(line.split(":", 1)[1])
        assert abs(total - shown) < 1e-4
        parts.append(shown)
        one = TF.conv2d(real_torch.tensor(x[:, c:c + 1]), real_torch.tensor(w[:, c:c + 1])).numpy()
        check_grid(dom, f"part-0-{c}", one[0, 0])        # each channel's own map
        assert "cur" in dom.classes(f"part-0-{c}-{step[0]}-{step[1]}")
    assert abs(sum(parts) + b[0] - y[0, 0, 1, 0]) < 1e-4
    assert dom.text("sum").endswith(f"= {explain.fmt(y[0, 0, 1, 0])}   (the last term is the bias)")
    check_grid(dom, "out-0", y[0, 0])
    check_grid(dom, "bias-0", np.array([[0.5]]))


@needs_browser
@pytest.mark.parametrize("name", ["conv_transpose2d", "conv1d", "avg_pool2d", "max_pool1d",
                                  "conv2d_groups_dilation"])
def test_other_ops_display_torchs_numbers(pages, name):
    op, x, w, _, kw = CASES[name]
    b = bias_for(name, CASES[name])
    y, *_ = torch_grads(op, x, w, b, kw, np.zeros(forward_shape(op, x, w, kw), np.float32))
    dom = load(pages[name], "step=2&mode=backward")
    for o in range(y.shape[1]):
        check_grid(dom, f"out-{o}", y[0, o] if y.ndim == 4 else y[0, o][None])
    g = np.zeros_like(y)
    index = (0,) + np.unravel_index(1, y.shape[1:])       # step 2 of sample 0
    g[index] = 1
    _, gx, gw, gb = torch_grads(op, x, w, b, kw, g)
    for c in range(x.shape[1]):
        check_grid(dom, f"gx-{c}", gx[0, c] if gx.ndim == 4 else gx[0, c][None])
    if gw is not None:
        for i in range(gw.shape[0]):
            for j in range(gw.shape[1]):
                check_grid(dom, f"gw-{i}-{j}", gw[i, j] if gw.ndim == 4 else gw[i, j][None])


@needs_browser
def test_max_pool_winner_in_the_page(pages):
    op, x, _, _, kw = CASES["max_pool2d_ties"]
    _, idx = TF.max_pool2d(real_torch.tensor(x), return_indices=True, **kw)
    dom = load(pages["max_pool2d_ties"], "step=2")
    flat = idx[0, 0, 0, 1].item()
    r, q = divmod(flat, x.shape[-1])
    winners = [k for k, v in dom.by_id.items() if "winner" in v["class"]]
    assert winners == [f"in-0-{r + 1}-{q + 1}"]                 # padded coordinates
    assert dom.text("sum").startswith("out[0,0,0,1] = max(")
    assert "ties go to the first" in dom.text("why")


@needs_browser
def test_keys_step_and_switch_mode(pages):
    dom = load(pages["conv2d_s2_p1"], "step=1&keys=RRRLB")
    assert dom.text("step-label").startswith("step 3 of 9")
    assert dom.text("mode") == "backward" and "hidden" not in dom.classes("backbox")
    dom = load(pages["conv2d_s2_p1"], "step=9&keys=RH")         # clamped at the end, then Home
    assert dom.text("step-label").startswith("step 1 of 9")
    dom = load(pages["conv2d_s2_p1"], "step=1&keys=P", budget=2500)   # play for 2.5 s
    n = int(re.match(r"step (\d+)", dom.text("step-label")).group(1))
    assert 3 <= n <= 9, n


@needs_browser
def test_screenshot_is_small(pages, tmp_path):
    shot = tmp_path / "shot.png"
    subprocess.run(chromium_args() + ["--window-size=1000,720", f"--screenshot={shot}",
                                      Path(pages["conv2d_3_maps_bias"]).resolve().as_uri()
                                      + "#step=4"], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < shot.stat().st_size < 150_000


def test_example_writes_the_pages(tmp_path, capsys):
    """examples/inside_convolution.py --html DIR: the explainer's pages and the profile chart."""
    import importlib.util
    path = ROOT / "examples" / "inside_convolution.py"
    spec = importlib.util.spec_from_file_location("inside_convolution_html", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--only", "size", "--html", str(tmp_path)])
    names = sorted(p.name for p in tmp_path.iterdir())
    for page in ("conv2d.html", "conv2d_3_channels.html", "max_pool2d.html",
                 "conv_transpose2d.html"):
        assert page in names and (tmp_path / page).stat().st_size > 5000, page
    try:
        import matplotlib  # noqa: F401
        assert "profile_seed001.png" in names
    except ImportError:
        assert 'pip install "minigrad[examples]"' in capsys.readouterr().out


def test_kernel_labels_name_the_weight_slice():
    """With groups, output channel 1's kernels are weight[1, 0] and weight[1, 1], applied to
    input channels 2 and 3; a transposed convolution's are weight[c, o % (C_out/G)], flipped."""
    op, x, w, _, kw = CASES["conv2d_groups_dilation"]
    data, _ = _html.build(op, x, w, **kw)
    assert data["kernel_labels"][1] == ["w[1, 0]", "w[1, 1]"]
    op, x, w, b, kw = CASES["conv_transpose2d"]
    data, _ = _html.build(op, x, w, **kw)
    assert data["kernel_labels"] == [["w[0, 0] flipped"], ["w[0, 1] flipped"],
                                     ["w[1, 0] flipped"], ["w[1, 1] flipped"]]
