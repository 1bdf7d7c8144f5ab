"""minigrad.viz.draw_graph: the DOT text of a small conv net's graph, the text tree, render."""
import os
import re
import shutil
import stat
import sys

import pytest
import torch as real_torch

import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import viz

NODE = re.compile(r'^    (n\d+) \[label="((?:[^"\\]|\\.)*)"(?: fillcolor=(\S+))?\]$')
EDGE = re.compile(r"^    (n\d+) -> (n\d+)$")


def parse_dot(source):
    nodes, edges = {}, []
    lines = source.splitlines()
    assert lines[0] == "digraph autograd {" and lines[-1] == "}"
    for line in lines[1:-1]:
        m = NODE.match(line)
        if m:
            nodes[m.group(1)] = (m.group(2).split("\\n"), m.group(3) or "op")
            continue
        m = EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2)))
    return nodes, edges


def small_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2, 4))
    return net, net(torch.randn(1, 1, 4, 4)).sum()


def test_small_conv_net_dot():
    net, loss = small_net()
    g = viz.draw_graph(loss, params=dict(net.named_parameters()))
    nodes, edges = parse_dot(g.source)
    assert len(nodes) == 11 and len(edges) == 10
    by_name = {label[0]: node_id for node_id, (label, _) in nodes.items()}
    leaves = sorted(label[0] for label, kind in nodes.values() if kind == "lightblue")
    assert leaves == ["0.bias", "0.weight", "4.bias", "4.weight"]
    outputs = [label for label, kind in nodes.values() if kind == "darkolivegreen1"]
    assert outputs == [["output", "() float32"]]
    ops = {label[0]: label[1] for label, kind in nodes.values() if kind == "op"}
    assert ops["ConvolutionBackward0"] == "(1, 2, 2, 2) float32"
    assert ops["ReluBackward0"] == "(1, 2, 2, 2) float32"
    assert ops["SumBackward0"] == "() float32"
    assert nodes[by_name["0.weight"]][0] == ["0.weight", "(2, 1, 3, 3) float32"]
    assert nodes[by_name["4.bias"]][0] == ["4.bias", "(4) float32"]
    # edges run the way data flows: parameter -> op -> ... -> output
    assert (by_name["0.weight"], by_name["ConvolutionBackward0"]) in edges
    assert (by_name["0.bias"], by_name["ConvolutionBackward0"]) in edges
    assert (by_name["ConvolutionBackward0"], by_name["ReluBackward0"]) in edges
    assert (by_name["SumBackward0"], by_name["output"]) in edges
    # a tree here: every node but the output feeds exactly one node
    sources = [a for a, _ in edges]
    assert sorted(sources) == sorted(n for n in nodes if n != by_name["output"])
    # the same numbers through the Graph API
    assert g.node("ReluBackward0").shape == (1, 2, 2, 2)
    assert [n.name for n in g.inputs_of(g.node("ConvolutionBackward0").id)] == \
        ["0.weight", "0.bias"]


def test_text_tree_exact():
    net, loss = small_net()
    g = viz.draw_graph(loss, params=net)             # a Module works as params too
    assert str(g) == g.text() == "\n".join([
        "output () float32",
        "└── SumBackward0 () float32",
        "    └── AddmmBackward0 (1, 4) float32",
        "        ├── ViewBackward0 (1, 2) float32",
        "        │   └── MaxPool2DWithIndicesBackward0 (1, 2, 1, 1) float32",
        "        │       └── ReluBackward0 (1, 2, 2, 2) float32",
        "        │           └── ConvolutionBackward0 (1, 2, 2, 2) float32",
        "        │               ├── 0.weight (2, 1, 3, 3) float32",
        "        │               └── 0.bias (2) float32",
        "        ├── 4.weight (4, 2) float32",
        "        └── 4.bias (4) float32",
    ])


def test_print_shows_tree(capsys):
    _, loss = small_net()
    print(viz.draw_graph(loss))
    out = capsys.readouterr().out
    assert out.startswith("output () float32\n└── SumBackward0")
    assert "leaf tensor (2, 1, 3, 3) float32" in out      # no params: leaves are unnamed


def test_op_names_match_pytorch():
    """The op nodes of conv -> relu -> max_pool -> sum are named as PyTorch names them."""
    x = [[[[0.0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]]]
    w = [[[[1.0, -1], [0.5, 2]]]]

    def pytorch_names(fn, seen=None):
        seen = set() if seen is None else seen
        if fn is None or fn in seen:
            return seen
        seen.add(fn)
        for nxt, _ in fn.next_functions:
            pytorch_names(nxt, seen)
        return seen

    tw = real_torch.tensor(w, requires_grad=True)
    ty = TF_chain(real_torch, real_torch.nn.functional, real_torch.tensor(x), tw)
    expected = {f.name() for f in pytorch_names(ty.grad_fn)
                if not f.name().endswith("AccumulateGrad")}

    mw = torch.tensor(w, requires_grad=True)
    my = TF_chain(torch, F, torch.tensor(x), mw)
    g = viz.draw_graph(my, params={"w": mw})
    got = {n.name for n in g.nodes if n.kind == "op"}
    assert got == expected == {"ConvolutionBackward0", "ReluBackward0",
                               "MaxPool2DWithIndicesBackward0", "SumBackward0"}
    assert g.node("output").shape == tuple(ty.shape)


def TF_chain(lib, F, x, w):
    return F.max_pool2d(F.relu(F.conv2d(x, w)), 2).sum()


def test_shared_node_drawn_once():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = x * 2
    z = (a + a.exp()).sum()
    g = viz.draw_graph(z, params={"x": x}, show_shapes=False)
    nodes, edges = parse_dot(g.source)
    names = [label[0] for label, _ in nodes.values()]
    assert sorted(names) == sorted(["output", "SumBackward0", "AddBackward0", "MulBackward0",
                                    "ExpBackward0", "x"])
    assert all(len(label) == 1 for label, _ in nodes.values())     # no shapes
    mul = g.node("MulBackward0").id
    assert sorted(b for a, b in edges if a == mul) == sorted(
        [g.node("AddBackward0").id, g.node("ExpBackward0").id])
    assert g.text().splitlines()[-1].endswith("MulBackward0  (shown above)")


def test_several_roots_and_leaf_root():
    x = torch.randn(2, requires_grad=True)
    g = viz.draw_graph([x * 2, x.exp()], params={"x": x})
    assert [n.name for n in g.nodes if n.kind == "output"] == ["output 0", "output 1"]
    assert len([n for n in g.nodes if n.name == "x"]) == 1
    leaf_graph = viz.draw_graph(x, params={"x": x})
    assert [n.name for n in leaf_graph.nodes] == ["output", "x"]


def test_no_graph_raises():
    with torch.no_grad():
        y = torch.randn(2, requires_grad=True) * 2
    with pytest.raises(ValueError, match="no autograd graph"):
        viz.draw_graph(y)
    with pytest.raises(ValueError, match="does not require grad"):
        viz.draw_graph(torch.ones(3))


def test_deep_chain_is_not_recursive():
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(1500):
        y = y * 1.0
    g = viz.draw_graph(y)
    assert len(g.nodes) == 1502 and len(g.edges) == 1501


def test_render_without_dot_raises_clearly(monkeypatch):
    _, loss = small_net()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz"):
        viz.draw_graph(loss).render("graph")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for dot")
def test_render_calls_dot(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\n# fake dot: -Tfmt -o path, DOT text on stdin\n'
                    'echo "$1" > "$3.format"\ncat > "$3"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ.get("PATH", ""))
    _, loss = small_net()
    g = viz.draw_graph(loss)
    out = g.render(tmp_path / "graph", format="png")
    assert out == str(tmp_path / "graph.png")
    assert open(out).read() == g.source
    assert open(out + ".format").read().strip() == "-Tpng"
    assert g.render(str(tmp_path / "g.svg")) == str(tmp_path / "g.svg")   # no double suffix


def test_save(tmp_path):
    _, loss = small_net()
    g = viz.draw_graph(loss)
    path = g.save(tmp_path / "graph.dot")
    assert open(path).read() == g.source


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_with_real_dot(tmp_path):
    _, loss = small_net()
    g = viz.draw_graph(loss)
    out = g.render(tmp_path / "net", format="svg")
    text = open(out).read()
    assert "<svg" in text and "ConvolutionBackward0" in text
    assert "<svg" in g._repr_svg_()
    with pytest.raises(RuntimeError, match="dot -Tno-such-format failed"):
        g.render(tmp_path / "net", format="no-such-format")
