"""``torch.utils.tensorboard``: ``SummaryWriter`` writes TensorBoard event files (scalars,
histograms, images, text, hyperparameters) with its own protobuf encoding, CRC-32C record
framing and PNG encoder; neither tensorboard nor protobuf is needed to write them, only to
view them (``tensorboard --logdir runs``)."""
from ._crc32c import RecordWriter
from .writer import SummaryWriter

__all__ = ["RecordWriter", "SummaryWriter"]
