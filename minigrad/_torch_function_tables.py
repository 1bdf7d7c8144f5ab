"""The tables of PyTorch's ``__torch_function__`` protocol that ``_torch_function`` reads:
which of minigrad's public functions take part (``UNOFFERED``: none of their calls are
offered; ``MODES_ONLY``: offered to modes alone), which Tensor methods count a plain ``self``
among the overloading arguments (``SELF_TYPED``), and which of ``nn.functional``'s functions
are PyTorch's C functions (``FUNCTIONAL_IN_C``; the others, written in Python, count every
Tensor argument).  Facts about PyTorch's behaviour, listed by name.
"""
from __future__ import annotations

__all__ = ["UNOFFERED", "MODES_ONLY", "SELF_TYPED", "FUNCTIONAL_IN_C"]

# names of minigrad's namespaces that PyTorch does not offer to the protocol (factories and
# conversions from other things, settings, and the tensor predicates)
UNOFFERED = frozenset((
    "arange as_strided as_tensor asarray bartlett_window blackman_window broadcast_shapes "
    "can_cast compile cond empty empty_permuted empty_strided enable_grad eye fill from_file "
    "from_dlpack from_numpy frombuffer full get_default_dtype get_num_threads get_rng_state "
    "hamming_window hann_window inference_mode is_grad_enabled is_storage is_tensor "
    "kaiser_window linspace load logspace manual_seed no_grad normal ones promote_types "
    "rand rand_like randint randint_like randn randn_like randperm range result_type save "
    "scalar_tensor seed set_default_dtype set_grad_enabled set_num_threads set_printoptions "
    "set_rng_state sparse_bsc_tensor sparse_bsr_tensor sparse_compressed_tensor "
    "sparse_coo_tensor sparse_csc_tensor sparse_csr_tensor tensor tril_indices triu_indices "
    "typename vander vmap zeros fftfreq rfftfreq upsample upsample_bilinear upsample_nearest "
    "handle_torch_function has_torch_function has_torch_function_unary "
    "has_torch_function_variadic").split())

# those of them that PyTorch offers to modes all the same (``torch.zeros`` reaches a mode)
MODES_ONLY = frozenset((
    "arange as_strided as_tensor asarray bartlett_window blackman_window can_cast empty "
    "empty_permuted empty_strided eye fill from_file frombuffer full hamming_window "
    "hann_window kaiser_window linspace logspace normal ones promote_types rand rand_like "
    "randint randint_like randn randn_like randperm result_type scalar_tensor "
    "sparse_bsc_tensor sparse_bsr_tensor sparse_compressed_tensor sparse_coo_tensor "
    "sparse_csc_tensor sparse_csr_tensor tensor tril_indices triu_indices vander zeros "
    "fftfreq rfftfreq").split())

# the Tensor methods whose ``self`` PyTorch counts among the overloading arguments even when it
# is a plain Tensor (a mode's ``types`` is (Tensor,) then, not ()): those written in Python
# (``norm``, ``split``, ``__len__``...) and those whose one signature takes nothing but self
# (``abs``, ``dim``, ``detach``...); its properties' getters and setters count it too
SELF_TYPED = frozenset("""
__array__ __contains__ __deepcopy__ __floordiv__ __format__ __len__ __rdiv__ __reduce_ex__
__repr__ __reversed__ __rfloordiv__ __rlshift__ __rmatmul__ __rmod__ __rpow__ __rrshift__
__rsub__ __rtruediv__ __setstate__ abs absolute acos acosh adjoint angle arccos arccosh
arcsin arcsinh arctan arctanh argwhere asin asinh atan atanh backward bitwise_not ceil
coalesce conj conj_physical const_data_ptr corrcoef cos cosh data_ptr deg2rad dense_dim det
detach digamma dim dim_order element_size erf erfc erfinv exp exp2 expm1 fix fliplr flipud
floor frac frexp geqrf get_device i0 indices inverse is_coalesced is_complex is_conj
is_floating_point is_inference is_neg is_nonzero is_shared is_signed isfinite isinf isnan
isneginf isposinf isreal istft item lgamma log log10 log1p log2 logdet logical_not lu
matrix_exp module_load msort ndimension neg negative nelement new new_tensor norm numel
positive rad2deg ravel reciprocal register_hook register_post_accumulate_grad_hook relu
resize resize_as resolve_conj resolve_neg retain_grad rsqrt sgn share_memory_ sigmoid sign
signbit sin sinc sinh slogdet sparse_dim split sqrt square stft storage storage_offset
storage_type t tan tanh tolist trace trunc unflatten unique unique_consecutive
untyped_storage values abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_
arctanh_ asin_ asinh_ atan_ atanh_ bitwise_not_ ceil_ cos_ cosh_ deg2rad_ detach_ digamma_
erf_ erfc_ erfinv_ exp_ exp2_ expm1_ fix_ floor_ frac_ i0_ lgamma_ log_ log10_ log1p_ log2_
logical_not_ neg_ negative_ rad2deg_ reciprocal_ relu_ rsqrt_ sgn_ sigmoid_ sign_ sin_
sinc_ sinh_ sqrt_ square_ t_ tan_ tanh_ trunc_ zero_
""".split())

# the functions of PyTorch's ``nn.functional`` that are its C functions (the others are
# written in Python, and count every Tensor argument in a mode's ``types``)
FUNCTIONAL_IN_C = frozenset("""
adaptive_avg_pool1d avg_pool1d avg_pool2d avg_pool3d bilinear celu_ channel_shuffle conv1d
conv2d conv3d conv_tbc conv_transpose1d conv_transpose2d conv_transpose3d cosine_similarity
elu_ gelu hardshrink hardtanh_ leaky_relu_ linear logsigmoid native_channel_shuffle one_hot
pairwise_distance pdist pixel_shuffle pixel_unshuffle prelu relu_ rrelu_
scaled_dot_product_attention selu_ softplus softshrink threshold_
""".split())
