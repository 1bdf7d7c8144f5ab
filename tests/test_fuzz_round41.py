"""Round-41 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at the optimizers (param groups, state dicts, flags, closures), the lr
schedulers, the DataLoader and its samplers and collation, ``nn.utils`` (gradient clipping,
parameter vectors), ``torch.linalg`` (errors, empty and batched inputs, layouts),
``torch.fft`` (``n`` / ``s`` / ``dim`` / ``norm``), sorting, top-k, unique, histc, bincount,
bucketize and searchsorted.  Seeded generators built about 30,000 calls and compared the
result's dtype, shape, strides and values, or the exception's type and first words.  The
defects fixed:

* ``clip_grad_value_`` with no gradient to clip (no parameters, or none with a ``.grad``) is
  PyTorch's RuntimeError (its grouping of the gradients refuses an empty list);
* the column-major results of the LAPACK-backed functions have PyTorch's strides on dims of
  size 1 too: a solution (n, 1) has strides (1, n), an R or LU factor (1, n) has (1, 1);
* ``linalg.lstsq``'s solution for a tall A (m > n) is the first n rows of a column-major
  (m, k) block, as LAPACK leaves it: its strides are that block's;
* ``triangular_solve`` checks in PyTorch's order and words: each operand's rank, the dtypes
  alike, A square ("A must be batches of square matrices", no prefix), the sizes, the batch
  shapes, then the dtype's kernel; its flags must be bools; ``linalg.solve_triangular`` of a
  real A and a complex B solves with B's real part (PyTorch's cast, with its warning);
* ``linalg.qr`` checks A's rank and dtype before the mode, a mode that is no str is the
  parser's TypeError; ``torch.qr``'s ``some`` must be a bool;
* the Fourier transforms check in PyTorch's order: the 1-D ones the arguments' types, float16,
  realness, ``dim``, the number of points (given or the input's), then ``norm``'s value; the
  n-D ones the dims wrapped and unique before ``s``'s length, "must transform at least one
  axis" before float16, and the complex-to-real points before ``norm``; the 2-D ones refuse
  ``dim=None`` (the parser's TypeError);
* the transforms' results have PyTorch's layout: the dims not transformed first (by the
  input's strides), the transformed ones after, so a transform over a dim that is not last,
  of a permuted or a cropped input, has PyTorch's strides (``ihfftn`` over several dims:
  its two steps' layout);
* ``fftshift`` / ``ifftshift`` of a 0-d tensor with a ``dim`` is PyTorch's IndexError;
* the distributions' draws refuse what PyTorch's samplers refuse: no draws at all from a
  Categorical / OneHotCategorical / Multinomial (``multinomial``'s words, and its words for
  bad weights), a negative Normal scale (LogNormal, HalfNormal), a negative Poisson rate;
  a Gamma draw for a negative concentration is the smallest normal number, as PyTorch's;
* ``randint`` / ``random_`` refuse bounds outside float16's range, ``randperm`` a size its
  dtype cannot hold; ``multinomial``'s result is a fresh row-major block; ``rand_like`` /
  ``randn_like`` / ``randint_like`` of a non-row-major layout fill memory in draw order
  (``randn_like`` by the one-at-a-time kernel, as PyTorch's);
* ``angle`` of a complex tensor is row-major whatever its input's layout;
* the optimizers' capturable check on the CPU names the foreach path's devices and tensors
  when ``foreach=True``; Adagrad compares its arguments as PyTorch does (a None lr is
  Python's TypeError in PyTorch's words).
"""
import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-4, atol64=1e-8, seed=0)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken


# ---- clip_grad_value_: nothing to clip is PyTorch's error ---------------------------------------

_PARAMS = "ps = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2, 2))]; "


@pytest.mark.parametrize("code", [
    "r = torch.nn.utils.clip_grad_value_([], 1.)",
    "r = torch.nn.utils.clip_grad_value_([], 1., foreach=False)",
    _PARAMS + "r = torch.nn.utils.clip_grad_value_(ps, 0.5)",
    _PARAMS + "r = torch.nn.utils.clip_grad_value_(ps[0], 0.5, foreach=True)",
    _PARAMS + "r = torch.nn.utils.clip_grad_value_(iter(ps), 0.5)",
])
def test_clip_grad_value_without_gradients(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _PARAMS + "ps[1].grad = torch.tensor([[3., -4.], [.2, 1.]]); "
    "torch.nn.utils.clip_grad_value_(ps, 0.5); r = ps[1].grad",
    _PARAMS + "ps[0].grad = torch.tensor([3., -4.]); "
    "torch.nn.utils.clip_grad_value_(ps[0], 2); r = ps[0].grad",
    "r = torch.nn.utils.clip_grad_norm_([], 1.)",
])
def test_clip_grad_with_gradients(code):
    _taken(code)


# ---- the LAPACK layouts on dims of size 1 --------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.linalg.solve(torch.tensor([[2., 1.], [1., 3.]]), torch.ones(2, 1))",
    "r = torch.linalg.solve(torch.tensor([[2., 1.], [1., 3.]]), torch.ones(3, 2, 1))",
    "r = torch.linalg.solve_triangular(torch.tensor([[2., 1.], [0., 3.]]), torch.ones(2, 1), "
    "upper=True)",
    "r = torch.linalg.qr(torch.ones(1, 3))",
    "r = torch.linalg.qr(torch.randn(3, 1, dtype=torch.float64))",
    "r = torch.linalg.qr(torch.randn(2, 1, 3), mode='r')",
    "r = torch.linalg.lu_factor(torch.ones(1, 3))",
    "r = torch.linalg.cholesky(torch.ones(3, 1, 1) * 4)",
    "r = torch.linalg.inv(torch.ones(2, 1, 1) * 2)",
])
def test_lapack_layouts_with_single_rows_or_columns(code):
    _taken(code)


# ---- lstsq: the solution is a view of LAPACK's (m, k) block -------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.linalg.lstsq(torch.ones(2, 1, dtype=torch.float64), "
    "torch.tensor([[2., 1.], [1., 3.]], dtype=torch.float64)).solution",
    "r = torch.linalg.lstsq(torch.randn(2, 5, 3, dtype=torch.float64), "
    "torch.randn(2, 5, 4, dtype=torch.float64)).solution",
    "r = torch.linalg.lstsq(torch.randn(5, 3, dtype=torch.float64), "
    "torch.randn(5, 2, dtype=torch.float64), driver='gelsd').solution",
    "r = torch.linalg.lstsq(torch.randn(2, 5, 3), torch.randn(2, 5)).solution",
    "r = torch.linalg.lstsq(torch.randn(2, 3, 5, dtype=torch.float64), "
    "torch.randn(2, 3, 4, dtype=torch.float64)).solution",
    "A = torch.randn(4, 2, dtype=torch.float64, requires_grad=True); "
    "B = torch.randn(4, 3, dtype=torch.float64, requires_grad=True); "
    "(torch.linalg.lstsq(A, B).solution ** 2).sum().backward(); r = (A.grad, B.grad)",
])
def test_lstsq_solution_layout(code):
    _taken(code)


# ---- triangular_solve: PyTorch's order and words -------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.triangular_solve(torch.ones(2, 2, dtype=torch.float64), torch.ones(2, 1))",
    "r = torch.triangular_solve(torch.ones(2, 2), torch.ones(2, 1))",
    "r = torch.triangular_solve(torch.ones(2), torch.ones(2, 1, dtype=torch.float64))",
    "r = torch.triangular_solve(torch.ones(2, 2), torch.ones(2))",
    "r = torch.triangular_solve(torch.ones(3, 2), torch.eye(2))",
    "r = torch.triangular_solve(torch.ones(2, 2, 1), torch.eye(2).expand(3, 2, 2))",
    "r = torch.triangular_solve(torch.ones(2, 2, dtype=torch.int64), "
    "torch.ones(2, 2, dtype=torch.int64))",
    "r = torch.triangular_solve(torch.ones(2, 2).half(), torch.ones(2, 2).half())",
    "r = torch.triangular_solve(torch.ones(2, 2, dtype=torch.int64), "
    "torch.ones(2, 1, dtype=torch.int64))",
    "r = torch.triangular_solve(torch.ones(2, 1), torch.eye(2), upper=1)",
    "r = torch.triangular_solve(torch.ones(2, 1), torch.eye(2), True, None)",
])
def test_triangular_solve_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.triangular_solve(torch.ones(2, 1), torch.tensor([[2., 1.], [0., 4.]]))",
    "r = torch.triangular_solve(torch.ones(3, 2, 1, dtype=torch.float64), "
    "torch.tensor([[2., 0.], [1., 4.]], dtype=torch.float64), upper=False)",
    "r = torch.triangular_solve(torch.ones(2, 2), torch.tensor([[2., 1.], [0., 4.]]), "
    "transpose=True, unitriangular=True)",
    "r = torch.triangular_solve(torch.ones(0, 2, 1), torch.eye(2))",
    "r = torch.linalg.solve_triangular(torch.tensor([[2., 1.], [0., 3.]], dtype=torch.float64), "
    "torch.tensor([[1+2j], [3-1j]], dtype=torch.complex128), upper=True)",
    "r = torch.linalg.solve_triangular(torch.tensor([[2., 1.], [0., 3.]]), "
    "torch.tensor([[1+2j, 3-1j]], dtype=torch.complex128), upper=True, left=False)",
    "A = torch.tensor([[2., 1.], [0., 3.]], dtype=torch.float64, requires_grad=True); "
    "B = torch.tensor([[1+2j], [3-1j]], dtype=torch.complex128, requires_grad=True); "
    "torch.linalg.solve_triangular(A, B, upper=True).sum().backward(); "
    "r = (A.grad, B.grad.clone(memory_format=torch.contiguous_format))",
])
def test_triangular_solve_taken(code):
    _taken(code)


# ---- linalg.qr / torch.qr: the argument checks' order --------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.linalg.qr(torch.ones(2, 2, dtype=torch.int64), mode='x')",
    "r = torch.linalg.qr(torch.ones(3), mode='x')",
    "r = torch.linalg.qr(torch.ones(2, 2).half(), mode='x')",
    "r = torch.linalg.qr(torch.ones(2, 2), mode=1)",
    "r = torch.linalg.qr(torch.ones(2, 2), mode=None)",
    "r = torch.linalg.qr(torch.ones(2, 2), mode='R')",
    "r = torch.qr(torch.ones(2, 2), some=1)",
    "r = torch.qr(torch.ones(2, 2, dtype=torch.bool), some=None)",
])
def test_qr_refusals(code):
    _refused(code)


# ---- the Fourier transforms' argument checks, in PyTorch's order ---------------------------------

@pytest.mark.parametrize("call", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"])
@pytest.mark.parametrize("args", [
    "torch.randn(6), n=0, norm='x'",
    "torch.randn(6), n=-1, norm='x'",
    "torch.randn(0), norm='x'",
    "torch.tensor(2.), norm='x'",
    "torch.randn(4), dim=1, norm='x'",
    "torch.randn(4).half(), dim=(0,)",
    "torch.randn(4).half(), n=1.5",
    "torch.randn(4, dtype=torch.complex64), n=0",
])
def test_one_dim_transform_checks(call, args):
    _refused(f"r = torch.fft.{call}({args})")


@pytest.mark.parametrize("call", ["fft2", "fftn", "rfftn", "irfftn", "hfftn", "ihfftn"])
@pytest.mark.parametrize("args", [
    "torch.randn(2, 4), s=(2, 3, 4), dim=(0, 0)",
    "torch.randn(2, 4), s=(1,), dim=(0, 0)",
    "torch.randn(2, 4), dim=(0, 0), norm='x'",
    "torch.randn(2, 4).half(), s=(2, 3, 4), dim=(0, 0)",
    "torch.randn(0, 3), norm='x'",
    "torch.randn(2, 4).half(), dim=(5,), s=(1, 2)",
])
def test_n_dim_transform_checks(call, args):
    _refused(f"r = torch.fft.{call}({args})")


@pytest.mark.parametrize("code", [
    "r = torch.fft.rfftn(torch.randn(2, 4).half(), dim=())",
    "r = torch.fft.irfftn(torch.randn(2, 4).half(), dim=(), s=())",
    "r = torch.fft.ihfftn(torch.randn(2, 4).half(), dim=())",
    "r = torch.fft.hfftn(torch.randn(2, 4).bfloat16(), dim=())",
    "r = torch.fft.irfftn(torch.randn(2, 1, dtype=torch.complex64), norm='x')",
    "r = torch.fft.fft2(torch.randn(2, 4), dim=None)",
    "r = torch.fft.rfft2(torch.randn(2, 4), s=(2,), dim=None)",
    "r = torch.fft.ihfft2(torch.randn(2, 4), None, None)",
    "r = torch.fft.fftshift(torch.tensor(2.), dim=-1)",
    "r = torch.fft.ifftshift(torch.tensor(2.), dim=(0,))",
    "r = torch.fft.fftshift(torch.tensor(2.))",
])
def test_transform_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.fft.fftn(torch.randn(2, 4), dim=None)",
    "r = torch.fft.fftn(torch.randn(2, 4, dtype=torch.complex64), s=(2,), dim=None)",
    "r = torch.fft.fft2(torch.randn(2, 4), dim=())",
])
def test_transforms_taken(code):
    _taken(code)


# ---- the transforms' result layouts --------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.fft.fft(torch.randn(2, 5, dtype=torch.float64), dim=0)",
    "r = torch.fft.ifft(torch.randn(3, 4, dtype=torch.complex64), dim=0)",
    "r = torch.fft.rfft(torch.randn(2, 5, dtype=torch.float64), dim=0)",
    "r = torch.fft.irfft(torch.randn(2, 3, 4, dtype=torch.complex128), dim=1)",
    "r = torch.fft.hfft(torch.randn(4, 3, dtype=torch.complex64), dim=0)",
    "r = torch.fft.ihfft(torch.randn(3, 4, 2), dim=1)",
    "r = torch.fft.fftn(torch.randn(2, 3, 4), dim=(0, 2))",
    "r = torch.fft.fftn(torch.randn(4, 3), dim=(1, 0))",
    "r = torch.fft.fft2(torch.randn(2, 3, 4, dtype=torch.complex64), dim=(0, 1))",
    "r = torch.fft.rfftn(torch.randn(2, 3, 4), dim=(2, 0))",
    "r = torch.fft.irfftn(torch.randn(2, 3, 4, dtype=torch.complex64), dim=(0, 1))",
    "r = torch.fft.hfftn(torch.randn(3, 2, 4, dtype=torch.complex64), dim=(2, 0))",
    "r = torch.fft.ihfft2(torch.randn(2, 5, dtype=torch.float64))",
    "r = torch.fft.ihfftn(torch.randn(2, 3, 4), dim=(1, 2))",
])
def test_transform_layouts(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    "r = torch.fft.fftn(torch.randn(5, 2, 5).permute(2, 0, 1), dim=(1, 0, 2))",
    "r = torch.fft.fft(torch.randn(5, 5, 5).permute(0, 2, 1), n=3, dim=0, norm='ortho')",
    "r = torch.fft.rfft(torch.randn(5, 2, 5, dtype=torch.float64).permute(0, 2, 1), n=3, dim=0)",
    "r = torch.fft.fft2(torch.randn(3, 3, 5, dtype=torch.complex128).permute(2, 0, 1)[..., ::2], "
    "dim=(0, -1), s=(3, 2))",
    "r = torch.fft.irfftn(torch.randn(4, 2, 3, dtype=torch.complex64).permute(1, 2, 0), "
    "dim=(0, 2))",
    "r = torch.fft.ihfftn(torch.randn(3, 4, 5, dtype=torch.float64).permute(2, 0, 1), "
    "s=(4, 3), dim=(1, 0))",
    "x = torch.randn(4, 3, 5, dtype=torch.float64).permute(1, 2, 0).requires_grad_(); "
    "y = torch.fft.fftn(x, dim=(0, 2)); (y.abs() ** 2).sum().backward(); r = (y, x.grad)",
])
def test_transform_layouts_of_strided_inputs(code):
    _taken(code)


# ---- distributions: the draws' refusals are those of PyTorch's samplers ------------------------

_D = "D = torch.distributions; "


@pytest.mark.parametrize("code", [
    _D + "r = D.Categorical(probs=torch.tensor([0.2, 0.8])).sample(torch.Size([0]))",
    _D + "r = D.Categorical(logits=torch.zeros(2, 3)).sample((0, 2))",
    _D + "r = D.OneHotCategorical(torch.tensor([0.2, 0.8])).sample((0,))",
    _D + "r = D.Multinomial(5, torch.tensor([0.2, 0.8])).sample(torch.Size([0]))",
    _D + "r = D.Multinomial(0, probs=torch.tensor([0.2, 0.8])).sample()",
    _D + "r = D.Categorical(probs=torch.tensor([-0.2, 0.8]), validate_args=False).sample((2, 3))",
    _D + "r = D.Categorical(probs=torch.tensor([[0., 0.]]), validate_args=False).sample((2,))",
    _D + "r = D.Categorical(probs=torch.tensor([-0.2, 0.8]), validate_args=False).sample()",
    _D + "r = D.Normal(0., -1., validate_args=False).sample()",
    _D + "r = D.Normal(torch.zeros(2), torch.tensor([1., -2.]), validate_args=False).sample((3,))",
    _D + "r = D.LogNormal(0., -2., validate_args=False).sample((2, 3))",
    _D + "r = D.HalfNormal(-1., validate_args=False).expand((3, 2)).sample()",
    _D + "r = D.Poisson(-1., validate_args=False).sample()",
    _D + "r = D.Poisson(torch.tensor([1., -2.]), validate_args=False).sample((2,))",
])
def test_distribution_draw_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _D + "r = D.Normal(0., -1., validate_args=False).sample(torch.Size([0]))",
    _D + "r = D.Normal(0., -1., validate_args=False).rsample((2,))",
    _D + "r = D.Normal(torch.zeros(2), torch.ones(2)).sample((3,))",
    _D + "r = D.Poisson(torch.tensor([1., 0.])).sample((2,))",
    _D + "r = D.Categorical(probs=torch.tensor([0.2, 0.8])).sample((2, 3))",
    _D + "r = D.Gamma(-1., 1., validate_args=False).sample((2, 3))",
    _D + "r = D.Gamma(torch.tensor([-1., 2., 0.]), 1., validate_args=False).rsample()",
    _D + "r = D.NegativeBinomial(-3., 0.5, validate_args=False).sample((2,))",
])
def test_distribution_draws_taken(code):
    _taken(code)


# ---- angle of a complex tensor: a row-major result ----------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.angle(torch.tensor([[1+2j, 3-1j], [0j, -1+0.5j]]).t())",
    "r = torch.randn(2, 3, 4, dtype=torch.complex128).permute(2, 0, 1).angle()",
    "r = torch.angle(torch.tensor([[1., -2.], [0., 3.]]).t())",
    "x = torch.randn(3, 2, dtype=torch.complex128).t().requires_grad_(); "
    "torch.angle(x).sum().backward(); r = (torch.angle(x.detach()), x.grad)",
])
def test_angle_layout(code):
    _taken(code)


# ---- random factories: bounds and sizes a dtype cannot hold, the draws' layout -----------------

@pytest.mark.parametrize("code", [
    "r = torch.randint(0, 2 ** 31, (3,), dtype=torch.float16)",
    "r = torch.randint(-2 ** 63, 0, (2,), dtype=torch.float16)",
    "r = torch.randint(0, 65506, (0,), dtype=torch.float16)",
    "r = torch.randint(-65505, 0, (2,), dtype=torch.float16)",
    "r = torch.zeros(2).half().random_(0, 70000)",
    "r = torch.zeros(2).half().random_(-70000, 0)",
    "r = torch.zeros(2).half().random_(70000)",
    "r = torch.randperm(300, dtype=torch.uint8)",
    "r = torch.randperm(129, dtype=torch.int8)",
    "r = torch.randperm(32769, dtype=torch.int16)",
    "r = torch.randperm(2050, dtype=torch.float16)",
    "r = torch.randperm(-1, dtype=torch.uint8)",
])
def test_random_bounds_refused(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.randint(0, 65505, (3,), dtype=torch.float16)",
    "r = torch.randint(-65504, 0, (3,), dtype=torch.float16)",
    "r = torch.randperm(256, dtype=torch.uint8)",
    "r = torch.randperm(2049, dtype=torch.float16)",
    "r = torch.multinomial(torch.tensor([[0.2, 0.8, 0.], [0., 0., 1.]]), 1, False)",
    "r = torch.multinomial(torch.tensor([[0.2, 0.8, 0.], [0., 0., 1.]]), 2, False)",
    "r = torch.multinomial(torch.tensor([[0.2, 0.8, 0.], [0., 0., 1.]]), 1, True)",
])
def test_random_draws_taken(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    "r = torch.randn_like(torch.zeros(2, 3).t())",
    "r = torch.randn_like(torch.zeros(5, 4).t())",
    "r = torch.randn_like(torch.zeros(5, 4, dtype=torch.float64).t())",
    "r = torch.randn_like(torch.zeros(5, 4, dtype=torch.complex64).t())",
    "r = torch.rand_like(torch.zeros(2, 3, 2).permute(2, 0, 1))",
    "r = torch.rand_like(torch.zeros(6, 5).t())",
    "r = torch.rand_like(torch.zeros(2, 3, 2, 2), memory_format=torch.channels_last)",
    "r = torch.randint_like(torch.zeros(6, 5).t(), 10)",
    "r = torch.randint_like(torch.zeros(6, 5, dtype=torch.int64).t(), 3, 10)",
    "r = torch.randn_like(torch.zeros(6, 5).t(), memory_format=torch.contiguous_format)",
])
def test_like_draws_fill_memory_in_order(code):
    _taken(code)


# ---- optimizers: capturable on the CPU through the foreach path, Adagrad's lr check --------------

_W = "w = torch.nn.Parameter(torch.tensor([[1., -2.], [0.5, 3.]])); "
_STEP = "; ((w ** 2).sum()).backward(); opt.step(); r = w"


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "NAdam", "RAdam", "ASGD",
                                  "Adadelta", "RMSprop", "Rprop"])
@pytest.mark.parametrize("foreach", [True, False, None])
def test_capturable_on_the_cpu(name, foreach):
    _refused(_W + f"opt = torch.optim.{name}([w], lr=0.1, capturable=True, "
                  f"foreach={foreach})" + _STEP)


@pytest.mark.parametrize("code", [
    _W + "opt = torch.optim.Adagrad([w], lr=None)",
    _W + "opt = torch.optim.Adagrad([w], lr=0.1, eps=None)",
    _W + "opt = torch.optim.Adagrad([w], lr=nan)",
    _W + "opt = torch.optim.Adagrad([w], lr=0.1, lr_decay=-1)",
])
def test_adagrad_argument_checks(code):
    _refused(code + "; r = w")
