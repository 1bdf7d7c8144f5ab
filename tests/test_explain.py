"""minigrad.explain: the printed sums of products parse, add up, and match PyTorch's numbers."""
import io
import re

import numpy as np
import pytest
import torch as real_torch
import torch.nn.functional as TF

import minigrad as torch
import minigrad.nn.functional as F
from minigrad import explain

LINE = re.compile(r"^  out\[([\d,]+)\]  (.*?):(?:  (.*))?$")
NUMBER = r"\(?(-?[\d.]+(?:e-?\d+)?|-?inf|nan)\)?"


def _value(text):
    return float(text.strip("()"))


def _parse_products(expr):
    """'0x0+1x1+(-3)x2' -> [(0, 0), (1, 1), (-3, 2)]."""
    pairs = []
    for term in expr.split("+"):
        a, b = term.split("x")
        pairs.append((_value(a), _value(b)))
    return pairs


def parse_conv(text):
    """{output index: (window text, [[(input, weight), ...] per channel], bias, printed value)}."""
    elements = {}
    current = None
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            index = tuple(int(i) for i in m.group(1).split(","))
            window, rest = m.group(2), m.group(3)
            current = elements[index] = {"window": window, "channels": [], "bias": None,
                                         "value": None}
            if rest:                                   # one line: products=value
                expr, value = rest.rsplit("=", 1)
                current["channels"].append(_parse_products(expr))
                current["value"] = _value(value)
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("channel "):
            expr = stripped.split(":", 1)[1].strip().rsplit("=", 1)[0]
            current["channels"].append(_parse_products(expr))
        elif stripped.startswith("bias:"):
            current["bias"] = _value(stripped.split(":", 1)[1])
        elif stripped.startswith("sum:"):
            current["value"] = _value(stripped.rsplit("=", 1)[1])
    return elements


def explained(fn, *args, **kwargs):
    buf = io.StringIO()
    result = fn(*args, file=buf, **kwargs)
    return result, buf.getvalue()


def check_sums_against_torch(text, expected):
    """Every element's printed products (and bias) add up to PyTorch's output."""
    elements = parse_conv(text)
    assert len(elements) == expected.size, (len(elements), expected.shape)
    for index, element in elements.items():
        products = [a * b for channel in element["channels"] for a, b in channel]
        total = sum(products) + (element["bias"] or 0.0)
        want = float(expected[index])
        # the printed numbers carry 4 decimals: allow their rounding
        tolerance = 2e-4 * sum(abs(a) + abs(b) + 1 for channel in element["channels"]
                               for a, b in channel) + 1e-3
        assert abs(total - want) <= tolerance, (index, total, want)
        assert abs(element["value"] - want) <= 1e-4 * (1 + abs(want)), (index, element, want)
    return elements


# ----------------------------------------------------------------------------------------------
# Seed 002 (d2l.ai), exactly
# ----------------------------------------------------------------------------------------------
X = [[[[0.0, 1, 2], [3, 4, 5], [6, 7, 8]]]]
K = [[[[0.0, 1], [2, 3]]]]


def test_seed_002_cross_correlation_lines_exactly():
    y, text = explained(explain.conv2d, torch.tensor(X), torch.tensor(K))
    lines = [line for line in text.splitlines() if line.startswith("  out[")]
    assert lines == [
        "  out[0,0,0,0]  rows 0-1, cols 0-1:  0x0+1x1+3x2+4x3=19",
        "  out[0,0,0,1]  rows 0-1, cols 1-2:  1x0+2x1+4x2+5x3=25",
        "  out[0,0,1,0]  rows 1-2, cols 0-1:  3x0+4x1+6x2+7x3=37",
        "  out[0,0,1,1]  rows 1-2, cols 1-2:  4x0+5x1+7x2+8x3=43",
    ]
    assert y.tolist() == [[[[19.0, 25.0], [37.0, 43.0]]]]
    assert "floor((3 + 2*0 - 1*(2-1) - 1) / 1) + 1 = floor(1/1) + 1 = 2" in text
    assert "M_new = (M - K + 2p)/s + 1 = (3 - 2 + 0)/1 + 1 = 2" in text


def test_returns_exactly_what_F_conv2d_returns():
    x, w, b = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 2, 2, requires_grad=True), torch.randn(2)
    y, _ = explained(explain.conv2d, x, w, b, stride=2, padding=1)
    ref = F.conv2d(x, w, b, stride=2, padding=1)
    assert type(y) is type(ref)
    assert y.shape == ref.shape and y.dtype == ref.dtype
    assert torch.equal(y.detach(), ref.detach())
    expected = TF.conv2d(*(real_torch.tensor(t.detach().numpy()) for t in (x, w, b)),
                         stride=2, padding=1)
    np.testing.assert_allclose(y.detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    assert y.requires_grad and y.grad_fn.name() == "ConvolutionBackward0"   # still differentiable


def test_seed_002_padding_and_stride():
    y, text = explained(explain.conv2d, torch.tensor(X), torch.tensor(K), padding=1)
    assert y.tolist()[0][0] == [[0, 3, 8, 4], [9, 19, 25, 10], [21, 37, 43, 16], [6, 7, 8, 0]]
    assert "padded with zeros (1 row(s) on each side, 1 column(s) on each side" in text
    assert "  out[0,0,0,0]  rows 0-1, cols 0-1:  0x0+0x1+0x2+0x3=0" in text
    # the padded input is shown
    assert "    1: 0 0 1 2 0" in text and "    0: 0 0 0 0 0" in text

    y, text = explained(explain.conv2d, torch.tensor(X), torch.tensor(K), padding=1,
                        stride=(3, 2))
    assert y.tolist()[0][0] == [[0, 8], [6, 8]]
    assert "  out[0,0,1,0]  rows 3-4, cols 0-1:  0x0+6x1+0x2+0x3=6" in text


# ----------------------------------------------------------------------------------------------
# Seed 004 (IBM lab): the vertical edge, z3, z4, z5
# ----------------------------------------------------------------------------------------------
def test_seed_004_vertical_edge():
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, :, 2] = 1
    kernel = torch.tensor([[1.0, 0, -1.0], [2.0, 0, -2.0], [1.0, 0.0, -1.0]]).reshape(1, 1, 3, 3)
    z, text = explained(explain.conv2d, image, kernel, torch.tensor([0.0]))
    assert z.tolist()[0][0] == [[-4, 0, 4]] * 3
    check_sums_against_torch(text, TF.conv2d(real_torch.tensor(image.numpy()),
                                             real_torch.tensor(kernel.numpy())).numpy())
    assert "0x1+0x0+1x(-1)+0x2+0x0+1x(-2)+0x1+0x0+1x(-1)=-4" in text


@pytest.mark.parametrize("stride, padding, formula, size", [
    (2, 0, "(4 - 2 + 0)/2 + 1 = 2", 2),                                   # z3
    (3, 0, "(4 - 2 + 0)/3 + 1 = 1.6667, rounded to 1", 1),                # z4
    (3, 1, "(4 - 2 + 2)/3 + 1 = 2.3333, rounded to 2", 2),                # z5
])
def test_seed_004_output_size_formula(stride, padding, formula, size):
    image = torch.ones(1, 1, 4, 4)
    kernel = torch.ones(1, 1, 2, 2)
    z, text = explained(explain.conv2d, image, kernel, torch.tensor([0.0]), stride=stride,
                        padding=padding)
    assert tuple(z.shape[2:]) == (size, size)
    assert f"M_new = (M - K + 2p)/s + 1 = {formula}" in text
    expected = TF.conv2d(real_torch.ones(1, 1, 4, 4), real_torch.ones(1, 1, 2, 2),
                         real_torch.zeros(1), stride=stride, padding=padding).numpy()
    check_sums_against_torch(text, expected)
    if stride == 3 and padding == 0:
        assert "the last 2 row(s) never enter a window" in text      # 1.6667 -> 1
    if padding == 1:
        assert z.tolist() == [[[[1, 2], [2, 4]]]]       # z5 of the lab


# ----------------------------------------------------------------------------------------------
# Random numbers, every option, checked against PyTorch
# ----------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(stride=2, padding=1),
    dict(padding=(1, 0), dilation=2),
    dict(stride=(2, 1), padding=1, dilation=(1, 2)),
    dict(groups=2),
    dict(padding="same"),
])
def test_multichannel_batched_sums_match_torch(kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    groups = kwargs.get("groups", 1)
    w = rng.standard_normal((2, 4 // groups, 2, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    y, text = explained(explain.conv2d, torch.tensor(x), torch.tensor(w), torch.tensor(b),
                        **kwargs)
    expected = TF.conv2d(real_torch.tensor(x), real_torch.tensor(w), real_torch.tensor(b),
                         **kwargs).numpy()
    assert tuple(y.shape) == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-4)
    elements = check_sums_against_torch(text, expected)
    some = next(iter(elements.values()))
    assert len(some["channels"]) == 4 // groups          # one line per input channel
    assert all(len(c) == 6 for c in some["channels"])    # 2x3 products each
    assert some["bias"] is not None


def test_window_positions_read_the_padded_input():
    rng = np.random.default_rng(1)
    x = rng.integers(-9, 10, (1, 1, 5, 6)).astype(np.float32)
    w = rng.integers(-3, 4, (1, 1, 2, 2)).astype(np.float32)
    _, text = explained(explain.conv2d, torch.tensor(x), torch.tensor(w), stride=2, padding=1,
                        dilation=(2, 1))
    padded = np.pad(x[0, 0], 1)
    for index, element in parse_conv(text).items():
        rows_text, cols_text = element["window"].split(", ")
        rows = [int(r) for r in rows_text.split(" ")[1].split(",")]      # dilated: '0,2'
        c0, c1 = (int(c) for c in cols_text.split(" ")[1].split("-"))    # contiguous: '0-1'
        i, j = index[2:]
        assert rows == [2 * i, 2 * i + 2] and (c0, c1) == (2 * j, 2 * j + 1)
        window = padded[np.ix_(rows, range(c0, c1 + 1))].reshape(-1)
        assert [a for a, _ in element["channels"][0]] == list(window)
        assert [b for _, b in element["channels"][0]] == list(w.reshape(-1))


def test_unbatched_and_lists():
    y, text = explained(explain.conv2d, [[[0, 1, 2], [3, 4, 5], [6, 7, 8]]], [[[[0, 1], [2, 3]]]])
    assert tuple(y.shape) == (1, 2, 2)
    assert y.tolist() == [[[19.0, 25.0], [37.0, 43.0]]]
    assert "  out[0,0,0]  rows 0-1, cols 0-1:  0x0+1x1+3x2+4x3=19" in text
    assert "unbatched" in text


def test_conv1d_seed_003_shapes():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((1, 2, 11)).astype(np.float32)      # batch, channels, length
    w = rng.standard_normal((3, 2, 4)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    y, text = explained(explain.conv1d, torch.tensor(data), torch.tensor(w), torch.tensor(b))
    expected = TF.conv1d(*(real_torch.tensor(a) for a in (data, w, b))).numpy()
    assert tuple(y.shape) == expected.shape == (1, 3, 8)
    elements = check_sums_against_torch(text, expected)
    assert elements[(0, 0, 0)]["window"] == "positions 0-3"
    assert "length: M=11, K=4, p=0, s=1, d=1:" in text


def test_conv1d_seed_001():
    inputs = np.array([[[-1.3681, 0.8410]], [[-1.1009, 0.0678]]], dtype=np.float32)
    filters = np.array([[[1.5199, 0.8276]]], dtype=np.float32)
    y, text = explained(explain.conv1d, torch.tensor(inputs), torch.tensor(filters))
    # the seed printed 4 decimals of random numbers: the last digit of the sums may differ
    assert "  out[0,0,0]  positions 0-1:  (-1.3681)x1.5199+0.841x0.8276=-1.383" in text
    assert "  out[1,0,0]  positions 0-1:  (-1.1009)x1.5199+0.0678x0.8276=-1.617" in text
    np.testing.assert_allclose(y.numpy().reshape(-1), [-1.3833, -1.6172], atol=2e-4)


# ----------------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------------
POOL = re.compile(r"^  out\[([\d,]+)\]  (.*?):  max\((.*)\)=(\S+)")


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2),
    dict(kernel_size=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2, stride=1, dilation=2),
    dict(kernel_size=(2, 3), stride=(1, 2), ceil_mode=True),
])
def test_max_pool2d_matches_torch(kwargs):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    y, text = explained(explain.max_pool2d, torch.tensor(x), **kwargs)
    expected = TF.max_pool2d(real_torch.tensor(x), **kwargs).numpy()
    assert tuple(y.shape) == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    found = 0
    for line in text.splitlines():
        m = POOL.match(line)
        if m:
            index = tuple(int(i) for i in m.group(1).split(","))
            values = [float(v) for v in m.group(3).split(", ")]
            assert abs(max(values) - expected[index]) < 1e-4
            assert abs(float(m.group(4)) - expected[index]) < 1e-4
            found += 1
    assert found == expected.size


def test_max_pool2d_seed_001_text():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y, text = explained(explain.max_pool2d, x, 2)
    assert y.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    assert "  out[0,0,0,0]  rows 0-1, cols 0-1:  max(0, 1, 4, 5)=5" in text
    assert "(stride defaults to the kernel size)" in text


# ----------------------------------------------------------------------------------------------
# Limits, formatting
# ----------------------------------------------------------------------------------------------
def test_refuses_too_many_outputs():
    with pytest.raises(ValueError, match=r"\(1, 1, 26, 26\) has 676 elements \(limit 400\)"):
        explain.conv2d(torch.randn(1, 1, 28, 28), torch.randn(1, 1, 3, 3), file=io.StringIO())


def test_refuses_too_many_terms():
    with pytest.raises(ValueError, match=r"sum of 72 products \(limit 64\)"):
        explain.conv2d(torch.randn(1, 8, 4, 4), torch.randn(1, 8, 3, 3), file=io.StringIO())
    with pytest.raises(ValueError, match=r"limit 400"):
        explain.max_pool2d(torch.randn(1, 1, 42, 42), 2, file=io.StringIO())


def test_limits_can_be_raised():
    y, text = explained(explain.conv2d, torch.randn(1, 1, 22, 22), torch.randn(1, 1, 1, 1),
                        max_outputs=500)
    assert tuple(y.shape) == (1, 1, 22, 22) and text.count("  out[") == 484


def test_invalid_arguments_raise_as_F_does():
    with pytest.raises(RuntimeError):
        explain.conv2d(torch.randn(1, 2, 4, 4), torch.randn(1, 3, 2, 2), file=io.StringIO())


@pytest.mark.parametrize("value, text", [
    (19.0, "19"), (-4.0, "-4"), (0.0, "0"), (-0.0, "0"), (0.16849, "0.1685"), (2.5, "2.5"),
    (1.0 / 3, "0.3333"), (1e-5, "1e-5"), (-1.23456e-7, "-1.235e-7"), (1234567.5, "1.235e6"),
    (float("inf"), "inf"), (float("-inf"), "-inf"), (float("nan"), "nan"), (np.float32(0.1), "0.1"),
])
def test_fmt(value, text):
    assert explain.fmt(value) == text


def test_prints_to_stdout_by_default(capsys):
    explain.conv2d(torch.tensor(X), torch.tensor(K))
    assert "0x0+1x1+3x2+4x3=19" in capsys.readouterr().out


def test_example_inside_convolution_runs(capsys):
    """examples/inside_convolution.py walks through the seeds' questions; it must keep working."""
    import importlib.util
    import pathlib
    import warnings
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "inside_convolution.py"
    spec = importlib.util.spec_from_file_location("inside_convolution", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        module.main([])
    out = capsys.readouterr().out
    assert "0x0+1x1+3x2+4x3=19" in out                                   # seed 002
    assert "0x1+0x0+1x(-1)+0x2+0x0+1x(-2)+0x1+0x0+1x(-1)=-4" in out      # seed 004's edge
    assert "(4 - 2 + 0)/3 + 1 = 1.6667, rounded to 1" in out              # z4
    assert "weight: (10, 5, 2, 2) -> 200" in out and "bias: (10,) -> 10" in out
    assert "Total params: 431,080" in out                                 # seed 001's M
    assert "ConvolutionBackward0" in out and "SqrtBackward0" in out
