"""``SummaryWriter``: TensorBoard event files written by minigrad itself (no tensorboard or
protobuf package at run time).

An event file is a sequence of TFRecords (see ``_crc32c``), each an ``Event`` message:
wall_time 1 (double), step 2 (int64), file_version 3, summary 5, session_log 7
(SessionLog: status 1, START = 1), source_metadata 10 (SourceMetadata: writer 1).
The first event names the format, ``brain.Event:2``.

Records are buffered and reach the file when ``max_queue`` of them are waiting, every
``flush_secs`` seconds (a daemon thread per file), on ``flush()`` and on ``close()``.
"""
import atexit
import itertools
import os
import socket
import threading
import time
import weakref
from datetime import datetime

import numpy as np

from . import _proto as pb
from ._crc32c import frame
from ._hparams import hparams
from ._summary import default_bins, histogram, histogram_raw, image, scalar, text

__all__ = ["SummaryWriter"]

_file_ids = itertools.count()          # the last part of every event file's name
_open_files = weakref.WeakSet()        # flushed at interpreter exit, so no record is lost
_SESSION_START = 1


def _event(wall_time, step=None, summary=None, file_version=None, session_log=None,
           source=None):
    out = pb.opt_double(1, wall_time)
    if step is not None:
        out += pb.opt_varint(2, int(step))
    if file_version is not None:
        out += pb.string(3, file_version)
    if summary is not None:
        out += pb.length_delimited(5, summary)
    if session_log is not None:
        out += pb.length_delimited(7, pb.opt_varint(1, session_log))
    if source is not None:
        out += pb.length_delimited(10, pb.opt_string(1, source))
    return out


class _EventFileWriter:
    """One event file in ``log_dir``; ``add_summary`` takes serialized Summary bytes."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self._log_dir = str(log_dir)
        os.makedirs(self._log_dir, exist_ok=True)
        name = "events.out.tfevents.%010d.%s.%s.%s" % (time.time(), socket.gethostname(),
                                                       os.getpid(), next(_file_ids))
        self.path = os.path.join(self._log_dir, name) + filename_suffix
        self._file = open(self.path, "wb")
        self._max_queue = max_queue
        self._pending = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._add(_event(time.time(), file_version="brain.Event:2",
                         source="minigrad.utils.tensorboard"))
        self.flush()
        self._thread = threading.Thread(target=self._flush_every, args=(flush_secs,),
                                        name="minigrad-tensorboard-flush", daemon=True)
        self._thread.start()
        _open_files.add(self)

    def get_logdir(self):
        return self._log_dir

    def _flush_every(self, seconds):
        while not self._stop.wait(seconds):
            self.flush()

    def _add(self, event_bytes):
        with self._lock:
            if self._file.closed:
                raise ValueError("I/O operation on closed event file " + self.path)
            self._pending.append(frame(event_bytes))
            if len(self._pending) >= self._max_queue:
                self._write_pending()

    def _write_pending(self):
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
        self._file.flush()

    def add_event(self, event_bytes):
        self._add(event_bytes)

    def add_summary(self, summary, global_step=None, walltime=None):
        wall = time.time() if walltime is None else walltime
        self._add(_event(wall, step=global_step, summary=summary))

    def flush(self):
        with self._lock:
            if not self._file.closed:
                self._write_pending()

    def close(self):
        self._stop.set()
        if getattr(self, "_thread", None) is not None:
            self._thread.join()
        with self._lock:
            if not self._file.closed:
                self._write_pending()
                self._file.close()


class SummaryWriter:
    """Writes scalars, histograms, images, text and hyperparameters to event files in
    ``log_dir`` for TensorBoard (``tensorboard --logdir runs``), with PyTorch's signatures.

    ``log_dir`` defaults to ``runs/<Mon>DD_HH-MM-SS_<hostname><comment>``. Values may be
    Python numbers, numpy arrays or minigrad tensors. After ``close()`` the next ``add_*``
    opens a new event file in the same directory, as PyTorch's does.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self._get_file_writer()
        self.default_bins = default_bins()

    def _get_file_writer(self):
        """The writer of the main event file, opened again if the writer was closed."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = _EventFileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                                self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                # TensorBoard drops the events at or after this step from earlier files
                wall = time.time()
                self.file_writer.add_event(_event(wall, step=self.purge_step,
                                                  file_version="brain.Event:2"))
                self.file_writer.add_event(_event(wall, step=self.purge_step,
                                                  session_log=_SESSION_START))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        """The directory the event files are written to."""
        return self.log_dir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """One scalar (``new_style``: as a 1-element tensor of the scalars plugin, double
        when ``double_precision``)."""
        self._get_file_writer().add_summary(
            scalar(tag, scalar_value, new_style=new_style, double_precision=double_precision),
            global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several scalars on one chart: each key goes to its own writer in the
        subdirectory ``<log_dir>/<main_tag>_<key>``, all under the tag ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, scalar_value in tag_scalar_dict.items():
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self.all_writers.get(fw_tag)
            if fw is None:
                fw = _EventFileWriter(fw_tag, self.max_queue, self.flush_secs,
                                      self.filename_suffix)
                self.all_writers[fw_tag] = fw
            fw.add_summary(scalar(main_tag, scalar_value), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """A histogram of ``values``; ``bins`` is anything ``numpy.histogram`` takes, or
        "tensorflow" for TensorFlow's exponential default edges."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._get_file_writer().add_summary(histogram(tag, values, bins, max_bins=max_bins),
                                            global_step, walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits,
                          bucket_counts, global_step=None, walltime=None):
        """A histogram from its statistics and buckets (each bucket by its upper edge)."""
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        self._get_file_writer().add_summary(
            histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts),
            global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: uint8 in [0, 255] or floats in [0, 1]; ``dataformats`` is CHW, HWC,
        HW (or NCHW/NHWC, laid out as a grid)."""
        self._get_file_writer().add_summary(image(tag, img_tensor, dataformats=dataformats),
                                            global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images, shown as one grid of up to 8 columns."""
        self._get_file_writer().add_summary(image(tag, img_tensor, dataformats=dataformats),
                                            global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, as a grid), rendered with Agg."""
        if isinstance(figure, list):
            self.add_image(tag, _figures_to_chw(figure, close), global_step, walltime,
                           dataformats="NCHW")
        else:
            self.add_image(tag, _figures_to_chw(figure, close), global_step, walltime,
                           dataformats="CHW")

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """A string (markdown) for the text plugin, under ``<tag>/text_summary``."""
        self._get_file_writer().add_summary(text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        """A hyperparameter set and its metrics for the hparams plugin, written as a run
        of its own in ``<log_dir>/<run_name>`` (default: the current time)."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        summaries = hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        if not run_name:
            run_name = str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w_hp:
            for s in summaries:
                w_hp.file_writer.add_summary(s, global_step)
            for k, v in metric_dict.items():
                w_hp.add_scalar(k, v, global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """Not available: PyTorch's add_graph records the model with the TorchScript tracer,
        which minigrad does not have."""
        raise NotImplementedError(
            "SummaryWriter.add_graph needs PyTorch's TorchScript tracer (torch.jit.trace), "
            "which minigrad does not have; draw the autograd graph of an output with "
            "minigrad.viz.draw_graph(model(input)) instead")

    def flush(self):
        """Write everything pending to disk."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        """Flush and close every event file; a later ``add_*`` opens a new one."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()


@atexit.register
def _flush_open_files():
    for f in list(_open_files):
        f.flush()


def _figures_to_chw(figures, close):
    """Render matplotlib figures to uint8 (3, H, W) arrays (stacked for a list)."""
    try:
        import matplotlib.pyplot as plt
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as exc:
        raise ModuleNotFoundError("add_figure needs matplotlib: pip install matplotlib") from exc

    def render(fig):
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        if close:
            plt.close(fig)
        return np.moveaxis(rgba[:, :, :3], 2, 0)

    if isinstance(figures, list):
        return np.stack([render(f) for f in figures])
    return render(figures)
