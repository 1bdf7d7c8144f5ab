"""The three summaries of TensorBoard's hparams plugin, as ``add_hparams`` writes them.

Each is a Summary value with a tag and only metadata: plugin "hparams", content an
``HParamsPluginData`` (version 1, experiment 2 | session_start_info 3 | session_end_info 4).
Experiment: hparam_infos 4 = HParamInfo(name 1, type 4, domain_discrete 5 = ListValue),
metric_infos 5 = MetricInfo(name 1 = MetricName(tag 2)). SessionStartInfo.hparams 1 is a
map<string, google.protobuf.Value> (entries: key 1, value 2; Value: number_value 2,
string_value 3, bool_value 4). SessionEndInfo: status 1.
"""
from ...tensor import Tensor
from . import _proto as pb
from ._summary import plugin_metadata, summary, to_numpy, value

EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_INFO_TAG = "_hparams_/session_start_info"
SESSION_END_INFO_TAG = "_hparams_/session_end_info"
DATA_TYPE_STRING, DATA_TYPE_BOOL, DATA_TYPE_FLOAT64 = 1, 2, 3
STATUS_SUCCESS = 1


def _struct_value(x, kind):
    if kind == DATA_TYPE_FLOAT64:
        return pb.double(2, x)
    if kind == DATA_TYPE_STRING:
        return pb.string(3, x)
    return pb.varint(4, bool(x))


def _hparam_info(name, kind, domain=None):
    out = pb.opt_string(1, name) + pb.varint(4, kind)
    if domain is not None:
        listed = b"".join(pb.length_delimited(1, _struct_value(d, kind)) for d in domain)
        out += pb.length_delimited(5, listed)
    return out


def _plugin_summary(tag, field, message):
    content = pb.length_delimited(field, message)          # version 0 is not written
    return summary(value(tag, metadata=plugin_metadata("hparams", content)))


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """(experiment, session_start_info, session_end_info) Summary bytes."""
    if not isinstance(hparam_dict, dict):
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    hparam_domain_discrete = hparam_domain_discrete or {}
    if not isinstance(hparam_domain_discrete, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing "
                        "logged.")
    for k, v in hparam_domain_discrete.items():
        if (k not in hparam_dict or not isinstance(v, list)
                or not all(isinstance(d, type(hparam_dict[k])) for d in v)):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of "
                            f"same type as hparam_dict[{k}].")
    infos, entries = [], []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        domain = hparam_domain_discrete.get(k)
        # bool is an int: PyTorch checks numbers first, so True is logged as the number 1.0
        if isinstance(v, (int, float)):
            kind, v = DATA_TYPE_FLOAT64, float(v)
        elif isinstance(v, str):
            kind = DATA_TYPE_STRING
        elif isinstance(v, Tensor):
            kind, v, domain = DATA_TYPE_FLOAT64, float(to_numpy(v).reshape(-1)[0]), None
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        entries.append(pb.length_delimited(1, pb.string(1, k) + pb.length_delimited(
            2, _struct_value(v, kind))))
        infos.append(pb.length_delimited(4, _hparam_info(k, kind, domain)))
    metrics = b"".join(pb.length_delimited(5, pb.length_delimited(1, pb.opt_string(2, k)))
                       for k in metric_dict)
    exp = _plugin_summary(EXPERIMENT_TAG, 2, b"".join(infos) + metrics)
    ssi = _plugin_summary(SESSION_START_INFO_TAG, 3, b"".join(entries))
    sei = _plugin_summary(SESSION_END_INFO_TAG, 4, pb.varint(1, STATUS_SUCCESS))
    return exp, ssi, sei
