"""PyTorch's own module samples (the ModuleInfo database, ``module_db``) run on minigrad's layers.

For every ``module_db`` entry whose class minigrad.nn has, each of its ModuleInputs (the
constructor's arguments, the forward's arguments) builds the layer in both libraries; torch's
parameters and buffers are loaded into minigrad's through ``load_state_dict`` (so the state
dicts must have the same keys and shapes), and both run forward, in training and in eval mode
where op_db says they differ:

* float64: the outputs, the inputs' gradients and every parameter's gradient of a fixed
  weighted sum of the outputs must agree, and so must the buffers after the step (running
  statistics);
* float32: the outputs, to 1e-5 of their scale.

Layers that draw random numbers (dropout, RReLU in training) are compared by shape and dtype.
The error inputs (``module_error_inputs_func``) must make minigrad raise the same exception
type at the same stage (construction or forward), its message matching torch's regex. Importing ``module_db`` takes a few seconds
(it needs ``expecttest``), so this is a slow test: ``pytest --runslow
tests/test_moduleinfo_db.py``.
"""
import os
import re
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

pytestmark = pytest.mark.slow

_SLOW = os.environ.get("MINIGRAD_SLOW", "") not in ("", "0")    # conftest: --runslow sets it

# layers whose outputs are random draws in training mode: compared by shape and dtype there
_RANDOM = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout", "RReLU", "FractionalMaxPool2d", "FractionalMaxPool3d"}


def _modules():
    from torch.testing._internal.common_modules import module_db
    return [mi for mi in module_db if hasattr(minigrad.nn, mi.module_cls.__name__)]


MODULES = _modules() if _SLOW else []
CASES = [(mi, dtype) for mi in MODULES for dtype in (torch.float64, torch.float32)
         if dtype in mi.dtypes]


def _layer_like(layer):
    """minigrad's TransformerEncoderLayer/DecoderLayer configured as torch's ``layer`` (an
    argument of TransformerEncoder/Decoder, which copies it); its weights come with the
    container's state dict."""
    cls = getattr(minigrad.nn, type(layer).__name__)
    act = layer.activation
    name = act.__name__ if callable(act) and hasattr(act, "__name__") else type(act).__name__
    return cls(layer.self_attn.embed_dim, layer.self_attn.num_heads,
               dim_feedforward=layer.linear1.out_features, dropout=layer.dropout.p,
               activation=getattr(minigrad.nn.functional, name.lower()),
               layer_norm_eps=layer.norm1.eps, batch_first=layer.self_attn.batch_first,
               norm_first=layer.norm_first, bias=layer.linear1.bias is not None)


def _to_minigrad(x, seen):
    """The same arguments for minigrad (one torch tensor passed twice stays one tensor); a
    tensor that requires grad does so in minigrad as a leaf, whether or not torch's is one."""
    if isinstance(x, torch.Tensor):
        if id(x) not in seen:
            t = minigrad.tensor(x.detach().numpy())
            seen[id(x)] = t.requires_grad_(True) if x.requires_grad else t
        return seen[id(x)]
    if callable(x) and getattr(torch.nn.functional, getattr(x, "__name__", ""), None) is x:
        return getattr(minigrad.nn.functional, x.__name__)     # activation=F.gelu
    if isinstance(x, (torch.nn.TransformerEncoderLayer, torch.nn.TransformerDecoderLayer)):
        return _layer_like(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_to_minigrad(v, seen) for v in x)
    if isinstance(x, dict):
        return {k: _to_minigrad(v, seen) for k, v in x.items()}
    if isinstance(x, torch.dtype):
        return getattr(minigrad, str(x).replace("torch.", ""))
    if isinstance(x, torch.nn.Module) and hasattr(minigrad.nn, type(x).__name__) and \
            not list(x.parameters()):
        return getattr(minigrad.nn, type(x).__name__)()
    return x


def _outputs(out):
    """The tensors a forward returned, nested tuples (an LSTM's (h, c)) flattened."""
    if isinstance(out, (list, tuple)):
        return [o for v in out for o in _outputs(v)]
    if isinstance(out, (torch.Tensor, minigrad.Tensor)):
        return [out]
    return []


def _leaves(x):
    """The tensors that require grad, in order (torch's non-leaf ones included: their grad
    stays None, so they only keep the two lists aligned)."""
    if isinstance(x, (torch.Tensor, minigrad.Tensor)):
        return [x] if x.requires_grad else []
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _leaves(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _leaves(v)]
    return []


def _numpy(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _close(mine, theirs, dtype, what):
    m, t = _numpy(mine), _numpy(theirs)
    assert m.shape == t.shape, f"{what}: shape {m.shape} vs {t.shape}"
    if t.dtype.kind != "f":
        np.testing.assert_array_equal(m, t, err_msg=what)
        return
    if dtype == torch.float64:
        np.testing.assert_allclose(m, t, rtol=1e-6, atol=1e-9, equal_nan=True, err_msg=what)
    else:
        finite = np.abs(t[np.isfinite(t)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        np.testing.assert_allclose(m, t, rtol=1e-5, atol=1e-5 * scale, equal_nan=True,
                                   err_msg=what)


def _build(lib, cls_name, constructor, dtype, training, seen):
    cls = getattr(lib.nn, cls_name)
    args, kwargs = constructor.args, constructor.kwargs
    if lib is minigrad:
        args, kwargs = _to_minigrad(args, seen), _to_minigrad(kwargs, seen)
    module = cls(*args, **kwargs)
    if dtype is not None:
        module.to(getattr(lib, str(dtype).replace("torch.", "")))
    module.train(training)
    return module


def _weighted_loss(lib, outs):
    total = None
    for o in outs:
        if not o.requires_grad:
            continue
        w = lib.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)), dtype=o.dtype)
        term = (o * w).sum()
        total = term if total is None else total + term
    return total


def check_module_input(mi, module_input, dtype, training):
    name = mi.module_cls.__name__
    random = training and name in _RANDOM
    seen = {}
    torch.manual_seed(0)
    theirs = _build(torch, name, module_input.constructor_input, dtype, training, {})
    mine = _build(minigrad, name, module_input.constructor_input, dtype, training, seen)
    fargs, fkwargs = module_input.forward_input.args, module_input.forward_input.kwargs
    margs, mkwargs = _to_minigrad(fargs, seen), _to_minigrad(fkwargs, seen)
    if mi.is_lazy:                    # a first call gives the parameters their shapes
        with torch.no_grad(), minigrad.no_grad():
            theirs(*fargs, **fkwargs)
            mine(*margs, **mkwargs)
    state = theirs.state_dict()
    mine.load_state_dict({k: minigrad.tensor(v.detach().numpy()) for k, v in state.items()})
    their_outs = _outputs(theirs(*fargs, **fkwargs))
    my_outs = _outputs(mine(*margs, **mkwargs))
    assert len(my_outs) == len(their_outs), f"{len(my_outs)} outputs vs {len(their_outs)}"
    for i, (m, t) in enumerate(zip(my_outs, their_outs)):
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], \
            f"output {i}: dtype {m.dtype} vs {t.dtype}"
        if random:
            assert tuple(m.shape) == tuple(t.shape), f"output {i}: shape {m.shape} vs {t.shape}"
        else:
            _close(m, t, dtype, f"output {i}")
    if dtype != torch.float64 or random:
        return
    their_loss, my_loss = _weighted_loss(torch, their_outs), _weighted_loss(minigrad, my_outs)
    if their_loss is None:
        return
    their_loss.backward()
    my_loss.backward()
    for k, (m, t) in enumerate(zip(_leaves([margs, mkwargs]), _leaves([fargs, fkwargs]))):
        if t.grad is not None:
            assert m.grad is not None, f"input {k}: no gradient"
            _close(m.grad, t.grad, dtype, f"gradient of input {k}")
    my_params = dict(mine.named_parameters())
    for pname, p in theirs.named_parameters():
        if p.grad is not None:
            assert my_params[pname].grad is not None, f"{pname}: no gradient"
            _close(my_params[pname].grad, p.grad, dtype, f"gradient of {pname}")
    my_buffers = dict(mine.named_buffers())
    for bname, b in theirs.named_buffers():
        if b is not None and bname in my_buffers and my_buffers[bname] is not None:
            _close(my_buffers[bname], b, dtype, f"buffer {bname}")


def check_module(mi, dtype):
    agree, disagree = 0, []
    modes = (True, False) if mi.train_and_eval_differ else (True,)
    for training in modes:
        inputs = mi.module_inputs_func(mi, device="cpu", dtype=dtype,
                                       requires_grad=dtype == torch.float64, training=training)
        for module_input in inputs:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    check_module_input(mi, module_input, dtype, training)
                agree += 1
            except Exception as exc:  # noqa: BLE001
                disagree.append(f"{'train' if training else 'eval'} {module_input.desc!r}: "
                                f"{type(exc).__name__}: {str(exc)[:300]}")
    return agree, disagree


@pytest.mark.parametrize("mi, dtype", CASES,
                         ids=[f"{mi.name}-{str(dtype)[6:]}" for mi, dtype in CASES])
def test_module_samples(mi, dtype):
    agree, disagree = check_module(mi, dtype)
    assert not disagree, f"{mi.name} {dtype}: {agree} samples agree, {len(disagree)} do " \
        "not:\n" + "\n".join(disagree[:6])


ERROR_CASES = [mi for mi in MODULES if mi.module_error_inputs_func is not None]


def _raised(name, module_input, stage):
    """(the stage that raised, the exception) for minigrad, or (None, None)."""
    seen = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # built as given, in the dtypes of its arguments (NLLLoss's float16 weight must
            # stay float16 to be refused), as PyTorch's own error test builds it
            module = _build(minigrad, name, module_input.constructor_input, None, True, seen)
        except Exception as exc:  # noqa: BLE001
            return "constructor", exc
        if stage == "forward":
            fwd = module_input.forward_input
            try:
                module(*_to_minigrad(fwd.args, seen), **_to_minigrad(fwd.kwargs, seen))
            except Exception as exc:  # noqa: BLE001
                return "forward", exc
    return None, None


@pytest.mark.parametrize("mi", ERROR_CASES, ids=[mi.name for mi in ERROR_CASES])
def test_module_error_inputs(mi):
    """Each of module_db's error inputs: minigrad refuses it at the same stage (building the
    layer or calling it) with the same exception type as PyTorch, in words its regex matches."""
    failures = []
    for error_input in mi.module_error_inputs_func(mi, device="cpu", dtype=torch.float32,
                                                   requires_grad=False, training=True):
        stage = "constructor" if "CONSTRUCTION" in str(error_input.error_on) else "forward"
        where, exc = _raised(mi.module_cls.__name__, error_input.module_error_input, stage)
        expected = error_input.error_type.__name__
        if exc is None:
            failures.append(f"{error_input.error_regex!r}: nothing raised, expected {expected} "
                            f"at {stage}")
        elif where != stage or not isinstance(exc, error_input.error_type) or \
                not re.search(error_input.error_regex, str(exc)):
            failures.append(f"{error_input.error_regex!r}: {exc!r} at {where}, expected "
                            f"{expected} at {stage}")
    assert not failures, f"{mi.name}: " + "\n".join(failures)
