"""Round-42 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at the autograd API (``autograd.grad``'s options, hooks on tensors and on
graph nodes, retain_grad, detach_), ``torch.autograd.functional``, ``torch.func``'s
Jacobians and ``vmap``, integer and mixed-dtype arithmetic, conversions, ``nn.init``,
``torch.save`` / ``torch.load``, ``nn.utils.parametrize`` / weight_norm / spectral_norm,
``nn.utils.rnn`` packing, and quantile / median / mode / kthvalue.  Seeded generators built
about 19,000 calls and compared the result's dtype, shape, strides and values, or the
exception's type and first words.  The defects fixed:

* a batched derivative has the layout of PyTorch's one batched pass (the batch dim outermost,
  each entry laid out as one pass lays it out: a transposed gradient stays transposed, a
  broadcast one broadcast): ``autograd.grad(..., is_grads_batched=True)``, the vectorized
  ``autograd.functional.jacobian`` / ``hessian`` and ``torch.func.jacrev`` / ``jacfwd`` /
  ``hessian``; forward mode's blocks are its tangents (laid out as the output) split per
  input and moved last, a view's tangent that view of the input's basis; an output that
  depends on no input gives zeros broadcast along the batch (forward mode: in the output's
  dtype); an empty batch of grad_outputs is PyTorch's IndexError;
* ``hessian(..., vectorize=True, outer_jacobian_strategy='forward-mode')`` requires grad
  where the gradient depends on the inputs (PyTorch's tangents come from the inner graph);
  forward mode checks the function's outputs with PyTorch's words ("given to None");
* ``torch.func.jacfwd`` with a negative ``argnums`` gives zeros for that argument (PyTorch
  puts no dual number there); ``jacrev`` refuses an integer output; the has_aux refusals
  name the vjp / jvp inside;
* a graph-node hook that gives a value where the gradient was None is PyTorch's
  RuntimeError before the type check;
* ``view(dtype)`` to a larger element checks the last size, the last stride, then the
  storage offset (a misaligned offset was accepted) and the other strides;
* ``as_subclass`` is an alias with every stride kept (a size-1 dim's too);
* ``uniform_`` (the method and ``nn.init``'s) checks each bound within the dtype's range, then
  from <= to, then to - from; ``normal_`` refuses a NaN std, and ``nn.init.normal_`` the std
  before the dtype; ``nn.init.dirac_`` of an empty kernel dim is PyTorch's IndexError;
* ``quantile`` refuses a NaN among the q values;
* ``torch.save`` keeps a tensor's layout (a transpose, a slice of a larger block, an expanded
  or a channels-last tensor goes to PyTorch's pickle format, strides, offset and storage
  kept);
* ``spectral_norm`` of a missing parameter is a KeyError; ``pack_padded_sequence`` with
  ``enforce_sorted=False`` reorders the batch first (fewer lengths than the batch keep its
  first rows, more index past it); ``unpad_sequence`` gives fresh row-major copies;
  ``pack_sequence`` of 0-d tensors is size's IndexError; ``PackedSequence((data, sizes))``;
* ``vmap`` with no mapped tensor, and a 1-tuple ``out_dims`` for a non-Tensor output (or
  with ``chunk_size``), in PyTorch's words.
"""
import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-4, atol64=1e-8, seed=0)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken

_A = "a = torch.ones(2, 3, dtype=torch.float64, requires_grad=True); "
_X = "x = torch.tensor([1., 2., 3.], dtype=torch.float64); "
_AF = "AF = torch.autograd.functional; "


# ---- is_grads_batched: the batch dim outermost, each entry as one pass lays it out ----------

@pytest.mark.parametrize("code", [
    _A + "r = torch.autograd.grad(a.t() * 2, a, torch.ones(4, 3, 2, dtype=torch.float64), "
    "is_grads_batched=True)[0]",
    _A + "r = torch.autograd.grad(a.t().exp(), a, torch.ones(5, 3, 2, dtype=torch.float64), "
    "is_grads_batched=True)[0]",
    _A + "r = torch.autograd.grad(a.sum(), a, torch.ones(3, dtype=torch.float64), "
    "is_grads_batched=True)[0]",
    _A + "r = torch.autograd.grad(a.sum(1), a, torch.ones(4, 2, dtype=torch.float64), "
    "is_grads_batched=True)[0]",
    _A + "r = torch.autograd.grad(a.t() * a.t(), a, torch.ones(5, 3, 2, dtype=torch.float64), "
    "is_grads_batched=True, create_graph=True)[0]",
    _A + "r = torch.autograd.grad(a.permute(1, 0).reshape(6), a, "
    "torch.ones(5, 6, dtype=torch.float64), is_grads_batched=True)[0]",
])
def test_batched_grad_layout(code):
    _taken(code)


def test_batched_grad_of_an_empty_batch():
    _refused(_A + "r = torch.autograd.grad(a.sum(), a, torch.ones(0, dtype=torch.float64), "
             "is_grads_batched=True)")


# ---- autograd.functional: vectorized Jacobians and Hessians in PyTorch's layout ---------------

_M = "m = torch.ones(2, 3, dtype=torch.float64); "


@pytest.mark.parametrize("code", [
    _AF + _M + "r = AF.jacobian(lambda a: (a ** 3).t(), m, vectorize=True)",
    _AF + _M + "r = AF.jacobian(lambda a: (a ** 3).t(), m, vectorize=True, "
    "strategy='forward-mode')",
    _AF + _M + "r = AF.jacobian(lambda a: (a ** 3).sum(0), m, vectorize=True, "
    "strategy='forward-mode')",
    _AF + _M + "r = AF.jacobian(lambda a: a.sum(0), m.t(), vectorize=True, "
    "strategy='forward-mode')",
    _AF + _M + "r = AF.jacobian(lambda a: a.sum(), m, vectorize=True)",
    _AF + _M + "r = AF.jacobian(lambda a: a.sum().expand(2, 3), m, vectorize=True)",
    _AF + _M + "r = AF.jacobian(lambda a: a[:, 1:], m, vectorize=True, strategy='forward-mode')",
    _AF + "r = AF.jacobian(lambda a: a[1:, ::2], torch.arange(12.).reshape(4, 3)[1:], "
    "vectorize=True, strategy='forward-mode')",
    _AF + _M + "r = AF.jacobian(lambda a: torch.ones(2, dtype=torch.float64), m, "
    "vectorize=True)",
    _AF + _M + "r = AF.jacobian(lambda a: torch.ones(2, dtype=torch.float64), m, "
    "vectorize=True, strategy='forward-mode')",
    _AF + _M + "r = AF.jacobian(lambda a: (a.sum(), a.t()), m, vectorize=True)",
    _AF + _M + "r = AF.jacobian(lambda a: (torch.ones(2, dtype=torch.float64), a * 2), m, "
    "vectorize=True, strategy='forward-mode')",
    _AF + _M + "J = AF.jacobian(lambda a, b: (a.t() * b.sum(), a.sum()), (m, torch.ones(4, "
    "dtype=torch.float64)), vectorize=True); r = (J[0][0], J[0][1], J[1][0], J[1][1])",
    _AF + _M + "J = AF.jacobian(lambda a, b: (a.t() * b.sum(), a.sum()), (m, torch.ones(4, "
    "dtype=torch.float64)), vectorize=True, strategy='forward-mode'); "
    "r = (J[0][0], J[0][1], J[1][0], J[1][1])",
    _AF + _M + "J = AF.jacobian(lambda a, b: (a ** 3).t(), (m, torch.ones(3)), vectorize=True); "
    "r = (J[0], J[1])",
    _AF + _M + "r = AF.hessian(lambda a: (a * a).sum(), m.t(), vectorize=True, "
    "outer_jacobian_strategy='forward-mode')",
    _AF + _X + "r = AF.hessian(lambda a: (a ** 3).sum(), x, vectorize=True, "
    "outer_jacobian_strategy='forward-mode')",
    _AF + _X + "r = AF.hessian(lambda a: a.sum() * 0 + 1, x, vectorize=True, "
    "outer_jacobian_strategy='forward-mode')",
])
def test_vectorized_jacobian_layout(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    _AF + _X + "r = AF.jacobian(lambda a: [a * 2], x, vectorize=True, strategy='forward-mode')",
    _AF + _X + "r = AF.jacobian(lambda a: 3.0, x, vectorize=True, strategy='forward-mode')",
    _AF + _X + "r = AF.jacobian(lambda a: a.exp()[:0], x, vectorize=True)",
    _AF + "r = AF.jacobian(lambda a: a.exp(), torch.ones(0, 2, dtype=torch.float64), "
    "vectorize=True)",
])
def test_vectorized_jacobian_refusals(code):
    _refused(code)


# ---- torch.func: Jacobians in PyTorch's layout, negative argnums, refusals ------------------

_F = "F_ = torch.func; y = torch.tensor([0.3, 0.7], dtype=torch.float64); "


@pytest.mark.parametrize("code", [
    _F + "r = F_.jacrev(lambda a: a.t())(torch.ones(2, 3))",
    _F + "r = F_.jacfwd(lambda a: a.t())(torch.ones(2, 3))",
    _F + "r = F_.jacfwd(lambda a: a[:, 1:])(torch.ones(2, 3))",
    _F + "r = F_.jacrev(lambda a: a.sum(0))(torch.ones(2, 3))",
    _F + "r = F_.jacfwd(lambda a: a.sum(0))(torch.ones(2, 3))",
    _F + "r = F_.hessian(lambda a: (a ** 3).sum())(torch.ones(2, 3))",
    _F + _X + "r = F_.jacrev(lambda a: torch.ones(2))(x)",
    _F + _X + "r = F_.jacfwd(lambda a: torch.ones(2))(x)",
    _F + _X + "r = F_.jacfwd(lambda a: (a * 2).int())(x)",
    _F + _X + "r = F_.jacfwd(F_.jacrev(lambda a: (a ** 3).sum()))(x)",
    _F + _X + "r = F_.jacfwd(lambda a, b: (a[:2] * b).sum(), argnums=-1)(x, y)",
    _F + _X + "r = F_.jacfwd(lambda a, b: ((a[:2] * b).sum(), b), argnums=-1)(x, y)",
    _F + _X + "r = F_.hessian(lambda a, b: (a[:2] * b).sum(), argnums=-1)(x, y)",
    _F + _X + "r = F_.jacrev(lambda a, b=None: a.sum(), argnums=-1)(x)",
    # (a view's tangent is that view of its base's tangent, a sliced input's in its storage)
    _F + "r = F_.jacfwd(lambda a: a.clone()[0])(torch.arange(1., 10.).reshape(3, 3))",
    _F + "r = F_.jacfwd(lambda a: (a * 2)[0])(torch.arange(1., 7.).reshape(2, 3))",
    _F + "r = F_.jacfwd(lambda a: a.t())(torch.arange(1., 13.).reshape(4, 3)[1:])",
    _F + "r = F_.jacfwd(lambda a: a.reshape(-1))(torch.arange(1., 13.).reshape(4, 3)[1:])",
    _F + "r = F_.jacfwd(lambda a: a.contiguous())(torch.arange(1., 13.).reshape(4, 3)[1:])",
    _F + "r = F_.jacfwd(lambda a: a.sin()[1:])(torch.arange(1., 7.).reshape(3, 2).t())",
    _F + "r = F_.hessian(lambda a: a.sum().sin())(torch.arange(1., 10.).reshape(3, 3))",
    _F + "r = F_.jacrev(lambda a: a.t())(torch.ones(1, 3))",
])
def test_func_jacobians(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    _F + _X + "r = F_.jacrev(lambda a: (a * 2).int())(x)",
    _F + _X + "r = F_.jacrev(lambda a, b: (a[:2] * b).sum(), has_aux=True)(x, y)",
    _F + _X + "r = F_.jacfwd(lambda a, b: (a[:2] * b).sum(), has_aux=True)(x, y)",
    _F + _X + "r = F_.jacfwd(lambda a: a.sum(), has_aux=True)(x)",
])
def test_func_jacobian_refusals(code):
    _refused(code)


# ---- a graph-node hook that fills a None gradient -------------------------------------------

@pytest.mark.parametrize("code", [
    _X + "x.requires_grad_(); w = x * 2; w.grad_fn.register_hook(lambda gi, go: "
    "(gi[0] * 3, 1)); w.sum().backward(); r = x.grad",
    _X + "x.requires_grad_(); w = x * 2; w.grad_fn.register_hook(lambda gi, go: "
    "(gi[0], gi[0])); w.sum().backward(); r = x.grad",
    _X + "x.requires_grad_(); w = x * 2; w.grad_fn.register_hook(lambda gi, go: "
    "(1, None)); w.sum().backward(); r = x.grad",
])
def test_node_hook_filling_a_none_gradient(code):
    _refused(code)


# ---- view(dtype): PyTorch's order of checks, the storage offset included ---------------------

@pytest.mark.parametrize("code", [
    "r = torch.arange(8.).reshape(2, 4)[:, 1:3].view(torch.float64)",
    "r = torch.arange(10.)[1:5].view(torch.float64)",
    "r = torch.arange(9.).reshape(3, 3)[:, 1:3].view(torch.float64)",
    "r = torch.arange(10.)[::2].view(torch.float64)",
    "r = torch.arange(12.).reshape(3, 4).t().view(torch.float64)",
    "r = torch.arange(16.).reshape(4, 4).t().view(torch.float64)",
    "r = torch.arange(18.).reshape(6, 3)[:, :2].view(torch.float64)",
    "r = torch.arange(18, dtype=torch.int8).reshape(3, 6)[:, 1:5].view(torch.int16)",
    "r = torch.arange(18.).reshape(6, 3)[2:, :2].view(torch.float64)",
    "r = torch.arange(18, dtype=torch.int8).reshape(3, 6)[:, 2:6].view(torch.int32)",
])
def test_view_dtype_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.arange(8.).reshape(2, 4)[:, 2:4].view(torch.float64)",
    "r = torch.arange(16.).reshape(4, 4)[1:, 1:3].view(torch.float16)",
    "r = torch.arange(18, dtype=torch.int8).reshape(3, 6)[:, 2:6].view(torch.int16)",
    "r = torch.arange(24, dtype=torch.int8).reshape(3, 8)[1:, 4:8].view(torch.int32)",
    "r = torch.arange(24.).reshape(1, 2, 3, 4).permute(0, 2, 3, 1).as_subclass(torch.Tensor)",
    "r = torch.arange(24.).reshape(1, 2, 3, 4).permute(0, 2, 3, 1).requires_grad_()"
    ".as_subclass(torch.Tensor)",
])
def test_views_keep_layout(code):
    _taken(code)


# ---- uniform_ / normal_ bounds; nn.init --------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.empty(3).uniform_(0, float('inf'))",
    "r = torch.empty(3).uniform_(float('nan'), 1)",
    "r = torch.empty(3, dtype=torch.float16).uniform_(0, 1e6)",
    "r = torch.empty(3, dtype=torch.bfloat16).uniform_(0, 1e39)",
    "r = torch.empty(3, dtype=torch.complex128).uniform_(0, 1e309)",
    "r = torch.empty(3).uniform_(-3e38, 3e38)",
    "r = torch.empty(3, dtype=torch.float16).uniform_(-6e4, 6e4)",
    "r = torch.empty(3).normal_(0, float('nan'))",
    "r = torch.nn.init.uniform_(torch.empty(3), 1, 0)",
    "r = torch.nn.init.uniform_(torch.empty(2, 2, dtype=torch.float16), 1.0001, 1)",
    "r = torch.nn.init.uniform_(torch.empty(3, dtype=torch.complex64), 0, 1e39)",
    "r = torch.nn.init.normal_(torch.empty(3), 0, -1)",
    "r = torch.nn.init.normal_(torch.empty(3, dtype=torch.int32), 1, -1)",
    "r = torch.nn.init.xavier_uniform_(torch.empty(2, 3), gain=-1)",
    "r = torch.nn.init.dirac_(torch.empty(3, 4, 0))",
    "r = torch.nn.init.dirac_(torch.empty(3, 4, 2, 0))",
])
def test_random_fill_bounds(code):
    _refused(code)


def test_dirac_of_an_empty_batch_is_taken():
    _taken("w = torch.empty(0, 4, 0, 2); torch.nn.init.dirac_(w); r = w")


# ---- quantile: a NaN q is out of range ----------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.quantile(torch.tensor([3., 1., 2.]), torch.tensor([0.5, nan]))",
    "r = torch.quantile(torch.tensor([[3., nan], [1., 4.]]), torch.tensor([nan]), dim=0)",
    "r = torch.nanquantile(torch.tensor([3., 1., 2.]), torch.tensor([nan, 0.2]))",
])
def test_quantile_nan_q(code):
    _refused(code)


# ---- torch.save / torch.load keep the layout -------------------------------------------------

_SV = "import io; buf = io.BytesIO(); torch.save({}, buf); buf.seek(0); o = torch.load(buf); "


@pytest.mark.parametrize("code", [
    _SV.format("torch.arange(6.).reshape(2, 3).t()") + "r = o",
    _SV.format("torch.arange(10.)[2:7:2]") + "r = (o, o.storage_offset(), "
    "o.untyped_storage().nbytes())",
    _SV.format("torch.ones(2).expand(3, 2)") + "r = (o, o.untyped_storage().nbytes())",
    _SV.format("torch.arange(24.).reshape(1, 2, 3, 4).to(memory_format=torch.channels_last)")
    + "r = o",
    _SV.format("{'w': torch.arange(6.).reshape(2, 3).t(), 'n': 3}") + "r = o['w']",
    _SV.format("[torch.arange(4.)[1:], torch.ones(2)]") + "r = (o[0], o[0].storage_offset())",
])
def test_save_load_layout(code):
    _taken(code)


# ---- spectral_norm, packing ------------------------------------------------------------------

_U = "U = torch.nn.utils.rnn; x = torch.arange(30.).reshape(5, 3, 2); "


@pytest.mark.parametrize("code", [
    "r = torch.nn.utils.spectral_norm(torch.nn.Linear(3, 4), name='nope')",
    _U + "r = U.pack_padded_sequence(x, [2, 4, 1, 3, 2, 1], enforce_sorted=False)",
    _U + "r = U.pack_padded_sequence(x, [3, 2, 1, 2, 1, 3, 2], batch_first=True, "
    "enforce_sorted=False)",
    _U + "r = U.pack_sequence([torch.tensor(1.), torch.tensor(2.)])",
    _U + "r = U.PackedSequence(torch.ones(3))",
    _U + "r = U.PackedSequence(torch.ones(3), [2, 1])",
])
def test_packing_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _U + "p = U.pack_padded_sequence(x, [2, 4], enforce_sorted=False); "
    "r = (p.data, p.batch_sizes, p.sorted_indices)",
    _U + "p = U.pack_padded_sequence(x.transpose(0, 1), [1, 3], batch_first=True, "
    "enforce_sorted=False); r = (p.data, p.batch_sizes, p.unsorted_indices)",
    _U + "p = U.pack_padded_sequence(x, [2, 4], enforce_sorted=False); "
    "r = U.pad_packed_sequence(p)",
    _U + "p = U.pack_padded_sequence(x, [3, 2, 1, 2], batch_first=True, enforce_sorted=False); "
    "r = (p.data, p.batch_sizes, p.sorted_indices)",
    _U + "r = U.unpad_sequence(U.pad_sequence([torch.ones(1, 2), torch.ones(3, 2)]), "
    "torch.tensor([1, 3]))[0]",
    _U + "r = U.unpad_sequence(U.pad_sequence([torch.ones(2, 2), torch.ones(3, 2)], "
    "batch_first=True), torch.tensor([2, 3]), batch_first=True)[0]",
    _U + "r = U.PackedSequence((torch.ones(3, 2), torch.tensor([2, 1]))).data",
])
def test_packing_taken(code):
    _taken(code)


# ---- vmap's words ---------------------------------------------------------------------------

_V = "x = torch.arange(6.).reshape(2, 3); V = torch.func.vmap; "


@pytest.mark.parametrize("code", [
    _V + "r = V(lambda a: a, in_dims=(None,))(x)",
    _V + "r = V(lambda a, b: a, in_dims=(None, None))(x, 1.0)",
    _V + "r = V(lambda a: a)(1.0)",
    _V + "r = V(lambda a: 3.0, out_dims=(0,))(x)",
    _V + "r = V(lambda a: None, out_dims=(0,))(x)",
    _V + "r = V(lambda a: a * 2, out_dims=(0,), chunk_size=1)(x)",
])
def test_vmap_refusals(code):
    _refused(code)


def test_vmap_single_tensor_with_one_tuple_out_dims():
    _taken(_V + "r = V(lambda a: a * 2, out_dims=(0,))(x)")


# ---- module full backward hooks: what a hook returns, checked as PyTorch ----------------------

_H = ("m = torch.nn.Linear(3, 2, dtype=torch.float64); "
      "x = torch.ones(4, 3, dtype=torch.float64, requires_grad=True); ")


@pytest.mark.parametrize("code", [
    _H + "m.register_full_backward_hook(lambda mod, gi, go: gi[0] * 2); "
    "m(x).sum().backward(); r = x.grad",
    _H + "m.register_full_backward_pre_hook(lambda mod, go: go[0] * 3); "
    "m(x).sum().backward(); r = x.grad",
    _H + "m.register_full_backward_hook(lambda mod, gi, go: (gi[0][:2],)); "
    "m(x).sum().backward(); r = x.grad",
    _H + "m.register_full_backward_pre_hook(lambda mod, go: (go[0][:2],)); "
    "m(x).sum().backward(); r = x.grad",
    _H + "m.register_full_backward_hook(lambda mod, gi, go: (gi[0].float(),)); "
    "m(x).sum().backward(); r = x.grad",
    _H + "m.register_full_backward_hook(lambda mod, gi, go: (3,)); "
    "m(x).sum().backward(); r = x.grad",
    _H + "m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0])); "
    "m(x).sum().backward(); r = x.grad",
    # (a bare Tensor of one row passes the count; its row is then the wrong size)
    "m = torch.nn.Linear(3, 1, dtype=torch.float64); x = torch.ones(1, 3, dtype=torch.float64, "
    "requires_grad=True); m.register_full_backward_pre_hook(lambda mod, go: go[0] * 3); "
    "m(x).sum().backward(); r = x.grad",
])
def test_module_hook_results_refused(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _H + "m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2,)); "
    "m(x).sum().backward(); r = x.grad",
    _H + "m.register_full_backward_hook(lambda mod, gi, go: [gi[0] * 2]); "
    "m(x).sum().backward(); r = x.grad",
    _H + "m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,)); "
    "m(x).sum().backward(); r = (x.grad, m.weight.grad)",
])
def test_module_hook_results_taken(code):
    _taken(code)
