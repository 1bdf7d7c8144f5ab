"""torch.hub, torch.utils.model_zoo and torch.utils._pytree, side by side with PyTorch.

No network: downloads are file:// URLs, and GitHub is a stand-in ``urlopen`` serving a zip
built in tmp_path.  No writes outside tmp_path: TORCH_HOME and the hub directory are
redirected for both libraries.
"""
import collections
import copy
import hashlib
import inspect
import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from urllib.error import HTTPError, URLError

import numpy as np
import pytest
import torch
import torch.hub
import torch.utils._pytree as tpt
import torch.utils.model_zoo

import minigrad
import minigrad.hub
import minigrad.utils._pytree as mpt
import minigrad.utils.model_zoo

NT = collections.namedtuple("NT", "a b")


class ListSub(list):
    pass


class DictSub(dict):
    pass


def _dd(items):
    return collections.defaultdict(list, items)


TREES = [
    1, None, "s", [], (), {}, [1, [2, (3,)]], (None, [None]), {"b": 1, "a": [2, 3]},
    collections.OrderedDict([("y", 1), ("x", (2, 3))]), _dd({2: "v", 1: [4]}),
    collections.deque([1, [2]], maxlen=4), collections.deque([5]), NT(1, [2, {"k": 3}]),
    {"n": NT((1,), None), "l": [ListSub([1, 2]), DictSub(a=1)], "s": {3, 4}},
    [{"a": [1, (2, {"c": 3})]}, (4, collections.OrderedDict(z=5))],
]


# ----------------------------------------------------------------------------------------------
# _pytree
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tree", TREES, ids=range(len(TREES)))
def test_flatten_unflatten_and_spec_as_torch(tree):
    ml, ms = mpt.tree_flatten(tree)
    tl, ts = tpt.tree_flatten(tree)
    assert ml == tl and all(a is b for a, b in zip(ml, tl))
    assert repr(ms) == repr(ts) and str(ms) == str(ts)
    assert (ms.num_leaves, ms.num_nodes, ms.num_children, ms.is_leaf()) == \
        (ts.num_leaves, ts.num_nodes, ts.num_children, ts.is_leaf())
    back = mpt.tree_unflatten(ml, ms)
    assert back == tpt.tree_unflatten(tl, ts) == tree and type(back) is type(tree)
    assert mpt.tree_leaves(tree) == tpt.tree_leaves(tree)
    assert list(mpt.tree_iter(tree)) == list(tpt.tree_iter(tree))
    assert mpt.tree_is_leaf(tree) == tpt.tree_is_leaf(tree)
    inc = lambda x: x + 1 if isinstance(x, int) else x       # noqa: E731
    assert mpt.tree_map(inc, tree) == tpt.tree_map(inc, tree)
    mp = [(mpt.keystr(k), v) for k, v in mpt.tree_flatten_with_path(tree)[0]]
    assert mp == [(tpt.keystr(k), v) for k, v in tpt.tree_flatten_with_path(tree)[0]]
    for kp, leaf in mpt.tree_leaves_with_path(tree):
        assert mpt.key_get(tree, kp) is leaf
    assert mpt.tree_structure(tree) == mpt.tree_structure(copy.deepcopy(tree))
    assert hash(mpt.tree_structure(tree)) == hash(mpt.tree_structure(copy.deepcopy(tree)))


def test_tensor_leaves_and_minigrad_containers():
    mt = {"w": minigrad.ones(2, 3), "b": [minigrad.zeros(3), None], "n": 4}
    tt = {"w": torch.ones(2, 3), "b": [torch.zeros(3), None], "n": 4}
    (ml, ms), (tl, ts) = mpt.tree_flatten(mt), tpt.tree_flatten(tt)
    assert repr(ms) == repr(ts) and len(ml) == len(tl) == 4
    for a, b in zip(ml, tl):
        assert (a is None and b is None) or np.array_equal(np.asarray(a), np.asarray(b))
    doubled = mpt.tree_map_only(minigrad.Tensor, lambda t: t * 2, mt)
    assert doubled["n"] == 4 and float(doubled["w"].sum()) == 12.0
    # Size is a node whose rebuild is a plain tuple; named op results are nodes too
    m_size, t_size = minigrad.Size([2, 3]), torch.Size([2, 3])
    assert mpt.tree_leaves(m_size) == tpt.tree_leaves(t_size) == [2, 3]
    assert repr(mpt.tree_structure(m_size)) == repr(tpt.tree_structure(t_size))
    assert mpt.tree_map(lambda x: x * 2, m_size) == tpt.tree_map(lambda x: x * 2, t_size)
    assert type(mpt.tree_map(lambda x: x, m_size)) is type(tpt.tree_map(lambda x: x, t_size))
    x = [[1.0, 5.0], [3.0, 2.0]]
    for op in ("max", "sort", "topk", "aminmax"):
        args = {"dim": 0} if op == "aminmax" else {"k": 1} if op == "topk" else {}
        mr, tr = (getattr(lib, op)(lib.tensor(x), **args) if args
                  else getattr(lib, op)(lib.tensor(x), 0) for lib in (minigrad, torch))
        ml, tl = mpt.tree_leaves(mr), tpt.tree_leaves(tr)
        assert [a.tolist() for a in ml] == [b.tolist() for b in tl]
        again = mpt.tree_map(lambda t: t + 1, mr)
        assert type(again) is type(mr) and repr(again).split("(")[0] == repr(mr).split("(")[0]
        assert [mpt.keystr(k) for k in dict(mpt.tree_leaves_with_path(mr))] == \
            [tpt.keystr(k) for k in dict(tpt.tree_leaves_with_path(tr))]


MAP_CASES = [
    ([5, 6], [[7, 9], [1, 2]]), ({"a": 1, "b": 2}, collections.OrderedDict(b=3, a=4)),
    (collections.OrderedDict(a=1, b=2), {"b": 3, "a": 4}), ({"a": 1}, _dd({"a": [9]})),
    (collections.deque([1, 2], maxlen=2), collections.deque([3, 4])),
    ([1, 2], [1, 2, 3]), ([1, 2], (1, 2)), ({"a": 1}, {"b": 1}), ({"a": 1, "c": 2},
                                                                  {"a": 1, "b": 1}),
    ([1, [2]], [1, 3]), (NT(1, 2), collections.namedtuple("NT2", "a b")(1, 2)), ((1,), [1]),
    (collections.deque([1]), [1]), ([1], None),
]


@pytest.mark.parametrize("tree,other", MAP_CASES, ids=range(len(MAP_CASES)))
def test_tree_map_several_trees_as_torch(tree, other):
    def pair(x, y):
        return (x, y)

    def run(lib):
        try:
            return lib.tree_map(pair, tree, other)
        except Exception as exc:            # noqa: BLE001  (compared with torch's)
            return type(exc), str(exc)
    assert run(mpt) == run(tpt)
    seen_m, seen_t = [], []
    try:
        tpt.tree_map_(lambda x, y: seen_t.append((x, y)), tree, other)
    except ValueError:
        with pytest.raises(ValueError):
            mpt.tree_map_(lambda x, y: seen_m.append((x, y)), tree, other)
    else:
        assert mpt.tree_map_(lambda x, y: seen_m.append((x, y)), tree, other) is tree
    assert seen_m == seen_t


def _raised(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except Exception as exc:                # noqa: BLE001
        return type(exc), str(exc)
    return None


def test_unflatten_errors_and_argument_order():
    for lib in (mpt, tpt):
        spec = lib.tree_structure([1, (2, 3)])
        assert lib.tree_unflatten(spec, [4, 5, 6]) == [4, (5, 6)]      # either order
        assert lib.tree_unflatten(iter([4, 5, 6]), spec) == [4, (5, 6)]
    for leaves in ([1], [1, 2, 3, 4]):
        assert _raised(mpt.tree_unflatten, leaves, mpt.tree_structure([1, (2, 3)])) == \
            _raised(tpt.tree_unflatten, leaves, tpt.tree_structure([1, (2, 3)]))
    assert _raised(mpt.tree_unflatten, [1], [1])[0] is TypeError
    assert _raised(mpt.tree_unflatten, [1], [1]) == _raised(tpt.tree_unflatten, [1], [1])


def test_predicates_map_only_and_is_leaf():
    tree = {"a": [1, 2.5, "x"], "b": (None, 3)}
    for name, fn in (("tree_all", lambda v: v is not None), ("tree_any", lambda v: v == 3)):
        assert getattr(mpt, name)(fn, tree) == getattr(tpt, name)(fn, tree)
    for name in ("tree_all_only", "tree_any_only"):
        for typ in (int, (int, float), str):
            pred = lambda v: v > 1 if not isinstance(v, str) else v == "x"   # noqa: E731
            assert getattr(mpt, name)(typ, pred, tree) == getattr(tpt, name)(typ, pred, tree)
    inc = lambda v: v + 1                                                     # noqa: E731
    for sel in (int, (int, float), int | float, lambda v: isinstance(v, float)):
        assert mpt.tree_map_only(sel, inc, tree) == tpt.tree_map_only(sel, inc, tree)
    assert _raised(mpt.tree_map_only, 3, inc, tree) == _raised(tpt.tree_map_only, 3, inc, tree)
    is_tuple = lambda v: isinstance(v, tuple)                                 # noqa: E731
    assert mpt.tree_leaves(tree, is_leaf=is_tuple) == tpt.tree_leaves(tree, is_leaf=is_tuple)
    assert repr(mpt.tree_structure(tree, is_tuple)) == repr(tpt.tree_structure(tree, is_tuple))
    box = [[1], [2]]
    mpt.tree_map_only_(list, lambda lst: lst.append(0), box, is_leaf=lambda v: v in ([1], [2]))
    assert box == [[1, 0], [2, 0]]


def test_treespec_equality_leafspec_and_immutability():
    for lib in (mpt, tpt):
        a, b = lib.tree_structure({"x": [1, 2]}), lib.tree_structure({"x": [7, 8]})
        assert a == b and hash(a) == hash(b)
        assert a != lib.tree_structure({"y": [1, 2]}) and a != lib.tree_structure({"x": (1, 2)})
        with pytest.warns(FutureWarning):
            leaf = lib.LeafSpec()
        assert repr(leaf) == "*" and leaf == lib.tree_structure(1) and leaf.is_leaf()
        assert isinstance(lib.tree_structure(None), lib.TreeSpec)
        assert a.context == ["x"] and a.child(0) == lib.tree_structure([0, 0])
        assert a.children() == [lib.tree_structure([0, 0])]
        with pytest.raises(AttributeError):
            a.num_leaves = 3
        made = lib.TreeSpec(list, None, [lib.tree_structure(0), lib.tree_structure(0)])
        assert made == lib.tree_structure([5, 6]) and made.num_leaves == 2
        assert copy.deepcopy(a) == a
        with pytest.raises(AssertionError, match="leaf node should not have a context"):
            lib.TreeSpec(None, 1, [])


class Point:
    def __init__(self, x, y, tag):
        self.x, self.y, self.tag = x, y, tag

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y, self.tag) == (other.x, other.y,
                                                                             other.tag)


def _point_flatten(p):
    return [p.x, p.y], p.tag


def _point_unflatten(values, tag):
    return Point(*values, tag)


class Bare:
    def __init__(self, v):
        self.v = v


@pytest.fixture
def registered():
    for lib in (mpt, tpt):
        lib.register_pytree_node(Point, _point_flatten, _point_unflatten,
                                 serialized_type_name="tests.Point",
                                 flatten_with_keys_fn=lambda p: (
                                     [(lib.GetAttrKey("x"), p.x), (lib.GetAttrKey("y"), p.y)],
                                     p.tag))
        lib.register_pytree_node(Bare, lambda b: ([b.v], None), lambda v, c: Bare(*v))
    yield
    tpt._deregister_pytree_node(Point)
    tpt._deregister_pytree_node(Bare)
    del mpt.SUPPORTED_NODES[Point], mpt.SUPPORTED_NODES[Bare]


def test_register_pytree_node_as_torch(registered):
    tree = {"p": Point(1, [2, 3], "t"), "q": Bare(4)}
    (ml, ms), (tl, ts) = mpt.tree_flatten(tree), tpt.tree_flatten(tree)
    assert ml == tl == [1, 2, 3, 4] and repr(ms) == repr(ts)
    assert mpt.tree_unflatten(ml, ms)["p"] == Point(1, [2, 3], "t")
    assert [mpt.keystr(k) for k, _ in mpt.tree_flatten_with_path(tree["p"])[0]] == \
        [tpt.keystr(k) for k, _ in tpt.tree_flatten_with_path(tree["p"])[0]] == [".x", ".y[0]",
                                                                                   ".y[1]"]
    for args in ((Point, _point_flatten, _point_unflatten),):
        assert _raised(mpt.register_pytree_node, *args) == _raised(tpt.register_pytree_node,
                                                                   *args)
    assert _raised(mpt.tree_flatten_with_path, Bare(1)) == \
        _raised(tpt.tree_flatten_with_path, Bare(1))
    for other in (Point(1, [2, 3], "other"), Point(1, 2, "t"), Bare(1), Point(1, [2], "t")):
        f = lambda a, b: a                                                    # noqa: E731
        assert _raised(mpt.tree_map, f, tree["p"], other) == \
            _raised(tpt.tree_map, f, tree["p"], other)
    assert _raised(mpt.register_pytree_node, NT, _point_flatten, _point_unflatten,
                   to_dumpable_context=str) == \
        _raised(tpt.register_pytree_node, NT, _point_flatten, _point_unflatten,
                to_dumpable_context=str)
    mpt.SUPPORTED_NODES.pop(NT, None)
    tpt.SUPPORTED_NODES.pop(NT, None)


def test_namespace_as_torch():
    assert hasattr(minigrad.utils, "_pytree") == hasattr(torch.utils, "_pytree")
    assert minigrad.utils.model_zoo.load_url is minigrad.hub.load_state_dict_from_url
    assert torch.utils.model_zoo.load_url is torch.hub.load_state_dict_from_url
    missing = [n for n in ("tree_flatten", "tree_unflatten", "tree_map", "tree_map_",
                           "tree_leaves", "tree_structure", "tree_map_only", "tree_all",
                           "tree_any", "TreeSpec", "LeafSpec", "register_pytree_node",
                           "tree_flatten_with_path", "keystr") if not hasattr(mpt, n)]
    assert not missing
    for name in set(torch.hub.__all__):
        mine, theirs = inspect.signature(getattr(minigrad.hub, name)), \
            inspect.signature(getattr(torch.hub, name))
        assert [(p.name, p.kind, p.default) for p in mine.parameters.values()] == \
            [(p.name, p.kind, p.default) for p in theirs.parameters.values()], name
    assert sorted(minigrad.hub.__all__) == sorted(torch.hub.__all__)


# ----------------------------------------------------------------------------------------------
# hub
# ----------------------------------------------------------------------------------------------
LIBS = (minigrad, torch)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """TORCH_HOME in tmp_path, no set_dir in effect, for both libraries."""
    for var in ("XDG_CACHE_HOME", "TORCH_HUB", "TORCH_MODEL_ZOO", "GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    for lib in LIBS:
        monkeypatch.setattr(lib.hub, "_hub_dir", None)
    return tmp_path


def test_get_dir_and_set_dir_as_torch(home, monkeypatch):
    for env in ({"TORCH_HOME": str(home / "th")}, {"XDG_CACHE_HOME": str(home / "xdg")},
                {"HOME": str(home / "user")}, {"TORCH_HOME": "~/th2", "HOME": str(home)}):
        monkeypatch.delenv("TORCH_HOME")
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        assert minigrad.hub.get_dir() == torch.hub.get_dir()
        monkeypatch.setenv("TORCH_HOME", "unused")
    monkeypatch.setenv("HOME", str(home))
    for d in ("~/mine", home / "p"):
        minigrad.hub.set_dir(d)
        torch.hub.set_dir(d)
        assert minigrad.hub.get_dir() == torch.hub.get_dir()
    monkeypatch.setenv("TORCH_HUB", "x")
    for lib in LIBS:
        with pytest.warns(UserWarning, match="TORCH_HUB is deprecated, please use env "
                                             "TORCH_HOME instead"):
            lib.hub.get_dir()
    assert list(home.iterdir()) == []          # get_dir creates nothing


def test_import_creates_nothing(tmp_path):
    code = ("import minigrad, minigrad.hub, minigrad.utils.model_zoo, os; "
            "print(minigrad.hub.get_dir())")
    env = dict(os.environ, TORCH_HOME=str(tmp_path / "never"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == str(tmp_path / "never" / "hub")
    assert not (tmp_path / "never").exists()


def _url(path):
    return "file://" + str(path)


def test_download_url_to_file(home, capsys):
    src = home / "blob.bin"
    src.write_bytes(os.urandom(300_000))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    for lib in LIBS:
        out = home / f"{lib.__name__}" / "dst.bin"
        out.parent.mkdir()
        lib.hub.download_url_to_file(_url(src), str(out), hash_prefix=digest[:10])
        assert out.read_bytes() == src.read_bytes() and os.listdir(out.parent) == ["dst.bin"]
        assert capsys.readouterr().err                      # progress on stderr
        lib.hub.download_url_to_file(_url(src), str(out), progress=False)
        assert capsys.readouterr().err == ""
    errors = []
    for lib in LIBS:
        bad = home / f"{lib.__name__}" / "bad.bin"
        with pytest.raises(RuntimeError) as info:
            lib.hub.download_url_to_file(_url(src), str(bad), hash_prefix="0000", progress=False)
        errors.append(str(info.value))
        assert not bad.exists() and sorted(os.listdir(bad.parent)) == ["dst.bin"]
    assert errors[0] == errors[1] == f'invalid hash value (expected "0000", got "{digest}")'
    for lib in LIBS:
        with pytest.raises(URLError):
            lib.hub.download_url_to_file(_url(home / "absent"), str(home / "x"), progress=False)
    assert not (home / "x").exists() and not [p for p in home.rglob("*.partial")]


def _checkpoint(home):
    """The same weights as a safetensors file (minigrad) and a .pth (torch)."""
    sd = collections.OrderedDict(weight=np.arange(6.0, dtype=np.float32).reshape(2, 3),
                                 bias=np.array([0.5, -1.0], dtype=np.float32))
    served = home / "served"
    served.mkdir(exist_ok=True)
    minigrad.save({k: minigrad.tensor(v) for k, v in sd.items()}, served / "net.safetensors")
    torch.save({k: torch.tensor(v) for k, v in sd.items()}, served / "net.pth")
    return sd, served


def test_load_state_dict_from_url_downloads_once(home, capsys):
    sd, served = _checkpoint(home)
    m_url, t_url = _url(served / "net.safetensors"), _url(served / "net.pth")
    got_m = minigrad.hub.load_state_dict_from_url(m_url, progress=False)
    printed_m = capsys.readouterr().out
    got_t = torch.hub.load_state_dict_from_url(t_url, progress=False)
    printed_t = capsys.readouterr().out
    assert list(got_m) == list(got_t) == list(sd)
    for k in sd:
        assert np.array_equal(got_m[k].numpy(), got_t[k].numpy())
    ckpt = home / "home" / "hub" / "checkpoints"
    assert printed_m == f'Downloading: "{m_url}" to {ckpt / "net.safetensors"}\n'
    assert printed_t == f'Downloading: "{t_url}" to {ckpt / "net.pth"}\n'
    os.remove(served / "net.safetensors")               # the second call reads the cache
    again = minigrad.utils.model_zoo.load_url(m_url, map_location="cpu")
    assert capsys.readouterr().out == "" and np.array_equal(again["bias"].numpy(), sd["bias"])
    _checkpoint(home)
    for lib, url in ((minigrad, m_url), (torch, t_url)):      # model_dir and file_name
        where = home / f"dir_{lib.__name__}"
        lib.hub.load_state_dict_from_url(url, model_dir=str(where), file_name="w.bin",
                                         progress=False)
        assert os.listdir(where) == ["w.bin"]


def test_load_state_dict_from_url_check_hash(home, capsys):
    _, served = _checkpoint(home)
    data = (served / "net.safetensors").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    good = served / f"net-{digest[:8]}.safetensors"
    good.write_bytes(data)
    out = minigrad.hub.load_state_dict_from_url(_url(good), check_hash=True, progress=False)
    assert list(out) == ["weight", "bias"]
    bad = served / "net-deadbeef.safetensors"
    bad.write_bytes(data)
    msgs = []
    for lib in LIBS:
        lib.hub.set_dir(str(home / lib.__name__))
        with pytest.raises(RuntimeError) as info:
            lib.hub.load_state_dict_from_url(_url(bad), check_hash=True, progress=False)
        msgs.append(str(info.value))
        assert os.listdir(home / lib.__name__ / "checkpoints") == []
    assert msgs[0] == msgs[1] == f'invalid hash value (expected "deadbeef", got "{digest}")'
    # without check_hash the name is not read
    minigrad.hub.load_state_dict_from_url(_url(bad), progress=False)


def test_torch_pickles_load_and_other_zips_are_refused(home):
    sd, served = _checkpoint(home)
    # a torch.save .pth loads (its pickle read with PyTorch's weights_only allowlist)
    got = minigrad.hub.load_state_dict_from_url(_url(served / "net.pth"), progress=False,
                                                weights_only=True)
    assert list(got) == list(sd)
    for k in sd:
        np.testing.assert_array_equal(got[k].numpy(), sd[k])
    legacy = served / "legacy.zip"
    with zipfile.ZipFile(legacy, "w") as zf:
        zf.write(served / "net.safetensors", "net.safetensors")
    # (torch.load's words for a zip without a version record, then which file it was)
    with pytest.raises(RuntimeError, match="not a torch.save checkpoint"):
        minigrad.hub.load_state_dict_from_url(_url(legacy), progress=False)


HUBCONF = '''
"""A tiny hub repository."""
import {lib}
from {helper} import WIDTH

dependencies = {deps!r}
VALUE = 3


def tiny(n=WIDTH, bias=True):
    """A Linear layer from n features to 1."""
    return {lib}.nn.Linear(n, 1, bias=bias)


def _hidden():
    return 0
'''


def _write_repo(folder, lib, deps=("numpy",)):
    """A hubconf.py importing ``lib`` and a helper module beside it (named per folder, so
    that the two libraries' repositories never share a cached module)."""
    folder.mkdir(parents=True, exist_ok=True)
    helper = f"helper_{lib}_{abs(hash(str(folder))) % 10**8}"
    (folder / f"{helper}.py").write_text("WIDTH = 4\n")
    (folder / "hubconf.py").write_text(HUBCONF.format(lib=lib, helper=helper, deps=list(deps)))
    return folder


def _no_leftovers(folder):
    assert "hubconf" not in sys.modules and "hubconf.py" not in sys.modules
    assert str(folder) not in sys.path


def test_load_local_as_torch(home):
    out = {}
    for lib in LIBS:
        repo = _write_repo(home / f"local_{lib.__name__}", lib.__name__)
        model = lib.hub.load(str(repo), "tiny", 3, source="local", bias=False)
        assert type(model).__name__ == "Linear" and tuple(model.weight.shape) == (1, 3)
        assert model.bias is None and lib.hub.load(repo, "tiny", source="LOCAL").in_features == 4
        _no_leftovers(repo)
        out[lib] = [_raised(lib.hub.load, str(repo), name, source="local")
                    for name in ("nope", "VALUE", "_absent", 7)]
        out[lib].append(_raised(lib.hub.load, str(repo), "tiny", source="svn"))
        bad = _write_repo(home / f"deps_{lib.__name__}", lib.__name__,
                          deps=["numpy", "no_such_pkg_zz", "nor_this_one"])
        out[lib].append(_raised(lib.hub.load, str(bad), "tiny", source="local"))
        _no_leftovers(bad)
    assert out[minigrad] == out[torch]
    assert out[torch][0] == (RuntimeError, "Cannot find callable nope in hubconf")
    assert out[torch][-1] == (RuntimeError, "Missing dependencies: no_such_pkg_zz, nor_this_one")
    assert out[torch][3][0] is ValueError and out[torch][4][0] is ValueError


class _GitHub:
    """A stand-in for urllib's urlopen: GitHub's pages, API and zipballs from tmp_path."""

    def __init__(self, root, zips, branches=("main",), offline=False, ambiguous=()):
        self.root, self.zips, self.calls = root, zips, []
        self.branches, self.offline, self.ambiguous = branches, offline, ambiguous

    def _json(self, name, value):
        path = self.root / name
        path.write_text(json.dumps(value))
        return urllib.request.urlopen(_url(path))

    def __call__(self, req, *args, **kwargs):
        url = getattr(req, "full_url", req)
        self.calls.append(url)
        if self.offline:
            raise URLError("no network in tests")
        if "/tree/main/" in url:
            if "main" not in self.branches:
                raise HTTPError(url, 404, "Not Found", {}, None)
            return self._json("page.json", {})
        if url.startswith("https://api.github.com/"):
            page = int(url.rsplit("page=", 1)[1])
            kind = "branches" if "/branches?" in url else "tags"
            names = self.branches if kind == "branches" and page == 1 else ()
            return self._json("api.json", [{"name": n, "commit": {"sha": "abc123" + n}}
                                           for n in names])
        ref = url.split("/zipball/", 1)[1]
        if ref in self.ambiguous:
            raise HTTPError(url, 300, "Multiple Choices", {}, None)
        return urllib.request.urlopen(_url(self.zips[ref.replace("refs/heads/", "")]))


def _zipball(home, lib, ref, extra=()):
    src = _write_repo(home / f"src_{lib.__name__}_{ref}", lib.__name__)
    path = home / f"{lib.__name__}_{ref}.zip"
    top = "owner-repo-abc123/"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(top, "")
        for f in sorted(src.iterdir()):
            zf.write(f, top + f.name)
        for name in extra:
            zf.writestr(name, "x = 1\n")
    return path


@pytest.fixture
def github(home, monkeypatch):
    """Per library: its own hub directory and a stand-in urlopen (returns a setup function)."""
    def setup(lib, **kwargs):
        monkeypatch.setattr(lib.hub, "_hub_dir", str(home / f"hub_{lib.__name__}"))
        zips = {ref: _zipball(home, lib, ref) for ref in ("main", "master", "v1")}
        fake = _GitHub(home, zips, **kwargs)
        monkeypatch.setattr(lib.hub, "urlopen", fake)
        return fake
    return setup


def test_github_load_list_help_and_cache(github, capsys):
    seen = {}
    for lib in LIBS:
        fake = github(lib)
        model = lib.hub.load("owner/repo", "tiny", 2, trust_repo=True)
        assert type(model).__name__ == "Linear" and model.in_features == 2
        hub_dir = lib.hub.get_dir()
        printed = capsys.readouterr()
        assert printed.out == (f'Downloading: "https://github.com/owner/repo/zipball/main" to '
                               f'{hub_dir}/main.zip\n')
        assert sorted(os.listdir(hub_dir)) == ["owner_repo_main", "trusted_list"]
        with open(os.path.join(hub_dir, "trusted_list")) as f:
            assert f.read() == "owner_repo\n"
        n = len(fake.calls)
        lib.hub.load("owner/repo", "tiny", trust_repo="check")          # cached, trusted
        assert printed.err == "" and capsys.readouterr().err == \
            f"Using cache found in {hub_dir}/owner_repo_main\n"
        assert not any("zipball" in c for c in fake.calls[n:])
        seen[lib] = (lib.hub.list("owner/repo:v1", skip_validation=True, trust_repo=True),
                     lib.hub.help("owner/repo:v1", "tiny", trust_repo=True),
                     _raised(lib.hub.help, "owner/repo:v1", "VALUE"),
                     _raised(lib.hub.load, "owner/repo:nope", "tiny"),
                     _raised(lib.hub.load, "owner/re/po", "tiny"))
        assert "owner_repo_v1" in os.listdir(hub_dir)
        _no_leftovers(os.path.join(hub_dir, "owner_repo_v1"))
        capsys.readouterr()
    assert seen[minigrad] == seen[torch]
    assert seen[torch][0] == ["tiny"] and seen[torch][1] == "A Linear layer from n features to 1."


def test_github_trust_default_branch_and_errors(github, monkeypatch, capsys):
    seen = {}
    for lib in LIBS:
        fake = github(lib, branches=("master",))
        prompts = []
        answers = iter(["maybe", "n", "y"])
        monkeypatch.setattr("builtins.input", lambda text: prompts.append(text) or next(answers))
        got = [_raised(lib.hub.load, "stranger/repo", "tiny") for _ in range(2)]
        lib.hub.load("stranger/repo", "tiny")                      # 'y': now on the list
        assert any(c.endswith("/zipball/master") for c in fake.calls)
        with open(os.path.join(lib.hub.get_dir(), "trusted_list")) as f:
            assert f.read() == "stranger_repo\n"
        lib.hub.load("stranger/repo", "tiny", trust_repo="check")   # no prompt this time
        assert len(prompts) == 3
        fake.offline = True                                         # cached: found offline
        assert lib.hub.load("stranger/repo", "tiny").in_features == 4
        other = _raised(lib.hub.load, "stranger/other", "tiny", trust_repo=True)
        fake.offline = False
        fake.ambiguous = ("v1",)
        with pytest.warns(UserWarning, match="The ref v1 is ambiguous"):
            lib.hub.load("owner/repo:v1", "tiny", skip_validation=True, trust_repo=True)
        assert fake.calls[-1].endswith("/zipball/refs/heads/v1")
        seen[lib] = (got, prompts[0], other[0],
                     other[1].replace(lib.hub.get_dir(), "<hub>"))
        capsys.readouterr()
    assert seen[minigrad] == seen[torch]
    assert seen[torch][0] == [(ValueError, "Unrecognized response maybe."),
                              (Exception, "Untrusted repository.")]


def test_github_zip_entries_stay_inside_the_cache(github, home):
    seen = {}
    for lib in LIBS:
        fake = github(lib)
        fake.zips["v2"] = _zipball(home, lib, "v2", extra=["owner-repo-abc123/../../evil.py"])
        seen[lib] = _raised(lib.hub.load, "owner/repo:v2", "tiny", skip_validation=True,
                            trust_repo=True)
        assert not (home / "evil.py").exists()
    assert seen[minigrad] == seen[torch] == (
        ValueError, "Archive entry contains directory traversal: owner-repo-abc123/../../evil.py")
