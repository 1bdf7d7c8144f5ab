"""Round-43 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at nn layers called with odd inputs (batch-less, empty batches, wrong ranks,
channels-last, float64 / 16-bit modules), the losses' reductions over empty batches with
ignore_index, label smoothing, class weights and probability targets, ``F.pad`` in every mode
and rank with negative pads, ``F.interpolate`` / ``grid_sample`` / ``affine_grid`` options,
``embedding`` / ``embedding_bag``, ``nn.utils.rnn`` packing, the optimizers' argument checks,
param groups and state dicts, the lr schedulers' edge cases and tensor printing.  Seeded
generators built about 10,000 calls and compared the result's dtype, shape, strides and values,
or the exception's type and first words.  The defects fixed:

* an optimizer's ``load_state_dict`` takes state tensors shaped unlike their parameters (as
  PyTorch: it casts, it does not check); the next ``step`` refuses them with PyTorch's
  broadcasting words (state first, Rprop's gradient first);
* ``CosineAnnealingWarmRestarts`` resumed with ``last_epoch`` past several cycles wraps its
  position by the modulo (it subtracted one cycle); ``LinearLR`` with ``total_iters=0`` stepped
  to an epoch fails as a float division, as PyTorch's closed form;
* ``set_printoptions(precision=...)`` keeps the value as given: a float fails when a float
  tensor prints, in Python's format words, as PyTorch; with no edge items and a threshold
  below one, a 0-d tensor prints its value (with its size), not a bare summary;
* a lazy layer's ``bfloat16()`` and ``type(...)`` refuse its placeholders (PyTorch allows only
  half / float / double / to... on them);
* ``F.embedding`` checks ``padding_idx`` and calls the indices' ``contiguous`` (``max_norm``)
  before the argument types, as PyTorch's Python code does;
* ``embedding_bag`` with offsets out of order: the float64 (and max-mode, padding_idx) kernel
  counts bag starts as PyTorch's generic kernel, mean dividing by each span less its padding,
  at least 1; the float32 / 16-bit sum and mean refuse them in PyTorch's words; with
  ``include_last_offset`` and a last offset short of the input, the float32 / 16-bit sum and
  mean leave the indices past it out of the values (PyTorch's fast kernel); a single offset
  with ``include_last_offset`` gives no bag;
* ``F.pad(mode='circular')`` of an empty tensor takes pads reaching past the kept part (no
  value is read);
* a layer's size argument given as a string is the tuple of its letters, as PyTorch's
  ``_pair`` makes it (``ConvTranspose2d(..., padding='same')`` prints so);
* ``prelu`` compares the dtypes of input and weight before the ranks and channel counts.
"""
import pytest

torch = pytest.importorskip("torch")

import minigrad  # noqa: E402
from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-4, atol64=1e-8, seed=0)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken


# ---- optimizers: a loaded state of another shape is taken; the step refuses it -------------

_LOAD = ("p = nn.Parameter(torch.rand(3, dtype=torch.float64)); "
         "q = nn.Parameter(torch.rand({shape}, dtype=torch.float64)); "
         "o = torch.optim.{name}([p], lr=0.1{extra}); (p ** 2).sum().backward(); o.step(); "
         "o2 = torch.optim.{name}([q], lr=0.1{extra}); o2.load_state_dict(o.state_dict()); ")


@pytest.mark.parametrize("name, extra", [
    ("Adagrad", ""), ("Adam", ""), ("AdamW", ", amsgrad=True"), ("SGD", ", momentum=0.9"),
    ("RMSprop", ", centered=True"), ("Adadelta", ""), ("ASGD", ""), ("NAdam", ""),
    ("RAdam", ""), ("Adamax", ""), ("Rprop", ""),
])
@pytest.mark.parametrize("shape", ["2", "1, 3", "3, 1", "0", "2, 3"])
def test_loaded_state_of_another_shape(name, extra, shape):
    code = _LOAD.format(name=name, extra=extra, shape=shape)
    _taken(code + "r = q.detach()")                                  # the load is taken
    _refused(code + "(q ** 2).sum().backward(); o2.step(); r = q.detach()")


def test_loaded_state_of_the_same_shape_still_steps():
    code = _LOAD.format(name="Adam", extra="", shape="3")
    _taken(code + "(q ** 2).sum().backward(); o2.step(); r = q.detach()")


def test_unused_parameter_with_a_loaded_state_of_another_shape():
    # a parameter with no gradient is not updated: nothing is refused
    _taken("p = nn.Parameter(torch.rand(3)); q = nn.Parameter(torch.rand(2)); "
           "w = nn.Parameter(torch.rand(4)); o = torch.optim.Adam([p, w]); "
           "(p.sum() + w.sum()).backward(); o.step(); o2 = torch.optim.Adam([q, w]); "
           "o2.load_state_dict(o.state_dict()); w.grad = None; w.sum().backward(); o2.step(); "
           "r = w.detach()")


# ---- lr schedulers ------------------------------------------------------------------------

_OPT = "p = nn.Parameter(torch.rand(3)); o = torch.optim.SGD([p], lr=0.1, momentum=0.9); "


@pytest.mark.parametrize("last_epoch", [1, 3, 4, 6, 9])
@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_warm_restarts_resumed(last_epoch, t_mult):
    _taken(_OPT + "o.param_groups[0]['initial_lr'] = 0.2; "
           f"s = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 2, T_mult={t_mult}, "
           f"last_epoch={last_epoch}); lrs = [o.param_groups[0]['lr']]\n"
           "for _ in range(5):\n    o.step(); s.step(); lrs.append(o.param_groups[0]['lr'])\n"
           "r = torch.tensor(lrs, dtype=torch.float64)")


@pytest.mark.parametrize("kw", ["", ", start_factor=0.5, end_factor=2.0", ", end_factor=1"])
def test_linear_lr_no_iterations_stepped_to_an_epoch(kw):
    _refused(_OPT + f"s = torch.optim.lr_scheduler.LinearLR(o, total_iters=0{kw}); o.step(); "
             "s.step(5); r = 1")


def test_linear_lr_stepped_to_an_epoch():
    _taken(_OPT + "s = torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=3); "
           "o.step(); s.step(2); r = torch.tensor(s.get_last_lr(), dtype=torch.float64)")


# ---- printing -----------------------------------------------------------------------------

def _printed(options, value):
    return (f"torch.set_printoptions({options})\ntry:\n    r = repr({value})\nfinally:\n"
            "    torch.set_printoptions(profile='default'); torch.set_printoptions(sci_mode=None)")


@pytest.mark.parametrize("options", ["precision=1.5", "precision=2.0", "precision=True",
                                     "precision='3'", "precision=-1"])
@pytest.mark.parametrize("value", ["torch.tensor([1.5, 2.0])", "torch.tensor(2.5)",
                                   "torch.tensor([1, 2])", "torch.tensor([1+2j])",
                                   "torch.zeros(0)"])
def test_print_precision_as_given(options, value):
    _same(_printed(options, value))


@pytest.mark.parametrize("options", ["threshold=0, edgeitems=0", "threshold=0, edgeitems=1",
                                     "edgeitems=0", "threshold=0, edgeitems=0, precision=2"])
@pytest.mark.parametrize("value", ["torch.tensor(True)", "torch.tensor(2.5)", "torch.tensor(3)",
                                   "torch.tensor(1+2j)", "torch.tensor(2.5, requires_grad=True)",
                                   "torch.tensor(1e-8, dtype=torch.float64)",
                                   "torch.tensor([2.5])", "torch.zeros(0, 2)"])
def test_print_zero_dim_without_edge_items(options, value):
    # a 0-d tensor shows its value (and its size) where a longer one is a bare summary
    _same(_printed(options, value))


# ---- lazy layers: bfloat16() and type() refuse the placeholders ---------------------------

def _lazy_outcome(lib, code):
    try:
        exec(code, {"nn": lib.nn, "torch": lib})
    except Exception as exc:  # noqa: BLE001 (compared with torch's)
        return type(exc).__name__, str(exc).split(" of '")[0]
    return "taken"


@pytest.mark.parametrize("layer", ["nn.LazyLinear(3)", "nn.LazyConv2d(3, 2)",
                                   "nn.LazyBatchNorm1d()",
                                   "nn.Sequential(nn.Linear(2, 2), nn.LazyLinear(3))",
                                   "nn.Sequential(nn.LazyLinear(3), nn.Linear(2, 2))"])
@pytest.mark.parametrize("call", ["bfloat16()", "type(torch.float64)", "type(torch.int32)",
                                  "half()", "double()", "float()", "to(torch.float64)"])
def test_lazy_layer_casts(layer, call):
    code = f"m = {layer}.{call}"
    theirs = _lazy_outcome(torch, code)
    assert _lazy_outcome(minigrad, code) == theirs, theirs


# ---- F.embedding: PyTorch's Python checks come before the argument types ------------------

@pytest.mark.parametrize("kw", ["padding_idx=6", "padding_idx=-7", "max_norm=1.0",
                                "padding_idx=2, max_norm=1.0", "padding_idx=7, max_norm=1.0",
                                "padding_idx=2", ""])
@pytest.mark.parametrize("indices", ["[1, 2]", "(1, 2)", "3"])
def test_embedding_of_plain_indices(kw, indices):
    _refused(f"w = torch.rand(6, 3, dtype=torch.float64); r = F.embedding({indices}, w, {kw})")


# ---- embedding_bag: offsets out of order, a short last offset -----------------------------

_BAG = ("w = torch.arange(15., dtype=torch.{dt}).reshape(5, 3); "
        "r = F.embedding_bag(torch.tensor([0, 2, 1, 3, 3, 1]), w, torch.tensor({off}), "
        "mode='{mode}', padding_idx={pad}, include_last_offset={ilo}{psw})")


@pytest.fixture
def torch_two_threads():
    """PyTorch's float32 and 16-bit bags check the offsets' order only where its kernel runs
    in parallel (on one thread it reads past them): compare with that kernel, on two threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("off", ["[0, 4, 2]", "[0, 3, 1, 1]", "[0, 4, 2, 6]", "[0, 5, 5, 1]"])
@pytest.mark.parametrize("dt", ["float64", "float32", "bfloat16"])
@pytest.mark.parametrize("mode, pad", [("sum", None), ("mean", None), ("max", None),
                                       ("sum", 1), ("mean", 1), ("mean", -4), ("max", 3)])
@pytest.mark.parametrize("ilo", [False, True])
def test_bag_offsets_out_of_order(off, dt, mode, pad, ilo, torch_two_threads):
    _same(_BAG.format(dt=dt, off=off, mode=mode, pad=pad, ilo=ilo, psw=""))


@pytest.mark.parametrize("off", ["[0, 4, 2]", "[0, 2, 4]", "[0, 2, 2, 5]"])
@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_bag_offsets_with_sample_weights(off, dt, torch_two_threads):
    _same(_BAG.format(dt=dt, off=off, mode="sum", pad=None, ilo=True,
                      psw=f", per_sample_weights=torch.arange(6., dtype=torch.{dt})"))
    _same(_BAG.format(dt=dt, off=off, mode="sum", pad=None, ilo=False,
                      psw=f", per_sample_weights=torch.arange(6., dtype=torch.{dt})"))


@pytest.mark.parametrize("off", ["[0, 2, 4]", "[0, 2, 2, 5]", "[0, 0, 3]", "[0, 2, 3]",
                                 "[0, 6]", "[0, 3, 6]"])
@pytest.mark.parametrize("dt", ["float64", "float32", "float16"])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_bag_short_last_offset(off, dt, mode):
    _taken(_BAG.format(dt=dt, off=off, mode=mode, pad=None, ilo=True, psw=""))


def test_bag_short_last_offset_gradient_of_the_mean():
    # (the sum's: PyTorch's fast kernel leaves the tail rows' gradient uninitialised)
    _taken("w = torch.arange(15.).reshape(5, 3).requires_grad_(); "
           "o = F.embedding_bag(torch.tensor([0, 2, 1, 3, 3, 1]), w, torch.tensor([0, 2, 4]), "
           "mode='mean', include_last_offset=True); "
           "(o * torch.arange(6.).reshape(2, 3)).sum().backward(); r = (o, w.grad)")


# ---- a layer's size arguments: a string is an iterable of letters, as PyTorch's _ntuple ---

@pytest.mark.parametrize("layer", ["nn.ConvTranspose2d(2, 3, 3, padding='same')",
                                   "nn.ConvTranspose1d(2, 3, 3, padding='valid')",
                                   "nn.ConvTranspose2d(2, 3, 3, stride='ab')",
                                   "nn.ConvTranspose3d(2, 3, 3, padding='abc')",
                                   "nn.Conv2d(2, 3, 3, padding='same')",
                                   "nn.MaxPool2d('ab')"])
def test_layer_sizes_given_as_strings(layer):
    _taken(f"m = {layer}; r = str(m)")
    _taken(f"m = {layer}; r = str((m.padding, m.kernel_size, m.stride))")


# ---- F.pad circular: an empty tensor wraps nothing, however far the pads reach -------------

@pytest.mark.parametrize("shape, pad", [
    ((0, 2, 4), (-2, 3)), ((0, 2, 4), (3, -2)), ((2, 0, 4), (-2, 3)),
    ((1, 0, 3, 4), (-3, 3, 0, 0)), ((0, 2, 4), (-1, 5)), ((1, 2, 0), (-2, 3)),
    ((0, 2, 3, 4), (-2, 3, 1, 1)), ((0, 1, 2, 3, 4), (-3, 3, 0, 2, 1, -1)),
])
def test_circular_pad_of_an_empty_tensor(shape, pad):
    _same(f"r = F.pad(torch.zeros({shape}, dtype=torch.float64), {pad}, mode='circular')")


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("indices", ["[0, 1, 2]", "[]"])
def test_bag_of_one_offset_with_include_last_offset(mode, indices):
    # one offset, the last: no bag (PyTorch's float32 kernel; its others crash)
    _taken(f"r = F.embedding_bag(torch.tensor({indices}, dtype=torch.long), torch.rand(5, 3), "
           f"torch.tensor([0]), mode='{mode}', include_last_offset=True)")


# ---- prelu: the dtypes are compared first --------------------------------------------------

@pytest.mark.parametrize("x, w", [
    ("torch.rand(3, dtype=torch.float64)", "torch.rand(3)"),
    ("torch.rand((), dtype=torch.float64)", "torch.rand(3)"),
    ("torch.rand(2, 3, dtype=torch.float64)", "torch.rand(2, 2)"),
    ("torch.rand(2, 4, dtype=torch.float64)", "torch.rand(1, 1)"),
    ("torch.rand(2, 4)", "torch.rand(2, 2)"),
    ("torch.rand(())", "torch.rand(3)"),
    ("torch.randint(0, 3, (2, 3))", "torch.rand(3)"),
    ("torch.rand(2, 3).half()", "torch.rand(3)"),
])
def test_prelu_checks_in_order(x, w):
    _refused(f"r = F.prelu({x}, {w})")


@pytest.mark.parametrize("shape", ["(3,)", "()", "(4,)"])
def test_prelu_layer_of_another_dtype(shape):
    _refused(f"m = nn.PReLU(3); r = m(torch.rand({shape}, dtype=torch.float64))")
