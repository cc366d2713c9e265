"""The time labels of forecast steps: a label moved on by the training data's frequency."""

from __future__ import annotations

from typing import Any

import pandas as pd


def step_labels(label: str, steps: int, time_info: dict[str, Any]) -> list[str]:
    """``next_label(label, h, time_info)`` for h = 1 .. ``steps`` ("" where unknown)."""
    freq, fmt = time_info.get("freq"), time_info.get("format")
    if not (freq and fmt and label):
        return [""] * steps
    try:
        stamp = pd.Timestamp(pd.to_datetime(label, format=fmt))
    except (ValueError, TypeError):
        return [""] * steps

    def periods(n: int) -> pd.DatetimeIndex | None:
        try:
            return pd.date_range(stamp, periods=n + 1, freq=freq)
        except (ValueError, TypeError, OverflowError):
            return None

    moved = periods(steps)
    if moved is None:  # past the last time pandas holds (2262): the longest range that fits
        lo, hi = 0, steps - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (lo, mid - 1) if periods(mid) is None else (mid, hi)
        moved = periods(lo)
        if moved is None:
            return [""] * steps
    return [str(v) for v in moved[1:].strftime(fmt)] + [""] * (steps + 1 - len(moved))


def next_label(label: str, steps: int, time_info: dict[str, Any]) -> str:
    """``label`` moved on by ``steps`` periods of the training data's frequency ("" if unknown)."""
    freq, fmt = time_info.get("freq"), time_info.get("format")
    if not (freq and fmt and label):
        return ""
    try:
        stamp = pd.Timestamp(pd.to_datetime(label, format=fmt))
        moved = pd.date_range(stamp, periods=steps + 1, freq=freq)[-1]
    except (ValueError, TypeError):
        return ""
    return str(moved.strftime(fmt))
