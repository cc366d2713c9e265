"""The human view of a saved model directory (what ``finalize`` and ``update`` print)."""

from __future__ import annotations

from typing import Any

from rich.console import Console


def saved_row(saved: Any) -> dict[str, Any]:
    """The same facts as one flat row (``--format csv``): one column per fact."""
    m = saved.to_json()
    trained = m.get("trained") or {}
    tuned = trained.get("fine_tuned") or {}
    lineage = m.get("lineage") or {}
    onnx = m.get("onnx") or {}
    return {
        "model": m["model"],
        "name": m["name"],
        "arch": m["arch"],
        "trainer": trained.get("trainer"),
        "seed": trained.get("seed"),
        "epochs": trained.get("epochs_run"),
        "windows": trained.get("windows"),
        "rows": trained.get("rows"),
        "final_loss": trained.get("final_loss"),
        "update_scheme": tuned.get("scheme") or lineage.get("scheme"),
        "update_epochs": tuned.get("epochs"),
        "update_windows": tuned.get("windows"),
        "update_final_loss": tuned.get("final_loss"),
        "parent": (lineage.get("parent") or {}).get("path"),
        "new_rows": lineage.get("new_rows"),
        "members": (m.get("members") or {}).get("count", 1),
        "interval_levels": " ".join(
            f"{lv:g}" for lv in (m.get("intervals") or {}).get("levels", [])
        ),
        "calibration_windows": (m.get("intervals") or {}).get("windows"),
        "onnx_opset": onnx.get("opset"),
        "onnx_max_abs_diff": onnx.get("max_abs_diff"),
        "onnx_skipped": onnx.get("skipped"),
        "files": " ".join(m["files"]),
        "seconds": m["seconds"],
    }


def saved_lines(saved: Any) -> str:
    """A few lines: where the model went, how it was trained, whether ONNX is there."""
    m = saved.to_json()
    trained = m.get("trained") or {}
    loss = trained.get("final_loss")
    lines = [
        f"saved {m['name']} ({m['arch']}) to {m['model']}",
        f"  trained: {trained.get('trainer')} trainer, seed {trained.get('seed')}, "
        f"{trained.get('epochs_run')} epochs on {trained.get('windows')} windows "
        f"({trained.get('rows')} rows"
        + (f" of {trained['series']} series" if trained.get("series") else "")
        + ")"
        + (f", final loss {loss:.6g}" if loss is not None else ""),
    ]
    members = m.get("members") or {}
    if members.get("count", 1) > 1:
        seeds = members.get("seeds") or []
        what = f"  members: {members['count']} (seeds {seeds[0]}..{seeds[-1]})" if seeds else ""
        intervals = m.get("intervals") or {}
        if intervals:
            levels = ", ".join(f"{lv:.0%}" for lv in intervals.get("levels", []))
            what += (
                f"; intervals calibrated on {intervals.get('windows')} held-out windows "
                f"(predict --interval; saved levels {levels})"
            )
        lines.append(what)
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


def render_saved(saved: Any, console: Console) -> None:
    """:func:`saved_lines` on ``console``, as they are (no markup, never wrapped)."""
    console.print(saved_lines(saved), end="", markup=False, soft_wrap=True)
