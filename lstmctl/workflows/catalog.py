"""What ``lstmctl list`` shows: architectures, problems, metrics and data options."""

from __future__ import annotations

from lstmctl.errors import UsageError

SECTIONS = ("architectures", "problems", "metrics", "transforms", "scalers", "missing")


def catalog(what: str | None = None) -> dict[str, dict[str, str]]:
    """Names and one-line descriptions, by section (all sections, or the one named)."""
    from lstmctl.data.problems import problems
    from lstmctl.evaluation.metrics import describe
    from lstmctl.models.registry import architectures

    if what is not None and what not in SECTIONS:
        raise UsageError(f"expected one of {', '.join(SECTIONS)}, found {what!r}", where="list")
    sections = {
        "architectures": architectures(),
        "problems": problems(),
        "metrics": describe(),
        "transforms": {
            "difference": "subtract the value `lag` steps earlier (undone walk-forward)",
            "log": "natural logarithm (values must be positive)",
        },
        "scalers": {
            "minmax": "scale each column to `range` (fitted on training rows)",
            "standard": "zero mean, unit variance (fitted on training rows)",
            "none": "leave values as they are",
        },
        "missing": {
            "drop": "drop rows with a missing value",
            "ffill": "carry the last observation forward",
            "interpolate": "linear interpolation between observations",
            "mask": "replace by a sentinel and add a Keras Masking layer",
        },
    }
    return sections if what is None else {what: sections[what]}
