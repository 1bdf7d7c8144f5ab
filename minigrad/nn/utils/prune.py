"""``nn.utils.prune``: zeroing parts of a parameter through a mask, PyTorch's scheme.

Pruning parameter ``name`` of a module moves the original Parameter to ``name + '_orig'``,
stores a 0/1 mask as the buffer ``name + '_mask'``, and makes ``name`` a plain tensor
``name_orig * name_mask`` that a forward pre-hook (the pruning method object itself)
recomputes before every forward.  Gradients therefore reach ``name_orig`` only where the
mask is 1.  Pruning the same parameter again composes the methods in a ``PruningContainer``
(each new method acts only on what is still unpruned).  ``remove`` makes the pruning
permanent: ``name`` becomes a Parameter again holding the masked values.

``amount`` is a fraction in [0, 1] of the units to prune (rounded to the nearest count) or an
absolute count.  Unstructured methods prune single entries; structured ones whole slices
along ``dim`` (e.g. output channels for ``dim=0``).
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

from ... import creation
from ..._random_factories import rand, rand_like
from ..._memory_format import contiguous_format
from .convert_parameters import parameters_to_vector

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


# ----------------------------------------------------------------------------- amounts
def _check_amount(amount):
    """``amount`` must be a fraction in [0, 1] or a non-negative integer count."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    is_count = isinstance(amount, numbers.Integral)
    if (is_count and amount < 0) or (not is_count and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _units_to_prune(amount, n_units):
    """How many of ``n_units`` an ``amount`` means (a count may not exceed them)."""
    if not isinstance(amount, numbers.Integral):
        return round(amount * n_units)
    if amount > n_units:
        raise ValueError(f"amount={amount} should be smaller than the number of "
                         f"parameters to prune={n_units}")
    return amount


def _check_structured(t, dim=None):
    if t.dim() <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {t.shape} with {t.dim()} dims")
    if dim is not None and dim >= t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")


def _keep_slices(t, dim, kept):
    """A 0/1 tensor like ``t`` that is 1 on the slices ``kept`` (indices or a bool mask)
    along ``dim``."""
    mask = creation.zeros_like(t)
    where = [slice(None)] * t.dim()
    where[dim] = kept
    mask[tuple(where)] = 1
    return mask


# ----------------------------------------------------------------------------- methods
def _pruning_hook(module, name):
    """``(key, method)`` of the pruning pre-hook of ``module.name``, or ``(None, None)``;
    two such hooks on one tensor are refused (they belong in one PruningContainer)."""
    found = [(key, hook) for key, hook in module._forward_pre_hooks.items()
             if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
    assert len(found) <= 1, (f"Avoid adding multiple pruning hooks to the same tensor "
                             f"{name} of module {module}. Use a PruningContainer.")
    return found[0] if found else (None, None)


class BasePruningMethod(ABC):
    """A way of choosing what to prune.  Subclasses set ``PRUNING_TYPE`` ('unstructured',
    'structured' or 'global') and define ``compute_mask(t, default_mask)``, which must keep
    every zero of ``default_mask`` (what earlier pruning removed).  An applied method is also
    the module's forward pre-hook that refreshes the pruned tensor."""

    _tensor_name: str

    def __call__(self, module, inputs):
        pruned = self.apply_mask(module)
        setattr(module, self._tensor_name, pruned)

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new 0/1 mask (shape of ``t``) given importance scores ``t``."""

    def apply_mask(self, module):
        """``name_orig * name_mask`` of the parameter this method prunes."""
        assert self._tensor_name is not None, f"Module {module} has to be pruned"
        mask, orig = (getattr(module, self._tensor_name + part) for part in ("_mask", "_orig"))
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.name`` with ``cls(*args, **kwargs)`` (composed with any earlier
        pruning of it) and return the method that became the pre-hook."""
        orig_name, mask_name = name + "_orig", name + "_mask"
        key, earlier = _pruning_hook(module, name)
        if earlier is not None:
            # taken off first, as PyTorch does: a method that refuses its arguments below
            # leaves the module without it
            del module._forward_pre_hooks[key]
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if earlier is not None:
            if not isinstance(earlier, PruningContainer):
                earlier = PruningContainer(earlier)
            earlier.add_pruning_method(method)
            method = earlier
        current = getattr(module, name)
        scores = current if importance_scores is None else importance_scores
        if scores.shape != current.shape:      # raised, not asserted: it survives python -O
            raise AssertionError(f"importance_scores should have the same shape as parameter "
                                 f"{name} of {module}, got {scores.shape} vs {current.shape}")
        if earlier is None:
            # First pruning of ``name``: the Parameter moves to ``name_orig``.
            module.register_parameter(orig_name, current)
            del module._parameters[name]
            start_mask = creation.ones_like(current)
        else:
            start_mask = getattr(module, mask_name).detach().clone(
                memory_format=contiguous_format)
        try:
            module.register_buffer(mask_name, method.compute_mask(scores,
                                                                  default_mask=start_mask))
            method(module, ())
            module.register_forward_pre_hook(method)
        except Exception:
            if earlier is None:   # give the module its parameter back under its own name
                module.register_parameter(name, module._parameters.pop(orig_name))
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t`` times the mask this method computes (nothing is attached to a module)."""
        scores = t if importance_scores is None else importance_scores
        if scores.shape != t.shape:
            raise AssertionError("importance_scores should have the same shape as tensor t")
        start = creation.ones_like(t) if default_mask is None else default_mask
        return t * self.compute_mask(scores, default_mask=start)

    def remove(self, module):
        """Make the pruning permanent: ``name`` becomes a Parameter holding the masked values
        (the ``_orig`` Parameter object, re-filled) and ``_orig``/``_mask`` are deleted."""
        assert self._tensor_name is not None, \
            f"Module {module} has to be pruned before pruning can be removed"
        name = self._tensor_name
        final = self.apply_mask(module)
        if hasattr(module, name):
            delattr(module, name)
        param = module._parameters.pop(name + "_orig")
        del module._buffers[name + "_mask"]
        param.data = final.data
        setattr(module, name, param)


class PruningContainer(BasePruningMethod):
    """Successive pruning methods of one parameter: the newest acts only on the part the
    earlier ones left (entries with mask 1, or the surviving slices along its ``dim``)."""

    def __init__(self, *args):
        self._pruning_methods = ()
        for each in args:
            self.add_pruning_method(each)

    def add_pruning_method(self, method):
        if method is None:
            return
        if not isinstance(method, BasePruningMethod):
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if getattr(self, "_tensor_name", None) is None:
            self._tensor_name = method._tensor_name
        if method._tensor_name != self._tensor_name:
            raise ValueError("Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods = (*self._pruning_methods, method)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        newest = self._pruning_methods[-1]
        kind = newest.PRUNING_TYPE
        if kind == "unstructured":
            alive = (default_mask == 1,)
        elif kind == "structured":
            dim = getattr(newest, "dim", None)
            if dim is None:
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to '
                                     "have the attribute `dim` defined.")
            dim = dim + t.dim() if dim < 0 else dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {t.dim()}")
            others = [d for d in range(t.dim()) if d != dim]
            alive = [slice(None)] * t.dim()
            alive[dim] = default_mask.sum(dim=others) != 0   # slices not pruned yet
            alive = tuple(alive)
        elif kind == "global":
            alive = (slice(None),) * t.dim()
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        combined = default_mask.to(dtype=t.dtype)
        combined[alive] = newest.compute_mask(t[alive], default_mask=default_mask[alive]).to(
            dtype=combined.dtype)
        return combined


class _EntryPruning(BasePruningMethod):
    """Unstructured pruning of ``amount`` single entries, chosen by ``_pick``."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        count = _units_to_prune(self.amount, t.nelement())
        mask = default_mask.clone(memory_format=contiguous_format)
        if count:
            mask.view(-1)[self._pick(t, count)] = 0
        return mask


class _SlicePruning(BasePruningMethod):
    """Structured pruning of ``amount`` slices along ``dim``; ``_survivors`` says which of
    them stay (indices or a bool mask)."""

    PRUNING_TYPE = "structured"

    def compute_mask(self, t, default_mask):
        _check_structured(t, self._dim_to_check())
        n_slices = t.shape[self.dim]
        count = _units_to_prune(self.amount, n_slices)
        if count == 0:
            return default_mask
        mask = _keep_slices(t, self.dim % t.dim(), self._survivors(t, n_slices, count))
        return mask * default_mask.to(dtype=mask.dtype)

    def _dim_to_check(self):
        return None


class Identity(BasePruningMethod):
    """Prunes nothing (the mask is all ones); gives a parameter the pruning layout."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask


class RandomUnstructured(_EntryPruning):
    """Prunes ``amount`` entries chosen uniformly at random."""

    @staticmethod
    def _pick(t, count):
        # The ``count`` largest of i.i.d. uniforms form a uniformly random subset.
        return rand_like(t).view(-1).topk(count).indices


class L1Unstructured(_EntryPruning):
    """Prunes the ``amount`` entries of smallest absolute value."""

    @staticmethod
    def _pick(t, count):
        return t.detach().abs().reshape(-1).topk(count, largest=False).indices


class RandomStructured(_SlicePruning):
    """Prunes ``amount`` slices along ``dim`` chosen uniformly at random."""

    def __init__(self, amount, dim=-1):
        _check_amount(amount)
        self.amount, self.dim = amount, dim

    @staticmethod
    def _survivors(t, n_slices, count):
        draws = rand(n_slices)
        # Those above the count-th smallest draw stay: ``count`` random slices go.
        return draws > draws.kthvalue(count).values


class LnStructured(_SlicePruning):
    """Prunes the ``amount`` slices along ``dim`` of smallest L``n`` norm (``n`` as in
    ``torch.norm``: a number, ``inf``, ``-inf``, ``'fro'`` or ``'nuc'``)."""

    def __init__(self, amount, n, dim=-1):
        _check_amount(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def _dim_to_check(self):
        return self.dim

    def _survivors(self, t, n_slices, count):
        dim = self.dim % t.dim()
        norms = t.detach().norm(p=self.n, dim=[d for d in range(t.dim()) if d != dim])
        return norms.topk(n_slices - count).indices


class CustomFromMask(BasePruningMethod):
    """Prunes where a given 0/1 ``mask`` is 0."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        assert default_mask.shape == self.mask.shape
        return default_mask * self.mask.to(dtype=default_mask.dtype)


# ----------------------------------------------------------------------------- functions
def identity(module, name):
    """Give ``module.name`` the pruning layout with an all-ones mask; returns ``module``."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` random entries of ``module.name``; returns ``module``."""
    RandomUnstructured.apply(module, name, amount=amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the ``amount`` entries of ``module.name`` with the smallest ``|score|`` (the
    scores default to the parameter itself); returns ``module``."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune ``amount`` random slices of ``module.name`` along ``dim``; returns ``module``."""
    RandomStructured.apply(module, name, amount=amount, dim=dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune the ``amount`` slices of ``module.name`` along ``dim`` with the smallest L``n``
    norm of the scores; returns ``module``."""
    LnStructured.apply(module, name, amount=amount, n=n, dim=dim,
                       importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune several parameters together: ``pruning_method(**kwargs)`` (an unstructured
    method) chooses among all their still-unpruned entries at once, so ``amount`` is shared
    rather than applied to each.  ``parameters`` is an iterable of ``(module, name)``;
    ``importance_scores`` an optional dict from those pairs to score tensors."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    pairs = list(parameters)
    given = {} if importance_scores is None else importance_scores
    if not isinstance(given, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    # One long vector of every tensor's scores and current mask, pruned as a whole.
    scores = parameters_to_vector([given.get((m, n), getattr(m, n)) for m, n in pairs])
    masks = parameters_to_vector([getattr(m, n + "_mask") if hasattr(m, n + "_mask")
                                  else creation.ones_like(getattr(m, n)) for m, n in pairs])
    chooser = pruning_method(**kwargs)
    chooser._tensor_name = "temp"
    if chooser.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f"Found method {pruning_method} of type {chooser.PRUNING_TYPE}")
    final = PruningContainer(chooser).compute_mask(scores, masks)
    start = 0
    for m, n in pairs:
        size = getattr(m, n).numel()
        custom_from_mask(m, n, mask=final[start:start + size].view_as(getattr(m, n)))
        start += size


def custom_from_mask(module, name, mask):
    """Prune ``module.name`` where ``mask`` is 0; returns ``module``."""
    CustomFromMask.apply(module, name, mask=mask)
    return module


def remove(module, name):
    """Make the pruning of ``module.name`` permanent and drop its hook, ``_orig`` and
    ``_mask``; returns ``module``."""
    key, hook = _pruning_hook(module, name)
    if hook is None:
        raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before "
                         "pruning can be removed")
    hook.remove(module)
    del module._forward_pre_hooks[key]
    return module


def is_pruned(module):
    """Whether ``module`` or any submodule has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for _, sub in module.named_modules()
               for hook in sub._forward_pre_hooks.values())
