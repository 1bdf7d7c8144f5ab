"""``torch.autograd.anomaly_mode``'s import path: ``detect_anomaly`` and
``set_detect_anomaly`` (defined with the other grad modes in ``grad_mode.py``)."""
from .grad_mode import detect_anomaly, set_detect_anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly"]
