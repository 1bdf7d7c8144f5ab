"""minigrad.utils.tensorboard.SummaryWriter beside torch.utils.tensorboard.SummaryWriter: the
same calls write into two directories, tensorboard's own readers (EventAccumulator, its
CRC-checking record reader, its protobuf classes) read both back, and the tags, steps,
values, histogram buckets, decoded image pixels, text and hparams plugin data must agree."""
import io
import os
import re
import socket
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import minigrad
from minigrad.utils.tensorboard import RecordWriter, SummaryWriter
from minigrad.utils.tensorboard._crc32c import crc32c, masked_crc32c

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")
from PIL import Image  # noqa: E402  (tensorboard's image plugin needs PIL as well)
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.compat.proto.event_pb2 import Event  # noqa: E402
from tensorboard.compat.tensorflow_stub import errors  # noqa: E402
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData  # noqa: E402
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import (  # noqa: E402
    PyRecordReader_New, masked_crc32c as tb_masked_crc32c)
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

WALL = 1_700_000_000.25


def _both(tmp_path, calls, **kwargs):
    """Run ``calls(writer, lib)`` with torch's writer and with minigrad's; their log dirs."""
    dirs = []
    for name, cls, lib in (("torch", TorchWriter, torch), ("minigrad", SummaryWriter, minigrad)):
        d = str(tmp_path / name)
        with cls(d, **kwargs) as w:
            calls(w, lib)
        dirs.append(d)
    return dirs


def _accumulator(d):
    ea = EventAccumulator(d, size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                            "tensors": 0})
    ea.Reload()
    return ea


def _event_files(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if "tfevents" in f)


def _records(path):
    """The record payloads of one file, read by tensorboard's reader (it checks the CRCs)."""
    reader, out = PyRecordReader_New(path), []
    try:
        while True:
            try:
                reader.GetNext()
            except errors.OutOfRangeError:
                return out
            out.append(reader.record())
    finally:
        reader.file_handle.close()


def _events(d):
    return [Event.FromString(r) for f in _event_files(d) for r in _records(f)]


# ---- record framing and CRC-32C

def test_crc32c_check_value_and_mask_match_tensorboard():
    assert crc32c(b"123456789") == 0xE3069283            # the CRC-32C catalogue check value
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 64, 1000):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert masked_crc32c(data) == tb_masked_crc32c(data)


def test_records_validate_and_a_flipped_byte_is_caught(tmp_path):
    path = str(tmp_path / "records")
    with open(path, "wb") as f:
        rw = RecordWriter(f)
        for payload in (b"", b"abc", bytes(range(256)) * 3):
            rw.write(payload)
    assert _records(path) == [b"", b"abc", bytes(range(256)) * 3]
    raw = bytearray((tmp_path / "records").read_bytes())
    raw[len(raw) - 20] ^= 0x01                            # inside the last payload
    (tmp_path / "records").write_bytes(bytes(raw))
    with pytest.raises(errors.DataLossError, match="failed event crc32 check"):
        _records(path)
    raw[len(raw) - 20] ^= 0x01
    raw[0] ^= 0x01                                        # the first length
    (tmp_path / "records").write_bytes(bytes(raw))
    with pytest.raises(errors.DataLossError, match="failed header crc32 check"):
        _records(path)


# ---- scalars

def test_scalars_as_numbers_numpy_and_tensors(tmp_path):
    def calls(w, lib):
        w.add_scalar("loss", 2.5, 0)
        w.add_scalar("loss", lib.tensor(1.25), 1)
        w.add_scalar("loss", lib.tensor([0.75]), 2)
        w.add_scalar("loss", np.float32(0.5), 3)
        w.add_scalar("acc", np.array([[0.9]]), global_step=7, walltime=WALL)
        w.add_scalar("int", 3, 10)
        w.add_scalar("big", 1e300, 11)                    # beyond float32: inf in both
        w.add_scalar("neg_step", -1.0, -5)
        w.add_scalar("bf16", lib.tensor(1.3, dtype=lib.bfloat16), lib.tensor(12))   # via half
    t, m = map(_accumulator, _both(tmp_path, calls))
    assert t.Tags()["scalars"] == m.Tags()["scalars"]
    for tag in t.Tags()["scalars"]:
        te, me = t.Scalars(tag), m.Scalars(tag)
        assert [(e.step, e.value) for e in te] == [(e.step, e.value) for e in me]
    assert m.Scalars("acc")[0].wall_time == WALL


def test_event_payloads_are_byte_identical_to_torchs(tmp_path):
    vals = np.random.default_rng(1).normal(size=500)

    def calls(w, lib):
        w.add_scalar("s", 0.1, 3, walltime=WALL)
        w.add_scalar("zero", 0.0, 0, walltime=WALL)
        w.add_scalar("new", 0.3, 4, walltime=WALL, new_style=True)
        w.add_scalar("new64", 0.3, 5, walltime=WALL, new_style=True, double_precision=True)
        w.add_histogram("h", vals, 1, walltime=WALL)
        w.add_histogram("h10", vals, 2, bins=10, walltime=WALL)
        w.add_histogram("hmax", vals, 2, bins=50, max_bins=7, walltime=WALL)
        w.add_histogram("hauto", lib.tensor(vals), 2, bins="auto", walltime=WALL)
        w.add_histogram_raw("raw", 0.0, 4.0, 3, 6.0, 14.0, [1.0, 2.0, 5.0], [0, 1, 2],
                            global_step=9, walltime=WALL)
        w.add_text("note", "**bold** and ünïcode", 6, walltime=WALL)
    t, m = _both(tmp_path, calls)
    (tf,), (mf,) = _event_files(t), _event_files(m)
    # the first record is the file_version event, stamped with the time of opening
    assert _records(tf)[1:] == _records(mf)[1:]
    first = Event.FromString(_records(mf)[0])
    assert first.file_version == "brain.Event:2"


# ---- histograms

def test_histograms_buckets_as_torch_computes_them(tmp_path):
    rng = np.random.default_rng(2)
    data = {"normal": rng.normal(size=1000), "ints": rng.integers(-3, 4, 50),
            "const": np.full(10, 2.0), "one": np.array([0.0]),
            "f32": rng.normal(size=(4, 5)).astype(np.float32)}

    def calls(w, lib):
        for i, (tag, v) in enumerate(data.items()):
            w.add_histogram(tag, v, i)
            w.add_histogram(tag + "_t", lib.tensor(v), i, bins=16, max_bins=5)
    t, m = map(_accumulator, _both(tmp_path, calls))
    assert sorted(t.Tags()["histograms"]) == sorted(m.Tags()["histograms"])
    for tag in t.Tags()["histograms"]:
        (th,), (mh,) = t.Histograms(tag), m.Histograms(tag)
        assert th.step == mh.step
        assert th.histogram_value == mh.histogram_value


def test_histogram_errors_match(tmp_path):
    for cls in (TorchWriter, SummaryWriter):
        with cls(str(tmp_path / cls.__module__)) as w:
            with pytest.raises(ValueError, match="The input has no element."):
                w.add_histogram("e", np.array([]))
            with pytest.raises(ValueError, match="The histogram is empty"):
                w.add_histogram("far", np.array([1e30]))
            with pytest.raises(ValueError, match=r"len\(bucket_limits\) != len"):
                w.add_histogram_raw("r", 0, 1, 1, 1, 1, [1.0], [1, 2])


# ---- images

def _pixels(ea, tag):
    return [(e.step, e.width, e.height,
             np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGBA")))
            for e in ea.Images(tag)]


def test_images_decode_to_the_same_pixels(tmp_path):
    rng = np.random.default_rng(3)
    chw = rng.random((3, 6, 5)).astype(np.float32)
    hwc8 = rng.integers(0, 256, (4, 7, 3), dtype=np.uint8)
    rgba = rng.random((4, 3, 3)) * 1.4 - 0.2              # out of [0, 1]: clipped
    gray = rng.random((5, 4))
    batch = rng.random((10, 1, 3, 4)).astype(np.float32)   # two rows of the grid
    nhwc = rng.integers(0, 256, (3, 4, 2, 3), dtype=np.uint8)

    def calls(w, lib):
        w.add_image("chw", chw, 0)
        w.add_image("chw_t", lib.tensor(chw), 1)
        w.add_image("hwc8", hwc8, 2, dataformats="HWC")
        w.add_image("rgba", rgba, 3, dataformats="HWC")
        w.add_image("gray", gray, 4, dataformats="HW")
        w.add_image("gray1", gray[None], 4, dataformats="CHW")
        w.add_images("batch", batch, 5)
        w.add_images("nhwc", lib.tensor(nhwc), 6, dataformats="NHWC")
    t, m = map(_accumulator, _both(tmp_path, calls))
    assert sorted(t.Tags()["images"]) == sorted(m.Tags()["images"])
    for tag in t.Tags()["images"]:
        tp, mp = _pixels(t, tag), _pixels(m, tag)
        assert [p[:3] for p in tp] == [p[:3] for p in mp]
        for a, b in zip(tp, mp):
            np.testing.assert_array_equal(a[3], b[3])


def test_image_format_errors_match(tmp_path):
    msgs = []
    for cls in (TorchWriter, SummaryWriter):
        with cls(str(tmp_path / cls.__module__)) as w:
            with pytest.raises(AssertionError, match="same dimension shorthand twice") as e1:
                w.add_image("x", np.zeros((3, 4, 4)), dataformats="CHH")
            with pytest.raises(AssertionError, match="input format are different") as e2:
                w.add_image("x", np.zeros((4, 4)))
            with pytest.raises(AssertionError, match="4D numpy array with 3 channels"):
                w.add_images("x", np.zeros((2, 2, 4, 4)))
            with pytest.raises(NotImplementedError) as e3:
                w.add_image("x", [[0.0]])
        msgs.append([" ".join(str(e.value).split()) for e in (e1, e2, e3)])
    assert msgs[0] == msgs[1]


def test_add_figure_matches_torch(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def figure():
        fig = plt.figure(figsize=(2, 1.5), dpi=40)
        plt.plot([0, 1, 2], [2, 0, 1])
        return fig

    def calls(w, lib):
        w.add_figure("fig", figure(), 0)
        w.add_figure("figs", [figure(), figure()], 1)
    t, m = map(_accumulator, _both(tmp_path, calls))
    for tag in ("fig", "figs"):
        (tp,), (mp,) = _pixels(t, tag), _pixels(m, tag)
        assert tp[:3] == mp[:3]
        np.testing.assert_array_equal(tp[3], mp[3])


# ---- text, add_scalars, hparams

def test_text_reaches_the_text_plugin(tmp_path):
    def calls(w, lib):
        w.add_text("notes", "first", 0)
        w.add_text("notes", "zweite Zeile\n| a | b |", 1)
    t, m = map(_accumulator, _both(tmp_path, calls))
    assert t.Tags()["tensors"] == m.Tags()["tensors"] == ["notes/text_summary"]
    te, me = t.Tensors("notes/text_summary"), m.Tensors("notes/text_summary")
    assert [(e.step, e.tensor_proto) for e in te] == [(e.step, e.tensor_proto) for e in me]
    assert (t.SummaryMetadata("notes/text_summary")
            == m.SummaryMetadata("notes/text_summary"))


def test_add_scalars_writes_one_run_per_key(tmp_path):
    def calls(w, lib):
        for step in range(3):
            w.add_scalars("loss/all", {"train": 1.0 / (step + 1), "val": lib.tensor(step)}, step)
    t, m = _both(tmp_path, calls)
    subdirs = sorted(d for d in os.listdir(t) if os.path.isdir(os.path.join(t, d)))
    assert subdirs == ["loss_all_train", "loss_all_val"]
    assert sorted(d for d in os.listdir(m) if os.path.isdir(os.path.join(m, d))) == subdirs
    for sub in subdirs:
        te, me = (_accumulator(os.path.join(d, sub)).Scalars("loss/all") for d in (t, m))
        assert [(e.step, e.value) for e in te] == [(e.step, e.value) for e in me]


def test_add_hparams_writes_the_same_plugin_data(tmp_path):
    hp = {"lr": 0.01, "layers": 3, "opt": "adam", "bn": True, "skip": None,
          "wd": minigrad.tensor(0.5)}
    domain = {"opt": ["adam", "sgd"], "layers": [2, 3, 4]}

    def calls(w, lib):
        hp_lib = dict(hp, wd=lib.tensor([0.5]))
        w.add_hparams(hp_lib, {"hp/acc": 0.9, "hp/loss": 0.1}, hparam_domain_discrete=domain,
                      run_name="trial", global_step=4)
    t, m = _both(tmp_path, calls)
    te, me = _events(os.path.join(t, "trial")), _events(os.path.join(m, "trial"))
    assert len(te) == len(me) == 6
    for a, b in zip(te[1:], me[1:]):
        assert a.step == b.step
        assert [v.tag for v in a.summary.value] == [v.tag for v in b.summary.value]
        for va, vb in zip(a.summary.value, b.summary.value):
            # the plugin content parsed: equal messages, whatever order the map was written in
            ca, cb = (HParamsPluginData.FromString(v.metadata.plugin_data.content)
                      for v in (va, vb))
            assert ca == cb
            va.metadata.plugin_data.content = vb.metadata.plugin_data.content = b""
            assert va == vb
    with pytest.raises(TypeError, match="hparam_dict and metric_dict should be dictionary."):
        SummaryWriter(str(tmp_path / "x")).add_hparams([], {})
    for cls in (TorchWriter, SummaryWriter):
        with cls(str(tmp_path / "errors")) as w:
            with pytest.raises(ValueError, match="value should be one of int, float, str"):
                w.add_hparams({"a": [1]}, {})
            with pytest.raises(TypeError, match=r"hparam_domain_discrete\[a\] should be"):
                w.add_hparams({"a": 1}, {}, hparam_domain_discrete={"a": ["x"]})


# ---- writer behaviour

def test_file_names_default_log_dir_and_purge_step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1", filename_suffix=".mg")
    tw = TorchWriter(comment="_lr0.1", filename_suffix=".mg")
    w.close()
    tw.close()
    pattern = r"runs/[A-Z][a-z]{2}\d\d_\d\d-\d\d-\d\d_" + re.escape(socket.gethostname()
                                                                    + "_lr0.1")
    assert re.fullmatch(pattern, tw.get_logdir().replace(os.sep, "/"))
    assert re.fullmatch(pattern, w.get_logdir().replace(os.sep, "/"))
    names = os.listdir(w.get_logdir()) + os.listdir(tw.get_logdir())   # maybe one dir
    assert names and all(re.fullmatch(r"events\.out\.tfevents\.\d{10}\.%s\.%d\.\d+\.mg"
                                      % (re.escape(socket.gethostname()), os.getpid()), n)
                         for n in names)

    def calls(w, lib):
        w.add_scalar("x", 1.0, 12)
    t, m = _both(tmp_path, calls, purge_step=10)
    te, me = _events(t), _events(m)
    strip = [(e.step, e.file_version, e.session_log.status, e.summary) for e in te[1:]]
    assert strip == [(e.step, e.file_version, e.session_log.status, e.summary) for e in me[1:]]


def test_flush_close_and_reopen(tmp_path):
    d = str(tmp_path / "run")
    w = SummaryWriter(d, max_queue=1000, flush_secs=1000)
    w.add_scalar("x", 1.0, 0)
    assert len(_events(d)) == 1                           # still waiting in the queue
    w.flush()
    assert [e.step for e in _events(d)] == [0, 0]
    w.close()
    w.close()                                             # a second close does nothing
    w.add_scalar("x", 2.0, 1)                             # opens a second event file
    w.flush()
    assert len(_event_files(d)) == 2
    w.close()
    ea = _accumulator(d)
    assert [(e.step, e.value) for e in ea.Scalars("x")] == [(0, 1.0), (1, 2.0)]
    w = SummaryWriter(str(tmp_path / "q"), max_queue=2, flush_secs=1000)
    w.add_scalar("y", 1.0, 0)
    w.add_scalar("y", 2.0, 1)                             # the queue is full: written
    assert [e.step for e in _events(str(tmp_path / "q"))][-2:] == [0, 1]
    w.close()


def test_scalar_shape_error_and_add_graph(tmp_path):
    for cls, lib in ((TorchWriter, torch), (SummaryWriter, minigrad)):
        with cls(str(tmp_path / cls.__module__)) as w:
            with pytest.raises(AssertionError, match="Tensor should contain one element"):
                w.add_scalar("x", lib.ones(2))
    with SummaryWriter(str(tmp_path / "g")) as w:
        with pytest.raises(NotImplementedError, match="torch.jit.trace"):
            w.add_graph(minigrad.nn.Linear(2, 2), minigrad.ones(1, 2))


def test_record_header_layout(tmp_path):
    d = str(tmp_path / "raw")
    with SummaryWriter(d) as w:
        w.add_scalar("x", 1.0)
    with open(_event_files(d)[0], "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    assert struct.unpack("<I", raw[8:12])[0] == tb_masked_crc32c(raw[:8])
    payload = raw[12:12 + length]
    assert struct.unpack("<I", raw[12 + length:16 + length])[0] == tb_masked_crc32c(payload)
    assert Event.FromString(payload).file_version == "brain.Event:2"


def test_records_reach_the_file_every_flush_secs_and_at_exit(tmp_path):
    d = str(tmp_path / "timer")
    w = SummaryWriter(d, max_queue=1000, flush_secs=0.05)
    w.add_scalar("x", 1.0, 3)
    for _ in range(200):                                  # the flushing thread, not flush()
        if len(_events(d)) == 2:
            break
        time.sleep(0.01)
    assert [e.step for e in _events(d)] == [0, 3]
    w.close()
    d = str(tmp_path / "exit")
    code = ("from minigrad.utils.tensorboard import SummaryWriter\n"
            f"w = SummaryWriter({d!r}, max_queue=1000, flush_secs=1000)\n"
            "w.add_scalar('x', 5.0, 1)\n")                 # never flushed nor closed
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert [(e.step, e.summary.value[0].simple_value) for e in _events(d)[1:]] == [(1, 5.0)]
