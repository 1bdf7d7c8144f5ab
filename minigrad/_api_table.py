"""Generate docs/api-coverage.md: what minigrad has of PyTorch's API, read from the code.

    python -m minigrad._api_table            # print the table
    python -m minigrad._api_table --write    # rewrite docs/api-coverage.md

Each row is one namespace PyTorch code uses (``torch``, ``torch.Tensor``, ``torch.nn``,
``torch.nn.functional``, ...), with the public names minigrad defines there, found by
walking the modules (not a hand-kept list).  ``tests/test_breadth_api_table.py``
regenerates it and fails when the committed file is stale.
"""
from __future__ import annotations

import argparse
import inspect
import os
import sys

import minigrad
import minigrad.nn.functional as F
from minigrad.optim import lr_scheduler
from minigrad.nn.utils import parametrizations, prune

__all__ = ["namespaces", "table", "main"]

LEFT_OUT = (
    "Deliberately left out: complex32 and the float8 types (numpy has none of them; "
    "bfloat16 is ml_dtypes', CPU only), the compressed sparse layouts CSC, BSR and BSC (COO and 2-d CSR tensors are "
    "in, with torch.sparse.mm/addmm/sum), nested and quantized tensors, "
    "distributed training on more than one process, the JIT and export (torch.compile runs eagerly: a function comes "
    "back unchanged, a module wrapped as PyTorch's OptimizedModule), CUDA streams, and "
    "torchvision/torchaudio (datasets are read with minigrad.utils.data).")


def _public(obj, kind):
    names = []
    for name in dir(obj):
        if name.startswith("_") and not (kind == "tensor" and name in _DUNDERS):
            continue
        value = getattr(obj, name, None)
        if inspect.ismodule(value):
            continue
        if kind == "module" and not (inspect.isclass(value) or callable(value)):
            continue
        if kind == "classes" and not inspect.isclass(value):
            continue
        names.append(name)
    return sorted(names, key=str.lower)


_DUNDERS = {"__add__", "__sub__", "__mul__", "__truediv__", "__matmul__", "__pow__",
            "__getitem__", "__setitem__", "__neg__", "__abs__", "__floordiv__", "__mod__",
            "__eq__", "__lt__", "__and__", "__or__", "__invert__", "__iadd__"}


def namespaces():
    """[(torch's name, minigrad's names there)] for every namespace of the table."""
    def exported(module):
        """A namespace module's own names: its ``__all__``, sorted as the other rows."""
        return sorted(module.__all__, key=str.lower)

    def functions_of(module):
        return [n for n in _public(module, "module") if not inspect.isclass(getattr(module, n))]

    torch_classes = {"Tensor", "Size", "Generator", "device", "dtype", "memory_format",
                     "no_grad", "enable_grad", "set_grad_enabled", "inference_mode"}
    top = [n for n in _public(minigrad, "module")
           if not inspect.isclass(getattr(minigrad, n)) or n in torch_classes]
    dtypes = sorted(n for n in dir(minigrad) if isinstance(getattr(minigrad, n, None),
                                                          minigrad.dtype))
    formats = sorted(n for n in dir(minigrad) if isinstance(getattr(minigrad, n, None),
                                                           minigrad.memory_format))
    rows = [
        ("torch (functions and classes)", top),
        ("torch dtypes", dtypes),
        ("torch memory formats", formats),
        ("torch.Tensor (methods and properties)", _public(minigrad.Tensor, "tensor")),
        ("torch.nn (layers and containers)", [n for n in _public(minigrad.nn, "classes")
                                              if issubclass(getattr(minigrad.nn, n),
                                                            minigrad.nn.Module)]),
        ("torch.nn.functional", functions_of(F)),
        ("torch.nn.init", functions_of(minigrad.nn.init)),
        ("torch.nn.utils", functions_of(minigrad.nn.utils)),
        ("torch.optim", _public(minigrad.optim, "classes")),
        ("torch.optim.lr_scheduler", [n for n in _public(lr_scheduler, "classes")
                                      if not n.startswith("_") and n not in ("Counter",
                                                                             "Optimizer")]),
        ("torch.autograd", _public(minigrad.autograd, "module")),
        ("torch.linalg", functions_of(minigrad.linalg)),
        ("torch.fft", exported(minigrad.fft)),
        ("torch.functional", functions_of(minigrad.functional)),
        ("torch.backends", sorted(minigrad.backends.__all__)),
        ("torch.utils.data", _public(minigrad.utils.data, "classes")),
        ("torch.special", exported(minigrad.special)),
        ("torch.masked", exported(minigrad.masked)),
        ("torch.sparse", exported(minigrad.sparse)),
        ("torch.distributions", [n for n in exported(minigrad.distributions)
                                 if n not in ("constraints", "transforms", "utils")]),
        ("torch.func", exported(minigrad.func)),
        ("torch.amp", exported(minigrad.amp)),
        ("torch.jit", exported(minigrad.jit)),
        ("torch.signal.windows", exported(minigrad.signal.windows)),
        ("torch.nn.utils.parametrizations", exported(parametrizations)),
        ("torch.nn.utils.prune", exported(prune)),
        ("torch.optim.swa_utils", exported(minigrad.optim.swa_utils)),
        ("torch.utils.checkpoint", exported(minigrad.utils.checkpoint)),
        ("torch.autograd.graph", exported(minigrad.autograd.graph)),
        ("torch.autograd.profiler", exported(minigrad.autograd.profiler)),
        ("torch.profiler", exported(minigrad.profiler)),
        ("torch.distributed", exported(minigrad.distributed)),
        ("torch.multiprocessing", exported(minigrad.multiprocessing)),
        ("torch.accelerator", exported(minigrad.accelerator)),
        ("torch.compiler", exported(minigrad.compiler)),
        ("torch.hub", exported(minigrad.hub)),
        ("torch.utils.model_zoo", exported(minigrad.utils.model_zoo)),
        ("torch.overrides", exported(minigrad.overrides)),
        ("torch.library", exported(minigrad.library)),
        ("torch._dynamo", exported(minigrad._dynamo)),
        ("torch.utils.benchmark", exported(minigrad.utils.benchmark)),
        ("torch.utils.dlpack", exported(minigrad.utils.dlpack)),
        ("torch.storage", exported(minigrad.storage)),
        ("torch.utils.flop_counter", exported(minigrad.utils.flop_counter)),
    ]
    return rows


def table():
    """The markdown page."""
    lines = [
        "# What minigrad has of PyTorch's API",
        "",
        "Generated from the code by `python -m minigrad._api_table --write` (do not edit by "
        "hand: `tests/test_breadth_api_table.py` fails when this page is stale).  Each row "
        "lists the public names minigrad defines in the namespace PyTorch code imports them "
        "from; each behaves as PyTorch's (signatures, defaults, errors), checked against torch "
        "by the op registry and the tests.",
        "",
        "`F.unfold` is the im2col step of `conv2d` made visible: it returns every sliding "
        "window of the padded input as one column, (N, C, H, W) -> (N, C*kh*kw, L), in the "
        "order of conv2d's weight, so `w.view(C_out, -1) @ F.unfold(x, k)` is the convolution "
        "before its reshape; `F.fold` puts columns back, adding where windows overlap.",
        "",
        "The modules libraries import in passing are there too: `torch.overrides` and "
        "`torch._C`'s switches of the `__torch_function__` protocol, which minigrad's own "
        "functions and Tensor methods take part in (Tensor subclasses keep their class; a "
        "`TorchFunctionMode` sees every call while it is active, factories included); "
        "`torch.library.custom_op` makes an operator from an annotated function, with "
        "PyTorch's schema, `register_autograd` and `register_kernel` (no `torch.ops` "
        "namespace, `Library` or `opcheck`); `torch._dynamo` holds `config` and the "
        "compiler's names, all eager; `torch.utils.benchmark` times and prints as PyTorch's "
        "(Python statements only); `torch.utils.dlpack` shares memory through DLPack objects "
        "and capsules; `torch.storage` holds the storage classes; "
        "`torch.utils.flop_counter.FlopCounterMode` counts the FLOPs of matrix products and "
        "convolutions, forward and backward, per module, under PyTorch's aten names.",
        "",
        "| namespace | count | names |",
        "|---|---:|---|",
    ]
    total = 0
    for title, names in namespaces():
        total += len(names)
        shown = ", ".join(f"`{n}`" for n in names)
        lines.append(f"| {title} | {len(names)} | {shown} |")
    lines += ["", f"{total} names in all.", "", LEFT_OUT, ""]
    return "\n".join(lines)


def _doc_path():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(here), "docs", "api-coverage.md")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minigrad._api_table",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite docs/api-coverage.md")
    args = parser.parse_args(argv)
    text = table()
    if args.write:
        with open(_doc_path(), "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
