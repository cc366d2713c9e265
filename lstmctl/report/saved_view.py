"""The human view of a saved model directory (what ``finalize`` and ``update`` print)."""

from __future__ import annotations

from typing import Any


def saved_lines(saved: Any) -> str:
    """A few lines: where the model went, how it was trained, whether ONNX is there."""
    m = saved.to_json()
    trained = m.get("trained") or {}
    loss = trained.get("final_loss")
    lines = [
        f"saved {m['name']} ({m['arch']}) to {m['model']}",
        f"  trained: {trained.get('trainer')} trainer, seed {trained.get('seed')}, "
        f"{trained.get('epochs_run')} epochs on {trained.get('windows')} windows "
        f"({trained.get('rows')} rows)" + (f", final loss {loss:.6g}" if loss is not None else ""),
    ]
    tuned = trained.get("fine_tuned")
    if tuned:
        lines.append(
            f"  updated: {tuned['scheme']} for {tuned['epochs']} epochs on {tuned['windows']} "
            f"windows, final loss {tuned['final_loss']:.6g}"
        )
    lineage = m.get("lineage")
    if lineage:
        lines.append(
            f"  from: {lineage['parent']['path']} + {lineage['new_rows']} new rows "
            f"({lineage['scheme']})"
        )
    onnx = m.get("onnx") or {}
    if "skipped" in onnx:
        lines.append(f"  model.onnx: not written ({onnx['skipped']}); predict uses Keras")
    else:
        lines.append(
            f"  model.onnx: opset {onnx.get('opset')}, matches Keras to "
            f"{onnx.get('max_abs_diff', 0):.1e}"
        )
    lines.append(f"  files: {', '.join(m['files'])}  ({m['seconds']:.1f} s)")
    return "\n".join(lines) + "\n"
