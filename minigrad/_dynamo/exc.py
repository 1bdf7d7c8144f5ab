"""``torch._dynamo.exc``: the compiler front end's exception classes that code catches (the
refusal of an unknown backend name by ``compile``)."""
from ..compiler import InvalidBackend, TorchDynamoException

__all__ = ["InvalidBackend", "TorchDynamoException"]
