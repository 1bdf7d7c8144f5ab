"""``DistributedDataParallel``: PyTorch's multi-process data-parallel wrapper, for the one
process of ``minigrad.distributed``'s world.

PyTorch's DDP averages each gradient over the ranks during ``backward``; over one rank the
average is the gradient itself, so the wrapper only forwards to the module.  What scripts rely
on is kept: the group must be initialised first, ``self.module`` is the wrapped model (state_dict
keys gain the prefix ``module.``), and ``no_sync()`` marks gradient-accumulation steps.
"""
from __future__ import annotations

import contextlib

from ...distributed._group import default_group
from .module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """DistributedDataParallel(module, device_ids=None, output_device=None, dim=0, ...):
    ``forward`` is ``module.forward``.  The remaining options (buckets, hooks, static graphs)
    shape how PyTorch overlaps communication with backward; with one rank there is none, so
    they are accepted and kept as attributes."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=None, init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None, skip_all_reduce_unused_params=False,
                 bucket_cap_mb_list=None, batched_grad_copy=False, forward_sync_buffers=None):
        super().__init__()
        group = default_group(process_group)
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        devices = {p.device for p in module.parameters()}
        if (device_ids is not None or output_device is not None) and (
                len(devices) != 1 or next(iter(devices)).type == "cpu"):
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                f"{device_ids}, output_device {output_device}, and module parameters "
                f"{devices}.")
        self.module = module
        self.process_group = group
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = True if broadcast_buffers is None else broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view, self.static_graph = gradient_as_bucket_view, static_graph
        self.mixed_precision = mixed_precision
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """A block whose backward passes skip the gradient averaging (gradient accumulation);
        with one rank nothing is averaged either way."""
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    def join(self, divide_by_initial_world_size=True, enable=True,
             throw_on_early_termination=False):
        """For ranks with uneven inputs; one rank never waits for another."""
        return contextlib.nullcontext()
