"""Warnings name the user's line, as PyTorch's do.

Each case below is a small user program, run once with ``torch`` and once with ``minigrad``
(handed in as ``T``).  The warning it triggers must have the same category, the same words
(minigrad's own name read as torch's) and the same ``filename`` / ``lineno``: this file and the
line of the call, whichever way the call came in (the ``torch.*`` function, the Tensor method,
an ``nn`` module, a ``__torch_function__`` subclass).  Warnings PyTorch gives once a process are
seen every time under ``set_warn_always(True)``, which each run turns on.
"""
import dis
import os
import re
import warnings

import numpy as np
import pytest
import torch

import minigrad

def _typed_storage(T):
    if T is torch:
        # PyTorch warns of TypedStorage once a process, whatever set_warn_always says: an
        # earlier test in this worker may have used its turn
        torch.storage._warn_typed_storage_removal.__dict__["has_warned"] = False
    else:
        from minigrad import _storage       # (minigrad keeps its turn the same way)
        _storage._warned.clear()
    return T.FloatStorage(2)


def _first(T, case, key):
    """The first warning ``case(T)`` gives whose words contain ``key``."""
    before = T.is_warn_always_enabled()
    T.set_warn_always(True)
    try:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            case(T)
    finally:
        T.set_warn_always(before)
    hits = [w for w in got if key in str(w.message)]
    assert hits, f"{T.__name__}: no warning with {key!r} among {[str(w.message) for w in got]}"
    return hits[0]


def _words(w):
    """The message, minigrad's name read as torch's, without the C++ source place that
    PyTorch's warnings from its C++ side end with."""
    text = str(w.message).replace("minigrad", "torch")
    return re.sub(r" \(Triggered internally at [^)]*\.\)$", "", text)


# ----------------------------------------------------------------------------------------------
# the user programs: (name, key words, whether minigrad's words are PyTorch's, program)
# ----------------------------------------------------------------------------------------------
def _add_legacy_function(T):
    x = T.ones(3)
    T.add(x, 2, x)


def _add_legacy_method(T):
    x = T.ones(3)
    x.add(2, x)


def _masked_fill_expanded(T):
    x = T.zeros(1, 3).expand(2, 3)
    x.masked_fill_(T.ones(2, 3, dtype=T.bool), 1.)


def _optimizer_duplicates(T):
    p = T.nn.Parameter(T.ones(2))
    T.optim.SGD([p, p], lr=0.1)


def _sched(T, plateau=False):
    opt = T.optim.SGD([T.nn.Parameter(T.ones(2))], lr=0.1)
    if plateau:
        return opt, T.optim.lr_scheduler.ReduceLROnPlateau(opt)
    return opt, T.optim.lr_scheduler.StepLR(opt, 1)


def _sched_before_opt(T):
    opt, sched = _sched(T)
    sched.step()


def _sched_epoch(T):
    opt, sched = _sched(T)
    opt.step()
    sched.step(3)


def _plateau_epoch(T):
    opt, sched = _sched(T, plateau=True)
    opt.step()
    sched.step(1., 3)


def _sched_get_lr(T):
    opt, sched = _sched(T)
    sched.get_lr()


def _encoder_nested(T):
    layer = T.nn.TransformerEncoderLayer(4, 2, batch_first=False)
    T.nn.TransformerEncoder(layer, 2)


def _affine_grid_unit(T):
    T.nn.functional.affine_grid(T.eye(2, 3).unsqueeze(0), [1, 1, 1, 2], align_corners=True)


def _numpy_read_only(T):
    a = np.ones(2)
    a.flags.writeable = False
    T.from_numpy(a)


def _multihead_mask_mismatch(T):
    m = T.nn.MultiheadAttention(4, 2)
    x = T.ones(3, 1, 4)
    m(x, x, x, key_padding_mask=T.zeros(1, 3, dtype=T.bool), attn_mask=T.zeros(3, 3))


def _user_module_forward(T):
    class Net(T.nn.Module):
        def forward(self, x):
            return T.nn.functional.softmax(x) + x.var()

    Net()(T.ones(1))


def _user_module_method(T):
    class Net(T.nn.Module):
        def forward(self, x):
            return x.mT

    Net()(T.tensor(1.))


class _Sub(torch.Tensor):
    pass


class _MiniSub(minigrad.Tensor):
    pass


def _subclass_method(T):
    x = T.ones(1).as_subclass(_Sub if T is torch else _MiniSub)
    x.var()


# (name, words to find it by, where PyTorch names: 'user' (the calling line of this file) or
# 'torch' (a line of its own package: minigrad names the user's line there), whether minigrad's
# words are PyTorch's (False: minigrad words it its own way), the program)
CASES = [
    ("var_function", "degrees of freedom is <= 0", "user", True,
     lambda T: T.var(T.ones(1))),
    ("var_method", "degrees of freedom is <= 0", "user", True,
     lambda T: T.ones(1).var()),
    ("std_method", "degrees of freedom is <= 0", "user", True,
     lambda T: T.ones(1, 3).std(dim=0)),
    ("cov_function", "degrees of freedom is <= 0", "user", True,
     lambda T: T.cov(T.ones(2, 1))),
    ("cov_method", "degrees of freedom is <= 0", "user", True,
     lambda T: T.ones(2, 1).cov()),
    ("searchsorted", "non-contiguous", "user", True,
     lambda T: T.searchsorted(T.arange(12.).reshape(3, 4).t(), T.ones(4, 2))),
    ("mT_zero_dim", "deprecated on 0-D", "user", True,
     lambda T: T.tensor(1.).mT),
    ("mH_zero_dim", "deprecated on 0-D", "user", True,
     lambda T: T.tensor(1.).mH),
    ("H_zero_dim", "deprecated on 0-D", "user", True,
     lambda T: T.tensor(1.).H),
    ("adjoint_function", "deprecated on 0-D", "user", True,
     lambda T: T.adjoint(T.tensor(1.))),
    ("adjoint_method", "deprecated on 0-D", "user", True,
     lambda T: T.tensor(1.).adjoint()),
    ("T_three_dims", "x.T", "user", True,
     lambda T: T.ones(2, 3, 4).T),
    ("add_legacy_function", "overload of add", "user", True, _add_legacy_function),
    ("add_legacy_method", "overload of add", "user", False, _add_legacy_method),
    ("where_uint8", "uint8 condition", "user", True,
     lambda T: T.where(T.tensor([1, 0], dtype=T.uint8), T.ones(2), T.zeros(2))),
    ("index_uint8_read", "uint8", "user", True,
     lambda T: T.arange(3.)[T.tensor([1, 0, 1], dtype=T.uint8)]),
    ("masked_fill_expanded", "expanded tensors", "user", True, _masked_fill_expanded),
    ("index_reduce", "index_reduce()", "user", True,
     lambda T: T.ones(3).index_reduce(0, T.tensor([0, 1]), T.ones(2), "prod")),
    ("complex_float", "imaginary part", "user", True,
     lambda T: T.ones(2, dtype=T.complex64).float()),
    ("complex_to", "imaginary part", "user", True,
     lambda T: T.ones(2, dtype=T.complex64).to(T.float64)),
    ("complex_copy", "imaginary part", "user", True,
     lambda T: T.zeros(2).copy_(T.ones(2, dtype=T.complex64))),
    ("complex_sum_dtype", "imaginary part", "user", True,
     lambda T: T.sum(T.ones(2, dtype=T.complex64), dtype=T.float32)),
    ("complex_module", "imaginary part", "torch", True,
     lambda T: T.nn.Linear(2, 2, dtype=T.complex64).to(T.float32)),
    ("chain_matmul", "chain_matmul", "torch", True,
     lambda T: T.chain_matmul(T.ones(2, 2), T.ones(2, 2))),
    ("frobenius_norm", "frobenius_norm", "user", True,
     lambda T: T.frobenius_norm(T.ones(2, 2), dim=(0, 1))),
    ("stft_no_window", "window", "torch", True,
     lambda T: T.stft(T.ones(64), 16, return_complex=True)),
    ("meshgrid", "indexing argument", "torch", True,
     lambda T: T.meshgrid(T.ones(2), T.ones(3))),
    ("upsample", "upsample", "user", True,
     lambda T: T.nn.functional.upsample(T.ones(1, 1, 2), scale_factor=2)),
    ("upsample_nearest", "upsample_nearest", "user", True,
     lambda T: T.nn.functional.upsample_nearest(T.ones(1, 1, 2), scale_factor=2)),
    ("grid_sample", "align_corners", "user", True,
     lambda T: T.nn.functional.grid_sample(T.ones(1, 1, 2, 2), T.zeros(1, 1, 1, 2))),
    ("affine_grid", "align_corners", "user", True,
     lambda T: T.nn.functional.affine_grid(T.eye(2, 3).unsqueeze(0), [1, 1, 2, 2])),
    ("dropout2d", "dropout2d", "user", False,
     lambda T: T.nn.functional.dropout2d(T.ones(2, 3, 4))),
    ("dropout2d_module", "dropout2d", "torch", False,
     lambda T: T.nn.Dropout2d()(T.ones(2, 3, 4))),
    ("softmax", "Implicit dimension", "user", False,
     lambda T: T.nn.functional.softmax(T.ones(2, 3))),
    ("log_softmax", "Implicit dimension", "user", False,
     lambda T: T.nn.functional.log_softmax(T.ones(2, 3))),
    ("softmax_module", "Implicit dimension", "torch", True,
     lambda T: T.nn.Softmax()(T.ones(2, 3))),
    ("softmin_module", "Implicit dimension", "torch", True,
     lambda T: T.nn.Softmin()(T.ones(2, 3))),
    ("mse_size_average", "size_average", "torch", True,
     lambda T: T.nn.functional.mse_loss(T.ones(2), T.ones(2), size_average=False)),
    ("mse_module_size_average", "size_average", "torch", True,
     lambda T: T.nn.MSELoss(size_average=False)),
    ("mse_target_size", "target size", "user", False,
     lambda T: T.nn.functional.mse_loss(T.ones(2, 1), T.ones(2))),
    ("l1_target_size", "target size", "user", False,
     lambda T: T.nn.functional.l1_loss(T.ones(2, 1), T.ones(2))),
    ("mse_module_target_size", "target size", "torch", False,
     lambda T: T.nn.MSELoss()(T.ones(2, 1), T.ones(2))),
    ("kl_div_mean", "batchmean", "user", True,
     lambda T: T.nn.functional.kl_div(T.ones(2), T.ones(2))),
    ("gumbel_eps", "eps", "user", True,
     lambda T: T.nn.functional.gumbel_softmax(T.ones(2, 3), eps=1e-3)),
    ("rms_norm_mismatch", "Mismatch dtype", "torch", True,
     lambda T: T.nn.functional.rms_norm(T.ones(2, 3), (3,), weight=T.ones(3, dtype=T.float64))),
    ("init_zero_element", "zero-element", "user", True,
     lambda T: T.nn.init.kaiming_uniform_(T.empty(0, 3))),
    ("init_trunc_normal", "2 std", "torch", True,
     lambda T: T.nn.init.trunc_normal_(T.empty(3), mean=10.)),
    ("init_old_name", "nn.init.normal", "user", True,
     lambda T: T.nn.init.normal(T.empty(3))),
    ("clip_grad_norm_old", "clip_grad_norm", "user", True,
     lambda T: T.nn.utils.clip_grad_norm([T.ones(2, requires_grad=True)], 1.)),
    ("weight_norm_old", "weight_norm", "torch", True,
     lambda T: T.nn.utils.weight_norm(T.nn.Linear(2, 2))),
    ("hardtanh_min_value", "min_value", "user", True,
     lambda T: T.nn.Hardtanh(min_value=-2.)),
    ("module_to_complex", "Complex modules", "user", False,
     lambda T: T.nn.Linear(2, 2).to(T.complex64)),
    ("state_dict_positional", "Positional args", "user", True,
     lambda T: T.nn.Linear(2, 2).state_dict({}, "")),
    ("optimizer_duplicates", "duplicate parameters", "torch", False, _optimizer_duplicates),
    ("tensor_of_tensor", "copy construct", "user", True,
     lambda T: T.tensor(T.ones(2))),
    ("new_tensor_of_tensor", "copy construct", "user", True,
     lambda T: T.ones(2).new_tensor(T.ones(2))),
    ("list_of_arrays", "numpy.ndarrays", "user", True,
     lambda T: T.tensor([np.zeros(2), np.zeros(2)])),
    ("matmul_precision", "is not one of", "torch", False,
     lambda T: T.set_float32_matmul_precision("fastest")),
    ("subclass_method", "degrees of freedom is <= 0", "torch", True, _subclass_method),
    ("sched_before_opt", "before `optimizer.step()`", "user", False, _sched_before_opt),
    ("sched_epoch", "epoch parameter", "user", False, _sched_epoch),
    ("plateau_epoch", "epoch parameter", "user", False, _plateau_epoch),
    ("sched_get_lr", "get_last_lr", "torch", True, _sched_get_lr),
    ("container", "nn.Container", "user", True,
     lambda T: T.nn.Container()),
    ("encoder_nested", "enable_nested_tensor", "user", True, _encoder_nested),
    ("variable_volatile", "volatile", "user", True,
     lambda T: T.autograd.Variable(T.ones(2), volatile=True)),
    ("assert_allclose", "assert_allclose", "user", False,
     lambda T: T.testing.assert_allclose(T.ones(2), T.ones(2))),
    ("typed_storage", "TypedStorage", "user", True, _typed_storage),
    ("out_resized", "An output with one or more elements", "user", True,
     lambda T: T.add(T.ones(2), T.ones(2), out=T.ones(3))),
    ("random_split_empty", "Length of split", "user", True,
     lambda T: T.utils.data.random_split(range(2), [0.5, 0.5, 0.0])),
    ("scalar_of_grad_tensor", "to a scalar", "user", True,
     lambda T: float(T.ones(1, requires_grad=True))),
    ("kl_div_elementwise_mean", "elementwise_mean", "torch", True,
     lambda T: T.nn.functional.kl_div(T.ones(2), T.ones(2), reduction="elementwise_mean")),
    ("l1_elementwise_mean", "elementwise_mean", "torch", True,
     lambda T: T.nn.functional.l1_loss(T.ones(2), T.ones(2), reduction="elementwise_mean")),
    ("l1_module_reduce", "size_average", "torch", True,
     lambda T: T.nn.L1Loss(reduce=False)(T.ones(2), T.ones(2))),
    ("dataloader_workers", "worker processes", "torch", True,
     lambda T: T.utils.data.DataLoader(range(4), num_workers=200)),
    ("init_kaiming_normal", "zero-element", "user", True,
     lambda T: T.nn.init.kaiming_normal_(T.empty(0, 3))),
    ("affine_grid_unit", "unit-size", "user", True, _affine_grid_unit),
    ("scatter_reduce_tensor", "reduce argument", "user", False,
     lambda T: T.zeros(3).scatter(0, T.tensor([0, 1]), T.ones(2), reduce="add")),
    ("upsample_bilinear", "upsample_bilinear", "user", True,
     lambda T: T.nn.functional.upsample_bilinear(T.ones(1, 1, 2, 2), scale_factor=2)),
    ("softmin_no_dim", "Implicit dimension", "user", False,
     lambda T: T.nn.functional.softmin(T.ones(2, 3))),
    ("log_softmax_module", "Implicit dimension", "torch", True,
     lambda T: T.nn.LogSoftmax()(T.ones(2, 3))),
    ("cholesky_old", "linalg.cholesky", "user", False,
     lambda T: T.cholesky(T.eye(2))),
    ("numpy_read_only", "not writable", "user", False, _numpy_read_only),
    ("multihead_mask_mismatch", "mismatched key_pad", "torch", True, _multihead_mask_mismatch),
    ("user_module_forward", "Implicit dimension", "user", False, _user_module_forward),
    ("user_module_method", "deprecated on 0-D", "user", True, _user_module_method),
]


@pytest.mark.parametrize("key,where,same_words,case", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_warning_names_the_users_line(key, where, same_words, case):
    ref = _first(torch, case, key)
    ours = _first(minigrad, case, key)
    assert ours.category is ref.category
    if same_words:
        assert _words(ours) == _words(ref)
    assert ours.filename == __file__
    if where == "user":         # PyTorch names the calling line of this file, and so do we
        assert (ours.filename, ours.lineno) == (ref.filename, ref.lineno)
    else:                       # PyTorch names one of its own lines; we name the caller's
        assert ref.filename.startswith(os.path.dirname(torch.__file__))
        assert ours.lineno == _calling_line(case)


def _calling_line(case):
    """The line of ``case`` that makes the call warning (its last line of code)."""
    return max(line for _, line in dis.findlinestarts(case.__code__) if line)
