"""Prediction intervals at predict time: the ensemble's saved calibration, applied.

``finalize --members N`` saves ``intervals.json`` (see
:mod:`lstmctl.workflows.finalize`): a split-conformal calibrator
(:class:`lstmctl.evaluation.intervals.Conformal`) fitted on held-out windows,
and those windows themselves. Here it is restored and applied to the
members' forecasts:

* **Which levels.** Intervals are printed only when asked (``--interval 0.8``,
  repeatable), so a command's columns depend on the command line alone, never
  on what a model happens to hold. A level the model was calibrated at uses
  the saved calibrator as it is; any other level is calibrated on the saved
  windows (the same scores, another order statistic), with the warning
  :class:`Conformal` gives when the windows are too few for it.
* **Columns.** ``<target>_lo_<percent>`` and ``<target>_hi_<percent>``:
  ``sales_lo_80``, ``sales_hi_95``, ``sales_lo_97.5``. The bounds are
  symmetric about the ensemble mean (the forecast column), so
  lo <= forecast <= hi, and a higher level's interval contains a lower one's.
* **Steps beyond the model's horizon** (``--horizon K`` fed back): each
  member is fed back its own forecasts, so the members drift apart and their
  spread grows with the step; the calibrated score of the model's last
  horizon step (the furthest one calibrated) is applied to that growing
  spread. The calibration covers only the model's own steps: beyond them the
  intervals widen with the members' disagreement but carry no coverage
  promise.
* **Panels.** A panel's calibrator is fitted per series (each series' own
  floor, one pooled quantile; see :class:`Conformal`), and ``intervals.json``
  then names the series of every saved window; ``bounds`` takes the series
  being forecast. A panel saved before that has one floor for all series and
  is applied as it was.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmctl.errors import ModelDirError, UsageError
from lstmctl.evaluation.intervals import Conformal, level_key

log = logging.getLogger("lstmctl")


def level_label(level: float) -> str:
    """A level as the percent its columns carry: ``0.8`` -> ``"80"``, ``0.975`` -> ``"97.5"``."""
    return f"{round(level * 100, 6):g}"


def check_levels(levels: Sequence[float]) -> list[float]:
    """``--interval`` levels: distinct, sorted, each in (0, 1)."""
    found = sorted({float(v) for v in levels})
    for level in found:
        if not (math.isfinite(level) and 0.0 < level < 1.0):
            raise UsageError(
                f"expected a level in (0, 1) such as 0.8 or 0.95, found {level:g}", "--interval"
            )
    labels = [level_label(v) for v in found]
    if len(set(labels)) != len(labels):
        raise UsageError(f"levels {found} are too close to tell apart", "--interval")
    return found


class Bands:
    """A model directory's saved calibration, ready to give intervals at any level."""

    def __init__(self, doc: dict[str, Any], where: str) -> None:
        self.where = where
        try:
            self.saved = Conformal.from_state(doc["state"])
            windows = doc["windows"]
            self.members = np.asarray(windows["members"], dtype=float)
            self.actual = np.asarray(windows["actual"], dtype=float)
            # The series of each window (a panel calibrated per series; None: one floor).
            series = windows.get("series")
            self.series = None if series is None else [str(s) for s in series]
        except ModelDirError as e:
            raise ModelDirError(e.message, where) from None
        except (KeyError, TypeError, ValueError) as e:
            raise ModelDirError(
                f"expected the calibration lstmctl writes, found a damaged entry ({e!r})", where
            ) from None
        if self.saved.series_floor_ and (
            self.series is None or len(self.series) != len(self.actual)
        ):
            raise ModelDirError(
                f"expected the series of each of the {len(self.actual)} calibration windows "
                "(the intervals are calibrated per series), found "
                f"{'none' if self.series is None else len(self.series)}",
                where,
            )

    @property
    def levels(self) -> list[float]:
        """The levels the model was calibrated at when it was saved."""
        return list(self.saved.levels_)

    def calibrator(self, levels: Sequence[float]) -> Conformal:
        """A calibrator for every level in ``levels``: the saved one when it has them all."""
        saved = self.levels
        if all(any(math.isclose(v, s, abs_tol=1e-12) for s in saved) for v in levels):
            found = self.saved
        else:
            found = Conformal(self.saved.normalized, self.saved.floor_fraction).fit(
                self.members,
                self.actual,
                sorted({*levels, *saved}),
                self.series if self.saved.series_floor_ else None,
            )
        for level in levels:
            need = found.too_few_.get(level_key(level))
            if need is not None:
                log.warning(
                    "the %s interval needs at least %d calibration windows, this model was "
                    "calibrated on %d: it uses the largest score and may cover less than promised",
                    level_key(level),
                    need,
                    found.n_cal_,
                )
        return found

    def bounds(
        self, calibrator: Conformal, members: np.ndarray, level: float, series: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` of the members' forecasts ``(R, n, steps, n_targets)`` at ``level``;
        ``series``: the panel series they forecast (needed when calibrated per series)."""
        return for_steps(calibrator, members.shape[2]).interval(members, level, series)


def for_steps(calibrator: Conformal, steps: int) -> Conformal:
    """The calibrator for ``steps`` forecast steps: steps beyond the calibrated horizon
    use its last step's score and floor (see the module's docstring)."""
    horizon = calibrator.floor_.shape[0]
    if steps == horizon:
        return calibrator
    idx = np.minimum(np.arange(steps), horizon - 1)
    out = copy.copy(calibrator)
    out.quantiles_ = np.asarray(calibrator.quantiles_)[:, idx]
    out.floor_ = calibrator.floor_[idx]
    out.scaled_ = calibrator.scaled_[idx]
    out.series_floor_ = {k: v[idx] for k, v in calibrator.series_floor_.items()}
    out.series_scaled_ = {k: v[idx] for k, v in calibrator.series_scaled_.items()}
    return out
