"""The members of an ensemble model directory: their files, their LSTM states, the calibration.

``lstmctl finalize --members N`` saves N networks trained together (seeds
``spec.seed + i``). Member 1 is stored exactly where a one-model directory
keeps its model, so a reader that knows nothing of ensembles (an older
lstmctl) still finds a complete model of its own::

    model.keras, model.onnx             member 1
    member-02.keras, member-02.onnx     member 2, ... up to member-NN
    members.json                        {"count", "seeds", "states": one entry per member}
    intervals.json                      the conformal calibration of the ensemble's intervals

Every file is listed with its sha256 in ``manifest.json`` like the others,
and ``manifest["members"]`` says how many members there are; a directory
without it (``--members 1``, or one written before ensembles) is one member.
File names stay plain (no sub-folder): a manifest entry may name nothing
outside the directory. Each member's archive is inspected before Keras loads
it (``ModelDir.load_keras``), as ``model.keras`` is when the directory opens.

Only numpy is imported: ``predict`` reads these without TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmctl.errors import ModelDirError
from lstmctl.modeldir.format import ModelDir

MEMBERS = "members.json"
INTERVALS = "intervals.json"
MEMBERS_VERSION = 1


def member_file(i: int, ext: str) -> str:
    """The file of member ``i`` (0-based) with extension ``ext`` (``keras`` or ``onnx``)."""
    return f"model.{ext}" if i == 0 else f"member-{i + 1:02d}.{ext}"


def member_count(md: ModelDir) -> int:
    """How many members the directory holds (1 without ``manifest["members"]``)."""
    entry = md.manifest.get("members")
    if entry is None:
        return 1
    count = entry.get("count") if isinstance(entry, dict) else None
    if not isinstance(count, int) or count < 1:
        raise ModelDirError(
            f"expected a members count >= 1 in the manifest, found {count!r}",
            where=str(md.path / "manifest.json"),
        )
    missing = [member_file(i, "keras") for i in range(count) if not md.has(member_file(i, "keras"))]
    if missing:
        raise ModelDirError(
            f"expected {count} members, found no {', '.join(missing)} in the manifest",
            where=str(md.path / "manifest.json"),
        )
    return count


def member_states(md: ModelDir, count: int) -> list[list[np.ndarray]]:
    """Each member's LSTM states after the training rows (empty lists: a stateless model)."""
    if count == 1:
        saved = md.preprocess.get("states") or []
        return [[np.asarray(s, dtype=np.float32) for s in saved]]
    where = str(md.path / MEMBERS)
    doc = md.read_json(MEMBERS)
    try:
        states = doc["states"]
        if len(states) != count:
            raise ValueError(f"{len(states)} entries for {count} members")
        return [[np.asarray(s, dtype=np.float32) for s in (m or [])] for m in states]
    except (KeyError, TypeError, ValueError) as e:
        raise ModelDirError(f"expected each member's saved states, found ({e})", where) from None


def members_doc(seeds: list[int], states: list[Any]) -> dict[str, Any]:
    """What ``members.json`` holds: the seeds and each member's states (None: stateless)."""
    return {
        "format_version": MEMBERS_VERSION,
        "count": len(seeds),
        "seeds": seeds,
        "states": states,
    }


def calibration(md: ModelDir) -> dict[str, Any] | None:
    """The saved ``intervals.json`` (None: the model was saved without intervals)."""
    if not md.has(INTERVALS):
        return None
    doc = md.read_json(INTERVALS)
    if not isinstance(doc, dict) or "state" not in doc:
        raise ModelDirError("expected the saved calibration, found none", str(md.path / INTERVALS))
    return doc
