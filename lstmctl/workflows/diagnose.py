"""Learning-curve diagnosis: is the model under-fit, well fit or over-fit?

``judge_curve`` applies the rules below to one repeat's per-epoch losses;
``diagnose`` fits a spec's repeats with a validation split, judges every
repeat and reports the verdict most repeats share, with its evidence.

The rules look at curves smoothed by a trailing mean over 5% of the epochs
(so that the noise of one epoch decides nothing); "the end of the run" is
its last 10% of epochs (at least 3):

1. **over-fit**: the validation loss ends more than 10% above its lowest
   point while the training loss ends lower than it was there: the model
   keeps fitting the training data and gets worse on unseen data. The
   evidence names the epoch of the lowest validation loss.
2. **under-fit**: the training loss ends at 90% or more of the loss of always
   predicting the training mean (the model learned little), or both losses
   are still falling, each by more than 1% over the end of the run (more
   training would still help).
3. **good fit**: neither: the validation loss has levelled off near its
   lowest point.
4. **inconclusive**: fewer than 5 epochs, a loss that is not finite, both
   losses rising after their best (training is unstable), or no validation
   loss to tell a good fit from an over-fit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstmctl.spec import Spec, load_spec
from lstmctl.spec.derive import diagnosis_spec
from lstmctl.spec.tune_space import check_space

UNDER, GOOD, OVER, INCONCLUSIVE = "under-fit", "good fit", "over-fit", "inconclusive"
# When as many repeats say one thing as another, the more actionable verdict wins.
PRECEDENCE = (OVER, UNDER, GOOD, INCONCLUSIVE)


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind the rules (see the module docstring)."""

    smooth: float = 0.05  # trailing-mean window, as a share of the epochs
    tail: float = 0.10  # "the end of the run", as a share of the epochs
    min_tail: int = 3
    still_falling: float = 0.01  # a loss still falls if it dropped more than this over the tail
    rise: float = 0.10  # over-fit when validation loss ends this far above its minimum
    high: float = 0.90  # under-fit when training loss ends at this share of the mean's loss
    min_epochs: int = 5


@dataclass
class CurveVerdict:
    """One repeat's verdict and the numbers it rests on."""

    verdict: str
    reason: str
    epochs: int
    best_epoch: int | None = None  # 1-based epoch of the lowest validation loss
    train_final: float | None = None
    val_best: float | None = None
    val_final: float | None = None
    train_change: float | None = None  # relative change over the end of the run
    val_change: float | None = None
    val_rise: float | None = None  # how far validation loss ends above its (smoothed) minimum
    repeat: int | None = None
    # Which under-fit sign was seen: "high" (learned little) and/or "falling".
    signs: list[str] = field(default_factory=list)


def _smooth(x: np.ndarray, k: int) -> np.ndarray:
    """Trailing mean over ``k`` epochs (shorter at the start), aligned with the epochs."""
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - k)
    return (c[idx] - c[lo]) / (idx - lo)


def _change(s: np.ndarray, w: int) -> float:
    """Relative change of a smoothed curve over its last ``w`` epochs (negative: falling)."""
    start, end = float(s[-1 - w]), float(s[-1])
    if start == 0.0:
        return 0.0 if end == 0.0 else math.inf
    return (end - start) / abs(start)


def judge_curve(
    loss: Sequence[float],
    val_loss: Sequence[float] | None = None,
    reference: float | None = None,
    thresholds: Thresholds | None = None,
) -> CurveVerdict:
    """Under-fit, good fit, over-fit or inconclusive for one repeat's learning curves.

    ``loss`` and ``val_loss`` are per-epoch training and validation losses;
    ``reference`` is the loss of always predicting the training mean, when
    known.
    """
    th = thresholds or Thresholds()
    tr = np.asarray(loss, dtype=float)
    va = np.asarray(val_loss if val_loss is not None else [], dtype=float)
    n = len(tr)
    has_val = va.size > 0
    if has_val and va.size != n:
        n = min(n, va.size)
        tr, va = tr[:n], va[:n]
    out = CurveVerdict(INCONCLUSIVE, "", epochs=n)
    if n < th.min_epochs:
        out.reason = f"only {n} epoch(s): too few to judge (at least {th.min_epochs} needed)"
        return out
    if not np.isfinite(tr).all() or (has_val and not np.isfinite(va).all()):
        out.reason = "a loss is not finite (the fit diverged): lower the learning rate"
        return out

    k = max(1, round(th.smooth * n))
    w = min(n - 1, max(th.min_tail, math.ceil(th.tail * n)))
    s_tr = _smooth(tr, k)
    out.train_final = float(tr[-1])
    out.train_change = _change(s_tr, w)
    if has_val and _validation_rose(out, va, s_tr, k, w, th):
        return out
    _under_fit_signs(out, s_tr, has_val, reference, w, th)
    if out.signs:
        out.verdict = UNDER
    elif not has_val:
        out.reason = (
            f"training loss levelled off ({out.train_change:+.1%} over the last {w} epochs); "
            "without validation loss a good fit cannot be told from an over-fit"
        )
    else:
        _good_fit(out)
    return out


def _validation_rose(
    out: CurveVerdict, va: np.ndarray, s_tr: np.ndarray, k: int, w: int, th: Thresholds
) -> bool:
    """Fill ``out``'s validation facts; True when validation loss rose past ``th.rise``
    from its lowest (an over-fit, or an unstable fit): the verdict is then decided."""
    n = len(va)
    s_va = _smooth(va, k)
    out.best_epoch = int(np.argmin(va)) + 1
    out.val_best = float(va.min())
    out.val_final = float(va[-1])
    out.val_change = _change(s_va, w)
    i_min = int(np.argmin(s_va))
    low = float(s_va[i_min])
    out.val_rise = (float(s_va[-1]) - low) / abs(low) if low else 0.0
    if out.val_rise <= th.rise:
        return False
    rose = (
        f"validation loss was lowest at epoch {out.best_epoch} ({out.val_best:.4g}) "
        f"and ended {out.val_rise:.0%} above it ({out.val_final:.4g} at epoch {n})"
    )
    if s_tr[-1] < s_tr[i_min]:
        out.verdict = OVER
        out.reason = (
            f"{rose} while training loss kept falling ({s_tr[i_min]:.4g} -> {s_tr[-1]:.4g})"
        )
    else:
        out.reason = (
            f"{rose}, and training loss rose too: the fit is unstable (try a lower learning rate)"
        )
    return True


def _under_fit_signs(
    out: CurveVerdict,
    s_tr: np.ndarray,
    has_val: bool,
    reference: float | None,
    w: int,
    th: Thresholds,
) -> None:
    """The signs of an under-fit in ``out.signs`` (and why, in ``out.reason``): a training
    loss near the mean's, or losses still falling at the end."""
    if reference is not None and math.isfinite(reference) and reference > 0:
        share = float(s_tr[-1]) / reference
        if share >= th.high:
            out.signs.append("high")
            out.reason = (
                f"training loss ended at {out.train_final:.4g}, {share:.0%} of the loss of "
                f"always predicting the mean ({reference:.4g}): the model learned little"
            )
    assert out.train_change is not None
    falling_tr = out.train_change < -th.still_falling
    falling_va = has_val and out.val_change is not None and out.val_change < -th.still_falling
    if falling_tr and (falling_va or not has_val):
        out.signs.append("falling")
        what = (
            f"training loss fell {-out.train_change:.1%}"
            + (f" and validation loss {-(out.val_change or 0.0):.1%}" if has_val else "")
            + f" over the last {w} epochs: still learning"
        )
        out.reason = f"{out.reason}; {what}" if out.reason else what


def _good_fit(out: CurveVerdict) -> None:
    assert out.val_final is not None and out.val_best is not None
    assert out.train_final is not None
    out.verdict = GOOD
    gap = out.val_final / out.train_final if out.train_final else math.inf
    out.reason = (
        f"validation loss levelled off at {out.val_final:.4g} "
        f"({out.val_rise or 0.0:.0%} above its lowest, {out.val_best:.4g} at epoch "
        f"{out.best_epoch}); training loss {out.train_final:.4g} "
        f"(validation/training {gap:.2f})"
    )


def overall_verdict(verdicts: Sequence[CurveVerdict]) -> tuple[str, str, str]:
    """The verdict most repeats share, its evidence over those repeats, and advice."""
    if not verdicts:
        return INCONCLUSIVE, "no repeat finished", "check the run's errors"
    counts = Counter(v.verdict for v in verdicts)
    top = max(counts.values())
    verdict = next(v for v in PRECEDENCE if counts.get(v) == top)
    these = [v for v in verdicts if v.verdict == verdict]
    share = f"{verdict} in {len(these)} of {len(verdicts)} repeats"
    others = ", ".join(f"{c} {v}" for v, c in counts.items() if v != verdict)
    share += f" ({others})" if others else ""
    best = [v.best_epoch for v in these if v.best_epoch is not None]
    med_best = int(np.median(best)) if best else None
    if verdict == OVER:
        rises = [v.val_rise for v in these if v.val_rise is not None]
        reason = (
            f"{share}: validation loss was lowest around epoch {med_best} "
            f"(median; range {min(best)}-{max(best)}) and ended a median "
            f"{float(np.median(rises)):.0%} above it while training loss kept falling"
        )
        advice = (
            f"train for about {med_best} epochs, add dropout, or stop early "
            "(train.early_stopping: {monitor: val_loss, restore_best: true})"
        )
    elif verdict == UNDER:
        high = sum("high" in v.signs for v in these)
        falling = sum("falling" in v.signs for v in these)
        bits = []
        if falling:
            bits.append(f"losses still falling at the end in {falling}")
        if high:
            bits.append(f"training loss near that of predicting the mean in {high}")
        reason = f"{share}: {' and '.join(bits)}"
        advice = (
            "train longer (train.epochs) or with a higher learning rate"
            if falling >= high
            else "add capacity (model.units, more layers) or train longer"
        )
    elif verdict == GOOD:
        rises = [v.val_rise or 0.0 for v in these]
        reason = (
            f"{share}: validation loss levelled off near its lowest point "
            f"(around epoch {med_best}, median), ending a median "
            f"{float(np.median(rises)):.0%} above it"
        )
        advice = ""
    else:
        reason = f"{share}: {these[0].reason}"
        advice = "train for more epochs, with a validation split, and look at the curves"
    return verdict, reason, advice


@dataclass
class Diagnosis:
    """What ``lstmctl diagnose`` reports."""

    result: Any  # the RunResult of the fits behind the curves
    repeats: list[CurveVerdict]
    verdict: str
    reason: str
    advice: str
    plot: Path | None
    validation: int | float

    def rows(self) -> list[dict[str, Any]]:
        keys = ("repeat", "verdict", "epochs", "best_epoch", "train_final", "val_best")
        return [
            {k: asdict(v)[k] for k in keys}
            | {"val_final": v.val_final, "val_rise": v.val_rise, "reason": v.reason}
            for v in self.repeats
        ]

    def to_json(self) -> dict[str, Any]:
        counts = Counter(v.verdict for v in self.repeats)
        return _jsonable(
            {
                "name": self.result.spec.name,
                "arch": self.result.spec.model.arch,
                "verdict": self.verdict,
                "reason": self.reason,
                "advice": self.advice,
                "counts": dict(counts),
                "validation": self.validation,
                "epochs": self.result.spec.train.epochs,
                "repeats": self.rows(),
                "plot": str(self.plot) if self.plot else None,
                "run_dir": str(self.result.run_dir),
            }
        )


def diagnose(
    spec: Spec | str | Path,
    overrides: list[str] | None = None,
    runs_dir: str | Path | None = None,
    repeats: int | None = None,
    validation: float | None = None,
    progress: Any = None,
    thresholds: Thresholds | None = None,
) -> Diagnosis:
    """Fit a few repeats with a validation split and judge their learning curves."""
    from lstmctl.report.html import write_report
    from lstmctl.report.outputs import LEARNING_CURVES
    from lstmctl.rundir import write_json
    from lstmctl.workflows.run import run

    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides or [])
    diag_spec, val = diagnosis_spec(spec, repeats, validation)
    if diag_spec.tune is not None:
        check_space(diag_spec, "diagnose")  # validated as any spec is
    result = run(diag_spec, runs_dir=runs_dir, progress=progress)
    outputs = result.outputs
    verdicts = []
    for row in result.rows:
        hist = outputs.histories.get(row.repeat, {}) if outputs is not None else {}
        if row.error is not None or not hist.get("loss"):
            continue
        v = judge_curve(
            hist["loss"],
            hist.get("val_loss"),
            reference=outputs.reference_loss,
            thresholds=thresholds,
        )
        v.repeat = row.repeat
        verdicts.append(v)
    verdict, reason, advice = overall_verdict(verdicts)
    plot = Path(result.run_dir) / LEARNING_CURVES
    out = Diagnosis(
        result=result,
        repeats=verdicts,
        verdict=verdict,
        reason=reason,
        advice=advice,
        plot=plot if plot.exists() else None,
        validation=val,
    )
    write_json(Path(result.run_dir) / "diagnosis.json", out.to_json())
    write_report(Path(result.run_dir))  # now with the verdict at the top
    return out


def _jsonable(data: Any) -> Any:
    """Non-finite floats as null: strict JSON readers (jq) refuse Infinity and NaN."""
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_jsonable(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data
