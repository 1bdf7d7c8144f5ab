"""Registry entries added in round 5 of the third-party-code probes (see the entries below).
Checked like every entry: forward, gradients and second derivatives against torch and finite
differences."""
from __future__ import annotations

from .opinfo import Sample, register  # noqa: F401

S = Sample
