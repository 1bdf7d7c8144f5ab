"""The signatures of PyTorch's functions of several signatures, as its argument parser checks them:
data that ``_parser_emulation`` reads only after a call has failed, never on the path of a call
that works.

The functions (``torch.name``) whose refusals list their signatures.

The format of the entries: see ``_parser_table_one``.
"""
TEXT = """\
= add sub
  (Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None)
= addbmm
  (Tensor input, Tensor batch1, Tensor batch2, *, Number beta = 1, Number alpha = 1, Tensor
    out = None)
= addcdiv addcmul
  (Tensor input, Tensor tensor1, Tensor tensor2, *, Number value = 1, Tensor out = None)
= addmm
  (Tensor input, Tensor mat1, Tensor mat2, *, Number beta = 1, Number alpha = 1, Tensor out =
    None)
  (Tensor input, Tensor mat1, Tensor mat2, torch.dtype out_dtype, *, Number beta = 1, Number
    alpha = 1, Tensor out = None)
= addmv
  (Tensor input, Tensor mat, Tensor vec, *, Number beta = 1, Number alpha = 1, Tensor out =
    None)
= addmv_
  (Tensor input, Tensor mat, Tensor vec, *, Number beta = 1, Number alpha = 1)
= addr
  (Tensor input, Tensor vec1, Tensor vec2, *, Number beta = 1, Number alpha = 1, Tensor out =
    None)
= all any
  (Tensor input, *, Tensor out = None)
  (Tensor input, tuple of ints dim = None, bool keepdim = False, *, Tensor out = None)
  (Tensor input, int dim, bool keepdim = False, *, Tensor out = None)
= arange
  (Number end, *, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False)
  (Number start, Number end, *, torch.dtype dtype = None, torch.layout layout = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False)
  (Number start, Number end, Number step = 1, *, Tensor out = None, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
= argsort
  (Tensor input, *, bool stable, int dim = -1, bool descending = False, Tensor out = None)
  (Tensor input, int dim = -1, bool descending = False)
= baddbmm
  (Tensor input, Tensor batch1, Tensor batch2, *, Number beta = 1, Number alpha = 1, Tensor
    out = None)
  (Tensor input, Tensor batch1, Tensor batch2, torch.dtype out_dtype, *, Number beta = 1,
    Number alpha = 1, Tensor out = None)
= bartlett_window blackman_window hann_window
  (int window_length, *, torch.dtype dtype = None, torch.layout layout = None, torch.device
    device = None, bool pin_memory = False, bool requires_grad = False)
  (int window_length, bool periodic, *, torch.dtype dtype = None, torch.layout layout = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False)
= bernoulli
  (Tensor input, *, torch.Generator generator = None, Tensor out = None)
  (Tensor input, float p, *, torch.Generator generator = None)
= bitwise_and bitwise_left_shift bitwise_or bitwise_right_shift bitwise_xor remainder
  (Tensor input, Tensor other, *, Tensor out = None)
  (Number self, Tensor other)
  (Tensor input, Number other, *, Tensor out = None)
= bmm mm spmm
  (Tensor input, Tensor mat2, *, Tensor out = None)
  (Tensor input, Tensor mat2, torch.dtype out_dtype, *, Tensor out = None)
= bucketize
  (Tensor input, Tensor boundaries, *, bool out_int32 = False, bool right = False, Tensor out
    = None)
  (Number self, Tensor boundaries, *, bool out_int32 = False, bool right = False)
= clamp clip
  (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)
  (Tensor input, Number min = None, Number max = None, *, Tensor out = None)
= clamp_ clip_
  (Tensor input, Tensor min = None, Tensor max = None)
  (Tensor input, Number min = None, Number max = None)
= clamp_max
  (Tensor input, Tensor max, *, Tensor out = None)
  (Tensor input, Number max, *, Tensor out = None)
= clamp_max_
  (Tensor input, Tensor max)
  (Tensor input, Number max)
= clamp_min
  (Tensor input, Tensor min, *, Tensor out = None)
  (Tensor input, Number min, *, Tensor out = None)
= clamp_min_
  (Tensor input, Tensor min)
  (Tensor input, Number min)
= conv1d conv2d conv3d
  (Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, tuple of ints
    padding = 0, tuple of ints dilation = 1, int groups = 1)
  (Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, str padding =
    "valid", tuple of ints dilation = 1, int groups = 1)
= copysign eq fmod ge greater greater_equal gt le less less_equal lt ne not_equal
  (Tensor input, Tensor other, *, Tensor out = None)
  (Tensor input, Number other, *, Tensor out = None)
= count_nonzero
  (Tensor input, int dim = None)
  (Tensor input, tuple of ints dim)
= ctc_loss
  (Tensor log_probs, Tensor targets, tuple of ints input_lengths, tuple of ints
    target_lengths, int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity =
    False)
  (Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths, int blank =
    0, int reduction = at::Reduction::Mean, bool zero_infinity = False)
= cumulative_trapezoid trapezoid
  (Tensor y, Tensor x, *, int dim = -1)
  (Tensor y, *, Number dx = 1, int dim = -1)
= div
  (Tensor input, Tensor other, *, Tensor out = None)
  (Tensor input, Tensor other, *, str rounding_mode, Tensor out = None)
  (Tensor input, Number other, *, str rounding_mode)
= divide
  (Tensor input, Tensor other, *, Tensor out = None)
  (Tensor input, Tensor other, *, str rounding_mode, Tensor out = None)
  (Tensor input, Number other)
  (Tensor input, Number other, *, str rounding_mode)
= dsplit hsplit vsplit
  (Tensor input, int sections)
  (Tensor input, tuple of ints indices)
= embedding_bag
  (Tensor weight, Tensor indices, Tensor offsets, bool scale_grad_by_freq, int mode, bool
    sparse, Tensor per_sample_weights, bool include_last_offset, int padding_idx)
  (Tensor weight, Tensor indices, Tensor offsets, bool scale_grad_by_freq = False, int mode =
    0, bool sparse = False, Tensor per_sample_weights = None, bool include_last_offset = False)
= eye
  (int n, *, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False)
  (int n, int m, *, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False)
= fill fill_
  (Tensor input, Tensor value)
  (Tensor input, Number value)
= float_power pow
  (Tensor input, Tensor exponent, *, Tensor out = None)
  (Number self, Tensor exponent, *, Tensor out = None)
  (Tensor input, Number exponent, *, Tensor out = None)
= floor_divide multiply true_divide
  (Tensor input, Tensor other, *, Tensor out = None)
  (Tensor input, Number other)
= gradient
  (Tensor input, *, tuple of ints dim, int edge_order = 1)
  (Tensor input, *, Number spacing, tuple of ints dim, int edge_order = 1)
  (Tensor input, *, Number spacing = None, int dim = None, int edge_order = 1)
  (Tensor input, *, tuple of Scalars spacing, int dim = None, int edge_order = 1)
  (Tensor input, *, tuple of Scalars spacing, tuple of ints dim, int edge_order = 1)
  (Tensor input, *, tuple of Tensors spacing, int dim = None, int edge_order = 1)
  (Tensor input, *, tuple of Tensors spacing, tuple of ints dim, int edge_order = 1)
= gru rnn_relu rnn_tanh
  (Tensor data, Tensor batch_sizes, Tensor hx, tuple of Tensors params, bool has_biases, int
    num_layers, float dropout, bool train, bool bidirectional)
  (Tensor input, Tensor hx, tuple of Tensors params, bool has_biases, int num_layers, float
    dropout, bool train, bool bidirectional, bool batch_first)
= hamming_window
  (int window_length, *, torch.dtype dtype = None, torch.layout layout = None, torch.device
    device = None, bool pin_memory = False, bool requires_grad = False)
  (int window_length, bool periodic, *, torch.dtype dtype = None, torch.layout layout = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False)
  (int window_length, bool periodic, float alpha, *, torch.dtype dtype = None, torch.layout
    layout = None, torch.device device = None, bool pin_memory = False, bool requires_grad =
    False)
  (int window_length, bool periodic, float alpha, float beta, *, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
= index_fill
  (Tensor input, int dim, Tensor index, Tensor value)
  (Tensor input, int dim, Tensor index, Number value)
= isin
  (Tensor elements, Tensor test_elements, *, bool assume_unique = False, bool invert = False,
    Tensor out = None)
  (Number element, Tensor test_elements, *, bool assume_unique = False, bool invert = False,
    Tensor out = None)
  (Tensor elements, Number test_element, *, bool assume_unique = False, bool invert = False,
    Tensor out = None)
= kaiser_window
  (int window_length, *, torch.dtype dtype = None, torch.layout layout = None, torch.device
    device = None, bool pin_memory = False, bool requires_grad = False)
  (int window_length, bool periodic, *, torch.dtype dtype = None, torch.layout layout = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False)
  (int window_length, bool periodic, float beta, *, torch.dtype dtype = None, torch.layout
    layout = None, torch.device device = None, bool pin_memory = False, bool requires_grad =
    False)
= lerp
  (Tensor input, Tensor end, Tensor weight, *, Tensor out = None)
  (Tensor input, Tensor end, Number weight, *, Tensor out = None)
= linspace
  (Tensor start, Tensor end, int steps, *, Tensor out = None, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
  (Number start, Tensor end, int steps, *, Tensor out = None, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
  (Tensor start, Number end, int steps, *, Tensor out = None, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
  (Number start, Number end, int steps, *, Tensor out = None, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
= logspace
  (Tensor start, Tensor end, int steps, float base = 10.0, *, Tensor out = None, torch.dtype
    dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory =
    False, bool requires_grad = False)
  (Number start, Tensor end, int steps, float base = 10.0, *, Tensor out = None, torch.dtype
    dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory =
    False, bool requires_grad = False)
  (Tensor start, Number end, int steps, float base = 10.0, *, Tensor out = None, torch.dtype
    dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory =
    False, bool requires_grad = False)
  (Number start, Number end, int steps, float base = 10.0, *, Tensor out = None, torch.dtype
    dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory =
    False, bool requires_grad = False)
= lstm
  (Tensor data, Tensor batch_sizes, tuple of Tensors hx, tuple of Tensors params, bool
    has_biases, int num_layers, float dropout, bool train, bool bidirectional)
  (Tensor input, tuple of Tensors hx, tuple of Tensors params, bool has_biases, int
    num_layers, float dropout, bool train, bool bidirectional, bool batch_first)
= masked_fill
  (Tensor input, Tensor mask, Tensor value)
  (Tensor input, Tensor mask, Number value)
= max min
  (Tensor input, *, Tensor out = None)
  (Tensor input, Tensor other, *, Tensor out = None)
  (Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None)
= mean
  (Tensor input, *, torch.dtype dtype = None, Tensor out = None)
  (Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None, Tensor
    out = None)
= median nanmedian
  (Tensor input)
  (Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None)
= moveaxis movedim
  (Tensor input, int source, int destination)
  (Tensor input, tuple of ints source, tuple of ints destination)
= nanquantile quantile
  (Tensor input, Tensor q, int dim = None, bool keepdim = False, *, str interpolation =
    "linear", Tensor out = None)
  (Tensor input, float q, int dim = None, bool keepdim = False, *, str interpolation =
    "linear", Tensor out = None)
= narrow
  (Tensor input, int dim, Tensor start, int length)
  (Tensor input, int dim, int start, int length)
= normal
  (Tensor mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)
  (Tensor mean, float std = 1, *, torch.Generator generator = None, Tensor out = None)
  (float mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)
  (float mean, float std, tuple of ints size, *, torch.Generator generator = None, Tensor out
    = None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None,
    bool pin_memory = False, bool requires_grad = False)
= nuclear_norm
  (Tensor input, tuple of ints dim, bool keepdim = False, *, Tensor out = None)
  (Tensor input, bool keepdim = False, *, Tensor out = None)
= prod
  (Tensor input, *, torch.dtype dtype = None)
  (Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, Tensor out =
    None)
= rand randn
  (tuple of ints size, *, torch.Generator generator, Tensor out = None, torch.dtype dtype =
    None, torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
  (tuple of ints size, *, Tensor out = None, torch.dtype dtype = None, torch.layout layout =
    None, torch.device device = None, bool pin_memory = False, bool requires_grad = False)
= rand_like randn_like
  (Tensor input, *, torch.Generator generator, torch.memory_format memory_format = None,
    torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool
    pin_memory = False, bool requires_grad = False)
  (Tensor input, *, torch.memory_format memory_format = None, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
= randint
  (int high, tuple of ints size, *, torch.Generator generator, Tensor out = None, torch.dtype
    dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory =
    False, bool requires_grad = False)
  (int high, tuple of ints size, *, Tensor out = None, torch.dtype dtype = None, torch.layout
    layout = None, torch.device device = None, bool pin_memory = False, bool requires_grad =
    False)
  (int low, int high, tuple of ints size, *, torch.Generator generator, Tensor out = None,
    torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool
    pin_memory = False, bool requires_grad = False)
  (int low, int high, tuple of ints size, *, Tensor out = None, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
= randint_like
  (Tensor input, int low, int high, *, torch.Generator generator, torch.memory_format
    memory_format = None, torch.dtype dtype = None, torch.layout layout = None, torch.device
    device = None, bool pin_memory = False, bool requires_grad = False)
  (Tensor input, int low, int high, *, torch.memory_format memory_format = None, torch.dtype
    dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory =
    False, bool requires_grad = False)
  (Tensor input, Tensor high, *, torch.Generator generator, torch.memory_format memory_format
    = None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None,
    bool pin_memory = False, bool requires_grad = False)
  (Tensor input, Tensor high, *, torch.memory_format memory_format = None, torch.dtype dtype =
    None, torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
  (Tensor input, int high, *, torch.Generator generator, torch.memory_format memory_format =
    None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool
    pin_memory = False, bool requires_grad = False)
  (Tensor input, int high, *, torch.memory_format memory_format = None, torch.dtype dtype =
    None, torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
= randperm
  (int n, *, torch.Generator generator, Tensor out = None, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False)
  (int n, *, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False)
= repeat_interleave
  (Tensor input, Tensor repeats, int dim = None, *, int output_size = None)
  (Tensor repeats, *, int output_size = None)
  (Tensor input, int repeats, int dim = None, *, int output_size = None)
= round
  (Tensor input, *, Tensor out = None)
  (Tensor input, *, int decimals, Tensor out = None)
= round_
  (Tensor input)
  (Tensor input, *, int decimals)
= rsub
  (Tensor input, Tensor other, *, Number alpha = 1)
  (Tensor input, Number other, Number alpha = 1)
= scatter
  (Tensor input, int dim, Tensor index, Tensor src, *, Tensor out = None)
  (Tensor input, int dim, Tensor index, Tensor src, *, str reduce, Tensor out = None)
  (Tensor input, int dim, Tensor index, Number value, *, Tensor out = None)
  (Tensor input, int dim, Tensor index, Number value, *, str reduce, Tensor out = None)
= searchsorted
  (Tensor sorted_sequence, Tensor input, *, bool out_int32 = False, bool right = False, str
    side = None, Tensor sorter = None, Tensor out = None)
  (Tensor sorted_sequence, Number self, *, bool out_int32 = False, bool right = False, str
    side = None, Tensor sorter = None, Tensor out = None)
= sort
  (Tensor input, *, bool stable, int dim = -1, bool descending = False, tuple of Tensors out =
    None)
  (Tensor input, int dim = -1, bool descending = False, *, tuple of Tensors out = None)
= sparse_coo_tensor
  (object indices, object values, *, torch.dtype dtype = None, torch.device device = None,
    bool pin_memory = False, bool requires_grad = False, bool check_invariants = None, bool
    is_coalesced = None)
  (object indices, object values, tuple of ints size, *, torch.dtype dtype = None,
    torch.device device = None, bool pin_memory = False, bool requires_grad = False, bool
    check_invariants = None, bool is_coalesced = None)
  (tuple of ints size, *, torch.dtype dtype = None, torch.device device = None, bool
    requires_grad = False, bool check_invariants = None)
= sparse_csr_tensor
  (object crow_indices, object col_indices, object values, tuple of ints size, *, torch.dtype
    dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory =
    False, bool requires_grad = False, bool check_invariants = None)
  (object crow_indices, object col_indices, object values, *, torch.dtype dtype = None,
    torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool
    requires_grad = False, bool check_invariants = None)
= squeeze
  (Tensor input)
  (Tensor input, int dim)
  (Tensor input, tuple of ints dim)
= squeeze_copy
  (Tensor input, *, Tensor out = None)
  (Tensor input, int dim, *, Tensor out = None)
  (Tensor input, tuple of ints dim, *, Tensor out = None)
= std var
  (Tensor input, tuple of ints dim, bool unbiased = True, bool keepdim = False, *, Tensor out
    = None)
  (Tensor input, tuple of ints dim = None, *, Number correction = None, bool keepdim = False,
    Tensor out = None)
  (Tensor input, bool unbiased = True)
= std_mean var_mean
  (Tensor input, tuple of ints dim, bool unbiased = True, bool keepdim = False)
  (Tensor input, tuple of ints dim = None, *, Number correction = None, bool keepdim = False)
  (Tensor input, bool unbiased = True)
= subtract
  (Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None)
  (Tensor input, Number other, Number alpha = 1)
= sum
  (Tensor input, *, torch.dtype dtype = None)
  (Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None, Tensor
    out = None)
= tensor_split
  (Tensor input, tuple of ints indices, int dim = 0)
  (Tensor input, Tensor tensor_indices_or_sections, int dim = 0)
  (Tensor input, int sections, int dim = 0)
= trapz
  (Tensor y, *, float dx = 1, int dim = -1)
  (Tensor y, Tensor x, *, int dim = -1)
= view_copy
  (Tensor input, torch.dtype dtype, *, Tensor out = None)
  (Tensor input, tuple of ints size, *, Tensor out = None)
= where
  (Tensor condition)
  (Tensor condition, Tensor input, Tensor other, *, Tensor out = None)
  (Tensor condition, Number self, Tensor other)
  (Tensor condition, Tensor input, Number other)
  (Tensor condition, Number self, Number other)
= xlogy
  (Tensor input, Tensor other, *, Tensor out = None)
  (Number self, Tensor other, *, Tensor out = None)
  (Tensor input, Number other, *, Tensor out = None)
= xlogy_
  (Tensor input, Tensor other)
  (Tensor input, Number other)
"""
