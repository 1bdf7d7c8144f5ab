"""The signatures PyTorch's parser lists when a call of an op gives it too few or too many
arguments, for the ops where that list is not what ``_tensor_input`` keeps: ops with hidden
(deprecated) signatures besides the one they list (``torch.add(x)`` is refused with the
whole list, not with the missing argument), and Tensor methods whose signatures are not their
function's without its first tensor.  Used by ``_argument_words`` only after Python has
refused a call, so never on the path of a call that works.
"""
from __future__ import annotations

__all__ = ["FUNCTIONS", "METHODS", "ONE_METHOD"]

# Tensor methods with one signature where their functions have several (``torch.mm``'s
# ``out_dtype`` form is the function's only): the parser words the call for that one
ONE_METHOD = frozenset({"mm", "bmm"})

FUNCTIONS = {
    "add": (
        "Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None",
    ),
    "addbmm": (
        "Tensor input, Tensor batch1, Tensor batch2, *, Number beta = 1, Number alpha = 1, "
        "Tensor out = None",
    ),
    "addcdiv": (
        "Tensor input, Tensor tensor1, Tensor tensor2, *, Number value = 1, Tensor out = None",
    ),
    "addcmul": (
        "Tensor input, Tensor tensor1, Tensor tensor2, *, Number value = 1, Tensor out = None",
    ),
    "addmv": (
        "Tensor input, Tensor mat, Tensor vec, *, Number beta = 1, Number alpha = 1, "
        "Tensor out = None",
    ),
    "addr": (
        "Tensor input, Tensor vec1, Tensor vec2, *, Number beta = 1, Number alpha = 1, "
        "Tensor out = None",
    ),
    "bucketize": (
        "Tensor input, Tensor boundaries, *, bool out_int32 = False, bool right = False, "
        "Tensor out = None",
        "Number self, Tensor boundaries, *, bool out_int32 = False, bool right = False",
    ),
    "floor_divide": (
        "Tensor input, Tensor other, *, Tensor out = None",
        "Tensor input, Number other",
    ),
    "isin": (
        "Tensor elements, Tensor test_elements, *, bool assume_unique = False, "
        "bool invert = False, Tensor out = None",
        "Number element, Tensor test_elements, *, bool assume_unique = False, "
        "bool invert = False, Tensor out = None",
        "Tensor elements, Number test_element, *, bool assume_unique = False, "
        "bool invert = False, Tensor out = None",
    ),
    "multiply": (
        "Tensor input, Tensor other, *, Tensor out = None",
        "Tensor input, Number other",
    ),
    "normal": (
        "Tensor mean, Tensor std, *, torch.Generator generator = None, Tensor out = None",
        "Tensor mean, float std = 1, *, torch.Generator generator = None, Tensor out = None",
        "float mean, Tensor std, *, torch.Generator generator = None, Tensor out = None",
        "float mean, float std, tuple of ints size, *, torch.Generator generator = None, "
        "Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, "
        "torch.device device = None, bool pin_memory = False, bool requires_grad = False",
    ),
    "sub": (
        "Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None",
    ),
    "subtract": (
        "Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None",
        "Tensor input, Number other, Number alpha = 1",
    ),
    "true_divide": (
        "Tensor input, Tensor other, *, Tensor out = None",
        "Tensor input, Number other",
    ),
    "where": (
        "Tensor condition",
        "Tensor condition, Tensor input, Tensor other, *, Tensor out = None",
        "Tensor condition, Number self, Tensor other",
        "Tensor condition, Tensor input, Number other",
        "Tensor condition, Number self, Number other",
    ),
}

METHODS = {
    "add": (
        "Tensor other, *, Number alpha = 1",
    ),
    "addcdiv": (
        "Tensor tensor1, Tensor tensor2, *, Number value = 1",
    ),
    "addcmul": (
        "Tensor tensor1, Tensor tensor2, *, Number value = 1",
    ),
    "divide_": (
        "Tensor other",
        "Tensor other, *, str rounding_mode",
        "Number other",
        "Number other, *, str rounding_mode",
    ),
    "multiply": (
        "Tensor other",
        "Number other",
    ),
    "sub": (
        "Tensor other, *, Number alpha = 1",
    ),
    "subtract": (
        "Tensor other, *, Number alpha = 1",
        "Number other, Number alpha = 1",
    ),
}
