"""The names PyTorch's messages give a dtype, kept apart from ``dtypes.py``: its C++ type
(``c_type_name``: 'int64_t', 'c10::Half'; ``typeid_name``: 'long int'), its scalar type
(``scalar_type_name``: 'Long', 'ComplexFloat'), its legacy tensor class
(``legacy_type_name``: 'torch.FloatTensor') and a CPU tensor's type string
(``tensor_type_string``: 'CPUBoolType').  Each takes a numpy dtype (or anything
``np.dtype`` reads); ``dtypes`` re-exports them, and callers spell them ``dtypes.<name>``.
"""
from __future__ import annotations

import numpy as np


# how PyTorch's checked conversion of a number names a dtype: its C++ type
_C_TYPE = {"uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
           "int8": "int8_t", "int16": "int16_t", "int32": "int",
           "int64": "int64_t", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
           "float32": "float", "float64": "double",
           "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def c_type_name(np_dtype) -> str:
    """The C++ name PyTorch's conversion errors give a dtype: 'uint8_t', 'int', 'float'."""
    name = np.dtype(np_dtype).name
    return _C_TYPE.get(name, name)


# the integer types as the compiler's type names spell them, which the messages that print a
# C++ type by its typeid give (histogramdd's dtype checks: "long int", "unsigned char")
_TYPEID = {"int64": "long int", "int16": "short int", "int8": "signed char",
           "uint8": "unsigned char"}


def typeid_name(np_dtype) -> str:
    """The name a C++ type's typeid gives a dtype: 'long int', 'float', 'c10::Half'."""
    return _TYPEID.get(np.dtype(np_dtype).name) or c_type_name(np_dtype)


# PyTorch's names of the scalar types: its kernels' dtype errors ("not implemented for
# 'Long'") and its legacy tensor types ("torch.FloatTensor") spell a dtype with them
SCALAR_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                 "int32": "Int", "int64": "Long", "float16": "Half", "bfloat16": "BFloat16",
                 "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64",
                 "float32": "Float",
                 "float64": "Double", "complex64": "ComplexFloat",
                 "complex128": "ComplexDouble"}


def scalar_type_name(np_dtype) -> str:
    """PyTorch's name of a dtype's scalar type: 'Long' for int64, 'ComplexFloat' for complex64."""
    name = np.dtype(np_dtype).name
    return SCALAR_NAMES.get(name, name)


# the scalar types that have a legacy tensor class (torch.FloatTensor): PyTorch's C++ messages
# print a CPU tensor of one of them by that class, any other as "CPU<scalar type>Type"
_LEGACY_CLASSES = {"uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"}


def tensor_type_string(np_dtype) -> str:
    """How PyTorch's C++ messages print a CPU tensor's type (its ``Tensor::toString()``, as in
    expand's "expand(torch.FloatTensor{[2, 3]}, size=[3])"): 'torch.FloatTensor' for a
    dtype with a legacy class, 'CPUBoolType', 'CPUBFloat16Type', 'CPUComplexFloatType' for
    the others."""
    name = np.dtype(np_dtype).name
    if name in _LEGACY_CLASSES:
        return legacy_type_name(np_dtype)
    return f"CPU{scalar_type_name(np_dtype)}Type"


def legacy_type_name(np_dtype, cuda=False, module="torch") -> str:
    """PyTorch's legacy tensor type name: 'torch.FloatTensor', 'torch.cuda.LongTensor'."""
    return f"{module}.{'cuda.' if cuda else ''}{scalar_type_name(np_dtype)}Tensor"
