"""The layering the README and docs/autograd.md promise, kept true.

* no import cycle among minigrad's modules (module-level imports only);
* no import of a minigrad module inside a function or method (such imports hide cycles);
* ``tensor.py`` imports no op and no part of the backward engine: Tensor's methods reach the
  ops only through ``_tensor_methods*.py``, the one documented exception.
"""
import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "minigrad"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(name):
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def _is_module(name):
    base = PACKAGE.parent / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _resolve(current, node):
    """The minigrad modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "minigrad"]
    if node.level:
        package = current if _is_package(current) else current.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        target = f"{package}.{node.module}" if node.module else package
    else:
        target = node.module or ""
    if target.split(".")[0] != "minigrad":
        return []
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if _is_module(sub) else target)
    return out


def _imports():
    """module -> (module-level imports, function-local imports as (line, target)) of the
    package at ``PACKAGE`` (parsed once per package: every test here reads the same graph)."""
    return _imports_of(PACKAGE)


@functools.lru_cache(maxsize=None)
def _imports_of(package):
    graph = {}
    for path in sorted(package.rglob("*.py")):
        name = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top, local = set(), []
        stack = [(tree, False)]
        while stack:                          # every node once, knowing if a def encloses it
            node, in_function = stack.pop()
            if in_function and isinstance(node, (ast.Import, ast.ImportFrom)):
                local += [(node.lineno, t) for t in _resolve(name, node)]
            inside = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            stack.extend((child, inside) for child in ast.iter_child_nodes(node))
        for node in tree.body:
            stack = [node]
            while stack:                      # top level, including inside if/try blocks
                n = stack.pop()
                if isinstance(n, (ast.Import, ast.ImportFrom)):
                    top.update(_resolve(name, n))
                elif isinstance(n, (ast.If, ast.Try)):
                    stack.extend(ast.iter_child_nodes(n))
                    for h in getattr(n, "handlers", ()):
                        stack.extend(h.body)
        graph[name] = (top - {name}, local)
    return graph


def test_no_import_inside_functions():
    found = [f"{mod}:{line} imports {target}" for mod, (_, local) in _imports().items()
             for line, target in local]
    assert not found, "function-local imports of minigrad modules:\n" + "\n".join(found)


def test_module_imports_have_no_cycle():
    graph = {m: top for m, (top, _) in _imports().items()}
    state, path = {}, []

    def visit(m):
        state[m] = "open"
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                cycle = path[path.index(n):] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = "done"
    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_tensor_imports_no_op_and_no_engine():
    top, _ = _imports()["minigrad.tensor"]
    # (_hooks: the hook handle class; _type_names: how PyTorch's messages name a Python
    # type; _warn_once: PyTorch's once-a-process warnings; _meta: the meta device's arrays;
    # none imports anything from minigrad)
    # (_tensor_base, _tensor_python, _size, _data_conversion, _grad_dtype, _tensor_copies:
    # the base classes, the version counters, Size, the conversion of data to arrays and
    # back, grad_dtype and a deep copy's memory, split out of tensor.py; they import no op
    # either)
    below = {"minigrad.backend", "minigrad.dtypes", "minigrad._formatting",
             "minigrad._grad_state", "minigrad._hooks", "minigrad._type_names",
             "minigrad._warn_once", "minigrad._meta"}
    split_out = {"minigrad._tensor_base", "minigrad._tensor_python", "minigrad._size",
                 "minigrad._data_conversion", "minigrad._grad_dtype", "minigrad._tensor_copies"}
    assert top <= below | split_out, top
    for part in split_out:
        part_imports, _ = _imports()[part]
        assert part_imports <= below | split_out, (part, part_imports)
    for leaf in ("minigrad._hooks", "minigrad._type_names", "minigrad._warn_once",
                 "minigrad._meta"):
        leaf_imports, _ = _imports()[leaf]
        assert not leaf_imports, (leaf, leaf_imports)


def test_the_checker_sees_a_cycle_and_a_local_import(tmp_path, monkeypatch):
    # the checks above can fail: a fake package with both defects
    fake = tmp_path / "minigrad"
    (fake / "sub").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "sub" / "__init__.py").write_text("")
    (fake / "a.py").write_text("from . import b\n")
    (fake / "b.py").write_text("from .sub import c\n")
    (fake / "sub" / "c.py").write_text("from .. import a\n\ndef f():\n    from ..b import x\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    graph = _imports()
    assert graph["minigrad.a"][0] == {"minigrad.b"}
    assert graph["minigrad.sub.c"][1] == [(4, "minigrad.b")]
    try:
        test_module_imports_have_no_cycle()
    except AssertionError as exc:
        assert "minigrad.a -> minigrad.b -> minigrad.sub.c -> minigrad.a" in str(exc)
    else:
        raise AssertionError("the cycle was not found")
