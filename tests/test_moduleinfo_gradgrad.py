"""PyTorch's own module samples (``module_db``) checked to second order and in forward mode.

tests/test_moduleinfo_db.py runs every ``module_db`` layer minigrad.nn has forward and
backward; this file takes the same layers (built alike: torch's state dict loaded into
minigrad's, its translation helpers imported) further, in float64, with the second-order and
forward-mode checks of tests/test_opinfo_gradgrad.py (its helpers imported too), on at most
``MAX_SAMPLES`` of each layer's ModuleInputs (spread over the list) in each mode, training and
eval where they differ:

* ``test_module_gradgrad``: with ``s = sum(w * y)`` over the layer's outputs ``y`` (fixed
  weights ``w``), ``g = d s / d (inputs, parameters)`` taken with ``create_graph=True``, then
  the gradient of ``sum(v * g)`` (fixed ``v``) in the inputs, the parameters (Hessian-vector
  products) and the weights ``w`` (``J v``). All three must agree with torch's.
* ``test_module_jvp``: every input that requires grad and every parameter made a dual tensor
  with a fixed tangent (the parameters through ``func.functional_call``), the outputs'
  tangents must agree with torch's forward mode.

Where torch has no double backward (it raises), the Hessian-vector products and ``J v`` are
compared with central differences of torch's first gradient and outputs instead, and where it
has no forward derivative, the tangents with central differences of its outputs (CTCLoss's
torch gradient is no reference for the first: a layer left with no sample is skipped, saying
why). torch's attention runs on its math kernel (see ``_math_attention``). Layers that draw
random numbers in training are compared in eval mode only.

Slow tests, as test_moduleinfo_db: ``pytest --runslow tests/test_moduleinfo_gradgrad.py``.
(They found no difference from torch; a regression test for one would go in a file without
this module's slow mark, so that it runs by default.)
"""
import contextlib
import warnings

import numpy as np
import pytest

import minigrad
from minigrad.autograd import forward_ad as my_forward_ad

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

import test_moduleinfo_db as mdb  # noqa: E402
import test_opinfo_db as db  # noqa: E402
import test_opinfo_gradgrad as gg  # noqa: E402
from torch.autograd import forward_ad as their_forward_ad  # noqa: E402

pytestmark = pytest.mark.slow

# ModuleInputs per layer and mode: each costs two backward passes (and a forward-mode pass)
# in each library; the list is spread over, so the plain and the keyword variants both come
MAX_SAMPLES = 8

# (the layers that draw random numbers in training, and are the same in eval, have no sample
# left to compare: not listed)
CASES = [mi for mi in mdb.MODULES if torch.float64 in mi.dtypes and
         (mi.module_cls.__name__ not in mdb._RANDOM or mi.train_and_eval_differ)]
# (ModuleInfo has no forward-AD flag: every layer, central differences where torch has none)
JVP_CASES = CASES


def _pairs(mi):
    """(sample description, torch's layer, minigrad's, torch's (args, kwargs), minigrad's)
    for the float64 samples of ``mi``, each layer built from the same parameters."""
    name = mi.module_cls.__name__
    modes = (True, False) if mi.train_and_eval_differ else (True,)
    for training in modes:
        if training and name in mdb._RANDOM:
            continue
        inputs = list(mi.module_inputs_func(mi, device="cpu", dtype=torch.float64,
                                            requires_grad=True, training=training))
        for module_input in _spread(inputs):
            seen = {}
            torch.manual_seed(0)
            constructor = module_input.constructor_input
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = mdb._build(torch, name, constructor, torch.float64, training, {})
                mine = mdb._build(minigrad, name, constructor, torch.float64, training, seen)
                fargs, fkwargs = module_input.forward_input.args, module_input.forward_input.kwargs
                margs, mkwargs = mdb._to_minigrad(fargs, seen), mdb._to_minigrad(fkwargs, seen)
                if mi.is_lazy:            # a first call gives the parameters their shapes
                    with torch.no_grad(), minigrad.no_grad():
                        theirs(*fargs, **fkwargs)
                        mine(*margs, **mkwargs)
                state = theirs.state_dict()
                mine.load_state_dict({k: minigrad.tensor(v.detach().numpy())
                                      for k, v in state.items()})
            desc = f"{'train' if training else 'eval'} {module_input.desc!r}"
            yield desc, theirs, mine, (fargs, fkwargs), (margs, mkwargs)


def _spread(inputs):
    picks = np.linspace(0, len(inputs) - 1, MAX_SAMPLES).round().astype(int)
    return [inputs[i] for i in sorted(set(picks))]


def _params(theirs, mine):
    """The two layers' parameters, in torch's order (matched by name)."""
    my_params = dict(mine.named_parameters())
    names = [n for n, _ in theirs.named_parameters()]
    return ([p for _, p in theirs.named_parameters()], [my_params[n] for n in names])


def _math_attention(lib):
    """torch's attention on its reference (math) kernel: on CPU it picks a flash kernel whose
    backward has no derivative, so torch would have no second order for the transformer
    layers; the math kernel computes the same function with every derivative."""
    if lib is torch:
        return torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH)
    return contextlib.nullcontext()


def _call(lib, module):
    """The layer as a function of (args, kwargs, parameters): the parameters are passed only
    so that they are among the leaves the second-order helper differentiates in."""
    def fn(args, kwargs, params):
        with _math_attention(lib):
            return module(*args, **kwargs)
    return fn


def _wrong_torch_jvp(module):
    """Samples whose torch tangent is not a reference: LinearCrossEntropyLoss given options
    takes torch's chunked path, whose tangent is 0 (central differences of torch's own loss
    agree with minigrad's tangent)."""
    return type(module).__name__ == "LinearCrossEntropyLoss" and module.options is not None


# central differences' step, and the tolerance they are compared to
_STEP, _FD_ATOL = 1e-5, 1e-6

# layers whose torch first gradient is not a reference, so neither are its central
# differences: CTCLoss's gradient for log_probs assumes a log_softmax came first (see
# test_opinfo_db._WRONG_TORCH_GRAD)
_WRONG_TORCH_GRAD = {"CTCLoss"}


def _moved(nest, step, phase):
    """``nest`` with each tensor requiring grad moved by ``step`` times a fixed direction
    (the one test_opinfo_gradgrad's helpers weight or seed that leaf with), and the moved
    leaves, which require grad."""
    leaves = gg._grad_leaves(nest)
    moved = {id(t): (t.detach() + step * torch.tensor(gg._fixed(tuple(t.shape), phase + k)))
             .requires_grad_(True) for k, t in enumerate(leaves)}
    return gg._replaced(nest, moved), list(moved.values())


def _central_second_order(fn, nest):
    """Where torch has no double backward: torch's first gradient g, and the Hessian-vector
    product and J v as central differences of torch's g and outputs along v (the Hessian is
    symmetric, so the gradient of sum(v * g) is the derivative of g along v)."""
    def at(step):
        args, leaves = _moved(nest, step, 0.7)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = [o for o in db._outputs(fn(*args)) if o.requires_grad]
            s = sum(gg._weighted(o, torch, 0.0) for o in out)
            g = torch.autograd.grad(s, leaves, allow_unused=True)
        return ([gg._numbers(o, ()) for o in out],
                [gg._numbers(d, tuple(t.shape)) for d, t in zip(g, leaves)])
    up, down = at(_STEP), at(-_STEP)
    diff = [[(a - b) / (2 * _STEP) for a, b in zip(u, d)] for u, d in zip(up, down)]
    return at(0.0)[1], diff[1], diff[0]


def _central_tangents(fn, nest):
    """Where torch has no forward derivative: its outputs' central differences along the
    tangents test_opinfo_gradgrad's helper seeds each leaf with."""
    def at(step):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [gg._numbers(o, ()) for o in gg._floating(fn(*_moved(nest, step, 0.3)[0]),
                                                              torch)]
    return [(a - b) / (2 * _STEP) for a, b in zip(at(_STEP), at(-_STEP))]


def check_gradgrad(mi):
    agree, disagree = 0, []
    for desc, theirs, mine, (targs, tkwargs), (margs, mkwargs) in _pairs(mi):
        tparams, mparams = _params(theirs, mine)
        _, their_g, their_h, their_jv, their_error = gg._second_order(
            _call(torch, theirs), [targs, tkwargs, tparams], {}, torch)
        atol = 1e-9
        if their_error is not None and type(theirs).__name__ in _WRONG_TORCH_GRAD:
            continue
        if their_error is not None:    # no double backward in torch: central differences
            their_g, their_h, their_jv = _central_second_order(
                _call(torch, theirs), [targs, tkwargs, tparams])
            desc, atol = f"{desc} (central differences of torch's gradient)", _FD_ATOL
        if their_g is None:
            continue                   # no gradient
        _, my_g, my_h, my_jv, my_error = gg._second_order(
            _call(minigrad, mine), [margs, mkwargs, mparams], {}, minigrad)
        try:
            assert my_error is None, f"minigrad raised {my_error!r}"
            assert my_g is not None, "minigrad's outputs do not require grad"
            gg._close(my_g, their_g, "first gradient", 1e-9)
            gg._close(my_h, their_h, "Hessian-vector product", atol)
            gg._close(my_jv, their_jv, "derivative in the output weights", atol)
            agree += 1
        except AssertionError as exc:
            disagree.append(f"{desc}: {str(exc)[:400]}")
    return agree, disagree


def _functional(lib, module, names):
    """The layer as a function of (args, kwargs, parameters), the parameters swapped in by
    ``func.functional_call`` (so that they can be dual tensors)."""
    call = torch.func.functional_call if lib is torch else minigrad.func.functional_call

    def fn(args, kwargs, params):
        with _math_attention(lib):
            return call(module, dict(zip(names, params)), tuple(args), dict(kwargs))
    return fn


def check_jvp(mi):
    agree, disagree = 0, []
    for desc, theirs, mine, (targs, tkwargs), (margs, mkwargs) in _pairs(mi):
        tparams, mparams = _params(theirs, mine)
        names = [n for n, _ in theirs.named_parameters()]
        targs_all, margs_all = [list(targs), tkwargs, tparams], [list(margs), mkwargs, mparams]
        if not gg._grad_leaves(targs_all) or _wrong_torch_jvp(theirs):
            continue
        _, their_t, their_error = gg._tangents(_functional(torch, theirs, names), targs_all,
                                               {}, torch, their_forward_ad)
        atol = 1e-9
        if their_error is not None:    # no forward derivative in torch: central differences
            their_t = _central_tangents(_functional(torch, theirs, names), targs_all)
            desc, atol = f"{desc} (central differences of torch's outputs)", _FD_ATOL
        _, my_t, my_error = gg._tangents(_functional(minigrad, mine, names), margs_all, {},
                                         minigrad, my_forward_ad)
        try:
            assert my_error is None, f"minigrad raised {my_error!r}"
            gg._close(my_t, their_t, "tangent", atol)
            agree += 1
        except AssertionError as exc:
            disagree.append(f"{desc}: {str(exc)[:400]}")
    return agree, disagree


@pytest.mark.parametrize("mi", CASES, ids=[mi.name for mi in CASES])
def test_module_gradgrad(mi):
    agree, disagree = check_gradgrad(mi)
    if not agree and not disagree:
        pytest.skip(f"torch has no double backward for {mi.name}, and its first gradient is "
                    "no reference for central differences")
    assert not disagree, f"{mi.name}: {agree} samples agree, {len(disagree)} do not:\n" + \
        "\n".join(disagree[:5])


@pytest.mark.parametrize("mi", JVP_CASES, ids=[mi.name for mi in JVP_CASES])
def test_module_jvp(mi):
    agree, disagree = check_jvp(mi)
    if not agree and not disagree:
        pytest.skip(f"no sample of {mi.name} has inputs or parameters that require grad")
    assert not disagree, f"{mi.name}: {agree} samples agree, {len(disagree)} do not:\n" + \
        "\n".join(disagree[:5])
