"""PyTorch's op_db samples in complex128 (values and gradients) and complex64 (values), with
minigrad's own complex refusals counted as failures, and op_db's reference inputs in both.

tests/test_opinfo_db.py runs op_db's samples in the complex dtypes too, but passes over a
sample that minigrad refuses with its "not implemented for 'ComplexFloat'" gate (a clear
error, not a wrong answer), and runs the reference inputs (extremal values, large and
non-contiguous tensors) in float64 and float32 only. Here:

* ``test_opinfo_complex_samples``: every op that op_db says takes complex numbers on CPU
  must give torch's values, dtypes and gradients (PyTorch's convention: a complex leaf's
  gradient is dL/dx + i dL/dy of the real loss, the weighted sum of the outputs' real and
  imaginary parts that test_opinfo_db.py builds), or refuse with torch's exception type; a
  refusal of minigrad's own where torch computes fails;
* ``test_opinfo_complex_reference_inputs``: the same over op_db's reference inputs;
* ``test_module_complex_samples``: the layers of PyTorch's ``module_db`` that it says take
  complex numbers (tests/test_moduleinfo_db.py runs float64 and float32 only), built alike
  with torch's parameters loaded: outputs, and in complex128 the gradients of the inputs and
  parameters;
* ``test_opinfo_complex_gradgrad`` and ``test_opinfo_complex_jvp``: tests/test_opinfo_gradgrad.py's
  second derivatives and forward-mode tangents in complex128, a refusal counted again.

Where torch's value is not a reference, the elements are set apart (``_SPECIAL_VALUES``).
Slow, as test_opinfo_db.py: ``pytest --runslow tests/test_opinfo_round37_complex.py``.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

import minigrad  # noqa: E402
import test_moduleinfo_db as mdb  # noqa: E402
import test_opinfo_db as db  # noqa: E402
import test_opinfo_gradgrad as gg  # noqa: E402

pytestmark = pytest.mark.slow

COMPLEX = (torch.complex128, torch.complex64)
CASES = [(op, fn, dtype) for op, fn in db.OPS for dtype in COMPLEX
         if op.supports_dtype(dtype, "cpu")]
REFERENCE_CASES = [(op, fn, dtype) for op, fn, dtype in CASES
                   if op.reference_inputs_func is not None]

# ops whose complex results at infinite or NaN inputs, or where a step overflows, follow no
# reference: for these the elements where an input is not finite (of the output, and of each
# gradient, an element of a broadcast input counting for every element it reaches), or where
# torch's own value (or gradient) is not finite, are set apart. What was found on op_db's
# reference inputs:
# - ldexp: x * 2^e with 2^e past the float range is inf+inf i, which torch's complex product
#   turns into NaN (numpy's keeps the infinities, as C's Annex G asks); the gradient for x,
#   conj(2^e), at e = -inf+inf i is C's special value 0 in torch, NaN in numpy's power
# - logaddexp: torch's gradient exp(a) / (exp(a) + exp(b)) overflows to NaN for finite
#   inputs 1000 apart (501+501i and -501-501i), where the softmax weight is 0 or 1, as here;
#   at infinite inputs torch gives inf+NaN i (C's clog of an infinite sum), here NaN+NaN i
# - pow, float_power, __rpow__: the gradient for the exponent at a zero base is NaN in torch
#   unless the exponent is real and >= 0; 0^b is 0 near any b with Re b > 0, so its
#   derivative there is 0, as here. A power past the float range (-501-501i to the
#   1e20+1e20i) has a phase of 1e20 radians, which no rounding keeps: torch's and numpy's
#   infinities point different ways. At infinite inputs cpow's special cases differ
# - expm1: the gradient at -inf+inf i is exp(z), C's special value +-0+-0i here and NaN in
#   torch
_SPECIAL_VALUES = {"ldexp", "logaddexp", "pow", "float_power", "__rpow__", "expm1"}


def _sum_to_shape(mask, shape):
    """``mask`` (of a broadcast output's shape) any-reduced to ``shape`` (an input's), as a
    gradient sums over the dims an input was broadcast along."""
    lead = mask.ndim - len(shape)
    if lead < 0:
        return np.broadcast_to(mask, shape)
    mask = mask.any(axis=tuple(range(lead))) if lead else mask
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and mask.shape[i] != 1)
    return mask.any(axis=dims, keepdims=True) if dims else mask


def _not_finite_inputs(sample, shape):
    """Where an input of the sample (its tensors, broadcast together) is not finite, reduced
    to ``shape``; None where the tensors do not broadcast to one shape."""
    tensors = [a.detach().resolve_conj().numpy() for a in [sample.input, *sample.args]
               if isinstance(a, torch.Tensor)]
    try:
        full = np.broadcast_shapes(*(a.shape for a in tensors), shape)
    except ValueError:
        return None
    mask = np.zeros(full, dtype=bool)
    for a in tensors:
        mask |= ~np.isfinite(a)
    return _sum_to_shape(mask, shape)


@pytest.fixture
def complex_rules(monkeypatch):
    """check_op of test_opinfo_db with minigrad's complex refusals counted as failures, and
    for an op of ``_SPECIAL_VALUES`` the elements described there set apart."""
    monkeypatch.setattr(db, "_refused_complex", lambda error: False)
    plain_mask, plain_apart = db.wrong_torch_mask, db.set_apart
    special = {"on": False}

    def mask(op, sample, target, shape):
        own = plain_mask(op, sample, target, shape)
        if op.name not in _SPECIAL_VALUES:
            return own
        special["on"] = True
        extra = _not_finite_inputs(sample, tuple(shape))
        if extra is None:
            return own
        return extra if own is None else own | extra

    def apart(mask_, *arrays):
        if special["on"]:
            theirs = np.asarray(arrays[-1])
            off = ~np.isfinite(theirs)
            mask_ = off if mask_ is None else mask_ | off
        return plain_apart(mask_, *arrays)

    monkeypatch.setattr(db, "wrong_torch_mask", mask)
    monkeypatch.setattr(db, "set_apart", apart)


def _check(op, fn, dtype, inputs):
    agree, disagree = db.check_op(op, fn, dtype, inputs=inputs)
    assert not disagree, f"{db._op_id(op)} {dtype}: {agree} samples agree, {len(disagree)} " \
        "do not:\n" + "\n".join(disagree[:5])
    return agree


@pytest.mark.parametrize("op, fn, dtype", CASES,
                         ids=[f"{db._op_id(op)}-{str(dtype)[6:]}" for op, _, dtype in CASES])
def test_opinfo_complex_samples(op, fn, dtype, complex_rules):
    if not _check(op, fn, dtype, "sample_inputs"):
        pytest.skip(f"no {dtype} samples of {db._op_id(op)} on CPU")


@pytest.mark.parametrize("op, fn, dtype", REFERENCE_CASES,
                         ids=[f"{db._op_id(op)}-{str(dtype)[6:]}"
                              for op, _, dtype in REFERENCE_CASES])
def test_opinfo_complex_reference_inputs(op, fn, dtype, complex_rules):
    if not _check(op, fn, dtype, "reference_inputs"):
        pytest.skip(f"no {dtype} reference samples of {db._op_id(op)} on CPU")


MODULE_CASES = [(mi, dtype) for mi in mdb.MODULES for dtype in COMPLEX if dtype in mi.dtypes]


def _real_loss(lib, outs):
    """The real weighted sum of test_opinfo_db over the outputs that require grad."""
    terms = [db._weighted(o, lib) for o in outs if o.requires_grad]
    return sum(terms[1:], terms[0]) if terms else None


def _check_module_input(mi, module_input, dtype, training):
    name, seen = mi.module_cls.__name__, {}
    theirs = mdb._build(torch, name, module_input.constructor_input, dtype, training, {})
    mine = mdb._build(minigrad, name, module_input.constructor_input, dtype, training, seen)
    fargs, fkwargs = module_input.forward_input.args, module_input.forward_input.kwargs
    margs, mkwargs = mdb._to_minigrad(fargs, seen), mdb._to_minigrad(fkwargs, seen)
    mine.load_state_dict({k: minigrad.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    their_outs = mdb._outputs(theirs(*fargs, **fkwargs))
    my_outs = mdb._outputs(mine(*margs, **mkwargs))
    assert len(my_outs) == len(their_outs), f"{len(my_outs)} outputs vs {len(their_outs)}"
    for m, t in zip(my_outs, their_outs):
        db._same_meta(m, t)
        db._same_values(m, t, dtype)
    their_loss = _real_loss(torch, their_outs)
    if dtype != torch.complex128 or their_loss is None:
        return
    their_loss.backward()
    _real_loss(minigrad, my_outs).backward()
    pairs = list(zip(mdb._leaves([margs, mkwargs]), mdb._leaves([fargs, fkwargs])))
    my_params = dict(mine.named_parameters())
    pairs += [(my_params[k], p) for k, p in theirs.named_parameters()]
    for m, t in pairs:
        if t.grad is not None:
            assert m.grad is not None, "no gradient"
            db._same_meta(m.grad, t.grad)
            db._assert_close(db._values(m.grad), db._values(t.grad), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("mi, dtype", MODULE_CASES,
                         ids=[f"{mi.name}-{str(dtype)[6:]}" for mi, dtype in MODULE_CASES])
def test_module_complex_samples(mi, dtype):
    agree, disagree = 0, []
    for training in (True, False) if mi.train_and_eval_differ else (True,):
        for module_input in mi.module_inputs_func(mi, device="cpu", dtype=dtype,
                                                  requires_grad=dtype == torch.complex128,
                                                  training=training):
            try:
                _check_module_input(mi, module_input, dtype, training)
                agree += 1
            except Exception as exc:  # noqa: BLE001
                disagree.append(f"{module_input.desc!r}: {type(exc).__name__}: {exc}"[:300])
    assert agree and not disagree, f"{mi.name} {dtype}: {agree} agree, {len(disagree)} " \
        "do not:\n" + "\n".join(disagree[:5])


def _second_order_params(cases, test):
    return gg._params([case for case in cases if case[2] == torch.complex128], test)


@pytest.mark.parametrize("op, fn, dtype", _second_order_params(gg.GRADGRAD_CASES, "gradgrad"))
def test_opinfo_complex_gradgrad(op, fn, dtype, monkeypatch):
    monkeypatch.setattr(db, "_refused_complex", lambda error: False)
    agree, disagree = gg.check_gradgrad(op, fn, dtype)
    assert not disagree, f"{db._op_id(op)}: {agree} agree, {len(disagree)} do not:\n" + \
        "\n".join(disagree[:3])


@pytest.mark.parametrize("op, fn, dtype", _second_order_params(gg.JVP_CASES, "jvp"))
def test_opinfo_complex_jvp(op, fn, dtype, monkeypatch):
    monkeypatch.setattr(db, "_refused_complex", lambda error: False)
    agree, disagree = gg.check_jvp(op, fn, dtype)
    assert not disagree, f"{db._op_id(op)}: {agree} agree, {len(disagree)} do not:\n" + \
        "\n".join(disagree[:3])
