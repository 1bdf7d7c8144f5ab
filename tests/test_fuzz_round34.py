"""Round-34 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at the nn.functional layer: convolutions and their transposes, pooling
(fractional pooling with given samples too), interpolate in every mode, pad, every loss,
the normalizations, activations and their in-place forms, embedding / embedding_bag,
one_hot, grid_sample / affine_grid, fold / unfold, pixel and channel shuffles,
scaled_dot_product_attention, multi_head_attention_forward, dropout, the softmax family
with ``dtype=``, and the distance functions.  Seeded generators built each call from
adversarial pieces (0-d, empty, batch-less, transposed, expanded and strided inputs,
integer and bool inputs, mixed dtypes, sizes and arguments out of range, legacy reduction
arguments) and compared the result's dtype, shape and values, the float64 gradients, or
the exception's type and first words, over about 32,000 calls.  The defects fixed:

* ``linear`` folds its input into one addmm as PyTorch 2.13 does: always for a matrix
  input, otherwise only for a contiguous input beside a contiguous bias that is a vector
  (or has one dim not of size 1); any other input goes through matmul (whose words a
  dtype mismatch takes, a 1-d input's as mm's) and the bias is added in place.  addmm
  compares the dtypes before the bias's size, expands a (k, 1) bias to the folded
  (rows, out) product, and words a bias of too many dims ``expand(torch.FloatTensor{[..]}``;
  a vector weight takes a bias where PyTorch's matmul path adds it (a 0-d bias, say);
* ``embedding_bag`` promotes the indices and offsets to one type before it checks it
  (uint8, int16 or bool indices beside int64 offsets are taken); a 2-d bool input is
  refused by the arange of its offsets; ``mode='max'`` with ``sparse=True`` is refused
  with the other mode checks; ``include_last_offset`` needs one offset; ``max_norm``
  checks the indices as embedding_renorm_ does, and renorms every row the input names
  (a padding row too, as PyTorch's);
* ``pairwise_distance`` of integer tensors is a float norm (PyTorch's eps is a double,
  even when given as an int, a bool or a 0-d tensor);
* ``cdist`` checks ``compute_mode`` first, then both ranks, the columns, then both dtypes;
* ``channel_shuffle`` checks the rank before the groups; ``bilinear`` of bool tensors is
  refused by the bmm after the shape checks (an empty batch is taken);
* ``scaled_dot_product_attention`` with no query or key positions or values of size 0
  returns zeros of shape (*query.shape[:-1], Ev) at once, whatever the other shapes and
  heads; features of size 0 give all-zero scores (scale 1/sqrt(0) is not computed) and a
  causal mask still applies;
* softmax / log_softmax / softmin with an integer ``dtype=`` of an input requiring grad cast
  without a gradient, so the dim is checked before the kernel refuses the dtype (an empty
  input gives an empty integer result); a complex ``dtype=`` of an empty input requiring
  grad is refused as PyTorch's autograd refuses it;
* ``pdist`` of a float16 or bfloat16 input with nothing to compute (fewer than two rows,
  or no columns) is taken;
* ``batch_norm`` checks each running statistic, the weight and the bias in turn (its size,
  or its absence in evaluation mode), then the running statistics' ranks, and only then
  that both or neither running statistic is given (an empty input returns before that);
* ``cross_entropy`` with class indices checks ``label_smoothing`` before its log_softmax
  refuses integer scores (with class probabilities, after it); 0-d integer scores get the
  dim's IndexError first;
* ``fractional_max_pool3d`` checks the pool's size against the input's along time, width,
  then height, as PyTorch's kernel.
"""
import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-5, atol64=1e-10)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken

_GRADS = "\nr = (r,) + tuple(g.contiguous() for g in torch.autograd.grad(r.sum(), {}))"


# ---- linear: PyTorch 2.13's choice of addmm or matmul ----------------------------------------

@pytest.mark.parametrize("code", [
    # a vector weight: refused where addmm runs, the bias added in place elsewhere
    "r = F.linear(torch.ones(3), torch.ones(3), torch.ones(()))",
    "r = F.linear(torch.ones(2, 2, 3), torch.ones(3), torch.ones(()))",
    "r = F.linear(torch.ones(2, 2, 3), torch.ones(3), torch.ones(2, 2))",
    "r = F.linear(torch.ones(2, 3, 2).transpose(1, 2), torch.ones(3), torch.ones(2))",
    "r = F.linear(torch.ones(3).long(), torch.ones(3).long(), torch.ones(()).long())",
    "r = F.linear(torch.ones(3), torch.ones(3), torch.ones(()).double())",
    # a matrix weight: a (k, 1) bias expands to the folded (rows, out) product
    "r = F.linear(torch.ones(2, 2, 3), torch.ones(4, 3), torch.arange(4.).reshape(4, 1))",
    "r = F.linear(torch.ones(2, 1, 2, 3), torch.ones(4, 3), torch.arange(4.).reshape(4, 1))",
    # beside a non-contiguous bias or a float 0-d bias the bias is added in place
    "r = F.linear(torch.ones(3), torch.ones(4, 3), torch.ones(()).double())",
    "r = F.linear(torch.ones(3), torch.ones(4, 3), torch.ones(()).bool())",
    "r = F.linear(torch.ones(3).double(), torch.ones(4, 3).double(), torch.ones(8)[::2])",
    "x = torch.arange(12.).double().reshape(2, 3, 2).transpose(1, 2).requires_grad_(); "
    "w = torch.arange(3.).double().requires_grad_(); b = torch.tensor(0.5).double()"
    "\nr = F.linear(x, w, b)" + _GRADS.format("(x, w)"),
    "x = torch.arange(12.).double().reshape(2, 2, 3).requires_grad_(); "
    "w = torch.arange(12.).double().reshape(4, 3).requires_grad_(); "
    "b = torch.arange(4.).double().reshape(4, 1).requires_grad_()"
    "\nr = F.linear(x, w, b)" + _GRADS.format("(x, w, b)"),
])
def test_linear_taken(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    "r = F.linear(torch.ones(3), torch.ones(3), torch.ones(1))",
    "r = F.linear(torch.ones(2, 2, 3), torch.ones(3), torch.ones(1, 2))",
    "r = F.linear(torch.ones(3), torch.ones(3), torch.ones(2, 2))",
    "r = F.linear(torch.ones(2, 3), torch.ones(3).double(), torch.ones(2))",
    "r = F.linear(torch.ones(2, 3).long(), torch.ones(3).long(), torch.ones(2, 1))",
    "r = F.linear(torch.ones(3).long(), torch.ones(3).long(), torch.ones(14).long()[::2])",
    "r = F.linear(torch.ones(2, 2, 3), torch.ones(3), torch.ones(14)[::2])",
    # a non-contiguous input goes through matmul: mm's dtype words, then bmm's bool refusal
    "r = F.linear(torch.ones(1).expand(3).bool(), torch.ones(1, 3), torch.ones(7).bool())",
    "r = F.linear(torch.ones(3), torch.ones(4, 3).double(), torch.ones(8)[::2])",
    "r = F.linear(torch.ones(3), torch.ones(4, 3).double(), torch.ones(2, 4))",
    "r = F.linear(torch.ones(3).bool(), torch.ones(4, 3), torch.ones(()))",
    # addmm: the dtypes before the sizes
    "r = F.linear(torch.ones(3), torch.ones(4, 3).double(), torch.ones(7))",
    "r = F.linear(torch.ones(3).bool(), torch.ones(4, 3), torch.ones(4, 1).double())",
    "r = F.linear(torch.ones(2, 3), torch.ones(4, 3), torch.ones(2, 2, 4))",
    "r = F.linear(torch.ones(3, 2).t().double(), torch.ones(4, 3).double(), "
    "torch.ones(2, 2, 4).double())",
])
def test_linear_refused(code):
    _refused(code)


# ---- embedding_bag ---------------------------------------------------------------------------

_W = "w = torch.arange(6.).reshape(3, 2).double().requires_grad_()\n"


@pytest.mark.parametrize("code", [
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).to(torch.uint8), w, torch.tensor([0, 1]),"
    " mode='max')" + _GRADS.format("(w,)"),
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).to(torch.int16), w, "
    "torch.tensor([0, 1]).int(), mode='sum')" + _GRADS.format("(w,)"),
    _W + "r = F.embedding_bag(torch.tensor([0, 1, 1]).bool(), w, torch.tensor([0, 1]))"
    + _GRADS.format("(w,)"),
    # max_norm renorms every row the input names, the padding row too
    "w = torch.arange(6.).reshape(3, 2).double()\nr = F.embedding_bag(torch.tensor([0, 2, 1]), "
    "w, torch.tensor([0, 1]), max_norm=1.0, padding_idx=2)\nr = (r, w)",
    "w = torch.arange(6.).reshape(3, 2).double()\nr = F.embedding_bag(torch.tensor([0, 2, 1]), "
    "w, torch.tensor([0, 1]), mode='max', max_norm=1.0, include_last_offset=True)\nr = (r, w)",
])
def test_embedding_bag_taken(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).to(torch.uint8), w, "
    "torch.tensor([0, 1]).to(torch.int8))",
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).long(), w, torch.tensor([0, 1]).float())",
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).to(torch.uint8), w, "
    "torch.tensor([0, 1]).to(torch.uint8))",
    _W + "r = F.embedding_bag(torch.tensor([[0, 1], [1, 0]]).bool(), w)",
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]), w, torch.tensor([1]), mode='max', "
    "sparse=True)",
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).double(), w, torch.tensor([0, 1]), "
    "mode='max', sparse=True, per_sample_weights=torch.ones(3).double())",
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]), w, torch.tensor([], dtype=torch.int64), "
    "include_last_offset=True)",
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).to(torch.uint8), w, torch.tensor([0, 5]), "
    "max_norm=0.5, sparse=True)",
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).bool(), w, torch.tensor([1]), "
    "max_norm=1.0, per_sample_weights=torch.ones(3).double())",
    _W + "r = F.embedding_bag(torch.tensor([0, 2, 1]).double(), w, torch.tensor([0]), "
    "max_norm=1.0)",
])
def test_embedding_bag_refused(code):
    _refused(code)


# ---- distances --------------------------------------------------------------------------------

_A = "a = torch.tensor([[1, 2, 3], [0, 5, 1]]).to(torch.{0}); b = torch.tensor([2, 0, 3]).to(" \
     "torch.{0})\n"


@pytest.mark.parametrize("code", [
    _A.format("int64") + "r = F.pairwise_distance(a, b)",
    _A.format("int32") + "r = F.pairwise_distance(a, b, p=1, eps=0)",
    _A.format("uint8") + "r = F.pairwise_distance(a, b, p=2, eps=True)",
    _A.format("int64") + "r = F.pairwise_distance(a, b, p=float('inf'), eps=torch.tensor(1))",
    _A.format("int64") + "r = F.pairwise_distance(a, b, p=0, eps=1, keepdim=True)",
    "r = F.pdist(torch.ones(3, 0).half(), 1)",
    "r = F.pdist(torch.ones(1, 2).to(torch.bfloat16), 2)",
    "r = F.pdist(torch.ones(0, 2).half(), float('inf'))",
])
def test_distances_taken(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    "r = torch.cdist(torch.ones(3), torch.ones(2, 3), compute_mode='bogus')",
    "r = torch.cdist(torch.ones(2, 3).long(), torch.ones(4, 2), 1, compute_mode='bogus')",
    "r = torch.cdist(torch.ones(2, 0).long(), torch.ones(1, 4, 3), 2)",
    "r = torch.cdist(torch.ones(0, 3).long(), torch.ones(2), 2)",
    "r = torch.cdist(torch.ones(2, 3).bool(), torch.ones(0, 2), float('inf'))",
    "r = torch.cdist(torch.ones(2, 3), torch.ones(4, 3).int(), 2)",
    "r = F.pdist(torch.ones(3, 2).half(), 1)",
])
def test_distances_refused(code):
    _refused(code)


# ---- channel_shuffle, bilinear --------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = F.channel_shuffle(torch.arange(12.).reshape(2, 6), 0)",
    "r = F.channel_shuffle(torch.arange(6.), -1)",
    "r = F.channel_shuffle(torch.arange(12.).reshape(2, 6, 1), 0)",
    "r = F.bilinear(torch.ones(3).bool(), torch.ones(2, 4).bool(), torch.ones(5, 3, 4).bool())",
    "r = F.bilinear(torch.ones(2, 2, 3).bool(), torch.ones(2, 4).bool(), "
    "torch.ones(5, 3, 4).bool(), torch.ones(5).bool())",
    "r = F.bilinear(torch.ones(2, 3).bool(), torch.ones(2, 4).bool(), torch.ones(5, 3, 5).bool())",
    "r = F.bilinear(torch.ones(2, 3).bool(), torch.ones(2, 4).bool(), torch.ones(5, 3, 4).bool())",
])
def test_shuffle_bilinear_refused(code):
    _refused(code)


def test_bilinear_empty_bool_taken():
    _taken("r = F.bilinear(torch.ones(0, 3).bool(), torch.ones(0, 4).bool(), "
           "torch.ones(5, 3, 4).bool(), torch.ones(5).bool())")


# ---- scaled_dot_product_attention with empty sizes --------------------------------------------

def _sdpa(q, k, v, **kw):
    args = "".join(f", {name}={value}" for name, value in kw.items())
    return (f"q = torch.arange(1., 1 + {q[0]}).reshape{q[1]}.double().sin().requires_grad_(); "
            f"k = torch.arange(1., 1 + {k[0]}).reshape{k[1]}.double().cos().requires_grad_(); "
            f"v = torch.arange(1., 1 + {v[0]}).reshape{v[1]}.double().requires_grad_()\n"
            f"r = F.scaled_dot_product_attention(q, k, v{args})\n"
            "r = (r,) + tuple(g.contiguous() for g in torch.autograd.grad(r.sum(), (q, k, v), "
            "allow_unused=True, materialize_grads=True))")


@pytest.mark.parametrize("code", [
    _sdpa((0, (1, 0, 4)), (24, (2, 3, 4)), (18, (2, 3, 3)), enable_gqa=True),
    _sdpa((0, (4, 0, 2)), (9, (1, 3, 3)), (6, (1, 3, 2))),
    _sdpa((16, (2, 2, 4)), (0, (2, 0, 4)), (0, (2, 0, 3)), is_causal=True),
    _sdpa((8, (1, 2, 4)), (0, (3, 0, 5)), (0, (1, 0, 3))),
    _sdpa((8, (1, 2, 4)), (12, (1, 3, 4)), (0, (1, 3, 0))),
    _sdpa((0, (1, 1, 1, 0, 4)), (24, (1, 1, 2, 3, 4)), (12, (1, 1, 2, 3, 2)), enable_gqa=True,
          attn_mask="torch.zeros(0, 3)"),
    _sdpa((0, (0, 4)), (12, (3, 4)), (6, (3, 2)), enable_gqa=True),
    # features of size 0: all-zero scores, the causal mask still applies
    _sdpa((0, (2, 2, 0)), (0, (2, 3, 0)), (18, (2, 3, 3))),
    _sdpa((0, (2, 2, 0)), (0, (2, 3, 0)), (18, (2, 3, 3)), is_causal=True),
    _sdpa((0, (1, 2, 0)), (0, (2, 3, 0)), (18, (2, 3, 3)), scale=0.5),
])
def test_sdpa_empty_taken(code):
    _taken(code)


# ---- the softmax family with dtype= -----------------------------------------------------------

_XG = "x = torch.arange({}.).reshape{}.double().requires_grad_()\n"


@pytest.mark.parametrize("code", [
    _XG.format(0, (1, 0)) + "r = F.log_softmax(x, dtype=torch.int32)",
    _XG.format(0, (0,)) + "r = F.softmin(x, 0, dtype=torch.int64)",
    _XG.format(0, (3, 0, 2)) + "r = F.softmax(x, -3, dtype=torch.int32)",
    "x = torch.ones(0, 2).double()\nr = F.softmax(x, 0, dtype=torch.complex64)",
])
def test_softmax_integer_dtype_taken(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    _XG.format(0, (0,)) + "r = F.softmax(x, -3, dtype=torch.int32)",
    _XG.format(4, (4,)) + "r = F.softmin(x, dim=3, dtype=torch.int64)",
    _XG.format(4, (4,)) + "r = F.softmin(x, dim=0, dtype=torch.int64)",
    _XG.format(6, (2, 3)) + "r = F.log_softmax(x, 0, dtype=torch.bool)",
    _XG.format(0, (2, 0)) + "r = F.log_softmax(x, 0, dtype=torch.complex64)",
    _XG.format(0, (0,)) + "r = F.softmin(x, 0, dtype=torch.complex64)",
])
def test_softmax_integer_dtype_refused(code):
    _refused(code)


# ---- batch_norm: PyTorch's order of checks ------------------------------------------------------

_BN = "x = torch.arange(24.).reshape(4, 3, 2).double(){}\n"


@pytest.mark.parametrize("code", [
    # each statistic, weight and bias in turn: its size, or its absence in evaluation mode
    _BN.format("") + "r = F.batch_norm(x, torch.zeros(6).double(), None, training=False)",
    _BN.format("") + "r = F.batch_norm(x, None, torch.ones(4).double(), training=True)",
    _BN.format("") + "r = F.batch_norm(x, torch.zeros(3).double(), None, torch.ones(2).double(),"
    " training=True)",
    _BN.format("") + "r = F.batch_norm(x, None, torch.ones(3).double(), training=True)",
    _BN.format("") + "r = F.batch_norm(x, torch.zeros(3).double(), None, training=False)",
    _BN.format(".half()") + "r = F.batch_norm(x, torch.zeros(3), torch.ones(6), "
    "torch.ones(3), training=False)",
])
def test_batch_norm_refused(code):
    _refused(code)


def test_batch_norm_empty_batch_taken():
    # an empty input returns before the running statistics are looked at
    _taken("x = torch.ones(0, 3, 2).double().requires_grad_(); w = torch.ones(3).double()\n"
           "r = F.batch_norm(x, None, torch.ones(3).double(), w, None, training=True)")


# ---- cross_entropy: the smoothing against the integer scores ----------------------------------

@pytest.mark.parametrize("code", [
    "r = F.cross_entropy(torch.ones(1, 1).long(), torch.zeros(1).long(), label_smoothing=1.5)",
    "r = F.cross_entropy(torch.ones(3).long(), torch.zeros(()).long(), label_smoothing=1.5)",
    "r = F.cross_entropy(torch.ones(2, 3).long(), torch.zeros(2, 3), label_smoothing=1.5)",
    "r = F.cross_entropy(torch.ones(()).long(), torch.zeros(2).long(), label_smoothing=0.5)",
    "r = F.cross_entropy(torch.ones(2, 3).long(), torch.zeros(2).long(), label_smoothing=0.5)",
])
def test_cross_entropy_smoothing_refused(code):
    _refused(code)


# ---- fractional_max_pool3d: time, width, then height -------------------------------------------

@pytest.mark.parametrize("kernel, size", [
    ("[2, 2, 3]", "4"), ("[2, 3, 2]", "(4, 2, 5)"), ("[3, 2, 2]", "(4, 3, 5)"),
    ("[1, 4, 1]", "(2, 2, 2)"), ("[1, 1, 6]", "(2, 2, 2)"),
])
def test_fractional_max_pool3d_refused(kernel, size):
    _refused(f"x = torch.arange(144.).reshape(1, 1, 6, 4, 6)\nr = F.fractional_max_pool3d(x, "
             f"{kernel}, output_size={size}, _random_samples=torch.tensor([[[0.3, 0.6, 0.9]]]))")
