"""The optional ONNX export of a saved Keras model, checked against it.

``export_onnx`` exports through tf2onnx on the TensorFlow backend; from a
process running Keras on JAX it runs this module in a child process
(``python -m lstmctl.modeldir.onnx export-onnx MODEL OUT.onnx [MODEL OUT.onnx ...]``:
an ensemble's members in one process), which prints one JSON line: what was
checked, or the error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lstmctl.modeldir.format import first_line


class ExportFailed(Exception):
    """The optional ONNX export did not work (the model directory is saved without it)."""


def export_onnx(keras_path: Path, onnx_path: Path, timeout: float = 300.0) -> dict[str, Any]:
    """Export a saved Keras model to ONNX; return what was checked.

    Keras exports ONNX through tf2onnx on the TensorFlow backend. A process
    already running Keras on another backend (JAX: the fused trainer) cannot
    switch, so the export then runs in a child process that loads
    ``model.keras`` on TensorFlow. Either way the exported graph is run once
    with onnxruntime against the Keras model on random inputs and refused
    unless they agree.
    """
    return export_onnx_many([(keras_path, onnx_path)], timeout)[0]


def export_onnx_many(
    pairs: list[tuple[Path, Path]], timeout: float = 300.0
) -> list[dict[str, Any]]:
    """:func:`export_onnx` for several models (an ensemble's members) in one child process.

    TensorFlow starts once for all of them (about 5 s each time it starts);
    ``timeout`` is for the first model, and each further one adds a fifth of
    it. The first failure stops the export: an ensemble is served by one
    engine, all ONNX or all Keras.
    """
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() == "tensorflow":
        return [_export_here(k, o) for k, o in pairs]
    from lstmctl.training.backend import quiet_tensorflow

    quiet_tensorflow()
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    cmd = [sys.executable, "-m", "lstmctl.modeldir.onnx", "export-onnx"]
    cmd += [str(p) for pair in pairs for p in pair]
    limit = timeout * (1 + 0.2 * (len(pairs) - 1))
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise ExportFailed(f"the export took more than {limit:.0f} s") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ExportFailed(tail[:300])
    result: dict[str, Any] = json.loads(lines[-1])
    if "error" in result:
        raise ExportFailed(str(result["error"]))
    return list(result["results"])


# The graph must reproduce the Keras model this closely to be kept (float32 LSTMs
# agree to about 1e-7; anything near this bound means a different computation).
ONNX_TOLERANCE = 1e-4


def _export_here(keras_path: Path, onnx_path: Path) -> dict[str, Any]:
    import warnings

    import keras
    import numpy as np

    try:
        import onnxruntime as ort
        import tf2onnx  # noqa: F401  (Keras' ONNX export needs it)
    except ImportError as e:
        raise ExportFailed(
            f"{e.name} is not installed (pip install onnx tf2onnx onnxruntime)"
        ) from None
    model = keras.saving.load_model(keras_path, compile=False, safe_mode=True)
    rng = np.random.default_rng(0)
    shapes = [tuple(2 if d is None else int(d) for d in t.shape) for t in model.inputs]
    sample = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    expected = model.predict(sample if len(sample) > 1 else sample[0], verbose=0)
    expected = expected if isinstance(expected, list | tuple) else [expected]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.export(str(onnx_path), format="onnx", verbose=False)
    except Exception as e:  # tf2onnx raises anything for an unsupported op
        onnx_path.unlink(missing_ok=True)
        raise ExportFailed(f"{type(e).__name__}: {first_line(e)}") from None
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = {i.name: x for i, x in zip(session.get_inputs(), sample, strict=True)}
    got = session.run(None, feed)
    diff = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0
        for a, b in zip(got, expected, strict=True)
    )
    if not diff <= ONNX_TOLERANCE:
        onnx_path.unlink(missing_ok=True)
        raise ExportFailed(f"the ONNX graph differs from the Keras model by {diff:.3g}")
    import onnx

    return {
        "opset": int(max(o.version for o in onnx.load(str(onnx_path)).opset_import)),
        "max_abs_diff": diff,
        "inputs": [i.name for i in session.get_inputs()],
        "outputs": [o.name for o in session.get_outputs()],
    }


def _main(argv: list[str]) -> int:
    # The child process of export_onnx_many: one JSON line on stdout, the verdict.
    if len(argv) < 3 or argv[0] != "export-onnx" or len(argv) % 2 != 1:
        print(
            "usage: python -m lstmctl.modeldir.onnx export-onnx MODEL OUT.onnx "
            "[MODEL OUT.onnx ...]",
            file=sys.stderr,
        )
        return 2
    from lstmctl.training.backend import use_backend

    use_backend("tensorflow")
    pairs = [(Path(argv[i]), Path(argv[i + 1])) for i in range(1, len(argv), 2)]
    try:
        result: dict[str, Any] = {"results": [_export_here(k, o) for k, o in pairs]}
    except ExportFailed as e:
        result = {"error": str(e)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
