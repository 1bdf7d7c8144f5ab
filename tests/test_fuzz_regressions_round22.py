"""Round-22 fuzzing of nn.Module classes as a PyTorch user (and an adversarial one) uses them:
constructor arguments, forward inputs of the wrong rank, shape or dtype, edge inputs, and the
module API (repr, state_dict, load_state_dict, buffers and parameters, ``.to()``), each module
built in both libraries with the same seed and compared side by side. Each difference found
is a case here, run against torch in the test.

* MultiheadAttention with its own kdim / vdim checks the key's and value's feature sizes
  against the projection weights, in PyTorch's words (an AssertionError naming the expected
  and actual weight shapes), before any matrix product;
* RNN / LSTM / GRU given an input of the wrong rank: PyTorch's words ("got 1D tensor
  instead");
* an adaptive 2-d / 3-d pool's output_size that is a str is read as a sequence (PyTorch's
  Python zips anything with a length with the input's sizes), so the parser refuses its first
  element, as PyTorch's does;
* pixel_shuffle / pixel_unshuffle (and their modules) refuse a bool factor;
* LocalResponseNorm's rank error: PyTorch's words, spacing included;
* ELU / CELU print their alpha with str() as PyTorch's extra_repr does; GELU has no
  ``inplace`` attribute of its own;
* RNN / LSTM / GRU read ``dropout`` with float() first (a str or None is Python's error, as
  in PyTorch) and size their weights as PyTorch does (an RNN's bool hidden_size reaches
  empty() and is refused there); MultiheadAttention makes its weights with empty() of a
  tuple, so a float embed_dim / kdim / vdim is refused in PyTorch's words;
* LayerNorm, GroupNorm, RMSNorm and InstanceNorm make their parameters with empty() and
  then initialise them, so a bad size is refused by empty() as in PyTorch;
* a padding layer called with the wrong arguments is named in Python's words
  (``ConstantPad1d.__init__() missing ...``), not its private base class.
"""

import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import outcomes, same_refusal as refused_alike  # noqa: E402

LIBS = (torch, minigrad)


def _running(code):
    """fn(lib): ``code`` run with ``torch``, ``nn`` and ``F`` bound to lib's, seeded alike;
    returns what it left in ``r``."""
    def fn(lib):
        env = {"torch": lib, "nn": lib.nn, "F": lib.nn.functional}
        lib.manual_seed(0)
        exec(code, env)
        return env.get("r")
    return fn


def _words(code):
    return outcomes(_running(code))


def same_refusal(code):
    """Both refuse ``code`` with one exception type, minigrad's words starting with
    PyTorch's."""
    refused_alike(_running(code))


def same_value(code):
    """Both run ``code``; ``r`` (a str or a list of str / numbers / tensors) is the same."""
    (t_kind, t_r), (m_kind, m_r) = _words(code)
    assert t_kind == "ok" and m_kind == "ok", (t_kind, t_r, m_kind, m_r)
    t_r, m_r = (list(v) if isinstance(v, (list, tuple)) else [v] for v in (t_r, m_r))
    assert len(t_r) == len(m_r)
    for t, m in zip(t_r, m_r):
        if isinstance(t, torch.Tensor):
            assert tuple(m.shape) == tuple(t.shape)
            assert m.dtype.name == str(t.dtype).replace("torch.", "")
            assert torch.allclose(torch.tensor(m.detach().numpy()), t.detach(), atol=1e-5,
                                  rtol=1e-5)
        else:
            assert (m.replace("minigrad", "torch") if isinstance(m, str) else m) == t


# ---- MultiheadAttention: projection weights against the key's / value's sizes ----------------
@pytest.mark.parametrize("ctor, key, value", [
    ("kdim=3, vdim=5", "(6, 2, 5)", "(6, 2, 3)"),
    ("kdim=3, vdim=3", "(6, 2, 4)", "(6, 2, 3)"),
    ("kdim=3, vdim=5", "(6, 2, 3)", "(6, 2, 3)"),
    ("kdim=3, vdim=5", "(6, 2, 3)", "(6, 2, 4)"),
    ("kdim=3, vdim=5, batch_first=True", "(2, 6, 4)", "(2, 6, 5)"),
    ("kdim=6, vdim=5", "(6, 4)", "(6, 5)"),
])
def test_mha_separate_projection_shapes(ctor, key, value):
    q = "(2, 3, 4)" if "batch_first" in ctor else "(3, 4)" if len(key) == 6 else "(3, 2, 4)"
    same_refusal(f"m = nn.MultiheadAttention(4, 2, {ctor}); "
                 f"r = m(torch.randn{q}, torch.randn{key}, torch.randn{value})")


@pytest.mark.parametrize("ctor, key, value", [
    ("kdim=3, vdim=5", "(6, 2, 3)", "(6, 2, 5)"),
    ("kdim=3, vdim=5, add_bias_kv=True", "(6, 2, 3)", "(6, 2, 5)"),
    ("", "(6, 2, 4)", "(6, 2, 4)"),
])
def test_mha_separate_projection_shapes_still_work(ctor, key, value):
    same_value(f"m = nn.MultiheadAttention(4, 2, {ctor}); "
               f"r = m(torch.randn(3, 2, 4), torch.randn{key}, torch.randn{value})")


@pytest.mark.parametrize("bias", [9, 15])
def test_mha_functional_separate_bias_shape(bias):
    same_refusal("w = torch.randn(4, 4); q = torch.randn(3, 2, 4); "
                 f"r = F.multi_head_attention_forward(q, q, q, 4, 2, None, torch.zeros({bias}), "
                 "None, None, False, 0.0, torch.randn(4, 4), torch.zeros(4), "
                 "use_separate_proj_weight=True, q_proj_weight=w, k_proj_weight=w, "
                 "v_proj_weight=w)")


# ---- recurrent layers: rank errors -----------------------------------------------------------
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("x", ["torch.randn(3)", "torch.randn(1, 1, 1, 3)", "torch.tensor(1.)"])
def test_rnn_rank_words(cls, x):
    same_refusal(f"m = nn.{cls}(3, 4); r = m({x})")


# ---- adaptive pools: a str output_size -------------------------------------------------------
@pytest.mark.parametrize("code", [
    "nn.AdaptiveAvgPool2d('a')(torch.randn(1, 2, 6, 6))",
    "nn.AdaptiveMaxPool2d('a')(torch.randn(1, 2, 6, 6))",
    "nn.AdaptiveAvgPool3d('a')(torch.randn(1, 2, 4, 4, 4))",
    "nn.AdaptiveMaxPool3d('ab')(torch.randn(1, 2, 4, 4, 4))",
    "F.adaptive_avg_pool2d(torch.randn(1, 2, 6, 6), 'abc')",
    "F.adaptive_max_pool2d(torch.randn(2, 6, 6), 'abc')",
    "F.adaptive_avg_pool2d(torch.randn(1, 2, 6, 6), 1.5)",
    "F.adaptive_avg_pool2d(torch.randn(6, 6), (None, None))",
])
def test_adaptive_pool_output_size_with_a_length(code):
    same_refusal("r = " + code)


@pytest.mark.parametrize("code", [
    "nn.AdaptiveAvgPool2d((2, None))(torch.randn(1, 2, 6, 5))",
    "F.adaptive_max_pool3d(torch.randn(2, 4, 4, 4), [None, 2, 3])",
    "F.adaptive_avg_pool2d(torch.randn(2, 6, 6), torch.Size([3, 2]))",
])
def test_adaptive_pool_output_size_still_works(code):
    same_value("r = " + code)


# ---- pixel shuffles: a bool factor -----------------------------------------------------------
@pytest.mark.parametrize("code", [
    "nn.PixelShuffle(True)(torch.ones(1, 4, 2, 2))",
    "nn.PixelUnshuffle(True)(torch.ones(1, 4, 2, 2))",
    "F.pixel_shuffle(torch.ones(1, 4, 2, 2), False)",
    "F.pixel_unshuffle(torch.ones(1, 4, 2, 2), True)",
    "F.pixel_shuffle(torch.ones(1, 4, 2, 2), 2.0)",
])
def test_pixel_shuffle_refuses_a_bool(code):
    same_refusal("r = " + code)


# ---- LocalResponseNorm: rank words -----------------------------------------------------------
@pytest.mark.parametrize("x", ["torch.ones(3)", "torch.ones(1, 3)", "torch.tensor(1.)"])
def test_local_response_norm_rank_words(x):
    same_refusal(f"r = nn.LocalResponseNorm(2)({x})")


# ---- activations: repr and attributes --------------------------------------------------------
@pytest.mark.parametrize("code", [
    "r = repr(nn.ELU(alpha='a'))", "r = repr(nn.CELU(alpha='2', inplace=True))",
    "r = repr(nn.ELU(alpha=2))", "r = repr(nn.GELU('tanh'))", "r = repr(nn.GELU())",
    "m = nn.GELU('tanh'); r = sorted(k for k in vars(m) if not k.startswith('_'))",
    "m = nn.ELU(inplace=True); r = sorted(k for k in vars(m) if not k.startswith('_'))",
])
def test_activation_repr_and_attributes(code):
    same_value(code)


# ---- recurrent layers and attention: constructor arguments as PyTorch reads them -------------
@pytest.mark.parametrize("ctor", [
    "RNN(3, True)", "RNN(3, 4, nonlinearity='relu', hidden_size=True)",
    "LSTM(3, 4, proj_size=True)", "RNN(3, 4, dropout='a')", "GRU(3, 4, dropout=None)",
    "LSTM(3, 4, dropout=[0.5])", "RNN(3, 4, dropout='0.5')",
    "MultiheadAttention(4.0, 2)", "MultiheadAttention(4, 2, kdim=3.0)",
    "MultiheadAttention(4, 2, add_bias_kv=True, vdim=2.5)", "MultiheadAttention(True, 1)",
])
def test_recurrent_and_attention_constructor_arguments(ctor):
    same_refusal(f"r = nn.{ctor}")


@pytest.mark.parametrize("ctor", ["LSTM(3, True)", "GRU(True, 3)",
                                  "LSTM(3, 4, 2, dropout=1)", "MultiheadAttention(4, 2, kdim=3)"])
def test_recurrent_and_attention_constructor_arguments_still_work(ctor):
    same_value(f"m = nn.{ctor}; r = [repr(m)] + [str(tuple(p.shape)) for p in m.parameters()] + "
               "[m.dropout if hasattr(m, 'dropout') else None]")


# ---- normalisation layers: parameters made by empty(), as PyTorch's --------------------------
@pytest.mark.parametrize("ctor", [
    "LayerNorm(True)", "LayerNorm((4, 2.0))", "LayerNorm(2.5)", "GroupNorm(2, 4.0)",
    "RMSNorm(True)", "RMSNorm((2, 2.0))", "InstanceNorm1d(True, affine=True)",
    "InstanceNorm2d(2.0, affine=True)",
])
def test_norm_layer_sizes_refused_by_empty(ctor):
    same_refusal(f"r = nn.{ctor}")


@pytest.mark.parametrize("ctor", [
    "LayerNorm(3)", "LayerNorm((2, 3), bias=False)", "GroupNorm(1, 3, dtype=torch.float64)",
    "RMSNorm([2, 3])", "InstanceNorm1d(3, affine=True, track_running_stats=True)",
    "InstanceNorm2d(3, affine=True)", "LayerNorm(3, elementwise_affine=False)",
])
def test_norm_layer_parameters_still_initialised(ctor):
    same_value(f"m = nn.{ctor}; r = [repr(m)] + list(m.state_dict().keys()) + "
               "list(m.state_dict().values())")


# ---- padding layers: Python's words name the layer -------------------------------------------
@pytest.mark.parametrize("cls", ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
                                 "ReflectionPad1d", "ReplicationPad2d", "CircularPad3d"])
@pytest.mark.parametrize("args", ["", "1, 2, 3"])
def test_padding_layer_bad_call_names_the_layer(cls, args):
    same_refusal(f"r = nn.{cls}({args})")


# ---- load_state_dict: a copy that raises is reported in PyTorch's words ----------------------
@pytest.mark.parametrize("code", [
    "m = nn.Linear(2, 2); m.load_state_dict({'weight': torch.ones(2, 2, dtype=torch.int64), "
    "'bias': torch.ones(2)}, assign=True)",
    "m = nn.Sequential(nn.Linear(2, 2)); m.load_state_dict({'0.weight': torch.ones(2, 2, "
    "dtype=torch.int64), '0.bias': torch.ones(2, dtype=torch.int32)}, assign=True)",
])
def test_load_state_dict_copy_error_words(code):
    (t_kind, t_msg), (m_kind, m_msg) = _words(code + "\nr = None")
    assert t_kind == m_kind == "RuntimeError"
    full = []
    for lib in LIBS:
        try:
            exec(code, {"torch": lib, "nn": lib.nn})
        except RuntimeError as e:
            full.append(str(e).replace("minigrad", "torch"))
    assert full[1] == full[0]


def test_load_state_dict_assign_still_works():
    same_value("m = nn.Linear(2, 2); m.load_state_dict({'weight': torch.ones(2, 2, "
               "dtype=torch.float64), 'bias': torch.ones(2)}, assign=True); "
               "r = [m.weight, m.bias, type(m.weight).__name__]")


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_adaptive_max_pool_integer_input_names_the_kernel(nd, dtype):
    """PyTorch's kernel name in the refusal: adaptive_max_pool2d for 1-d and 2-d, the 3-d
    one's own adaptive_max_pool3d_cpu."""
    outcome = []
    for lib in (torch, minigrad):
        x = lib.ones((1, 2) + (4,) * nd, dtype=getattr(lib, dtype))
        with pytest.raises(NotImplementedError) as info:
            getattr(lib.nn.functional, f"adaptive_max_pool{nd}d")(x, 2)
        outcome.append(str(info.value))
    assert outcome[1].startswith(outcome[0])


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("bad", [3, -2])
def test_target_out_of_bounds_starts_with_pytorchs_words(loss, bad):
    outcome = []
    for lib in (torch, minigrad):
        fn = getattr(lib.nn.functional, loss)
        with pytest.raises(IndexError) as info:
            fn(lib.zeros(2, 3), lib.tensor([0, bad]))
        outcome.append(str(info.value))
    assert outcome[1].startswith(outcome[0])
