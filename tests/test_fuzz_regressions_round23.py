"""Round-23 fuzzing of adversarial arguments to the most used functions and Tensor methods
(wrong types, out-of-range values, empty, 0-d, non-contiguous and exotic-dtype inputs, huge
and non-finite values), run side by side with PyTorch; each case here is run against torch.

* silent wrong answers: logcumsumexp of a slice whose running max is inf (inf - inf made a
  NaN of the inf); std / var with a 0-d tensor ``correction`` (a broken result) or a numpy
  integer one (float64 instead of float32); ``var(x, 0, 2)`` read 2 as unbiased=True;
  repeat_interleave with float repeats (truncated); block_diag promoting a 0-d block as a
  dimensioned one; clamp / clamp_ with a list bound (broadcast as a tensor);
* arguments PyTorch's parser refuses: a float / bool offset of diag_embed, diagflat,
  tril_indices, triu_indices; randperm's n, vander's N, combinations' r, glu's dim; a
  negative int repeat of an empty tensor; repeats counts that are no 1-d integer vector;
* PyTorch's parser accepts a 0-d tensor bound of hardtanh (it crashed in numpy);
  F.pad names the argument whose type is wrong, in the parser's order (pad, mode, value);
  a tensor given as a dtype, a non-str gelu ``approximate`` or meshgrid ``indexing`` are
  TypeErrors.
"""

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import (  # noqa: E402
    outcomes as _words, run, same_refusal, same_result)

LIBS = (torch, minigrad)


# ---- silent wrong answers -----------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.tensor([1e38, -1e38, float('inf'), float('nan')]).logcumsumexp(0)",
    "torch.tensor([1e38, float('inf'), 1.0]).logcumsumexp(0)",
    "torch.tensor([-1e38, -float('inf'), 3.0, float('inf'), -float('inf')]).logcumsumexp(0)",
    "torch.tensor([1e300, float('inf'), -1e300], dtype=torch.float64).logcumsumexp(0)",
    "torch.tensor([[1e38, -1e38, float('inf')], [-1e38, 1e38, 2.0]]).logcumsumexp(1)",
    "torch.std(torch.tensor([3.0, 1, 2, 5]), correction=torch.tensor(2.5))",
    "torch.var(torch.arange(24.0).reshape(2, 3, 4), 1, correction=torch.tensor(0))",
    "torch.var(torch.tensor([3.0, 1, 2, 5]), 0, correction=np.int64(0))",
    "torch.std(torch.tensor([3.0, 1, 2, 5]), correction=np.float64(1.5))",
    "torch.var_mean(torch.tensor([3.0, 1, 2, 5]), correction=np.int64(2))[0]",
    "torch.block_diag(torch.tensor(2.5), torch.ones(1, 2, dtype=torch.float16))",
    "torch.block_diag(torch.tensor(2), torch.tensor([True, False]))",
    "torch.block_diag(torch.tensor([2]), torch.tensor(2.0, dtype=torch.float64))",
    "torch.repeat_interleave(torch.tensor([1, 2], dtype=torch.int32))",
    "torch.zeros(2).repeat_interleave(torch.tensor(2, dtype=torch.int32))",
    "F.hardtanh(torch.tensor([-2.0, 0.3, 2.0]), torch.tensor(0.0), torch.tensor(1))",
    "F.hardtanh(torch.tensor([-2.0, 0.3, 2.0]), -0.5, torch.tensor(0.25))",
    "torch.clamp_min(torch.tensor([3.0, 1]), torch.tensor(2.0))",
])
def test_values(code):
    same_result(run(code))


# ---- refusals -----------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    # std / var arguments
    "torch.std(torch.tensor([3.0, 1, 2, 5]), correction='a')",
    "torch.std(torch.tensor([3.0, 1, 2, 5]), correction=[1])",
    "torch.std(torch.tensor([3.0, 1, 2, 5]), correction=torch.tensor([1.0, 2]))",
    "torch.var(torch.tensor([3.0, 1, 2, 5]), correction=torch.tensor([2]))",
    "torch.var(torch.tensor([3.0, 1, 2, 5]), 0, 2)",
    "torch.var(torch.tensor([3.0, 1, 2, 5]), (0,), 0, True)",
    "torch.std(torch.tensor([3.0, 1, 2, 5]), 0, np.bool_(False), True)",
    "torch.var_mean(torch.tensor([3.0, 1, 2, 5]), 0, 2)",
    # clamp bounds
    "torch.clamp(torch.tensor(2.5), [1.5, 2.0])",
    "torch.clamp(torch.tensor([3.0, 1]), (0, 1))",
    "torch.clamp(torch.tensor([3.0, 1]), max=[1.0, 2.0])",
    "torch.clamp(torch.tensor([3.0, 1]), 1, [2])",
    "torch.clamp(torch.tensor([3.0, 1]), np.array(1.0))",
    "torch.clamp_min(torch.tensor([3.0, 1]), [1.0])",
    "torch.clamp_min(torch.tensor(2.5), [1.5, 2.0])",
    "torch.clamp_max(torch.tensor([3.0, 1]), None)",
    "torch.clamp_max(torch.tensor([3.0, 1]), 'a')",
    # int arguments
    "torch.diagflat(torch.tensor([3.0, 1]), 1.5)",
    "torch.diagflat(torch.tensor([3.0, 1]), True)",
    "torch.diagflat(torch.tensor([3.0, 1]), torch.tensor(2.5))",
    "torch.diag_embed(torch.tensor([3.0, 1]), True)",
    "torch.diag_embed(torch.tensor([3, 1]), 1.5)",
    "torch.tril_indices(3, 3, True)",
    "torch.tril_indices(3, 3, 1.5)",
    "torch.triu_indices(True, 2)",
    "torch.triu_indices(0, True)",
    "torch.randperm(1.5)",
    "torch.randperm(True)",
    "torch.randperm(torch.tensor(2.5))",
    "torch.vander(torch.ones(3), 0.5)",
    "torch.vander(torch.ones(3), False)",
    "torch.vander(torch.ones(3, 2), 0.5)",
    "torch.combinations(torch.ones(3), False)",
    "torch.combinations(torch.ones(3, 1), 1.5)",
    "F.glu(torch.ones(2, 4), False)",
    "F.glu(torch.ones(2, 3), 1.5)",
    # repeat_interleave
    "torch.zeros(0).repeat_interleave(-1)",
    "torch.zeros(2).repeat_interleave(-3)",
    "torch.zeros(2).repeat_interleave(torch.tensor(2.0))",
    "torch.zeros(2).repeat_interleave(torch.tensor([1.0, 2]))",
    "torch.zeros(2).repeat_interleave(torch.tensor(True))",
    "torch.zeros(2).repeat_interleave(torch.tensor(2, dtype=torch.uint8))",
    "torch.zeros(2).repeat_interleave(torch.tensor(2, dtype=torch.int16))",
    "torch.repeat_interleave(torch.tensor([1.0, 2]))",
    "torch.repeat_interleave(torch.tensor([1, -2]))",
    "torch.repeat_interleave(torch.tensor(2))",
    "torch.repeat_interleave(torch.tensor([[1, 2]]))",
    # hardtanh bounds that are tensors of a dim or more
    "F.hardtanh(torch.ones(3), torch.tensor([0.5, 1.0]))",
    "F.hardtanh(torch.ones(3), torch.tensor([0.5]))",
    "F.hardtanh(torch.ones(3), -1, torch.tensor([[0.5]]))",
    # F.pad's argument types, in the parser's order
    "F.pad(torch.ones(2, 3), 1)",
    "F.pad(torch.ones(2, 3), None)",
    "F.pad(torch.ones(2, 3), np.array([1, 1]))",
    "F.pad(torch.ones(2, 3), torch.tensor([1, 1]))",
    "F.pad(torch.ones(2, 3), (1, 1), 1.5)",
    "F.pad(torch.ones(2, 3), (1, 1), [0, 0])",
    "F.pad(torch.ones(2, 3), (1, 1), 'constant', 'a')",
    # string arguments given something else
    "F.gelu(torch.ones(2), approximate=[0, 0])",
    "F.gelu(torch.ones(2), approximate=np.array([1, 2]))",
    "F.gelu(torch.ones(2), approximate=None)",
    "torch.meshgrid(torch.ones(2), torch.ones(3), indexing=[])",
    "torch.meshgrid(torch.ones(2), torch.ones(3), indexing=1)",
])
def test_refusals(code):
    same_refusal(run(code))


def test_clamp_inplace_list_bound_refused():
    """In place, a list bound is PyTorch's TypeError too (it was broadcast and written)."""
    for lib in LIBS:
        x = lib.tensor([3.0, 1.0])
        with pytest.raises(TypeError, match="clamp_"):
            x.clamp_(max=[1.0, 2.0])
        with pytest.raises(TypeError, match="clamp_min_?"):
            x.clamp_min_([1.0])
        assert x.tolist() == [3.0, 1.0]


@pytest.mark.parametrize("code", [
    "torch.zeros_like(torch.ones(2), dtype=torch.tensor(2.5))",
    "torch.softmax(torch.ones(2), 0, dtype=torch.tensor(2.5))",
    "torch.ones(2, dtype=torch.ones(2))",
    "torch.cumsum(torch.ones(2), 0, dtype=torch.tensor(1))",
])
def test_tensor_as_dtype_is_type_error(code):
    """A tensor given as a dtype is PyTorch's TypeError (it was numpy's ValueError); the words
    differ (minigrad's dtype conversion does not know the function's name)."""
    (t_kind, _), (m_kind, m_msg) = _words(run(code))
    assert t_kind == m_kind == "TypeError", (t_kind, m_kind, m_msg)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("seed", range(4))
def test_baddbmm_16_bit_rounds_once(dtype, seed):
    """PyTorch's baddbmm adds the product to the input in float32 and rounds once, in
    float16 and bfloat16 alike (multi-head attention's masked scores are one)."""
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-9, 9, s).astype(np.float32) for s in ((4, 3, 5), (4, 3, 2), (4, 2, 5))]
    out = []
    for lib in (torch, minigrad):
        ts = [lib.tensor(a).to(getattr(lib, dtype)) for a in arrays]
        out.append(lib.baddbmm(*ts, beta=0.5, alpha=1.5).float().numpy())
    np.testing.assert_array_equal(out[1], out[0])


def test_autocast_float32_ops_leave_the_region_as_it_was():
    """An op of CPU autocast's float32 list (inv) runs its own steps unlowered, and the
    region is as before after it: later products lowered again, autocast still on."""
    out = []
    for lib in (torch, minigrad):
        a = lib.eye(3) * 2 + 0.1
        with lib.autocast("cpu", dtype=lib.bfloat16):
            inv = lib.linalg.inv(a.bfloat16())
            out.append((str(inv.dtype).split(".")[-1], str((a @ a).dtype).split(".")[-1],
                        lib.is_autocast_enabled("cpu")))
        out[-1] += (lib.is_autocast_enabled("cpu"),)
    assert out[0] == out[1] == ("float32", "bfloat16", True, False)
