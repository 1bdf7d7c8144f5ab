"""The pieces every Adam-like step shares (Adam/AdamW, NAdam, RAdam, Adamax): the step
counter, the gradient the step follows, and the moving averages of g and g^2. In place on
the arrays; each optimizer adds its own correction and update."""
from __future__ import annotations

__all__ = ["next_step", "step_gradient", "update_moments"]


def next_step(step):
    """Advance the step counter ``step`` in place (the 0-d array of the 'step' tensor, as
    PyTorch keeps it); its new value as a float."""
    step += 1
    return float(step)


def step_gradient(p, grad, maximize, weight_decay, lr, decoupled=False):
    """The gradient the step follows: -grad with ``maximize``; with weight decay wd either
    the L2 term added (g + wd * p) or, ``decoupled`` (AdamW), p shrunk at once by
    (1 - lr * wd) and g left alone."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    return g


def update_moments(m, v, g, beta1, beta2):
    """m <- beta1 m + (1 - beta1) g (a lerp towards g); v <- beta2 v + (1 - beta2) g^2."""
    m += (1 - beta1) * (g - m)
    v *= beta2
    v += (1 - beta2) * g * g
