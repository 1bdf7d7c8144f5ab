"""``minigrad.amp.GradScaler``: loss scaling for float16 training, step for step as PyTorch's.

A float16 gradient underflows to zero below about 6e-8. Multiplying the loss by a large
``scale`` S before ``backward()`` lifts the gradients by S too; ``unscale_`` divides them
back (multiplies by float32(1/S)) and notes whether any came out inf/nan; ``step`` then runs
the optimizer only if none did; ``update`` adjusts S:

    an inf/nan was seen      S <- S * backoff_factor, and the count of good steps restarts
    otherwise                count += 1; when count reaches growth_interval: S <- S *
                             growth_factor (only if that stays finite), count <- 0

S is a float32 scalar, as in PyTorch, so the sequence of scales matches it bit for bit.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..dtypes import float32
from ..tensor import Tensor
from .._tensor_factories import tensor

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _fresh_state():
    return {"stage": _READY, "found_inf": None}


class GradScaler:
    """GradScaler(device='cuda', init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)

    The usual loop::

        scaler.scale(loss).backward()
        scaler.step(optimizer)        # unscales first unless unscale_ was called
        scaler.update()

    With ``enabled=False`` (or device 'cuda' on a machine without CUDA, which warns), every
    method is a pass-through: ``scale`` returns its input and ``step`` just steps.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        if device not in ("cpu", "cuda"):
            raise RuntimeError(f"GradScaler: device must be 'cpu' or 'cuda', got {device!r}")
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and device == "cuda" and not backend.is_cuda_available():
            warnings.warn("minigrad.cuda.amp.GradScaler is enabled, but CUDA is not available."
                          "  Disabling.")
            self._enabled = False
        if self._enabled:
            assert growth_factor > 1.0, "The growth factor must be > 1.0."
            assert backoff_factor < 1.0, "The backoff factor must be < 1.0."
        self._init_scale = init_scale
        self._growth = growth_factor
        self._backoff = backoff_factor
        self._interval = growth_interval
        self._good_steps_at_start = 0
        self._scale = None              # a float32 scalar, made by the first scale()
        self._good_steps = None     # good steps in a row since the last change of S
        self._per_optimizer = {}        # id(optimizer) -> its stage and found_inf

    # -- scaling ---------------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a tensor, or a list/tuple/iterable of them, nested) times the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale_on(outputs.device)
        if isinstance(outputs, (list, tuple)):     # nested: the same container type back
            return type(outputs)(map(self.scale, outputs))
        if hasattr(outputs, "__iter__") and not isinstance(outputs, (str, bytes)):
            return map(self.scale, outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _scale_on(self, device):
        if self._scale is None:
            self._scale = np.float32(self._init_scale)
            self._good_steps = self._good_steps_at_start
        return tensor(float(self._scale), dtype=float32, device=device)

    def _require_scale(self, action):
        assert self._scale is not None, (
            f"Attempted {action} but _scale is None.  This may indicate your script did not "
            f"use scaler.scale(loss or outputs) earlier in the iteration.")

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), _fresh_state())

    # -- unscaling and stepping ------------------------------------------------------------
    def unscale_(self, optimizer) -> None:
        """Divide the gradients of ``optimizer``'s parameters by the scale, in place, and
        record whether any is inf or nan. At most once per optimizer between updates."""
        if not self._enabled:
            return
        self._require_scale("unscale_")
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # PyTorch rounds 1/S computed in double to float32; so do we
        inv_scale = float(np.float32(1.0 / np.float64(self._scale)))
        found_inf = False
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        if any(g._array.dtype == np.float16 for g in grads):
            raise ValueError("Attempting to unscale FP16 gradients.")
        with no_grad():
            for g in grads:
                finite = backend.xp_of(g._array).isfinite(g._array).all()
                found_inf = found_inf or not bool(finite)
                g.mul_(inv_scale)       # inf/nan gradients too: the step is skipped anyway
        state["found_inf"] = found_inf
        state["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` unless an unscaled gradient was inf/nan (then the
        step is skipped and None returned). Unscales first if ``unscale_`` was not called."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._require_scale("step")
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        assert state["found_inf"] is not None, "No inf checks were recorded for this optimizer."
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale=None) -> None:
        """Set the next scale: ``new_scale`` (a float or a one-element tensor) when given,
        otherwise back off after an inf/nan or grow after ``growth_interval`` good steps."""
        if not self._enabled:
            return
        self._require_scale("update")
        if new_scale is not None:
            if not isinstance(new_scale, float):
                # anything else is read as a tensor (an int has no .device, as in PyTorch)
                if not isinstance(new_scale, Tensor):
                    raise AttributeError(f"'{type(new_scale).__name__}' object has no "
                                         f"attribute 'device'")
                if new_scale.device.type != self._device or new_scale.numel() != 1 or \
                        new_scale.requires_grad:
                    raise AssertionError("new_scale should be a float or a 1-element "
                                         "minigrad.cuda.FloatTensor or minigrad.FloatTensor with "
                                         "requires_grad=False.")
                if new_scale.ndim:          # (copied into the 0-d scale, as PyTorch's is)
                    raise RuntimeError(f"output with shape [] doesn't match the broadcast "
                                       f"shape {list(new_scale.shape)}")
                new_scale = new_scale.item()
            self._scale = np.float32(new_scale)
        else:
            found = [s["found_inf"] for s in self._per_optimizer.values()
                     if s["found_inf"] is not None]
            assert len(found) > 0, "No inf checks were recorded prior to update."
            self._advance(any(found))
        self._per_optimizer = {}

    def _advance(self, found_inf):
        """One step of the scale's rule (see the module docstring), in float32."""
        if found_inf:
            self._scale = np.float32(self._scale * np.float32(self._backoff))
            self._good_steps = 0
            return
        good = self._good_steps + 1
        if good == self._interval:
            grown = np.float32(self._scale * np.float32(self._growth))
            if np.isfinite(grown):
                self._scale = grown
            good = 0
        self._good_steps = good

    # -- accessors and state ---------------------------------------------------------------
    def get_scale(self) -> float:
        """The factor losses are multiplied by now, a Python float; 1.0 for a disabled scaler."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale)

    def get_growth_factor(self) -> float:
        return self._growth

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff = new_factor

    def get_growth_interval(self) -> int:
        return self._interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._interval = new_interval

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._good_steps_at_start if self._good_steps is None \
            else int(self._good_steps)

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """{'scale', 'growth_factor', 'backoff_factor', 'growth_interval', '_growth_tracker'};
        empty when disabled."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth,
                "backoff_factor": self._backoff,
                "growth_interval": self._interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale = np.float32(state_dict["scale"])
        self._growth = state_dict["growth_factor"]
        self._backoff = state_dict["backoff_factor"]
        self._interval = state_dict["growth_interval"]
        self._good_steps_at_start = state_dict["_growth_tracker"]
        if self._good_steps is not None:
            self._good_steps = state_dict["_growth_tracker"]
