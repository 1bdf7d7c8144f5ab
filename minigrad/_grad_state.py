"""The per-thread grad-mode switches, in a module of their own: ``autograd.grad_mode`` sets
them (``no_grad``, ``inference_mode``...) and ``tensor.py`` reads one of them (a tensor made
inside ``inference_mode`` is an inference tensor), below the autograd package."""
from __future__ import annotations

import threading

__all__ = ["GradState", "state"]


class GradState(threading.local):
    mode = True              # the grad mode a user set (what is_grad_enabled() reports)
    enabled = True           # whether ops record: mode, and not inside inference_mode()
    inference = 0            # depth of inference_mode() blocks: nothing records inside them
    anomaly = False          # record each op's forward call site
    anomaly_check_nan = True  # ... and check every backward's gradients for NaN / inf
    grad_layout = True       # a new .grad follows the layout contract (enforce_grad_layout_policy)


state = GradState()
