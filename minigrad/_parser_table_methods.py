"""The signatures of PyTorch's Tensor methods, as its argument parser checks them:
data that ``_parser_emulation`` reads only after a call has failed, never on the path of a call
that works.

The methods (``x.name``), without the tensor they are called on.

The format of the entries: see ``_parser_table_one``.
"""
TEXT = """\
- allclose isclose
  (Tensor other, float rtol = ..., float atol = ..., bool equal_nan = ...)
- amax amin
  (tuple of ints dim = ..., bool keepdim = ...)
- aminmax
  (*, bool keepdim = ..., int dim = ...)
- arctan2 arctan2_ atan2 atan2_ equal expand_as fmax fmin gcd gcd_ hypot hypot_ igamma igamma_
- igammac igammac_ inner is_same_size kron lcm lcm_ ldexp ldexp_ logaddexp logaddexp2
- logical_and logical_and_ logical_or logical_or_ logical_xor logical_xor_ matmul maximum
- minimum mul mul_ nextafter nextafter_ reshape_as vdot view_as
  (Tensor other)
- argmax argmin mode
  (int dim = ..., bool keepdim = ...)
- as_strided as_strided_
  (tuple of ints size, tuple of ints stride, int storage_offset = ...)
- as_strided_scatter
  (Tensor src, tuple of ints size, tuple of ints stride, int storage_offset = ...)
- bfloat16 bool byte cdouble cfloat char clone contiguous double float half int is_contiguous
- long short
  (*, torch.memory_format memory_format = ...)
- bincount
  (Tensor weights = ..., int minlength = ...)
- bmm mm
  (Tensor mat2)
- cauchy_
  (float median = ..., float sigma = ..., *, torch.Generator generator = ...)
- cholesky cholesky_inverse
  (bool upper = ...)
- cholesky_solve
  (Tensor input2, bool upper = ...)
- chunk unsafe_chunk
  (int chunks, int dim = ...)
- cov
  (*, int correction = ...)
- cross
  (Tensor other, int dim = ...)
- cummax cummin logcumsumexp unsqueeze unsqueeze_
  (int dim)
- cumprod cumprod_ cumsum cumsum_
  (int dim, *, torch.dtype dtype = ...)
- diag tril tril_ triu triu_
  (int diagonal = ...)
- diag_embed diagonal
  (int offset = ..., int dim1 = ..., int dim2 = ...)
- diagflat
  (int offset = ...)
- diagonal_scatter
  (Tensor src, int offset = ..., int dim1 = ..., int dim2 = ...)
- diff
  (int n = ..., int dim = ..., Tensor prepend = ..., Tensor append = ...)
- dist
  (Tensor other, Number p = ...)
- dot
  (Tensor tensor)
- expand
  (tuple of ints size, *, bool implicit = ..., bool implicit = ...)
- exponential_
  (float lambd = ..., *, torch.Generator generator = ...)
- fill_diagonal_
  (Number fill_value, bool wrap = ...)
- flatten
  (int start_dim = ..., int end_dim = ...)
- flip permute tile
  (tuple of ints dims)
- gather
  (int dim, Tensor index, *, bool sparse_grad = ...)
- geometric_
  (float p, *, torch.Generator generator = ...)
- ger outer
  (Tensor vec2)
- hardshrink
  (Number lambd = ...)
- heaviside heaviside_
  (Tensor values)
- histc
  (int bins = ..., Number min = ..., Number max = ...)
- index_add index_add_
  (int dim, Tensor index, Tensor source, *, Number alpha = ...)
- index_copy index_copy_
  (int dim, Tensor index, Tensor source)
- index_put index_put_
  (tuple of Tensors indices, Tensor values, bool accumulate = ...)
- index_reduce index_reduce_
  (int dim, Tensor index, Tensor source, str reduce, *, bool include_self = ...)
- index_select
  (int dim, Tensor index)
- is_pinned
  (torch.device device = ...)
- kthvalue
  (int k, int dim = ..., bool keepdim = ...)
- log_normal_ normal_
  (float mean = ..., float std = ..., *, torch.Generator generator = ...)
- log_softmax softmax
  (int dim, torch.dtype dtype = ...)
- logit logit_
  (float eps = ...)
- logsumexp
  (tuple of ints dim, bool keepdim = ...)
- lu_solve
  (Tensor LU_data, Tensor LU_pivots)
- masked_scatter masked_scatter_
  (Tensor mask, Tensor source)
- masked_select
  (Tensor mask)
- matrix_power polygamma polygamma_
  (int n)
- multinomial
  (int num_samples, bool replacement = ..., *, torch.Generator generator = ...)
- mv
  (Tensor vec)
- mvlgamma mvlgamma_
  (int p)
- nanmean nansum
  (tuple of ints dim = ..., bool keepdim = ..., *, torch.dtype dtype = ...)
- narrow_copy
  (int dim, int start, int length)
- nonzero_static
  (*, int size, int fill_value = ...)
- orgqr
  (Tensor input2)
- ormqr
  (Tensor input2, Tensor input3, bool left = ..., bool transpose = ...)
- pinverse
  (float rcond = ...)
- prelu
  (Tensor weight)
- put put_
  (Tensor index, Tensor source, bool accumulate = ...)
- qr
  (bool some = ...)
- renorm renorm_
  (Number p, int dim, Number maxnorm)
- repeat
  (tuple of ints repeats)
- reshape
  (tuple of ints shape)
- roll
  (tuple of ints shifts, tuple of ints dims = ...)
- rot90
  (int k = ..., tuple of ints dims = ...)
- scatter_add scatter_add_
  (int dim, Tensor index, Tensor src)
- scatter_reduce scatter_reduce_
  (int dim, Tensor index, Tensor src, str reduce, *, bool include_self = ...)
- select
  (int dim, int index)
- select_scatter
  (Tensor src, int dim, int index)
- size stride unbind
  (int dim = ...)
- slice_scatter
  (Tensor src, int dim = ..., int start = ..., int end = ..., int step = ...)
- split_with_sizes unsafe_split_with_sizes
  (tuple of ints split_sizes, int dim = ...)
- svd
  (bool some = ..., bool compute_uv = ...)
- swapaxes swapaxes_
  (int axis0, int axis1)
- swapdims swapdims_ transpose transpose_
  (int dim0, int dim1)
- take
  (Tensor index)
- take_along_dim
  (Tensor indices, int dim = ...)
- triangular_solve
  (Tensor A, bool upper = ..., bool transpose = ..., bool unitriangular = ...)
- unfold
  (int dimension, int size, int step)
- uniform_
  (float from = ..., float to = ..., *, torch.Generator generator = ...)
- unsafe_split
  (int split_size, int dim = ...)
0 abs abs_ absolute absolute_ acos acos_ acosh acosh_ adjoint angle arccos arccos_ arccosh
0 arccosh_ arcsin arcsin_ arcsinh arcsinh_ arctan arctan_ arctanh arctanh_ argwhere asin asin_
0 asinh asinh_ atan atan_ atanh atanh_ bitwise_not bitwise_not_ ceil ceil_ conj conj_physical
0 conj_physical_ corrcoef cos cos_ cosh cosh_ deg2rad deg2rad_ det digamma digamma_ dim
0 element_size erf erf_ erfc erfc_ erfinv erfinv_ exp exp2 exp2_ exp_ expm1 expm1_ fix fix_
0 fliplr flipud floor floor_ frac frac_ frexp geqrf get_device i0 i0_ inverse is_complex
0 is_conj is_floating_point is_neg is_nonzero is_signed isfinite isinf isnan isneginf isposinf
0 isreal lgamma lgamma_ log log10 log10_ log1p log1p_ log2 log2_ log_ logdet logical_not
0 logical_not_ matrix_exp msort ndimension neg neg_ negative negative_ nelement numel positive
0 rad2deg rad2deg_ ravel reciprocal reciprocal_ relu relu_ resolve_conj resolve_neg rsqrt
0 rsqrt_ sgn sgn_ sigmoid sigmoid_ sign sign_ signbit sin sin_ sinc sinc_ sinh sinh_ slogdet
0 sqrt sqrt_ square square_ t t_ tan tan_ tanh tanh_ trace trunc trunc_ zero_
= add add_ sub sub_
  (Tensor other, *, Number alpha = 1)
= addbmm addbmm_ baddbmm baddbmm_
  (Tensor batch1, Tensor batch2, *, Number beta = 1, Number alpha = 1)
= addcdiv addcdiv_ addcmul addcmul_
  (Tensor tensor1, Tensor tensor2, *, Number value = 1)
= addmm addmm_
  (Tensor mat1, Tensor mat2, *, Number beta = 1, Number alpha = 1)
= addmv addmv_
  (Tensor mat, Tensor vec, *, Number beta = 1, Number alpha = 1)
= addr addr_
  (Tensor vec1, Tensor vec2, *, Number beta = 1, Number alpha = 1)
= all any
  ()
  (tuple of ints dim = None, bool keepdim = False)
  (int dim, bool keepdim = False)
= argsort sort
  (*, bool stable, int dim = -1, bool descending = False)
  (int dim = -1, bool descending = False)
= bernoulli
  (*, torch.Generator generator = None)
  (float p, *, torch.Generator generator = None)
= bernoulli_
  (Tensor p, *, torch.Generator generator = None)
  (float p = 0.5, *, torch.Generator generator = None)
= bitwise_and bitwise_and_ bitwise_left_shift bitwise_left_shift_ bitwise_or bitwise_or_
= bitwise_right_shift bitwise_right_shift_ bitwise_xor bitwise_xor_ copysign copysign_ eq eq_
= floor_divide floor_divide_ fmod fmod_ ge ge_ greater greater_ greater_equal greater_equal_
= gt gt_ le le_ less less_ less_equal less_equal_ lt lt_ multiply multiply_ ne ne_ not_equal
= not_equal_ remainder remainder_ true_divide true_divide_ xlogy xlogy_
  (Tensor other)
  (Number other)
= clamp clamp_ clip clip_
  (Tensor min = None, Tensor max = None)
  (Number min = None, Number max = None)
= clamp_max clamp_max_
  (Tensor max)
  (Number max)
= clamp_min clamp_min_
  (Tensor min)
  (Number min)
= copy_
  (Tensor other, bool non_blocking = False)
= count_nonzero
  (int dim = None)
  (tuple of ints dim)
= div div_
  (Tensor other)
  (Tensor other, *, str rounding_mode)
  (Number other, *, str rounding_mode)
= divide divide_
  (Tensor other)
  (Tensor other, *, str rounding_mode)
  (Number other)
  (Number other, *, str rounding_mode)
= dsplit hsplit vsplit
  (int sections)
  (tuple of ints indices)
= fill_
  (Tensor value)
  (Number value)
= float_power float_power_ pow pow_
  (Tensor exponent)
  (Number exponent)
= index_fill index_fill_
  (int dim, Tensor index, Tensor value)
  (int dim, Tensor index, Number value)
= lerp lerp_
  (Tensor end, Tensor weight)
  (Tensor end, Number weight)
= masked_fill masked_fill_
  (Tensor mask, Tensor value)
  (Tensor mask, Number value)
= max min
  ()
  (Tensor other)
  (int dim, bool keepdim = False)
= mean sum
  (*, torch.dtype dtype = None)
  (tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None)
= median nanmedian
  ()
  (int dim, bool keepdim = False)
= moveaxis movedim
  (int source, int destination)
  (tuple of ints source, tuple of ints destination)
= nanquantile quantile
  (Tensor q, int dim = None, bool keepdim = False, *, str interpolation = "linear")
  (float q, int dim = None, bool keepdim = False, *, str interpolation = "linear")
= narrow
  (int dim, Tensor start, int length)
  (int dim, int start, int length)
= new
  (*, torch.device device = None)
  (torch.Storage storage)
  (Tensor other)
  (tuple of ints size, *, torch.device device = None)
  (object data, *, torch.device device = None)
= nonzero
  ()
  (*, bool as_tuple)
= prod
  (*, torch.dtype dtype = None)
  (int dim, bool keepdim = False, *, torch.dtype dtype = None)
= random_
  (*, torch.Generator generator = None)
  (int from, int to, *, torch.Generator generator = None)
  (int to, *, torch.Generator generator = None)
= repeat_interleave
  (Tensor repeats, int dim = None, *, int output_size = None)
  (int repeats, int dim = None, *, int output_size = None)
= round round_
  ()
  (*, int decimals)
= scatter scatter_
  (int dim, Tensor index, Tensor src)
  (int dim, Tensor index, Tensor src, *, str reduce)
  (int dim, Tensor index, Number value)
  (int dim, Tensor index, Number value, *, str reduce)
= squeeze squeeze_
  ()
  (int dim)
  (tuple of ints dim)
= std var
  (tuple of ints dim, bool unbiased = True, bool keepdim = False)
  (tuple of ints dim = None, *, Number correction = None, bool keepdim = False)
  (bool unbiased = True)
= subtract subtract_
  (Tensor other, *, Number alpha = 1)
  (Number other, Number alpha = 1)
= tensor_split
  (tuple of ints indices, int dim = 0)
  (Tensor tensor_indices_or_sections, int dim = 0)
  (int sections, int dim = 0)
= view
  (torch.dtype dtype)
  (tuple of ints size)
= where
  (Tensor condition, Tensor other)
  (Tensor condition, Number other)
"""
