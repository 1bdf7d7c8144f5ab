"""``LBFGS``: limited-memory BFGS, a quasi-Newton method that runs many iterations (each
calling the closure) per ``step(closure)``, with an optional strong-Wolfe line search.

All parameters are handled as one flat vector x (their concatenation); the direction,
the curvature pairs and the gradients are flat arrays of that length.
"""
from __future__ import annotations

import numpy as np

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor
from ._line_search import strong_wolfe
from .optimizer import Optimizer
from ._update_arrays import real_pairs

__all__ = ["LBFGS"]


def _reals(a):
    return real_pairs(a) if a.dtype.kind == "c" else a


def _array(value):
    """The array (or number) behind a state entry, which may come from a loaded state_dict."""
    if isinstance(value, Tensor):
        return value._array
    if isinstance(value, list):
        return [_array(v) for v in value]
    return value


class LBFGS(Optimizer):
    """L-BFGS (Nocedal, 1980), PyTorch's formulation (after minFunc).

    One ``step(closure)`` runs up to ``max_iter`` iterations (at most ``max_eval`` closure
    calls, default ``max_iter * 5 // 4``). With g the flat gradient at the flat parameters x:
        direction d = -H g, H the inverse-Hessian estimate from the last ``history_size``
            pairs (s, y) = (x_{k+1} - x_k, g_{k+1} - g_k) that have y.s > 1e-10 (two-loop
            recursion, initial H = (y.s / y.y) I of the newest pair);  d = -g at first
        step length t = lr (min(1, 1/|g|_1) * lr on the very first iteration), or the one
            found by the strong-Wolfe line search (``line_search_fn="strong_wolfe"``)
        x = x + t d
    It stops early when max|g| <= tolerance_grad, when the directional derivative g.d,
    the step max|t d| or the loss change fall below tolerance_change.  The history is kept
    across calls to ``step`` (as one state entry on the first parameter, like PyTorch).
    Only one parameter group is allowed.  Returns the loss of the first closure call.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if isinstance(lr, Tensor):
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # the state is global (flat vectors, lists, numbers): no entry is shaped like a parameter
    _scalar_state = frozenset({"d", "t", "H_diag", "prev_flat_grad", "prev_loss", "ro",
                               "old_dirs", "old_stps", "al", "func_evals", "n_iter"})

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._params = self.param_groups[0]["params"]

    # -- the flat vector ------------------------------------------------------------------------
    def _flat_grad(self):
        # a complex parameter counts as its (real, imag) pairs, as PyTorch's L-BFGS reads it
        parts = [np.zeros(_reals(p._array).size, dtype=_reals(p._array).dtype)
                 if p.grad is None else _reals(p.grad._array).reshape(-1)
                 for p in self._params]
        return np.concatenate(parts)

    def _flat_params(self):
        return [p._array.copy() for p in self._params]

    def _add_to_params(self, t, d):
        """x = x + t d, parameter by parameter."""
        offset = 0
        for p in self._params:
            a = _reals(p._array)
            n = a.size
            a += (t * d[offset:offset + n]).reshape(a.shape)
            p._vcounter.value += 1
            offset += n

    def _set_params(self, saved):
        for p, value in zip(self._params, saved):
            p._array[...] = value
            p._vcounter.value += 1

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return loss

    def _evaluate_along(self, closure, x, t, d):
        """(loss, flat gradient) at x + t d; the parameters are put back to x afterwards."""
        self._add_to_params(t, d)
        loss = float(self._evaluate(closure))
        flat_grad = self._flat_grad()
        self._set_params(x)
        return loss, flat_grad

    # -- the step -------------------------------------------------------------------------------
    def step(self, closure):
        """Run L-BFGS iterations on ``closure`` (re-evaluates the model, calls backward and
        returns the loss; it is called with gradients enabled).  Returns the first loss."""
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr = group["lr"]
        lr = float(lr._array) if isinstance(lr, Tensor) else lr
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = _array(state.get("d")), _array(state.get("t"))
        old_dirs, old_stps = _array(state.get("old_dirs")), _array(state.get("old_stps"))
        ro, H_diag = _array(state.get("ro")), _array(state.get("H_diag"))
        prev_flat_grad, prev_loss = _array(state.get("prev_flat_grad")), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # -- the direction: d = -H g --------------------------------------------------------
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:           # keep only pairs with positive curvature
                    if len(old_dirs) >= history_size:        # forget the oldest pair
                        del old_dirs[0], old_stps[0], ro[0]
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                d = self._two_loop(-flat_grad, old_dirs, old_stps, ro, H_diag)

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # -- the step length ----------------------------------------------------------------
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:        # not a descent direction any more
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = self._flat_params()
                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    lambda x, step, direction: self._evaluate_along(closure, x, step, direction),
                    x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_to_params(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:     # the last iteration's loss would go unused
                    loss = float(self._evaluate(closure))
                    flat_grad = self._flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # -- stopping tests -----------------------------------------------------------------
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        self._save_state(state, d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad,
                         prev_loss)
        return orig_loss

    def _two_loop(self, q, old_dirs, old_stps, ro, H_diag):
        """-H g by the two-loop recursion, from q = -g (overwritten)."""
        state = self.state[self._params[0]]
        history_size = self.param_groups[0]["history_size"]
        al = state.get("al")
        if al is None:
            al = state["al"] = [None] * history_size
        pairs = list(enumerate(zip(old_stps, old_dirs, ro)))
        for k, (s, y, rho) in reversed(pairs):       # newest pair first: strip its curvature
            al[k] = rho * s.dot(q)
            q -= al[k] * y
        direction = H_diag * q                        # the scaled-identity initial inverse
        for k, (s, y, rho) in pairs:                  # oldest first: put the curvature back
            direction += (al[k] - rho * y.dot(direction)) * s
        return direction

    @staticmethod
    def _save_state(state, d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss):
        """Keep the history as tensors (PyTorch's names and layout: flat vectors, lists of
        them, 0-d tensors for the scalars), so that it round-trips through a state_dict."""
        # (numpy's float64 scalars, which y.s / y.y and 1 / y.s are, subclass float: they
        # become 0-d tensors too; only Python's own numbers stay, as PyTorch's initial 1)
        wrap = (lambda v: v if v is None or (isinstance(v, (int, float)) and
                                             not isinstance(v, np.generic)) else
                Tensor._wrap(np.asarray(v)))
        state["d"] = wrap(d)
        state["t"] = wrap(t)          # a 0-d tensor once the line search interpolated it
        state["old_dirs"] = [wrap(v) for v in old_dirs] if old_dirs is not None else None
        state["old_stps"] = [wrap(v) for v in old_stps] if old_stps is not None else None
        state["ro"] = [wrap(v) for v in ro] if ro is not None else None
        state["H_diag"] = wrap(H_diag)
        state["prev_flat_grad"] = wrap(prev_flat_grad)
        state["prev_loss"] = prev_loss
        if state.get("al") is not None:
            state["al"] = [None if v is None else wrap(v) for v in state["al"]]
