"""The network behind a saved model: ``model.onnx`` through onnxruntime, else ``model.keras``.

An :class:`Engine` is one network call, a batch of windows (and, for a
stateful model, its LSTM states) in, forecasts (and states) out; the
forecasting loop (:mod:`lstmctl.serving.forecast`) never sees which runtime
answers. Neither runtime is imported until an engine is made. An ensemble's
members are one engine each (``make_engine(..., member=i)``), all ONNX or all
Keras: one onnxruntime session per member costs about a millisecond to
create and as much as a merged graph to run for these small networks.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np

from lstmctl.errors import ModelDirError, UsageError
from lstmctl.modeldir.format import ModelDir, first_line
from lstmctl.modeldir.members import member_file

ENGINES = ("auto", "onnx", "keras")


class Engine:
    """One network call: a batch of windows (and states) in, forecasts (and states) out."""

    name = "engine"
    n_states = 0
    state_sizes: list[int]

    def __call__(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list]:
        raise NotImplementedError


class OnnxEngine(Engine):
    """``model.onnx`` through onnxruntime (imports in about 0.1 s)."""

    name = "onnx"

    def __init__(self, model_bytes: bytes) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # Small networks: threads cost more to start than they save.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        # Loaded from a file alone in a private folder: onnxruntime reads a graph's
        # external-data files relative to the model's folder (the working directory
        # for bytes), so a graph from elsewhere can name no file but its own.
        with tempfile.TemporaryDirectory(prefix="lstmctl-onnx-") as tmp:
            path = Path(tmp) / "model.onnx"
            path.write_bytes(model_bytes)
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.n_states = len(self.inputs) - 1
        self.state_sizes = [int(i.shape[-1]) for i in self.session.get_inputs()[1:]]

    def __call__(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list]:
        feed = {self.inputs[0]: x.astype(np.float32, copy=False)}
        for name, s in zip(self.inputs[1:], states, strict=True):
            feed[name] = s.astype(np.float32, copy=False)
        out = self.session.run(None, feed)
        return np.asarray(out[0]), [np.asarray(s) for s in out[1:]]


class KerasEngine(Engine):
    """``model.keras`` through Keras (safe mode), on the backend Keras runs here."""

    name = "keras"

    def __init__(self, model_dir: ModelDir, name: str = "model.keras") -> None:
        from lstmctl.training.backend import use_backend

        backend = str(model_dir.manifest.get("trained", {}).get("spec_backend", "auto"))
        # If Keras already runs on another backend here, that is fine: a saved
        # model loads on any backend.
        with contextlib.suppress(Exception):
            use_backend(backend if backend in ("auto", "tensorflow") else "auto")
        self.model = model_dir.load_keras(name)
        self.n_states = len(self.model.inputs) - 1
        self.state_sizes = [int(t.shape[-1]) for t in self.model.inputs[1:]]

    def __call__(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list]:
        import keras

        inputs = [x.astype(np.float32), *(s.astype(np.float32) for s in states)]
        out = self.model(inputs, training=False)
        if self.n_states:
            arrays = [np.asarray(keras.ops.convert_to_numpy(o)) for o in out]
            return arrays[0], arrays[1:]
        return np.asarray(keras.ops.convert_to_numpy(out)), []


def make_engine(model_dir: ModelDir, engine: str = "auto", member: int = 0) -> Engine:
    """``auto``: ONNX when the directory has it, else Keras; ``member``: 0-based."""
    if engine not in ENGINES:
        raise UsageError(f"expected one of {', '.join(ENGINES)}, found {engine!r}", "--engine")
    onnx_name = member_file(member, "onnx")
    if engine == "onnx" and not model_dir.has(onnx_name):
        reason = model_dir.manifest.get("onnx", {}).get("skipped") or "not exported"
        raise ModelDirError(
            f"expected {onnx_name} for --engine onnx, found none ({reason}); use --engine keras",
            where=str(model_dir.path),
        )
    if engine in ("auto", "onnx") and model_dir.has(onnx_name):
        try:
            return OnnxEngine(model_dir.read_bytes(onnx_name))
        except ImportError:
            if engine == "onnx":
                raise UsageError(
                    "onnxruntime is not installed (pip install onnxruntime)", "--engine"
                ) from None
        except Exception as e:  # onnxruntime's own kinds: a graph it cannot load
            raise ModelDirError(
                f"expected an ONNX graph onnxruntime can load, found one it refuses "
                f"({type(e).__name__}: {first_line(e)})",
                where=str(model_dir.path / onnx_name),
            ) from None
    return KerasEngine(model_dir, member_file(member, "keras"))
