"""Round-20 fuzzing of torch.nn.functional's argument edge cases (losses and their
reductions, pad, interpolate, embedding, one_hot, normalize, softmax with a dtype, dropout,
fold/unfold, linear/bilinear, the normalisations, activations, pools, convolutions,
grid_sample): differences from PyTorch found by running both side by side, each case here
run against torch in the test.

* cross_entropy with class-probability targets checks the class weight's size, in
  PyTorch's words;
* bilinear's dtype mismatch names the element types as PyTorch's C++ does ('float',
  'double', 'long int');
* celu with alpha=0: PyTorch's words;
* poisson_nll_loss and multilabel_soft_margin_loss add their words to the reduction, as
  PyTorch's Python does: a reduction that is no str is a TypeError there;
* softmax / log_softmax of float16 and bfloat16: the backward in float32 from the 16-bit
  output, rounded once; along a dim other than the last, each exp is kept in the 16-bit
  dtype before the division; bfloat16's log_softmax along the last dim rounds the sum and
  its log, as float16's.
"""
import numpy as np
import pytest

import minigrad  # noqa: F401  (agree runs the code on it)

torch = pytest.importorskip("torch")
from torch_agreement import agree  # noqa: E402


def _f(lib):
    return lib.nn.functional


@pytest.mark.parametrize("shape, weight", [((3, 4), (3,)), ((4,), (3,)), ((2, 4, 3), (3,)),
                                           ((2, 4, 3), (1, 4))])
def test_cross_entropy_probability_target_weight_size(shape, weight):
    agree(lambda L: _f(L).cross_entropy(L.ones(*shape), L.ones(*shape) / 4,
                                        weight=L.ones(*weight)),
          match="cross_entropy: weight tensor should be defined either for all 4 classes or no "
                "classes but got weight tensor of shape: " + str(list(weight)))


def test_cross_entropy_probability_target_weight_still_works():
    agree(lambda L: _f(L).cross_entropy(L.arange(8.).reshape(2, 4), L.ones(2, 4) / 4,
                                        weight=L.tensor([1., 2., 3., 4.])))


@pytest.mark.parametrize("dtype, words", [("float64", "double"), ("int64", "long int"),
                                          ("float16", "c10::Half"),
                                          ("complex64", "c10::complex<float>")])
def test_bilinear_dtype_mismatch_names_cpp_types(dtype, words):
    agree(lambda L: _f(L).bilinear(L.ones(2, 3), L.ones(2, 4, dtype=getattr(L, dtype)),
                                   L.ones(5, 3, 4)),
          match=f"got input1: float, input2: {words}, weight: float")


@pytest.mark.parametrize("inplace", [False, True])
def test_celu_alpha_zero_words(inplace):
    agree(lambda L: _f(L).celu(L.ones(2), alpha=0., inplace=inplace),
          match="ZeroDivisionError: alpha cannot be 0 for CELU")


@pytest.mark.parametrize("reduction", [None, 3])
def test_reductions_joined_in_python_refuse_a_non_str(reduction):
    a = [[0.2, 0.7], [0.5, 0.3]]
    agree(lambda L: _f(L).poisson_nll_loss(L.tensor(a), L.tensor(a), reduction=reduction))
    agree(lambda L: _f(L).multilabel_soft_margin_loss(L.tensor(a), L.tensor(a),
                                                      reduction=reduction))


@pytest.mark.parametrize("reduction", ["foo", "elementwise_mean"])
def test_reductions_joined_in_python_words(reduction):
    a = [[0.2, 0.7], [0.5, 0.3]]
    agree(lambda L: _f(L).poisson_nll_loss(L.tensor(a), L.tensor(a), reduction=reduction),
          match=f"{reduction} is not a valid value for reduction")
    agree(lambda L: _f(L).multilabel_soft_margin_loss(L.tensor(a), L.tensor(a),
                                                      reduction=reduction),
          match=f"{reduction} is not valid")


def _exact_16bit(fn, dtype, dim, seed):
    """fn's value and gradient of a 16-bit input, bit for bit (atol=rtol=0) as torch's."""
    values = np.random.RandomState(seed).randn(3, 7, 4) * 3
    weights = np.cos(np.arange(84.)).reshape(3, 7, 4)

    def run(lib):
        x = lib.tensor(values).to(getattr(lib, dtype)).requires_grad_()
        out = getattr(lib, fn)(x, dim)
        (out.float() * lib.tensor(weights, dtype=lib.float32)).sum().backward()
        return out.float(), x.grad.float()
    agree(run, atol=0, rtol=0)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_16bit_softmax_values_and_gradients_are_torchs(fn, dim, dtype):
    _exact_16bit(fn, dtype, dim, seed=3)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_softmax_to_a_16bit_dtype_gradient(fn, dtype):
    def run(lib):
        x = lib.tensor([[1., 2., 3.3], [0., -1., 5.]], requires_grad=True)
        out = getattr(lib.nn.functional, fn)(x, dim=1, dtype=getattr(lib, dtype))
        (out.float() * lib.tensor([[1., 2., 3.], [4., 5., 6.]])).sum().backward()
        return out.float(), x.grad
    agree(run, atol=0, rtol=0)


def test_16bit_softmax_double_backward_still_runs():
    def run(lib):
        x = lib.tensor([[1., 2., 3.3], [0., -1., 5.]], dtype=lib.float16, requires_grad=True)
        y = lib.softmax(x, 0)
        g, = lib.autograd.grad((y * lib.tensor([[1., 2., 3.], [4., 5., 6.]],
                                               dtype=lib.float16)).sum(), x, create_graph=True)
        return g.float(), lib.autograd.grad((g * g).sum(), x)[0].float()
    agree(run, atol=2e-3, rtol=2e-2)


@pytest.mark.parametrize("value, words", [(2.0, "Got: 2"), (1.0000001, "Got: 1"),
                                          (1e10, "Got: 1e+10"), (1.5, "Got: 1.5")])
def test_label_smoothing_refusal_prints_the_number_as_pytorch(value, words):
    agree(lambda L: _f(L).cross_entropy(L.ones(2, 3), L.tensor([0, 1]), label_smoothing=value),
          match=words)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("shape, target", [((4, 5), [0, 4, 2, 1]), ((5,), 3),
                                           ((2, 5, 3), [[0, 4, 2], [1, 1, 0]])])
def test_16bit_cross_entropy_gradient_is_log_softmax_then_nll(dtype, shape, target):
    """16-bit scores: log_softmax then nll_loss, each rounding to the 16-bit dtype, as
    PyTorch's (reduction 'none': value and gradient bit for bit)."""
    values = np.random.RandomState(1).randn(*shape) * 2

    def run(lib):
        x = lib.tensor(values).to(getattr(lib, dtype)).requires_grad_()
        out = _f(lib).cross_entropy(x, lib.tensor(target), reduction="none")
        weights = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
        (out.float() * lib.tensor(weights, dtype=lib.float32)).sum().backward()
        return out.float(), x.grad.float()
    agree(run, atol=0, rtol=0)


def test_16bit_cross_entropy_records_log_softmax():
    def run(lib):
        x = lib.ones(3, 4, dtype=lib.float16, requires_grad=True)
        node = _f(lib).cross_entropy(x, lib.tensor([0, 1, 1])).grad_fn
        return lib.tensor([f.name() == "LogSoftmaxBackward0" for f, _ in node.next_functions])
    agree(run)
