"""The import lines third-party PyTorch code starts with, run with ``torch`` and with
``minigrad``: every module torch imports and every name it finds there, minigrad must too
(``import torch.backends.cudnn as cudnn``, ``from torch.nn.modules.utils import _pair``,
``from torch.special import erf``...). Plus the behaviour of the small namespaces this round
made importable, side by side with torch."""
import argparse
import importlib
import io
import warnings

import pytest

import minigrad

torch = pytest.importorskip("torch")

# "module:name,name" -- `from module import name, name`; a bare module is `import module`
IMPORT_LINES = [
    'torch.backends.cudnn',
    'torch.backends.cuda',
    'torch.backends.mps',
    'torch.backends.mkldnn',
    'torch.backends.openmp',
    'torch.special',
    'torch.nn.modules.utils:_pair,_single,_triple,_ntuple,_quadruple',
    'torch.nn.parameter:Parameter,UninitializedParameter,Buffer',
    'torch.nn.modules.batchnorm:_BatchNorm,_NormBase,BatchNorm2d',
    'torch.nn.modules.conv:_ConvNd,Conv2d,_ConvTransposeNd',
    'torch.nn.modules.loss:_Loss,_WeightedLoss',
    'torch.nn.modules.module:Module,register_module_forward_hook',
    'torch.nn.modules.pooling:_MaxPoolNd,_AvgPoolNd',
    'torch.nn.modules.activation:MultiheadAttention',
    'torch.nn.modules.linear:Linear,Identity,NonDynamicallyQuantizableLinear',
    'torch.nn.modules.normalization:LayerNorm,GroupNorm',
    'torch.nn.modules.dropout:_DropoutNd',
    'torch.nn.modules.container:Sequential,ModuleList,ModuleDict',
    'torch.nn.modules.transformer:TransformerEncoderLayer,_get_activation_fn,_get_clones',
    'torch.nn.modules.rnn:RNNBase,LSTM',
    'torch.nn.modules.sparse:Embedding',
    'torch.nn.modules.instancenorm:_InstanceNorm',
    'torch.nn.common_types:_size_2_t,_size_any_t,_ratio_any_t',
    'torch.nn.init:trunc_normal_,kaiming_normal_,_calculate_fan_in_and_fan_out,_calculate_correct_fan',
    'torch.nn.utils:clip_grad_norm_,parameters_to_vector,vector_to_parameters,weight_norm,spectral_norm,remove_weight_norm,clip_grad_value_,skip_init',
    'torch.nn.utils.rnn:pad_sequence,pack_padded_sequence,pad_packed_sequence,PackedSequence,pack_sequence,unpad_sequence,unpack_sequence',
    'torch.nn.utils.parametrizations:weight_norm,spectral_norm,orthogonal',
    'torch.nn.utils.parametrize:register_parametrization,cached,remove_parametrizations,is_parametrized',
    'torch.nn.utils.prune:l1_unstructured,random_unstructured,remove,global_unstructured,L1Unstructured',
    'torch.nn.utils.stateless:functional_call',
    'torch.nn.utils.fusion:fuse_conv_bn_eval',
    'torch.nn.utils.weight_norm:WeightNorm',
    'torch.nn.utils.spectral_norm:SpectralNorm',
    'torch.nn.utils.clip_grad:clip_grad_norm_',
    'torch.nn.utils.convert_parameters:parameters_to_vector',
    'torch.nn.functional:scaled_dot_product_attention,grid_sample,interpolate,gumbel_softmax,multi_head_attention_forward',
    'torch.nn.attention:SDPBackend,sdpa_kernel',
    'torch.nn.parallel:DistributedDataParallel,DataParallel',
    'torch.nn.parallel.distributed:DistributedDataParallel',
    'torch.utils.data:Dataset,DataLoader,random_split,Subset,TensorDataset,ConcatDataset,IterableDataset,Sampler,get_worker_info,default_collate,WeightedRandomSampler,BatchSampler,SequentialSampler,RandomSampler,SubsetRandomSampler,ChainDataset,StackDataset,DistributedSampler',
    'torch.utils.data.sampler:Sampler,SubsetRandomSampler,WeightedRandomSampler,BatchSampler',
    'torch.utils.data.dataloader:default_collate,DataLoader',
    'torch.utils.data.dataset:Dataset,TensorDataset,random_split,Subset',
    'torch.utils.data.distributed:DistributedSampler',
    'torch.utils.data._utils.collate:default_collate,default_convert',
    'torch.utils.checkpoint:checkpoint,checkpoint_sequential',
    'torch.utils.hooks:RemovableHandle',
    'torch.optim:Optimizer,SGD,Adam,AdamW,RMSprop,Adagrad,LBFGS,Adadelta,Adamax,NAdam,RAdam,ASGD,Rprop,SparseAdam',
    'torch.optim.optimizer:Optimizer,required',
    'torch.optim.lr_scheduler:_LRScheduler,LRScheduler,LambdaLR,StepLR,MultiStepLR,CosineAnnealingLR,ReduceLROnPlateau,OneCycleLR,CosineAnnealingWarmRestarts,CyclicLR,LinearLR,SequentialLR,ExponentialLR,PolynomialLR,ConstantLR,ChainedScheduler,MultiplicativeLR',
    'torch.optim.swa_utils:AveragedModel,SWALR,update_bn,get_ema_multi_avg_fn',
    'torch.optim.adam:Adam',
    'torch.optim.sgd:SGD',
    'torch.autograd:Variable,Function,grad,gradcheck,gradgradcheck,backward',
    'torch.autograd.function:Function,once_differentiable,FunctionCtx',
    'torch.autograd.functional:jacobian,hessian,vjp,jvp,hvp,vhp',
    'torch.autograd.forward_ad:dual_level,make_dual,unpack_dual',
    'torch.autograd.graph:saved_tensors_hooks,save_on_cpu,Node',
    'torch.autograd.variable:Variable',
    'torch.autograd.gradcheck:gradcheck',
    'torch.autograd.profiler:record_function,profile',
    'torch.amp:autocast,GradScaler',
    'torch.cuda.amp:autocast,GradScaler',
    'torch.cpu.amp:autocast',
    'torch.distributions:Normal,Categorical,Bernoulli,Uniform,MultivariateNormal,kl_divergence,Independent,Beta,Gamma,Dirichlet,OneHotCategorical,TransformedDistribution,Distribution,constraints,transforms,RelaxedOneHotCategorical,Laplace,LogNormal,Poisson,Binomial,Exponential,Cauchy,StudentT,MixtureSameFamily,LowRankMultivariateNormal,Geometric,NegativeBinomial,Multinomial,VonMises,Weibull,Gumbel,HalfNormal,Chi2,ContinuousBernoulli,RelaxedBernoulli,Kumaraswamy,LKJCholesky,Wishart,Pareto,FisherSnedecor,HalfCauchy,LogisticNormal',
    'torch.distributions.normal:Normal',
    'torch.distributions.categorical:Categorical',
    'torch.distributions.kl:kl_divergence,register_kl',
    'torch.distributions.utils:logits_to_probs,probs_to_logits,broadcast_all,lazy_property',
    'torch.distributions.constraints:Constraint,positive,real',
    'torch.distributions.transforms:Transform,TanhTransform,AffineTransform,SigmoidTransform,ExpTransform,ComposeTransform',
    'torch.distributions.distribution:Distribution',
    'torch.distributions.multivariate_normal:MultivariateNormal',
    'torch.fft:fft,rfft,irfft,fftn,fftshift,fft2,rfft2',
    'torch.linalg:norm,solve,inv,qr,svd,eigh,cholesky,det,slogdet,lstsq,matrix_norm,vector_norm,pinv,matrix_rank,eig,eigvals,cross,multi_dot,matrix_exp',
    'torch.testing:assert_close,make_tensor',
    'torch.types:Number,Device,_dtype',
    'torch.random:manual_seed,fork_rng,get_rng_state,set_rng_state',
    'torch.serialization:add_safe_globals,safe_globals',
    'torch.jit:script,trace,ignore,unused,export,Final,is_scripting,is_tracing',
    'torch.func:vmap,grad,jacrev,jacfwd,functional_call,hessian,vjp,jvp,stack_module_state,grad_and_value',
    'torch.multiprocessing:Process,Queue,set_start_method,spawn,get_context',
    'torch.distributed:init_process_group,all_reduce,get_rank,get_world_size,barrier,is_initialized,destroy_process_group,ReduceOp',
    'torch.profiler:profile,record_function,ProfilerActivity,schedule,tensorboard_trace_handler',
    'torch.compiler:disable,is_compiling',
    'torch:Tensor,nn,optim,inf,nan,Size,dtype,device,Generator,no_grad,enable_grad,inference_mode',
    'torch:set_grad_enabled,is_tensor,from_numpy,manual_seed,einsum,cdist,bucketize,searchsorted,tensordot,tril_indices,triu_indices,cartesian_prod',
    'torch:combinations,block_diag,vander,kron,rot90,atleast_2d,diff,histc,histogram,bincount,unique_consecutive,isin',
    'torch:nan_to_num,cfloat,LongTensor,FloatTensor,BoolTensor,ByteTensor,IntTensor,DoubleTensor,HalfTensor,set_default_dtype,get_default_dtype,set_default_device',
    'torch:set_printoptions,use_deterministic_algorithms,are_deterministic_algorithms_enabled,compile,cond,vmap,autocast,sym_int,typename,is_grad_enabled,is_inference_mode_enabled,finfo',
    'torch:iinfo,result_type,can_cast,promote_types,broadcast_shapes,set_float32_matmul_precision,get_float32_matmul_precision,ones_like,logcumsumexp,stft,istft,hann_window',
    'torch:frombuffer,asarray,as_tensor,from_dlpack,chain_matmul,lu,lu_unpack,pca_lowrank,svd_lowrank,cov,corrcoef,nanmean',
    'torch:nanmedian,quantile,nanquantile,aminmax,cummax,msort,argsort,topk,kthvalue,mode,renorm,lerp',
    'torch:logaddexp,hypot,heaviside,polar,complex,view_as_real,view_as_complex,fmod,remainder,frexp,ldexp,copysign',
    'torch:nextafter,trapezoid,cumulative_trapezoid,gcd,lcm,bitwise_left_shift,diag_embed,diagflat,tril,triu,take_along_dim,index_select',
    'torch:masked_select,scatter_reduce,index_reduce,unravel_index,get_num_threads,set_num_threads,get_num_interop_threads,set_num_interop_threads,save,load,is_floating_point,is_complex',
    'torch:numel,clamp,clip,sym_float,UntypedStorage,TypedStorage',
    'torch.overrides:has_torch_function,has_torch_function_unary,has_torch_function_variadic,handle_torch_function,is_tensor_like,get_ignored_functions,get_overridable_functions,wrap_torch_function,resolve_name',
    'torch.utils.dlpack:from_dlpack,to_dlpack,DLDeviceType',
    'torch.storage:TypedStorage,UntypedStorage',
    'torch.utils.benchmark:Timer,Measurement,Compare,TaskSpec,Language,Colorize,select_unit,trim_sigfig,unit_to_english,ordered_unique,set_torch_threads,timer',
    'torch._dynamo:config,reset,disable,is_compiling,optimize,run,mark_dynamic,mark_static,maybe_mark_dynamic,mark_static_address,graph_break,allow_in_graph,assume_constant_result,substitute_in_graph,set_stance,OptimizedModule',
    'torch._dynamo.config',
    'torch.library:custom_op,CustomOpDef,register_autograd,register_fake,register_kernel,infer_schema',
    'torch.utils.flop_counter:FlopCounterMode',
]


def _import(module, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(module.replace("torch", lib, 1))


@pytest.mark.parametrize("line", IMPORT_LINES)
def test_import_line(line):
    module, _, names = line.partition(":")
    names = [n for n in names.split(",") if n]
    reference = _import(module, "torch")
    ours = _import(module, "minigrad")
    assert ours.__name__ == module.replace("torch", "minigrad", 1)
    missing = [n for n in names if hasattr(reference, n) and not hasattr(ours, n)]
    assert not missing, f"{module} lacks {missing}"


@pytest.mark.parametrize("name", ["cudnn", "cuda", "mps", "mkldnn", "openmp", "mkl", "mha"])
def test_backend_namespaces_are_modules(name):
    module = importlib.import_module(f"minigrad.backends.{name}")
    assert module is getattr(minigrad.backends, name)
    assert module.__name__ == f"minigrad.backends.{name}"


def _flag_states(lib):
    cudnn, mkldnn = lib.backends.cudnn, lib.backends.mkldnn
    seen = []
    before = (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32)
    with cudnn.flags(enabled=False, benchmark=True, deterministic=True):
        seen.append((cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32))
        with cudnn.flags():                          # the defaults, inside
            seen.append((cudnn.enabled, cudnn.benchmark, cudnn.deterministic))
        seen.append((cudnn.enabled, cudnn.benchmark, cudnn.deterministic))
    seen.append((cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == before)
    try:
        with cudnn.flags(benchmark=True):
            raise KeyError("out")
    except KeyError:
        pass
    seen.append(cudnn.benchmark == before[1])
    with mkldnn.flags(enabled=False, deterministic=True):
        seen.append((mkldnn.enabled, mkldnn.deterministic))
    with lib.backends.mkl.verbose(lib.backends.mkl.VERBOSE_ON):
        seen.append(lib.backends.mkl.VERBOSE_OFF)
    seen.append(cudnn.is_acceptable(lib.zeros(2)))
    seen.append(cudnn.version())
    return seen


def test_backend_flags_scope_as_torch():
    assert _flag_states(minigrad) == _flag_states(torch)


def test_safe_globals_bookkeeping_as_torch():
    ours, theirs = minigrad.serialization, torch.serialization
    saved = theirs.get_safe_globals()
    try:
        for s in (ours, theirs):
            s.clear_safe_globals()
            s.add_safe_globals([argparse.Namespace, (dict, "my.Dict")])
            s.add_safe_globals([argparse.Namespace])                # no duplicate
        assert ours.get_safe_globals() == [argparse.Namespace, (dict, "my.Dict")]
        assert set(map(repr, ours.get_safe_globals())) == set(map(repr, theirs.get_safe_globals()))
        with ours.safe_globals([list]):
            assert list in ours.get_safe_globals()
        assert list not in ours.get_safe_globals()
        for s in (ours, theirs):
            with pytest.raises(TypeError, match="not iterable"):
                s.add_safe_globals(5)
            s.clear_safe_globals()
        assert ours.get_safe_globals() == theirs.get_safe_globals() == []
    finally:
        ours.clear_safe_globals()
        theirs.clear_safe_globals()
        theirs.add_safe_globals(saved)


def test_unsafe_globals_of_a_checkpoint():
    buf = io.BytesIO()
    minigrad.save({"w": minigrad.ones(2), "step": 3}, buf)
    buf.seek(0)
    assert minigrad.serialization.get_unsafe_globals_in_checkpoint(buf) == []
    with pytest.raises(ValueError, match="not a safetensors file"):
        minigrad.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(b"PK\x03\x04" + b"0" * 20))


def test_transformer_helpers_as_torch():
    from minigrad.nn.modules import transformer as ours
    from torch.nn.modules import transformer as theirs
    for lib, mod in ((minigrad, ours), (torch, theirs)):
        layer = lib.nn.Linear(3, 2)
        clones = mod._get_clones(layer, 3)
        assert isinstance(clones, lib.nn.ModuleList) and len(clones) == 3
        assert all(c is not layer for c in clones)
        assert clones[0].weight is not clones[1].weight
        assert lib.equal(clones[2].weight, layer.weight)
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
            mod._get_activation_fn("tanh")
    x = [-1.0, 0.5, 2.0]
    for name in ("relu", "gelu"):
        got = ours._get_activation_fn(name)(minigrad.tensor(x))
        want = theirs._get_activation_fn(name)(torch.tensor(x))
        assert got.tolist() == pytest.approx(want.tolist(), rel=1e-6)
