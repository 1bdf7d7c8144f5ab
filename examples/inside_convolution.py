"""Seeing inside a convolution: the seed tutorials' questions, answered with the numbers.

    python examples/inside_convolution.py              # all sections
    python examples/inside_convolution.py --only size  # one of: kernel size stride pool params
                                                       #         graph anomaly profile
    python examples/inside_convolution.py --html runs/inside   # also write the web pages

Tools used (all in minigrad, no extra dependency):

* ``minigrad.explain.conv2d`` / ``max_pool2d``: F.conv2d / F.max_pool2d that print every
  output element as its sum of products "0x0+1x1+3x2+4x3=19", the padded input, the
  window each output reads and the output-size formula with the numbers plugged in.
* ``minigrad.summary(model, input_size)``: each layer's output shape and parameter count.
* ``minigrad.viz.draw_graph(loss)``: the autograd graph (text tree, or DOT for Graphviz).
* ``minigrad.autograd.detect_anomaly()``: which op's backward made a NaN/inf, and where.
* ``minigrad.profile(model, input)``: each layer's FLOPs (counted as torch.utils.flop_counter
  counts them), memory kept for backward, im2col bytes and time.
* ``minigrad.explain.html(op, ...)`` (with ``--html DIR``): the explainer as web pages to
  step through in a browser -- the window sliding, each sum of products, and backward.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import minigrad as torch
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import autograd, explain, viz
from minigrad.testing.models import seed001_net


def title(text):
    print("\n" + "#" * 90 + f"\n# {text}\n" + "#" * 90)


def kernel():
    title("1. What does a kernel do to an image?  (seed 002's cross-correlation, seed 004's edge)")
    print("d2l.ai (seed 002): slide the 2x2 kernel over the 3x3 input; each output is a sum of "
          "products:\n")
    X = torch.tensor([[[[0.0, 1, 2], [3, 4, 5], [6, 7, 8]]]])
    K = torch.tensor([[[[0.0, 1], [2, 3]]]])
    explain.conv2d(X, K)

    print("\nIBM lab (seed 004): an image with one vertical line, and a vertical-edge kernel.")
    print("The kernel subtracts the right column of each 3x3 window from the left one: flat "
          "regions give 0,\nthe line on the window's right gives -4, on its left +4.\n")
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, :, 2] = 1
    edge = torch.tensor([[1.0, 0, -1.0], [2.0, 0, -2.0], [1.0, 0.0, -1.0]]).reshape(1, 1, 3, 3)
    z = explain.conv2d(image, edge)      # the lab sets the bias to 0: the same as no bias
    print("\nz =", z)


def size():
    title("2. Why does the output shrink?  M_new = M - K + 1  (seed 004)")
    print("A 2x2 kernel fits 3 times along each side of a 4x4 image: 4 - 2 + 1 = 3.\n")
    image1 = torch.ones(1, 1, 4, 4)
    z1 = explain.conv2d(image1, torch.ones(1, 1, 2, 2))
    print("\nshape:", z1.shape[2:4])


def stride():
    title("3. What do stride and padding change?  z3, z4, z5 of seed 004")
    image1 = torch.ones(1, 1, 4, 4)
    kernel = torch.ones(1, 1, 2, 2)
    print("z3: stride 2 -> (4 - 2)/2 + 1 = 2\n")
    z3 = explain.conv2d(image1, kernel, stride=2)
    print("\nz4: stride 3 -> (4 - 2)/3 + 1 = 1.67: not a whole number, so it is rounded down -- "
          "the windows that\nwould run past the edge are not computed.\n")
    z4 = explain.conv2d(image1, kernel, stride=3)
    print("\nz5: stride 3 and padding 1 -> (4 - 2 + 2)/3 + 1 = 2.33 -> 2. The zeros around the "
          "image make the corner\nwindows see 1 or 2 ones instead of 4: z5 = [[1, 2], [2, 4]].\n")
    z5 = explain.conv2d(image1, kernel, stride=3, padding=1)
    print("\nshapes:", tuple(z3.shape[2:]), tuple(z4.shape[2:]), tuple(z5.shape[2:]))


def pool():
    title("4. Is a stride-2 convolution the same as a stride-1 convolution + max-pool 2? (seed 001)")
    torch.manual_seed(0)
    tt = torch.randn(1, 1, 6, 6)
    kk = torch.randn(1, 1, 3, 3)
    res1 = F.conv2d(tt, kk, stride=2)
    res2 = F.conv2d(tt, kk, stride=1)
    print("conv with stride 2:", [[explain.fmt(v) for v in row] for row in res1.tolist()[0][0]])
    print("conv with stride 1 gives 4x4; max-pool 2 of it:\n")
    res2 = explain.max_pool2d(res2, 2)
    print("\nSame shape (2x2), different numbers: stride 2 keeps the windows at even positions,"
          "\nthe max-pool keeps the largest of 4 neighbouring windows.")
    assert tuple(res1.shape) == tuple(res2.shape) and not torch.allclose(res1, res2)


def M():
    """Seed 001's network for 28x28 MNIST digits (see minigrad/testing/models.py)."""
    return seed001_net(torch)


def params():
    title("5. How many parameters does a layer have?  (seed 001: nn.Conv2d(5, 10, 2, 2))")
    c = nn.Conv2d(5, 10, 2, 2)
    s = torch.summary(c, (1, 5, 8, 8))
    for name, shape, count in s.rows[0].params:
        print(f"  {name}: {shape} -> {count} = " + " x ".join(str(n) for n in shape))
    print("  10 kernels of 5 channels x 2 x 2 = 200 weights, plus one bias per kernel = 210. "
          "A Linear(5*2*2, 10)\n  would have the same count, but a Conv2d's count does not "
          "depend on the image size.\n")

    print("Seed 001: why does fc1 take 4*4*50 inputs?  Each row is a layer's output shape:\n")
    s = torch.summary(M(), (64, 784))
    print(f"\nconv1: 28 - 5 + 1 = 24, pool: 12; conv2: 12 - 5 + 1 = 8, pool: 4 -> 50 channels "
          f"of 4x4 = {4 * 4 * 50} = fc1's input {s.row('fc1').input_shapes[0]}.")


def graph():
    title("6. What does backward go through?  The autograd graph of a small conv net")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2 * 2 * 2, 3))
    loss = F.cross_entropy(net(torch.randn(1, 1, 6, 6)), torch.tensor([1]))
    g = viz.draw_graph(loss, params=dict(net.named_parameters()))
    print(g)
    print("\n(graph.source is the same graph as Graphviz DOT text; graph.render('net', "
          "format='svg') draws it\n when Graphviz's dot program is installed.)")


def anomaly():
    title("7. Where does a NaN come from?  detect_anomaly names the op and the line")
    import warnings
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    w = torch.tensor([[[[1.0, -1.0]]]], requires_grad=True)
    with autograd.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = F.conv2d(x, w)                  # [[-1], [-1]]: the sqrt below is of -1 (NaN)
        loss = y.sqrt().sum()
        try:
            loss.backward()
        except RuntimeError as error:
            print("\n".join(str(error).splitlines()[:4]))


def profile():
    title("8. What does each layer cost?  Seed 001's net, batch 64: FLOPs, memory, time")
    print("FLOPs are counted as torch.utils.flop_counter counts them: 2 per multiply-add of the "
          "convolutions\nand matrix products. conv2: 64 samples x 50 kernels x 20*5*5 weights "
          "x 8*8 positions x 2 = 204.8M.\n")
    torch.manual_seed(0)
    p = torch.profile(M(), (64, 784), repeat=2)
    conv2 = p.row("conv2")
    assert conv2.flops == 64 * 50 * 20 * 5 * 5 * 8 * 8 * 2
    print(f"\nconv2's im2col matrix: 20*5*5 rows x 8*8*64 columns of float32 = "
          f"{conv2.workspace_bytes / 1e6:.2f} MB.")
    return p


def write_pages(folder):
    """The explainer as web pages (and the profile as a chart, with matplotlib) in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    X = torch.arange(25.0).reshape(1, 1, 5, 5)
    pages = {
        "conv2d.html": ("conv2d", X, torch.arange(9.0).reshape(1, 1, 3, 3), None,
                        dict(stride=2, padding=1)),
        "conv2d_3_channels.html": ("conv2d", torch.arange(48.0).reshape(1, 3, 4, 4) % 5 - 2,
                                   torch.tensor([[[[1.0, 0], [0, -1]], [[0.0, 1], [1, 0]],
                                                  [[1.0, 1], [-1, -1]]]]), torch.tensor([0.5]),
                                   {}),
        "max_pool2d.html": ("max_pool2d", torch.tensor([[[[1.0, 3, 3, 0], [2, 3, 1, 1],
                                                          [0, 0, 4, 4], [1, 2, 4, 0]]]]),
                            None, None, dict(kernel_size=2)),
        "conv_transpose2d.html": ("conv_transpose2d", torch.arange(4.0).reshape(1, 1, 2, 2),
                                  torch.arange(9.0).reshape(1, 1, 3, 3), None,
                                  dict(stride=2, padding=1, output_padding=1)),
    }
    for name, (op, x, w, b, kw) in pages.items():
        print("wrote", explain.html(op, x, w, b, path=folder / name, **kw))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print('(the profile chart needs matplotlib: pip install "minigrad[examples]")')
        return
    torch.manual_seed(0)
    p = torch.profile(M(), (64, 784), repeat=2, verbose=False)
    p.plot(folder / "profile_seed001.png", title="minigrad.profile: seed 001's net, batch 64")
    print("wrote", folder / "profile_seed001.png")


SECTIONS = {"kernel": kernel, "size": size, "stride": stride, "pool": pool, "params": params,
            "graph": graph, "anomaly": anomaly, "profile": profile}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run one section")
    parser.add_argument("--html", metavar="DIR", help="also write the explainer's web pages "
                        "(and the profile chart) into DIR; open them in a browser")
    args = parser.parse_args(argv)
    for name, section in SECTIONS.items():
        if args.only in (None, name):
            section()
    if args.html:
        title(f"Web pages: step through the windows in a browser ({args.html})")
        write_pages(args.html)


if __name__ == "__main__":
    main()
