"""Round-32 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at the layer functions of ``nn.functional`` with odd arguments, which rounds
25-31 touched least: ``interpolate`` in every mode (size or scale_factor, 1-d to 3-d,
``align_corners``, ``antialias``, ``recompute_scale_factor``), ``fold`` / ``unfold``,
``pixel_shuffle`` / ``pixel_unshuffle``, ``one_hot``, ``normalize``, ``local_response_norm``,
``group_norm`` and ``instance_norm`` with running statistics, the adaptive pools, the
average pools, the transposed convolutions, ``embedding_bag``, ``ctc_loss``, the regression,
margin, ranking and probabilistic losses in every reduction (with float64 first and second
derivatives), and some module constructors (``LSTM(proj_size)``, ``MultiheadAttention``
with ``kdim`` / ``vdim`` and masks of every dtype).  Seeded generators ran about 20,000
calls on both libraries and compared values, dtype, shape, strides, requires_grad, the
gradients, and the exception's type and first line of words.  The defects fixed:

* ``linalg.vector_norm`` (and ``norm``, ``normalize``) of an order with no identity
  (negative or inf) over an empty tensor: PyTorch goes through the dims as given, names the
  first empty one as given (``dimension -1``, not the wrapped 1), and does so before it
  refuses a dim out of range or repeated among the later ones; ``normalize(p=inf)`` of no
  element spoke of ``amax`` (an IndexError);
* ``pairwise_distance`` (so ``triplet_margin_loss``) takes the norm along the last dim
  counted from the front, as PyTorch, whose refusal of an empty one names it so;
* ``pixel_shuffle`` / ``pixel_unshuffle`` refuse an input of fewer than 3 dims before a
  factor that is not positive;
* ``instance_norm``: without ``use_input_stats`` the input needs no spatial elements (a
  (N, C) input was refused), and the missing running statistics are refused first; one
  running statistic without the other is refused (it was taken); ``momentum`` and
  ``use_input_stats`` are read by PyTorch's parser (None and an int refused); a 1-d input
  is the IndexError of reading its dim 1; ``InstanceNorm*d(momentum=None)`` runs (PyTorch's
  module hands 0.0 on; minigrad raised a TypeError); ``torch.instance_norm`` (not the
  functional form) takes a single spatial element;
* ``group_norm`` refusing a bias prints the weight's shape (``[0]`` with no weight), as
  PyTorch's message does;
* ``multi_margin_loss`` with a weight that requires grad is refused while grad mode is on
  (only then), before the kernel's checks (their second and forward-mode derivatives, which
  PyTorch's kernels lack, minigrad's composition keeps);
* ``ctc_loss`` checks in PyTorch's order: the lengths' dtypes (a float or bool tensor of
  lengths), the kernel's dtype, an empty input ("log_probs tensor must not be empty"), the
  ranks (a 0-d or 3-d target), the blank, the lengths' counts, then the targets' sizes (a
  1-D target must hold exactly the lengths' sum; the first negative length is named); all
  target lengths 0 with 2-D targets raised numpy's IndexError;
* the recurrent layers check the states' sizes before refusing an empty sequence;
* ``threshold`` of a bool or complex tensor is the kernel's refusal ("threshold_cpu"), before
  a complex number is refused for the element type, in that type's name;
* ``scaled_dot_product_attention``: the inputs' ranks and the mask's dtype are checked before
  is_causal is refused beside a mask; an empty query, key or value gives PyTorch's early
  result whatever the mask; ``enable_gqa`` with 2-d inputs is the IndexError of reading the
  head dim; a negative dropout is refused by the flash kernel that PyTorch picks then.
"""
import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-6, atol64=1e-10, seed=0)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken


# (the loss, then its gradient with respect to x, in float64)
_GRAD = ("\ng = torch.autograd.grad(r.sum(), x, create_graph=True)[0]"
         "\nr = (r.detach(), g.detach())")


# ---- the norms of an order with no identity over an empty tensor ---------------------------

@pytest.mark.parametrize("code", [
    "r = torch.linalg.vector_norm(torch.randn(0), inf, -1, True)",
    "r = torch.linalg.vector_norm(torch.randn(2, 0), -1.0, (0, -1))",
    "r = torch.linalg.vector_norm(torch.randn(2, 0), -0.5, (-1, 0))",
    "r = torch.linalg.vector_norm(torch.randn(0), -1, (0, 1))",
    "r = torch.linalg.vector_norm(torch.randn(0), -inf, (0, 0))",
    "r = torch.linalg.vector_norm(torch.randn(0, 2), inf, (-2, 5))",
    "r = torch.linalg.vector_norm(torch.randn(0, 2), inf, (5, 0))",
    "r = torch.linalg.vector_norm(torch.randn(0, 2), inf, [])",
    "r = torch.linalg.vector_norm(torch.randn(0, 2).half(), inf, -2, dtype=torch.float32)",
    "r = torch.randn(2, 0).norm(inf, -1, True)",
    "r = torch.randn(0).norm(-1, (0, 1), True)",
    "r = F.normalize(torch.randn(0), inf, 0)",
    "r = F.normalize(torch.randn(2, 0), inf, -1)",
    "r = F.normalize(torch.randn(2, 0), inf, None)",
    "r = F.normalize(torch.randn(0), inf, (0, 1, 2))",
    "r = F.normalize(torch.randn(2, 0), -inf, -1)",
    "r = F.triplet_margin_loss(torch.randn(3, 0), torch.randn(3, 0), torch.randn(3, 0), p=-1)",
    "r = F.pairwise_distance(torch.randn(3, 0), torch.randn(0), p=inf)",
])
def test_empty_norm_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.linalg.vector_norm(torch.randn(0, 2), inf, -1)",
    "r = F.normalize(torch.randn(0, 3), inf, 1)",
    "r = F.normalize(torch.randn(2, 0), inf, 0)",
    "r = torch.linalg.vector_norm(torch.randn(3, 0), 2, (0, 1))",
    "x = torch.randn(3, 4).double().requires_grad_(); "
    "r = F.triplet_margin_loss(x, torch.randn(1, 4).double(), torch.randn(3, 4).double(), "
    "p=3, swap=True)" + _GRAD,
])
def test_empty_norms_taken(code):
    _taken(code)


# ---- pixel_shuffle: the input's rank before the factor's sign ------------------------------

@pytest.mark.parametrize("code", [
    "r = F.pixel_shuffle(torch.randn(2, 8), 0)",
    "r = F.pixel_shuffle(torch.randn(()), -2)",
    "r = F.pixel_unshuffle(torch.randn(8, 2), 0)",
    "r = F.pixel_unshuffle(torch.randn(8), -1)",
    "r = F.pixel_shuffle(torch.randn(1, 8, 2, 3), 0)",
    "r = F.pixel_unshuffle(torch.randn(1, 8, 2, 2), -2)",
    "r = F.pixel_shuffle(torch.randn(8, 2), 2.0)",
])
def test_pixel_shuffle_order_of_checks(code):
    _refused(code)


# ---- instance_norm's arguments ---------------------------------------------------------------

_STATS = "torch.zeros(6).double(), torch.ones(6).double()"


@pytest.mark.parametrize("code", [
    "r = F.instance_norm(torch.randn(2, 6).double(), use_input_stats=False)",
    "r = F.instance_norm(torch.randn(2, 6, 4).double(), torch.zeros(6).double(), "
    "use_input_stats=False)",
    "r = F.instance_norm(torch.randn(2, 6, 4).double(), torch.zeros(6).double())",
    "r = F.instance_norm(torch.randn(2, 6, 4).double(), None, torch.ones(6).double())",
    "r = F.instance_norm(torch.randn(2, 6, 4).double(), None, torch.ones(5).double())",
    "r = F.instance_norm(torch.randn(2, 6, 4).double(), momentum=None)",
    "r = F.instance_norm(torch.randn(2, 6, 4).double(), " + _STATS + ", momentum=None)",
    "r = F.instance_norm(torch.randn(2, 6, 4).double(), momentum='a')",
    "r = F.instance_norm(torch.randn(6).double(), None, None, use_input_stats=0)",
    "r = F.instance_norm(torch.randn(2, 6, 3).double(), " + _STATS + ", use_input_stats=None)",
    "r = F.instance_norm(torch.randn(6).double(), torch.zeros(0).double(), "
    "torch.ones(0).double(), use_input_stats=False)",
    "r = F.instance_norm(torch.randn(6).double(), use_input_stats=False)",
    "r = F.instance_norm(torch.randn(2, 6).double(), torch.zeros(5).double(), "
    "torch.ones(6).double(), use_input_stats=False)",
    "r = F.instance_norm(torch.randn(0, 6, 3).double(), momentum=None)",
    "r = F.instance_norm(torch.randn(2, 6).double())",
    "r = torch.instance_norm(torch.randn(6).double(), None, None, None, None, True, 0.1, 1e-5, "
    "False)",
    "r = torch.instance_norm(torch.randn(2, 6, 3).double(), None, None, None, None, True, None, "
    "1e-5, False)",
])
def test_instance_norm_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = F.instance_norm(torch.randn(2, 6).double(), " + _STATS + ", use_input_stats=False)",
    "r = F.instance_norm(torch.randn(2, 6, 1).double(), " + _STATS + ", use_input_stats=False)",
    "x = torch.randn(2, 6, 4).double().requires_grad_(); "
    "r = F.instance_norm(x, " + _STATS + ", momentum=1)" + _GRAD,
    "rm, rv = torch.zeros(6).double(), torch.ones(6).double(); "
    "F.instance_norm(torch.randn(2, 6, 4).double(), rm, rv, momentum=0.3); r = (rm, rv)",
    "rm, rv = torch.zeros(6).double(), torch.ones(6).double(); "
    "F.instance_norm(torch.randn(0, 6, 4).double(), None, rv); r = rv",
    "m = nn.InstanceNorm1d(3, momentum=None, track_running_stats=True); "
    "y = m(torch.randn(2, 3, 4)); r = (y, m.running_mean, m.running_var)",
    "m = nn.InstanceNorm1d(3, momentum=None, track_running_stats=True, affine=True); "
    "y = m(torch.randn(3, 4)); m.eval(); y = m(torch.randn(3, 4)); "
    "r = (y, m.running_mean, m.running_var)",
    # (torch.instance_norm itself asks for no spatial element: only the functional form does)
    "x = torch.randn(2, 6).double().requires_grad_(); "
    "r = torch.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False)" + _GRAD,
    "r = torch.instance_norm(torch.randn(2, 6, 1).double(), None, None, torch.zeros(6).double(), "
    "torch.ones(6).double(), True, 0.1, 1e-5, False)",
])
def test_instance_norm_taken(code):
    _taken(code)


# ---- group_norm's words for a bias of the wrong size ---------------------------------------

@pytest.mark.parametrize("code", [
    "r = F.group_norm(torch.randn(2, 5, 3), 5, None, torch.zeros(6))",
    "r = F.group_norm(torch.randn(2, 0, 3), 1, None, torch.zeros(6))",
    "r = F.group_norm(torch.randn(2, 0, 3), 1, torch.ones(0), torch.zeros(6, 1))",
    "r = F.group_norm(torch.randn(2, 5, 3), 5, torch.ones(5), torch.zeros(6, 1))",
    "r = F.group_norm(torch.randn(2, 5, 3), 5, torch.ones(4), torch.zeros(5))",
])
def test_group_norm_bias_words(code):
    _refused(code)


# ---- multi_margin_loss and multilabel_margin_loss: PyTorch's autograd --------------------

_X = "x = torch.randn(3, 4).double().requires_grad_(); "
_T = "torch.tensor([0, 3, 1])"
_W = "torch.rand(4).double()"
_LABELS = "torch.tensor([[0, 3, -1, 1], [2, -1, 0, 0], [1, 1, 1, 1]])"


@pytest.mark.parametrize("code", [
    _X + "r = F.multi_margin_loss(x, " + _T + ", weight=" + _W + ".requires_grad_())",
    _X + "r = F.multi_margin_loss(x, " + _T + ", p=2, reduction='none', weight=" + _W +
    ".requires_grad_())",
    _X + "r = F.multi_margin_loss(x, torch.tensor([0, 1, 2, 3]), weight=torch.rand(5)"
    ".double().requires_grad_())",
    "r = F.multi_margin_loss(torch.randn(3, 4).bfloat16(), " + _T + ", weight=" + _W +
    ".requires_grad_())",
    "r = F.multi_margin_loss(torch.randn(3, 4), " + _T + ".int(), weight=" + _W +
    ".requires_grad_())",
])
def test_margin_losses_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "w = " + _W + ".requires_grad_()\nwith torch.no_grad():\n"
    "    r = F.multi_margin_loss(torch.randn(3, 4).double(), " + _T + ", weight=w)",
    _X + "r = F.multi_margin_loss(x, " + _T + ")" + _GRAD,
    _X + "r = F.multi_margin_loss(x, " + _T + ", p=2, margin=0.5, weight=" + _W +
    ", reduction='none')" + _GRAD,
    _X + "r = F.multi_margin_loss(x, " + _T + ", margin=-0.5, reduction='sum', weight=" + _W +
    ")" + _GRAD,
    "x = torch.randn(3, 4).requires_grad_(); r = F.multi_margin_loss(x, " + _T + ", p=2, "
    "weight=torch.rand(4))" + _GRAD,
    "x = torch.randn(4).double().requires_grad_(); "
    "r = F.multi_margin_loss(x, torch.tensor(2), p=2, reduction='none')" + _GRAD,
    "x = torch.tensor([[1.0, 1.0, 0.0, 2.0]]).double().requires_grad_(); "
    "r = F.multi_margin_loss(x, torch.tensor([0]))" + _GRAD,
    "x = torch.randn(0, 4).double().requires_grad_(); "
    "r = F.multi_margin_loss(x, torch.tensor([], dtype=torch.int64), reduction='none')" + _GRAD,
    _X + "r = F.multilabel_margin_loss(x, " + _LABELS + ")" + _GRAD,
    _X + "r = F.multilabel_margin_loss(x, " + _LABELS + ", reduction='none')" + _GRAD,
    "x = torch.randn(4).requires_grad_(); "
    "r = F.multilabel_margin_loss(x, torch.tensor([3, 0, -1, 2]), reduction='sum')" + _GRAD,
    "x = torch.tensor([[0.5, 0.5, 1.5, -0.5]]).double().requires_grad_(); "
    "r = F.multilabel_margin_loss(x, torch.tensor([[2, 0, -1, 1]]))" + _GRAD,
    "x = torch.randn(0, 4).double().requires_grad_(); "
    "r = F.multilabel_margin_loss(x, torch.zeros(0, 4, dtype=torch.int64), "
    "reduction='none')" + _GRAD,
])
def test_margin_losses_taken(code):
    _taken(code)


# ---- threshold: the kernel's refusal of a bool or complex input, then the numbers --------

@pytest.mark.parametrize("code", [
    "r = F.threshold(torch.randn(3).to(torch.complex64), 0.1, 2)",
    "r = F.threshold(torch.randn(3).to(torch.complex128), 1j, 2)",
    "r = torch.threshold_(torch.randn(3).to(torch.complex64), 0.5, 2.5)",
    "r = nn.Threshold(0.1, 2)(torch.randn(3).to(torch.complex64))",
    "r = F.threshold(torch.randn(3) > 0, 1j, 2)",
    "r = F.threshold(torch.randn(3).to(torch.int64), 1j, 2)",
    "r = F.threshold(torch.randn(3).to(torch.uint8), 0.5, torch.tensor(1j))",
    "r = F.threshold(torch.randn(3).half(), 0.5, 1j)",
    "r = F.threshold(torch.randn(3), 'a', 2)",
])
def test_threshold_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = F.threshold(torch.randn(3).half(), 0.5 + 0j, 2)",
    "r = F.threshold(torch.tensor([1, 5, -3]), 2 + 0j, torch.tensor(7))",
    "x = torch.randn(4).double().requires_grad_(); r = F.threshold(x, torch.tensor(0.2), 2)" +
    _GRAD,
])
def test_threshold_taken(code):
    _taken(code)


# ---- ctc_loss: PyTorch's order of checks ---------------------------------------------------

_LP = "torch.randn(5, 2, 4).log_softmax(2)"
_TG = "torch.tensor([[1, 2], [3, 1]])"


@pytest.mark.parametrize("code", [
    "r = F.ctc_loss(" + _LP + ", " + _TG + ", torch.tensor([5.0, 5.0]), torch.tensor([2, 2]), "
    "blank=-1)",
    "r = F.ctc_loss(torch.randn(5, 2, 4).half(), " + _TG + ", torch.tensor([5, 5]), "
    "torch.tensor([2.0, 2.0]))",
    "r = F.ctc_loss(torch.randn(5, 2, 4, 1), torch.tensor([1, 2, 3, 1]), "
    "torch.tensor([5, 5]).bool(), torch.tensor([2, 2]))",
    "r = F.ctc_loss(torch.randn(5, 2, 4).half(), " + _TG + ", [5, 5], [4, 0], blank=4)",
    "r = F.ctc_loss(torch.randn(5, 2, 4, 1).half(), " + _TG + ", [5, 5], [2, 2])",
    "r = F.ctc_loss(torch.randn(0, 2, 4), " + _TG + ", [5], [2, 3])",
    "r = F.ctc_loss(torch.randn(0, 2, 4, 1), " + _TG + ", [5, 5], [2, 2], blank=-1)",
    "r = F.ctc_loss(torch.randn(5, 0, 4), " + _TG + ", [], [])",
    "r = F.ctc_loss(" + _LP + ", torch.tensor([[[1]]]), [5, 6], [-1, 2], blank=4)",
    "r = F.ctc_loss(" + _LP + ", torch.tensor(1), [5, 5], [2])",
    "r = F.ctc_loss(torch.randn(5, 4).log_softmax(1), torch.tensor([[[1]]]), [5, 5], [0, 0])",
    "r = F.ctc_loss(" + _LP + ", " + _TG + ", [5, 5, 5], [2, 2], blank=7)",
    "r = F.ctc_loss(" + _LP + ", torch.tensor([1, 2, 3, 1]), [5, 5], [2, 1])",
    "r = F.ctc_loss(" + _LP + ", torch.tensor([1, 2, 3, 1]), [5, 5], [0, 0])",
    "r = F.ctc_loss(torch.randn(5, 4).log_softmax(1), torch.tensor([1, 2, 3]), [5], [2])",
    "r = F.ctc_loss(torch.randn(5, 4).log_softmax(1), " + _TG + ", [5], [2])",
    "r = F.ctc_loss(" + _LP + ", " + _TG + ", [5, 5], [1, -2, -3][1:])",
    "r = F.ctc_loss(" + _LP + ", " + _TG + ", [5, 5], [2, 3])",
])
def test_ctc_loss_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = F.ctc_loss(" + _LP + ", " + _TG + ", [5, 5], [0, 0])",
    "r = F.ctc_loss(" + _LP + ", " + _TG + ", [0, 5], [0, 1], reduction='none')",
    "r = F.ctc_loss(" + _LP + ".double(), " + _TG + ".int(), (5, 4), [0, 0])",
    "r = F.ctc_loss(" + _LP + ", " + _TG + ".float(), [5, 5], [2, 2], reduction='sum')",
    "r = F.ctc_loss(torch.randn(5, 4).log_softmax(1), torch.tensor([1, 2]), [5], [2])",
    "r = F.ctc_loss(" + _LP + ", torch.tensor([1, 2, 3]), torch.tensor([5, 4]), "
    "torch.tensor([2, 1]), reduction='none')",
])
def test_ctc_loss_taken(code):
    _taken(code)


# ---- the recurrent layers: the states' sizes before an empty sequence ----------------------

@pytest.mark.parametrize("code", [
    "m = nn.LSTM(3, 4); r = m(torch.randn(0, 2, 3), (torch.zeros(1, 2, 2), "
    "torch.zeros(1, 2, 4)))[0]",
    "m = nn.LSTM(3, 4, proj_size=2); r = m(torch.randn(0, 2, 3), (torch.zeros(1, 2, 4), "
    "torch.zeros(1, 2, 4)))[0]",
    "m = nn.GRU(3, 4, batch_first=True); r = m(torch.randn(5, 0, 3), torch.zeros(1, 2, 4))[0]",
    "m = nn.RNN(3, 4, num_layers=2); r = m(torch.randn(0, 2, 3), torch.zeros(1, 2, 4))[0]",
    "m = nn.RNN(3, 4); r = m(torch.randn(0, 2, 3), torch.zeros(1, 2, 4))[0]",
    "m = nn.LSTM(3, 4); r = m(torch.randn(0, 3))[0]",
])
def test_rnn_states_before_empty_sequence(code):
    _refused(code)


# ---- scaled_dot_product_attention: the input checks before the kernel's --------------------

@pytest.mark.parametrize("code", [
    "r = F.scaled_dot_product_attention(torch.randn(4), torch.randn(4), torch.randn(4), "
    "is_causal=True, attn_mask=torch.zeros(3, 5))",
    "r = F.scaled_dot_product_attention(torch.randn(2, 3, 4), torch.randn(2, 5, 4), "
    "torch.randn(2, 5, 6), is_causal=True, attn_mask=torch.zeros(3, 5).double())",
    "r = F.scaled_dot_product_attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 4), "
    "enable_gqa=True)",
    "r = F.scaled_dot_product_attention(torch.randn(2, 2, 3, 4), torch.randn(2, 2, 5, 4), "
    "torch.randn(2, 2, 5, 4), dropout_p=-0.5)",
])
def test_sdpa_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "x = torch.randn(2, 0, 4).double().requires_grad_(); "
    "r = F.scaled_dot_product_attention(x, torch.randn(2, 5, 4).double(), "
    "torch.randn(2, 5, 4).double(), attn_mask=torch.zeros(3, 5, dtype=torch.bool))" + _GRAD,
    "r = F.scaled_dot_product_attention(torch.randn(2, 0, 4), torch.randn(2, 5, 4), "
    "torch.randn(2, 5, 4), is_causal=True, attn_mask=torch.zeros(5, 3))",
    "x = torch.randn(2, 3, 4).double().requires_grad_(); "
    "r = F.scaled_dot_product_attention(x, torch.randn(2, 0, 4).double(), "
    "torch.randn(2, 0, 6).double(), attn_mask=torch.ones(3, 5, dtype=torch.bool))",
    "r = F.scaled_dot_product_attention(torch.randn(2, 3, 4).half(), torch.randn(2, 0, 4).half(), "
    "torch.randn(2, 0, 4).half(), is_causal=True, attn_mask=torch.zeros(3, 5))",
])
def test_sdpa_empty_taken(code):
    _taken(code)
