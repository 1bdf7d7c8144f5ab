"""PyTorch's module path ``torch.nn.modules.transformer``: the encoder (written in
``transformer_encoder.py``), the decoder and the full ``Transformer`` (``transformer_decoder.py``),
and the two helpers code built on them imports from here (``_get_clones``,
``_get_activation_fn``)."""
from .transformer_decoder import Transformer, TransformerDecoder, TransformerDecoderLayer
from .transformer_encoder import (TransformerEncoder, TransformerEncoderLayer, _get_activation_fn,
                                  _get_clones)

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer", "_get_clones", "_get_activation_fn"]
